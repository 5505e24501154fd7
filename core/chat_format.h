// Prompt formats: how a prompt, or a conversation, becomes text and then token ids. Chosen by name
// in configuration:
//   r1_zero  the DeepSeek-R1-Zero template, verbatim from the DeepSeek-R1 paper (Table 1);
//   chatml   ChatML as Qwen2/2.5 use it (no default system message is added);
//   qwen3    ChatML with Qwen3's rules for <think> blocks in assistant turns;
//   llama3   the Llama 3 chat format (<|begin_of_text|>, header ids, <|eot_id|>);
//   raw      the prompt text unchanged;
//   any string containing {prompt}: a custom template.
// Rendered text is encoded with the tokenizer, which turns the special tokens written in it into
// their ids: exactly what Hugging Face's apply_chat_template(tokenize=True) does, so the ids equal
// the family's own chat template for plain system/user/assistant turns (tests check this against
// transformers). Deviations from those templates are listed at PromptFormat::render().
#pragma once

#include <string>
#include <vector>

#include "core/tokenizer.h"

namespace retort {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

class PromptFormat {
 public:
  enum class Kind { kR1Zero, kChatML, kQwen3, kLlama3, kCustom };

  // The built-in names above or a custom template; anything else is a retort::Error listing them.
  static PromptFormat from_name(const std::string& name_or_template);

  // The text of a conversation. With add_generation_prompt the text ends where the assistant's
  // next turn begins. Deviations from the families' own templates:
  //   - llama3: the assistant header is added only with add_generation_prompt, as Llama 3.1+'s
  //     template does (Llama 3.0's always adds it); the "Cutting Knowledge Date" system block of
  //     Llama 3.1+ is not added.
  //   - chatml: Qwen2.5's template adds a default system message when there is none; this
  //     format does not (pass one explicitly).
  //   - qwen3: tool calls and tool messages are not supported.
  //   - r1_zero, raw, custom: single-prompt templates. A conversation is [user, assistant]*
  //     (no system message); r1_zero joins turns as "User: {prompt}. Assistant: {answer} User:
  //     ..."; raw/custom allow one user turn, its answer appended verbatim. Every user turn ends
  //     with the assistant's cue, so add_generation_prompt changes nothing for them.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

  // render(), then tokenizer.encode(), after checking that the tokenizer has every special token
  // the format writes (a retort::Error naming the missing ones otherwise).
  std::vector<TokenId> encode(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt) const;

  // The common RL case: one user prompt, ready for the assistant's answer.
  std::string render_prompt(const std::string& prompt) const;
  std::vector<TokenId> encode_prompt(const Tokenizer& tokenizer, const std::string& prompt) const;

  // Special tokens the format writes, each of which must be a single token of the tokenizer.
  std::vector<std::string> special_tokens() const;

  // The token that ends an assistant turn ("<|im_end|>", "<|eot_id|>"), or "" when the format has
  // none (the end-of-text token then ends generation).
  std::string end_of_turn_token() const;

  Kind kind() const { return kind_; }
  const std::string& name() const { return name_; }

 private:
  PromptFormat(Kind kind, std::string name, std::string custom_template = {})
      : kind_(kind), name_(std::move(name)), template_(std::move(custom_template)) {}
  Kind kind_;
  std::string name_;
  std::string template_;  // kCustom only
};

// The R1-Zero template (DeepSeek-R1 paper, Table 1); {prompt} marks the question.
extern const char* const kR1ZeroTemplate;

}  // namespace retort
