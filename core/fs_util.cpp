// remove_tree / directory_is_empty on nftw(3) and readdir(3).
#include "core/fs_util.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace retort {
namespace {

std::string failed_entry;  // the first entry remove() refused, for the error message
int failed_errno = 0;

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  if (std::remove(path) != 0 && failed_entry.empty()) {
    failed_entry = path;
    failed_errno = errno;
  }
  return 0;
}

}  // namespace

void remove_tree(const std::string& path) {
  struct stat info;
  if (::lstat(path.c_str(), &info) != 0) return;  // nothing there
  failed_entry.clear();
  // Children before their directory (FTW_DEPTH); never follow symbolic links (FTW_PHYS).
  ::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  RETORT_CHECK(failed_entry.empty(), failed_entry,
               ": cannot remove: ", std::strerror(failed_errno));
}

bool directory_is_empty(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  RETORT_CHECK(dir != nullptr, path, ": cannot open directory: ", std::strerror(errno));
  bool empty = true;
  while (const dirent* entry = ::readdir(dir)) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(dir);
  return empty;
}

}  // namespace retort
