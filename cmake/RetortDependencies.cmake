# Finds retort's dependencies. Torch is looked up in this order:
#   1. Torch_DIR or CMAKE_PREFIX_PATH, when the user gives one;
#   2. python3's torch (torch.utils.cmake_prefix_path): many users have a pip torch and no LibTorch;
#   3. the system (Debian's libtorch-dev installs /usr/lib/<triple>/cmake/Torch).
if(NOT Torch_DIR)
  find_package(Torch QUIET NO_SYSTEM_ENVIRONMENT_PATH NO_CMAKE_SYSTEM_PATH)
  if(NOT Torch_FOUND)
    execute_process(
      COMMAND python3 -c "import torch; print(torch.utils.cmake_prefix_path)"
      OUTPUT_VARIABLE _retort_py_torch OUTPUT_STRIP_TRAILING_WHITESPACE
      ERROR_QUIET RESULT_VARIABLE _retort_py_rc)
    if(_retort_py_rc EQUAL 0 AND EXISTS "${_retort_py_torch}")
      message(STATUS "retort: using python3's torch at ${_retort_py_torch}")
      list(APPEND CMAKE_PREFIX_PATH "${_retort_py_torch}")
    endif()
  endif()
endif()
find_package(Torch REQUIRED)
message(STATUS "retort: Torch ${Torch_VERSION} (${TORCH_INSTALL_PREFIX})")
# Torch's config puts its ABI and warning flags into TORCH_CXX_FLAGS; targets get them through
# retort_library(). Python's torch builds with the C++11 ABI like every other library here.
separate_arguments(RETORT_TORCH_CXX_FLAGS UNIX_COMMAND "${TORCH_CXX_FLAGS}")

find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Threads REQUIRED)
if(RETORT_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
# Tokenizers: PCRE2 for the pre-tokenizer regexes, utf8proc for Unicode normalization
# (cmake/FindPCRE2.cmake, cmake/Findutf8proc.cmake; both honour CMAKE_PREFIX_PATH).
find_package(PCRE2 10.30 REQUIRED)
find_package(utf8proc REQUIRED)
