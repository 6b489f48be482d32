#include "auth/secret_hash.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace tuna::auth {

std::string HashSecret(std::string_view secret) {
  // Fetched once; EVP_MD objects are immutable and safe to share between threads.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char hash[SHA256_DIGEST_LENGTH];
  unsigned int size = 0;
  if (kSha256 == nullptr || EVP_Digest(secret.data(), secret.size(), hash, &size, kSha256, nullptr) != 1 ||
      size != SHA256_DIGEST_LENGTH) {
    SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), hash);  // the slower path
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char b : hash) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace tuna::auth
