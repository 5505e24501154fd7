// Tokenizers: text <-> token ids. One interface, two implementations (a real seam): the Hugging
// Face tokenizer.json byte-level BPE of Qwen2/2.5/3 and Llama 3 (core/bpe_tokenizer.h), which must
// give exactly the ids HF tokenizers gives, and a byte tokenizer for tiny from-scratch models
// (core/byte_tokenizer.h). load_tokenizer() picks one from a path or a name. Prompt and chat
// formats built on top live in core/chat_format.h. No torch here: std types only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace retort {

using TokenId = int32_t;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Text -> ids, as HF tokenizers' `encode(text, add_special_tokens)`: added and special tokens
  // written in the text (`<|im_start|>`, `<think>`) become their ids; `add_special_tokens` applies
  // the tokenizer's post-processor (e.g. a BOS). Thread-safe.
  virtual std::vector<TokenId> encode(std::string_view text,
                                      bool add_special_tokens = false) const = 0;

  // The bytes token `id` contributes to decoded text: the ByteLevel mapping undone, an added
  // token's own text. May be part of a UTF-8 character. Empty for ids the tokenizer does not know.
  virtual const std::string& token_bytes(TokenId id) const = 0;

  // Whether `id` is a special token (decode can skip those).
  virtual bool is_special(TokenId id) const = 0;

  // The id of a token by its spelling in the vocabulary ("<|im_end|>", or "Ġthe" in a byte-level
  // vocabulary), or nullopt.
  virtual std::optional<TokenId> token_to_id(std::string_view token) const = 0;

  // One past the largest id; a model's embedding table may be larger (Qwen pads to 151936).
  virtual int64_t vocab_size() const = 0;

  // One line for logs: the kind, where it came from, the vocabulary size.
  virtual std::string describe() const = 0;

  // Ids -> text, as HF tokenizers' `decode(ids, skip_special_tokens)`: the tokens' bytes joined,
  // every invalid UTF-8 subpart replaced by U+FFFD; ids the tokenizer does not know are skipped.
  std::string decode(const std::vector<TokenId>& ids, bool skip_special_tokens = false) const;
};

// Loads a tokenizer from
//   - a tokenizer.json path (Hugging Face byte-level BPE),
//   - a checkpoint directory that contains tokenizer.json,
//   - the name "byte" (the byte tokenizer, core/byte_tokenizer.h).
// Anything else is a retort::Error that lists these forms.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path_or_name);

// Decodes a stream of ids one at a time, e.g. while sampling. A token that ends inside a UTF-8
// character (half an emoji) yields nothing until the character completes; the concatenation of
// every step() and finish() equals decode() of all the ids.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = false);

  // Adds one token; returns the text completed by it (possibly empty).
  std::string step(TokenId id);

  // Ends the stream: held-back bytes of an unfinished character come out as U+FFFD.
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_tokens_;
  std::string pending_bytes_;  // the start of a character whose remaining bytes have not come yet
};

}  // namespace retort
