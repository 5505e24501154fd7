// Helpers for the reward tests: build a sample, read a score.
#pragma once

#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "rewards/reward.h"

namespace retort::testing {

inline RewardInput sample(std::string completion, std::string reference = "",
                          nlohmann::json metadata = nlohmann::json::object(),
                          std::string prompt = "User: a question. Assistant:") {
  return {std::move(prompt), std::move(completion), std::move(reference), std::move(metadata)};
}

// The score of a result that must be scorable (fails the test, returns NaN otherwise).
inline double value_of(const RewardResult& result) {
  EXPECT_TRUE(result.is_scorable()) << result.reason();
  return result.is_scorable() ? result.value() : std::nan("");
}

}  // namespace retort::testing
