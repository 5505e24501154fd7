// UTF-8 helpers for the tokenizers. Validation: the BPE tokenizer, like Hugging Face's (which takes
// a Rust &str), accepts valid UTF-8 only. Lossy decoding: each maximal invalid subpart becomes one
// U+FFFD, the rule of Rust's String::from_utf8_lossy and so of HF tokenizers' decode (Unicode 15
// §3.9, "U+FFFD Substitution of Maximal Subparts").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace retort::utf8 {

// Byte offset of the first byte that does not start a complete, valid UTF-8 sequence;
// text.size() when all of `text` is valid.
size_t find_invalid(std::string_view text);

// Appends `bytes` to `out` with every maximal invalid subpart replaced by U+FFFD. With
// `hold_incomplete_tail`, a sequence cut short by the end of `bytes` (a valid prefix of a
// character, e.g. the first 3 bytes of an emoji) is left out instead. Returns how many bytes of
// `bytes` were consumed; the rest is that held-back tail.
size_t append_lossy(std::string_view bytes, bool hold_incomplete_tail, std::string* out);

// Code point of the valid UTF-8 sequence at text[pos]; its length goes to *length.
char32_t decode_at(std::string_view text, size_t pos, size_t* length);

// Appends the UTF-8 encoding of a code point (< 0x110000, not a surrogate).
void append_code_point(char32_t code_point, std::string* out);

// Unicode White_Space (what Rust's char::is_whitespace and regex `\s` accept).
bool is_white_space(char32_t code_point);

}  // namespace retort::utf8
