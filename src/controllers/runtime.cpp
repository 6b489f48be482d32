// Controller runtime: work queue, informer, controller.

#include <spdlog/spdlog.h>

#include <algorithm>

#include "tuna/controller.hpp"

namespace tuna {

// ---- WorkQueue ---------------------------------------------------------------------------------

WorkQueue::WorkQueue(RateLimit limit) : limit_(limit) {}

WorkQueue::~WorkQueue() { ShutDown(); }

void WorkQueue::AddLocked(const ObjectKey& key) {
  if (shutting_down_) return;
  if (dirty_.count(key)) return;  // already queued, or will be re-queued on Done()
  dirty_.insert(key);
  if (processing_.count(key)) return;
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::Add(const ObjectKey& key) {
  std::lock_guard lock(mu_);
  AddLocked(key);
}

void WorkQueue::AddAfter(const ObjectKey& key, std::chrono::milliseconds delay) {
  if (delay.count() <= 0) return Add(key);
  std::lock_guard lock(mu_);
  if (shutting_down_) return;
  auto due = Clock::now() + delay;
  // Keep only the earliest pending timer for a key.
  for (auto it = delayed_.begin(); it != delayed_.end(); ++it) {
    if (it->second == key) {
      if (it->first <= due) return;
      delayed_.erase(it);
      break;
    }
  }
  delayed_.emplace(due, key);
  cv_.notify_all();
}

void WorkQueue::AddRateLimited(const ObjectKey& key) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(mu_);
    int n = failures_[key]++;
    auto ms = limit_.base.count() << std::min(n, 20);
    delay = std::chrono::milliseconds(std::min<std::int64_t>(ms, limit_.max.count()));
  }
  AddAfter(key, delay);
}

void WorkQueue::Forget(const ObjectKey& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

int WorkQueue::Failures(const ObjectKey& key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::PromoteDueLocked(Clock::time_point now) {
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    ObjectKey key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    AddLocked(key);
  }
}

std::optional<ObjectKey> WorkQueue::Get() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (shutting_down_) return std::nullopt;
    PromoteDueLocked(Clock::now());
    if (!queue_.empty()) {
      ObjectKey key = std::move(queue_.front());
      queue_.erase(queue_.begin());
      dirty_.erase(key);
      processing_.insert(key);
      return key;
    }
    if (delayed_.empty()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, delayed_.begin()->first);
    }
  }
}

void WorkQueue::Done(const ObjectKey& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key) && !shutting_down_) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::ShutDown() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  cv_.notify_all();
}

std::size_t WorkQueue::Len() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

// ---- Informer ----------------------------------------------------------------------------------

Informer::Informer(Store& store, InformerOptions options) : store_(store), options_(std::move(options)) {}

Informer::~Informer() { Stop(); }

void Informer::AddHandlers(InformerHandlers handlers) { handlers_.push_back(std::move(handlers)); }

void Informer::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void Informer::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  {
    std::lock_guard lock(watch_mu_);
    if (watch_) watch_->Stop();
  }
  if (thread_.joinable()) thread_.join();
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return synced_ || stop_; }) && synced_;
}

bool Informer::synced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

std::optional<Resource> Informer::Get(const ObjectKey& key) const {
  std::lock_guard lock(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

std::vector<Resource> Informer::List() const {
  std::lock_guard lock(mu_);
  std::vector<Resource> out;
  out.reserve(cache_.size());
  for (const auto& [k, v] : cache_) out.push_back(v);
  return out;
}

Status Informer::ListAndSync(std::string& resource_version) {
  ListOptions lo;
  lo.kind = options_.kind;
  lo.namespace_ = options_.namespace_;
  lo.label_selector = options_.label_selector;
  TUNA_ASSIGN_OR_RETURN(ResourceList list, store_.List(lo));
  resource_version = list.resource_version;

  // Diff the fresh list against the cache so handlers see what changed while we were away.
  std::map<ObjectKey, Resource> fresh;
  for (auto& item : list.items) fresh.emplace(KeyOf(item), std::move(item));
  std::vector<Resource> added, deleted;
  std::vector<std::pair<Resource, Resource>> updated;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, obj] : cache_) {
      auto it = fresh.find(key);
      if (it == fresh.end()) deleted.push_back(obj);
      else if (it->second.metadata.resource_version != obj.metadata.resource_version) updated.emplace_back(obj, it->second);
    }
    for (const auto& [key, obj] : fresh) {
      if (!cache_.count(key)) added.push_back(obj);
    }
    cache_ = std::move(fresh);
  }
  for (const auto& h : handlers_) {
    if (h.on_delete) for (const auto& o : deleted) h.on_delete(o);
    if (h.on_update) for (const auto& [o, n] : updated) h.on_update(o, n);
    if (h.on_add) for (const auto& o : added) h.on_add(o);
  }
  {
    std::lock_guard lock(mu_);
    synced_ = true;
    cv_.notify_all();
  }
  return {};
}

void Informer::Deliver(const WatchEvent& event) {
  const Resource& obj = event.object;
  ObjectKey key = KeyOf(obj);
  std::optional<Resource> old;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) old = it->second;
    if (event.type == WatchEventType::kDeleted) cache_.erase(key);
    else cache_[key] = obj;
  }
  for (const auto& h : handlers_) {
    if (event.type == WatchEventType::kDeleted) {
      if (h.on_delete) h.on_delete(obj);
    } else if (old) {
      if (h.on_update) h.on_update(*old, obj);
    } else if (h.on_add) {
      h.on_add(obj);
    }
  }
}

void Informer::Run() {
  auto stopping = [this] {
    std::lock_guard lock(mu_);
    return stop_;
  };
  auto pause = [this](std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [this] { return stop_; });
  };
  while (!stopping()) {
    std::string rv;
    Status st = ListAndSync(rv);
    if (!st.ok()) {
      spdlog::warn("informer {}: list failed: {}", options_.kind, st.ToString());
      pause(options_.retry);
      continue;
    }
    WatchOptions wo;
    wo.kind = options_.kind;
    wo.namespace_ = options_.namespace_;
    wo.label_selector = options_.label_selector;
    wo.resource_version = rv;
    auto w = store_.Watch(wo);
    if (!w.ok()) {
      spdlog::warn("informer {}: watch failed: {}", options_.kind, w.status().ToString());
      pause(options_.retry);
      continue;
    }
    {
      std::lock_guard lock(watch_mu_);
      watch_ = std::move(w).value();
    }
    if (stopping()) watch_->Stop();
    auto next_resync = std::chrono::steady_clock::now() + options_.resync;
    while (!stopping()) {
      auto ev = watch_->Next(std::chrono::milliseconds(200));
      if (ev) {
        if (ev->type == WatchEventType::kError) {
          spdlog::info("informer {}: watch ended ({}), re-listing", options_.kind, ev->error.ToString());
          break;
        }
        if (ev->type != WatchEventType::kBookmark) Deliver(*ev);
        continue;
      }
      if (watch_->closed()) break;
      if (options_.resync.count() > 0 && std::chrono::steady_clock::now() >= next_resync) {
        next_resync = std::chrono::steady_clock::now() + options_.resync;
        for (const auto& obj : List()) {
          for (const auto& h : handlers_) {
            if (h.on_update) h.on_update(obj, obj);
          }
        }
      }
    }
    {
      std::lock_guard lock(watch_mu_);
      watch_.reset();
    }
  }
}

// ---- Controller --------------------------------------------------------------------------------

Controller::Controller(ControllerOptions options, Reconciler reconciler)
    : options_(std::move(options)), reconciler_(std::move(reconciler)), queue_(options_.rate_limit) {}

Controller::~Controller() { Stop(); }

void Controller::Watches(Informer& informer) {
  InformerHandlers h;
  h.on_add = [this](const Resource& o) { queue_.Add(KeyOf(o)); };
  h.on_update = [this](const Resource&, const Resource& n) { queue_.Add(KeyOf(n)); };
  h.on_delete = [this](const Resource& o) { queue_.Add(KeyOf(o)); };
  informer.AddHandlers(std::move(h));
}

void Controller::WatchesMapped(Informer& informer, std::function<std::optional<ObjectKey>(const Resource&)> map) {
  auto enqueue = [this, map](const Resource& o) {
    if (auto k = map(o)) queue_.Add(*k);
  };
  InformerHandlers h;
  h.on_add = enqueue;
  h.on_update = [enqueue](const Resource&, const Resource& n) { enqueue(n); };
  h.on_delete = enqueue;
  informer.AddHandlers(std::move(h));
}

void Controller::Start() {
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { Work(); });
}

void Controller::Stop() {
  queue_.ShutDown();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

std::int64_t Controller::reconciles() const { return reconciles_.load(); }
std::int64_t Controller::failures() const { return failures_.load(); }

void Controller::Work() {
  while (auto key = queue_.Get()) {
    Result<ReconcileResult> r = Status(StatusCode::kInternal, "reconcile did not run");
    try {
      r = reconciler_(*key);
    } catch (const std::exception& e) {
      r = Internal(std::string("reconciler threw: ") + e.what());
    } catch (...) {
      r = Internal("reconciler threw");
    }
    ++reconciles_;
    if (!r.ok()) {
      ++failures_;
      spdlog::warn("controller {}: reconcile {} failed (attempt {}): {}", options_.name, ToString(*key),
                   queue_.Failures(*key) + 1, r.status().ToString());
      queue_.AddRateLimited(*key);
    } else {
      queue_.Forget(*key);
      if (r->requeue_after) queue_.AddAfter(*key, *r->requeue_after);
    }
    queue_.Done(*key);
  }
}

std::optional<ObjectKey> OwnerKey(const Resource& obj, std::string_view owner_kind) {
  for (const auto& ref : obj.metadata.owner_references) {
    if (ref.kind == owner_kind) return ObjectKey{ref.kind, obj.metadata.namespace_, ref.name};
  }
  return std::nullopt;
}

}  // namespace tuna
