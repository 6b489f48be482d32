#include "core/ids.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <random>
#include <vector>

namespace tuna::core {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendHex(std::string& out, const unsigned char* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xf];
  }
}

}  // namespace

namespace {

// Bumped in the child of every fork(): per-thread generators seeded before it seed again.
std::atomic<std::uint64_t> g_fork_generation{0};
const int kAtForkRegistered = ::pthread_atfork(nullptr, nullptr, [] { g_fork_generation.fetch_add(1, std::memory_order_relaxed); });

}  // namespace

std::uint64_t FastRandom64() {
  struct Generator {
    std::mt19937_64 rng;
    std::uint64_t generation = ~std::uint64_t{0};
  };
  thread_local Generator g;
  const std::uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  if (g.generation != generation) {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    g.rng.seed(seq);
    g.generation = generation;
  }
  (void)kAtForkRegistered;
  return g.rng();
}

std::string NewRequestId() {
  std::array<unsigned char, 16> bytes;
  for (std::size_t i = 0; i < bytes.size(); i += 8) {
    std::uint64_t v = FastRandom64();
    for (std::size_t j = 0; j < 8; ++j) bytes[i + j] = static_cast<unsigned char>(v >> (8 * j));
  }
  std::string out;
  out.reserve(32);
  AppendHex(out, bytes.data(), bytes.size());
  return out;
}

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string RandomHex(std::size_t n) {
  std::vector<unsigned char> bytes(n);
  if (n > 0 && RAND_bytes(bytes.data(), static_cast<int>(n)) != 1) return {};
  std::string out;
  out.reserve(2 * n);
  AppendHex(out, bytes.data(), n);
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Length is not secret (tokens have a fixed length); the content comparison is.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tuna::core
