// retort::Error is the one exception type for errors a user can cause: a bad config, file, data
// or argument. Its message names the file/key/value, what was expected and, where useful, a hint;
// the CLI prints it on one line and exits non-zero. Internal invariants use TORCH_CHECK instead.
#pragma once

#include <stdexcept>
#include <string>

#include <c10/util/StringUtil.h>

namespace retort {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws retort::Error with the arguments streamed together: fail("bad ", key, ": ", value).
template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(c10::str(args...));
}

}  // namespace retort

// RETORT_CHECK(cond, "what was expected, got ", value): a user-facing check.
#define RETORT_CHECK(cond, ...)               \
  do {                                        \
    if (!(cond)) ::retort::fail(__VA_ARGS__); \
  } while (0)
