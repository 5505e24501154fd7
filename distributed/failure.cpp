// abort_job, the terminate handler, and the stop-signal flag.
#include "distributed/failure.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include <c10/util/Exception.h>

#include "distributed/api_check.h"
#include "distributed/collectives.h"
#include "distributed/process_group.h"

namespace retort::dist {
namespace {

std::atomic<bool> g_aborting{false};
volatile std::sig_atomic_t g_stop_signal = 0;

struct AbortHooks {
  std::mutex mutex;
  std::map<int, std::function<void()>> hooks;
  int next_id = 0;
};
AbortHooks& abort_hooks() {
  static auto* hooks = new AbortHooks;  // never destroyed: abort_job may run during exit
  return *hooks;
}

extern "C" void on_stop_signal(int) {
  g_stop_signal = 1;
}

// c10::Error's what() appends a C++ backtrace; the one-line message is what users need.
std::string message_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

void on_terminate() {
  const auto error = std::current_exception();
  abort_job(error ? message_of(error) : "std::terminate called without an active exception");
}

}  // namespace

void abort_job(const std::string& message, int exit_code) {
  if (g_aborting.exchange(true)) {
    // Another thread is already ending the process; its message is the one printed.
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  std::fprintf(stderr, "%s error: %s\n", rank_prefix().c_str(), message.c_str());
  std::fflush(stderr);
  std::map<int, std::function<void()>> hooks;
  {
    std::lock_guard<std::mutex> lock(abort_hooks().mutex);
    hooks = abort_hooks().hooks;
  }
  for (auto& [id, hook] : hooks) {
    try {
      hook();
    } catch (...) {
      // Best effort: the job is ending either way.
    }
  }
  int finalized = 0;
  if (uses_mpi() && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
  }
  std::_Exit(exit_code);
}

int run_or_abort(const std::function<int()>& body) {
  try {
    return body();
  } catch (...) {
    abort_job(message_of(std::current_exception()));
  }
}

int add_abort_hook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(abort_hooks().mutex);
  const int id = abort_hooks().next_id++;
  abort_hooks().hooks.emplace(id, std::move(hook));
  return id;
}

void remove_abort_hook(int id) {
  std::lock_guard<std::mutex> lock(abort_hooks().mutex);
  abort_hooks().hooks.erase(id);
}

bool stop_signal_received() {
  return g_stop_signal != 0;
}

bool stop_requested() {
  return all_reduce_max(stop_signal_received() ? 1.0 : 0.0) > 0.0;
}

void install_failure_handlers() {
  std::set_terminate(on_terminate);
  // Slurm (scancel, time limit) sends SIGTERM to every task. OpenMPI's mpirun forwards SIGUSR1
  // to every rank and lets the job run on (checked with 4.1.4), so `kill -USR1 <mpirun pid>` is
  // the clean stop there; a SIGTERM to mpirun reaches the ranks too, but mpirun then reports the
  // job as failed. Both signals only set the flag.
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGUSR1, &action, nullptr);
}

}  // namespace retort::dist
