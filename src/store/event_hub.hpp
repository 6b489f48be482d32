#pragma once
// Private: the in-memory event window and watcher fan-out shared by every Store backend.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "tuna/store.hpp"

namespace tuna::store_internal {

/// One committed change. Immutable once published; shared by the window and watcher queues so
/// fan-out costs a pointer copy per watcher on the writer's thread.
struct ChangeEvent {
  WatchEventType type = WatchEventType::kAdded;
  std::int64_t revision = 0;
  Resource object;  // the new object; for kDeleted the deleted one with the deletion revision
  // Labels before a MODIFIED change, so selector watches see objects entering/leaving the set.
  std::map<std::string, std::string> prev_labels;
};
using ChangeEventPtr = std::shared_ptr<const ChangeEvent>;

struct WatchFilter {
  std::string kind;
  std::string namespace_;
  std::string name;
  LabelSelector selector;
};

/// A watcher's queue. Shared by the Watch handle (consumer) and the hub (producer).
class WatcherState {
 public:
  WatcherState(WatchFilter filter, std::int64_t start_revision, std::size_t queue_limit)
      : filter_(std::move(filter)), start_revision_(start_revision), queue_limit_(queue_limit) {}

  /// Queues `event` if it passes the filter and is newer than the start revision. Returns true
  /// when the consumer must be notified (queue went non-empty or the watcher expired).
  bool Offer(const ChangeEventPtr& event);
  /// Queues a synthetic ADDED of the initial snapshot (not counted against the queue limit).
  void OfferInitial(const ChangeEventPtr& event);
  /// Closes the watch because its store went away; queued events stay readable.
  bool CloseFromStore();

  std::optional<WatchEvent> Next(std::chrono::milliseconds timeout);
  std::vector<WatchEvent> Drain();
  void SetNotify(std::function<void()> notify);
  void CallNotify();
  bool closed() const;
  void Stop();
  bool done() const;  // closed or stopped: the hub may drop it

 private:
  struct Item {
    WatchEventType type;
    ChangeEventPtr event;  // null for kError
    Status error;
  };
  static WatchEvent ToWatchEvent(Item item);

  const WatchFilter filter_;
  const std::int64_t start_revision_;
  const std::size_t queue_limit_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  std::size_t initial_pending_ = 0;  // snapshot events still queued (they precede live ones)
  bool closed_ = false;               // no more events will be queued
  bool stopped_ = false;              // consumer stopped: Next returns nullopt at once

  // Separate from mu_ so the callback may call Drain(); held while calling so Stop() and the
  // destructor wait for a callback running elsewhere. Recursive: the callback may Stop() itself.
  std::recursive_mutex notify_mu_;
  std::function<void()> notify_;
};

/// The event window (ring buffer of the last N events) and the live watchers.
class EventHub : public std::enable_shared_from_this<EventHub> {
 public:
  EventHub(std::size_t window, std::size_t queue_limit, std::int64_t start_revision)
      : window_capacity_(window == 0 ? 1 : window),
        queue_limit_(queue_limit == 0 ? 1 : queue_limit),
        window_start_(start_revision),
        latest_(start_revision) {}

  /// Appends the events of one committed revision (callers serialize, in revision order) and
  /// fans them out. Returns the watchers whose consumers must be notified; the caller calls
  /// CallNotify() on them once it holds no store lock.
  std::vector<std::shared_ptr<WatcherState>> Publish(std::vector<ChangeEventPtr> events);

  /// Registers a watcher that receives every event with revision > `from_revision`, after the
  /// `initial` snapshot events. kGone if the window no longer holds all of them.
  /// `from_revision` < 0 means "from the latest published revision".
  Result<WatchPtr> Register(WatchFilter filter, std::int64_t from_revision,
                            std::vector<ChangeEventPtr> initial);

  void Remove(const WatcherState* state);
  /// Closes every watcher (the store is being destroyed).
  void CloseAll();
  std::int64_t watchers() const;

 private:
  const std::size_t window_capacity_;
  const std::size_t queue_limit_;
  mutable std::mutex mu_;
  std::deque<ChangeEventPtr> window_;
  std::int64_t window_start_;  // every event with revision > window_start_ is in window_
  std::int64_t latest_;        // revision of the newest published event
  std::vector<std::shared_ptr<WatcherState>> watchers_;
};

/// Whether `filter` lets `event` through and as which type (selector enter/leave semantics).
std::optional<WatchEventType> FilterEvent(const WatchFilter& filter, const ChangeEvent& event);

}  // namespace tuna::store_internal
