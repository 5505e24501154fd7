// Error messages for the MPI_CHECK / NCCL_CHECK / CUDA_CHECK macros of api_check.h.
#include "distributed/api_check.h"

#include <stdexcept>

#include <c10/util/StringUtil.h>

#include "distributed/process_group.h"

namespace retort::dist::detail {

void throw_api_error(const char* library, const char* call, const char* file, int line,
                     const std::string& message) {
  throw std::runtime_error(c10::str(library, " call `", call, "` failed at ", file, ":", line,
                                    " on ", rank_prefix(), ": ", message));
}

std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return c10::str("MPI error ", code);
  return c10::str(std::string(text, length), " (code ", code, ")");
}

}  // namespace retort::dist::detail
