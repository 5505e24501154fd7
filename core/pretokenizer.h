// Text -> pre-tokens for byte-level BPE, as Hugging Face tokenizers' normalizers and
// pre_tokenizers do it: Unicode normalization (utf8proc), then Split steps with the family's
// regex (PCRE2, JIT-compiled, with a match limit) and ByteLevel's optional GPT-2 split. BPE merges
// never cross a pre-token boundary. Inputs are valid UTF-8 (the caller checks).
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace retort {

enum class UnicodeForm { kNFC, kNFD, kNFKC, kNFKD };

// Applies the normalization forms in order (HF normalizers "NFC", "NFD", "NFKC", "NFKD" and a
// "Sequence" of them).
class Normalizer {
 public:
  explicit Normalizer(std::vector<UnicodeForm> forms = {}) : forms_(std::move(forms)) {}
  // Writes the normalized text to *out and returns true, or returns false when `text` is
  // already normalized for certain (no forms, or pure ASCII) and *out is untouched.
  bool normalize(std::string_view text, std::string* out) const;

 private:
  std::vector<UnicodeForm> forms_;
};

// HF's SplitDelimiterBehavior: what happens to the regex matches ("delimiters") of a Split.
enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct SplitStep {
  std::string pattern;   // a regex in Oniguruma syntax (HF's), or a literal string
  bool is_regex = true;  // false: `pattern` is matched literally
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;  // true: the matches are the pieces and the rest are the delimiters
};

struct ByteLevelStep {
  bool add_prefix_space = false;  // prepend ' ' to each piece that does not start with one
  bool use_regex = true;          // split with the GPT-2 regex
};

using PretokenizerStep = std::variant<SplitStep, ByteLevelStep>;

// Pieces that had a space prepended live here; views returned by split() may point into it.
using PretokenArena = std::deque<std::string>;

class Pretokenizer {
 public:
  // Compiles the regexes; a pattern PCRE2 rejects is a retort::Error naming it.
  explicit Pretokenizer(const std::vector<PretokenizerStep>& steps);
  ~Pretokenizer();
  Pretokenizer(Pretokenizer&&) noexcept;
  Pretokenizer& operator=(Pretokenizer&&) noexcept;

  // Appends the pre-tokens of `text` to *pieces (no empty ones). Views point into `text` or into
  // *arena. Thread-safe. Throws retort::Error if a regex exceeds its match limit.
  void split(std::string_view text, PretokenArena* arena,
             std::vector<std::string_view>* pieces) const;

 private:
  struct CompiledStep;
  std::vector<std::unique_ptr<CompiledStep>> steps_;
};

}  // namespace retort
