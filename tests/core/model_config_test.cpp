// config.json parsing: the transformers 5 files of the fixtures, the transformers 4 layout of real
// Qwen/Llama checkpoints, and every rejected config.
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "core/model_config.h"
#include "core/transformer.h"
#include "tests/test_util.h"

namespace retort {
namespace {

using nlohmann::json;
using testing::expect_error_mentions;

// The shape of Qwen2.5-0.5B's config.json (transformers 4 layout).
json qwen25_half_b() {
  return json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu",
    "hidden_size": 896, "intermediate_size": 4864, "num_attention_heads": 14,
    "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0, "rope_scaling": null, "sliding_window": 32768,
    "use_sliding_window": false, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
    "vocab_size": 151936, "max_position_embeddings": 32768, "bos_token_id": 151643,
    "eos_token_id": 151643})");
}

TEST(ModelConfig, ReadsTransformers4LayoutOfQwen25) {
  const auto c = model_config_from_json(qwen25_half_b(), "qwen2.5");
  EXPECT_EQ(c.arch, Architecture::kQwen2);
  EXPECT_EQ(c.head_dim, 64);  // 896 / 14
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.sliding_window, 0);  // Qwen2's window only applies with use_sliding_window
  EXPECT_DOUBLE_EQ(c.rope.theta, 1e6);
  EXPECT_EQ(c.dtype, "bfloat16");
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{151643});
  // Qwen2.5-0.5B has 494,032,768 parameters (its model card: 0.49B).
  EXPECT_EQ(parameter_count(c), 494032768);
}

TEST(ModelConfig, ReadsLlama31RopeScalingAndEosList) {
  auto j = json::parse(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
    "intermediate_size": 128, "num_attention_heads": 4, "num_hidden_layers": 2,
    "num_key_value_heads": 2, "vocab_size": 100, "rope_theta": 500000.0,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                     "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
    "eos_token_id": [128001, 128008, 128009]})");
  const auto c = model_config_from_json(j, "llama3.1");
  EXPECT_EQ(c.rope.type, RopeType::kLlama3);
  EXPECT_DOUBLE_EQ(c.rope.theta, 500000.0);
  EXPECT_EQ(c.rope.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.eos_token_ids.size(), 3u);
  EXPECT_FALSE(c.tie_word_embeddings);
}

TEST(ModelConfig, ReadsEveryFixtureWrittenByTransformers5) {
  const auto qwen3 = load_model_config(testing::fixture("models/qwen3"));
  EXPECT_EQ(qwen3.arch, Architecture::kQwen3);
  EXPECT_EQ(qwen3.head_dim, 32);  // explicit, != 64 / 4
  EXPECT_TRUE(qwen3.qk_norm);
  EXPECT_DOUBLE_EQ(qwen3.rope.theta, 1e6);  // from rope_parameters
  const auto llama31 = load_model_config(testing::fixture("models/llama31"));
  EXPECT_EQ(llama31.rope.type, RopeType::kLlama3);
  EXPECT_EQ(llama31.rope.original_max_position_embeddings, 64);
  EXPECT_EQ(load_model_config(testing::fixture("models/mistral")).sliding_window, 48);
}

TEST(ModelConfig, RoundTripsThroughJson) {
  for (const auto& family : testing::model_families()) {
    const auto c = load_model_config(testing::fixture("models/" + family));
    const auto back = model_config_from_json(model_config_to_json(c), family);
    EXPECT_EQ(model_config_to_json(back), model_config_to_json(c)) << family;
  }
}

TEST(ModelConfig, ParameterCountMatchesTheBuiltModel) {
  for (const auto& family : testing::model_families()) {
    const auto c = load_model_config(testing::fixture("models/" + family));
    CausalLM model(c, torch::kFloat);
    int64_t numel = 0;
    for (const auto& p : model->parameters()) numel += p.numel();
    EXPECT_EQ(parameter_count(c), numel) << family;
  }
}

TEST(ModelConfig, KvBytesPerTokenIsTwoTimesLayersHeadsDims) {
  // Qwen2.5-0.5B: 2 (k, v) × 24 layers × 2 kv heads × 64 dims × 2 bytes = 12288 bytes.
  EXPECT_EQ(kv_cache_bytes_per_token(model_config_from_json(qwen25_half_b(), "q"), 2), 12288);
}

void expect_rejected(const std::function<void(json&)>& edit, std::vector<std::string> parts) {
  auto j = qwen25_half_b();
  edit(j);
  expect_error_mentions([&] { model_config_from_json(j, "cfg.json"); }, parts);
}

TEST(ModelConfig, UnsupportedArchitectureListsTheSupportedOnes) {
  expect_rejected([](json& j) { j["architectures"] = {"GPT2LMHeadModel"}; },
                  {"cfg.json", "GPT2LMHeadModel", "Qwen3ForCausalLM", "LlamaForCausalLM"});
}

TEST(ModelConfig, UnsupportedRopeTypeListsTheSupportedOnes) {
  expect_rejected(
      [](json& j) {
        j["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}};
      },
      {"yarn", "default, llama3"});
}

TEST(ModelConfig, RejectsHiddenSizeNotDivisibleByHeads) {
  expect_rejected([](json& j) { j["num_attention_heads"] = 13; }, {"896", "13", "divisible"});
}

TEST(ModelConfig, RejectsHeadsNotDivisibleByKvHeads) {
  expect_rejected([](json& j) { j["num_key_value_heads"] = 4; }, {"14", "4", "divisible"});
}

TEST(ModelConfig, RejectsZeroAndNegativeSizes) {
  expect_rejected([](json& j) { j["num_hidden_layers"] = 0; }, {"num_hidden_layers", "0"});
  expect_rejected([](json& j) { j["intermediate_size"] = -5; }, {"intermediate_size", "-5"});
  expect_rejected([](json& j) { j["num_attention_heads"] = 0; }, {"num_attention_heads"});
}

TEST(ModelConfig, RejectsAbsurdVocabBeforeAllocating) {
  expect_rejected([](json& j) { j["vocab_size"] = int64_t(1) << 40; }, {"vocab_size", "range"});
}

TEST(ModelConfig, RejectsWrongTypesAndMissingKeys) {
  expect_rejected([](json& j) { j["hidden_size"] = "big"; }, {"hidden_size", "\"big\"", "integer"});
  expect_rejected([](json& j) { j["hidden_size"] = 896.5; }, {"hidden_size", "integer"});
  expect_rejected([](json& j) { j.erase("vocab_size"); }, {"missing", "vocab_size"});
}

TEST(ModelConfig, RejectsFeaturesItDoesNotImplement) {
  expect_rejected([](json& j) { j["hidden_act"] = "gelu"; }, {"gelu", "silu"});
  expect_rejected([](json& j) { j["use_sliding_window"] = true; }, {"use_sliding_window"});
  expect_rejected([](json& j) { j["mlp_bias"] = true; }, {"mlp_bias"});
}

TEST(ModelConfig, MissingFileSaysWhatWasExpected) {
  testing::TempDir dir;
  expect_error_mentions([&] { load_model_config(dir.path()); }, {"config.json", "cannot open"});
}

}  // namespace
}  // namespace retort
