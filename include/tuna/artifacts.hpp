#pragma once
/// ArtifactStore: content-addressed (sha256) storage of source snapshots and build outputs.
/// Builds and drivers read archives only through it. Backends: local directory; S3 later.

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

}  // namespace tuna
