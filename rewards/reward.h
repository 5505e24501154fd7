// The reward interface: a reward is a pure, thread-safe function of one sample (prompt,
// completion, reference answer, free per-sample metadata) that returns a score or "unscorable"
// with a reason. Unscorable means the sample cannot be judged (a broken reference, missing
// metadata, an infrastructure failure): the trainer leaves it out of the group statistics, gives
// it zero advantage and counts it (DESIGN.md §4). It is never silently a 0.
// Rewards are text functions: no torch here. The one registry table is in rewards/registry.h.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace retort {

// One sample to score.
struct RewardInput {
  std::string prompt;      // the rendered prompt (template included), as the policy saw it
  std::string completion;  // the generated text after the prompt, special tokens removed
  std::string reference;   // the dataset's reference answer ("" when it has none)
  nlohmann::json metadata = nlohmann::json::object();  // free per-sample fields, e.g. Countdown's
                                                       // "numbers"/"target", "completion_tokens"
};

// A score, or "unscorable" with a reason; never both. Scores are finite.
class RewardResult {
 public:
  static RewardResult score(double value);  // value must be finite
  static RewardResult unscorable(std::string reason);

  bool is_scorable() const { return reason_.empty(); }
  double value() const;               // the score; only for a scorable result
  const std::string& reason() const;  // why it is unscorable; only for an unscorable result

 private:
  RewardResult(double value, std::string reason) : value_(value), reason_(std::move(reason)) {}
  double value_ = 0.0;
  std::string reason_;  // empty ⇔ scorable
};

// A constructed reward. std::function rather than a virtual interface: every reward is a pure
// function plus its parsed arguments, which is exactly a closure over a const options struct;
// a remote or plugin reward is the same shape (a closure over a client or a dlopen'ed symbol), so
// a class hierarchy would add nothing but boilerplate. Must be safe to call from many threads.
using RewardFn = std::function<RewardResult(const RewardInput&)>;

// What a recipe (or `retort score`) asks for: a registry name, its weight in the total and its
// arguments (a JSON object; keys and meaning per reward, see each reward's header).
struct RewardSpec {
  std::string name;
  double weight = 1.0;                             // total = Σ weight · score
  nlohmann::json args = nlohmann::json::object();  // e.g. {"max_tokens": 4096}
};

// Reads a reward's arguments into its options struct, whose member initialisers are the
// defaults: read() takes a key when it is present (type-checked; absent keys leave the default);
// finish() fails on every key that no read() asked for, naming the reward, the key and the known
// keys. Errors are retort::Error.
class RewardArgs {
 public:
  RewardArgs(std::string reward_name, const nlohmann::json& args);

  void read(const std::string& key, double* value);
  void read(const std::string& key, int64_t* value);
  void read(const std::string& key, std::string* value);
  void finish() const;

  // Throws retort::Error "reward NAME: argument KEY: <message>" (for range checks).
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

 private:
  const nlohmann::json* find(const std::string& key);  // records `key` as known
  std::string reward_name_;
  nlohmann::json args_;
  std::vector<std::string> known_keys_;
};

}  // namespace retort
