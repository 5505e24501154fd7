// The watchdog thread: polls the collectives in flight every 100 ms and aborts the job when one
// passes its deadline.
#include "distributed/watchdog.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <c10/util/StringUtil.h>

#include "distributed/failure.h"

namespace retort::dist {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(100);

struct Watched {
  std::string description;
  Clock::time_point start;
  Clock::time_point deadline;  // time_point::max() when the watchdog was off at the start
  std::function<bool()> is_done;
};

struct Watchdog {
  std::mutex mutex;
  std::condition_variable wake;
  std::map<uint64_t, Watched> in_flight;
  uint64_t next_id = 1;
  double timeout_s = 0.0;
  bool stopping = false;
  std::thread thread;
};

Watchdog& watchdog() {
  static auto* instance = new Watchdog;  // never destroyed: its thread may outlive static exit
  return *instance;
}

std::string overdue_message(const Watched& watched, double timeout_s) {
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - watched.start).count();
  return c10::str(
      "collective watchdog: ", watched.description, " has not finished after ", elapsed_s,
      " s (timeout ", timeout_s,
      " s); aborting the job. HINT: another rank is stuck, dead, or ran "
      "different collectives in a different order; its own messages say which. The timeout is "
      "ProcessGroupOptions::collective_timeout_s.");
}

void watch_loop() {
  Watchdog& w = watchdog();
  std::unique_lock<std::mutex> lock(w.mutex);
  while (!w.stopping) {
    w.wake.wait_for(lock, kPollInterval);
    const auto now = Clock::now();
    for (auto it = w.in_flight.begin(); it != w.in_flight.end();) {
      if (it->second.is_done && it->second.is_done()) {
        it = w.in_flight.erase(it);
      } else if (now > it->second.deadline) {
        const std::string message = overdue_message(it->second, w.timeout_s);
        lock.unlock();
        abort_job(message);
      } else {
        ++it;
      }
    }
  }
}

}  // namespace

void set_collective_timeout(double seconds) {
  std::lock_guard<std::mutex> lock(watchdog().mutex);
  watchdog().timeout_s = seconds;
}

double collective_timeout() {
  std::lock_guard<std::mutex> lock(watchdog().mutex);
  return watchdog().timeout_s;
}

uint64_t watch_collective(std::string description, std::function<bool()> is_done) {
  Watchdog& w = watchdog();
  std::lock_guard<std::mutex> lock(w.mutex);
  const auto start = Clock::now();
  const auto deadline = w.timeout_s > 0.0 ? start + std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(w.timeout_s))
                                          : Clock::time_point::max();
  const uint64_t id = w.next_id++;
  w.in_flight.emplace(id, Watched{std::move(description), start, deadline, std::move(is_done)});
  return id;
}

void unwatch_collective(uint64_t id) {
  std::lock_guard<std::mutex> lock(watchdog().mutex);
  watchdog().in_flight.erase(id);
}

void start_watchdog(double timeout_s) {
  Watchdog& w = watchdog();
  std::lock_guard<std::mutex> lock(w.mutex);
  w.timeout_s = timeout_s;
  w.stopping = false;
  if (!w.thread.joinable()) w.thread = std::thread(watch_loop);
}

void stop_watchdog() {
  Watchdog& w = watchdog();
  {
    std::lock_guard<std::mutex> lock(w.mutex);
    w.stopping = true;
    w.in_flight.clear();
  }
  w.wake.notify_all();
  if (w.thread.joinable()) w.thread.join();
}

}  // namespace retort::dist
