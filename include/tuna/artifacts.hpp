#pragma once
/// ArtifactStore: content-addressed (sha256) storage of source snapshots and build outputs.
/// Builds and drivers read archives only through it. Backends: local directory, S3 (or any
/// S3-compatible service: MinIO, moto). See docs/artifacts.md.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "tuna/status.hpp"

namespace tuna {

/// "sha256:<64 hex>"; the only form of artifact address.
using Digest = std::string;

/// True when `digest` is "sha256:" followed by 64 lower-case hex digits.
bool IsValidDigest(std::string_view digest);

/// sha256 of a file / of bytes, as a Digest.
Result<Digest> Sha256File(const std::filesystem::path& path);
Digest Sha256Bytes(std::string_view bytes);

class ArtifactStore {
 public:
  virtual ~ArtifactStore() = default;
  /// Stores a file's content; returns its digest. Storing the same content twice stores it once.
  virtual Result<Digest> Put(const std::filesystem::path& file) = 0;
  /// Stores bytes; returns their digest.
  virtual Result<Digest> PutBytes(std::string_view bytes) = 0;
  /// Copies the content with `digest` to `destination` (verifying the digest). NotFound if absent.
  virtual Status Fetch(std::string_view digest, const std::filesystem::path& destination) = 0;
  /// Whether content with `digest` is stored.
  virtual Result<bool> Contains(std::string_view digest) = 0;
  /// Removes content (no error if absent).
  virtual Status Remove(std::string_view digest) = 0;
};
using ArtifactStorePtr = std::unique_ptr<ArtifactStore>;

struct LocalArtifactStoreOptions {
  std::filesystem::path directory;  // created if missing
};

/// A directory of files named by digest, written atomically (temp file + rename + fsync).
Result<ArtifactStorePtr> MakeLocalArtifactStore(LocalArtifactStoreOptions options);

struct S3ArtifactStoreOptions {
  std::string endpoint;             // "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000"
  std::string region = "us-east-1";  // part of the SigV4 scope
  std::string bucket;               // must exist; the store never creates it
  std::string prefix;               // key prefix ("tuna/artifacts/"); letters, digits and "/._-" only
  std::string access_key;           // empty (with secret_key): anonymous, unsigned requests
  std::string secret_key;
  std::string session_token;        // temporary credentials: sent as x-amz-security-token
  bool path_style = true;           // {endpoint}/{bucket}/{key}; false: {bucket}.{host}/{key}
  std::uint64_t multipart_threshold = std::uint64_t{16} << 20;  // larger content uses multipart
  std::uint64_t part_size = std::uint64_t{8} << 20;             // >= 5 MiB (S3's minimum part)
  int max_retries = 4;                                    // after the first attempt
  std::chrono::milliseconds retry_base_delay{100};        // backoff: base * 2^n with full jitter
  std::chrono::milliseconds retry_max_delay{5000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{300000};      // bound of one request, body included
  std::chrono::seconds stall_timeout{30};                 // abort a transfer slower than 1 KiB/s this long
};

/// Objects named {prefix}{sha256 hex} in an S3 bucket, over the S3 REST API with SigV4.
/// Validates the options only; the first request reaches the network.
Result<ArtifactStorePtr> MakeS3ArtifactStore(S3ArtifactStoreOptions options);

}  // namespace tuna
