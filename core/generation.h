// The rollout engine: batched generation over the model core, used by GRPO rollouts, rejection
// sampling, distillation traces, evaluation and `retort generate`.
//
// One call takes P requests (a prompt, sampling parameters, a group size n) and returns n
// completions for each. The P unique prompts are prefilled once, left-padded into one batch; each
// prompt's KV rows are then copied to its n sequences (group sampling costs one prefill, not n).
// Decoding runs every live sequence one token per step over a preallocated KV cache; finished
// sequences are compacted out of the batch, so they stop costing compute. A request whose
// sequences would not fit the cache budget is split into batches that do — results are the same
// either way, because every sample draws from its own counter-based random stream (sampling.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/sampling.h"
#include "core/tokenizer.h"
#include "core/transformer.h"

namespace retort {

struct GenerationRequest {
  std::vector<TokenId> prompt;  // prompt token ids, already formatted (chat_format.h)
  SamplingParams sampling;      // how to sample; sample j uses seed sampling.seed + j
  int64_t n = 1;                // G: completions for this prompt
};

enum class FinishReason { kStop, kLength };
const char* finish_reason_name(FinishReason reason);  // "stop" / "length"

struct Completion {
  std::vector<TokenId> tokens;  // generated ids, including the stop token or the tokens that
                                // completed a stop string
  std::vector<float> logprobs;  // per token, under the temperature-scaled distribution
  std::string text;             // decoded text, cut before a matched stop string (unless
                                // include_stop_string); empty without a tokenizer
  FinishReason finish_reason = FinishReason::kLength;
};

struct EngineOptions {
  int64_t max_batch_sequences = 256;    // most sequences decoded together
  int64_t max_cache_bytes = 2LL << 30;  // KV cache budget per batch, bytes
  std::vector<TokenId> eos_token_ids;   // stop ids for every request (the model's EOS, the chat
                                        // format's end-of-turn)
};

// Called once per new token of each sequence: (request index, sample index, token, text piece).
// The text piece is what the token completed (may be empty mid-character).
using TokenCallback = std::function<void(int64_t, int64_t, TokenId, const std::string&)>;

// Where the earliest of `stops` occurs in `text` when only the bytes from `checked_before` on are
// new (a match must end in the new part; it may start up to len - 1 bytes earlier, so stop
// strings that span tokens are found). Returns npos when none; sets *length to the match's size.
size_t find_stop_string(const std::string& text, size_t checked_before,
                        const std::vector<std::string>& stops, size_t* length);

class GenerationEngine {
 public:
  // `tokenizer` decodes text and matches stop strings; it may be null when no request has stop
  // strings and no text is wanted.
  GenerationEngine(CausalLMImpl& model, const Tokenizer* tokenizer, EngineOptions options);

  // completions[i][j] is sample j of requests[i].
  std::vector<std::vector<Completion>> generate(const std::vector<GenerationRequest>& requests,
                                                const TokenCallback& on_token = {});

  const EngineOptions& options() const { return options_; }

 private:
  struct Sequence;  // one sample being generated
  void run_batch(std::vector<Sequence*>& batch, const std::vector<GenerationRequest>& requests,
                 const TokenCallback& on_token);

  CausalLMImpl& model_;
  const Tokenizer* tokenizer_;
  EngineOptions options_;
};

}  // namespace retort
