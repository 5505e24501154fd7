// Prompt-format tests: the chat formats against the golden renderings that transformers'
// apply_chat_template made from the models' own templates (tests/fixtures/tokenizers/golden.json),
// the R1-Zero template against the paper's text, custom templates and errors.
#include <functional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/chat_format.h"
#include "tests/core/tokenizer_fixtures.h"

namespace retort {
namespace {

using nlohmann::json;
using tokenizer_testing::expect_error_mentions;
using tokenizer_testing::fixture_tokenizer;
using tokenizer_testing::golden;
using tokenizer_testing::ids_of;

std::vector<ChatMessage> messages_of(const json& rendering) {
  std::vector<ChatMessage> messages;
  for (const json& m : rendering.at("messages"))
    messages.push_back({m.at("role"), m.at("content")});
  return messages;
}

// Checks text and ids of every golden rendering of `family` whose name passes `use`;
// `force_generation_prompt` renders with the assistant cue whatever the entry says.
void expect_matches_golden(const std::string& format_name, const std::string& family,
                           const std::function<bool(const std::string&)>& use,
                           bool force_generation_prompt = false) {
  const PromptFormat format = PromptFormat::from_name(format_name);
  const Tokenizer& tok = fixture_tokenizer(family);
  int checked = 0;
  for (const auto& [name, rendering] : golden(family).at("chat").items()) {
    if (!use(name)) continue;
    const bool generation =
        force_generation_prompt || rendering.at("add_generation_prompt").get<bool>();
    EXPECT_EQ(format.render(messages_of(rendering), generation),
              rendering.at("text").get<std::string>())
        << format_name << " / " << name;
    EXPECT_EQ(format.encode(tok, messages_of(rendering), generation), ids_of(rendering.at("ids")))
        << format_name << " / " << name;
    ++checked;
  }
  EXPECT_GE(checked, 4) << "golden.json has too few renderings for " << family;
}

TEST(PromptFormat, Qwen3FormatMatchesEveryQwen3TemplateRendering) {
  expect_matches_golden("qwen3", "qwen3", [](const std::string&) { return true; });
}

TEST(PromptFormat, ChatMLMatchesQwen3TemplateWhenNoAnswerFollowsTheLastQuestion) {
  // Qwen3's template adds "<think>\n\n</think>\n\n" to an assistant turn after the last user
  // turn (the user_assistant entries); plain ChatML does not, and matches everything else.
  expect_matches_golden("chatml", "qwen3", [](const std::string& name) {
    return name.rfind("user_assistant", 0) != 0;
  });
}

TEST(PromptFormat, Llama3FormatMatchesLlama3TemplateRenderings) {
  // Llama 3.0's template always ends with the assistant header, even without
  // add_generation_prompt; our format adds it on request (as Llama 3.1+ does).
  expect_matches_golden(
      "llama3", "llama3", [](const std::string&) { return true; },
      /*force_generation_prompt=*/true);
  const PromptFormat llama3 = PromptFormat::from_name("llama3");
  EXPECT_EQ(llama3.render({{"user", "  Hi\n"}}, /*add_generation_prompt=*/false),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
}

TEST(PromptFormat, R1ZeroTemplateIsVerbatimFromThePaper) {
  const PromptFormat r1 = PromptFormat::from_name("r1_zero");
  const std::string expected =
      "A conversation between User and Assistant. The user asks a question, and the Assistant "
      "solves it. The assistant first thinks about the reasoning process in the mind and then "
      "provides the user with the answer. The reasoning process and answer are enclosed within "
      "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "
      "process here </think> <answer> answer here </answer>. User: What is 7 * 6?. Assistant:";
  EXPECT_EQ(r1.render_prompt("What is 7 * 6?"), expected);
  // Qwen3 ids of the start and end, from its vocabulary: "A" 32, "Ġconversation" 10435, ...,
  // "?." 4607, "ĠAssistant" 21388, ":" 25.
  const std::vector<TokenId> ids = r1.encode_prompt(fixture_tokenizer("qwen3"), "What is 7 * 6?");
  ASSERT_GT(ids.size(), 6u);
  EXPECT_EQ(std::vector<TokenId>(ids.begin(), ids.begin() + 2), (std::vector<TokenId>{32, 10435}));
  EXPECT_EQ(std::vector<TokenId>(ids.end() - 3, ids.end()),
            (std::vector<TokenId>{4607, 21388, 25}));
}

TEST(PromptFormat, R1ZeroRendersATwoTurnConversation) {
  const PromptFormat r1 = PromptFormat::from_name("r1_zero");
  const std::vector<ChatMessage> conversation = {
      {"user", "What is 7 * 6?"},
      {"assistant", "<think> 7 * 6 = 42 </think> <answer> 42 </answer>"},
      {"user", "And 42 / 7?"}};
  const std::string text = r1.render(conversation, /*add_generation_prompt=*/true);
  const std::string tail =
      "User: What is 7 * 6?. Assistant: <think> 7 * 6 = 42 </think> <answer> 42 </answer> "
      "User: And 42 / 7?. Assistant:";
  ASSERT_GE(text.size(), tail.size());
  EXPECT_EQ(text.substr(text.size() - tail.size()), tail);
  const Tokenizer& qwen = fixture_tokenizer("qwen3");
  EXPECT_EQ(r1.encode(qwen, conversation, true), qwen.encode(text));
}

TEST(PromptFormat, Qwen3DropsTheReasoningOfEarlierAnswers) {
  const PromptFormat qwen3 = PromptFormat::from_name("qwen3");
  const std::string text = qwen3.render({{"user", "q1"},
                                         {"assistant", "<think>\nr1\n</think>\n\na1"},
                                         {"user", "q2"},
                                         {"assistant", "<think>\nr2\n</think>\n\na2"}},
                                        /*add_generation_prompt=*/false);
  EXPECT_EQ(text,
            "<|im_start|>user\nq1<|im_end|>\n<|im_start|>assistant\na1<|im_end|>\n"
            "<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n<think>\nr2\n</think>\n\n"
            "a2<|im_end|>\n");
}

TEST(PromptFormat, CustomTemplateAndRawInsertThePrompt) {
  EXPECT_EQ(PromptFormat::from_name("Q: {prompt}\nA:").render_prompt("2+2?"), "Q: 2+2?\nA:");
  EXPECT_EQ(PromptFormat::from_name("raw").render_prompt("2+2?"), "2+2?");
  EXPECT_EQ(PromptFormat::from_name("Q: {prompt}\nA:")
                .render({{"user", "2+2?"}, {"assistant", " 4"}}, false),
            "Q: 2+2?\nA: 4");
}

TEST(PromptFormat, UnknownNamesAndBadConversationsAreErrors) {
  expect_error_mentions([] { PromptFormat::from_name("chatgpt"); },
                        {"'chatgpt'", "chatml", "r1_zero", "{prompt}"});
  expect_error_mentions([] { PromptFormat::from_name("{prompt} {prompt}"); }, {"more than once"});
  expect_error_mentions(
      [] {
        PromptFormat::from_name("chatml").render({{"bot", "x"}}, false);
      },
      {"unknown role 'bot'"});
  expect_error_mentions(
      [] {
        PromptFormat::from_name("r1_zero").render({{"system", "x"}, {"user", "y"}}, true);
      },
      {"role 'system'", "no system message"});
}

TEST(PromptFormat, ChatFormatsNeedTheirSpecialTokensInTheTokenizer) {
  const auto bytes = load_tokenizer("byte");
  // The byte tokenizer has the ChatML markers but none of Llama 3's.
  EXPECT_EQ(PromptFormat::from_name("chatml").encode_prompt(*bytes, "hi").front(), 257);
  expect_error_mentions([&] { PromptFormat::from_name("llama3").encode_prompt(*bytes, "hi"); },
                        {"<|begin_of_text|>", "<|eot_id|>", "byte tokenizer"});
  expect_error_mentions(
      [] { PromptFormat::from_name("chatml").encode_prompt(fixture_tokenizer("llama3"), "hi"); },
      {"<|im_start|>", "<|im_end|>"});
}

}  // namespace
}  // namespace retort
