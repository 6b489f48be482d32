// Event window and watcher fan-out shared by the Store backends.

#include "store/event_hub.hpp"

#include <algorithm>

namespace tuna::store_internal {

std::optional<WatchEventType> FilterEvent(const WatchFilter& filter, const ChangeEvent& event) {
  const Resource& obj = event.object;
  if (!filter.kind.empty() && filter.kind != obj.kind) return std::nullopt;
  if (!filter.namespace_.empty() && filter.namespace_ != obj.metadata.namespace_) return std::nullopt;
  if (!filter.name.empty() && filter.name != obj.metadata.name) return std::nullopt;
  if (filter.selector.empty()) return event.type;
  bool now = filter.selector.Matches(obj.metadata.labels);
  if (event.type != WatchEventType::kModified) {
    return now ? std::optional(event.type) : std::nullopt;
  }
  // Like the Kubernetes watch cache: an object entering the selected set is ADDED for this
  // watcher, one leaving it is DELETED (carrying the new object and its revision).
  bool before = filter.selector.Matches(event.prev_labels);
  if (!now && !before) return std::nullopt;
  if (now) return before ? WatchEventType::kModified : WatchEventType::kAdded;
  return WatchEventType::kDeleted;
}

// --- WatcherState ------------------------------------------------------------------------------

bool WatcherState::Offer(const ChangeEventPtr& event) {
  if (event->revision <= start_revision_) return false;
  auto type = FilterEvent(filter_, *event);
  if (!type) return false;
  std::lock_guard lock(mu_);
  if (closed_ || stopped_) return false;
  if (queue_.size() - initial_pending_ >= queue_limit_) {
    // The consumer must relist anyway, so the stale backlog is dropped and only the error stays.
    queue_.clear();
    initial_pending_ = 0;
    closed_ = true;
    queue_.push_back({WatchEventType::kError, nullptr,
                      Gone("watch expired: the watcher fell more than " + std::to_string(queue_limit_) +
                           " events behind; list again and watch from the list's resourceVersion")});
    cv_.notify_all();
    return true;
  }
  bool was_empty = queue_.empty();
  queue_.push_back({*type, event, {}});
  cv_.notify_one();
  return was_empty;
}

void WatcherState::OfferInitial(const ChangeEventPtr& event) {
  std::lock_guard lock(mu_);
  queue_.push_back({WatchEventType::kAdded, event, {}});
  ++initial_pending_;
}

bool WatcherState::CloseFromStore() {
  std::lock_guard lock(mu_);
  if (closed_ || stopped_) return false;
  closed_ = true;
  cv_.notify_all();
  return true;
}

WatchEvent WatcherState::ToWatchEvent(Item item) {
  WatchEvent out;
  out.type = item.type;
  if (item.event) out.object = item.event->object;  // the deep copy happens on the consumer's thread
  out.error = std::move(item.error);
  return out;
}

std::optional<WatchEvent> WatcherState::Next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return stopped_ || closed_ || !queue_.empty(); });
  if (stopped_ || queue_.empty()) return std::nullopt;
  Item item = std::move(queue_.front());
  queue_.pop_front();
  if (initial_pending_ > 0) --initial_pending_;
  lock.unlock();
  return ToWatchEvent(std::move(item));
}

std::vector<WatchEvent> WatcherState::Drain() {
  std::deque<Item> items;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return {};
    items.swap(queue_);
    initial_pending_ = 0;
  }
  std::vector<WatchEvent> out;
  out.reserve(items.size());
  for (auto& item : items) out.push_back(ToWatchEvent(std::move(item)));
  return out;
}

void WatcherState::SetNotify(std::function<void()> notify) {
  bool pending = false;
  {
    std::lock_guard lock(notify_mu_);
    notify_ = std::move(notify);
  }
  {
    std::lock_guard lock(mu_);
    pending = !queue_.empty() || closed_;
  }
  // Events queued before the callback existed would otherwise never be announced.
  if (pending) CallNotify();
}

void WatcherState::CallNotify() {
  std::lock_guard lock(notify_mu_);
  if (!notify_) return;
  auto fn = notify_;  // a copy, so Stop() from inside the callback can clear notify_ safely
  fn();
}

bool WatcherState::closed() const {
  std::lock_guard lock(mu_);
  return closed_ || stopped_;
}

bool WatcherState::done() const { return closed(); }

void WatcherState::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    closed_ = true;
    queue_.clear();
    initial_pending_ = 0;
    cv_.notify_all();
  }
  std::lock_guard lock(notify_mu_);  // waits for a callback running on another thread
  notify_ = nullptr;
}

// --- Watch handle ------------------------------------------------------------------------------

namespace {

class WatchHandle final : public Watch {
 public:
  WatchHandle(std::shared_ptr<EventHub> hub, std::shared_ptr<WatcherState> state)
      : hub_(std::move(hub)), state_(std::move(state)) {}
  ~WatchHandle() override {
    state_->Stop();
    hub_->Remove(state_.get());
  }
  std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) override { return state_->Next(timeout); }
  std::vector<WatchEvent> Drain() override { return state_->Drain(); }
  void SetNotify(std::function<void()> notify) override { state_->SetNotify(std::move(notify)); }
  bool closed() const override { return state_->closed(); }
  void Stop() override {
    state_->Stop();
    hub_->Remove(state_.get());
  }

 private:
  std::shared_ptr<EventHub> hub_;  // outlives the store if watches do
  std::shared_ptr<WatcherState> state_;
};

}  // namespace

// --- EventHub ----------------------------------------------------------------------------------

std::vector<std::shared_ptr<WatcherState>> EventHub::Publish(std::vector<ChangeEventPtr> events) {
  if (events.empty()) return {};
  std::vector<std::shared_ptr<WatcherState>> to_notify;
  {
    std::lock_guard lock(mu_);
    for (auto& e : events) {
      latest_ = e->revision;
      window_.push_back(e);
    }
    while (window_.size() > window_capacity_) {
      window_start_ = window_.front()->revision;
      window_.pop_front();
    }
    for (auto& w : watchers_) {
      bool notify = false;
      for (const auto& e : events) notify |= w->Offer(e);
      if (notify) to_notify.push_back(w);
    }
    std::erase_if(watchers_, [](const auto& w) { return w->done(); });
  }
  return to_notify;
}

Result<WatchPtr> EventHub::Register(WatchFilter filter, std::int64_t from_revision,
                                    std::vector<ChangeEventPtr> initial) {
  std::shared_ptr<WatcherState> state;
  {
    std::lock_guard lock(mu_);
    std::int64_t start = from_revision < 0 ? latest_ : from_revision;
    if (start < window_start_) {
      return Gone("too old resource version: " + std::to_string(start) + " (oldest available " +
                  std::to_string(window_start_) + ")");
    }
    state = std::make_shared<WatcherState>(std::move(filter), start, queue_limit_);
    for (const auto& e : initial) state->OfferInitial(e);
    auto first = std::upper_bound(window_.begin(), window_.end(), start,
                                  [](std::int64_t rev, const ChangeEventPtr& e) { return rev < e->revision; });
    for (auto it = first; it != window_.end(); ++it) state->Offer(*it);
    if (!state->done()) watchers_.push_back(state);
  }
  return WatchPtr(std::make_unique<WatchHandle>(shared_from_this(), std::move(state)));
}

void EventHub::Remove(const WatcherState* state) {
  std::lock_guard lock(mu_);
  std::erase_if(watchers_, [&](const auto& w) { return w.get() == state; });
}

void EventHub::CloseAll() {
  std::vector<std::shared_ptr<WatcherState>> watchers;
  {
    std::lock_guard lock(mu_);
    watchers.swap(watchers_);
  }
  for (auto& w : watchers) {
    if (w->CloseFromStore()) w->CallNotify();
  }
}

std::int64_t EventHub::watchers() const {
  std::lock_guard lock(mu_);
  return static_cast<std::int64_t>(watchers_.size());
}

}  // namespace tuna::store_internal
