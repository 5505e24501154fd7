// Prompt formats. The chat formats reproduce the Jinja chat templates shipped in the models'
// tokenizer_config.json (Qwen3, Llama 3 Instruct) for system/user/assistant turns; the
// golden renderings in tests/fixtures/tokenizers/golden.json come from transformers itself.
#include "core/chat_format.h"

#include "core/error.h"
#include "core/utf8.h"

namespace retort {

// Verbatim from the DeepSeek-R1 paper (arXiv:2501.12948), Table 1, with "prompt" as {prompt}.
const char* const kR1ZeroTemplate =
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer. The reasoning process and answer are enclosed within "
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process "
    "here </think> <answer> answer here </answer>. User: {prompt}. Assistant:";

namespace {

constexpr const char* kPlaceholder = "{prompt}";

// Python's str.strip() with no argument (Jinja's `trim`): White_Space plus U+001C..U+001F.
std::string python_strip(const std::string& text) {
  auto is_space = [](char32_t cp) {
    return utf8::is_white_space(cp) || (cp >= 0x1C && cp <= 0x1F);
  };
  size_t begin = 0, end = text.size();
  size_t length = 0;
  while (begin < end && is_space(utf8::decode_at(text, begin, &length))) begin += length;
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    if (!is_space(utf8::decode_at(text, start, &length))) break;
    end = start;
  }
  return text.substr(begin, end - begin);
}

std::string strip_newlines(const std::string& text, bool left, bool right) {
  size_t begin = 0, end = text.size();
  while (left && begin < end && text[begin] == '\n') ++begin;
  while (right && end > begin && text[end - 1] == '\n') --end;
  return text.substr(begin, end - begin);
}

std::string replace_placeholder(const std::string& templ, const std::string& prompt) {
  std::string text = templ;
  return text.replace(text.find(kPlaceholder), std::string(kPlaceholder).size(), prompt);
}

void check_roles(const std::vector<ChatMessage>& messages, const std::string& format) {
  for (const ChatMessage& m : messages) {
    RETORT_CHECK(m.role == "system" || m.role == "user" || m.role == "assistant", "prompt format ",
                 format, ": unknown role '", m.role, "' (known: system, user, assistant)");
  }
}

// Qwen3's template for one assistant turn. Reasoning is the text between <think> and </think>;
// it is kept only for turns after the last user message (the turn being generated or trained
// on), and earlier turns lose it. The last turn always gets a (possibly empty) think block.
std::string render_qwen3_assistant(const std::string& message, bool after_last_query,
                                   bool is_last) {
  std::string content = message;
  std::string reasoning;
  const size_t close = message.find("</think>");
  if (close != std::string::npos) {
    const size_t last_close = message.rfind("</think>");
    content = strip_newlines(message.substr(last_close + 8), true, false);
    std::string before = strip_newlines(message.substr(0, close), false, true);
    const size_t open = before.rfind("<think>");
    if (open != std::string::npos) before = before.substr(open + 7);
    reasoning = strip_newlines(before, true, false);
  }
  if (after_last_query && (is_last || !reasoning.empty())) {
    return "<|im_start|>assistant\n<think>\n" + strip_newlines(reasoning, true, true) +
           "\n</think>\n\n" + strip_newlines(content, true, false) + "<|im_end|>\n";
  }
  return "<|im_start|>assistant\n" + content + "<|im_end|>\n";
}

}  // namespace

PromptFormat PromptFormat::from_name(const std::string& name) {
  if (name == "r1_zero") return PromptFormat(Kind::kR1Zero, name);
  if (name == "chatml") return PromptFormat(Kind::kChatML, name);
  if (name == "qwen3") return PromptFormat(Kind::kQwen3, name);
  if (name == "llama3") return PromptFormat(Kind::kLlama3, name);
  if (name == "raw") return PromptFormat(Kind::kCustom, name, kPlaceholder);
  const size_t at = name.find(kPlaceholder);
  RETORT_CHECK(at != std::string::npos, "unknown prompt format '", name,
               "' (known: chatml, llama3, qwen3, r1_zero, raw, or a template containing {prompt})");
  RETORT_CHECK(name.find(kPlaceholder, at + 1) == std::string::npos, "prompt template '", name,
               "' contains {prompt} more than once; expected exactly one");
  return PromptFormat(Kind::kCustom, "custom", name);
}

std::string PromptFormat::render(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) const {
  check_roles(messages, name_);
  std::string text;
  switch (kind_) {
    case Kind::kChatML:
      for (const ChatMessage& m : messages) {
        text += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      }
      if (add_generation_prompt) text += "<|im_start|>assistant\n";
      return text;
    case Kind::kQwen3: {
      size_t last_query = messages.empty() ? 0 : messages.size() - 1;
      for (size_t i = messages.size(); i-- > 0;) {
        if (messages[i].role == "user") {
          last_query = i;
          break;
        }
      }
      for (size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage& m = messages[i];
        text += m.role == "assistant"
                    ? render_qwen3_assistant(m.content, i > last_query, i + 1 == messages.size())
                    : "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      }
      if (add_generation_prompt) text += "<|im_start|>assistant\n";
      return text;
    }
    case Kind::kLlama3:
      text = "<|begin_of_text|>";
      for (const ChatMessage& m : messages) {
        text += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + python_strip(m.content) +
                "<|eot_id|>";
      }
      if (add_generation_prompt) text += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      return text;
    case Kind::kR1Zero:
    case Kind::kCustom: {
      // [user, assistant]* with an optional final user turn; each user turn ends with the cue.
      for (size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage& m = messages[i];
        const std::string expected = i % 2 == 0 ? "user" : "assistant";
        RETORT_CHECK(m.role == expected, "prompt format ", name_, ": message ", i, " has role '",
                     m.role, "', expected '", expected,
                     "' (this format takes user and assistant turns in turn, no system message)");
        if (kind_ == Kind::kCustom) {
          RETORT_CHECK(i < 2, "prompt format ", name_, " takes one user turn and its answer, got ",
                       messages.size(), " messages");
          text += m.role == "user" ? replace_placeholder(template_, m.content) : m.content;
        } else if (m.role == "assistant") {
          text += " " + m.content;
        } else {
          text += i == 0 ? replace_placeholder(kR1ZeroTemplate, m.content)
                         : " User: " + m.content + ". Assistant:";
        }
      }
      return text;
    }
  }
  return text;
}

std::vector<TokenId> PromptFormat::encode(const Tokenizer& tokenizer,
                                          const std::vector<ChatMessage>& messages,
                                          bool add_generation_prompt) const {
  std::string missing;
  for (const std::string& token : special_tokens()) {
    const std::optional<TokenId> id = tokenizer.token_to_id(token);
    if (!id || tokenizer.encode(token) != std::vector<TokenId>{*id}) {
      missing += (missing.empty() ? "" : ", ") + token;
    }
  }
  RETORT_CHECK(missing.empty(), "prompt format ", name_, " needs special tokens that the ",
               tokenizer.describe(), " lacks: ", missing,
               "; use the format of the model's family (chatml/qwen3 for Qwen, llama3 for "
               "Llama 3) or r1_zero / raw / a custom template");
  return tokenizer.encode(render(messages, add_generation_prompt));
}

std::string PromptFormat::render_prompt(const std::string& prompt) const {
  return render({{"user", prompt}}, /*add_generation_prompt=*/true);
}

std::vector<TokenId> PromptFormat::encode_prompt(const Tokenizer& tokenizer,
                                                 const std::string& prompt) const {
  return encode(tokenizer, {{"user", prompt}}, /*add_generation_prompt=*/true);
}

std::vector<std::string> PromptFormat::special_tokens() const {
  switch (kind_) {
    case Kind::kChatML:
    case Kind::kQwen3:
      return {"<|im_start|>", "<|im_end|>"};
    case Kind::kLlama3:
      return {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
    case Kind::kR1Zero:
    case Kind::kCustom:
      return {};
  }
  return {};
}

std::string PromptFormat::end_of_turn_token() const {
  switch (kind_) {
    case Kind::kChatML:
    case Kind::kQwen3:
      return "<|im_end|>";
    case Kind::kLlama3:
      return "<|eot_id|>";
    case Kind::kR1Zero:
    case Kind::kCustom:
      return "";
  }
  return "";
}

}  // namespace retort
