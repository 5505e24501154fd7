// All-reduce bandwidth in the style of nccl-tests' all_reduce_perf: for message sizes doubling
// from --min-bytes to --max-bytes, the time of one in-place fp32 sum all-reduce (slowest rank,
// mean over the iterations), the algorithm bandwidth algbw = bytes / time, and the bus bandwidth
// busbw = algbw · 2(W − 1)/W — the traffic each link of a ring carries, comparable across world
// sizes (nccl-tests doc/PERFORMANCE.md). #wrong counts elements that are not W(W + 1)/2 after the
// first all-reduce of rank r's r + 1. The device picks the backend: cuda → NCCL, cpu → MPI.
// Baseline, measured in the same run: a local copy of the largest message (memory bandwidth).
//   mpirun -np N bench_allreduce [--device cpu|cuda] [--min-bytes 1K] [--max-bytes 1G]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include <torch/cuda.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include "core/error.h"
#include "distributed/collectives.h"
#include "distributed/failure.h"
#include "distributed/process_group.h"

namespace {

namespace dist = retort::dist;
using Clock = std::chrono::steady_clock;

// "64", "1K", "256M", "1G" (powers of 1024) → bytes.
int64_t parse_bytes(const std::string& text) {
  size_t used = 0;
  const int64_t number = std::stoll(text, &used);
  const std::string suffix = text.substr(used);
  const int shift = suffix.empty()  ? 0
                    : suffix == "K" ? 10
                    : suffix == "M" ? 20
                    : suffix == "G" ? 30
                                    : -1;
  RETORT_CHECK(shift >= 0 && number > 0, "a size like 64, 1K, 256M or 1G, got '", text, "'");
  return number << shift;
}

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// Mean seconds per call of fn over `iterations`, after `warmup` calls; the slowest rank's.
template <typename Fn>
double time_per_call(const c10::Device& device, int warmup, int iterations, Fn&& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  synchronize(device);
  dist::barrier();
  const auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) fn();
  synchronize(device);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count() / iterations;
  return dist::all_reduce_max(seconds);
}

int run(int argc, char** argv) {
  CLI::App app("All-reduce bandwidth (nccl-tests style)");
  std::string device_name = torch::cuda::is_available() ? "cuda" : "cpu";
  std::string min_bytes = "1K", max_bytes = "1G";
  int iterations = 20, warmup = 5;
  app.add_option("--device", device_name, "cpu (MPI) or cuda (NCCL)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--min-bytes", min_bytes, "smallest message");
  app.add_option("--max-bytes", max_bytes, "largest message");
  app.add_option("--iters", iterations, "timed all-reduces per size (fewer above 256 MB)");
  app.add_option("--warmup", warmup, "untimed all-reduces per size");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const auto device = device_name == "cuda" ? dist::device() : c10::Device(c10::kCPU);
  const int64_t lo = parse_bytes(min_bytes), hi = parse_bytes(max_bytes);
  const int W = dist::world_size();
  const double expected = W * (W + 1) / 2.0;
  dist::print0(c10::str("# all_reduce sum, fp32, ", W, " ranks, backend ",
                        dist::backend_for(device).name(), " on ", device));
  char line[256];
  std::snprintf(line, sizeof(line), "%12s %12s %7s %12s %12s %12s %8s", "size(B)", "count", "iters",
                "time(us)", "algbw(GB/s)", "busbw(GB/s)", "#wrong");
  dist::print0(line);
  double large_busbw_sum = 0.0;
  int large_count = 0;
  double largest_busbw = 0.0;
  for (int64_t bytes = lo; bytes <= hi; bytes *= 2) {
    const int64_t count = bytes / 4;
    auto buffer = at::full({count}, dist::rank() + 1.0, at::TensorOptions().device(device));
    dist::all_reduce(buffer);
    const auto wrong = (buffer != expected).sum().item<int64_t>();
    // At most 4 GiB of traffic per size above 256 MB keeps the 1 GB row under a minute on CPU.
    const int n = std::max<int64_t>(3, std::min<int64_t>(iterations, (int64_t{4} << 30) / bytes));
    const double seconds =
        time_per_call(device, std::min(warmup, n), n, [&] { dist::all_reduce(buffer); });
    const double algbw = bytes / seconds / 1e9, busbw = algbw * 2.0 * (W - 1) / W;
    std::snprintf(line, sizeof(line), "%12lld %12lld %7d %12.1f %12.3f %12.3f %8lld",
                  static_cast<long long>(bytes), static_cast<long long>(count), n, seconds * 1e6,
                  algbw, busbw, static_cast<long long>(dist::all_reduce_sum(wrong)));
    dist::print0(line);
    largest_busbw = busbw;
    if (bytes >= (int64_t{256} << 20)) large_busbw_sum += busbw, ++large_count;
  }
  // Baseline: copying the largest message within one device's memory.
  const int64_t count = hi / 4;
  const auto source = at::ones({count}, at::TensorOptions().device(device));
  auto target = at::empty_like(source);
  const double copy_seconds = time_per_call(device, 2, 5, [&] { target.copy_(source); });
  const double copy_gbps = hi / copy_seconds / 1e9;  // bytes read (= bytes written) per second
  dist::print0(c10::str("# baseline: local copy of ", hi, " B at ", copy_gbps,
                        " GB/s; busbw at the largest size = ", 100.0 * largest_busbw / copy_gbps,
                        "% of it"));
  if (large_count > 0) {
    dist::print0(
        c10::str("# avg busbw over sizes >= 256 MB: ", large_busbw_sum / large_count, " GB/s"));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  dist::init();
  const int code = dist::run_or_abort([&] { return run(argc, argv); });
  dist::finalize();
  return code;
}
