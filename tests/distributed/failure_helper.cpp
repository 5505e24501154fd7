// A tiny MPI program that fails on purpose, for failure_test.cpp (which runs it under
// `mpirun -np 2` and checks the exit status, the time taken and the messages). Modes, all acting
// on the last rank while the others wait in a collective:
//   throw  — throws from main: run_or_abort must end the job with its message;
//   stuck  — starts an all-reduce, then sleeps instead of waiting: the watchdog (1 s) must abort;
//   killed — dies by SIGKILL: mpirun must end the job;
//   stop   — raises SIGTERM at step 3: every rank must leave its loop at step 3 and exit 0.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include <ATen/ATen.h>

#include "core/error.h"
#include "distributed/collectives.h"
#include "distributed/failure.h"
#include "distributed/process_group.h"

using namespace retort::dist;

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  ProcessGroupOptions options;
  // 1 s for the stuck rank; long enough elsewhere that the watchdog cannot be what ends the job.
  options.collective_timeout_s = mode == "stuck" ? 1.0 : 30.0;
  init(options);
  return run_or_abort([&] {
    const bool last = rank() == world_size() - 1;
    barrier();  // everyone is up before the failure
    if (mode == "throw") {
      if (last) retort::fail("injected failure on the last rank");
      all_reduce(at::ones({4}));
    } else if (mode == "stuck") {
      auto work = all_reduce_async(at::ones({4}));
      if (last) std::this_thread::sleep_for(std::chrono::seconds(60));
      work->wait();
      barrier();
    } else if (mode == "killed") {
      if (last) std::raise(SIGKILL);
      all_reduce(at::ones({4}));
      barrier();
    } else if (mode == "stop") {
      for (int step = 0; step < 100; ++step) {
        if (last && step == 3) std::raise(SIGTERM);
        if (stop_requested()) {
          std::printf("rank %d stopped at step %d\n", rank(), step);
          break;
        }
      }
    } else {
      retort::fail("unknown mode '", mode, "'; expected throw, stuck, killed or stop");
    }
    finalize();
    return 0;
  });
}
