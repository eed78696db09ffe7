#include "freshet/base/file_system.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "freshet/base/fault_injecting_file_system.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

class FileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("freshet_fs_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // The whole file, read through `fsys`; "<error>" when it cannot be read.
  static std::string Contents(FileSystem& fsys, const std::string& path) {
    auto f = fsys.NewSequentialFile(path);
    if (!f.ok()) return "<error>";
    std::string out;
    char buf[7];  // small, so that reads take several calls
    while (true) {
      auto n = (*f)->Read(buf, sizeof(buf));
      if (!n.ok()) return "<error>";
      if (*n == 0) return out;
      out.append(buf, *n);
    }
  }

  static absl::Status WriteFile(FileSystem& fsys, const std::string& path,
                                const std::string& text, bool sync) {
    auto f = fsys.NewWritableFile(path);
    if (!f.ok()) return f.status();
    absl::Status s = (*f)->Append(text);
    if (s.ok() && sync) s = (*f)->Sync();
    if (s.ok()) s = (*f)->Close();
    return s;
  }

  std::string dir_;
};

TEST_F(FileSystemTest, PosixWritesReadsAndLists) {
  FileSystem& fsys = *FileSystem::Default();
  ASSERT_TRUE(fsys.CreateDirs(Path("a/b")).ok());
  ASSERT_TRUE(fsys.CreateDir(Path("a/b")).ok());  // already there: fine
  ASSERT_TRUE(WriteFile(fsys, Path("a/f"), "hello", true).ok());
  {
    auto f = fsys.NewAppendableFile(Path("a/f"));
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append(" world").ok());
    ASSERT_TRUE((*f)->Close().ok());
  }
  EXPECT_EQ(Contents(fsys, Path("a/f")), "hello world");
  auto info = fsys.Stat(Path("a/f"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->type, FileType::kRegular);
  EXPECT_EQ(info->size, 11u);
  EXPECT_EQ(fsys.Stat(Path("a"))->type, FileType::kDirectory);
  EXPECT_TRUE(absl::IsNotFound(fsys.Stat(Path("none")).status()));
  EXPECT_EQ(fsys.Stat(Path("none")).status().message(),
            "No such file or directory");
  EXPECT_FALSE(fsys.Exists(Path("none")));

  auto r = fsys.NewRandomAccessFile(Path("a/f"));
  ASSERT_TRUE(r.ok());
  std::string buf(5, '\0');
  EXPECT_EQ(*(*r)->ReadAt(6, buf.data(), 5), 5u);
  EXPECT_EQ(buf, "world");
  EXPECT_EQ(*(*r)->ReadAt(9, buf.data(), 5), 2u);  // short at the end
  EXPECT_EQ(*(*r)->Size(), 11u);

  auto s = fsys.NewSequentialFile(Path("a/f"));
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Skip(6).ok());
  EXPECT_EQ(*(*s)->Read(buf.data(), 5), 5u);
  EXPECT_EQ(buf, "world");

  auto list = fsys.ListDir(Path("a"));
  ASSERT_TRUE(list.ok());
  std::sort(
      list->begin(), list->end(),
      [](const DirEntry& x, const DirEntry& y) { return x.name < y.name; });
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "b");
  EXPECT_EQ((*list)[0].type, FileType::kDirectory);
  EXPECT_EQ((*list)[1].name, "f");
  EXPECT_EQ((*list)[1].type, FileType::kRegular);
  EXPECT_TRUE(absl::IsNotFound(fsys.ListDir(Path("none")).status()));

  ASSERT_TRUE(fsys.Rename(Path("a"), Path("c")).ok());
  EXPECT_EQ(Contents(fsys, Path("c/f")), "hello world");
  ASSERT_TRUE(fsys.SyncDir(Path("c")).ok());
  ASSERT_TRUE(fsys.RemoveAll(Path("c")).ok());
  EXPECT_FALSE(fsys.Exists(Path("c")));
  EXPECT_TRUE(fsys.RemoveAll(Path("c")).ok());  // missing: no error
  EXPECT_TRUE(absl::IsNotFound(fsys.NewWritableFile(Path("x/y")).status()));
}

// Follow mode tells a rotated file by its identity and reads what an open
// file still holds after its path was renamed or removed.
TEST_F(FileSystemTest, OpenFileKeepsItsIdentityAcrossRenameAndRemoval) {
  PosixFileSystem fsys;
  ASSERT_TRUE(WriteFile(fsys, Path("log"), "abcdef", false).ok());
  auto before = fsys.Stat(Path("log"));
  ASSERT_TRUE(before.ok());
  auto f = fsys.NewSequentialFile(Path("log"));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(fsys.Rename(Path("log"), Path("log.1")).ok());
  ASSERT_TRUE(WriteFile(fsys, Path("log"), "new", false).ok());
  auto open = (*f)->Stat();
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->SameFile(*before));
  EXPECT_TRUE(open->SameFile(*fsys.Stat(Path("log.1"))));
  EXPECT_FALSE(open->SameFile(*fsys.Stat(Path("log"))));
  EXPECT_EQ(open->size, 6u);

  ASSERT_TRUE(fsys.RemoveAll(Path("log.1")).ok());
  std::string buf(4, '\0');
  EXPECT_EQ(*(*f)->ReadAt(3, buf.data(), 4), 3u);  // short at the end
  EXPECT_EQ(buf.substr(0, 3), "def");
  EXPECT_EQ(*(*f)->Read(buf.data(), 4), 4u);  // ReadAt did not move it
  EXPECT_EQ(buf, "abcd");
}

// A whole small file: written and replaced, and each way it can fail (open,
// write, a full device) is the returned status.
TEST_F(FileSystemTest, WriteStringToFile) {
  FileSystem* posix = FileSystem::Default();
  ASSERT_TRUE(WriteStringToFile(posix, Path("m.json"), "{\"a\": 1}\n").ok());
  ASSERT_TRUE(WriteStringToFile(posix, Path("m.json"), "{}\n").ok());
  EXPECT_EQ(Contents(*posix, Path("m.json")), "{}\n");
  EXPECT_EQ(WriteStringToFile(posix, Path("m.json/x"), "{}").code(),
            absl::StatusCode::kInternal);  // under a regular file
  if (posix->Exists("/dev/full")) {
    absl::Status full = WriteStringToFile(posix, "/dev/full", "{}");
    EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(full.message(), "No space left on device");
  }
  FaultInjectingFileSystem faulty;
  faulty.FailWritesUnder(dir_);
  EXPECT_EQ(WriteStringToFile(&faulty, Path("n.json"), "{}").code(),
            absl::StatusCode::kInternal);
}

TEST_F(FileSystemTest, NthWriteFails) {
  FaultInjectingFileSystem fsys;
  auto f = fsys.NewWritableFile(Path("f"));
  ASSERT_TRUE(f.ok());
  fsys.FailNthWrite(2);
  EXPECT_TRUE((*f)->Append("one ").ok());
  absl::Status s = (*f)->Append("two ");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(s.message(), "Input/output error");
  EXPECT_TRUE((*f)->Append("three").ok());  // once only
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(Contents(fsys, Path("f")), "one three");
  EXPECT_EQ(fsys.failures(), 1);
}

TEST_F(FileSystemTest, WritesUnderAPrefixFail) {
  FaultInjectingFileSystem fsys;
  ASSERT_TRUE(fsys.CreateDir(Path("bad")).ok());
  fsys.FailWritesUnder(Path("bad/"));
  EXPECT_FALSE(WriteFile(fsys, Path("bad/f"), "x", false).ok());
  EXPECT_FALSE(WriteFile(fsys, Path("bad/g"), "x", false).ok());
  EXPECT_TRUE(WriteFile(fsys, Path("good"), "x", false).ok());
  EXPECT_EQ(fsys.failures(), 2);
  fsys.ClearFaults();
  EXPECT_TRUE(WriteFile(fsys, Path("bad/f"), "x", false).ok());
}

TEST_F(FileSystemTest, RenamesFail) {
  FaultInjectingFileSystem fsys;
  ASSERT_TRUE(WriteFile(fsys, Path("f"), "x", true).ok());
  fsys.FailRenames(true);
  absl::Status s = fsys.Rename(Path("f"), Path("g"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(fsys.Exists(Path("f")));
  EXPECT_FALSE(fsys.Exists(Path("g")));
  fsys.FailRenames(false);
  EXPECT_TRUE(fsys.Rename(Path("f"), Path("g")).ok());
  EXPECT_TRUE(fsys.Exists(Path("g")));
}

TEST_F(FileSystemTest, FullDiskFailsWritesPastTheBudgetAndRemovalFreesSpace) {
  FaultInjectingFileSystem fsys;
  fsys.SetSpaceBudget(10);
  ASSERT_TRUE(WriteFile(fsys, Path("a"), "123456", true).ok());
  auto f = fsys.NewWritableFile(Path("b"));
  ASSERT_TRUE(f.ok());
  absl::Status s = (*f)->Append("abcdefgh");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(), "No space left on device");
  ASSERT_TRUE((*f)->Close().ok());
  // What fitted was written, as on a real disk.
  EXPECT_EQ(Contents(fsys, Path("b")), "abcd");
  EXPECT_EQ(fsys.space_left(), 0);
  EXPECT_EQ(fsys.failures(), 1);
  ASSERT_TRUE(fsys.RemoveAll(Path("a")).ok());
  EXPECT_EQ(fsys.space_left(), 6);
  // Truncating a file gives its bytes back too.
  ASSERT_TRUE(WriteFile(fsys, Path("b"), "xy", true).ok());
  EXPECT_EQ(fsys.space_left(), 8);
}

TEST_F(FileSystemTest, DropUnsyncedDataCutsFilesBackToTheirSyncedLength) {
  FaultInjectingFileSystem fsys;
  ASSERT_TRUE(fsys.CreateDir(Path("d.tmp")).ok());
  {
    auto f = fsys.NewWritableFile(Path("d.tmp/f"));
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("synced").ok());
    ASSERT_TRUE((*f)->Sync().ok());
    ASSERT_TRUE((*f)->Append(" lost").ok());
    ASSERT_TRUE((*f)->Close().ok());
  }
  ASSERT_TRUE(WriteFile(fsys, Path("never"), "all lost", false).ok());
  // The synced length follows a file through a rename of its folder.
  ASSERT_TRUE(fsys.Rename(Path("d.tmp"), Path("d")).ok());
  // Appending to it later does not make its unsynced tail durable.
  {
    auto f = fsys.NewAppendableFile(Path("d/f"));
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append(" more").ok());
    ASSERT_TRUE((*f)->Close().ok());
  }
  EXPECT_EQ(Contents(fsys, Path("d/f")), "synced lost more");
  ASSERT_TRUE(fsys.DropUnsyncedData().ok());
  EXPECT_EQ(Contents(fsys, Path("d/f")), "synced");
  EXPECT_EQ(Contents(fsys, Path("never")), "");
  // Files it did not write are left alone.
  ASSERT_TRUE(
      WriteFile(*FileSystem::Default(), Path("other"), "kept", false).ok());
  ASSERT_TRUE(fsys.DropUnsyncedData().ok());
  EXPECT_EQ(Contents(fsys, Path("other")), "kept");
}

}  // namespace
}  // namespace freshet
