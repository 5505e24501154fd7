// Tokenizer tests: parity with Hugging Face tokenizers on the real Qwen3 and Llama 3
// tokenizer.json files (golden ids from tools/golden/make_tokenizer_golden.py), hand-checked ids,
// synthetic tokenizer.json files for single behaviours, errors, streaming decode, the byte
// tokenizer, and inputs that must not hang.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/bpe_tokenizer.h"
#include "core/byte_tokenizer.h"
#include "core/tokenizer.h"
#include "core/utf8.h"
#include "tests/core/tokenizer_fixtures.h"

namespace retort {
namespace {

using nlohmann::json;
using tokenizer_testing::expect_error_mentions;
using tokenizer_testing::fixture_tokenizer;
using tokenizer_testing::golden;
using tokenizer_testing::ids_of;

// A minimal byte-level BPE tokenizer.json: vocabulary a b c ab bc abc, one merge "b c".
json tiny_tokenizer(bool ignore_merges, const std::string& split_regex = "") {
  json pre = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  if (!split_regex.empty()) {
    json split = {{"type", "Split"},
                  {"pattern", {{"Regex", split_regex}}},
                  {"behavior", "Isolated"},
                  {"invert", false}};
    pre = {{"type", "Sequence"},
           {"pretokenizers",
            {split, {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  }
  return {{"model",
           {{"type", "BPE"},
            {"vocab", {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}}},
            {"merges", json::array({"b c"})},
            {"ignore_merges", ignore_merges}}},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre},
          {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}}},
          {"added_tokens", json::array()}};
}

std::unique_ptr<BpeTokenizer> from_json(const json& j) {
  return BpeTokenizer::from_json_text(j.dump(), "test tokenizer.json");
}

void expect_golden_parity(const std::string& family) {
  const Tokenizer& tok = fixture_tokenizer(family);
  const json& cases = golden(family).at("cases");
  ASSERT_GE(cases.size(), 40u);
  for (const json& c : cases) {
    const std::string text = c.at("text");
    const std::vector<TokenId> want = ids_of(c.at("ids"));
    EXPECT_EQ(tok.encode(text), want) << family << " text: " << json(text).dump();
    EXPECT_EQ(tok.encode(text, /*add_special_tokens=*/true), ids_of(c.at("ids_with_special")))
        << family << " text: " << json(text).dump();
    EXPECT_EQ(tok.decode(want), c.at("decoded").get<std::string>())
        << family << " text: " << json(text).dump();
  }
}

TEST(BpeTokenizer, MatchesHuggingFaceOnEveryGoldenQwen3Text) {
  expect_golden_parity("qwen3");
}

TEST(BpeTokenizer, MatchesHuggingFaceOnEveryGoldenLlama3Text) {
  expect_golden_parity("llama3");
}

TEST(BpeTokenizer, GivesHandCheckedIdsForPlainWords) {
  // From the vocabularies: Qwen3 "Hello" = 9707, "Ġworld" = 1879; Llama 3 9906 and 1917.
  EXPECT_EQ(fixture_tokenizer("qwen3").encode("Hello world"), (std::vector<TokenId>{9707, 1879}));
  EXPECT_EQ(fixture_tokenizer("llama3").encode("Hello world"), (std::vector<TokenId>{9906, 1917}));
  EXPECT_EQ(fixture_tokenizer("qwen3").token_to_id("Ġworld"), 1879);
  EXPECT_EQ(fixture_tokenizer("qwen3").token_to_id("no-such-token-xyz"), std::nullopt);
  EXPECT_EQ(fixture_tokenizer("qwen3").token_to_id("\xF0"), std::nullopt);  // not UTF-8
}

TEST(BpeTokenizer, MatchesSpecialTokensWrittenInText) {
  const Tokenizer& qwen = fixture_tokenizer("qwen3");
  // added_tokens: <|im_start|> 151644, <|im_end|> 151645, <think> 151667, </think> 151668.
  EXPECT_EQ(qwen.encode("<|im_start|><think></think><|im_end|>"),
            (std::vector<TokenId>{151644, 151667, 151668, 151645}));
  EXPECT_TRUE(qwen.is_special(151644));
  EXPECT_FALSE(qwen.is_special(151667));  // <think> is an added token, not a special one
  EXPECT_EQ(qwen.decode({9707, 151645, 1879}, /*skip_special_tokens=*/true), "Hello world");
  EXPECT_EQ(fixture_tokenizer("llama3").encode("<|eot_id|>"), (std::vector<TokenId>{128009}));
}

TEST(BpeTokenizer, Qwen3NormalizesToNfcAndLlama3DoesNot) {
  const std::string decomposed = "Cafe\u0301", composed = "Caf\u00e9";
  EXPECT_EQ(fixture_tokenizer("qwen3").encode(decomposed),
            fixture_tokenizer("qwen3").encode(composed));
  EXPECT_NE(fixture_tokenizer("llama3").encode(decomposed),
            fixture_tokenizer("llama3").encode(composed));
}

TEST(BpeTokenizer, IgnoreMergesEmitsAVocabularyPieceWhole) {
  // "abc" with the single merge "b c" becomes a + bc = [0, 4]; with ignore_merges (Llama 3) the
  // pre-token is itself in the vocabulary and comes out whole as abc = 5.
  EXPECT_EQ(from_json(tiny_tokenizer(false))->encode("abc"), (std::vector<TokenId>{0, 4}));
  EXPECT_EQ(from_json(tiny_tokenizer(true))->encode("abc"), (std::vector<TokenId>{5}));
}

TEST(BpeTokenizer, AddedTokensFollowLstripRstripAndSingleWord) {
  // Vocabulary a=0 b=1 c=2 ab=3 bc=4 abc=5, plus "Ġ" (the space byte) = 7.
  json j = tiny_tokenizer(false);
  j["model"]["vocab"]["\u0120"] = 7;
  j["added_tokens"] = {{{"id", 6},
                        {"content", "<m>"},
                        {"special", true},
                        {"normalized", false},
                        {"lstrip", true},
                        {"rstrip", true},
                        {"single_word", false}},
                       {{"id", 8},
                        {"content", "ab"},
                        {"special", false},
                        {"normalized", false},
                        {"lstrip", false},
                        {"rstrip", false},
                        {"single_word", true}}};
  const auto tok = from_json(j);
  EXPECT_EQ(tok->encode("c  <m>  c"), (std::vector<TokenId>{2, 6, 2}));  // spaces go to <m>
  EXPECT_EQ(tok->encode("ab c"), (std::vector<TokenId>{8, 7, 2}));       // "ab" alone: added
  EXPECT_EQ(tok->encode("abc"), (std::vector<TokenId>{0, 4}));           // inside a word: BPE
  EXPECT_EQ(tok->decode({2, 6, 2}), "c<m>c");
}

TEST(BpeTokenizer, TemplatePostProcessorAddsTokensOnRequest) {
  // As Llama 3.1's tokenizer.json: Sequence[ByteLevel, TemplateProcessing "<s> $A"].
  json j = tiny_tokenizer(false);
  j["added_tokens"] = {{{"id", 6}, {"content", "<s>"}, {"special", true}, {"normalized", false}}};
  const json bos = {{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}};
  const json sequence = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
  j["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       {{{"type", "ByteLevel"}},
        {{"type", "TemplateProcessing"},
         {"single", {bos, sequence}},
         {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {6}}, {"tokens", {"<s>"}}}}}}}}}};
  const auto tok = from_json(j);
  EXPECT_EQ(tok->encode("abc", /*add_special_tokens=*/true), (std::vector<TokenId>{6, 0, 4}));
  EXPECT_EQ(tok->encode("abc"), (std::vector<TokenId>{0, 4}));
}

TEST(BpeTokenizer, CacheDoesNotChangeIds) {
  const std::string path = tokenizer_testing::tokenizer_dir("qwen3") + "/tokenizer.json";
  const auto uncached = BpeTokenizer::from_file(path, BpeOptions{/*merge_cache_entries=*/0});
  const Tokenizer& cached = fixture_tokenizer("qwen3");
  for (const json& c : golden("qwen3").at("cases")) {
    const std::string text = c.at("text");
    EXPECT_EQ(uncached->encode(text), cached.encode(text)) << json(text).dump();
    EXPECT_EQ(cached.encode(text), cached.encode(text)) << "second call, from the cache";
  }
}

TEST(BpeTokenizer, EncodesConsistentlyFromManyThreads) {
  const Tokenizer& tok = fixture_tokenizer("llama3");
  const json& cases = golden("llama3").at("cases");
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (const json& c : cases)
          mismatches[t] += tok.encode(c.at("text").get<std::string>()) != ids_of(c.at("ids"));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(BpeTokenizer, RejectsInvalidUtf8WithTheOffset) {
  expect_error_mentions([] { fixture_tokenizer("qwen3").encode("ok \xff bad"); },
                        {"not valid UTF-8", "offset 3"});
}

TEST(BpeTokenizer, DecodeReplacesABrokenCharacterLikeHuggingFace) {
  // Qwen3's token 172 is the single byte 0xF0 ('ð' in the byte alphabet): the start of a 4-byte
  // character with nothing after it, which decodes to one U+FFFD.
  const Tokenizer& qwen = fixture_tokenizer("qwen3");
  EXPECT_EQ(qwen.token_bytes(172), "\xF0");
  EXPECT_EQ(qwen.decode({9707, 172, 1879}), "Hello\uFFFD world");
}

TEST(StreamDecoder, HoldsBackAnEmojiSplitAcrossTokens) {
  const Tokenizer& qwen = fixture_tokenizer("qwen3");
  const std::vector<TokenId> ids =
      qwen.encode("emoji: 😀 👍🏽 👨‍👩‍👧‍👦 done");
  StreamDecoder stream(qwen);
  std::string text;
  int empty_steps = 0;
  for (const TokenId id : ids) {
    const std::string chunk = stream.step(id);
    EXPECT_EQ(utf8::find_invalid(chunk), chunk.size()) << "chunk is not valid UTF-8";
    empty_steps += chunk.empty();
    text += chunk;
  }
  text += stream.finish();
  EXPECT_EQ(text, qwen.decode(ids));
  EXPECT_GT(empty_steps, 0) << "expected some token to end inside an emoji";
}

TEST(StreamDecoder, EmitsACharacterWhenItsLastByteArrives) {
  // The byte tokenizer splits 😀 (F0 9F 98 80) into four ids.
  ByteTokenizer bytes;
  StreamDecoder stream(bytes);
  EXPECT_EQ(stream.step(0xF0), "");
  EXPECT_EQ(stream.step(0x9F), "");
  EXPECT_EQ(stream.step(0x98), "");
  EXPECT_EQ(stream.step(0x80), "😀");
  EXPECT_EQ(stream.step(0xF0), "");
  EXPECT_EQ(stream.finish(), "\uFFFD");  // a character cut short by the end of the stream
}

TEST(ByteTokenizer, EncodesBytesAndItsSpecialTokens) {
  const auto tok = load_tokenizer("byte");
  EXPECT_EQ(tok->vocab_size(), 259);
  EXPECT_EQ(tok->encode("a\xff<|im_end|><|im"),
            (std::vector<TokenId>{'a', 0xFF, 258, '<', '|', 'i', 'm'}));
  EXPECT_EQ(tok->token_to_id("<|endoftext|>"), 256);
  EXPECT_TRUE(tok->is_special(257));
  EXPECT_EQ(tok->decode(tok->encode("héllo <|im_start|>")), "héllo <|im_start|>");
  EXPECT_EQ(tok->decode(tok->encode("a<|im_end|>b"), /*skip_special_tokens=*/true), "ab");
}

TEST(TokenizerErrors, MissingFileListsTheAcceptedForms) {
  expect_error_mentions([] { load_tokenizer("/no/such/tokenizer.json"); },
                        {"/no/such/tokenizer.json", "checkpoint directory", "\"byte\""});
  expect_error_mentions([] { load_tokenizer(std::string(RETORT_FIXTURES_DIR)); },
                        {"no tokenizer.json in directory"});
}

TEST(TokenizerErrors, BadJsonNamesTheFile) {
  expect_error_mentions([] { BpeTokenizer::from_json_text("{\"model\": [1, 2", "my.json"); },
                        {"my.json", "not valid JSON"});
}

TEST(TokenizerErrors, UnsupportedComponentsListWhatIsSupported) {
  json word_piece = tiny_tokenizer(false);
  word_piece["model"]["type"] = "WordPiece";
  expect_error_mentions([&] { from_json(word_piece); }, {"'WordPiece'", "supported: BPE"});
  json lowercase = tiny_tokenizer(false);
  lowercase["normalizer"] = {{"type", "Lowercase"}};
  expect_error_mentions([&] { from_json(lowercase); }, {"'Lowercase'", "supported: NFC"});
  json metaspace = tiny_tokenizer(false);
  metaspace["decoder"] = {{"type", "Metaspace"}};
  expect_error_mentions([&] { from_json(metaspace); }, {"'Metaspace'", "supported: ByteLevel"});
}

TEST(TokenizerLimits, CatastrophicRegexFailsFastInsteadOfHanging) {
  // (a+)+$ backtracks exponentially on "aaa...ab"; the match limit turns that into an error.
  const auto tok = from_json(tiny_tokenizer(false, "(a+)+$"));
  const auto start = std::chrono::steady_clock::now();
  expect_error_mentions([&] { tok->encode(std::string(40, 'a') + "b"); }, {"(a+)+$", "backtracks"});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
}

TEST(TokenizerLimits, PathologicalInputsEncodeQuickly) {
  // Long runs that stress the Qwen/Llama regexes (whitespace lookahead, one giant letter run that
  // is a single pre-token for BPE, digits, punctuation, combining marks).
  const std::vector<std::string> inputs = {
      std::string(1 << 20, ' ') + "x", std::string(1 << 19, '\n') + " \r\n",
      std::string(200000, 'a'),        std::string(300000, '7'),
      std::string(300000, '\''),       " \t" + std::string(200000, '!') + "\n\n",
  };
  std::string marks;
  for (int i = 0; i < 50000; ++i) marks += "e\u0301\u0302";
  const auto start = std::chrono::steady_clock::now();
  for (const char* family : {"qwen3", "llama3"}) {
    const Tokenizer& tok = fixture_tokenizer(family);
    for (const std::string& input : inputs) EXPECT_EQ(tok.decode(tok.encode(input)), input);
    EXPECT_FALSE(tok.encode(marks).empty());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 30.0) << "about 1 s expected in a Release build";
}

}  // namespace
}  // namespace retort
