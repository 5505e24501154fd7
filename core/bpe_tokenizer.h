// Hugging Face tokenizer.json byte-level BPE, as Qwen2/2.5/3 and Llama 3 ship it, giving the ids
// HF tokenizers gives. The pipeline (HF's TokenizerImpl::encode):
//   1. added tokens (`<|im_start|>`, `<think>`) are cut out of the raw text, leftmost-longest;
//   2. the rest is normalized (Qwen: NFC) and pre-tokenized (core/pretokenizer.h);
//   3. each pre-token's bytes are merged by rank (Llama 3's ignore_merges: a pre-token that is
//      itself a vocabulary entry is emitted whole); results are cached per pre-token;
//   4. with add_special_tokens, the post-processor's template (e.g. a BOS) is applied.
// Supported components are listed in the errors for anything else. Input text must be valid
// UTF-8 (HF takes a Rust &str); invalid input is a retort::Error with the byte offset.
#pragma once

#include <memory>

#include "core/tokenizer.h"

namespace retort {

struct BpeOptions {
  int64_t merge_cache_entries = 100'000;  // pre-tokens whose merged ids are cached; 0: no cache
};

class BpeTokenizer final : public Tokenizer {
 public:
  // Reads a tokenizer.json. Missing file, bad JSON or unsupported components: retort::Error.
  static std::unique_ptr<BpeTokenizer> from_file(const std::string& path,
                                                 const BpeOptions& options = {});
  // Same, from the file's contents; `origin` names it in errors and describe().
  static std::unique_ptr<BpeTokenizer> from_json_text(const std::string& json_text,
                                                      const std::string& origin,
                                                      const BpeOptions& options = {});
  ~BpeTokenizer() override;

  // Thread-safe: the merge cache is shared behind a reader/writer lock; a call looks up under a
  // shared lock and inserts new entries in batches when the write lock is free (never waiting
  // for it: entries are dropped instead, so threads do not stall one another).
  std::vector<TokenId> encode(std::string_view text,
                              bool add_special_tokens = false) const override;
  const std::string& token_bytes(TokenId id) const override;
  bool is_special(TokenId id) const override;
  std::optional<TokenId> token_to_id(std::string_view token) const override;
  int64_t vocab_size() const override;
  std::string describe() const override;

 private:
  struct State;
  explicit BpeTokenizer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace retort
