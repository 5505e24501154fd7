// Fixtures of the tokenizer tests: the real Qwen3 and Llama 3 tokenizer.json files (unpacked from
// tests/fixtures/tokenizers/tokenizers.tar.xz into the build tree by tests/CMakeLists.txt) and the
// golden ids that tools/golden/make_tokenizer_golden.py made with HF tokenizers / transformers.
// A missing fixture throws, so the test using it fails with the path in the message.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/tokenizer.h"

namespace retort::tokenizer_testing {

// "qwen3" or "llama3": the directory holding tokenizer.json.
inline std::string tokenizer_dir(const std::string& family) {
  const std::string dir = std::string(RETORT_TOKENIZERS_DIR) + "/" + family;
  if (!std::filesystem::exists(dir + "/tokenizer.json")) {
    throw std::runtime_error("missing test fixture " + dir +
                             "/tokenizer.json (unpacked from tests/fixtures/tokenizers/"
                             "tokenizers.tar.xz when CMake configures; re-run cmake)");
  }
  return dir;
}

// Loaded once per test program: each takes ~0.5 s to read.
inline const Tokenizer& fixture_tokenizer(const std::string& family) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  auto& slot = loaded[family];
  if (!slot) slot = load_tokenizer(tokenizer_dir(family));
  return *slot;
}

inline const nlohmann::json& golden(const std::string& family) {
  static const nlohmann::json all = [] {
    const std::string path = std::string(RETORT_FIXTURES_DIR) + "/tokenizers/golden.json";
    std::ifstream in(path);
    if (!in.good()) {
      throw std::runtime_error("missing test fixture " + path +
                               " (made by tools/golden/make_tokenizer_golden.py)");
    }
    return nlohmann::json::parse(in);
  }();
  return all.at(family);
}

inline std::vector<TokenId> ids_of(const nlohmann::json& array) {
  return array.get<std::vector<TokenId>>();
}

// Runs `fn`, expecting a std::exception whose message contains every one of `parts`.
template <typename Fn>
void expect_error_mentions(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected an error mentioning '" << parts.at(0) << "'";
  } catch (const std::exception& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos)
          << "message lacks '" << part << "': " << message;
    }
  }
}

}  // namespace retort::tokenizer_testing
