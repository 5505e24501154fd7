// Peak memory and time of per-token log-probs (forward + backward), retort's chunked
// token_logprobs against the materialised reference (fp32 [N, T, V] logits, log-softmax, gather):
// the number the GRPO update's memory rests on (rl/logprob.h).
//   bench_logprob [--device cpu|cuda] [--batch 8] [--seq 1024] [--hidden 1536] [--vocab 151936]
//                 [--chunk 1024] [--dtype bfloat16|float32]
// CUDA: peak bytes from the caching allocator (reset before each variant), both variants in this
// process. CPU: each variant runs in a forked child and reports its peak resident set growth
// (ru_maxrss minus the resident set before the computation), so the variants cannot see each
// other's pages. Prints one JSON line per variant and the ratio.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#if defined(RETORT_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

#include "core/cpu_threads.h"
#include "core/error.h"
#include "rl/logprob.h"

namespace {

struct Args {
  std::string device = "cpu";
  int64_t batch = 8, seq = 1024, hidden = 1536, vocab = 151936, chunk = 1024;
  std::string dtype = "bfloat16";
  int threads = 0;
};

struct Result {
  double peak_bytes = 0;  // above what was live before the computation
  double seconds = 0;
};

int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// One forward + backward of the sum of log-probs, the shape of the GRPO update's use.
Result run_variant(const Args& a, bool chunked) {
  const at::Device device(a.device);
  const auto dtype = a.dtype == "float32" ? at::kFloat : at::kBFloat16;
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  at::manual_seed(0);
  auto hidden = at::randn({a.batch, a.seq, a.hidden}, options).requires_grad_(true);
  auto weight = (at::randn({a.vocab, a.hidden}, options) * 0.02).requires_grad_(true);
  auto targets = at::randint(a.vocab, {a.batch, a.seq}, at::TensorOptions().device(device));
  const auto sync = [&] {
#if defined(RETORT_WITH_CUDA)
    if (device.is_cuda()) c10::cuda::device_synchronize();
#endif
  };
  sync();
  int64_t before = 0;
#if defined(RETORT_WITH_CUDA)
  const int index = device.has_index() ? device.index() : c10::cuda::current_device();
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(index);
    before = c10::cuda::CUDACachingAllocator::getDeviceStats(index).allocated_bytes[0].current;
  }
#endif
  if (!device.is_cuda()) before = resident_bytes();
  const auto start = std::chrono::steady_clock::now();
  const auto logprobs = chunked ? retort::token_logprobs(hidden, weight, targets, {1.0, a.chunk})
                                : retort::token_logprobs_reference(hidden, weight, targets);
  logprobs.sum().backward();
  sync();
  Result r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
#if defined(RETORT_WITH_CUDA)
  if (device.is_cuda()) {
    r.peak_bytes = double(
        c10::cuda::CUDACachingAllocator::getDeviceStats(index).allocated_bytes[0].peak - before);
  }
#endif
  if (!device.is_cuda()) {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    r.peak_bytes = double(usage.ru_maxrss) * 1024.0 - double(before);
  }
  return r;
}

// CPU: run the variant in a child so each one's peak is its own.
Result run_isolated(const Args& a, bool chunked) {
  if (a.device != "cpu") return run_variant(a, chunked);
  int fds[2];
  RETORT_CHECK(pipe(fds) == 0, "bench_logprob: pipe failed");
  const pid_t pid = fork();
  RETORT_CHECK(pid >= 0, "bench_logprob: fork failed");
  if (pid == 0) {
    close(fds[0]);
    const Result r = run_variant(a, chunked);
    const ssize_t written = write(fds[1], &r, sizeof(r));
    _exit(written == ssize_t(sizeof(r)) ? 0 : 1);
  }
  close(fds[1]);
  Result r;
  const ssize_t got = read(fds[0], &r, sizeof(r));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  RETORT_CHECK(got == ssize_t(sizeof(r)) && WIFEXITED(status) && WEXITSTATUS(status) == 0,
               "bench_logprob: the ", chunked ? "chunked" : "reference",
               " variant failed (out of memory? try a smaller --batch or --seq)");
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"Peak memory and time of chunked token log-probs against materialised logits"};
  app.add_option("--device", a.device, "cpu or cuda")->capture_default_str();
  app.add_option("--batch", a.batch, "sequences")->capture_default_str();
  app.add_option("--seq", a.seq, "tokens per sequence")->capture_default_str();
  app.add_option("--hidden", a.hidden, "hidden size (1536: Qwen2.5-1.5B)")->capture_default_str();
  app.add_option("--vocab", a.vocab, "vocabulary (151936: Qwen2.5)")->capture_default_str();
  app.add_option("--chunk", a.chunk, "tokens per chunk")->capture_default_str();
  app.add_option("--dtype", a.dtype, "hidden states and weight: bfloat16 or float32")
      ->check(CLI::IsMember({"bfloat16", "float32"}))
      ->capture_default_str();
  app.add_option("--threads", a.threads, "CPU threads (0 = all cores)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    retort::configure_cpu_threads(a.threads > 0 ? a.threads
                                                : int(std::thread::hardware_concurrency()));
    RETORT_CHECK(a.device == "cpu" || torch::cuda::is_available(),
                 "bench_logprob: --device cuda but LibTorch sees no CUDA device");
    run_isolated(a, true);  // warm-up: kernels, allocator, thread pools
    nlohmann::json line = {{"device", a.device}, {"batch", a.batch}, {"seq", a.seq},
                           {"hidden", a.hidden}, {"vocab", a.vocab}, {"chunk", a.chunk},
                           {"dtype", a.dtype}};
    const Result reference = run_isolated(a, false), chunked = run_isolated(a, true);
    const double gib = 1024.0 * 1024.0 * 1024.0;
    line["reference_peak_gib"] = reference.peak_bytes / gib;
    line["chunked_peak_gib"] = chunked.peak_bytes / gib;
    line["reference_s"] = reference.seconds;
    line["chunked_s"] = chunked.seconds;
    line["memory_ratio"] = reference.peak_bytes / std::max(chunked.peak_bytes, 1.0);
    line["logits_fp32_gib"] = double(a.batch * a.seq) * double(a.vocab) * 4.0 / gib;
    std::cout << line.dump() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "bench_logprob: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
