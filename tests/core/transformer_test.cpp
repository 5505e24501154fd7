// The transformer's own invariants on a random-initialised tiny Qwen3: cached decoding equals a
// full forward, left padding is invisible, activation checkpointing changes no gradient, and
// checkpoints save, reload and load strictly.
#include <torch/torch.h>

#include "core/checkpoint.h"
#include "core/safetensors.h"
#include "tests/test_util.h"

namespace retort {
namespace {

using testing::expect_error_mentions;

ModelConfig tiny_config(Architecture arch = Architecture::kQwen3) {
  ModelConfig c;
  c.arch = arch;
  c.vocab_size = 97;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 16;
  c.qk_norm = arch == Architecture::kQwen3;
  c.attention_bias = arch == Architecture::kQwen2;
  return c;
}

CausalLM tiny_model(const ModelConfig& c = tiny_config(), uint64_t seed = 7) {
  CausalLM model(c, torch::kFloat);
  init_weights(*model, seed, 0.3);  // a wide init: logits far from uniform
  return model;
}

TEST(Transformer, CachedDecodingEqualsFullForward) {
  auto model = tiny_model();
  torch::NoGradGuard no_grad;
  const auto ids = torch::randint(0, 97, {3, 12}, torch::kLong);  // [B, T]
  const auto full = model->forward(ids);                          // [B, T, V]
  auto cache = allocate_kv_cache(model->config(), 3, 16, torch::kFloat);
  auto prefill = model->forward(ids.narrow(1, 0, 5), {{}, {}, &cache, 0});
  EXPECT_TRUE(torch::allclose(prefill, full.narrow(1, 0, 5), 1e-5, 1e-5));
  for (int64_t t = 5; t < 12; ++t) {
    const auto step = model->forward(ids.narrow(1, t, 1), {{}, {}, &cache, t});
    EXPECT_TRUE(torch::allclose(step, full.narrow(1, t, 1), 1e-5, 1e-5)) << "t = " << t;
  }
}

TEST(Transformer, LeftPaddingIsInvisibleWithKeyMaskAndPositions) {
  auto model = tiny_model();
  torch::NoGradGuard no_grad;
  const auto ids = torch::randint(0, 97, {1, 6}, torch::kLong);
  const auto plain = model->forward(ids);  // [1, 6, V]
  // The same row behind 3 pad slots: positions restart at 0 after the padding.
  const auto padded = torch::cat({torch::zeros({1, 3}, torch::kLong), ids}, 1);  // [1, 9]
  const auto positions = torch::cat(
      {torch::zeros({1, 3}, torch::kLong), torch::arange(6, torch::kLong).unsqueeze(0)}, 1);
  const auto valid =
      torch::cat({torch::zeros({1, 3}, torch::kBool), torch::ones({1, 6}, torch::kBool)}, 1);
  const auto out = model->forward(padded, {positions, valid, nullptr, 0});
  EXPECT_TRUE(torch::allclose(out.narrow(1, 3, 6), plain, 1e-5, 1e-5));
  EXPECT_FALSE(out.isnan().any().item<bool>());  // pad queries see themselves, not nothing
}

TEST(Transformer, SlidingWindowOnlyMattersBeyondTheWindow) {
  auto c = tiny_config(Architecture::kMistral);
  auto full = tiny_model(c);
  c.sliding_window = 4;
  auto windowed = tiny_model(c);  // same seed, same weights
  torch::NoGradGuard no_grad;
  const auto ids = torch::randint(0, 97, {1, 10}, torch::kLong);
  const auto a = full->forward(ids), b = windowed->forward(ids);
  EXPECT_TRUE(torch::allclose(a.narrow(1, 0, 4), b.narrow(1, 0, 4), 1e-5, 1e-5));
  EXPECT_FALSE(torch::allclose(a.narrow(1, 4, 6), b.narrow(1, 4, 6), 1e-3, 1e-3));
}

TEST(Transformer, ActivationCheckpointingGivesTheSameGradients) {
  auto plain = tiny_model(), checkpointed = tiny_model();
  checkpointed->set_activation_checkpointing(true);
  const auto ids = torch::randint(0, 97, {2, 9}, torch::kLong);
  plain->forward(ids).log_softmax(-1).mean().backward();
  checkpointed->forward(ids).log_softmax(-1).mean().backward();
  const auto a = plain->named_parameters(), b = checkpointed->named_parameters();
  for (const auto& item : a) {
    const auto& ga = item.value().grad();
    const auto& gb = b[item.key()].grad();
    ASSERT_TRUE(ga.defined() && gb.defined()) << item.key();
    EXPECT_TRUE(torch::allclose(ga, gb, 1e-5, 1e-7)) << item.key();
  }
}

TEST(Transformer, InitIsSeededAndHasTheRequestedSpread) {
  auto a = tiny_model(tiny_config(), 1), b = tiny_model(tiny_config(), 1);
  auto c = tiny_model(tiny_config(), 2);
  const auto& wa = a->model->embed_tokens->weight;
  EXPECT_TRUE(torch::equal(wa, b->model->embed_tokens->weight));
  EXPECT_FALSE(torch::equal(wa, c->model->embed_tokens->weight));
  EXPECT_NEAR(wa.std().item<double>(), 0.3, 0.03);  // 3104 draws: std error ~1.3%
  EXPECT_TRUE(torch::equal(a->model->norm->weight, torch::ones({32})));
}

TEST(Transformer, Bf16ForwardStaysCloseToFp32) {
  auto model = tiny_model();
  torch::NoGradGuard no_grad;
  const auto ids = torch::randint(0, 97, {2, 8}, torch::kLong);
  const auto fp32 = model->forward(ids).log_softmax(-1);
  model->to(torch::kBFloat16);
  const auto bf16 = model->forward(ids).to(torch::kFloat).log_softmax(-1);
  EXPECT_LT((bf16 - fp32).abs().max().item<double>(), 0.3);
}

TEST(Checkpoint, SaveThenLoadGivesTheSameModel) {
  testing::TempDir tmp;
  for (auto arch : {Architecture::kQwen3, Architecture::kQwen2, Architecture::kLlama}) {
    auto model = tiny_model(tiny_config(arch));
    const auto dir = tmp.path(model_type_name(arch));
    save_model(*model, dir, {"", 20'000, false});  // small shards: exercises the index
    EXPECT_TRUE(std::filesystem::exists(dir + "/model.safetensors.index.json"));
    auto loaded = load_model(dir);
    torch::NoGradGuard no_grad;
    const auto ids = torch::randint(0, 97, {1, 7}, torch::kLong);
    EXPECT_TRUE(torch::equal(model->forward(ids), loaded->forward(ids)));
  }
}

TEST(Checkpoint, RefusesToOverwriteANonEmptyDirectory) {
  testing::TempDir tmp;
  auto model = tiny_model();
  save_model(*model, tmp.path("m"));
  expect_error_mentions([&] { save_model(*model, tmp.path("m")); }, {"not empty"});
  save_model(*model, tmp.path("m"), {"", 5ull << 30, true});
}

// Writes the tiny model's tensors with one edit applied, for the strict-loading tests.
void write_edited(
    const std::string& dir,
    const std::function<void(std::vector<std::pair<std::string, at::Tensor>>&)>& edit) {
  auto model = tiny_model();
  save_model(*model, dir);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : model->named_parameters()) tensors.emplace_back(item.key(), item.value());
  edit(tensors);
  std::filesystem::remove(dir + "/model.safetensors");
  safetensors::save(dir + "/model.safetensors", tensors);
}

TEST(Checkpoint, LoadingNamesMissingTensors) {
  testing::TempDir tmp;
  write_edited(tmp.path("m"), [](auto& t) { t.erase(t.begin() + 1); });
  expect_error_mentions([&] { load_model(tmp.path("m")); }, {"lacks 1", "model.layers.0"});
}

TEST(Checkpoint, LoadingNamesUnexpectedTensors) {
  testing::TempDir tmp;
  write_edited(tmp.path("m"),
               [](auto& t) { t.emplace_back("model.extra.weight", torch::ones(3)); });
  expect_error_mentions([&] { load_model(tmp.path("m")); }, {"model.extra.weight", "does not use"});
}

TEST(Checkpoint, LoadingNamesMisShapedTensors) {
  testing::TempDir tmp;
  write_edited(tmp.path("m"), [](auto& t) {
    for (auto& [name, tensor] : t) {
      if (name == "model.norm.weight") tensor = torch::ones({31});
    }
  });
  expect_error_mentions([&] { load_model(tmp.path("m")); }, {"model.norm.weight", "[31]", "[32]"});
}

}  // namespace
}  // namespace retort
