// The byte tokenizer: one id per byte plus the special tokens of byte_tokenizer.h.
#include "core/byte_tokenizer.h"

#include <cstring>

namespace retort {

ByteTokenizer::ByteTokenizer() {
  for (int b = 0; b < 256; ++b) bytes_of_id_.emplace_back(1, static_cast<char>(b));
  for (const char* special : kSpecialTokens) bytes_of_id_.emplace_back(special);
}

std::vector<TokenId> ByteTokenizer::encode(std::string_view text,
                                           bool /*add_special_tokens*/) const {
  std::vector<TokenId> ids;
  ids.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    TokenId special_id = -1;
    size_t special_length = 0;
    if (text[pos] == '<') {
      for (size_t i = 0; i < kSpecialTokens.size(); ++i) {
        const size_t length = std::strlen(kSpecialTokens[i]);
        if (length > special_length && text.compare(pos, length, kSpecialTokens[i]) == 0) {
          special_id = kFirstSpecialId + static_cast<TokenId>(i);
          special_length = length;
        }
      }
    }
    if (special_id >= 0) {
      ids.push_back(special_id);
      pos += special_length;
    } else {
      ids.push_back(static_cast<unsigned char>(text[pos]));
      ++pos;
    }
  }
  return ids;
}

const std::string& ByteTokenizer::token_bytes(TokenId id) const {
  static const std::string kUnknown;
  return id >= 0 && id < static_cast<TokenId>(bytes_of_id_.size()) ? bytes_of_id_[id] : kUnknown;
}

bool ByteTokenizer::is_special(TokenId id) const {
  return id >= kFirstSpecialId && id < static_cast<TokenId>(bytes_of_id_.size());
}

std::optional<TokenId> ByteTokenizer::token_to_id(std::string_view token) const {
  if (token.size() == 1) return static_cast<unsigned char>(token[0]);
  for (size_t i = 0; i < kSpecialTokens.size(); ++i) {
    if (token == kSpecialTokens[i]) return kFirstSpecialId + static_cast<TokenId>(i);
  }
  return std::nullopt;
}

int64_t ByteTokenizer::vocab_size() const {
  return static_cast<int64_t>(bytes_of_id_.size());
}

std::string ByteTokenizer::describe() const {
  return "byte tokenizer (256 bytes + " + std::to_string(kSpecialTokens.size()) +
         " special tokens)";
}

}  // namespace retort
