// The rollout engine's batching, prefill sharing, decode loop and stop handling.
#include "core/generation.h"

#include <algorithm>
#include <map>
#include <memory>

#include "core/error.h"

namespace retort {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
  }
  return "?";
}

size_t find_stop_string(const std::string& text, size_t checked_before,
                        const std::vector<std::string>& stops, size_t* length) {
  size_t best = std::string::npos;
  for (const auto& stop : stops) {
    const size_t from = checked_before >= stop.size() - 1 ? checked_before - (stop.size() - 1) : 0;
    const size_t at = text.find(stop, from);
    if (at < best) {
      best = at;
      *length = stop.size();
    }
  }
  return best;
}

struct GenerationEngine::Sequence {
  int64_t request = 0;  // index into the requests
  int64_t sample = 0;   // j of n
  uint64_t seed = 0;    // this sample's random stream
  Completion out;
  std::string text;  // decoded so far (special tokens skipped)
  std::unique_ptr<StreamDecoder> decoder;
  bool done = false;
};

GenerationEngine::GenerationEngine(CausalLMImpl& model, const Tokenizer* tokenizer,
                                   EngineOptions options)
    : model_(model), tokenizer_(tokenizer), options_(std::move(options)) {
  RETORT_CHECK(options_.max_batch_sequences >= 1, "max_batch_sequences must be >= 1, got ",
               options_.max_batch_sequences);
  RETORT_CHECK(options_.max_cache_bytes > 0, "max_cache_bytes must be > 0, got ",
               options_.max_cache_bytes);
}

std::vector<std::vector<Completion>> GenerationEngine::generate(
    const std::vector<GenerationRequest>& requests, const TokenCallback& on_token) {
  const int64_t vocab = model_.config().vocab_size;
  std::vector<std::unique_ptr<Sequence>> sequences;
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    const std::string where = c10::str("request ", i);
    RETORT_CHECK(!r.prompt.empty(), where, ": the prompt has no tokens");
    RETORT_CHECK(r.n >= 1, where, ": n = ", r.n, "; expected at least 1 completion");
    validate_sampling_params(r.sampling);
    RETORT_CHECK(r.sampling.stop.empty() || tokenizer_ != nullptr, where,
                 ": stop strings need a tokenizer to decode the text");
    for (const TokenId id : r.prompt) {
      RETORT_CHECK(id >= 0 && id < vocab, where, ": prompt token ", id,
                   " is outside the vocabulary [0, ", vocab, ")");
    }
    for (int64_t j = 0; j < r.n; ++j) {
      auto s = std::make_unique<Sequence>();
      s->request = int64_t(i);
      s->sample = j;
      s->seed = r.sampling.seed + uint64_t(j);
      if (tokenizer_) s->decoder = std::make_unique<StreamDecoder>(*tokenizer_, true);
      sequences.push_back(std::move(s));
    }
  }

  // Pack sequences, in order, into batches whose KV cache fits the budget.
  const auto dtype = model_.lm_head_weight().scalar_type();
  const int64_t bytes_per_token =
      kv_cache_bytes_per_token(model_.config(), int64_t(c10::elementSize(dtype)));
  std::vector<Sequence*> batch;
  int64_t longest = 0;  // longest prompt + max_new_tokens in the batch, tokens
  for (size_t k = 0; k <= sequences.size(); ++k) {
    if (k < sequences.size()) {
      const auto& r = requests[sequences[k]->request];
      const int64_t need = int64_t(r.prompt.size()) + r.sampling.max_new_tokens;
      RETORT_CHECK(need * bytes_per_token <= options_.max_cache_bytes, "request ",
                   sequences[k]->request, ": one sequence of ", need, " tokens needs ",
                   need * bytes_per_token, " bytes of KV cache, over the budget of ",
                   options_.max_cache_bytes, " bytes; shorten the prompt or max_new_tokens");
      const int64_t grown = std::max(longest, need);
      const bool fits =
          int64_t(batch.size()) < options_.max_batch_sequences &&
          int64_t(batch.size() + 1) * grown * bytes_per_token <= options_.max_cache_bytes;
      if (fits) {
        batch.push_back(sequences[k].get());
        longest = grown;
        continue;
      }
    }
    if (!batch.empty()) run_batch(batch, requests, on_token);
    batch.clear();
    longest = 0;
    if (k < sequences.size()) --k;  // place this sequence into the next batch
  }

  std::vector<std::vector<Completion>> results(requests.size());
  for (auto& s : sequences) results[s->request].push_back(std::move(s->out));
  return results;
}

void GenerationEngine::run_batch(std::vector<Sequence*>& batch,
                                 const std::vector<GenerationRequest>& requests,
                                 const TokenCallback& on_token) {
  torch::NoGradGuard no_grad;
  const auto device = model_.lm_head_weight().device();
  const auto dtype = model_.lm_head_weight().scalar_type();
  const auto long_opts = at::TensorOptions().dtype(at::kLong);

  // The batch's unique prompts: prefill each once.
  std::map<int64_t, int64_t> row_of_request;
  std::vector<int64_t> prompt_requests;
  std::vector<int64_t> row_of_sequence;  // [N]
  int64_t prompt_len = 0, max_new = 0;
  for (const Sequence* s : batch) {
    const auto& r = requests[s->request];
    if (!row_of_request.count(s->request)) {
      row_of_request[s->request] = int64_t(prompt_requests.size());
      prompt_requests.push_back(s->request);
    }
    row_of_sequence.push_back(row_of_request[s->request]);
    prompt_len = std::max(prompt_len, int64_t(r.prompt.size()));
    max_new = std::max(max_new, r.sampling.max_new_tokens);
  }
  const int64_t P = int64_t(prompt_requests.size()), N = int64_t(batch.size());
  const int64_t capacity = prompt_len + max_new;

  // Left-padded prompts [P, Lp]; positions restart at 0 after the padding.
  auto ids = at::zeros({P, prompt_len}, long_opts);
  auto positions = at::zeros({P, prompt_len}, long_opts);
  auto valid = at::zeros({P, capacity}, long_opts.dtype(at::kBool));
  for (int64_t p = 0; p < P; ++p) {
    const auto& prompt = requests[prompt_requests[p]].prompt;
    const int64_t pad = prompt_len - int64_t(prompt.size());
    for (size_t t = 0; t < prompt.size(); ++t) {
      ids[p][pad + int64_t(t)] = int64_t(prompt[t]);
      positions[p][pad + int64_t(t)] = int64_t(t);
    }
    valid[p].narrow(0, pad, int64_t(prompt.size())).fill_(true);
  }
  auto prefill_cache = allocate_kv_cache(model_.config(), P, capacity,
                                         at::TensorOptions().dtype(dtype).device(device));
  const auto prefill_logits = model_.forward(
      ids.to(device),
      {positions.to(device), valid.narrow(1, 0, prompt_len).to(device), &prefill_cache, 0});

  // Copy each prompt's KV rows to its n sequences.
  const auto expand = at::tensor(row_of_sequence, long_opts).to(device);  // [N]
  KVCache cache;
  for (size_t l = 0; l < prefill_cache.keys.size(); ++l) {
    cache.keys.push_back(prefill_cache.keys[l].index_select(0, expand));
    cache.values.push_back(prefill_cache.values[l].index_select(0, expand));
  }
  prefill_cache = KVCache();
  auto logits = prefill_logits.select(1, prompt_len - 1).index_select(0, expand);  // [N, V]
  auto key_valid = valid.to(device).index_select(0, expand);                       // [N, capacity]
  std::vector<int64_t> next_position(N);
  std::vector<float> temperature(N), top_p(N), min_p(N);
  std::vector<int64_t> top_k(N);
  for (int64_t i = 0; i < N; ++i) {
    const auto& r = requests[batch[i]->request];
    next_position[i] = int64_t(r.prompt.size());
    temperature[i] = float(r.sampling.temperature);
    top_p[i] = float(r.sampling.top_p);
    top_k[i] = r.sampling.top_k;
    min_p[i] = float(r.sampling.min_p);
  }
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  SamplingBatch params{at::tensor(temperature, f32).to(device),
                       at::tensor(top_p, f32).to(device),
                       at::tensor(top_k, long_opts).to(device),
                       at::tensor(min_p, f32).to(device),
                       {}};

  std::vector<Sequence*> alive(batch.begin(), batch.end());
  for (int64_t step = 0; !alive.empty(); ++step) {
    const int64_t A = int64_t(alive.size());
    std::vector<float> uniform(A);
    for (int64_t i = 0; i < A; ++i) uniform[i] = float(counter_uniform(alive[i]->seed, step));
    params.uniform = at::tensor(uniform, f32).to(device);
    const auto sampled = sample_tokens(logits, params);
    const auto tokens = sampled.tokens.cpu();
    const auto logprobs = sampled.logprobs.cpu();
    const auto* token_data = tokens.data_ptr<int64_t>();
    const auto* logprob_data = logprobs.data_ptr<float>();

    std::vector<int64_t> keep;
    for (int64_t i = 0; i < A; ++i) {
      Sequence& s = *alive[i];
      const auto& sampling = requests[s.request].sampling;
      const TokenId token = TokenId(token_data[i]);
      s.out.tokens.push_back(token);
      s.out.logprobs.push_back(logprob_data[i]);
      std::string piece;
      if (s.decoder) piece = s.decoder->step(token);
      const bool stop_id =
          std::count(options_.eos_token_ids.begin(), options_.eos_token_ids.end(), token) > 0 ||
          std::count(sampling.stop_token_ids.begin(), sampling.stop_token_ids.end(), token) > 0;
      // A stop string may span tokens: search the new piece plus the tail it may complete.
      const size_t before = s.text.size();
      s.text += piece;
      size_t stop_len = 0;
      const size_t stop_at = find_stop_string(s.text, before, sampling.stop, &stop_len);
      if (on_token) on_token(s.request, s.sample, token, piece);
      if (stop_at != std::string::npos) {
        s.text.resize(stop_at + (sampling.include_stop_string ? stop_len : 0));
        s.out.finish_reason = FinishReason::kStop;
        s.done = true;
      } else if (stop_id) {
        s.out.finish_reason = FinishReason::kStop;
        s.done = true;
      } else if (int64_t(s.out.tokens.size()) >= sampling.max_new_tokens) {
        s.out.finish_reason = FinishReason::kLength;
        s.done = true;
      }
      if (s.done) {
        if (s.decoder && stop_at == std::string::npos) s.text += s.decoder->finish();
        s.out.text = std::move(s.text);
      } else {
        keep.push_back(i);
      }
    }
    if (keep.empty()) break;

    // Finished sequences leave the batch: compact every per-row tensor.
    auto next_tokens = tokens;
    if (int64_t(keep.size()) < A) {
      const auto index = at::tensor(keep, long_opts);
      const auto index_dev = index.to(device);
      for (auto& k : cache.keys) k = k.index_select(0, index_dev);
      for (auto& v : cache.values) v = v.index_select(0, index_dev);
      key_valid = key_valid.index_select(0, index_dev);
      params.temperature = params.temperature.index_select(0, index_dev);
      params.top_p = params.top_p.index_select(0, index_dev);
      params.top_k = params.top_k.index_select(0, index_dev);
      params.min_p = params.min_p.index_select(0, index_dev);
      next_tokens = tokens.index_select(0, index);
      std::vector<Sequence*> still;
      std::vector<int64_t> still_position;
      for (const int64_t i : keep) {
        still.push_back(alive[i]);
        still_position.push_back(next_position[i]);
      }
      alive.swap(still);
      next_position.swap(still_position);
    }
    const int64_t slot = prompt_len + step;
    key_valid.select(1, slot).fill_(true);
    const auto pos = at::tensor(next_position, long_opts).unsqueeze(1).to(device);  // [A', 1]
    logits = model_
                 .forward(next_tokens.unsqueeze(1).to(device),
                          {pos, key_valid.narrow(1, 0, slot + 1), &cache, slot})
                 .select(1, 0);  // [A', V]
    for (auto& p : next_position) ++p;
  }
}

}  // namespace retort
