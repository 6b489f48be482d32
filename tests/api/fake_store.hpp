#pragma once
// A std::map-based Store for the API tests while the real stores are written on branch `store`.
// It follows the contract documented in tuna/store.hpp: resourceVersion compare-and-swap,
// generation bumps on spec change, main vs status sub-resource, cascading delete by owner uid,
// label selectors (equality and existence terms), paging, and watches with an event window
// (410 Gone when resuming from before it), a bounded per-watcher queue and SetNotify.

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "tuna/resources/codec.hpp"
#include "tuna/store.hpp"

namespace tuna::testing {

class FakeStore : public Store {
 public:
  explicit FakeStore(std::size_t event_window = 1000, std::size_t watcher_queue_limit = 1000)
      : event_window_(event_window), queue_limit_(watcher_queue_limit) {}

  Result<Resource> Get(const ObjectKey& key) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return NotFound(ToString(key) + " not found");
    return it->second;
  }

  Result<ResourceList> List(const ListOptions& options) override {
    std::lock_guard lock(mu_);
    auto selector = ParseSelector(options.label_selector);
    if (!selector) return InvalidArgument("labelSelector: cannot parse \"" + options.label_selector + "\"", "labelSelector");
    ResourceList out;
    out.resource_version = std::to_string(revision_);
    for (const auto& [key, obj] : objects_) {
      if (key.kind != options.kind) continue;
      if (!options.namespace_.empty() && key.namespace_ != options.namespace_) continue;
      if (!Matches(*selector, obj.metadata.labels)) continue;
      std::string position = key.namespace_ + "/" + key.name;
      if (!options.continue_token.empty() && position <= options.continue_token) continue;
      if (options.limit > 0 && static_cast<std::int64_t>(out.items.size()) == options.limit) {
        const auto& last = out.items.back().metadata;
        out.continue_token = last.namespace_ + "/" + last.name;
        break;
      }
      out.items.push_back(obj);
    }
    return out;
  }

  Result<Resource> Create(Resource object) override {
    std::vector<std::function<void()>> notify;
    Resource stored;
    {
      std::lock_guard lock(mu_);
      if (!object.metadata.resource_version.empty()) {
        return InvalidArgument("metadata.resourceVersion: must be empty on create", "metadata.resourceVersion");
      }
      auto key = KeyOf(object);
      if (objects_.count(key)) return AlreadyExists(ToString(key) + " already exists");
      object.metadata.uid = "uid-" + std::to_string(++uid_counter_);
      object.metadata.resource_version = std::to_string(++revision_);
      object.metadata.generation = 1;
      object.metadata.creation_timestamp = NowRfc3339();
      objects_[key] = object;
      stored = object;
      Emit(WatchEventType::kAdded, stored, notify);
    }
    for (auto& n : notify) n();
    return stored;
  }

  Result<Resource> Update(Resource object, UpdateOptions options = {}) override {
    std::vector<std::function<void()>> notify;
    Resource stored;
    {
      std::lock_guard lock(mu_);
      auto key = KeyOf(object);
      auto it = objects_.find(key);
      if (it == objects_.end()) return NotFound(ToString(key) + " not found");
      Resource& cur = it->second;
      if (!object.metadata.resource_version.empty() && object.metadata.resource_version != cur.metadata.resource_version) {
        return Conflict(ToString(key) + ": resourceVersion " + object.metadata.resource_version + " is stale (now " +
                        cur.metadata.resource_version + ")");
      }
      Resource next = cur;
      if (options.subresource == Subresource::kStatus) {
        next.status = object.status;
      } else {
        next.metadata.labels = object.metadata.labels;
        next.metadata.annotations = object.metadata.annotations;
        next.metadata.owner_references = object.metadata.owner_references;
        if (object.spec != cur.spec) ++next.metadata.generation;
        next.spec = object.spec;
      }
      next.metadata.resource_version = std::to_string(++revision_);
      cur = next;
      stored = next;
      Emit(WatchEventType::kModified, stored, notify);
    }
    for (auto& n : notify) n();
    return stored;
  }

  Result<Resource> Patch(const ObjectKey& key, std::string_view merge_patch, UpdateOptions options = {}) override {
    TUNA_ASSIGN_OR_RETURN(Resource current, Get(key));
    boost::json::value doc = ResourceToJson(current);
    TUNA_RETURN_IF_ERROR(ApplyMergePatch(doc, merge_patch));
    TUNA_ASSIGN_OR_RETURN(Resource patched, ResourceFromJson(doc));
    return Update(std::move(patched), options);
  }

  Result<Resource> Delete(const ObjectKey& key, DeleteOptions options = {}) override {
    std::vector<std::function<void()>> notify;
    Resource deleted;
    {
      std::lock_guard lock(mu_);
      auto it = objects_.find(key);
      if (it == objects_.end()) return NotFound(ToString(key) + " not found");
      if (!options.precondition_resource_version.empty() &&
          options.precondition_resource_version != it->second.metadata.resource_version) {
        return Conflict("precondition failed: " + ToString(key) + " is at resourceVersion " +
                        it->second.metadata.resource_version + ", not " + options.precondition_resource_version);
      }
      if (!options.precondition_uid.empty() && options.precondition_uid != it->second.metadata.uid) {
        return Conflict("precondition failed: uid mismatch");
      }
      deleted = it->second;
      DeleteRecursive(key, notify);
    }
    for (auto& n : notify) n();
    return deleted;
  }

  Result<WatchPtr> Watch(const WatchOptions& options) override {
    std::vector<std::function<void()>> notify;
    auto selector = ParseSelector(options.label_selector);
    if (!selector) return InvalidArgument("labelSelector: cannot parse", "labelSelector");
    auto state = std::make_shared<WatchState>();
    state->options = options;
    state->selector = *selector;
    state->limit = queue_limit_;
    {
      std::lock_guard lock(mu_);
      const std::string& rv = options.resource_version;
      if (rv.empty() || rv == "0") {
        if (options.send_initial_events) {
          for (const auto& [key, obj] : objects_) {
            if (Wants(*state, obj)) state->queue.push_back({WatchEventType::kAdded, obj, {}});
          }
        }
      } else {
        std::int64_t from = 0;
        try {
          from = std::stoll(rv);
        } catch (...) {
          return InvalidArgument("resourceVersion: not a number: \"" + rv + "\"", "resourceVersion");
        }
        std::int64_t oldest = events_.empty() ? revision_ + 1 : events_.front().first;
        if (from < oldest - 1) {
          return Gone("too old resource version: " + rv + " (oldest available: " + std::to_string(oldest - 1) + ")");
        }
        for (const auto& [rev, ev] : events_) {
          if (rev > from && Wants(*state, ev.object)) state->queue.push_back(ev);
        }
      }
      watchers_.push_back(state);
    }
    return WatchPtr(new FakeWatch(state));
  }

  StoreStats Stats() override {
    std::lock_guard lock(mu_);
    StoreStats s;
    s.objects = static_cast<std::int64_t>(objects_.size());
    s.revision = revision_;
    std::int64_t live = 0;
    for (const auto& w : watchers_) {
      if (auto p = w.lock(); p && !p->closed) ++live;
    }
    s.watchers = live;
    return s;
  }

 private:
  struct Term {
    std::string key, value;
    enum { kEq, kNe, kExists, kNotExists } op;
  };
  using Selector = std::vector<Term>;

  struct WatchState {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<WatchEvent> queue;
    std::function<void()> notify;
    bool closed = false;
    std::size_t limit = 1000;
    WatchOptions options;
    Selector selector;
  };

  class FakeWatch : public tuna::Watch {
   public:
    explicit FakeWatch(std::shared_ptr<WatchState> s) : s_(std::move(s)) {}
    ~FakeWatch() override { Stop(); }
    std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) override {
      std::unique_lock lock(s_->mu);
      s_->cv.wait_for(lock, timeout, [&] { return !s_->queue.empty() || s_->closed; });
      if (s_->queue.empty()) return std::nullopt;
      WatchEvent ev = std::move(s_->queue.front());
      s_->queue.pop_front();
      return ev;
    }
    std::vector<WatchEvent> Drain() override {
      std::lock_guard lock(s_->mu);
      std::vector<WatchEvent> out(std::make_move_iterator(s_->queue.begin()), std::make_move_iterator(s_->queue.end()));
      s_->queue.clear();
      return out;
    }
    void SetNotify(std::function<void()> notify) override {
      std::lock_guard lock(s_->mu);
      s_->notify = std::move(notify);
    }
    bool closed() const override {
      std::lock_guard lock(s_->mu);
      return s_->closed;
    }
    void Stop() override {
      std::function<void()> n;
      {
        std::lock_guard lock(s_->mu);
        if (s_->closed) return;
        s_->closed = true;
        n = s_->notify;
      }
      s_->cv.notify_all();
      if (n) n();
    }

   private:
    std::shared_ptr<WatchState> s_;
  };

  static std::optional<Selector> ParseSelector(const std::string& text) {
    Selector out;
    std::size_t start = 0;
    while (start < text.size()) {
      auto comma = text.find(',', start);
      std::string term = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      start = comma == std::string::npos ? text.size() : comma + 1;
      if (term.empty()) return std::nullopt;
      Term t;
      if (auto p = term.find("!="); p != std::string::npos) {
        t = {term.substr(0, p), term.substr(p + 2), Term::kNe};
      } else if (auto q = term.find('='); q != std::string::npos) {
        t = {term.substr(0, q), term.substr(q + (term.compare(q, 2, "==") == 0 ? 2 : 1)), Term::kEq};
      } else if (term[0] == '!') {
        t = {term.substr(1), "", Term::kNotExists};
      } else {
        t = {term, "", Term::kExists};
      }
      if (t.key.empty()) return std::nullopt;
      out.push_back(t);
    }
    return out;
  }

  static bool Matches(const Selector& sel, const std::map<std::string, std::string>& labels) {
    for (const auto& t : sel) {
      auto it = labels.find(t.key);
      switch (t.op) {
        case Term::kEq: if (it == labels.end() || it->second != t.value) return false; break;
        case Term::kNe: if (it != labels.end() && it->second == t.value) return false; break;
        case Term::kExists: if (it == labels.end()) return false; break;
        case Term::kNotExists: if (it != labels.end()) return false; break;
      }
    }
    return true;
  }

  static bool Wants(const WatchState& w, const Resource& obj) {
    if (!w.options.kind.empty() && obj.kind != w.options.kind) return false;
    if (!w.options.namespace_.empty() && obj.metadata.namespace_ != w.options.namespace_) return false;
    if (!w.options.name.empty() && obj.metadata.name != w.options.name) return false;
    return Matches(w.selector, obj.metadata.labels);
  }

  // Called with mu_ held; collects notify callbacks to run after unlocking.
  void Emit(WatchEventType type, const Resource& obj, std::vector<std::function<void()>>& notify) {
    WatchEvent ev{type, obj, {}};
    events_.emplace_back(revision_, ev);
    while (events_.size() > event_window_) events_.pop_front();
    for (auto it = watchers_.begin(); it != watchers_.end();) {
      auto w = it->lock();
      if (!w) {
        it = watchers_.erase(it);
        continue;
      }
      ++it;
      if (!Wants(*w, obj)) continue;
      std::lock_guard lock(w->mu);
      if (w->closed) continue;
      bool was_empty = w->queue.empty();
      if (w->queue.size() >= w->limit) {
        // Fell too far behind: one Gone error, then closed (like an expired Kubernetes watch).
        w->queue.push_back({WatchEventType::kError, {}, Gone("watcher fell behind; re-list and watch again")});
        w->closed = true;
        w->cv.notify_all();
        if (w->notify) notify.push_back(w->notify);
        continue;
      }
      w->queue.push_back(ev);
      w->cv.notify_all();
      if (was_empty && w->notify) notify.push_back(w->notify);
    }
  }

  void DeleteRecursive(const ObjectKey& key, std::vector<std::function<void()>>& notify) {
    auto it = objects_.find(key);
    if (it == objects_.end()) return;
    Resource obj = it->second;
    objects_.erase(it);
    ++revision_;
    obj.metadata.resource_version = std::to_string(revision_);
    Emit(WatchEventType::kDeleted, obj, notify);
    std::vector<ObjectKey> owned;
    for (const auto& [k, o] : objects_) {
      for (const auto& ref : o.metadata.owner_references) {
        if (ref.uid == obj.metadata.uid) owned.push_back(k);
      }
    }
    for (const auto& k : owned) DeleteRecursive(k, notify);
  }

  std::mutex mu_;
  std::map<ObjectKey, Resource> objects_;
  std::deque<std::pair<std::int64_t, WatchEvent>> events_;
  std::vector<std::weak_ptr<WatchState>> watchers_;
  std::int64_t revision_ = 0;
  std::int64_t uid_counter_ = 0;
  const std::size_t event_window_;
  const std::size_t queue_limit_;
};

}  // namespace tuna::testing
