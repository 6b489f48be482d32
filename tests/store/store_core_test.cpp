// StoreCore with a test backend whose commit can run a hook after the data is visible but
// before the core publishes the event: the exact window where a list-then-watch could lose or
// double an event. Real backends cannot be paused there, so this is a minimal raw backend
// following the WriteTxn contract (store/store_core.hpp).

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "store/store_core.hpp"
#include "store/store_test_util.hpp"

namespace tuna {
namespace {

using namespace std::chrono_literals;
using testing_store::Deployment;

class HookedStore final : public store_internal::StoreCore {
 public:
  HookedStore() : StoreCore(store_internal::CoreOptions{}) {}
  ~HookedStore() override { Shutdown(); }
  using StoreCore::Init;

  std::function<void()> after_commit;  // one-shot; on the writer's thread, data already visible

 private:
  class Txn final : public store_internal::WriteTxn {
   public:
    explicit Txn(HookedStore& s) : s_(s) {}
    Result<std::optional<Resource>> Get(const ObjectKey& key) override { return s_.Find(key); }
    Result<std::vector<ObjectKey>> Dependents(const std::string&, const std::string&) override {
      return std::vector<ObjectKey>{};
    }
    Status Insert(const Resource& o) override { return Stage(o); }
    Status Replace(const Resource&, const Resource& o) override { return Stage(o); }
    Status Remove(const Resource& o) override {
      staged_[KeyOf(o)] = std::nullopt;
      return {};
    }
    Status Commit(std::int64_t revision) override {
      {
        std::lock_guard lock(s_.mu_);
        for (auto& [k, v] : staged_) {
          if (v) s_.objects_[k] = *v;
          else s_.objects_.erase(k);
        }
        s_.revision_ = revision;
      }
      auto hook = std::exchange(s_.after_commit, nullptr);  // one-shot
      if (hook) hook();
      return {};
    }

   private:
    Status Stage(const Resource& o) {
      staged_[KeyOf(o)] = o;
      return {};
    }
    HookedStore& s_;
    std::map<ObjectKey, std::optional<Resource>> staged_;
  };

  std::optional<Resource> Find(const ObjectKey& key) {
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    return it == objects_.end() ? std::nullopt : std::optional(it->second);
  }
  Result<std::optional<Resource>> DoGet(const ObjectKey& key) override { return Find(key); }
  Result<store_internal::ListPage> DoList(const store_internal::ListQuery& q) override {
    std::lock_guard lock(mu_);
    store_internal::ListPage page;
    page.revision = revision_;
    for (const auto& [k, v] : objects_) {
      if ((q.kind.empty() || k.kind == q.kind) && (!q.filter || q.filter(v))) page.items.push_back(v);
    }
    return page;
  }
  Result<store_internal::WriteTxnPtr> DoBeginWrite() override {
    return store_internal::WriteTxnPtr(std::make_unique<Txn>(*this));
  }
  Result<std::int64_t> DoRevision() override { return revision_; }
  Result<std::int64_t> DoCount() override { return static_cast<std::int64_t>(objects_.size()); }

  std::mutex mu_;
  std::map<ObjectKey, Resource> objects_;
  std::int64_t revision_ = 0;
};

TEST(StoreCore, WatchStartedBetweenCommitAndPublishSeesEachChangeOnce) {
  HookedStore store;
  ASSERT_TRUE(store.Init().ok());
  ASSERT_TRUE(store.Create(Deployment("a")).ok());

  WatchPtr watch;
  store.after_commit = [&] {
    // Another thread lists-and-watches while this write is committed but not yet published.
    std::thread([&] {
      auto w = store.Watch({.kind = "AgentDeployment"});
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      watch = std::move(*w);
    }).join();
  };
  auto b = store.Create(Deployment("b"));
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(watch);
  auto events = watch->Drain();
  ASSERT_EQ(events.size(), 2u) << "b is in the snapshot and must not be delivered again";
  EXPECT_EQ(events[0].object.metadata.name, "a");
  EXPECT_EQ(events[1].object, *b);

  auto c = store.Create(Deployment("c"));
  ASSERT_TRUE(c.ok());
  auto live = watch->Next(5s);
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->object, *c);
}

TEST(StoreCore, WatchFromRevisionStartedBetweenCommitAndPublishMissesNothing) {
  HookedStore store;
  ASSERT_TRUE(store.Init().ok());
  auto a = store.Create(Deployment("a"));
  ASSERT_TRUE(a.ok());

  WatchPtr watch;
  store.after_commit = [&] {
    std::thread([&] {
      auto w = store.Watch({.resource_version = a->metadata.resource_version});
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      watch = std::move(*w);
    }).join();
  };
  auto b = store.Create(Deployment("b"));
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(watch);
  auto events = watch->Drain();
  ASSERT_EQ(events.size(), 1u) << "the in-flight write is delivered once published";
  EXPECT_EQ(events[0].object, *b);
}

}  // namespace
}  // namespace tuna
