#pragma once
/// API keys: who may do what in which namespace (tenant).
///
/// A key belongs to one namespace and carries one scope; scopes nest:
///   invoke  call the namespace's agents and tools through the gateway, read its resources,
///           clone its git repositories;
///   write   invoke + create, change and delete resources, push to repositories, upload sources;
///   admin   write + manage the namespace's API keys.
/// The server's admin token (<data-dir>/admin.token) is the one principal of every namespace.
/// A key of one namespace never reaches another namespace's resources.
///
/// A key is shown once, at creation: "tuna_<id>_<secret>". Only a SHA-256 of the secret is
/// stored. Keys may carry a rate limit (token bucket, requests per second and burst); the
/// gateway answers 429 beyond it.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tuna/status.hpp"

namespace tuna::auth {

enum class Scope { kInvoke = 1, kWrite = 2, kAdmin = 3 };
std::string_view ScopeName(Scope scope);
/// "invoke" | "write" | "admin"; InvalidArgument otherwise (naming the allowed values).
Result<Scope> ParseScope(std::string_view text);

struct RateLimit {
  double per_second = 0;  // 0: unlimited
  double burst = 0;       // bucket size; 0: max(1, per_second)
  bool operator==(const RateLimit&) const = default;
};

/// Who a request is.
struct Principal {
  std::string key_id;      // "admin" for the server's admin token
  std::string name;        // the key's name
  std::string namespace_;  // empty: every namespace (the admin token)
  Scope scope = Scope::kInvoke;
  RateLimit rate_limit;

  bool is_server_admin() const { return namespace_.empty() && scope == Scope::kAdmin; }
  /// True when this principal may act with `needed` in namespace `ns`.
  bool Allows(std::string_view ns, Scope needed) const;
  /// OK, or PermissionDenied naming the key, the namespace and the scope that was needed.
  Status Check(std::string_view ns, Scope needed) const;
};

struct ApiKeyInfo {
  std::string id;          // 12 lower-case hex characters
  std::string name;        // DNS label, unique per namespace
  std::string namespace_;
  Scope scope = Scope::kInvoke;
  RateLimit rate_limit;
  std::chrono::system_clock::time_point created{};
  std::optional<std::chrono::system_clock::time_point> expires;
};

struct CreatedKey {
  ApiKeyInfo info;
  std::string token;  // "tuna_<id>_<secret>"; shown once, never stored
};

struct CreateKeyRequest {
  std::string namespace_;
  std::string name;
  Scope scope = Scope::kInvoke;
  RateLimit rate_limit;
  std::optional<std::chrono::seconds> ttl;  // the key expires after this long
};

/// Thread-safe. Authenticate() is served from memory (no I/O per request).
class KeyStore {
 public:
  virtual ~KeyStore() = default;
  /// InvalidArgument for a bad namespace/name/rate, AlreadyExists for a duplicate name.
  virtual Result<CreatedKey> Create(const CreateKeyRequest& request) = 0;
  /// Keys of a namespace (every namespace when `ns` is empty), by name.
  virtual Result<std::vector<ApiKeyInfo>> List(std::string_view ns) = 0;
  /// By name or id; NotFound when absent.
  virtual Result<ApiKeyInfo> Get(std::string_view ns, std::string_view name_or_id) = 0;
  /// By name or id; NotFound when absent.
  virtual Status Delete(std::string_view ns, std::string_view name_or_id) = 0;
  /// The principal of a presented token (a key or the admin token); Unauthenticated otherwise
  /// (unknown, deleted, expired or malformed: the message says which without echoing secrets).
  virtual Result<Principal> Authenticate(std::string_view token) const = 0;
};
using KeyStorePtr = std::unique_ptr<KeyStore>;

struct KeyStoreOptions {
  /// SQLite file holding the keys; empty: keys live in memory only (tests, embedding).
  std::filesystem::path path;
  /// The server's admin token (every namespace, admin scope); empty: none.
  std::string admin_token;
};
Result<KeyStorePtr> MakeKeyStore(KeyStoreOptions options);

/// The token of an "Authorization: Bearer <token>" header value; Unauthenticated when the
/// header is missing or uses another scheme.
Result<std::string> BearerToken(std::string_view authorization_header);

}  // namespace tuna::auth
