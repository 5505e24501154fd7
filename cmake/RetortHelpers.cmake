# Small helpers shared by every folder's CMakeLists.txt.

# Common flags for every retort target: warnings on, Torch's ABI flags, the repo root on the
# include path (so includes read "core/model_config.h"), and a precompiled header for the heavy
# LibTorch headers (each TU that includes <torch/torch.h> costs ~13 s on a 2-core machine).
function(retort_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra ${RETORT_TORCH_CXX_FLAGS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_precompile_headers(${target} PRIVATE ${PROJECT_SOURCE_DIR}/core/torch_pch.h)
endfunction()

# retort_library(name SOURCES a.cpp b.cpp DEPS lib1 lib2)
function(retort_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  retort_target_defaults(${name})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# retort_add_test(name LABEL unit|mpi|gpu SOURCES a_test.cpp ... DEPS libs...)
# Each GoogleTest case becomes its own ctest entry (discovered when ctest runs) with the label.
include(GoogleTest)
function(retort_add_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  retort_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    RETORT_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures"
    RETORT_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT})
endfunction()
