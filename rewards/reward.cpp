// RewardResult and the argument reader shared by every reward's factory.
#include "rewards/reward.h"

#include <algorithm>
#include <cmath>

#include <c10/util/Exception.h>

#include "core/error.h"

namespace retort {

RewardResult RewardResult::score(double value) {
  TORCH_CHECK(std::isfinite(value), "a reward score must be finite, got ", value);
  return RewardResult(value, "");
}

RewardResult RewardResult::unscorable(std::string reason) {
  if (reason.empty()) reason = "unscorable (no reason given)";  // empty would read as scorable
  return RewardResult(0.0, std::move(reason));
}

double RewardResult::value() const {
  TORCH_CHECK(is_scorable(), "value() of an unscorable reward result (", reason_, ")");
  return value_;
}

const std::string& RewardResult::reason() const {
  TORCH_CHECK(!is_scorable(), "reason() of a scorable reward result (", value_, ")");
  return reason_;
}

RewardArgs::RewardArgs(std::string reward_name, const nlohmann::json& args)
    : reward_name_(std::move(reward_name)),
      args_(args.is_null() ? nlohmann::json::object() : args) {
  RETORT_CHECK(args_.is_object(), "reward ", reward_name_,
               ": arguments must be a JSON object like {\"key\": value}, got ", args_.dump());
}

const nlohmann::json* RewardArgs::find(const std::string& key) {
  known_keys_.push_back(key);
  const auto it = args_.find(key);
  return it == args_.end() ? nullptr : &*it;
}

void RewardArgs::read(const std::string& key, double* value) {
  if (const auto* v = find(key)) {
    if (!v->is_number() || !std::isfinite(v->get<double>()))
      fail(key, "expected a number, got " + v->dump());
    *value = v->get<double>();
  }
}

void RewardArgs::read(const std::string& key, int64_t* value) {
  if (const auto* v = find(key)) {
    if (!v->is_number_integer()) fail(key, "expected an integer, got " + v->dump());
    *value = v->get<int64_t>();
  }
}

void RewardArgs::read(const std::string& key, std::string* value) {
  if (const auto* v = find(key)) {
    if (!v->is_string()) fail(key, "expected a string, got " + v->dump());
    *value = v->get<std::string>();
  }
}

void RewardArgs::finish() const {
  for (const auto& [key, value] : args_.items()) {
    if (std::find(known_keys_.begin(), known_keys_.end(), key) != known_keys_.end()) continue;
    if (known_keys_.empty()) fail(key, "unknown argument; this reward takes no arguments");
    std::vector<std::string> known = known_keys_;
    std::sort(known.begin(), known.end());
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    fail(key, "unknown argument; known arguments: " + list);
  }
}

void RewardArgs::fail(const std::string& key, const std::string& message) const {
  retort::fail("reward ", reward_name_, ": argument ", key, ": ", message);
}

}  // namespace retort
