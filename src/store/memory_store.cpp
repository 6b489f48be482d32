// MemoryStore: the raw storage of the in-memory backend (semantics live in StoreCore).

#include <cassert>
#include <map>
#include <set>
#include <shared_mutex>

#include "store/store_core.hpp"

namespace tuna {
namespace store_internal {
namespace {

class MemoryStore;

class MemoryTxn final : public WriteTxn {
 public:
  explicit MemoryTxn(MemoryStore& store) : store_(store) {}
  Result<std::optional<Resource>> Get(const ObjectKey& key) override;
  Result<std::vector<ObjectKey>> Dependents(const std::string& namespace_, const std::string& owner_uid) override;
  Status Insert(const Resource& object) override {
    changes_[KeyOf(object)] = object;
    return {};
  }
  Status Replace(const Resource&, const Resource& object) override {
    changes_[KeyOf(object)] = object;
    return {};
  }
  Status Remove(const Resource& old_object) override {
    changes_[KeyOf(old_object)] = std::nullopt;
    return {};
  }
  Status Commit(std::int64_t revision) override;

 private:
  MemoryStore& store_;
  // Staged writes (nullopt: deleted), applied atomically under the store's exclusive lock.
  std::map<ObjectKey, std::optional<Resource>> changes_;
};

class MemoryStore final : public StoreCore {
 public:
  explicit MemoryStore(const MemoryStoreOptions& options)
      : StoreCore(CoreOptions{options.event_window, options.watcher_queue_limit}) {}
  ~MemoryStore() override { Shutdown(); }

  using StoreCore::Init;

 private:
  friend class MemoryTxn;

  Result<std::optional<Resource>> DoGet(const ObjectKey& key) override {
    std::shared_lock lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return std::optional<Resource>();
    return std::optional<Resource>(it->second);
  }

  Result<ListPage> DoList(const ListQuery& q) override {
    std::shared_lock lock(mu_);
    ListPage page;
    page.revision = revision_;
    auto it = objects_.begin();
    if (!q.kind.empty()) {
      it = q.after ? objects_.upper_bound(ObjectKey{q.kind, q.after->first, q.after->second})
                   : objects_.lower_bound(ObjectKey{q.kind, q.namespace_, ""});
    }
    for (; it != objects_.end(); ++it) {
      const ObjectKey& key = it->first;
      if (!q.kind.empty() && key.kind != q.kind) break;  // past the kind's range
      if (!q.namespace_.empty() && key.namespace_ != q.namespace_) {
        if (!q.kind.empty()) break;  // within one kind the namespace's range is contiguous
        continue;
      }
      if (q.filter && !q.filter(it->second)) continue;
      if (q.limit != 0 && page.items.size() == q.limit) {
        page.more = true;
        break;
      }
      page.items.push_back(it->second);
    }
    return page;
  }

  Result<WriteTxnPtr> DoBeginWrite() override { return WriteTxnPtr(std::make_unique<MemoryTxn>(*this)); }

  Result<std::int64_t> DoRevision() override {
    std::shared_lock lock(mu_);
    return revision_;
  }

  Result<std::int64_t> DoCount() override {
    std::shared_lock lock(mu_);
    return static_cast<std::int64_t>(objects_.size());
  }

  void IndexOwners(const Resource& r, bool add) {
    for (const auto& ref : r.metadata.owner_references) {
      if (ref.uid.empty()) continue;
      if (add) {
        dependents_[ref.uid].insert(KeyOf(r));
      } else if (auto it = dependents_.find(ref.uid); it != dependents_.end()) {
        it->second.erase(KeyOf(r));
        if (it->second.empty()) dependents_.erase(it);
      }
    }
  }

  std::shared_mutex mu_;
  std::map<ObjectKey, Resource> objects_;                   // ordered by (kind, namespace, name)
  std::map<std::string, std::set<ObjectKey>> dependents_;   // owner uid -> objects that name it
  std::int64_t revision_ = 0;
};

Result<std::optional<Resource>> MemoryTxn::Get(const ObjectKey& key) {
  if (auto it = changes_.find(key); it != changes_.end()) return it->second;
  std::shared_lock lock(store_.mu_);
  auto it = store_.objects_.find(key);
  if (it == store_.objects_.end()) return std::optional<Resource>();
  return std::optional<Resource>(it->second);
}

Result<std::vector<ObjectKey>> MemoryTxn::Dependents(const std::string& namespace_, const std::string& owner_uid) {
  std::set<ObjectKey> keys;
  {
    std::shared_lock lock(store_.mu_);
    if (auto it = store_.dependents_.find(owner_uid); it != store_.dependents_.end()) {
      for (const auto& k : it->second) {
        if (k.namespace_ == namespace_ && !changes_.contains(k)) keys.insert(k);
      }
    }
  }
  for (const auto& [k, obj] : changes_) {
    if (!obj || k.namespace_ != namespace_) continue;
    for (const auto& ref : obj->metadata.owner_references) {
      if (ref.uid == owner_uid) keys.insert(k);
    }
  }
  return std::vector<ObjectKey>(keys.begin(), keys.end());
}

Status MemoryTxn::Commit(std::int64_t revision) {
  std::unique_lock lock(store_.mu_);
  for (auto& [key, obj] : changes_) {
    if (auto it = store_.objects_.find(key); it != store_.objects_.end()) {
      store_.IndexOwners(it->second, false);
      if (!obj) {
        store_.objects_.erase(it);
        continue;
      }
      it->second = std::move(*obj);
      store_.IndexOwners(it->second, true);
    } else if (obj) {
      auto [pos, inserted] = store_.objects_.emplace(key, std::move(*obj));
      store_.IndexOwners(pos->second, true);
    }
  }
  changes_.clear();
  store_.revision_ = revision;
  return {};
}

}  // namespace
}  // namespace store_internal

StorePtr MakeMemoryStore(MemoryStoreOptions options) {
  auto store = std::make_unique<store_internal::MemoryStore>(options);
  // Init only reads the (empty) maps: it cannot fail for this backend.
  Status status = store->Init();
  assert(status.ok());
  (void)status;
  return store;
}

}  // namespace tuna
