// Normalization with utf8proc and pre-tokenization with PCRE2, following HF tokenizers'
// normalizers/unicode.rs, pre_tokenizers/{split,byte_level}.rs and NormalizedString::split.
// HF compiles Split regexes with Oniguruma; PCRE2 (UTF + UCP) reads the same syntax for what the
// Qwen/Llama patterns use (\p{L}, \p{N}, (?i:...), (?!\S)) except that Oniguruma's \s is exactly
// Unicode White_Space while PCRE2 10.42's also matches U+180E (MONGOLIAN VOWEL SEPARATOR, a
// format character since Unicode 6.3): translate_pattern() spells \s out as White_Space.
#include "core/pretokenizer.h"

#include <algorithm>
#include <cstdlib>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include "core/error.h"
#include "core/utf8.h"

namespace retort {
namespace {

// Backtracking budget of one regex match attempt. The Qwen/Llama patterns need a few steps per
// byte; a pattern that backtracks catastrophically (e.g. "(a+)+$") hits this within milliseconds
// and becomes an error instead of a hang.
constexpr uint32_t kMatchLimit = 10'000'000;
constexpr size_t kJitStackMaxBytes = 8 << 20;

// The GPT-2 split that ByteLevel applies when use_regex is true (pre_tokenizers/byte_level.rs).
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Rewrites Oniguruma's \s (and \S outside a class) as the White_Space set, which is \t..\r,
// U+0085 and the Z categories. Other escapes and the rest of the syntax pass through.
std::string translate_pattern(std::string_view pattern) {
  const std::string space_set = R"(\t-\r\x{85}\p{Z})";
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[++i];
      if (next == 's') {
        out += in_class ? space_set : "[" + space_set + "]";
      } else if (next == 'S' && !in_class) {
        out += "[^" + space_set + "]";
      } else {
        out += c;
        out += next;
      }
      continue;
    }
    out += c;
    if (c == '[' && !in_class) {
      in_class = true;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];  // literal ']'
    } else if (c == ']' && in_class) {
      in_class = false;
    }
  }
  return out;
}

// Per-thread match state: PCRE2 match data and JIT stacks must not be shared between threads.
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);  // the whole match is enough
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(32 << 10, kJitStackMaxBytes, nullptr);
  MatchState() {
    pcre2_set_match_limit(context, kMatchLimit);
    pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~MatchState() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

struct Span {
  size_t begin, end;
};

class Regex {
 public:
  Regex(const std::string& pattern, bool literal) : pattern_(pattern) {
    const std::string compiled = literal ? pattern : translate_pattern(pattern);
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    const uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(), options,
                          &error_code, &error_offset, nullptr);
    if (code_ == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error_code, message, sizeof(message));
      fail("tokenizer: cannot compile the pre-tokenizer regex /", pattern, "/ at offset ",
           error_offset, ": ", reinterpret_cast<const char*>(message));
    }
    // Without JIT (e.g. a system that forbids executable memory) pcre2_match interprets.
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-empty, non-overlapping matches, left to right (empty matches are skipped).
  void find_all(std::string_view text, std::vector<Span>* matches) const {
    MatchState& state = match_state();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t pos = 0;
    while (pos < text.size()) {
      const int rc = pcre2_match(code_, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, state.data,
                                 state.context);
      if (rc == PCRE2_ERROR_NOMATCH) return;
      if (rc < 0) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(rc, message, sizeof(message));
        fail("tokenizer: the pre-tokenizer regex /", pattern_, "/ gave up on a piece of ",
             text.size(), " bytes at offset ", pos, ": ", reinterpret_cast<const char*>(message),
             " (the pattern backtracks too much on this input)");
      }
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
      const Span match{ovector[0], ovector[1]};
      if (match.end == match.begin) {
        size_t length = 0;
        utf8::decode_at(text, match.begin, &length);
        pos = match.begin + length;
        continue;
      }
      matches->push_back(match);
      pos = match.end;
    }
  }

 private:
  std::string pattern_;
  pcre2_code* code_ = nullptr;
};

// NormalizedString::split: the matches and the gaps between them cover the text; each span is
// kept or removed and spans are merged according to the behaviour.
void split_by_behavior(std::string_view text, const std::vector<Span>& matches, bool invert,
                       SplitBehavior behavior, std::vector<std::string_view>* pieces) {
  struct Part {
    Span span;
    bool is_match;
  };
  std::vector<Part> parts;
  size_t prev = 0;
  for (const Span& m : matches) {
    if (prev != m.begin) parts.push_back({{prev, m.begin}, invert});
    parts.push_back({m, !invert});
    prev = m.end;
  }
  if (prev != text.size()) parts.push_back({{prev, text.size()}, invert});

  std::vector<Span> kept;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Part& p : parts) kept.push_back(p.span);
      break;
    case SplitBehavior::kRemoved:
      for (const Part& p : parts) {
        if (!p.is_match) kept.push_back(p.span);
      }
      break;
    case SplitBehavior::kContiguous:
      for (const Part& p : parts) {
        if (!kept.empty() && p.is_match == previous_match) {
          kept.back().end = p.span.end;
        } else {
          kept.push_back(p.span);
        }
        previous_match = p.is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Part& p : parts) {
        if (!kept.empty() && p.is_match && !previous_match) {
          kept.back().end = p.span.end;
        } else {
          kept.push_back(p.span);
        }
        previous_match = p.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (!kept.empty() && it->is_match && !previous_match) {
          kept.back().begin = it->span.begin;
        } else {
          kept.push_back(it->span);
        }
        previous_match = it->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  for (const Span& s : kept) {
    if (s.end > s.begin) pieces->push_back(text.substr(s.begin, s.end - s.begin));
  }
}

// NFC quick check (UAX #15, section 9): a text of characters that are starters (combining class
// 0), are their own NFC, and cannot compose with a preceding character is already in NFC, and
// normalizing it would only cost time. The table marks such "inert" characters below kInertLimit;
// it is derived once from utf8proc's canonical decompositions: a character that appears after the
// first position of some decomposition may compose with what precedes it, so it is not inert, and
// neither is a character whose decomposition starts with one.
constexpr char32_t kInertLimit = 0x30000;

const std::vector<bool>& nfc_inert_table() {
  static const std::vector<bool> table = [] {
    constexpr utf8proc_ssize_t kMaxDecomposition = 32;
    utf8proc_int32_t buffer[kMaxDecomposition];
    int boundclass = 0;
    auto decompose = [&](char32_t cp) {
      return utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buffer, kMaxDecomposition,
                                     UTF8PROC_DECOMPOSE, &boundclass);
    };
    auto is_surrogate = [](char32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; };
    std::vector<bool> can_follow(kInertLimit, false);
    for (char32_t cp = 0; cp < kInertLimit; ++cp) {
      if (is_surrogate(cp)) continue;
      const utf8proc_ssize_t length = decompose(cp);
      for (utf8proc_ssize_t i = 1; i < length && i < kMaxDecomposition; ++i) {
        if (static_cast<char32_t>(buffer[i]) < kInertLimit) can_follow[buffer[i]] = true;
      }
    }
    std::vector<bool> inert(kInertLimit, false);
    for (char32_t cp = 0; cp < kInertLimit; ++cp) {
      if (is_surrogate(cp) || utf8proc_get_property(cp)->combining_class != 0) continue;
      utf8proc_ssize_t length = decompose(cp);
      if (length < 1 || length > kMaxDecomposition || can_follow[buffer[0]]) continue;
      if (length > 1) {  // its own NFC only if the decomposition composes back to it
        length = utf8proc_normalize_utf32(
            buffer, length, static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_STABLE));
      }
      inert[cp] = length == 1 && static_cast<char32_t>(buffer[0]) == cp;
    }
    return inert;
  }();
  return table;
}

bool is_nfc_for_certain(std::string_view text) {
  const std::vector<bool>& inert = nfc_inert_table();
  for (size_t pos = 0; pos < text.size();) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    size_t length = 0;
    const char32_t cp = utf8::decode_at(text, pos, &length);
    if (cp >= kInertLimit || !inert[cp]) return false;
    pos += length;
  }
  return true;
}

}  // namespace

bool Normalizer::normalize(std::string_view text, std::string* out) const {
  if (forms_.empty()) return false;
  bool is_ascii = true;
  for (const char c : text) is_ascii &= static_cast<unsigned char>(c) < 0x80;
  if (is_ascii) return false;  // ASCII is invariant under all four forms
  if (forms_.size() == 1 && forms_[0] == UnicodeForm::kNFC && is_nfc_for_certain(text)) {
    return false;
  }
  std::string current(text);
  for (const UnicodeForm form : forms_) {
    int options = UTF8PROC_STABLE;
    switch (form) {
      case UnicodeForm::kNFC:
        options |= UTF8PROC_COMPOSE;
        break;
      case UnicodeForm::kNFD:
        options |= UTF8PROC_DECOMPOSE;
        break;
      case UnicodeForm::kNFKC:
        options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
        break;
      case UnicodeForm::kNFKD:
        options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
        break;
    }
    utf8proc_uint8_t* result = nullptr;
    const utf8proc_ssize_t length =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(current.data()),
                     static_cast<utf8proc_ssize_t>(current.size()), &result,
                     static_cast<utf8proc_option_t>(options));
    RETORT_CHECK(length >= 0, "tokenizer: Unicode normalization failed: ", utf8proc_errmsg(length));
    current.assign(reinterpret_cast<const char*>(result), static_cast<size_t>(length));
    std::free(result);
  }
  *out = std::move(current);
  return true;
}

struct Pretokenizer::CompiledStep {
  // A Split step, or a ByteLevel step (regex set when it uses the GPT-2 split).
  std::unique_ptr<Regex> regex;
  bool is_byte_level = false;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  bool add_prefix_space = false;
};

Pretokenizer::Pretokenizer(const std::vector<PretokenizerStep>& steps) {
  for (const PretokenizerStep& step : steps) {
    auto compiled = std::make_unique<CompiledStep>();
    if (const auto* split = std::get_if<SplitStep>(&step)) {
      compiled->regex = std::make_unique<Regex>(split->pattern, !split->is_regex);
      compiled->behavior = split->behavior;
      compiled->invert = split->invert;
    } else {
      const auto& byte_level = std::get<ByteLevelStep>(step);
      compiled->is_byte_level = true;
      compiled->add_prefix_space = byte_level.add_prefix_space;
      if (byte_level.use_regex) compiled->regex = std::make_unique<Regex>(kGpt2Pattern, false);
      // ByteLevel without prefix space or regex only maps bytes to characters, which the BPE
      // tokenizer does implicitly (its vocabulary is stored as raw bytes): nothing to run.
      if (!byte_level.add_prefix_space && !byte_level.use_regex) continue;
    }
    steps_.push_back(std::move(compiled));
  }
}

Pretokenizer::~Pretokenizer() = default;
Pretokenizer::Pretokenizer(Pretokenizer&&) noexcept = default;
Pretokenizer& Pretokenizer::operator=(Pretokenizer&&) noexcept = default;

void Pretokenizer::split(std::string_view text, PretokenArena* arena,
                         std::vector<std::string_view>* pieces) const {
  const size_t first = pieces->size();
  if (!text.empty()) pieces->push_back(text);
  std::vector<std::string_view> next;
  std::vector<Span> matches;
  for (const auto& step : steps_) {
    next.clear();
    for (size_t i = first; i < pieces->size(); ++i) {
      std::string_view piece = (*pieces)[i];
      if (step->add_prefix_space && piece.front() != ' ') {
        arena->push_back(" " + std::string(piece));
        piece = arena->back();
      }
      if (!step->regex) {
        next.push_back(piece);
        continue;
      }
      matches.clear();
      step->regex->find_all(piece, &matches);
      split_by_behavior(piece, matches, step->invert, step->behavior, &next);
    }
    pieces->resize(first);
    pieces->insert(pieces->end(), next.begin(), next.end());
  }
}

}  // namespace retort
