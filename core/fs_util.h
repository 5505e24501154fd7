// Small file-system helpers that avoid std::filesystem's directory iteration. pip's LibTorch 2.x
// exports its own copy of those libstdc++ symbols, and with it std::filesystem::remove_all on a
// non-empty directory crashes (seen on the GPU machine with torch 2.11); POSIX calls don't care.
#pragma once

#include <string>

namespace retort {

// Removes `path` and everything below it (like `rm -rf`); a missing path is not an error.
// Throws retort::Error naming the entry that could not be removed.
void remove_tree(const std::string& path);

// True when `path` is a directory with no entries.
bool directory_is_empty(const std::string& path);

}  // namespace retort
