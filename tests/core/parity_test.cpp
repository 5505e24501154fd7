// Parity with Hugging Face transformers on CPU in fp32: tiny random Llama, Llama-3.1-rope, Qwen2,
// Qwen3 and Mistral (sliding window 48) checkpoints and their next-token log-probs, computed by
// transformers 5.17 (tools/golden/make_model_golden.py). Tolerance 1e-4 absolute, per token.
#include <torch/torch.h>

#include "core/checkpoint.h"
#include "rl/logprob.h"
#include "tests/test_util.h"

namespace retort {
namespace {

using testing::fixture;
using testing::read_json;

// Next-token log-probs of `ids` under `model`: [T - 1] fp32.
at::Tensor next_token_logprobs(CausalLMImpl& model, const std::vector<int64_t>& ids) {
  torch::NoGradGuard no_grad;
  const auto device = model.lm_head_weight().device();
  const auto input = torch::tensor(ids, torch::kLong).unsqueeze(0).to(device);  // [1, T]
  const auto hidden = model.forward_hidden(input);                              // [1, T, H]
  const int64_t T = input.size(1);
  return token_logprobs(hidden.narrow(1, 0, T - 1), model.lm_head_weight(),
                        input.narrow(1, 1, T - 1), {1.0, 64})[0]
      .cpu();
}

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, NextTokenLogprobsMatchTransformersFp32) {
  const std::string dir = fixture("models/" + GetParam());
  const auto golden = read_json(dir + "/golden.json");
  auto model = load_model(dir);
  for (const auto& seq : golden["sequences"]) {
    const auto ids = seq["ids"].get<std::vector<int64_t>>();
    const auto expected = torch::tensor(seq["logprobs"].get<std::vector<double>>(), torch::kFloat);
    if (ids.size() < 2) continue;  // a single token predicts nothing; checked below
    const auto got = next_token_logprobs(*model, ids);
    ASSERT_EQ(got.numel(), expected.numel());
    EXPECT_LT((got - expected).abs().max().item<double>(), 1e-4) << "T = " << ids.size();
  }
}

TEST_P(Parity, WholeLastRowMatchesTransformersFp32) {
  const std::string dir = fixture("models/" + GetParam());
  const auto golden = read_json(dir + "/golden.json");
  auto model = load_model(dir);
  torch::NoGradGuard no_grad;
  for (const auto& seq : golden["sequences"]) {
    const auto ids = torch::tensor(seq["ids"].get<std::vector<int64_t>>()).unsqueeze(0);
    const auto expected =
        torch::tensor(seq["last_logprobs"].get<std::vector<double>>(), torch::kFloat);
    const auto row = model->forward(ids)[0][-1].log_softmax(-1);  // [V]
    EXPECT_LT((row - expected).abs().max().item<double>(), 1e-4) << "T = " << ids.size(1);
  }
}

// Greedy decoding through the KV cache, one token at a time, must reproduce transformers'
// generate(do_sample=False) token for token.
TEST_P(Parity, GreedyDecodingWithKvCacheMatchesTransformersGenerate) {
  const std::string dir = fixture("models/" + GetParam());
  const auto golden = read_json(dir + "/golden.json");
  auto model = load_model(dir);
  torch::NoGradGuard no_grad;
  for (const auto& case_ : golden["greedy"]) {
    const auto prompt = case_["prompt"].get<std::vector<int64_t>>();
    const auto expected = case_["tokens"].get<std::vector<int64_t>>();
    const int64_t capacity = int64_t(prompt.size() + expected.size());
    auto cache = allocate_kv_cache(model->config(), 1, capacity, torch::kFloat);
    auto logits = model->forward(torch::tensor(prompt).unsqueeze(0), {{}, {}, &cache, 0});
    std::vector<int64_t> got;
    int64_t offset = int64_t(prompt.size());
    while (got.size() < expected.size()) {
      got.push_back(logits[0][-1].argmax().item<int64_t>());
      logits = model->forward(torch::tensor({got.back()}).unsqueeze(0), {{}, {}, &cache, offset});
      ++offset;
    }
    EXPECT_EQ(got, expected);
  }
}

INSTANTIATE_TEST_SUITE_P(Families, Parity, ::testing::ValuesIn(testing::model_families()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace retort

namespace retort {
namespace {

// Checkpoints written by `retort init` and loaded by transformers (tools/gpu_check.sh ran
// tools/golden/check_hf_load.py on them): transformers' log-probs were recorded next to the
// weights; retort reading the same directory must agree within 1e-4.
class SavedByRetort : public ::testing::TestWithParam<std::string> {};

TEST_P(SavedByRetort, TransformersLoadedItAndAgrees) {
  const std::string dir = testing::fixture("retort_saved/" + GetParam());
  const auto check = testing::read_json(dir + "/hf_check.json");
  EXPECT_TRUE(check["loading_problems"].empty()) << check["loading_problems"].dump();
  EXPECT_LT(check["max_abs_diff"].get<double>(), 1e-4);
  auto model = load_model(dir);
  for (const auto& rec : check["transformers_logprobs"]) {
    const auto ids = rec["ids"].get<std::vector<int64_t>>();
    const auto expected = torch::tensor(rec["logprobs"].get<std::vector<double>>(), torch::kFloat);
    const auto got = next_token_logprobs(*model, ids);
    EXPECT_LT((got - expected).abs().max().item<double>(), 1e-4) << "T = " << ids.size();
  }
}

INSTANTIATE_TEST_SUITE_P(Families, SavedByRetort, ::testing::Values("qwen3", "qwen2", "llama31"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace retort
