// main() of the test binaries that mpirun starts (label mpi): every rank runs every test. Rank 0
// prints GoogleTest's usual report; other ranks print only their failures, prefixed
// "[rank r/W]". The ranks agree on the result, so every rank (and mpirun) exits non-zero when
// any rank failed. A test that leaves the ranks out of step ends in the watchdog's abort.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "distributed/collectives.h"
#include "distributed/process_group.h"

namespace {

class RankFailurePrinter : public ::testing::EmptyTestEventListener {
  // UnitTest::current_test_info() takes a lock that gtest holds while reporting a result.
  void OnTestStart(const ::testing::TestInfo& test) override {
    test_ = std::string(test.test_suite_name()) + "." + test.name();
  }
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "%s %s failed at %s:%d\n%s\n", retort::dist::rank_prefix().c_str(),
                 test_.c_str(), result.file_name() ? result.file_name() : "?", result.line_number(),
                 result.message());
  }
  std::string test_;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  retort::dist::ProcessGroupOptions options;
  options.collective_timeout_s = 60.0;  // a desynchronised test fails in a minute, not at ctest's
  retort::dist::init(options);
  if (retort::dist::rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter);
  }
  const bool failed_here = RUN_ALL_TESTS() != 0;
  const bool failed_anywhere = retort::dist::all_reduce_max(failed_here ? 1.0 : 0.0) > 0.0;
  if (failed_anywhere && !failed_here && retort::dist::rank() == 0) {
    std::fprintf(stderr, "%s passed, but another rank failed: see its [rank r/W] lines\n",
                 retort::dist::rank_prefix().c_str());
  }
  retort::dist::finalize();
  return failed_anywhere ? 1 : 0;
}
