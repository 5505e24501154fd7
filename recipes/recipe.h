// A recipe: the model to start from and a list of stages (lm, grpo) run one after another into one
// run directory. These structs are the only place the YAML is described: every field has its
// default here, a comment with meaning and unit, and a check (recipes/config_io.h). `retort run
// RECIPE.yaml key.sub=value ...` reads a file through read_recipe(); validate_recipe() checks what
// spans fields (a stage's type against its sections) before the first step.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/optimizer.h"
#include "recipes/config_io.h"

namespace retort {

// The policy to train: a Hugging Face directory, or a preset shape initialised from a seed.
struct ModelSection {
  std::string path;                    // Hugging Face model directory; "" = init from `preset`
  std::string preset = "tiny";         // model_config_preset() name, used when path is ""
  int64_t hidden_size = 0;             // preset overrides (0 = the preset's): hidden width,
  int64_t intermediate_size = 0;       //   MLP width,
  int64_t num_layers = 0;              //   decoder layers,
  int64_t max_position_embeddings = 0; //   longest context, tokens
  uint64_t init_seed = 0;              // weights' seed for a preset model
  double init_std = 0.02;              // N(0, std²) init of a preset model's projections
  std::string tokenizer;               // tokenizer.json, a directory, or "byte"; "" = path's
  std::string format = "raw";          // prompt format (core/chat_format.h) or a {prompt} template
  std::string dtype = "auto";          // parameters: float32 | bfloat16 | auto (fp32 CPU, bf16 CUDA)
  bool activation_checkpointing = false;  // recompute layers in backward: less memory, +~33% time

  template <typename V>
  void visit_fields(V& v) {
    v.field("path", path, "Hugging Face model directory");
    v.field("preset", preset, "preset shape when path is empty");
    v.field("hidden_size", hidden_size, "preset override", at_least<int64_t>(0));
    v.field("intermediate_size", intermediate_size, "preset override", at_least<int64_t>(0));
    v.field("num_layers", num_layers, "preset override", at_least<int64_t>(0));
    v.field("max_position_embeddings", max_position_embeddings, "preset override",
            at_least<int64_t>(0));
    v.field("init_seed", init_seed, "init seed");
    v.field("init_std", init_std, "init std", in_range(1e-6, 1.0));
    v.field("tokenizer", tokenizer, "tokenizer");
    v.field("format", format, "prompt format");
    v.field("dtype", dtype, "parameter dtype", one_of({"auto", "float32", "bfloat16"}));
    v.field("activation_checkpointing", activation_checkpointing, "recompute in backward");
  }
};

// AdamW with warmup + cosine decay over the stage's steps (core/optimizer.h).
struct OptimSection {
  double lr = 1e-6;             // peak learning rate
  int64_t warmup_steps = 0;     // linear warmup, optimizer steps
  double min_lr_ratio = 0.1;    // final lr as a fraction of the peak
  double weight_decay = 0.0;    // decoupled weight decay λ
  double beta1 = 0.9;           // Adam β1
  double beta2 = 0.999;         // Adam β2
  double eps = 1e-8;            // Adam ε
  double max_grad_norm = 1.0;   // global gradient-norm clip; 0 = none

  AdamWConfig adamw() const { return {beta1, beta2, eps, weight_decay, max_grad_norm}; }
  LrSchedule schedule(int64_t total_steps) const {
    return {lr, warmup_steps, total_steps, min_lr_ratio};
  }

  template <typename V>
  void visit_fields(V& v) {
    v.field("lr", lr, "peak learning rate", in_range(0.0, 1.0));
    v.field("warmup_steps", warmup_steps, "warmup steps", at_least<int64_t>(0));
    v.field("min_lr_ratio", min_lr_ratio, "final lr / peak", in_range(0.0, 1.0));
    v.field("weight_decay", weight_decay, "weight decay", in_range(0.0, 1.0));
    v.field("beta1", beta1, "Adam beta1", in_range(0.0, 0.9999));
    v.field("beta2", beta2, "Adam beta2", in_range(0.0, 0.99999));
    v.field("eps", eps, "Adam eps", in_range(0.0, 1.0));
    v.field("max_grad_norm", max_grad_norm, "gradient clip", at_least(0.0));
  }
};

// Where a stage's records come from: a JSONL file, or a generator of recipes/tasks.h.
// Prompt records: {"prompt", "answer", metadata...}. Text records: {"text"} or
// {"prompt", "completion"} (rendered with the model's prompt format).
struct DatasetSection {
  std::string path;              // JSONL file; "" = use `generate`
  std::string generate;          // countdown | arithmetic | arithmetic_corpus | countdown_corpus,
                                 // when path is ""
  int64_t n = 10000;             // generated records
  uint64_t seed = 0;             // generator seed (the run's seed shuffles, this one generates)
  int64_t max_operand = 99;      // arithmetic: operands drawn from 0..max_operand
  int64_t terms = 2;             // arithmetic: operands per question
  double wrong_answer_frac = 0.5;  // *_corpus: worked answers that are wrong
  double reflection_frac = 0.0;    // *_corpus: answers that check themselves ("wait")
  double statement_frac = 1.0 / 3;  // arithmetic_corpus: plain "a + b = c." claims (noisy)
  double fact_frac = 0.0;          // arithmetic_corpus: correct one-operation facts
  int64_t min_numbers = 3;       // countdown: numbers per puzzle, from
  int64_t max_numbers = 4;       //   ... to
  int64_t max_number = 99;       // countdown: numbers drawn from 1..max_number
  int64_t max_target = 999;      // countdown: largest target
  std::string prompt_key = "prompt";  // record field holding the prompt
  std::string answer_key = "answer";  // record field holding the reference answer

  template <typename V>
  void visit_fields(V& v) {
    v.field("path", path, "JSONL file");
    v.field("generate", generate, "generator",
            one_of({"", "countdown", "arithmetic", "arithmetic_corpus", "countdown_corpus"}));
    v.field("n", n, "records", at_least<int64_t>(1));
    v.field("seed", seed, "generator seed");
    v.field("max_operand", max_operand, "operand range", at_least<int64_t>(1));
    v.field("terms", terms, "operands", in_range<int64_t>(2, 4));
    v.field("wrong_answer_frac", wrong_answer_frac, "wrong share", in_range(0.0, 1.0));
    v.field("reflection_frac", reflection_frac, "reflective share", in_range(0.0, 1.0));
    v.field("statement_frac", statement_frac, "statement share", in_range(0.0, 1.0));
    v.field("fact_frac", fact_frac, "fact share", in_range(0.0, 1.0));
    v.field("min_numbers", min_numbers, "countdown numbers", in_range<int64_t>(2, 6));
    v.field("max_numbers", max_numbers, "countdown numbers", in_range<int64_t>(2, 6));
    v.field("max_number", max_number, "countdown number range", at_least<int64_t>(2));
    v.field("max_target", max_target, "countdown target range", at_least<int64_t>(1));
    v.field("prompt_key", prompt_key, "prompt field");
    v.field("answer_key", answer_key, "answer field");
  }
};

// Next-token training (pretraining a tiny model, or SFT with loss_on: completion).
struct LmSection {
  int64_t batch_size = 32;        // sequences per optimizer step, over all ranks
  int64_t micro_batch_size = 0;   // sequences per forward/backward on a rank; 0 = all of them
  int64_t max_seq_tokens = 512;   // longer examples are cut to this many tokens
  std::string loss_on = "all";    // all tokens, or only "completion" tokens (SFT)
  bool append_eos = true;         // end each example with the tokenizer's end-of-text token

  template <typename V>
  void visit_fields(V& v) {
    v.field("batch_size", batch_size, "sequences per step", at_least<int64_t>(1));
    v.field("micro_batch_size", micro_batch_size, "sequences per pass", at_least<int64_t>(0));
    v.field("max_seq_tokens", max_seq_tokens, "example cut", at_least<int64_t>(2));
    v.field("loss_on", loss_on, "loss tokens", one_of({"all", "completion"}));
    v.field("append_eos", append_eos, "append EOS");
  }
};

struct RewardSection {
  std::string name;  // registry name (rewards/registry.h)
  double weight = 1.0;  // weight in the total reward; 0 = logged only
  nlohmann::json args = nlohmann::json::object();  // the reward's arguments

  template <typename V>
  void visit_fields(V& v) {
    v.field("name", name, "reward name");
    v.field("weight", weight, "weight");
    v.field("args", args, "reward arguments");
  }
};

// Group-relative policy optimisation (rl/, DESIGN.md §4).
struct GrpoSection {
  int64_t prompts_per_step = 16;  // P: prompts per step over all ranks
  int64_t group_size = 8;         // G: completions per prompt
  int64_t max_new_tokens = 256;   // completion length limit, tokens
  double temperature = 1.0;       // sampling temperature (also divides the loss's logits)
  double top_p = 1.0;             // nucleus sampling; 1 = off
  int64_t top_k = 0;              // top-k sampling; 0 = off
  double min_p = 0.0;             // min-p sampling; 0 = off
  std::vector<std::string> stop;  // stop strings (kept in the completion)
  int64_t updates_per_rollout = 1;  // μ: optimizer steps on each batch of rollouts
  int64_t micro_batch_size = 16;    // sequences per forward/backward on a rank
  std::string old_logprobs = "recompute";  // the old policy's log-probs: recompute with the
                                           // training forward, or take the rollout's
  double clip_low = 0.2;          // ε_low
  double clip_high = 0.2;         // ε_high (0.28 = DAPO's clip-higher)
  double kl_beta = 0.0;           // β of the k3 KL to the reference (the stage's initial policy)
  std::string aggregation = "grpo";  // grpo | dapo | dr_grpo
  std::string importance = "token";  // token | sequence (GSPO)
  std::string advantage_scaling = "group";  // group | batch | none (Dr. GRPO)
  bool mask_truncated = false;    // completions that hit max_new_tokens get no loss (DAPO)
  bool dynamic_sampling = false;  // drop groups with equal rewards and sample more (DAPO)
  int64_t dynamic_sampling_rounds = 3;  // extra sampling rounds at most per step
  std::vector<RewardSection> rewards;   // what is rewarded
  std::string accuracy_reward;    // reward whose score ≥ 1 counts as correct ("" = accuracy or
                                  // countdown, whichever is configured)
  int64_t samples_every = 10;     // write samples.jsonl every this many steps; 0 = never
  int64_t samples_per_log = 4;    // completions written each time
  std::vector<std::string> reflection_words = {"wait",   "re-check", "recheck", "verify",
                                               "let me check", "double-check", "mistake"};

  template <typename V>
  void visit_fields(V& v) {
    v.field("prompts_per_step", prompts_per_step, "P", at_least<int64_t>(1));
    v.field("group_size", group_size, "G", in_range<int64_t>(2, 1024));
    v.field("max_new_tokens", max_new_tokens, "completion limit", at_least<int64_t>(1));
    v.field("temperature", temperature, "temperature", in_range(1e-3, 10.0));
    v.field("top_p", top_p, "top-p", in_range(1e-6, 1.0));
    v.field("top_k", top_k, "top-k", at_least<int64_t>(0));
    v.field("min_p", min_p, "min-p", in_range(0.0, 1.0));
    v.field("stop", stop, "stop strings");
    v.field("updates_per_rollout", updates_per_rollout, "mu", in_range<int64_t>(1, 64));
    v.field("micro_batch_size", micro_batch_size, "sequences per pass", at_least<int64_t>(1));
    v.field("old_logprobs", old_logprobs, "old policy", one_of({"recompute", "rollout"}));
    v.field("clip_low", clip_low, "eps low", in_range(0.0, 1.0));
    v.field("clip_high", clip_high, "eps high", in_range(0.0, 10.0));
    v.field("kl_beta", kl_beta, "KL beta", in_range(0.0, 100.0));
    v.field("aggregation", aggregation, "loss aggregation", one_of({"grpo", "dapo", "dr_grpo"}));
    v.field("importance", importance, "ratio level", one_of({"token", "sequence"}));
    v.field("advantage_scaling", advantage_scaling, "advantage scaling",
            one_of({"group", "batch", "none"}));
    v.field("mask_truncated", mask_truncated, "mask truncated");
    v.field("dynamic_sampling", dynamic_sampling, "dynamic sampling");
    v.field("dynamic_sampling_rounds", dynamic_sampling_rounds, "rounds", in_range<int64_t>(0, 64));
    v.section_list("rewards", rewards, "rewards");
    v.field("accuracy_reward", accuracy_reward, "accuracy reward");
    v.field("samples_every", samples_every, "samples period", at_least<int64_t>(0));
    v.field("samples_per_log", samples_per_log, "samples", at_least<int64_t>(0));
    v.field("reflection_words", reflection_words, "reflection words");
  }
};

struct StageSection {
  std::string name;              // unique; names the stage in logs, metrics and checkpoints
  std::string type;              // lm | grpo
  int64_t steps = 0;             // optimizer steps (grpo: rollout batches)
  int64_t log_every = 1;         // progress line every this many steps
  int64_t checkpoint_every = 0;  // checkpoint every this many steps; 0 = at the stage's end only
  int64_t max_nonfinite_steps = 3;  // consecutive steps with a non-finite loss or gradient (each
                                    // skipped, never checkpointed) that end the run
  OptimSection optim;
  DatasetSection data;
  LmSection lm;      // type lm only
  GrpoSection grpo;  // type grpo only

  template <typename V>
  void visit_fields(V& v) {
    v.field("name", name, "stage name");
    v.field("type", type, "stage type", one_of({"lm", "grpo"}));
    v.field("steps", steps, "steps", at_least<int64_t>(1));
    v.field("log_every", log_every, "log period", at_least<int64_t>(1));
    v.field("checkpoint_every", checkpoint_every, "checkpoint period", at_least<int64_t>(0));
    v.field("max_nonfinite_steps", max_nonfinite_steps, "non-finite limit", at_least<int64_t>(1));
    v.section("optim", optim, "optimizer");
    v.section("data", data, "dataset");
    v.section("lm", lm, "lm stage");
    v.section("grpo", grpo, "grpo stage");
  }
};

struct RecipeConfig {
  std::string name = "run";      // run name; the run directory defaults to runs/<name>
  std::string run_dir;           // "" = runs/<name>
  uint64_t seed = 0;             // every random stream of the run derives from it
  std::string device = "auto";   // auto (CUDA when visible) | cpu | cuda
  std::string resume = "auto";   // auto: continue the latest complete checkpoint | never
  int64_t threads = 0;           // CPU threads for torch; 0 = all cores
  int64_t stop_after_steps = 0;  // end this invocation after this many steps (checkpointed); 0 = no
  int64_t keep_checkpoints = 2;  // complete checkpoints kept (older ones are deleted); 0 = all
  bool tensorboard = true;       // write TensorBoard event files beside metrics.jsonl
  bool export_final = true;      // write the final policy to <run_dir>/final as a HF directory
  ModelSection model;
  std::vector<StageSection> stages;

  template <typename V>
  void visit_fields(V& v) {
    v.field("name", name, "run name");
    v.field("run_dir", run_dir, "run directory");
    v.field("seed", seed, "seed");
    v.field("device", device, "device", one_of({"auto", "cpu", "cuda"}));
    v.field("resume", resume, "resume", one_of({"auto", "never"}));
    v.field("threads", threads, "threads", at_least<int64_t>(0));
    v.field("stop_after_steps", stop_after_steps, "stop after", at_least<int64_t>(0));
    v.field("keep_checkpoints", keep_checkpoints, "checkpoints kept", at_least<int64_t>(0));
    v.field("tensorboard", tensorboard, "tensorboard");
    v.field("export_final", export_final, "export final");
    v.section("model", model, "model");
    v.section_list("stages", stages, "stages");
  }

  std::string resolved_run_dir() const { return run_dir.empty() ? "runs/" + name : run_dir; }
};

// Reads and validates a recipe file; `overrides` are "a.b=value" (list items by index or by a
// stage's name: "stages.grpo.steps=10").
RecipeConfig read_recipe(const std::string& file, const std::vector<std::string>& overrides = {});
// The same from YAML text (`source` names it in errors).
RecipeConfig read_recipe_text(const std::string& yaml, const std::string& source,
                              const std::vector<std::string>& overrides = {});
// Cross-field checks, each a retort::Error naming the stage and key: at least one stage, unique
// stage names, a type's section present only on its type, a dataset for every stage, rewards for
// grpo, group sizes that split over ranks, ...
void validate_recipe(const RecipeConfig& recipe, int world_size = 1);

// The resolved recipe as YAML (defaults filled in), each stage with only its own type's section;
// read_recipe reads it back to the same config.
std::string write_recipe(const RecipeConfig& recipe);

// The shipped recipe that `retort run` uses without a file: recipes/r1_zero_tiny.yaml, compiled in.
const std::string& embedded_default_recipe();
const char* const kEmbeddedRecipeName = "r1_zero_tiny.yaml (embedded)";

}  // namespace retort
