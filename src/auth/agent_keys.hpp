#pragma once
// Private: the credentials of deployed agents ("agent keys"), layered over the user key store.
//
// Each deployed revision of an AgentDeployment stage gets its own API key so its workers can call
// the gateway as themselves (ctx.tools, ctx.memory, ctx.agents in Python): scope invoke in the
// deployment's namespace, never more. The controllers issue it when they place the revision on a
// driver and revoke it when the revision is undeployed (retired, rolled back, stage removed,
// deployment deleted).
//
// Agent keys live in memory only. Workers die with the server (the pool driver kills them with
// its process), and after a restart the controllers place every revision again, which issues a
// fresh key; so a key never outlives the workers it was made for, and no secret of a workload
// ever reaches disk. Their names are "agent:<deployment>:<stage>:<revision>", which no user key can
// have (user key names are DNS labels); they are listed beside the namespace's user keys, but
// cannot be deleted through the key API (FailedPrecondition saying what owns them).

#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "tuna/auth.hpp"

namespace tuna::auth {

/// What an agent key is for: one revision of one stage of one AgentDeployment.
struct AgentKeyOwner {
  std::string namespace_;
  std::string deployment;
  std::string stage;     // "staging" | "production"
  std::string revision;  // the commit, or "src-<hash>"
};

/// "agent:<deployment>:<stage>:<revision>".
std::string AgentKeyName(const AgentKeyOwner& owner);
/// True for names AgentKeyName makes (never a user key's name).
bool IsAgentKeyName(std::string_view name);

/// A KeyStore that serves user keys from `users` and agent keys from memory. Thread-safe.
class AgentKeyStore final : public KeyStore {
 public:
  explicit AgentKeyStore(KeyStorePtr users);

  /// User keys only (agent keys are issued with Issue).
  Result<CreatedKey> Create(const CreateKeyRequest& request) override;
  /// User and agent keys of `ns` (every namespace when empty), by name.
  Result<std::vector<ApiKeyInfo>> List(std::string_view ns) override;
  Result<ApiKeyInfo> Get(std::string_view ns, std::string_view name_or_id) override;
  /// FailedPrecondition for an agent key (its deployment owns it).
  Status Delete(std::string_view ns, std::string_view name_or_id) override;
  Result<Principal> Authenticate(std::string_view token) const override;

  /// A new key (scope invoke in owner.namespace_, no rate limit of its own) for `owner`; an
  /// existing key of the same owner is revoked (a revision placed again gets a fresh secret).
  /// InvalidArgument for an owner with an empty or malformed part.
  Result<CreatedKey> Issue(const AgentKeyOwner& owner);
  /// Revokes the key of `owner`; nothing when it has none.
  void Revoke(const AgentKeyOwner& owner);
  /// Agent keys currently issued.
  std::size_t agent_key_count() const;

 private:
  struct Record {
    ApiKeyInfo info;
    std::string secret_hash;
  };
  const Record* FindLocked(std::string_view ns, std::string_view name_or_id) const;

  KeyStorePtr users_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Record> by_id_;  // agent keys by key id
};

}  // namespace tuna::auth
