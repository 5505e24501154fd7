// Language consistency: target-language share of the chain of thought's words (see language.h).
#include "rewards/language.h"

#include "core/utf8.h"
#include "rewards/tags.h"

namespace retort {
namespace {

enum class Script { kNone, kLatin, kCjk, kOther };

Script script_of(char32_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return Script::kLatin;
  if (c < 0xC0) return Script::kNone;
  if ((c <= 0x24F && c != 0xD7 && c != 0xF7) || (c >= 0x1E00 && c <= 0x1EFF)) return Script::kLatin;
  if ((c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
      (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FA1F)) {
    return Script::kCjk;
  }
  if ((c >= 0x370 && c <= 0x3FF) ||    // Greek
      (c >= 0x400 && c <= 0x58F) ||    // Cyrillic, Armenian
      (c >= 0x590 && c <= 0x6FF) ||    // Hebrew, Arabic
      (c >= 0x900 && c <= 0xE7F) ||    // Indic scripts, Thai
      (c >= 0x1100 && c <= 0x11FF) ||  // Hangul Jamo
      (c >= 0x3040 && c <= 0x30FF) ||  // Hiragana, Katakana
      (c >= 0xAC00 && c <= 0xD7AF)) {  // Hangul syllables
    return Script::kOther;
  }
  return Script::kNone;
}

bool is_known_language(const std::string& language) {
  return language == "en" || language == "zh";
}

}  // namespace

LanguageWordCounts count_language_words(std::string_view text, const std::string& language) {
  std::string valid;
  if (utf8::find_invalid(text) != text.size()) {
    utf8::append_lossy(text, false, &valid);
    text = valid;
  }
  const Script target = language == "zh" ? Script::kCjk : Script::kLatin;
  LanguageWordCounts counts;
  Script previous = Script::kNone;
  for (size_t pos = 0; pos < text.size();) {
    size_t length = 1;
    const Script script = script_of(utf8::decode_at(text, pos, &length));
    pos += length;
    // A CJK character is a word by itself; other scripts count once per run.
    const bool starts_word =
        script != Script::kNone && (script == Script::kCjk || script != previous);
    if (starts_word) {
      ++counts.total;
      if (script == target) ++counts.target;
    }
    previous = script;
  }
  return counts;
}

RewardResult language_consistency_reward(const RewardInput& input, const LanguageOptions& options) {
  std::string language = options.language;
  if (input.metadata.is_object() && input.metadata.contains("language")) {
    const auto& value = input.metadata["language"];
    if (!value.is_string() || !is_known_language(value.get<std::string>())) {
      return RewardResult::unscorable("metadata \"language\" must be \"en\" or \"zh\", got " +
                                      value.dump());
    }
    language = value.get<std::string>();
  }
  const std::string completion = tags::tagged_completion(input);
  const auto think = tags::first_block(completion, tags::kThinkOpen, tags::kThinkClose);
  std::string text(think ? *think : std::string_view(completion));
  for (const auto tag :
       {tags::kThinkOpen, tags::kThinkClose, tags::kAnswerOpen, tags::kAnswerClose}) {
    for (size_t pos = text.find(tag); pos != std::string::npos; pos = text.find(tag, pos)) {
      text.replace(pos, tag.size(), " ");
    }
  }
  const LanguageWordCounts counts = count_language_words(text, language);
  return RewardResult::score(counts.total == 0 ? 1.0
                                               : static_cast<double>(counts.target) / counts.total);
}

RewardFn make_language_consistency_reward(RewardArgs& args) {
  LanguageOptions options;
  args.read("language", &options.language);
  if (!is_known_language(options.language)) {
    args.fail("language", "expected \"en\" or \"zh\", got \"" + options.language + "\"");
  }
  return
      [options](const RewardInput& input) { return language_consistency_reward(input, options); };
}

}  // namespace retort
