// sha256 digests with OpenSSL EVP.
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "artifacts/sha256.hpp"
#include "tuna/artifacts.hpp"

namespace tuna {
namespace {

constexpr std::string_view kDigestPrefix = "sha256:";

struct EvpCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using EvpCtx = std::unique_ptr<EVP_MD_CTX, EvpCtxDeleter>;

Digest ToDigest(const unsigned char* hash, unsigned int length) {
  static constexpr char kHex[] = "0123456789abcdef";
  Digest out(kDigestPrefix);
  out.reserve(kDigestPrefix.size() + 2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[hash[i] >> 4]);
    out.push_back(kHex[hash[i] & 0xf]);
  }
  return out;
}

}  // namespace

namespace artifacts {

struct Sha256Hasher::Impl {
  EvpCtx ctx{EVP_MD_CTX_new()};
  bool ok = false;
};

Sha256Hasher::Sha256Hasher() : impl_(std::make_unique<Impl>()) {
  impl_->ok = impl_->ctx && EVP_DigestInit_ex(impl_->ctx.get(), EVP_sha256(), nullptr) == 1;
}

Sha256Hasher::~Sha256Hasher() = default;

void Sha256Hasher::Update(std::string_view bytes) {
  if (impl_->ok) impl_->ok = EVP_DigestUpdate(impl_->ctx.get(), bytes.data(), bytes.size()) == 1;
}

Digest Sha256Hasher::Finish() {
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!impl_->ok || EVP_DigestFinal_ex(impl_->ctx.get(), hash, &length) != 1) return Digest();
  impl_->ok = false;
  return ToDigest(hash, length);
}

}  // namespace artifacts

bool IsValidDigest(std::string_view digest) {
  if (digest.size() != kDigestPrefix.size() + 64 || !digest.starts_with(kDigestPrefix)) return false;
  for (char c : digest.substr(kDigestPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Digest Sha256Bytes(std::string_view bytes) {
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EvpCtx ctx(EVP_MD_CTX_new());
  // These only fail on allocation failure; an empty digest would then fail validation downstream.
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), hash, &length) != 1) {
    return Digest();
  }
  return ToDigest(hash, length);
}

Result<Digest> Sha256File(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    Status status(err == ENOENT ? StatusCode::kNotFound : StatusCode::kInternal,
                  "open " + path.string() + ": " + std::strerror(err));
    return status;
  }
  EvpCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    ::close(fd);
    return Internal("sha256: cannot initialise OpenSSL digest");
  }
  std::unique_ptr<char[]> buffer(new char[1 << 16]);
  for (;;) {
    ssize_t n = ::read(fd, buffer.get(), 1 << 16);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Internal("read " + path.string() + ": " + std::strerror(err));
    }
    if (EVP_DigestUpdate(ctx.get(), buffer.get(), static_cast<size_t>(n)) != 1) {
      ::close(fd);
      return Internal("sha256: digest update failed");
    }
  }
  ::close(fd);
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), hash, &length) != 1) return Internal("sha256: digest final failed");
  return ToDigest(hash, length);
}

}  // namespace tuna
