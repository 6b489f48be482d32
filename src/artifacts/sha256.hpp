#pragma once
// Incremental sha256 (OpenSSL EVP), for hashing while copying. Private to the library.

#include <memory>
#include <string_view>

#include "tuna/artifacts.hpp"

namespace tuna::artifacts {

class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(std::string_view bytes);
  /// The digest of everything passed to Update; empty if OpenSSL failed.
  Digest Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tuna::artifacts
