#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "support/temp_dir.hpp"
#include "tuna/artifacts.hpp"

namespace tuna {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::size_t CountObjects(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir / "sha256")) n += entry.is_regular_file();
  return n;
}

TEST(ArtifactDigestTest, KnownVectors) {
  EXPECT_EQ(Sha256Bytes(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Bytes("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  TempDir dir;
  // Larger than one read buffer, so the streaming path is exercised.
  std::string big(200000, 'x');
  WriteFile(dir / "big", big);
  auto file_digest = Sha256File(dir / "big");
  ASSERT_TRUE(file_digest.ok()) << file_digest.status().ToString();
  EXPECT_EQ(*file_digest, Sha256Bytes(big));
  EXPECT_EQ(Sha256File(dir / "missing").status().code(), StatusCode::kNotFound);
}

TEST(ArtifactDigestTest, Validation) {
  EXPECT_TRUE(IsValidDigest(Sha256Bytes("x")));
  EXPECT_FALSE(IsValidDigest(""));
  EXPECT_FALSE(IsValidDigest("sha256:"));
  EXPECT_FALSE(IsValidDigest("md5:" + std::string(64, 'a')));
  EXPECT_FALSE(IsValidDigest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(IsValidDigest("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(IsValidDigest("sha256:../../../../etc/passwd" + std::string(36, 'a')));
}

TEST(ArtifactStoreTest, PutFetchRoundTripAndDedupe) {
  TempDir dir;
  auto store = MakeLocalArtifactStore({dir / "store"});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  WriteFile(dir / "a", "hello artifact");
  auto d1 = (*store)->Put(dir / "a");
  ASSERT_TRUE(d1.ok()) << d1.status().ToString();
  EXPECT_EQ(*d1, Sha256Bytes("hello artifact"));
  auto d2 = (*store)->PutBytes("hello artifact");
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ(*d1, *d2);
  EXPECT_EQ(CountObjects(dir / "store"), 1u);
  auto other = (*store)->PutBytes("other");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(CountObjects(dir / "store"), 2u);

  EXPECT_TRUE((*store)->Contains(*d1).value_or(false));
  ASSERT_TRUE((*store)->Fetch(*d1, dir / "out" / "copy").ok());
  EXPECT_EQ(ReadFile(dir / "out" / "copy"), "hello artifact");
  // No temp files are left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "store" / "tmp"), fs::directory_iterator()), 0);

  ASSERT_TRUE((*store)->Remove(*d1).ok());
  EXPECT_FALSE((*store)->Contains(*d1).value_or(true));
  EXPECT_EQ((*store)->Fetch(*d1, dir / "again").code(), StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir / "again"));
  EXPECT_TRUE((*store)->Remove(*d1).ok());  // idempotent
}

TEST(ArtifactStoreTest, RejectsMalformedDigests) {
  TempDir dir;
  auto store = MakeLocalArtifactStore({dir / "store"});
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->Fetch("sha256:../../etc", dir / "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->Contains("nope").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->Remove("nope").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->Put(dir / "does-not-exist").status().code(), StatusCode::kNotFound);
}

TEST(ArtifactStoreTest, FetchVerifiesContent) {
  TempDir dir;
  auto store = MakeLocalArtifactStore({dir / "store"});
  ASSERT_TRUE(store.ok());
  auto digest = (*store)->PutBytes("original bytes");
  ASSERT_TRUE(digest.ok());
  // Corrupt the stored object behind the store's back.
  fs::path object;
  for (const auto& entry : fs::recursive_directory_iterator(dir / "store" / "sha256")) {
    if (entry.is_regular_file()) object = entry.path();
  }
  ASSERT_FALSE(object.empty());
  ::chmod(object.c_str(), 0644);
  WriteFile(object, "tampered bytes");
  Status status = (*store)->Fetch(*digest, dir / "dest");
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_NE(status.message().find("corrupted"), std::string::npos) << status.ToString();
  EXPECT_FALSE(fs::exists(dir / "dest"));
}

TEST(ArtifactStoreTest, ConcurrentPutsOfSameContent) {
  TempDir dir;
  auto store = MakeLocalArtifactStore({dir / "store"});
  ASSERT_TRUE(store.ok());
  std::string content(100000, 'q');
  std::vector<std::thread> threads;
  std::vector<Digest> digests(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { digests[i] = (*store)->PutBytes(content).value_or(""); });
  }
  for (auto& t : threads) t.join();
  for (const auto& d : digests) EXPECT_EQ(d, Sha256Bytes(content));
  EXPECT_EQ(CountObjects(dir / "store"), 1u);
  ASSERT_TRUE((*store)->Fetch(digests[0], dir / "d").ok());
  EXPECT_EQ(ReadFile(dir / "d"), content);
}

}  // namespace
}  // namespace tuna
