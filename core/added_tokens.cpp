// Added-token matching; the rules follow HF tokenizers 0.23 tokenizer/added_vocabulary.rs.
#include "core/added_tokens.h"

#include <algorithm>

#include <utf8proc.h>

#include "core/utf8.h"

namespace retort {
namespace {

// Rust regex's \w (used by HF for single_word tokens), by general category.
bool is_word_char(char32_t cp) {
  if (cp == 0x200C || cp == 0x200D) return true;  // Join_Control
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

// Start of the code point that ends at text[end - 1].
size_t previous_char_start(std::string_view text, size_t end) {
  size_t pos = end - 1;
  while (pos > 0 && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

// HF's single_word rule: no word character right before or right after the match.
bool is_single_word(std::string_view text, size_t start, size_t stop) {
  size_t length = 0;
  if (start > 0 && is_word_char(utf8::decode_at(text, previous_char_start(text, start), &length)))
    return false;
  return stop == text.size() || !is_word_char(utf8::decode_at(text, stop, &length));
}

}  // namespace

void AddedTokenMatcher::add(const AddedToken* token) {
  auto& bucket = by_first_byte_[static_cast<unsigned char>(token->match_text[0])];
  bucket.push_back(token);
  std::stable_sort(bucket.begin(), bucket.end(), [](const AddedToken* a, const AddedToken* b) {
    return a->match_text.size() > b->match_text.size();
  });
  empty_ = false;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<AddedTokenSegment>* out) const {
  out->clear();
  if (empty_) {
    out->push_back({text, nullptr});
    return;
  }
  size_t start_offset = 0;  // end of the last accepted match
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedToken* token = longest_at(text, pos);
    if (token == nullptr) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = pos + token->match_text.size();
    pos = stop;
    if (token->single_word && !is_single_word(text, start, stop)) continue;
    if (token->lstrip) {
      size_t new_start = start;
      while (new_start > 0) {
        const size_t prev = previous_char_start(text, new_start);
        size_t length = 0;
        if (!utf8::is_white_space(utf8::decode_at(text, prev, &length))) break;
        new_start = prev;
      }
      start = std::max(new_start, start_offset);
    }
    if (token->rstrip) {
      size_t length = 0;
      while (stop < text.size() && utf8::is_white_space(utf8::decode_at(text, stop, &length))) {
        stop += length;
      }
      pos = stop;
    }
    if (start_offset < start)
      out->push_back({text.substr(start_offset, start - start_offset), nullptr});
    out->push_back({text.substr(start, stop - start), token});
    start_offset = stop;
  }
  if (start_offset < text.size()) out->push_back({text.substr(start_offset), nullptr});
}

const AddedToken* AddedTokenMatcher::longest_at(std::string_view text, size_t pos) const {
  for (const AddedToken* token : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
    if (text.compare(pos, token->match_text.size(), token->match_text) == 0) return token;
  }
  return nullptr;
}

}  // namespace retort
