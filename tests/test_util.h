// Shared helpers for retort's tests: fixture paths, golden files, temporary directories.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sys/wait.h>

#include <cstdio>
#include <iterator>

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>
#include "core/fs_util.h"

namespace retort::testing {

// The tiny random checkpoints made by tools/golden/make_model_golden.py with transformers.
inline const std::vector<std::string>& model_families() {
  static const std::vector<std::string> families = {"llama", "llama31", "qwen2", "qwen3",
                                                    "mistral"};
  return families;
}

inline std::string fixture(const std::string& relative) {
  return std::string(RETORT_FIXTURES_DIR) + "/" + relative;
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in.good()) throw std::runtime_error("missing test fixture " + path);
  return nlohmann::json::parse(in);
}

// A fresh directory under the system temp dir, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir() {
    static int count = 0;  // several TempDirs may live in one test
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("retort_" + std::string(info ? info->name() : "test") + "_" +
             std::to_string(::getpid()) + "_" + std::to_string(count++));
    remove_tree(path_.string());
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { remove_tree(path_.string()); }
  std::string path(const std::string& name = "") const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// What the retort program printed and returned.
struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs `retort ARGS` (the binary built beside the tests) through the shell, capturing stdout,
// stderr and the exit code.
inline CommandResult run_retort(const std::string& args) {
  TempDir tmp;
  const std::string err_path = tmp.path("stderr");
  const std::string command = std::string(RETORT_BINARY_DIR) + "/retort " + args + " 2>" + err_path;
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  result.err.assign(std::istreambuf_iterator<char>(err), {});
  return result;
}

// Runs `fn`, expecting an exception whose message contains every one of `parts`.
template <typename Fn>
void expect_error_mentions(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected an exception mentioning '" << parts.at(0) << "'";
  } catch (const std::exception& e) {
    const std::string message = e.what();
    for (const auto& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos)
          << "message lacks '" << part << "': " << message;
    }
  }
}

}  // namespace retort::testing
