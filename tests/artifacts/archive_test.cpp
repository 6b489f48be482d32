#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "support/files.hpp"
#include "artifacts/archive.hpp"
#include "support/temp_dir.hpp"

namespace tuna::artifacts {
namespace {
using testing::ReadFile;
using testing::WriteFile;

namespace fs = std::filesystem;
using testing::TempDir;

struct TestEntry {
  std::string name;
  mode_t type = AE_IFREG;
  std::string content;
  std::string symlink;   // for AE_IFLNK
  std::string hardlink;  // makes it a hardlink entry
  mode_t perm = 0644;
};

// Writes a tar with exactly these entries (libarchive's writer does not sanitise names).
void WriteTar(const fs::path& path, const std::vector<TestEntry>& entries) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_filetype(entry, e.type);
    archive_entry_set_perm(entry, e.perm);
    if (!e.symlink.empty()) archive_entry_set_symlink(entry, e.symlink.c_str());
    if (!e.hardlink.empty()) archive_entry_set_hardlink(entry, e.hardlink.c_str());
    archive_entry_set_size(entry, e.type == AE_IFREG && e.hardlink.empty() ? e.content.size() : 0);
    ASSERT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << archive_error_string(a);
    if (e.type == AE_IFREG && e.hardlink.empty() && !e.content.empty()) {
      archive_write_data(a, e.content.data(), e.content.size());
    }
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
}



// Extracting `entries` must fail with InvalidArgument mentioning `mention`.
void ExpectRefused(const TempDir& dir, const std::vector<TestEntry>& entries, const std::string& mention) {
  WriteTar(dir / "evil.tar", entries);
  Status status = ExtractSafely(dir / "evil.tar", dir / "root");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find(mention), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("unsafe archive entry"), std::string::npos) << status.ToString();
}

TEST(ArchiveTest, RoundTripKeepsFilesModesAndInnerSymlinks) {
  TempDir dir;
  WriteFile(dir / "src" / "app.py", "print('hi')\n");
  WriteFile(dir / "src" / "lib" / "mod.py", "x = 1\n");
  WriteFile(dir / "src" / "bin" / "run", "#!/bin/sh\necho run\n");
  ::chmod((dir / "src" / "bin" / "run").c_str(), 0755);
  fs::create_directory_symlink("lib", dir / "src" / "lib64");
  fs::create_symlink("../app.py", dir / "src" / "bin" / "app");
  fs::create_directories(dir / "src" / "empty");
  ASSERT_TRUE(CreateTarGz(dir / "src", dir / "out.tar.gz").ok());

  Status status = ExtractSafely(dir / "out.tar.gz", dir / "dst");
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(ReadFile(dir / "dst" / "app.py"), "print('hi')\n");
  EXPECT_EQ(ReadFile(dir / "dst" / "lib" / "mod.py"), "x = 1\n");
  EXPECT_EQ(ReadFile(dir / "dst" / "lib64" / "mod.py"), "x = 1\n");
  EXPECT_EQ(ReadFile(dir / "dst" / "bin" / "app"), "print('hi')\n");
  EXPECT_TRUE(fs::is_symlink(dir / "dst" / "lib64"));
  EXPECT_TRUE(fs::is_directory(dir / "dst" / "empty"));
  struct stat st;
  ASSERT_EQ(::stat((dir / "dst" / "bin" / "run").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR);

  // The same tree archives to the same bytes (sorted entries, no gzip timestamp).
  ASSERT_TRUE(CreateTarGz(dir / "src", dir / "again.tar.gz").ok());
  EXPECT_EQ(ReadFile(dir / "out.tar.gz"), ReadFile(dir / "again.tar.gz"));
}

TEST(ArchiveTest, RefusesDotDotPaths) {
  TempDir dir;
  ExpectRefused(dir, {{.name = "../x", .content = "pwned"}}, "'../x'");
  EXPECT_FALSE(fs::exists(dir / "x"));
  ExpectRefused(dir, {{.name = "a/../../y", .content = "pwned"}}, "'..'");
  EXPECT_FALSE(fs::exists(dir / "y"));
}

TEST(ArchiveTest, RefusesAbsolutePaths) {
  TempDir dir;
  TempDir outside;
  std::string target = (outside / "x").string();
  ExpectRefused(dir, {{.name = target, .content = "pwned"}}, "absolute path");
  EXPECT_FALSE(fs::exists(target));
}

TEST(ArchiveTest, RefusesSymlinkOutsideThenWriteThroughIt) {
  TempDir dir;
  TempDir outside;
  ExpectRefused(dir,
                {{.name = "link", .type = AE_IFLNK, .symlink = outside.path()},
                 {.name = "link/pwned", .content = "pwned"}},
                "symlink to an absolute path");
  EXPECT_FALSE(fs::exists(outside / "pwned"));

  TempDir dir2;
  ExpectRefused(dir2,
                {{.name = "sub/link", .type = AE_IFLNK, .symlink = "../../.."},
                 {.name = "sub/link/pwned", .content = "pwned"}},
                "escapes");
  // ".." after a name could climb out through another link ("s" -> ".", "t" -> "s/..").
  TempDir dir3;
  ExpectRefused(dir3, {{.name = "s", .type = AE_IFLNK, .symlink = "."}, {.name = "t", .type = AE_IFLNK, .symlink = "s/.."}},
                "'..' after a name");
}

TEST(ArchiveTest, RefusesWritingThroughAnyExtractedSymlink) {
  TempDir dir;
  ExpectRefused(dir,
                {{.name = "real", .type = AE_IFDIR, .perm = 0755},
                 {.name = "alias", .type = AE_IFLNK, .symlink = "real"},
                 {.name = "alias/file", .content = "x"}},
                "through the symlink 'alias'");
}

TEST(ArchiveTest, RefusesEscapingHardlinks) {
  TempDir dir;
  ExpectRefused(dir, {{.name = "h", .hardlink = "/etc/passwd"}}, "absolute path");
  ExpectRefused(dir, {{.name = "h", .hardlink = "../../etc/passwd"}}, "'..'");
  ExpectRefused(dir, {{.name = "h", .hardlink = "not-there"}}, "not a file extracted before it");
  // A hardlink to a file inside is fine.
  TempDir ok;
  WriteTar(ok / "good.tar", {{.name = "a", .content = "same"}, {.name = "b", .hardlink = "a"}});
  Status status = ExtractSafely(ok / "good.tar", ok / "root");
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(ReadFile(ok / "root" / "b"), "same");
}

TEST(ArchiveTest, RefusesDevicesAndStripsSetuid) {
  TempDir dir;
  ExpectRefused(dir, {{.name = "dev", .type = AE_IFCHR}}, "device");
  TempDir ok;
  WriteTar(ok / "suid.tar", {{.name = "tool", .content = "#!/bin/sh\n", .perm = 04755}});
  ASSERT_TRUE(ExtractSafely(ok / "suid.tar", ok / "root").ok());
  struct stat st;
  ASSERT_EQ(::stat((ok / "root" / "tool").c_str(), &st), 0);
  EXPECT_FALSE(st.st_mode & S_ISUID);
  EXPECT_TRUE(st.st_mode & S_IXUSR);
}

TEST(ArchiveTest, EnforcesLimits) {
  TempDir dir;
  WriteTar(dir / "many.tar", {{.name = "a"}, {.name = "b"}, {.name = "c"}, {.name = "d"}});
  Status status = ExtractSafely(dir / "many.tar", dir / "r1", {.max_total_bytes = 1 << 20, .max_entries = 3});
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << status.ToString();
  WriteTar(dir / "big.tar", {{.name = "big", .content = std::string(1000, 'z')}});
  status = ExtractSafely(dir / "big.tar", dir / "r2", {.max_total_bytes = 100, .max_entries = 10});
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << status.ToString();
}

TEST(ArchiveTest, RejectsGarbage) {
  TempDir dir;
  WriteFile(dir / "garbage.tar.gz", "this is not an archive at all");
  Status status = ExtractSafely(dir / "garbage.tar.gz", dir / "root");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_EQ(CreateTarGz(dir / "missing", dir / "x.tgz").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tuna::artifacts
