// DAPO soft overlong punishment (see length.h).
#include "rewards/length.h"

namespace retort {

RewardResult overlong_reward(const RewardInput& input, const OverlongOptions& options) {
  const auto& meta = input.metadata;
  if (!meta.is_object() || !meta.contains("completion_tokens") ||
      !meta["completion_tokens"].is_number_integer() ||
      meta["completion_tokens"].get<int64_t>() < 0) {
    return RewardResult::unscorable(
        "metadata \"completion_tokens\" is missing or not a non-negative integer (the "
        "completion's length in tokens, which the trainer fills)");
  }
  const int64_t length = meta["completion_tokens"].get<int64_t>();
  const int64_t free_tokens = options.max_tokens - options.cache_tokens;
  if (length <= free_tokens) return RewardResult::score(0.0);
  if (length > options.max_tokens) return RewardResult::score(-1.0);
  // Here cache_tokens > 0: free_tokens < length ≤ max_tokens.
  return RewardResult::score(static_cast<double>(free_tokens - length) /
                             static_cast<double>(options.cache_tokens));
}

RewardFn make_overlong_reward(RewardArgs& args) {
  OverlongOptions options;
  args.read("max_tokens", &options.max_tokens);
  args.read("cache_tokens", &options.cache_tokens);
  if (options.max_tokens <= 0) {
    args.fail("max_tokens",
              "expected a positive number of tokens (L_max, usually the generation "
              "limit), got " +
                  std::to_string(options.max_tokens));
  }
  if (options.cache_tokens < 0 || options.cache_tokens > options.max_tokens) {
    args.fail("cache_tokens", "expected 0 ≤ cache_tokens ≤ max_tokens (" +
                                  std::to_string(options.max_tokens) + "), got " +
                                  std::to_string(options.cache_tokens));
  }
  return [options](const RewardInput& input) { return overlong_reward(input, options); };
}

}  // namespace retort
