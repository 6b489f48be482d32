#pragma once
/// A small controller runtime in the style of client-go / controller-runtime: informers (list +
/// watch with resync and a local cache), a de-duplicating work queue with per-key rate-limited
/// retries and delayed adds, and controllers that run level-triggered, idempotent reconcilers.
/// Everything restarts from the store alone: no controller state is persisted elsewhere.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tuna/resources/object.hpp"
#include "tuna/status.hpp"
#include "tuna/store.hpp"

namespace tuna {

/// Per-key exponential backoff: base * 2^failures, capped.
struct RateLimit {
  std::chrono::milliseconds base{5};
  std::chrono::milliseconds max{30000};
};

/// A work queue of object keys. A key is handed to at most one worker at a time; adding a key that
/// is already queued is a no-op; adding a key that is being processed re-queues it after Done().
class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;
  explicit WorkQueue(RateLimit limit = {});
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  /// Queues a key now.
  void Add(const ObjectKey& key);
  /// Queues a key after a delay (a later Add or an earlier AddAfter wins).
  void AddAfter(const ObjectKey& key, std::chrono::milliseconds delay);
  /// Queues a key after its backoff, and counts a failure for it.
  void AddRateLimited(const ObjectKey& key);
  /// Clears a key's failure count (after a successful reconcile).
  void Forget(const ObjectKey& key);
  /// Failures counted for a key since the last Forget.
  int Failures(const ObjectKey& key) const;
  /// Blocks until a key is ready or the queue shuts down (nullopt).
  std::optional<ObjectKey> Get();
  /// Marks a key finished; if it was re-added meanwhile it is queued again.
  void Done(const ObjectKey& key);
  /// Wakes every Get(); later Get()s return nullopt.
  void ShutDown();
  /// Keys ready now (not counting delayed ones).
  std::size_t Len() const;

 private:
  void AddLocked(const ObjectKey& key);
  void PromoteDueLocked(Clock::time_point now);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  RateLimit limit_;
  std::vector<ObjectKey> queue_;  // FIFO of ready keys
  std::set<ObjectKey> dirty_;     // queued (ready), or re-added while processing
  std::set<ObjectKey> processing_;
  std::multimap<Clock::time_point, ObjectKey> delayed_;
  std::map<ObjectKey, int> failures_;
  bool shutting_down_ = false;
};

/// Receives informer notifications (called on the informer's thread, in order).
struct InformerHandlers {
  std::function<void(const Resource&)> on_add;
  std::function<void(const Resource& old_obj, const Resource& new_obj)> on_update;
  std::function<void(const Resource&)> on_delete;
};

struct InformerOptions {
  std::string kind;        // required
  std::string namespace_;  // empty: all
  std::string label_selector;
  std::chrono::milliseconds resync{std::chrono::minutes(5)};  // 0: never; on_update(obj, obj) for all
  std::chrono::milliseconds retry{200};  // pause before re-listing after an error
};

/// Lists then watches one kind, keeps a local cache and calls handlers; on a broken or expired
/// watch (410 Gone) it re-lists and reconciles the cache (synthesising adds, updates, deletes).
class Informer {
 public:
  Informer(Store& store, InformerOptions options);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  /// Adds handlers; must be called before Start().
  void AddHandlers(InformerHandlers handlers);
  /// Starts the list/watch thread.
  void Start();
  void Stop();
  /// Blocks until the first list has been delivered (or the timeout passes).
  bool WaitForSync(std::chrono::milliseconds timeout);
  bool synced() const;
  /// The cached object, if any.
  std::optional<Resource> Get(const ObjectKey& key) const;
  /// Every cached object (of this informer's kind).
  std::vector<Resource> List() const;
  const InformerOptions& options() const { return options_; }

 private:
  void Run();
  Status ListAndSync(std::string& resource_version);
  void Deliver(const WatchEvent& event);

  Store& store_;
  InformerOptions options_;
  std::vector<InformerHandlers> handlers_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<ObjectKey, Resource> cache_;
  bool synced_ = false;
  bool stop_ = false;
  std::mutex watch_mu_;
  WatchPtr watch_;
  std::thread thread_;
};

/// What a reconcile asks for beyond success/failure.
struct ReconcileResult {
  std::optional<std::chrono::milliseconds> requeue_after;  // timers: come back later
};

using Reconciler = std::function<Result<ReconcileResult>(const ObjectKey& key)>;

struct ControllerOptions {
  std::string name;
  int workers = 1;
  RateLimit rate_limit;
};

/// Drives a reconciler from a work queue fed by informers. A failed reconcile is retried with
/// backoff; a successful one may ask to be requeued after a delay (timers).
class Controller {
 public:
  Controller(ControllerOptions options, Reconciler reconciler);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  /// Enqueues the object's own key on every add/update/delete of `informer`.
  void Watches(Informer& informer);
  /// Enqueues the key `map(obj)` returns (e.g. the owner) for events of `informer`.
  void WatchesMapped(Informer& informer, std::function<std::optional<ObjectKey>(const Resource&)> map);
  /// Starts worker threads.
  void Start();
  /// Stops workers after their current reconcile.
  void Stop();
  WorkQueue& queue() { return queue_; }
  const std::string& name() const { return options_.name; }
  /// Reconciles run so far (for metrics and tests).
  std::int64_t reconciles() const;
  std::int64_t failures() const;

 private:
  void Work();

  ControllerOptions options_;
  Reconciler reconciler_;
  WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<std::int64_t> reconciles_{0};
  std::atomic<std::int64_t> failures_{0};
};

/// The owner of `obj` with the given kind (first matching controller ownerReference), as a key.
std::optional<ObjectKey> OwnerKey(const Resource& obj, std::string_view owner_kind);

}  // namespace tuna
