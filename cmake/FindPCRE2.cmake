# Finds PCRE2's 8-bit library (the tokenizers' pre-tokenizer regexes) and defines PCRE2::8bit.
# Honours CMAKE_PREFIX_PATH, e.g. the .deps/usr that shared/gpu/prepare-deps.sh unpacks.
find_path(PCRE2_INCLUDE_DIR pcre2.h)
find_library(PCRE2_8BIT_LIBRARY NAMES pcre2-8)
if(PCRE2_INCLUDE_DIR AND EXISTS "${PCRE2_INCLUDE_DIR}/pcre2.h")
  file(STRINGS "${PCRE2_INCLUDE_DIR}/pcre2.h" _pcre2_major REGEX "^#define PCRE2_MAJOR[ \t]+[0-9]+")
  file(STRINGS "${PCRE2_INCLUDE_DIR}/pcre2.h" _pcre2_minor REGEX "^#define PCRE2_MINOR[ \t]+[0-9]+")
  string(REGEX REPLACE ".*[ \t]([0-9]+)$" "\\1" _pcre2_major "${_pcre2_major}")
  string(REGEX REPLACE ".*[ \t]([0-9]+)$" "\\1" _pcre2_minor "${_pcre2_minor}")
  set(PCRE2_VERSION "${_pcre2_major}.${_pcre2_minor}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(PCRE2
  REQUIRED_VARS PCRE2_8BIT_LIBRARY PCRE2_INCLUDE_DIR
  VERSION_VAR PCRE2_VERSION)
if(PCRE2_FOUND AND NOT TARGET PCRE2::8bit)
  add_library(PCRE2::8bit UNKNOWN IMPORTED)
  set_target_properties(PCRE2::8bit PROPERTIES
    IMPORTED_LOCATION "${PCRE2_8BIT_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${PCRE2_INCLUDE_DIR}")
endif()
mark_as_advanced(PCRE2_INCLUDE_DIR PCRE2_8BIT_LIBRARY)
