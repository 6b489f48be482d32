// The canary split executor: the share of calls each revision gets, determinism under a seed,
// and affinity keys pinning a conversation to one revision.

#include "controllers/split_executor.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace tuna::controllers {
namespace {

// Answers with its name and counts its calls.
class NamedExecutor final : public Executor {
 public:
  explicit NamedExecutor(std::string name) : name_(std::move(name)) {}
  Result<InvokeResponse> Invoke(const InvokeRequest&) override {
    ++calls;
    InvokeResponse r;
    r.status = 200;
    r.body = name_;
    return r;
  }
  std::atomic<int> calls{0};

 private:
  std::string name_;
};

struct Pair {
  std::shared_ptr<NamedExecutor> stable = std::make_shared<NamedExecutor>("stable");
  std::shared_ptr<NamedExecutor> canary = std::make_shared<NamedExecutor>("canary");
  SplitExecutor::Options Options(std::int64_t percent, std::optional<std::uint64_t> seed = 42, std::string key = {}) {
    SplitExecutor::Options o;
    o.stable = stable;
    o.canary = canary;
    o.canary_percent = percent;
    o.seed = seed;
    o.affinity_key = std::move(key);
    return o;
  }
};

// |observed - expected| within 5 standard deviations of a binomial(n, p).
void ExpectBinomial(int observed, int n, double p) {
  const double mean = n * p;
  const double sd = std::sqrt(n * p * (1 - p));
  EXPECT_NEAR(observed, mean, 5 * sd) << "observed " << observed << " of " << n << " at p=" << p;
}

TEST(CanarySplitExecutor, SharesFollowThePercent) {
  for (std::int64_t percent : {1, 10, 30, 50, 90, 99}) {
    Pair p;
    SplitExecutor split(p.Options(percent, /*seed=*/1000 + percent));
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
      auto r = split.Invoke({});
      ASSERT_TRUE(r.ok());
    }
    EXPECT_EQ(p.stable->calls + p.canary->calls, n);
    ExpectBinomial(p.canary->calls, n, static_cast<double>(percent) / 100.0);
  }
}

TEST(CanarySplitExecutor, ZeroAndHundredAreExclusive) {
  Pair p;
  SplitExecutor none(p.Options(0));
  SplitExecutor all(p.Options(100));
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(none.Pick(), CanarySide::kStable);
    EXPECT_EQ(all.Pick(), CanarySide::kCanary);
  }
  // Out-of-range percents are clamped, not trusted.
  SplitExecutor below(p.Options(-5));
  SplitExecutor above(p.Options(250));
  EXPECT_EQ(below.Pick(), CanarySide::kStable);
  EXPECT_EQ(above.Pick(), CanarySide::kCanary);
}

TEST(CanarySplitExecutor, ASeedGivesTheSameSequence) {
  Pair p;
  SplitExecutor a(p.Options(37, 7));
  SplitExecutor b(p.Options(37, 7));
  SplitExecutor c(p.Options(37, 8));
  int differs = 0;
  for (int i = 0; i < 500; ++i) {
    CanarySide x = a.Pick();
    EXPECT_EQ(x, b.Pick());
    differs += x != c.Pick();
  }
  EXPECT_GT(differs, 0);
}

TEST(CanarySplitExecutor, UnseededExecutorsDrawIndependently) {
  // One fresh executor per request (what the proxy route does) still splits: each gets its own
  // seed, so single draws across 4000 executors follow the percent.
  Pair p;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    SplitExecutor split(p.Options(25, std::nullopt));
    ASSERT_TRUE(split.Invoke({}).ok());
  }
  ExpectBinomial(p.canary->calls, n, 0.25);
}

TEST(CanarySplitExecutor, ConcurrentCallsAreAllServed) {
  Pair p;
  SplitExecutor split(p.Options(50, 3));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) (void)split.Invoke({});
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(p.stable->calls + p.canary->calls, 8000);
  ExpectBinomial(p.canary->calls, 8000, 0.5);
}

TEST(CanarySplitExecutor, AffinityKeyPinsEveryCall) {
  for (int k = 0; k < 50; ++k) {
    Pair p;
    const std::string key = "task-" + std::to_string(k);
    SplitExecutor split(p.Options(50, std::nullopt, key));
    for (int i = 0; i < 20; ++i) {
      auto r = split.Invoke({});
      ASSERT_TRUE(r.ok());
    }
    // All twenty on one side, the side AffinitySide names, and the same in a new executor.
    const bool canary = AffinitySide(key, 50) == CanarySide::kCanary;
    EXPECT_EQ(canary ? p.canary->calls.load() : p.stable->calls.load(), 20) << key;
    SplitExecutor again(p.Options(50, 99, key));
    EXPECT_EQ(again.Pick(), AffinitySide(key, 50));
  }
}

TEST(CanarySplitExecutor, AffinityKeysSpreadByThePercent) {
  const int n = 20000;
  for (std::int64_t percent : {10, 30, 70}) {
    int canary = 0;
    for (int i = 0; i < n; ++i) canary += AffinitySide("ctx-" + std::to_string(i), percent) == CanarySide::kCanary;
    ExpectBinomial(canary, n, static_cast<double>(percent) / 100.0);
  }
  EXPECT_EQ(AffinitySide("anything", 0), CanarySide::kStable);
  EXPECT_EQ(AffinitySide("anything", 100), CanarySide::kCanary);
}

TEST(CanarySplitExecutor, RaisingThePercentOnlyMovesKeysToTheCanary) {
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "session-" + std::to_string(i);
    if (AffinitySide(key, 10) == CanarySide::kCanary) {
      EXPECT_EQ(AffinitySide(key, 30), CanarySide::kCanary) << key;
      EXPECT_EQ(AffinitySide(key, 90), CanarySide::kCanary) << key;
    }
  }
}

}  // namespace
}  // namespace tuna::controllers
