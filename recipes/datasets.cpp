// Dataset loading and the per-epoch permutation order.
#include "recipes/datasets.h"

#include "core/error.h"
#include "core/jsonl.h"
#include "recipes/tasks.h"

namespace retort {

std::vector<nlohmann::json> load_records(const DatasetSection& data) {
  std::vector<nlohmann::json> records;
  if (!data.path.empty()) {
    RETORT_CHECK(data.generate.empty(), "data: set either path (", data.path,
                 ") or generate (", data.generate, "), not both");
    for_each_jsonl_record(data.path, [&](const nlohmann::json& record, const std::string& where) {
      RETORT_CHECK(record.is_object(), where, ": expected a JSON object per line");
      records.push_back(record);
    });
  } else if (data.generate == "countdown") {
    records = generate_countdown(
        data.n, data.seed, {data.min_numbers, data.max_numbers, data.max_number, data.max_target});
  } else if (data.generate == "arithmetic") {
    records = generate_arithmetic(data.n, data.seed, {data.max_operand, data.terms});
  } else if (data.generate == "arithmetic_corpus") {
    records = generate_arithmetic_corpus(
        data.n, data.seed,
        {{data.max_operand, data.terms}, data.wrong_answer_frac, data.reflection_frac,
         data.statement_frac, data.fact_frac});
  } else if (data.generate == "countdown_corpus") {
    records = generate_countdown_corpus(
        data.n, data.seed,
        {{data.min_numbers, data.max_numbers, data.max_number, data.max_target},
         data.wrong_answer_frac,
         data.reflection_frac});
  } else {
    fail("data: set path (a JSONL file) or generate (countdown, arithmetic, arithmetic_corpus, "
         "countdown_corpus)");
  }
  RETORT_CHECK(!records.empty(), "data: ", data.path.empty() ? data.generate : data.path,
               " has no records");
  return records;
}

uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9e3779b97f4a7c15ull * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

RecordOrder::RecordOrder(int64_t records, uint64_t seed) : records_(records), seed_(seed) {
  RETORT_CHECK(records > 0, "RecordOrder: no records");
}

const std::vector<int64_t>& RecordOrder::epoch(int64_t e) const {
  if (e != cached_epoch_) {
    // Fisher-Yates with our own bounded draws, so the order is the same on every platform.
    cached_order_.resize(records_);
    for (int64_t i = 0; i < records_; ++i) cached_order_[i] = i;
    uint64_t state = mix_seed(seed_, uint64_t(e));
    for (int64_t i = records_ - 1; i > 0; --i) {
      state = mix_seed(state, uint64_t(i));
      std::swap(cached_order_[i], cached_order_[state % uint64_t(i + 1)]);
    }
    cached_epoch_ = e;
  }
  return cached_order_;
}

int64_t RecordOrder::at(int64_t position) const {
  RETORT_CHECK(position >= 0, "RecordOrder: negative position ", position);
  return epoch(position / records_)[position % records_];
}

}  // namespace retort
