#pragma once
// Identifiers and secrets: request ids, admin tokens, constant-time comparison.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tuna::core {

/// A new request id: 16 random bytes as 32 lower-case hex characters. Not a secret, so it uses
/// a fast per-thread generator rather than the system CSPRNG.
std::string NewRequestId();

/// 64 random bits from the calling thread's generator, seeded from the OS on first use and again
/// in a child after fork() (a fork-server's workers must not repeat each other's ids). Unique ids,
/// not secrets.
std::uint64_t FastRandom64();

/// True when a client-sent X-Request-Id is safe to echo into headers, logs and JSON:
/// 1..128 characters of [A-Za-z0-9._:-].
bool IsSaneRequestId(std::string_view id);

/// `n` bytes from the system CSPRNG as lower-case hex (2n characters); empty on failure.
std::string RandomHex(std::size_t n);

/// Compares two secrets in time that depends only on their lengths, not on where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace tuna::core
