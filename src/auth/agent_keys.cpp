// Agent keys (src/auth/agent_keys.hpp): per-revision invoke keys of deployed agents, in memory,
// in front of the user key store.

#include "auth/agent_keys.hpp"

#include "auth/secret_hash.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "admission/rules.hpp"
#include "core/ids.hpp"
#include <spdlog/spdlog.h>

#include "core/logging.hpp"

namespace tuna::auth {
namespace {

constexpr std::string_view kPrefix = "tuna_";
constexpr std::string_view kNamePrefix = "agent:";
constexpr std::size_t kIdHexBytes = 6;       // 12 hex characters, as user keys
constexpr std::size_t kSecretHexBytes = 24;  // 48 hex characters


bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f'); });
}

// A revision is a commit or "src-<hash>": letters, digits, '-', '.', '_'; never ':' or '/'.
bool IsRevision(std::string_view s) {
  return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

// The id and secret of "tuna_<12 hex>_<48 hex>", or nullopt for any other shape.
std::optional<std::pair<std::string_view, std::string_view>> SplitToken(std::string_view token) {
  if (token.size() != kPrefix.size() + 2 * kIdHexBytes + 1 + 2 * kSecretHexBytes || token.substr(0, kPrefix.size()) != kPrefix ||
      token[kPrefix.size() + 2 * kIdHexBytes] != '_') {
    return std::nullopt;
  }
  std::string_view id = token.substr(kPrefix.size(), 2 * kIdHexBytes);
  std::string_view secret = token.substr(kPrefix.size() + 2 * kIdHexBytes + 1);
  if (!IsLowerHex(id) || !IsLowerHex(secret)) return std::nullopt;
  return std::make_pair(id, secret);
}

}  // namespace

std::string AgentKeyName(const AgentKeyOwner& owner) {
  return std::string(kNamePrefix) + owner.deployment + ":" + owner.stage + ":" + owner.revision;
}

bool IsAgentKeyName(std::string_view name) { return name.substr(0, kNamePrefix.size()) == kNamePrefix; }

AgentKeyStore::AgentKeyStore(KeyStorePtr users) : users_(std::move(users)) {}

Result<CreatedKey> AgentKeyStore::Create(const CreateKeyRequest& request) {
  // User key names are DNS labels (the user store checks), so they never look like agent keys.
  return users_->Create(request);
}

Result<std::vector<ApiKeyInfo>> AgentKeyStore::List(std::string_view ns) {
  TUNA_ASSIGN_OR_RETURN(std::vector<ApiKeyInfo> out, users_->List(ns));
  {
    std::shared_lock lock(mu_);
    for (const auto& [id, rec] : by_id_) {
      if (ns.empty() || rec.info.namespace_ == ns) out.push_back(rec.info);
    }
  }
  std::sort(out.begin(), out.end(), [](const ApiKeyInfo& a, const ApiKeyInfo& b) {
    return std::tie(a.namespace_, a.name) < std::tie(b.namespace_, b.name);
  });
  return out;
}

const AgentKeyStore::Record* AgentKeyStore::FindLocked(std::string_view ns, std::string_view name_or_id) const {
  for (const auto& [id, rec] : by_id_) {
    if ((ns.empty() || rec.info.namespace_ == ns) && (rec.info.name == name_or_id || rec.info.id == name_or_id)) return &rec;
  }
  return nullptr;
}

Result<ApiKeyInfo> AgentKeyStore::Get(std::string_view ns, std::string_view name_or_id) {
  {
    std::shared_lock lock(mu_);
    if (const Record* rec = FindLocked(ns, name_or_id)) return rec->info;
  }
  return users_->Get(ns, name_or_id);
}

Status AgentKeyStore::Delete(std::string_view ns, std::string_view name_or_id) {
  {
    std::shared_lock lock(mu_);
    if (const Record* rec = FindLocked(ns, name_or_id)) {
      return FailedPrecondition("API key \"" + rec->info.name +
                                "\" is the credential of a deployed agent revision: it is revoked when that revision is "
                                "undeployed (delete or change the AgentDeployment instead)");
    }
  }
  return users_->Delete(ns, name_or_id);
}

Result<Principal> AgentKeyStore::Authenticate(std::string_view token) const {
  if (auto parts = SplitToken(token)) {
    std::shared_lock lock(mu_);
    auto it = by_id_.find(std::string(parts->first));
    if (it != by_id_.end()) {
      if (!core::ConstantTimeEquals(HashSecret(parts->second), it->second.secret_hash)) {
        return Unauthenticated("invalid bearer token (unknown or deleted API key)");
      }
      const ApiKeyInfo& info = it->second.info;
      Principal p;
      p.key_id = info.id;
      p.name = info.name;
      p.namespace_ = info.namespace_;
      p.scope = Scope::kInvoke;  // never more, whatever happens to the record
      p.rate_limit = info.rate_limit;
      return p;
    }
  }
  return users_->Authenticate(token);
}

Result<CreatedKey> AgentKeyStore::Issue(const AgentKeyOwner& owner) {
  if (!internal::IsDnsLabel(owner.namespace_)) return InvalidArgument("agent key: invalid namespace \"" + owner.namespace_.substr(0, 80) + "\"");
  if (!internal::IsDnsLabel(owner.deployment)) return InvalidArgument("agent key: invalid deployment name \"" + owner.deployment.substr(0, 80) + "\"");
  if (owner.stage != "staging" && owner.stage != "production") {
    return InvalidArgument("agent key: stage must be staging or production, not \"" + owner.stage.substr(0, 40) + "\"");
  }
  if (!IsRevision(owner.revision)) return InvalidArgument("agent key: invalid revision \"" + owner.revision.substr(0, 80) + "\"");
  Record rec;
  rec.info.name = AgentKeyName(owner);
  rec.info.namespace_ = owner.namespace_;
  rec.info.scope = Scope::kInvoke;
  rec.info.created = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  std::string secret = core::RandomHex(kSecretHexBytes);
  if (secret.empty()) return Internal("could not read random bytes for an agent key");
  rec.secret_hash = HashSecret(secret);
  std::unique_lock lock(mu_);
  // A fresh id that no agent key and no user key has (user ids are checked through the store,
  // which looks names and ids up in every namespace when given none).
  for (int attempt = 0;; ++attempt) {
    rec.info.id = core::RandomHex(kIdHexBytes);
    if (rec.info.id.empty()) return Internal("could not read random bytes for an agent key");
    if (by_id_.count(rec.info.id) == 0 && !users_->Get("", rec.info.id).ok()) break;
    if (attempt > 8) return Internal("could not find a free API key id");
  }
  for (auto it = by_id_.begin(); it != by_id_.end(); ++it) {
    if (it->second.info.namespace_ == owner.namespace_ && it->second.info.name == rec.info.name) {
      by_id_.erase(it);
      break;
    }
  }
  CreatedKey out{rec.info, std::string(kPrefix) + rec.info.id + "_" + secret};
  by_id_.emplace(rec.info.id, std::move(rec));
  core::Logger()->info("agent key issued: namespace={} name={} id={}", out.info.namespace_, out.info.name, out.info.id);
  return out;
}

void AgentKeyStore::Revoke(const AgentKeyOwner& owner) {
  const std::string name = AgentKeyName(owner);
  std::unique_lock lock(mu_);
  for (auto it = by_id_.begin(); it != by_id_.end(); ++it) {
    if (it->second.info.namespace_ == owner.namespace_ && it->second.info.name == name) {
      core::Logger()->info("agent key revoked: namespace={} name={} id={}", owner.namespace_, name, it->first);
      by_id_.erase(it);
      return;
    }
  }
}

std::size_t AgentKeyStore::agent_key_count() const {
  std::shared_lock lock(mu_);
  return by_id_.size();
}

}  // namespace tuna::auth
