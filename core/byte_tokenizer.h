// The byte tokenizer, for tiny models trained from scratch: ids 0..255 are the bytes of the text,
// followed by a few special tokens (the ChatML markers, so the chatml prompt format works, and an
// end-of-text token). Any byte string encodes, valid UTF-8 or not. Selected by the name "byte".
#pragma once

#include <array>

#include "core/tokenizer.h"

namespace retort {

class ByteTokenizer final : public Tokenizer {
 public:
  // The special tokens, in id order from 256.
  static constexpr std::array<const char*, 3> kSpecialTokens = {"<|endoftext|>", "<|im_start|>",
                                                                "<|im_end|>"};
  static constexpr TokenId kFirstSpecialId = 256;

  ByteTokenizer();

  // Special tokens written in the text become their ids (leftmost, longest first).
  std::vector<TokenId> encode(std::string_view text,
                              bool add_special_tokens = false) const override;
  const std::string& token_bytes(TokenId id) const override;
  bool is_special(TokenId id) const override;
  // A special token's text, or a one-byte string.
  std::optional<TokenId> token_to_id(std::string_view token) const override;
  int64_t vocab_size() const override;
  std::string describe() const override;

 private:
  std::vector<std::string> bytes_of_id_;
};

}  // namespace retort
