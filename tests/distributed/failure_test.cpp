// A failing rank must end the whole `mpirun -np 2` job quickly with a non-zero exit and a clear
// message — never a hang. Each test runs failure_helper (see its modes) under mpirun, bounded by
// `timeout 60` so that a hang fails the test (exit 124) instead of stalling the suite.
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace retort {
namespace {

struct JobResult {
  int exit_code = -1;
  double seconds = 0.0;
  std::string output;  // stdout and stderr of every rank and of mpirun
};

JobResult run_job(const std::string& mode) {
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);  // CI containers run as root
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  const std::string command = std::string("timeout -k 5 60 ") + RETORT_MPIEXEC +
                              " -np 2 --oversubscribe " + RETORT_FAILURE_HELPER + " " + mode +
                              " 2>&1";
  JobResult result;
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) {
    result.output.append(buffer, n);
  }
  const int status = ::pclose(pipe);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

bool mentions(const JobResult& r, const std::string& text) {
  return r.output.find(text) != std::string::npos;
}

TEST(FailureHandling, AnExceptionOnOneRankEndsTheJobWithItsMessage) {
  const auto r = run_job("throw");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "the job hung\n" << r.output;
  EXPECT_LT(r.seconds, 15.0) << r.output;
  EXPECT_TRUE(mentions(r, "[rank 1/2] error: injected failure on the last rank")) << r.output;
  EXPECT_FALSE(mentions(r, "collective watchdog")) << "MPI_Abort, not the watchdog, must end it";
}

TEST(FailureHandling, ARankStuckInACollectiveIsAbortedByTheWatchdog) {
  const auto r = run_job("stuck");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "the job hung\n" << r.output;
  EXPECT_LT(r.seconds, 15.0) << r.output;  // 1 s timeout + mpirun start and teardown
  EXPECT_TRUE(mentions(r, "error: collective watchdog: MPI all_reduce(sum)")) << r.output;
}

TEST(FailureHandling, AKilledRankEndsTheJob) {
  const auto r = run_job("killed");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "the job hung\n" << r.output;
  EXPECT_LT(r.seconds, 15.0) << r.output;
  EXPECT_FALSE(mentions(r, "collective watchdog")) << "mpirun, not the watchdog, must end it";
}

TEST(FailureHandling, SigtermOnOneRankStopsEveryRankAtTheSameStep) {
  const auto r = run_job("stop");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(mentions(r, "rank 0 stopped at step 3")) << r.output;
  EXPECT_TRUE(mentions(r, "rank 1 stopped at step 3")) << r.output;
}

}  // namespace
}  // namespace retort
