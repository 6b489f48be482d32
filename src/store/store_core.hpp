#pragma once
// Private: the generic Store core. Kubernetes semantics (resourceVersion, generation, status
// sub-resource, cascade, paging, watch) are implemented once here, in final public methods; a
// backend only implements raw storage through the private Do...() hooks (the spdlog-style
// non-virtual interface), so the memory and SQLite stores cannot drift apart.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/event_hub.hpp"
#include "tuna/store.hpp"

namespace tuna::store_internal {

/// A raw range read, evaluated by the backend inside one consistent snapshot.
struct ListQuery {
  std::string kind;        // empty: every kind (ordered by kind, namespace, name)
  std::string namespace_;  // empty: every namespace
  /// Exclusive start key (namespace, name) within `kind`; only used with a kind.
  std::optional<std::pair<std::string, std::string>> after;
  std::size_t limit = 0;                         // matching items to return; 0: all
  std::function<bool(const Resource&)> filter;   // null: every object matches
};

struct ListPage {
  std::vector<Resource> items;
  std::int64_t revision = 0;  // store revision of the snapshot the page was read from
  bool more = false;          // at least one more matching object follows the last item
};

/// One write transaction. Only one exists at a time (the core serializes writes). Destroying it
/// without Commit rolls back.
class WriteTxn {
 public:
  virtual ~WriteTxn() = default;
  virtual Result<std::optional<Resource>> Get(const ObjectKey& key) = 0;
  /// Keys of the objects in `namespace_` whose ownerReferences name `owner_uid`.
  virtual Result<std::vector<ObjectKey>> Dependents(const std::string& namespace_,
                                                    const std::string& owner_uid) = 0;
  /// `object.metadata.resource_version` is the decimal revision of the write.
  virtual Status Insert(const Resource& object) = 0;
  /// `old_object` is the stored version (lets the backend maintain its owner index).
  virtual Status Replace(const Resource& old_object, const Resource& object) = 0;
  virtual Status Remove(const Resource& old_object) = 0;
  /// Makes every change durable and records `revision` as the store's revision, atomically.
  virtual Status Commit(std::int64_t revision) = 0;
};
using WriteTxnPtr = std::unique_ptr<WriteTxn>;

// Watchers to notify once the write lock is released. Declared before the lock guard so its
// destructor runs after the unlock: a callback may then call back into the store.
class NotifyList {
 public:
  NotifyList() = default;
  NotifyList(const NotifyList&) = delete;
  NotifyList& operator=(const NotifyList&) = delete;
  ~NotifyList();
  std::vector<std::shared_ptr<WatcherState>>& watchers() { return watchers_; }

 private:
  std::vector<std::shared_ptr<WatcherState>> watchers_;
};

struct CoreOptions {
  std::size_t event_window = 10000;
  std::size_t watcher_queue_limit = 10000;
};

class StoreCore : public Store {
 public:
  ~StoreCore() override;

  Result<Resource> Get(const ObjectKey& key) final;
  Result<ResourceList> List(const ListOptions& options) final;
  Result<Resource> Create(Resource object) final;
  Result<Resource> Update(Resource object, UpdateOptions options) final;
  Result<Resource> Patch(const ObjectKey& key, std::string_view merge_patch, UpdateOptions options) final;
  Result<Resource> Delete(const ObjectKey& key, DeleteOptions options) final;
  Result<WatchPtr> Watch(const WatchOptions& options) final;
  StoreStats Stats() final;

 protected:
  explicit StoreCore(CoreOptions options) : options_(options) {}
  /// Loads the revision and object count from the backend; the factory calls it once the
  /// derived object is fully constructed (virtual hooks are not callable from the constructor).
  Status Init();
  /// Closes every watch; derived destructors call it before tearing their storage down.
  void Shutdown();

 private:
  virtual Result<std::optional<Resource>> DoGet(const ObjectKey& key) = 0;
  virtual Result<ListPage> DoList(const ListQuery& query) = 0;
  virtual Result<WriteTxnPtr> DoBeginWrite() = 0;
  virtual Result<std::int64_t> DoRevision() = 0;
  virtual Result<std::int64_t> DoCount() = 0;

  /// Update and Patch after the stored object was read in `txn` (write lock held).
  Result<Resource> UpdateLocked(WriteTxn& txn, const Resource& stored, Resource object,
                                Subresource subresource, NotifyList& notify);
  /// Commits `txn` at `revision` and publishes `events` (write lock held).
  Status CommitLocked(WriteTxn& txn, std::int64_t revision, std::vector<ChangeEventPtr> events,
                      NotifyList& notify);

  const CoreOptions options_;
  std::shared_ptr<EventHub> hub_;
  std::mutex write_mu_;                     // serializes writers (a single logical writer, like etcd)
  std::atomic<std::int64_t> revision_{0};   // written under write_mu_
  std::atomic<std::int64_t> objects_{0};    // written under write_mu_
};

/// Random RFC 4122 version 4 UUID ("8-4-4-4-12" lower-case hex).
std::string NewUuidV4();

/// Continue tokens: opaque base64url of {"rv":..,"kind":..,"ns":..,"name":..}.
std::string EncodeContinueToken(std::int64_t revision, const std::string& kind, const std::string& namespace_,
                                const std::string& name);
struct ContinuePosition {
  std::int64_t revision = 0;
  std::string kind;
  std::string namespace_;
  std::string name;
};
Result<ContinuePosition> DecodeContinueToken(std::string_view token);

}  // namespace tuna::store_internal
