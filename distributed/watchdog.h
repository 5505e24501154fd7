// The collective watchdog: one thread that ends the whole job (abort_job: ncclCommAbort, then
// MPI_Abort) when a collective has been in flight longer than the timeout, so a dead or stuck rank
// stops the job with a message instead of leaving the others waiting forever. The backends
// register every collective they start; NCCL ones complete when their CUDA event has fired.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace retort::dist {

// Seconds a collective may take before the job is aborted; 0 turns the watchdog off. Applies to
// collectives started after the call.
void set_collective_timeout(double seconds);
double collective_timeout();

// Registers a collective in flight. `is_done` (polled from the watchdog thread, so thread-safe)
// reports completion; without it the entry lives until unwatch_collective(id).
uint64_t watch_collective(std::string description, std::function<bool()> is_done = nullptr);
void unwatch_collective(uint64_t id);

// Watches a blocking call for the lifetime of the scope.
class ScopedCollectiveWatch {
 public:
  explicit ScopedCollectiveWatch(std::string description)
      : id_(watch_collective(std::move(description))) {}
  ~ScopedCollectiveWatch() { unwatch_collective(id_); }
  ScopedCollectiveWatch(const ScopedCollectiveWatch&) = delete;
  ScopedCollectiveWatch& operator=(const ScopedCollectiveWatch&) = delete;

 private:
  uint64_t id_;
};

// dist::init() / finalize() start and stop the thread.
void start_watchdog(double timeout_s);
void stop_watchdog();

}  // namespace retort::dist
