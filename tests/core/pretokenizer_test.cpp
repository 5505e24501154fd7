// Pre-tokenizer and normalizer tests. Expected splits of "How are you doing?" are those of HF
// tokenizers' own tests (pre_tokenizers/split.rs: the regex \w+|[^\w\s]+ with invert = true, so
// the whitespace between matches is the delimiter); NFC is checked against utf8proc itself.
#include <random>

#include <gtest/gtest.h>
#include <utf8proc.h>

#include "core/pretokenizer.h"
#include "core/utf8.h"

namespace retort {
namespace {

std::vector<std::string> split_with(const std::vector<PretokenizerStep>& steps,
                                    const std::string& text) {
  PretokenArena arena;
  std::vector<std::string_view> pieces;
  Pretokenizer(steps).split(text, &arena, &pieces);
  return std::vector<std::string>(pieces.begin(), pieces.end());
}

std::vector<std::string> split_words(SplitBehavior behavior) {
  return split_with({SplitStep{R"(\w+|[^\w\s]+)", true, behavior, /*invert=*/true}},
                    "How are you doing?");
}

using Pieces = std::vector<std::string>;

TEST(Pretokenizer, SplitBehavioursMatchHuggingFaceExamples) {
  EXPECT_EQ(split_words(SplitBehavior::kRemoved), (Pieces{"How", "are", "you", "doing", "?"}));
  EXPECT_EQ(split_words(SplitBehavior::kIsolated),
            (Pieces{"How", " ", "are", " ", "you", " ", "doing", "?"}));
  EXPECT_EQ(split_words(SplitBehavior::kMergedWithPrevious),
            (Pieces{"How ", "are ", "you ", "doing", "?"}));
  EXPECT_EQ(split_words(SplitBehavior::kMergedWithNext),
            (Pieces{"How", " are", " you", " doing", "?"}));
  EXPECT_EQ(split_words(SplitBehavior::kContiguous),
            (Pieces{"How", " ", "are", " ", "you", " ", "doing?"}));
}

TEST(Pretokenizer, LiteralPatternsAreNotRegexes) {
  EXPECT_EQ(split_with({SplitStep{"a.b", false, SplitBehavior::kRemoved, false}}, "xa.bya+b"),
            (Pieces{"x", "ya+b"}));
}

TEST(Pretokenizer, WhitespaceIsUnicodeWhiteSpaceLikeOniguruma) {
  // HF's Oniguruma \s is White_Space: NEL (U+0085) is in it, U+180E is not (PCRE2's own \s has
  // both); the pattern is translated so both split as in HF.
  const std::vector<PretokenizerStep> steps = {
      SplitStep{R"(\s+|\S+)", true, SplitBehavior::kIsolated, false}};
  EXPECT_EQ(split_with(steps, "a\u0085b"), (Pieces{"a", "\u0085", "b"}));
  EXPECT_EQ(split_with(steps, "a\u180Eb c"), (Pieces{"a\u180Eb", " ", "c"}));
}

TEST(Pretokenizer, ByteLevelAddsPrefixSpaceAndSplitsLikeGpt2) {
  EXPECT_EQ(split_with({ByteLevelStep{/*add_prefix_space=*/true, /*use_regex=*/true}},
                       "Hello world's  42!"),
            (Pieces{" Hello", " world", "'s", " ", " 42", "!"}));
}

TEST(Normalizer, NfcAgreesWithUtf8procOnRandomText) {
  // Random strings from ranges with combining marks, Hangul jamo, Indic vowel signs and
  // composition exclusions: the quick check that skips normalization must never be wrong.
  const Normalizer nfc({UnicodeForm::kNFC});
  const char32_t ranges[][2] = {{0x41, 0x7A},       {0xC0, 0x2FF},      {0x300, 0x36F},
                                {0x900, 0xDFF},     {0x1100, 0x11FF},   {0xAC00, 0xD7A3},
                                {0xF900, 0xFAFF},   {0x1E00, 0x1FFF},   {0x1D150, 0x1D1FF},
                                {0x11000, 0x11FFF}, {0x2F800, 0x2FA1F}, {0x3040, 0x30FF}};
  std::mt19937 rng(7);
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string text;
    for (int i = 0; i < 1 + static_cast<int>(rng() % 5); ++i) {
      const auto& range = ranges[rng() % 12];
      utf8::append_code_point(range[0] + rng() % (range[1] - range[0] + 1), &text);
    }
    utf8proc_uint8_t* expected_raw =
        utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(text.c_str()));
    const std::string expected(reinterpret_cast<const char*>(expected_raw));
    std::free(expected_raw);
    std::string normalized;
    const bool changed = nfc.normalize(text, &normalized);
    EXPECT_EQ(changed ? normalized : text, expected) << "iteration " << iteration;
  }
}

}  // namespace
}  // namespace retort
