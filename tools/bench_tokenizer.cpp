// Tokenizer throughput: encodes a large text (generated multilingual text, or a file) with the
// BPE tokenizer with and without the per-pre-token merge cache, on one thread, and prints MB/s of
// each and their ratio. The text is cut into documents of --doc-kb KiB, as a data loader would.
//   bench_tokenizer PATH [--mb 32] [--doc-kb 8] [--file corpus.txt] [--dump text.txt]
// PATH: tokenizer.json or a checkpoint directory. The generated text mixes English prose with
// contractions and numbers, code, LaTeX and CJK/Korean/Japanese runs from a seeded generator;
// --dump writes it out, so that other tokenizers (e.g. HF tokenizers) can be timed on the same.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/bpe_tokenizer.h"
#include "core/utf8.h"

namespace {

using retort::BpeTokenizer;
using retort::TokenId;

std::string generate_text(size_t target_bytes) {
  static const std::vector<std::string> kWords = {
      "the",     "of",        "and",       "to",       "a",        "in",         "is",
      "it",      "you",       "that",      "he",       "was",      "for",        "on",
      "are",     "with",      "as",        "I",        "his",      "they",       "be",
      "at",      "one",       "have",      "this",     "from",     "or",         "had",
      "by",      "word",      "but",       "what",     "some",     "we",         "can",
      "out",     "other",     "were",      "all",      "there",    "when",       "up",
      "use",     "your",      "how",       "said",     "an",       "each",       "she",
      "which",   "do",        "their",     "time",     "if",       "will",       "way",
      "about",   "many",      "then",      "them",     "write",    "would",      "like",
      "so",      "these",     "her",       "long",     "make",     "thing",      "see",
      "him",     "two",       "has",       "look",     "more",     "day",        "could",
      "go",      "come",      "did",       "number",   "sound",    "no",         "most",
      "people",  "my",        "over",      "know",     "water",    "than",       "call",
      "first",   "who",       "may",       "down",     "side",     "been",       "now",
      "find",    "Wait",      "let's",     "re-check", "don't",    "can't",      "it's",
      "we'll",   "THEREFORE", "reasoning", "answer",   "equation", "polynomial", "derivative",
      "integral"};
  static const std::vector<std::string> kCode = {"def ",
                                                 "return ",
                                                 "for i in range(n):",
                                                 "if x > 0:",
                                                 "self.",
                                                 "import numpy as np",
                                                 "int main() {",
                                                 "std::vector<int> v;",
                                                 "printf(\"%d\\n\", x);",
                                                 "} else {",
                                                 "++i",
                                                 "x_{i+1} = x_i - f(x_i) / f'(x_i)",
                                                 "\\frac{a}{b}",
                                                 "\\boxed{42}",
                                                 "\\sqrt{2}",
                                                 "$$"};
  std::mt19937_64 rng(20250122);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto append_random_chars = [&](char32_t first, char32_t count, int length, std::string* out) {
    for (int i = 0; i < length; ++i) {
      retort::utf8::append_code_point(first + static_cast<char32_t>(pick(count)), out);
    }
  };
  std::string text;
  text.reserve(target_bytes + 1024);
  while (text.size() < target_bytes) {
    const size_t kind = pick(10);
    if (kind < 5) {  // English prose with numbers
      const int words = 8 + static_cast<int>(pick(20));
      for (int w = 0; w < words; ++w) {
        if (pick(12) == 0) {
          text += " " + std::to_string(rng() % 10000000);
        } else {
          text += (w == 0 ? "" : " ") + kWords[pick(kWords.size())];
        }
      }
      text += pick(3) == 0 ? ".\n" : ". ";
    } else if (kind < 7) {  // code and LaTeX, with indentation
      text += std::string(4 * pick(3), ' ') + kCode[pick(kCode.size())] + "\n";
    } else if (kind < 8) {  // Chinese (CJK block), then full-width punctuation
      append_random_chars(0x4E00, 0x1000, 6 + static_cast<int>(pick(20)), &text);
      text += "\u3002";
    } else if (kind < 9) {  // Korean syllables in words
      for (int w = 0; w < 6; ++w) {
        append_random_chars(0xAC00, 0x2BA4, 2 + static_cast<int>(pick(3)), &text);
        text += " ";
      }
    } else {  // Japanese hiragana and katakana
      append_random_chars(0x3041, 0x56, 4 + static_cast<int>(pick(8)), &text);
      append_random_chars(0x30A1, 0x5A, 3 + static_cast<int>(pick(5)), &text);
      text += "\u3001";
    }
  }
  return text;
}

// Cuts `text` into documents of about `doc_bytes`, at newlines or spaces (UTF-8 safe).
std::vector<std::string> split_documents(const std::string& text, size_t doc_bytes) {
  std::vector<std::string> docs;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = std::min(text.size(), start + doc_bytes);
    if (end < text.size()) {
      const size_t cut = text.find_first_of("\n ", end);
      end = cut == std::string::npos ? text.size() : cut + 1;
    }
    docs.push_back(text.substr(start, end - start));
    start = end;
  }
  return docs;
}

struct Run {
  double seconds = 0;
  size_t tokens = 0;
  std::vector<TokenId> last_ids;
};

Run encode_all(const BpeTokenizer& tokenizer, const std::vector<std::string>& docs) {
  Run run;
  const auto start = std::chrono::steady_clock::now();
  for (const std::string& doc : docs) {
    run.last_ids = tokenizer.encode(doc);
    run.tokens += run.last_ids.size();
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s TOKENIZER [--mb N] [--doc-kb K] [--file PATH] [--dump PATH]\n",
                 argv[0]);
    return 2;
  }
  std::string path = argv[1], file, dump;
  double megabytes = 32, doc_kib = 8;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--mb") {
      megabytes = std::atof(value.c_str());
    } else if (flag == "--doc-kb") {
      doc_kib = std::atof(value.c_str());
    } else if (flag == "--file") {
      file = value;
    } else if (flag == "--dump") {
      dump = value;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    if (std::filesystem::is_directory(path)) path += "/tokenizer.json";
    std::string text;
    if (file.empty()) {
      text = generate_text(static_cast<size_t>(megabytes * 1e6));
    } else {
      std::ifstream in(file, std::ios::binary);
      std::ostringstream contents;
      contents << in.rdbuf();
      text = contents.str();
    }
    if (!dump.empty()) std::ofstream(dump, std::ios::binary) << text;
    const auto docs = split_documents(text, static_cast<size_t>(doc_kib * 1024));
    const auto cached = BpeTokenizer::from_file(path);
    const auto uncached = BpeTokenizer::from_file(path, retort::BpeOptions{0});
    std::printf("%s\ntext: %.1f MB in %zu documents (%s)\n", cached->describe().c_str(),
                text.size() / 1e6, docs.size(), file.empty() ? "generated" : file.c_str());
    const Run without_cache = encode_all(*uncached, docs);
    const Run with_cache = encode_all(*cached, docs);
    if (with_cache.tokens != without_cache.tokens ||
        with_cache.last_ids != without_cache.last_ids) {
      std::fprintf(stderr, "error: cached and uncached encodings differ\n");
      return 1;
    }
    const double mb = text.size() / 1e6;
    std::printf("%-14s %8.2f MB/s  %6.2f M tokens/s  (%zu tokens, %.2f s)\n", "no cache",
                mb / without_cache.seconds, without_cache.tokens / without_cache.seconds / 1e6,
                without_cache.tokens, without_cache.seconds);
    std::printf("%-14s %8.2f MB/s  %6.2f M tokens/s  (%.2f s)\n", "merge cache",
                mb / with_cache.seconds, with_cache.tokens / with_cache.seconds / 1e6,
                with_cache.seconds);
    std::printf("cache speed-up: %.2fx\n", without_cache.seconds / with_cache.seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
