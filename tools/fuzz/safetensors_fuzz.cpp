// libFuzzer harness for safetensors::parse: any bytes must either fail with retort::Error or
// give a layout whose tensors tile the data buffer exactly — never a crash, UB, a hang or another
// exception. Build with -DRETORT_BUILD_FUZZERS=ON and clang (tools/fuzz/CMakeLists.txt); run as
// `safetensors_fuzz -max_total_time=120 corpus/`, seeding corpus/ with a few real files.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "core/safetensors.h"

namespace {

// Where the harness stores what it reads, so that the reads are not optimised away.
volatile uint8_t g_sink;

void require(bool invariant) {
  if (!invariant) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace retort::safetensors;
  Header header;
  try {
    header = parse(data, size, "fuzz");
  } catch (const retort::Error&) {
    return 0;
  }
  uint64_t expected_begin = 0;
  uint8_t checksum = 0;
  for (const TensorInfo& t : header.tensors) {
    require(t.begin == expected_begin && t.begin <= t.end);
    uint64_t numel = 1;
    for (int64_t dim : t.shape) {
      require(dim >= 0);
      numel *= static_cast<uint64_t>(dim);
    }
    require(numel * dtype_size_bytes(t.dtype) == t.end - t.begin);
    // ASan checks that the first and last bytes parse() vouches for lie inside the input.
    if (t.end > t.begin) {
      checksum ^= data[header.data_start_bytes + t.begin];
      checksum ^= data[header.data_start_bytes + t.end - 1];
    }
    expected_begin = t.end;
  }
  require(header.data_start_bytes + expected_begin == size);
  g_sink = checksum;
  return 0;
}
