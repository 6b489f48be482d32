#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tuna/controller.hpp"

namespace tuna {
namespace {

ObjectKey K(const std::string& name) { return {"AgentDeployment", "default", name}; }

TEST(WorkQueue, DeduplicatesQueuedKeys) {
  WorkQueue q;
  q.Add(K("a"));
  q.Add(K("a"));
  q.Add(K("b"));
  EXPECT_EQ(q.Len(), 2u);
  auto a = q.Get();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name, "a");
  q.Done(*a);
  auto b = q.Get();
  EXPECT_EQ(b->name, "b");
  q.Done(*b);
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueue, KeyReaddedWhileProcessingIsQueuedAfterDone) {
  WorkQueue q;
  q.Add(K("a"));
  auto a = q.Get();
  q.Add(K("a"));  // while processing: must not be handed to a second worker
  EXPECT_EQ(q.Len(), 0u);
  q.Done(*a);
  EXPECT_EQ(q.Len(), 1u);
  auto again = q.Get();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->name, "a");
  q.Done(*again);
}

TEST(WorkQueue, NeverHandsOneKeyToTwoWorkers) {
  WorkQueue q;
  std::atomic<int> in_flight{0}, max_in_flight{0}, processed{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&] {
      while (auto k = q.Get()) {
        int now = ++in_flight;
        int prev = max_in_flight.load();
        while (now > prev && !max_in_flight.compare_exchange_weak(prev, now)) {}
        std::this_thread::yield();
        --in_flight;
        ++processed;
        q.Done(*k);
      }
    });
  }
  for (int i = 0; i < 2000; ++i) q.Add(K("same"));
  while (q.Len() > 0) std::this_thread::yield();
  q.ShutDown();
  for (auto& t : workers) t.join();
  EXPECT_EQ(max_in_flight.load(), 1);
  EXPECT_GE(processed.load(), 1);
}

TEST(WorkQueue, AddAfterDelaysAndEarliestWins) {
  WorkQueue q;
  q.AddAfter(K("a"), std::chrono::milliseconds(60000));
  q.AddAfter(K("a"), std::chrono::milliseconds(1));
  auto a = q.Get();  // returns thanks to the 1 ms timer, not the 60 s one
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name, "a");
  q.Done(*a);
}

TEST(WorkQueue, RateLimitedCountsFailuresUntilForget) {
  WorkQueue q(RateLimit{std::chrono::milliseconds(1), std::chrono::milliseconds(4)});
  q.AddRateLimited(K("a"));
  q.AddRateLimited(K("a"));
  EXPECT_EQ(q.Failures(K("a")), 2);
  auto a = q.Get();
  ASSERT_TRUE(a);
  q.Done(*a);
  q.Forget(K("a"));
  EXPECT_EQ(q.Failures(K("a")), 0);
}

TEST(WorkQueue, ShutDownWakesWaiters) {
  WorkQueue q;
  std::thread t([&] { EXPECT_FALSE(q.Get().has_value()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q.ShutDown();
  t.join();
}

}  // namespace
}  // namespace tuna
