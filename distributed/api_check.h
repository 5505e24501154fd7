// MPI_CHECK / NCCL_CHECK / CUDA_CHECK: wrap a C API call; on failure throw std::runtime_error
// naming the call, file:line, the library's own message and the rank. Internal to distributed/
// (it includes <mpi.h> and, in CUDA builds, <nccl.h>); no public header may include it.
#pragma once

#include <string>

#include <mpi.h>
#ifdef RETORT_WITH_NCCL
#include <cuda_runtime_api.h>
#include <nccl.h>
#endif

namespace retort::dist::detail {

// "<library> call `<call>` failed at <file>:<line> on [rank r/W]: <message>"
[[noreturn]] void throw_api_error(const char* library, const char* call, const char* file, int line,
                                  const std::string& message);
std::string mpi_error_string(int code);

}  // namespace retort::dist::detail

#define MPI_CHECK(call)                                             \
  do {                                                              \
    const int retort_mpi_rc = (call);                               \
    if (retort_mpi_rc != MPI_SUCCESS) {                             \
      ::retort::dist::detail::throw_api_error(                      \
          "MPI", #call, __FILE__, __LINE__,                         \
          ::retort::dist::detail::mpi_error_string(retort_mpi_rc)); \
    }                                                               \
  } while (0)

#ifdef RETORT_WITH_NCCL
// ncclGetLastError carries the detail (e.g. which peer or transport failed) that the result code
// alone does not.
#define NCCL_CHECK(call)                                                                        \
  do {                                                                                          \
    const ncclResult_t retort_nccl_rc = (call);                                                 \
    if (retort_nccl_rc != ncclSuccess) {                                                        \
      ::retort::dist::detail::throw_api_error("NCCL", #call, __FILE__, __LINE__,                \
                                              std::string(ncclGetErrorString(retort_nccl_rc)) + \
                                                  " (" + ncclGetLastError(nullptr) + ")");      \
    }                                                                                           \
  } while (0)

#define CUDA_CHECK(call)                                                           \
  do {                                                                             \
    const cudaError_t retort_cuda_rc = (call);                                     \
    if (retort_cuda_rc != cudaSuccess) {                                           \
      ::retort::dist::detail::throw_api_error("CUDA", #call, __FILE__, __LINE__,   \
                                              cudaGetErrorString(retort_cuda_rc)); \
    }                                                                              \
  } while (0)
#endif
