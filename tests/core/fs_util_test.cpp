// remove_tree and directory_is_empty on a small tree built here.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/fs_util.h"

namespace retort {
namespace {

namespace fs = std::filesystem;

TEST(FsUtil, RemoveTreeRemovesNestedFilesAndIsQuietWhenAbsent) {
  const fs::path root =
      fs::temp_directory_path() / ("retort_fs_util_" + std::to_string(::getpid()));
  fs::create_directories(root / "a" / "b");
  std::ofstream(root / "a" / "b" / "f.txt") << "x";
  std::ofstream(root / "g.txt") << "y";
  fs::create_symlink("/etc", root / "link");  // removed as a link, never followed
  EXPECT_FALSE(directory_is_empty(root.string()));
  EXPECT_FALSE(directory_is_empty((root / "a" / "b").string()));
  remove_tree(root.string());
  EXPECT_FALSE(fs::exists(root));
  EXPECT_TRUE(fs::exists("/etc"));
  remove_tree(root.string());  // already gone: nothing to do
  fs::create_directories(root);
  EXPECT_TRUE(directory_is_empty(root.string()));
  remove_tree(root.string());
  EXPECT_THROW(directory_is_empty(root.string()), Error);
}

}  // namespace
}  // namespace retort
