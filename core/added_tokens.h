// Added tokens (`<|im_start|>`, `<think>`, `<|eot_id|>`): found in the text before normalization
// and BPE, as HF tokenizers' AddedVocabulary does: leftmost-longest matches, with each token's
// single_word / lstrip / rstrip rules (tokenizer/added_vocabulary.rs, find_matches).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer.h"

namespace retort {

struct AddedToken {
  TokenId id = 0;
  std::string content;       // as written in tokenizer.json
  std::string match_text;    // what is searched for: content, normalized if `normalized`
  bool single_word = false;  // match only where no word character touches either end
  bool lstrip = false;       // the match swallows whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool normalized = true;    // matched in the normalized text (else in the raw text)
  bool special = false;      // decode(skip_special_tokens) leaves it out
};

// A piece of text: an added token's match, or ordinary text between matches.
struct AddedTokenSegment {
  std::string_view text;
  const AddedToken* token;  // nullptr: ordinary text
};

// HF uses a LeftmostLongest Aho-Corasick automaton; trying the longest candidates first at each
// position, left to right, gives the same matches. Candidates are bucketed by first byte, so text
// without '<' (the first byte of every Qwen/Llama added token) costs one table lookup per byte.
class AddedTokenMatcher {
 public:
  // `token` must outlive the matcher.
  void add(const AddedToken* token);

  // Replaces *out with the segments of `text` (one ordinary segment when nothing matches).
  void split(std::string_view text, std::vector<AddedTokenSegment>* out) const;

 private:
  const AddedToken* longest_at(std::string_view text, size_t pos) const;

  std::array<std::vector<const AddedToken*>, 256> by_first_byte_;  // longest first
  bool empty_ = true;
};

}  // namespace retort
