#pragma once
// The one hash of API key secrets (user keys and agent keys): SHA-256, lower-case hex. Private.

#include <string>
#include <string_view>

namespace tuna::auth {

/// SHA-256 of `secret` as 64 lower-case hex characters. The digest algorithm is fetched from
/// OpenSSL once (an implicit fetch per call costs more than hashing a key).
std::string HashSecret(std::string_view secret);

}  // namespace tuna::auth
