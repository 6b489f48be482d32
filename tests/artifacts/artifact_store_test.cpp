#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "support/files.hpp"
#include "artifacts/s3_client.hpp"
#include "artifacts/s3_moto_server.hpp"
#include "support/temp_dir.hpp"
#include "tuna/artifacts.hpp"

namespace tuna {
namespace {
using testing::ReadFile;
using testing::WriteFile;

namespace fs = std::filesystem;
using testing::MotoServer;
using testing::TempDir;



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

// The behaviour every ArtifactStore backend shares, run over each backend. A backend supplies
// what only it can see: how many objects it holds, a way to corrupt one behind the store's back,
// and a check that no temp files / unfinished uploads were left behind.
class ArtifactBackend {
 public:
  virtual ~ArtifactBackend() = default;
  /// A fresh, empty store (nullptr after a test failure).
  virtual ArtifactStorePtr MakeStore() = 0;
  virtual std::size_t CountObjects() = 0;
  /// Replaces the stored bytes of `digest` with `bytes`.
  virtual void Corrupt(const Digest& digest, const std::string& bytes) = 0;
  virtual void ExpectNoLeftovers() = 0;
};

class LocalBackend final : public ArtifactBackend {
 public:
  explicit LocalBackend(const TempDir& dir) : root_(dir / "store") {}
  ArtifactStorePtr MakeStore() override {
    auto store = MakeLocalArtifactStore({root_});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  std::size_t CountObjects() override { return ::tuna::CountObjects(root_); }
  void Corrupt(const Digest& digest, const std::string& bytes) override {
    fs::path object;
    for (const auto& entry : fs::recursive_directory_iterator(root_ / "sha256")) {
      if (entry.is_regular_file() && entry.path().filename() == digest.substr(7)) object = entry.path();
    }
    ASSERT_FALSE(object.empty());
    ::chmod(object.c_str(), 0644);
    WriteFile(object, bytes);
  }
  void ExpectNoLeftovers() override {
    EXPECT_EQ(std::distance(fs::directory_iterator(root_ / "tmp"), fs::directory_iterator()), 0);
  }

 private:
  fs::path root_;
};

class S3Backend final : public ArtifactBackend {
 public:
  ArtifactStorePtr MakeStore() override {
    MotoServer& moto = MotoServer::Get();
    EXPECT_TRUE(moto.ok()) << moto.error();
    if (!moto.ok()) return nullptr;
    std::string why;
    options_ = moto.Options(moto.NewBucket(&why));
    EXPECT_FALSE(options_.bucket.empty()) << why;
    if (options_.bucket.empty()) return nullptr;
    options_.prefix = "artifacts/";
    auto store = MakeS3ArtifactStore(options_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  std::size_t CountObjects() override {
    // The bucket is this test's own, so every key in it counts. (No prefix= in the query: moto
    // canonicalizes a "/" in query values unencoded, unlike S3.)
    return artifacts::XmlElementTexts(List("list-type=2"), "Key").size();
  }
  void Corrupt(const Digest& digest, const std::string& bytes) override {
    artifacts::S3Client client(options_);
    artifacts::S3Request put{.method = "PUT", .key = options_.prefix + digest.substr(7), .body = bytes};
    auto response = client.Send(put);
    ASSERT_TRUE(response.ok() && response->ok()) << response.status().ToString();
  }
  void ExpectNoLeftovers() override {
    // No unfinished multipart uploads (their parts would be invisible garbage).
    EXPECT_TRUE(artifacts::XmlElementTexts(List("uploads="), "UploadId").empty());
  }

 private:
  // `query` must be canonical (sorted, encoded): libcurl 7.88 signs it as given.
  std::string List(const std::string& query) {
    artifacts::S3Client client(options_);
    artifacts::S3Request list{.method = "GET", .query = query};
    auto response = client.Send(list);
    EXPECT_TRUE(response.ok() && response->ok()) << response.status().ToString() << " "
                                                 << (response.ok() ? response->body : "");
    return response.ok() ? response->body : "";
  }
  S3ArtifactStoreOptions options_;
};

class ArtifactStoreConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "Local") backend_ = std::make_unique<LocalBackend>(dir_);
    else backend_ = std::make_unique<S3Backend>();
    store_ = backend_->MakeStore();
    ASSERT_NE(store_, nullptr);
  }
  TempDir dir_;
  std::unique_ptr<ArtifactBackend> backend_;
  ArtifactStorePtr store_;
};

TEST_P(ArtifactStoreConformanceTest, PutFetchRoundTripAndDedupe) {
  ArtifactStore* store = store_.get();
  WriteFile(dir_ / "a", "hello artifact");
  auto d1 = store->Put(dir_ / "a");
  ASSERT_TRUE(d1.ok()) << d1.status().ToString();
  EXPECT_EQ(*d1, Sha256Bytes("hello artifact"));
  auto d2 = store->PutBytes("hello artifact");
  ASSERT_TRUE(d2.ok()) << d2.status().ToString();
  EXPECT_EQ(*d1, *d2);
  EXPECT_EQ(backend_->CountObjects(), 1u);
  auto other = store->PutBytes("other");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(backend_->CountObjects(), 2u);

  EXPECT_TRUE(store->Contains(*d1).value_or(false));
  ASSERT_TRUE(store->Fetch(*d1, dir_ / "out" / "copy").ok());
  EXPECT_EQ(ReadFile(dir_ / "out" / "copy"), "hello artifact");
  // No temp files (or unfinished uploads) are left behind.
  backend_->ExpectNoLeftovers();

  ASSERT_TRUE(store->Remove(*d1).ok());
  EXPECT_FALSE(store->Contains(*d1).value_or(true));
  EXPECT_EQ(store->Fetch(*d1, dir_ / "again").code(), StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir_ / "again"));
  EXPECT_TRUE(store->Remove(*d1).ok());  // idempotent
  // Nothing of the failed fetch is left next to the destination either.
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  }
}

TEST_P(ArtifactStoreConformanceTest, EmptyContent) {
  auto digest = store_->PutBytes("");
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, Sha256Bytes(""));
  ASSERT_TRUE(store_->Fetch(*digest, dir_ / "empty").ok());
  EXPECT_TRUE(fs::exists(dir_ / "empty"));
  EXPECT_EQ(ReadFile(dir_ / "empty"), "");
}

TEST_P(ArtifactStoreConformanceTest, RejectsMalformedDigests) {
  EXPECT_EQ(store_->Fetch("sha256:../../etc", dir_ / "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Contains("nope").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Remove("nope").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Put(dir_ / "does-not-exist").status().code(), StatusCode::kNotFound);
}

TEST_P(ArtifactStoreConformanceTest, FetchVerifiesContent) {
  auto digest = store_->PutBytes("original bytes");
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  // Corrupt the stored object behind the store's back.
  backend_->Corrupt(*digest, "tampered bytes");
  Status status = store_->Fetch(*digest, dir_ / "dest");
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_NE(status.message().find("corrupted"), std::string::npos) << status.ToString();
  EXPECT_FALSE(fs::exists(dir_ / "dest"));
}

TEST_P(ArtifactStoreConformanceTest, ConcurrentPutsOfSameContent) {
  std::string content(100000, 'q');
  std::vector<std::thread> threads;
  std::vector<Digest> digests(8);
  std::vector<std::string> errors(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto d = store_->PutBytes(content);
      digests[i] = d.value_or("");
      if (!d.ok()) errors[i] = d.status().ToString();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(digests[i], Sha256Bytes(content)) << errors[i];
  EXPECT_EQ(backend_->CountObjects(), 1u);
  ASSERT_TRUE(store_->Fetch(digests[0], dir_ / "d").ok());
  EXPECT_EQ(ReadFile(dir_ / "d"), content);
}

INSTANTIATE_TEST_SUITE_P(ArtifactBackends, ArtifactStoreConformanceTest, ::testing::Values("Local", "S3"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tuna
