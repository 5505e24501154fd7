// tokenizer.json byte-level BPE: loading, encoding, the merge cache. Behaviour follows HF
// tokenizers 0.23 (read, not copied): tokenizer/mod.rs (the pipeline), models/bpe/{model,word}.rs
// (merges by rank, ignore_merges, the per-pre-token cache), pre_tokenizers/byte_level.rs (the byte
// table and the decoder), processors/template.rs (post-processing). The vocabulary is kept as raw
// bytes, so the ByteLevel byte->character mapping never runs while encoding. Added tokens:
// core/added_tokens.h; normalization and pre-tokenization: core/pretokenizer.h.
#include "core/bpe_tokenizer.h"

#include <array>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/added_tokens.h"
#include "core/error.h"
#include "core/pretokenizer.h"
#include "core/utf8.h"

namespace retort {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxCachedPieceBytes = 256;  // HF caches pre-tokens shorter than 256 bytes
constexpr size_t kCacheFlushEntries = 512;    // new cache entries buffered before a write lock

// GPT-2's byte -> character table (HF bytes_char()): printable Latin-1 bytes stand for
// themselves, the 68 others (controls, space, 0x7F..0xA0, 0xAD) for U+0100.. in byte order.
struct ByteLevelTable {
  std::array<char32_t, 256> char_of_byte{};
  std::array<int16_t, 324> byte_of_char{};  // -1 where the character stands for no byte
  ByteLevelTable() {
    byte_of_char.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      char_of_byte[b] = printable ? static_cast<char32_t>(b) : next++;
      byte_of_char[char_of_byte[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteLevelTable& byte_level_table() {
  static const ByteLevelTable table;
  return table;
}

// A vocabulary spelling ("Ġthe") -> the bytes it stands for (" the"); nullopt when a character
// is outside the byte alphabet (HF's ByteLevel decoder then emits the spelling's own UTF-8).
std::optional<std::string> spelling_to_bytes(std::string_view spelling) {
  const ByteLevelTable& table = byte_level_table();
  std::string bytes;
  for (size_t pos = 0; pos < spelling.size();) {
    size_t length = 0;
    const char32_t cp = utf8::decode_at(spelling, pos, &length);
    if (cp >= table.byte_of_char.size() || table.byte_of_char[cp] < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(table.byte_of_char[cp]));
    pos += length;
  }
  return bytes;
}

// Merged ids per pre-token. Keys are views into keys_, which never moves its strings.
class MergeCache {
 public:
  explicit MergeCache(int64_t capacity) : capacity_(capacity > 0 ? capacity : 0) {}
  bool enabled() const { return capacity_ > 0; }

  // Call under a shared lock of mutex().
  bool lookup(std::string_view piece, std::vector<TokenId>* ids) const {
    const auto it = index_.find(piece);
    if (it == index_.end()) return false;
    ids->insert(ids->end(), ids_.begin() + it->second.first,
                ids_.begin() + it->second.first + it->second.second);
    return true;
  }
  bool full() const { return static_cast<int64_t>(index_.size()) >= capacity_; }

  // Call under an exclusive lock of mutex().
  void insert(std::string_view piece, const TokenId* ids, size_t count) {
    if (full() || index_.count(piece) != 0) return;
    keys_.emplace_back(piece);
    index_.emplace(keys_.back(), std::make_pair(static_cast<uint32_t>(ids_.size()),
                                                static_cast<uint32_t>(count)));
    ids_.insert(ids_.end(), ids, ids + count);
  }

  std::shared_mutex& mutex() const { return mutex_; }

 private:
  int64_t capacity_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> index_;  // -> ids_ slice
  std::deque<std::string> keys_;
  std::vector<TokenId> ids_;
};

struct MergeRule {
  int32_t rank;  // position in the merges list: lower merges first
  TokenId merged;
};

uint64_t pair_key(TokenId left, TokenId right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Token pair -> merge, open addressing with linear probing, at most half full. Pair lookups are
// the hot loop of BPE; this is ~3x faster than std::unordered_map's chained nodes here.
class MergeTable {
 public:
  void reserve(size_t count) {
    bits_ = 4;
    while ((size_t{1} << bits_) < 2 * count) ++bits_;
    slots_.assign(size_t{1} << bits_, Slot{kEmpty, {0, 0}});
  }
  void insert_or_assign(uint64_t key, MergeRule rule) {
    size_t i = home(key);
    while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask();
    slots_[i] = {key, rule};
  }
  const MergeRule* find(uint64_t key) const {
    for (size_t i = home(key);; i = (i + 1) & mask()) {
      if (slots_[i].key == key) return &slots_[i].rule;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // no pair of non-negative ids has this key
  struct Slot {
    uint64_t key;
    MergeRule rule;
  };
  size_t mask() const { return slots_.size() - 1; }
  size_t home(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> (64 - bits_); }
  int bits_ = 4;
  std::vector<Slot> slots_ = std::vector<Slot>(16, Slot{kEmpty, {0, 0}});
};

// One element of the post-processor's "single" template: fixed ids or the encoded sequence.
struct TemplatePiece {
  bool is_sequence = false;
  std::vector<TokenId> ids;
};

}  // namespace

struct BpeTokenizer::State {
  std::string origin;
  // Vocabulary.
  std::vector<std::string> bytes_of_id;  // what decode emits per id
  std::vector<uint8_t> special_of_id;
  std::deque<std::string> key_storage;                          // backs the string_view keys below
  std::unordered_map<std::string_view, TokenId> id_of_bytes;    // raw-byte spelling -> id
  std::unordered_map<std::string, TokenId> id_of_odd_spelling;  // spellings outside the alphabet
  std::array<TokenId, 256> id_of_byte{};  // -1: byte missing from the vocabulary
  MergeTable merges;
  int64_t merge_count = 0;
  bool ignore_merges = false;
  std::optional<TokenId> unk_id;
  bool fuse_unk = false;
  // Pipeline.
  std::deque<AddedToken> added_tokens;
  std::unordered_map<std::string, TokenId> id_of_added_content;
  AddedTokenMatcher raw_matcher;         // normalized == false: matched in the raw text
  AddedTokenMatcher normalized_matcher;  // normalized == true: matched after normalization
  Normalizer normalizer;
  std::unique_ptr<Pretokenizer> pretokenizer;
  std::vector<TemplatePiece> post_template;  // empty: add_special_tokens adds nothing
  std::unique_ptr<MergeCache> cache;

  // Scratch of one encode() call, with the cache entries it computed.
  struct Work {
    std::vector<AddedTokenSegment> raw_segments, normalized_segments;
    std::string normalized;
    PretokenArena arena;
    std::vector<std::string_view> pieces;
    std::shared_lock<std::shared_mutex> cache_lock;
    // Cache entries computed by this call, not inserted yet, stored back to back: entry i is
    // fresh_bytes[fresh_ends[i - 1].first, fresh_ends[i].first) -> fresh_ids[... .second).
    std::string fresh_bytes;
    std::vector<TokenId> fresh_ids;
    std::vector<std::pair<size_t, size_t>> fresh_ends;
  };

  void encode_text(std::string_view text, Work* work, std::vector<TokenId>* ids) const;
  void encode_piece(std::string_view piece, Work* work, std::vector<TokenId>* ids) const;
  void merge(std::string_view piece, std::vector<TokenId>* ids) const;
  void flush_cache(Work* work) const;
};

void BpeTokenizer::State::encode_text(std::string_view text, Work* work,
                                      std::vector<TokenId>* ids) const {
  raw_matcher.split(text, &work->raw_segments);
  for (const AddedTokenSegment& raw : work->raw_segments) {
    if (raw.token != nullptr) {
      ids->push_back(raw.token->id);
      continue;
    }
    std::string_view normalized = raw.text;
    if (normalizer.normalize(raw.text, &work->normalized)) normalized = work->normalized;
    normalized_matcher.split(normalized, &work->normalized_segments);
    for (const AddedTokenSegment& segment : work->normalized_segments) {
      if (segment.token != nullptr) {
        ids->push_back(segment.token->id);
        continue;
      }
      work->pieces.clear();
      work->arena.clear();
      pretokenizer->split(segment.text, &work->arena, &work->pieces);
      for (const std::string_view piece : work->pieces) encode_piece(piece, work, ids);
    }
  }
}

void BpeTokenizer::State::encode_piece(std::string_view piece, Work* work,
                                       std::vector<TokenId>* ids) const {
  if (ignore_merges) {
    const auto it = id_of_bytes.find(piece);
    if (it != id_of_bytes.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  if (!cache->enabled() || piece.size() >= kMaxCachedPieceBytes) {
    merge(piece, ids);
    return;
  }
  if (cache->lookup(piece, ids)) return;
  const size_t first = ids->size();
  merge(piece, ids);
  if (cache->full()) return;
  work->fresh_bytes.append(piece);
  work->fresh_ids.insert(work->fresh_ids.end(), ids->begin() + first, ids->end());
  work->fresh_ends.emplace_back(work->fresh_bytes.size(), work->fresh_ids.size());
  if (work->fresh_ends.size() >= kCacheFlushEntries) flush_cache(work);
}

// Inserts the buffered entries if the write lock is free right now; otherwise drops them (a later
// call computes them again). Never waiting keeps encoding threads from stalling one another.
void BpeTokenizer::State::flush_cache(Work* work) const {
  const bool was_reading = work->cache_lock.owns_lock();
  if (was_reading) work->cache_lock.unlock();
  std::unique_lock<std::shared_mutex> write_lock(cache->mutex(), std::try_to_lock);
  if (write_lock.owns_lock()) {
    std::pair<size_t, size_t> begin{0, 0};
    for (const auto& end : work->fresh_ends) {
      cache->insert(
          std::string_view(work->fresh_bytes).substr(begin.first, end.first - begin.first),
          work->fresh_ids.data() + begin.second, end.second - begin.second);
      begin = end;
    }
    write_lock.unlock();
  }
  work->fresh_bytes.clear();
  work->fresh_ids.clear();
  work->fresh_ends.clear();
  if (was_reading) work->cache_lock.lock();
}

// Word::merge_all: repeatedly merge the adjacent pair with the lowest rank (leftmost first on
// ties), using a min-heap of candidate pairs; entries made stale by earlier merges are skipped.
void BpeTokenizer::State::merge(std::string_view piece, std::vector<TokenId>* ids) const {
  struct Symbol {
    TokenId id;
    int32_t prev, next;  // neighbours still alive, -1 at the ends
    bool merged_away;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  for (const char c : piece) {
    TokenId id = id_of_byte[static_cast<unsigned char>(c)];
    if (id < 0) {
      // A byte missing from the vocabulary: the unknown token (fused with a preceding one if
      // fuse_unk), or dropped when there is none, as HF does.
      if (!unk_id) continue;
      if (fuse_unk && !symbols.empty() && symbols.back().id == *unk_id) continue;
      id = *unk_id;
    }
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, -1, false});
    if (index > 0) symbols[index - 1].next = index;
  }
  if (symbols.empty()) return;

  struct Candidate {
    int32_t rank, pos;
    TokenId merged;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto push_pair = [&](int32_t pos) {
    const int32_t next = symbols[pos].next;
    if (next < 0) return;
    if (const MergeRule* rule = merges.find(pair_key(symbols[pos].id, symbols[next].id))) {
      queue.push({rule->rank, pos, rule->merged});
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) push_pair(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.merged_away || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const MergeRule* rule = merges.find(pair_key(left.id, right.id));
    if (rule == nullptr || rule->merged != top.merged) continue;  // stale entry
    left.id = top.merged;
    right.merged_away = true;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0) push_pair(left.prev);
    push_pair(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) ids->push_back(symbols[i].id);
}

// ---------------------------------------------------------------------------------------------
// Loading tokenizer.json

namespace {

std::string type_of(const json& component) {
  return component.is_object() && component.contains("type") && component["type"].is_string()
             ? component["type"].get<std::string>()
             : "(no type)";
}

std::vector<UnicodeForm> parse_normalizer(const json& normalizer, const std::string& origin) {
  if (normalizer.is_null()) return {};
  const std::string type = type_of(normalizer);
  if (type == "Sequence") {
    std::vector<UnicodeForm> forms;
    for (const json& child : normalizer.at("normalizers")) {
      const auto child_forms = parse_normalizer(child, origin);
      forms.insert(forms.end(), child_forms.begin(), child_forms.end());
    }
    return forms;
  }
  if (type == "NFC") return {UnicodeForm::kNFC};
  if (type == "NFD") return {UnicodeForm::kNFD};
  if (type == "NFKC") return {UnicodeForm::kNFKC};
  if (type == "NFKD") return {UnicodeForm::kNFKD};
  fail("tokenizer: ", origin, ": normalizer '", type,
       "' is not supported (supported: NFC, NFD, NFKC, NFKD, a Sequence of them, or null)");
}

void parse_pretokenizer(const json& pre, const std::string& origin,
                        std::vector<PretokenizerStep>* steps) {
  const std::string type = type_of(pre);
  if (type == "Sequence") {
    for (const json& child : pre.at("pretokenizers")) parse_pretokenizer(child, origin, steps);
  } else if (type == "ByteLevel") {
    steps->push_back(
        ByteLevelStep{pre.value("add_prefix_space", false), pre.value("use_regex", true)});
  } else if (type == "Split") {
    SplitStep split;
    const json& pattern = pre.at("pattern");
    split.is_regex = pattern.contains("Regex");
    split.pattern = pattern.at(split.is_regex ? "Regex" : "String").get<std::string>();
    const std::string behavior = pre.at("behavior").get<std::string>();
    const std::pair<const char*, SplitBehavior> kBehaviors[] = {
        {"Isolated", SplitBehavior::kIsolated},
        {"Removed", SplitBehavior::kRemoved},
        {"MergedWithPrevious", SplitBehavior::kMergedWithPrevious},
        {"MergedWithNext", SplitBehavior::kMergedWithNext},
        {"Contiguous", SplitBehavior::kContiguous}};
    bool known = false;
    for (const auto& [name, value] : kBehaviors) {
      if (behavior == name) {
        split.behavior = value;
        known = true;
      }
    }
    RETORT_CHECK(known, "tokenizer: ", origin, ": Split behavior '", behavior,
                 "' is unknown (known: Isolated, Removed, MergedWithPrevious, MergedWithNext, "
                 "Contiguous)");
    split.invert = pre.value("invert", false);
    steps->push_back(split);
  } else {
    fail("tokenizer: ", origin, ": pre-tokenizer '", type,
         "' is not supported (supported: Split, ByteLevel, a Sequence of them; byte-level BPE "
         "needs ByteLevel last)");
  }
}

std::vector<TemplatePiece> parse_post_processor(
    const json& post, const std::string& origin,
    const std::unordered_map<std::string, TokenId>& ids) {
  if (post.is_null()) return {};
  const std::string type = type_of(post);
  if (type == "ByteLevel") return {};  // only trims offsets
  if (type == "Sequence") {
    std::vector<TemplatePiece> result;
    for (const json& child : post.at("processors")) {
      auto pieces = parse_post_processor(child, origin, ids);
      if (pieces.empty()) continue;
      RETORT_CHECK(result.empty(), "tokenizer: ", origin,
                   ": more than one TemplateProcessing post-processor is not supported");
      result = std::move(pieces);
    }
    return result;
  }
  RETORT_CHECK(type == "TemplateProcessing", "tokenizer: ", origin, ": post-processor '", type,
               "' is not supported (supported: TemplateProcessing, ByteLevel, a Sequence of them, "
               "or null)");
  std::vector<TemplatePiece> result;
  for (const json& item : post.at("single")) {
    TemplatePiece piece;
    if (item.contains("Sequence")) {
      piece.is_sequence = true;
    } else {
      const std::string name = item.at("SpecialToken").at("id").get<std::string>();
      const json& special = post.at("special_tokens");
      if (special.contains(name)) {
        piece.ids = special.at(name).at("ids").get<std::vector<TokenId>>();
      } else {
        const auto it = ids.find(name);
        RETORT_CHECK(it != ids.end(), "tokenizer: ", origin, ": post-processor token '", name,
                     "' is not in the vocabulary");
        piece.ids = {it->second};
      }
    }
    result.push_back(std::move(piece));
  }
  return result;
}

void check_model(const json& model, const std::string& origin) {
  const std::string type = model.contains("type") ? type_of(model) : "BPE";
  RETORT_CHECK(type == "BPE", "tokenizer: ", origin, ": model type '", type,
               "' is not supported (supported: BPE with a ByteLevel pre-tokenizer and decoder, as "
               "Qwen2/2.5/3 and Llama 3 use)");
  auto is_empty_string = [&](const char* key) {
    return !model.contains(key) || model[key].is_null() || model[key] == "";
  };
  RETORT_CHECK(
      is_empty_string("continuing_subword_prefix") && is_empty_string("end_of_word_suffix"),
      "tokenizer: ", origin,
      ": BPE continuing_subword_prefix / end_of_word_suffix are not supported");
  RETORT_CHECK(!model.value("byte_fallback", false), "tokenizer: ", origin,
               ": BPE byte_fallback (SentencePiece-style vocabularies) is not supported");
  const json dropout = model.value("dropout", json());
  RETORT_CHECK(dropout.is_null() || dropout.get<double>() == 0.0, "tokenizer: ", origin,
               ": BPE dropout is not supported (it makes encoding random)");
}

}  // namespace

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_file(const std::string& path,
                                                      const BpeOptions& options) {
  std::ifstream file(path, std::ios::binary);
  RETORT_CHECK(file.good(), "tokenizer: cannot open '", path, "': ", std::strerror(errno));
  std::ostringstream contents;
  contents << file.rdbuf();
  return from_json_text(contents.str(), path, options);
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_json_text(const std::string& json_text,
                                                           const std::string& origin,
                                                           const BpeOptions& options) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& e) {
    fail("tokenizer: ", origin, " is not valid JSON: ", e.what());
  }
  RETORT_CHECK(root.is_object() && root.contains("model"), "tokenizer: ", origin,
               " is not a Hugging Face tokenizer.json (no \"model\" object)");
  auto state = std::make_unique<State>();
  State& s = *state;
  s.origin = origin;
  try {
    const json& model = root.at("model");
    check_model(model, origin);
    const std::string decoder = type_of(root.value("decoder", json()));
    RETORT_CHECK(decoder == "ByteLevel", "tokenizer: ", origin, ": decoder '", decoder,
                 "' is not supported (supported: ByteLevel)");

    // Vocabulary: model tokens, then added tokens (an added token wins an id both have).
    std::unordered_map<std::string, TokenId> id_of_spelling;
    TokenId max_id = -1;
    for (const auto& [spelling, id_json] : model.at("vocab").items()) {
      const auto id = id_json.get<TokenId>();
      RETORT_CHECK(id >= 0, "tokenizer: ", origin, ": negative id ", id, " for '", spelling, "'");
      id_of_spelling.emplace(spelling, id);
      max_id = std::max(max_id, id);
    }
    const json added_json = root.value("added_tokens", json::array());
    for (const json& t : added_json) max_id = std::max(max_id, t.at("id").get<TokenId>());
    s.bytes_of_id.resize(static_cast<size_t>(max_id) + 1);
    s.special_of_id.assign(static_cast<size_t>(max_id) + 1, 0);
    s.id_of_byte.fill(-1);
    for (const auto& [spelling, id] : id_of_spelling) {
      if (auto bytes = spelling_to_bytes(spelling)) {
        s.key_storage.push_back(*bytes);
        s.id_of_bytes.emplace(s.key_storage.back(), id);
        if (bytes->size() == 1) s.id_of_byte[static_cast<unsigned char>((*bytes)[0])] = id;
        s.bytes_of_id[id] = std::move(*bytes);
      } else {
        s.id_of_odd_spelling.emplace(spelling, id);
        s.bytes_of_id[id] = spelling;
      }
    }

    // Merges: "a b" strings (older files) or ["a", "b"] pairs; rank = position in the list.
    s.merges.reserve(model.at("merges").size());
    for (const json& merge : model.at("merges")) {
      std::string left, right;
      if (merge.is_string()) {
        const std::string line = merge.get<std::string>();
        const size_t space = line.find(' ');
        RETORT_CHECK(space != std::string::npos && line.find(' ', space + 1) == std::string::npos,
                     "tokenizer: ", origin, ": merge '", line, "' is not two tokens");
        left = line.substr(0, space);
        right = line.substr(space + 1);
      } else {
        left = merge.at(0).get<std::string>();
        right = merge.at(1).get<std::string>();
      }
      const auto l = id_of_spelling.find(left), r = id_of_spelling.find(right),
                 m = id_of_spelling.find(left + right);
      RETORT_CHECK(
          l != id_of_spelling.end() && r != id_of_spelling.end() && m != id_of_spelling.end(),
          "tokenizer: ", origin, ": merge '", left, " ", right,
          "' uses a token that is not in the vocabulary");
      s.merges.insert_or_assign(pair_key(l->second, r->second),
                                MergeRule{static_cast<int32_t>(s.merge_count++), m->second});
    }
    s.ignore_merges = model.value("ignore_merges", false);
    s.fuse_unk = model.value("fuse_unk", false);
    const json unk = model.value("unk_token", json());
    if (!unk.is_null()) {
      const auto it = id_of_spelling.find(unk.get<std::string>());
      RETORT_CHECK(it != id_of_spelling.end(), "tokenizer: ", origin, ": unk_token '",
                   unk.get<std::string>(), "' is not in the vocabulary");
      s.unk_id = it->second;
    }

    s.normalizer = Normalizer(parse_normalizer(root.value("normalizer", json()), origin));
    std::vector<PretokenizerStep> steps;
    parse_pretokenizer(root.value("pre_tokenizer", json()), origin, &steps);
    RETORT_CHECK(!steps.empty() && std::holds_alternative<ByteLevelStep>(steps.back()),
                 "tokenizer: ", origin,
                 ": byte-level BPE needs a ByteLevel pre-tokenizer as the last step");
    s.pretokenizer = std::make_unique<Pretokenizer>(steps);

    for (const json& t : added_json) {
      AddedToken token;
      token.id = t.at("id").get<TokenId>();
      token.content = t.at("content").get<std::string>();
      token.single_word = t.value("single_word", false);
      token.lstrip = t.value("lstrip", false);
      token.rstrip = t.value("rstrip", false);
      token.normalized = t.value("normalized", true);
      token.special = t.value("special", false);
      RETORT_CHECK(!token.content.empty(), "tokenizer: ", origin, ": added token ", token.id,
                   " has empty content");
      RETORT_CHECK(utf8::find_invalid(token.content) == token.content.size(), "tokenizer: ", origin,
                   ": added token ", token.id, " is not valid UTF-8");
      token.match_text = token.content;
      std::string normalized;
      if (token.normalized && s.normalizer.normalize(token.content, &normalized)) {
        token.match_text = normalized;
      }
      // HF's ByteLevel decoder maps an added token's text like any token's spelling.
      s.bytes_of_id[token.id] = spelling_to_bytes(token.content).value_or(token.content);
      s.special_of_id[token.id] = token.special;
      s.id_of_added_content[token.content] = token.id;
      s.added_tokens.push_back(std::move(token));
      const AddedToken* stored = &s.added_tokens.back();
      (stored->normalized ? s.normalized_matcher : s.raw_matcher).add(stored);
    }
    s.post_template =
        parse_post_processor(root.value("post_processor", json()), origin, id_of_spelling);
  } catch (const json::exception& e) {
    fail("tokenizer: ", origin, ": unexpected tokenizer.json structure: ", e.what());
  }
  s.cache = std::make_unique<MergeCache>(options.merge_cache_entries);
  return std::unique_ptr<BpeTokenizer>(new BpeTokenizer(std::move(state)));
}

BpeTokenizer::BpeTokenizer(std::unique_ptr<State> state) : state_(std::move(state)) {}
BpeTokenizer::~BpeTokenizer() = default;

std::vector<TokenId> BpeTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const State& s = *state_;
  const size_t invalid_at = utf8::find_invalid(text);
  RETORT_CHECK(invalid_at == text.size(), "tokenizer: the text is not valid UTF-8 (byte ",
               static_cast<int>(static_cast<unsigned char>(text[invalid_at])), " at offset ",
               invalid_at, " of ", text.size(), "); convert it to UTF-8 first");
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 4);
  State::Work work;
  if (s.cache->enabled()) {
    work.cache_lock = std::shared_lock<std::shared_mutex>(s.cache->mutex());
  }
  s.encode_text(text, &work, &ids);
  if (work.cache_lock.owns_lock()) work.cache_lock.unlock();
  if (!work.fresh_ends.empty()) s.flush_cache(&work);
  if (!add_special_tokens || s.post_template.empty()) return ids;
  std::vector<TokenId> with_special;
  for (const TemplatePiece& piece : s.post_template) {
    const auto& source = piece.is_sequence ? ids : piece.ids;
    with_special.insert(with_special.end(), source.begin(), source.end());
  }
  return with_special;
}

const std::string& BpeTokenizer::token_bytes(TokenId id) const {
  static const std::string kUnknown;
  if (id < 0 || id >= static_cast<TokenId>(state_->bytes_of_id.size())) return kUnknown;
  return state_->bytes_of_id[id];
}

bool BpeTokenizer::is_special(TokenId id) const {
  return id >= 0 && id < static_cast<TokenId>(state_->special_of_id.size()) &&
         state_->special_of_id[id] != 0;
}

std::optional<TokenId> BpeTokenizer::token_to_id(std::string_view token) const {
  const State& s = *state_;
  if (utf8::find_invalid(token) != token.size()) return std::nullopt;  // no spelling is invalid
  if (const auto it = s.id_of_added_content.find(std::string(token));
      it != s.id_of_added_content.end()) {
    return it->second;
  }
  if (const auto bytes = spelling_to_bytes(token)) {
    if (const auto it = s.id_of_bytes.find(*bytes); it != s.id_of_bytes.end()) return it->second;
  }
  if (const auto it = s.id_of_odd_spelling.find(std::string(token));
      it != s.id_of_odd_spelling.end()) {
    return it->second;
  }
  return std::nullopt;
}

int64_t BpeTokenizer::vocab_size() const {
  return static_cast<int64_t>(state_->bytes_of_id.size());
}

std::string BpeTokenizer::describe() const {
  std::ostringstream out;
  out << "byte-level BPE from " << state_->origin << " (" << vocab_size() << " ids, "
      << state_->merge_count << " merges, " << state_->added_tokens.size() << " added tokens)";
  return out.str();
}

}  // namespace retort
