// API keys (tuna/auth.hpp): SQLite rows (or memory only) plus an in-memory index by key id, so
// authenticating a request is a hash lookup and one SHA-256, never I/O.

#include <openssl/sha.h>

#include "auth/secret_hash.hpp"
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "admission/rules.hpp"
#include "core/ids.hpp"
#include <spdlog/spdlog.h>

#include "core/logging.hpp"
#include "tuna/auth.hpp"

namespace tuna::auth {
namespace {

using Clock = std::chrono::system_clock;

constexpr std::string_view kPrefix = "tuna_";
constexpr std::size_t kIdHexBytes = 6;       // 12 hex characters
constexpr std::size_t kSecretHexBytes = 24;  // 48 hex characters

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f'); });
}


std::int64_t ToMillis(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
Clock::time_point FromMillis(std::int64_t ms) { return Clock::time_point(std::chrono::milliseconds(ms)); }

struct KeyRecord {
  ApiKeyInfo info;
  std::string secret_hash;  // sha256 hex of the secret part
};

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

class KeyStoreImpl final : public KeyStore {
 public:
  explicit KeyStoreImpl(KeyStoreOptions options) : options_(std::move(options)) {}
  ~KeyStoreImpl() override {
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  Status Open() {
    if (options_.path.empty()) return {};
    std::error_code ec;
    if (options_.path.has_parent_path()) std::filesystem::create_directories(options_.path.parent_path(), ec);
    int rc = sqlite3_open_v2(options_.path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK) return Unavailable("open key store " + options_.path.string() + ": " + sqlite3_errstr(rc));
    sqlite3_busy_timeout(db_, 5000);
    TUNA_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                              "CREATE TABLE IF NOT EXISTS api_keys ("
                              " id TEXT PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL,"
                              " scope INTEGER NOT NULL, secret_hash TEXT NOT NULL,"
                              " rate REAL NOT NULL DEFAULT 0, burst REAL NOT NULL DEFAULT 0,"
                              " created_ms INTEGER NOT NULL, expires_ms INTEGER,"
                              " UNIQUE(namespace, name));"));
    Stmt stmt;
    TUNA_RETURN_IF_ERROR(Prepare("SELECT id, namespace, name, scope, secret_hash, rate, burst, created_ms, expires_ms FROM api_keys", stmt));
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      KeyRecord rec;
      rec.info.id = Text(stmt.get(), 0);
      rec.info.namespace_ = Text(stmt.get(), 1);
      rec.info.name = Text(stmt.get(), 2);
      int scope = sqlite3_column_int(stmt.get(), 3);
      rec.info.scope = scope >= 3 ? Scope::kAdmin : scope == 2 ? Scope::kWrite : Scope::kInvoke;
      rec.secret_hash = Text(stmt.get(), 4);
      rec.info.rate_limit.per_second = sqlite3_column_double(stmt.get(), 5);
      rec.info.rate_limit.burst = sqlite3_column_double(stmt.get(), 6);
      rec.info.created = FromMillis(sqlite3_column_int64(stmt.get(), 7));
      if (sqlite3_column_type(stmt.get(), 8) != SQLITE_NULL) rec.info.expires = FromMillis(sqlite3_column_int64(stmt.get(), 8));
      keys_[rec.info.id] = std::move(rec);
    }
    if (rc != SQLITE_DONE) return Unavailable(std::string("load API keys: ") + sqlite3_errmsg(db_));
    return {};
  }

  Result<CreatedKey> Create(const CreateKeyRequest& request) override {
    if (!internal::IsDnsLabel(request.namespace_)) {
      return InvalidArgument("namespace: \"" + request.namespace_.substr(0, 80) + "\" is not a DNS label (lower-case letters, digits, '-')");
    }
    if (!internal::IsDnsLabel(request.name)) {
      return InvalidArgument("name: \"" + request.name.substr(0, 80) + "\" is not a DNS label (lower-case letters, digits, '-')");
    }
    if (request.rate_limit.per_second < 0 || request.rate_limit.burst < 0 || request.rate_limit.per_second > 1e9 ||
        request.rate_limit.burst > 1e9) {
      return InvalidArgument("rateLimit: requests per second and burst must be between 0 and 1e9");
    }
    if (request.ttl && request.ttl->count() <= 0) return InvalidArgument("ttlSeconds: must be positive");
    KeyRecord rec;
    rec.info.id = core::RandomHex(kIdHexBytes);
    std::string secret = core::RandomHex(kSecretHexBytes);
    if (rec.info.id.empty() || secret.empty()) return Internal("could not read random bytes for an API key");
    rec.info.name = request.name;
    rec.info.namespace_ = request.namespace_;
    rec.info.scope = request.scope;
    rec.info.rate_limit = request.rate_limit;
    rec.info.created = std::chrono::time_point_cast<std::chrono::milliseconds>(Clock::now());
    if (request.ttl) rec.info.expires = rec.info.created + *request.ttl;
    rec.secret_hash = HashSecret(secret);

    std::unique_lock lock(mu_);
    for (const auto& [id, other] : keys_) {
      if (other.info.namespace_ == request.namespace_ && other.info.name == request.name) {
        return AlreadyExists("API key \"" + request.name + "\" already exists in namespace " + request.namespace_);
      }
    }
    if (db_ != nullptr) {
      Stmt stmt;
      TUNA_RETURN_IF_ERROR(Prepare("INSERT INTO api_keys (id, namespace, name, scope, secret_hash, rate, burst, created_ms, expires_ms)"
                                   " VALUES (?,?,?,?,?,?,?,?,?)", stmt));
      sqlite3_bind_text(stmt.get(), 1, rec.info.id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(stmt.get(), 2, rec.info.namespace_.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(stmt.get(), 3, rec.info.name.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(stmt.get(), 4, static_cast<int>(rec.info.scope));
      sqlite3_bind_text(stmt.get(), 5, rec.secret_hash.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_double(stmt.get(), 6, rec.info.rate_limit.per_second);
      sqlite3_bind_double(stmt.get(), 7, rec.info.rate_limit.burst);
      sqlite3_bind_int64(stmt.get(), 8, ToMillis(rec.info.created));
      if (rec.info.expires) {
        sqlite3_bind_int64(stmt.get(), 9, ToMillis(*rec.info.expires));
      } else {
        sqlite3_bind_null(stmt.get(), 9);
      }
      int rc = sqlite3_step(stmt.get());
      if (rc == SQLITE_CONSTRAINT) {
        return AlreadyExists("API key \"" + request.name + "\" already exists in namespace " + request.namespace_);
      }
      if (rc != SQLITE_DONE) return Unavailable(std::string("store API key: ") + sqlite3_errmsg(db_));
    }
    CreatedKey out{rec.info, std::string(kPrefix) + rec.info.id + "_" + secret};
    keys_[rec.info.id] = std::move(rec);
    core::Logger()->info("api key created: namespace={} name={} id={} scope={}", out.info.namespace_, out.info.name,
                         out.info.id, ScopeName(out.info.scope));
    return out;
  }

  Result<std::vector<ApiKeyInfo>> List(std::string_view ns) override {
    std::shared_lock lock(mu_);
    std::vector<ApiKeyInfo> out;
    for (const auto& [id, rec] : keys_) {
      if (ns.empty() || rec.info.namespace_ == ns) out.push_back(rec.info);
    }
    std::sort(out.begin(), out.end(), [](const ApiKeyInfo& a, const ApiKeyInfo& b) {
      return std::tie(a.namespace_, a.name) < std::tie(b.namespace_, b.name);
    });
    return out;
  }

  Result<ApiKeyInfo> Get(std::string_view ns, std::string_view name_or_id) override {
    std::shared_lock lock(mu_);
    const KeyRecord* rec = FindLocked(ns, name_or_id);
    if (rec == nullptr) return NotFound("API key \"" + std::string(name_or_id.substr(0, 80)) + "\" not found in namespace " + std::string(ns));
    return rec->info;
  }

  Status Delete(std::string_view ns, std::string_view name_or_id) override {
    std::unique_lock lock(mu_);
    const KeyRecord* rec = FindLocked(ns, name_or_id);
    if (rec == nullptr) return NotFound("API key \"" + std::string(name_or_id.substr(0, 80)) + "\" not found in namespace " + std::string(ns));
    std::string id = rec->info.id;
    if (db_ != nullptr) {
      Stmt stmt;
      TUNA_RETURN_IF_ERROR(Prepare("DELETE FROM api_keys WHERE id = ?", stmt));
      sqlite3_bind_text(stmt.get(), 1, id.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(stmt.get()) != SQLITE_DONE) return Unavailable(std::string("delete API key: ") + sqlite3_errmsg(db_));
    }
    core::Logger()->info("api key deleted: namespace={} name={} id={}", rec->info.namespace_, rec->info.name, id);
    keys_.erase(id);
    return {};
  }

  Result<Principal> Authenticate(std::string_view token) const override {
    if (token.empty()) return Unauthenticated("empty bearer token");
    if (!options_.admin_token.empty() && core::ConstantTimeEquals(token, options_.admin_token)) {
      Principal p;
      p.key_id = "admin";
      p.name = "admin";
      p.scope = Scope::kAdmin;
      return p;
    }
    // tuna_<12 hex>_<48 hex>
    if (token.size() != kPrefix.size() + 2 * kIdHexBytes + 1 + 2 * kSecretHexBytes || token.substr(0, kPrefix.size()) != kPrefix ||
        token[kPrefix.size() + 2 * kIdHexBytes] != '_') {
      return Unauthenticated("invalid bearer token");
    }
    std::string_view id = token.substr(kPrefix.size(), 2 * kIdHexBytes);
    std::string_view secret = token.substr(kPrefix.size() + 2 * kIdHexBytes + 1);
    if (!IsHex(id) || !IsHex(secret)) return Unauthenticated("invalid bearer token");
    std::string hash = HashSecret(secret);
    std::shared_lock lock(mu_);
    auto it = keys_.find(std::string(id));
    if (it == keys_.end() || !core::ConstantTimeEquals(hash, it->second.secret_hash)) {
      return Unauthenticated("invalid bearer token (unknown or deleted API key)");
    }
    const ApiKeyInfo& info = it->second.info;
    if (info.expires && Clock::now() >= *info.expires) {
      return Unauthenticated("API key \"" + info.name + "\" of namespace " + info.namespace_ + " has expired");
    }
    Principal p;
    p.key_id = info.id;
    p.name = info.name;
    p.namespace_ = info.namespace_;
    p.scope = info.scope;
    p.rate_limit = info.rate_limit;
    return p;
  }

 private:
  const KeyRecord* FindLocked(std::string_view ns, std::string_view name_or_id) const {
    for (const auto& [id, rec] : keys_) {
      if ((ns.empty() || rec.info.namespace_ == ns) && (rec.info.name == name_or_id || rec.info.id == name_or_id)) return &rec;
    }
    return nullptr;
  }

  static std::string Text(sqlite3_stmt* s, int col) {
    const unsigned char* t = sqlite3_column_text(s, col);
    return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t));
  }

  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "unknown error";
      sqlite3_free(err);
      return Unavailable("key store: " + msg);
    }
    return {};
  }

  Status Prepare(const char* sql, Stmt& out) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) return Internal(std::string("key store: ") + sqlite3_errmsg(db_));
    out.reset(s);
    return {};
  }

  KeyStoreOptions options_;
  sqlite3* db_ = nullptr;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, KeyRecord> keys_;  // by id
};

}  // namespace

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kInvoke: return "invoke";
    case Scope::kWrite: return "write";
    case Scope::kAdmin: return "admin";
  }
  return "invoke";
}

Result<Scope> ParseScope(std::string_view text) {
  if (text == "invoke") return Scope::kInvoke;
  if (text == "write") return Scope::kWrite;
  if (text == "admin") return Scope::kAdmin;
  return InvalidArgument("scope: \"" + std::string(text.substr(0, 40)) + "\" is not one of invoke, write, admin");
}

bool Principal::Allows(std::string_view ns, Scope needed) const {
  if (static_cast<int>(scope) < static_cast<int>(needed)) return false;
  return namespace_.empty() || namespace_ == ns;
}

Status Principal::Check(std::string_view ns, Scope needed) const {
  if (Allows(ns, needed)) return {};
  if (!namespace_.empty() && namespace_ != ns) {
    return PermissionDenied("API key \"" + name + "\" belongs to namespace " + namespace_ + " and cannot reach namespace " +
                            std::string(ns.empty() ? "<all namespaces>" : ns));
  }
  return PermissionDenied("API key \"" + name + "\" has scope " + std::string(ScopeName(scope)) + "; this needs " +
                          std::string(ScopeName(needed)));
}

Result<KeyStorePtr> MakeKeyStore(KeyStoreOptions options) {
  auto store = std::make_unique<KeyStoreImpl>(std::move(options));
  TUNA_RETURN_IF_ERROR(store->Open());
  return KeyStorePtr(std::move(store));
}

Result<std::string> BearerToken(std::string_view auth) {
  if (auth.empty()) {
    return Unauthenticated("missing bearer token: send \"Authorization: Bearer <token>\" (an API key, or the admin token in <data-dir>/admin.token)");
  }
  constexpr std::string_view kScheme = "bearer ";
  bool scheme_ok = auth.size() > kScheme.size() && std::equal(kScheme.begin(), kScheme.end(), auth.begin(), [](char a, char b) {
                     return a == std::tolower(static_cast<unsigned char>(b));
                   });
  if (!scheme_ok) return Unauthenticated("unsupported Authorization scheme: expected \"Bearer <token>\"");
  std::string_view token = auth.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return Unauthenticated("empty bearer token");
  return std::string(token);
}

}  // namespace tuna::auth
