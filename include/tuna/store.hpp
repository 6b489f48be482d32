#pragma once
/// Store: the durable home of every tuna object, with Kubernetes API semantics
/// (resourceVersion, optimistic concurrency, generation, status sub-resource, cascading delete,
/// watch from a resourceVersion with 410 Gone). Backends: memory, SQLite; Kubernetes CRDs later.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tuna/resources/object.hpp"
#include "tuna/status.hpp"

namespace tuna {

/// Equality-based and set-based label selector, Kubernetes syntax:
/// "app=echo,tier!=web,env in (a,b),!legacy,team".
class LabelSelector {
 public:
  /// Parses a selector; an error names the offending term.
  static Result<LabelSelector> Parse(std::string_view text);
  bool Matches(const std::map<std::string, std::string>& labels) const;
  bool empty() const { return terms_.empty(); }
  std::string ToString() const;

  struct Term {
    enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kNotExists };
    std::string key;
    Op op = Op::kEquals;
    std::vector<std::string> values;
  };

 private:
  std::vector<Term> terms_;
};

struct ListOptions {
  std::string kind;        // required: canonical kind
  std::string namespace_;  // empty: all namespaces
  std::string label_selector;
  std::int64_t limit = 0;  // 0: no limit
  std::string continue_token;  // from ResourceList::continue_token
};

struct ResourceList {
  std::vector<Resource> items;  // ordered by (namespace, name)
  std::string resource_version; // store revision the list was read at
  std::string continue_token;   // non-empty when more items remain
};

/// Which part of an object a write may change (the status sub-resource).
enum class Subresource { kMain, kStatus };

struct UpdateOptions {
  Subresource subresource = Subresource::kMain;
};

struct DeleteOptions {
  std::string precondition_resource_version;  // empty: unconditional
  std::string precondition_uid;
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };
std::string_view WatchEventTypeName(WatchEventType t);  // "ADDED", ...

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  Resource object;  // for kError: empty; see error
  Status error;     // for kError (e.g. kGone when the watcher fell behind)
};

struct WatchOptions {
  std::string kind;        // empty: every kind
  std::string namespace_;  // empty: all namespaces
  std::string name;        // empty: every name
  std::string label_selector;
  /// Empty: start with synthetic ADDED events for every current object, then changes
  /// ("list then watch"). "0" is the same. Otherwise: changes after that revision; 410 Gone
  /// (StatusCode::kGone) if the revision is older than the store's event window.
  std::string resource_version;
  bool send_initial_events = true;  // only consulted when resource_version is empty or "0"
};

/// A live watch. Events are queued per watcher (bounded); a watcher that falls too far behind
/// receives one kError event (kGone) and is closed, like a Kubernetes watch being expired.
class Watch {
 public:
  virtual ~Watch() = default;
  /// Waits up to `timeout` for the next event; nullopt on timeout or when closed.
  virtual std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) = 0;
  /// Returns every queued event without waiting.
  virtual std::vector<WatchEvent> Drain() = 0;
  /// Called (from the writer's thread, must not block) whenever the queue goes from empty to
  /// non-empty or the watch closes. Lets async servers schedule a drain instead of a thread.
  virtual void SetNotify(std::function<void()> notify) = 0;
  virtual bool closed() const = 0;
  /// Stops the watch; pending Next() calls return.
  virtual void Stop() = 0;
};
using WatchPtr = std::unique_ptr<Watch>;

/// Store statistics for /metrics and benchmarks.
struct StoreStats {
  std::int64_t objects = 0;
  std::int64_t revision = 0;
  std::int64_t watchers = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  /// Reads one object.
  virtual Result<Resource> Get(const ObjectKey& key) = 0;
  /// Lists objects of one kind; label selector and paging as in Kubernetes.
  virtual Result<ResourceList> List(const ListOptions& options) = 0;
  /// Creates an object: assigns uid, resourceVersion, generation=1, creationTimestamp.
  /// metadata.resourceVersion must be empty. AlreadyExists if the name is taken.
  /// The object's status is kept as given (controllers create objects with status).
  virtual Result<Resource> Create(Resource object) = 0;
  /// Replaces an object. A non-empty metadata.resourceVersion must match the stored one
  /// (else Conflict). Main: spec/metadata change, status kept; Status: only status changes.
  /// generation bumps when spec changes. Server-owned metadata (uid, creationTimestamp)
  /// is kept from the stored object.
  virtual Result<Resource> Update(Resource object, UpdateOptions options = {}) = 0;
  /// Applies an RFC 7386 JSON merge patch to the stored object's JSON form.
  virtual Result<Resource> Patch(const ObjectKey& key, std::string_view merge_patch,
                                 UpdateOptions options = {}) = 0;
  /// Deletes an object and, in the same transaction, every object that lists it (by uid) in
  /// ownerReferences, recursively. Returns the deleted object.
  virtual Result<Resource> Delete(const ObjectKey& key, DeleteOptions options = {}) = 0;
  /// Starts a watch.
  virtual Result<WatchPtr> Watch(const WatchOptions& options) = 0;
  /// Current revision and counts.
  virtual StoreStats Stats() = 0;
};
using StorePtr = std::unique_ptr<Store>;

struct MemoryStoreOptions {
  std::size_t event_window = 10000;  // events kept for watch resume
  std::size_t watcher_queue_limit = 10000;
};

struct SqliteStoreOptions {
  std::string path;                   // database file; created if missing
  std::size_t event_window = 10000;   // events kept for watch resume
  std::size_t watcher_queue_limit = 10000;
  bool synchronous_full = true;       // fsync on every commit (durable acknowledged writes)
};

/// In-memory store (tests, embedding).
StorePtr MakeMemoryStore(MemoryStoreOptions options = {});
/// SQLite store (embedded default): WAL, every acknowledged write durable.
Result<StorePtr> MakeSqliteStore(SqliteStoreOptions options);

/// Applies an RFC 7386 JSON merge patch to `target`. Exposed for clients and tests.
Status ApplyMergePatch(boost::json::value& target, std::string_view patch_json);

}  // namespace tuna
