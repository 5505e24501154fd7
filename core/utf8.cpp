// UTF-8 validation and lossy decoding after Unicode Table 3-7 (well-formed byte sequences).
#include "core/utf8.h"

namespace retort::utf8 {
namespace {

// Outcome of reading one sequence: a character of `length` bytes, an ill-formed maximal subpart
// of `length` bytes, or a valid prefix of `length` bytes that the end of the input cut short.
enum class Status { kValid, kInvalid, kTruncated };
struct Sequence {
  Status status;
  size_t length;
};

// Reads the sequence at bytes[pos]. The allowed range of the second byte depends on the lead
// byte (Table 3-7): E0 needs A0..BF (no overlongs), ED needs 80..9F (no surrogates), F0 needs
// 90..BF, F4 needs 80..8F (nothing above U+10FFFF); all other continuation bytes are 80..BF.
Sequence read_sequence(std::string_view bytes, size_t pos) {
  const auto lead = static_cast<unsigned char>(bytes[pos]);
  if (lead < 0x80) return {Status::kValid, 1};
  size_t length = 0;
  unsigned char second_lo = 0x80, second_hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_lo = 0xA0;
    if (lead == 0xED) second_hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_lo = 0x90;
    if (lead == 0xF4) second_hi = 0x8F;
  } else {
    return {Status::kInvalid, 1};  // 80..C1 and F5..FF never start a character
  }
  for (size_t i = 1; i < length; ++i) {
    if (pos + i >= bytes.size()) return {Status::kTruncated, i};
    const auto byte = static_cast<unsigned char>(bytes[pos + i]);
    const unsigned char lo = i == 1 ? second_lo : 0x80;
    const unsigned char hi = i == 1 ? second_hi : 0xBF;
    if (byte < lo || byte > hi) return {Status::kInvalid, i};
  }
  return {Status::kValid, length};
}

}  // namespace

size_t find_invalid(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const Sequence seq = read_sequence(text, pos);
    if (seq.status != Status::kValid) return pos;
    pos += seq.length;
  }
  return text.size();
}

size_t append_lossy(std::string_view bytes, bool hold_incomplete_tail, std::string* out) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  size_t pos = 0;
  while (pos < bytes.size()) {
    const Sequence seq = read_sequence(bytes, pos);
    if (seq.status == Status::kTruncated && hold_incomplete_tail) return pos;
    if (seq.status == Status::kValid) {
      out->append(bytes.substr(pos, seq.length));
    } else {
      out->append(kReplacement);
    }
    pos += seq.length;
  }
  return pos;
}

char32_t decode_at(std::string_view text, size_t pos, size_t* length) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  auto cont = [&](size_t i) { return static_cast<char32_t>(text[pos + i] & 0x3F); };
  if (lead < 0x80) {
    *length = 1;
    return lead;
  }
  if (lead < 0xE0) {
    *length = 2;
    return (static_cast<char32_t>(lead & 0x1F) << 6) | cont(1);
  }
  if (lead < 0xF0) {
    *length = 3;
    return (static_cast<char32_t>(lead & 0x0F) << 12) | (cont(1) << 6) | cont(2);
  }
  *length = 4;
  return (static_cast<char32_t>(lead & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
}

void append_code_point(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_white_space(char32_t cp) {
  // The White_Space property list (PropList.txt), complete.
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

}  // namespace retort::utf8
