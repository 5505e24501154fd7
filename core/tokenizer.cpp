// The tokenizer factory, decoding and the streaming decoder (shared by both implementations).
#include "core/tokenizer.h"

#include <filesystem>

#include "core/bpe_tokenizer.h"
#include "core/byte_tokenizer.h"
#include "core/error.h"
#include "core/utf8.h"

namespace retort {

std::string Tokenizer::decode(const std::vector<TokenId>& ids, bool skip_special_tokens) const {
  std::string bytes;
  for (const TokenId id : ids) {
    if (skip_special_tokens && is_special(id)) continue;
    bytes += token_bytes(id);
  }
  std::string text;
  text.reserve(bytes.size());
  utf8::append_lossy(bytes, /*hold_incomplete_tail=*/false, &text);
  return text;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path_or_name) {
  namespace fs = std::filesystem;
  static constexpr const char* kForms =
      "expected a tokenizer.json file, a checkpoint directory containing tokenizer.json, or the "
      "name \"byte\"";
  if (path_or_name == "byte") return std::make_unique<ByteTokenizer>();
  std::error_code ec;
  const fs::path path(path_or_name);
  if (fs::is_directory(path, ec)) {
    const fs::path json = path / "tokenizer.json";
    RETORT_CHECK(fs::is_regular_file(json, ec), "tokenizer: no tokenizer.json in directory '",
                 path_or_name, "'; ", kForms);
    return BpeTokenizer::from_file(json.string());
  }
  RETORT_CHECK(fs::is_regular_file(path, ec), "tokenizer: '", path_or_name,
               "' is not a file, a directory or a known name; ", kForms);
  return BpeTokenizer::from_file(path_or_name);
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens) {}

std::string StreamDecoder::step(TokenId id) {
  if (skip_special_tokens_ && tokenizer_.is_special(id)) return {};
  pending_bytes_ += tokenizer_.token_bytes(id);
  // Everything up to an unfinished last character is final: lossy decoding only looks at the
  // bytes of one sequence at a time, so appending bytes cannot change what came before it.
  std::string text;
  const size_t consumed = utf8::append_lossy(pending_bytes_, /*hold_incomplete_tail=*/true, &text);
  pending_bytes_.erase(0, consumed);
  return text;
}

std::string StreamDecoder::finish() {
  std::string text;
  utf8::append_lossy(pending_bytes_, /*hold_incomplete_tail=*/false, &text);
  pending_bytes_.clear();
  return text;
}

}  // namespace retort
