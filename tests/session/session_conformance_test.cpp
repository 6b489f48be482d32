// One conformance suite for every SessionStore backend (memory, SQLite with a fresh file per
// test): the same semantics for values, versions, CAS, TTLs, paging and lists.

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "session/session_test_util.hpp"
#include "support/temp_dir.hpp"
#include "tuna/session.hpp"

namespace tuna::session {
namespace {

using namespace std::chrono_literals;
using testing_session::FakeClock;
using Items = std::vector<std::pair<std::int64_t, std::string>>;

class SessionConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }

  SessionStorePtr Open(std::chrono::milliseconds purge_interval = 0ms) {
    Result<SessionStorePtr> s = Status(StatusCode::kInternal, "unknown backend");
    if (GetParam() == "Memory") {
      MemorySessionStoreOptions o;
      o.purge_interval = purge_interval;
      o.clock = clock_.Fn();
      s = MakeMemorySessionStore(std::move(o));
    } else {
      SqliteSessionStoreOptions o;
      o.path = dir_ / ("sessions-" + std::to_string(opened_++) + ".db");
      o.purge_interval = purge_interval;
      o.clock = clock_.Fn();
      s = MakeSqliteSessionStore(std::move(o));
    }
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  std::int64_t MustPut(std::string_view key, std::string_view value, std::chrono::milliseconds ttl = kNoTtl) {
    auto v = store_->Put(key, value, ttl);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : -1;
  }

  std::int64_t MustAppend(std::string_view key, std::string_view item, std::size_t max_items = 0,
                          std::chrono::milliseconds ttl = kNoTtl) {
    auto v = store_->Append(key, item, max_items, ttl);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : -1;
  }

  Items MustRange(std::string_view key, std::int64_t after = 0, std::size_t limit = 1000) {
    auto r = store_->Range(key, after, limit);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Items{};
  }

  Items MustTail(std::string_view key, std::size_t count) {
    auto r = store_->Tail(key, count);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Items{};
  }

  std::vector<std::string> Keys(const ListPage& page) {
    std::vector<std::string> keys;
    for (const auto& e : page.entries) keys.push_back(e.key);
    return keys;
  }

  std::size_t MustCount() {
    auto n = store_->Count();
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : 0;
  }

  FakeClock clock_;
  testing::TempDir dir_;
  int opened_ = 0;
  SessionStorePtr store_;
};

TEST_P(SessionConformance, PutThenGetReturnsValueAndVersion) {
  std::int64_t v1 = MustPut("a2a/task/default/echo/1", R"({"state":"submitted"})");
  EXPECT_GT(v1, 0);
  auto e = store_->Get("a2a/task/default/echo/1");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->value, R"({"state":"submitted"})");
  EXPECT_EQ(e->version, v1);
  EXPECT_FALSE(e->expires_at.has_value());

  std::int64_t v2 = MustPut("a2a/task/default/echo/1", R"({"state":"working"})");
  EXPECT_GT(v2, v1);
  e = store_->Get("a2a/task/default/echo/1");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, R"({"state":"working"})");
  EXPECT_EQ(e->version, v2);
}

// Write (a batch): every op in order; a bad op is refused before anything is written.
TEST_P(SessionConformance, WriteAppliesABatchInOrder) {
  using Op = SessionStore::WriteOp;
  ASSERT_TRUE(store_->Write({{.kind = Op::Kind::kPut, .key = "batch/task", .value = "v1"},
                             {.kind = Op::Kind::kPut, .key = "batch/index", .value = ""},
                             {.kind = Op::Kind::kAppend, .key = "batch/history", .value = "m1", .max_items = 2},
                             {.kind = Op::Kind::kAppend, .key = "batch/history", .value = "m2", .max_items = 2},
                             {.kind = Op::Kind::kAppend, .key = "batch/history", .value = "m3", .max_items = 2},
                             {.kind = Op::Kind::kPut, .key = "batch/task", .value = "v2"}})
                  .ok());
  EXPECT_EQ(store_->Get("batch/task")->value, "v2");
  EXPECT_TRUE(store_->Get("batch/index").ok());
  auto items = store_->Tail("batch/history", 10);
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 2u);  // max_items held
  EXPECT_EQ((*items)[0].second, "m2");
  EXPECT_EQ((*items)[1].second, "m3");
  // A bad key anywhere in the batch: refused with the key named, and nothing of it written.
  Status bad = store_->Write({{.kind = Op::Kind::kPut, .key = "batch/other", .value = "x"},
                              {.kind = Op::Kind::kPut, .key = "", .value = "y"}});
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument) << bad.ToString();
  EXPECT_EQ(store_->Get("batch/other").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->Write({}).ok());
}

TEST_P(SessionConformance, ValuesAreOpaqueBytes) {
  const std::string binary("a\0b\xff\x01", 5);
  MustPut("bin", binary);
  MustPut("empty", "");
  auto e = store_->Get("bin");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, binary);
  e = store_->Get("empty");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, "");
}

TEST_P(SessionConformance, GetMissingIsNotFound) {
  auto e = store_->Get("nope");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_NE(e.status().message().find("nope"), std::string::npos) << e.status().message();
}

TEST_P(SessionConformance, VersionsNeverRepeatAfterDelete) {
  std::int64_t v1 = MustPut("k", "1");
  ASSERT_TRUE(store_->Delete("k").ok());
  EXPECT_EQ(store_->Get("k").status().code(), StatusCode::kNotFound);
  std::int64_t v2 = MustPut("k", "2");
  EXPECT_GT(v2, v1);
  EXPECT_TRUE(store_->Delete("never-existed").ok());
}

TEST_P(SessionConformance, CompareAndSwapChecksTheVersion) {
  auto created = store_->CompareAndSwap("lock", "owner-a", 0);
  ASSERT_TRUE(created.ok()) << created.status().ToString();

  auto again = store_->CompareAndSwap("lock", "owner-b", 0);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);

  auto next = store_->CompareAndSwap("lock", "owner-c", *created);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_GT(*next, *created);

  auto stale = store_->CompareAndSwap("lock", "owner-d", *created);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(stale.status().message().find("lock"), std::string::npos) << stale.status().message();

  auto missing = store_->CompareAndSwap("other", "x", 7);
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);

  auto e = store_->Get("lock");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, "owner-c");
  EXPECT_EQ(e->version, *next);
}

TEST_P(SessionConformance, CompareAndSwapZeroSucceedsOnExpiredEntry) {
  MustPut("lease", "old", 100ms);
  EXPECT_EQ(store_->CompareAndSwap("lease", "new", 0).status().code(), StatusCode::kFailedPrecondition);
  clock_.Advance(100ms);
  auto v = store_->CompareAndSwap("lease", "new", 0, 1s);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  auto e = store_->Get("lease");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, "new");
  ASSERT_TRUE(e->expires_at.has_value());
  EXPECT_EQ(*e->expires_at, clock_.Now() + 1s);
}

TEST_P(SessionConformance, ConcurrentCompareAndSwapHasExactlyOneWinner) {
  constexpr int kThreads = 6;
  constexpr int kRounds = 30;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "race/" + std::to_string(round);
    // Round of creates (expected 0), then a round of updates from one read version.
    for (int phase = 0; phase < 2; ++phase) {
      std::int64_t expected = 0;
      if (phase == 1) {
        auto e = store_->Get(key);
        ASSERT_TRUE(e.ok());
        expected = e->version;
      }
      std::atomic<int> winners{0}, losers{0}, errors{0};
      std::atomic<bool> go{false};
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          while (!go.load()) std::this_thread::yield();
          auto r = store_->CompareAndSwap(key, "thread-" + std::to_string(t), expected);
          if (r.ok()) {
            ++winners;
          } else if (r.status().code() == StatusCode::kFailedPrecondition) {
            ++losers;
          } else {
            ++errors;
          }
        });
      }
      go = true;
      for (auto& th : threads) th.join();
      EXPECT_EQ(winners.load(), 1) << key << " phase " << phase;
      EXPECT_EQ(losers.load(), kThreads - 1) << key << " phase " << phase;
      EXPECT_EQ(errors.load(), 0);
    }
  }
}

TEST_P(SessionConformance, ConcurrentCompareAndSwapIncrementsLoseNothing) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 50;
  MustPut("counter", "0");
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        while (true) {
          auto e = store_->Get("counter");
          if (!e.ok()) {
            ++errors;
            return;
          }
          auto r = store_->CompareAndSwap("counter", std::to_string(std::stoi(e->value) + 1), e->version);
          if (r.ok()) break;
          if (r.status().code() != StatusCode::kFailedPrecondition) {
            ++errors;
            return;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  auto e = store_->Get("counter");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, std::to_string(kThreads * kIncrements));
}

TEST_P(SessionConformance, TtlExpiresWithTheInjectedClock) {
  MustPut("mcp/session/abc", "s", 1000ms);
  auto e = store_->Get("mcp/session/abc");
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(e->expires_at.has_value());
  EXPECT_EQ(*e->expires_at, clock_.Now() + 1000ms);

  clock_.Advance(999ms);
  EXPECT_TRUE(store_->Get("mcp/session/abc").ok());
  EXPECT_EQ(MustCount(), 1u);

  clock_.Advance(1ms);
  EXPECT_EQ(store_->Get("mcp/session/abc").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(MustCount(), 0u);
  auto page = store_->List("mcp/");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->entries.empty());
}

TEST_P(SessionConformance, PutWithoutTtlClearsTheExpiry) {
  MustPut("k", "1", 50ms);
  MustPut("k", "2");
  clock_.Advance(1h);
  auto e = store_->Get("k");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->value, "2");
  EXPECT_FALSE(e->expires_at.has_value());
}

TEST_P(SessionConformance, TouchMovesTheExpiryAndKeepsTheVersion) {
  EXPECT_EQ(store_->Touch("missing", 1s).code(), StatusCode::kNotFound);
  std::int64_t v = MustPut("k", "1", 100ms);
  clock_.Advance(90ms);
  ASSERT_TRUE(store_->Touch("k", 100ms).ok());
  clock_.Advance(90ms);
  auto e = store_->Get("k");
  ASSERT_TRUE(e.ok()) << "Touch should have extended the entry";
  EXPECT_EQ(e->version, v);
  EXPECT_EQ(*e->expires_at, clock_.Now() + 10ms);

  ASSERT_TRUE(store_->Touch("k", kNoTtl).ok());
  clock_.Advance(24h);
  e = store_->Get("k");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->expires_at.has_value());

  MustPut("short", "x", 10ms);
  clock_.Advance(10ms);
  EXPECT_EQ(store_->Touch("short", 1h).code(), StatusCode::kNotFound);
}

TEST_P(SessionConformance, ListPagesInKeyOrderWithPrefixAndAfter) {
  std::vector<std::string> expected;
  for (int i = 0; i < 25; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "a/%02d", i);
    expected.push_back(buf);
  }
  // Insert out of order; add neighbours the prefix must exclude.
  for (auto it = expected.rbegin(); it != expected.rend(); ++it) MustPut(*it, "v" + *it);
  MustPut("a", "x");
  MustPut("a0", "x");
  MustPut("b/1", "x");
  MustPut("0", "x");

  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  while (true) {
    auto page = store_->List("a/", after, 10);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ++pages;
    for (const auto& e : page->entries) {
      seen.push_back(e.key);
      EXPECT_EQ(e.entry.value, "v" + e.key);
      EXPECT_GT(e.entry.version, 0);
    }
    if (page->next_after.empty()) break;
    EXPECT_EQ(page->next_after, page->entries.back().key);
    after = page->next_after;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(pages, 3);

  // An exact final page says so: no extra empty page.
  auto exact = store_->List("a/", "a/14", 10);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->entries.size(), 10u);
  EXPECT_EQ(exact->next_after, "");

  // `after` before the prefix starts at the prefix; after it, nothing.
  auto before = store_->List("a/", "0", 2);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(Keys(*before), (std::vector<std::string>{"a/00", "a/01"}));
  auto beyond = store_->List("a/", "b", 10);
  ASSERT_TRUE(beyond.ok());
  EXPECT_TRUE(beyond->entries.empty());

  // No prefix: everything, in byte order.
  auto all = store_->List("", "", 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->entries.size(), 29u);
  EXPECT_EQ(all->entries.front().key, "0");
  EXPECT_EQ(all->entries[1].key, "a");
  EXPECT_EQ(all->entries[2].key, "a/00");
  EXPECT_EQ(all->entries.back().key, "b/1");
}

TEST_P(SessionConformance, ListSkipsExpiredEntriesAndListsWithoutValue) {
  MustPut("p/1", "x");
  MustPut("p/2", "x", 10ms);
  MustPut("p/3", "x");
  MustAppend("p/4", "item");  // a list, not a value
  MustPut("p/5", "x", 10ms);
  clock_.Advance(10ms);
  auto page = store_->List("p/", "", 2);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Keys(*page), (std::vector<std::string>{"p/1", "p/3"}));
  EXPECT_EQ(page->next_after, "");
}

TEST_P(SessionConformance, ListHandlesHighBytesInPrefix) {
  const std::string p("x\xff", 2);
  MustPut(p + "a", "1");
  MustPut(p + "\xff", "2");
  MustPut("y", "3");
  auto page = store_->List(p, "", 10);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Keys(*page), (std::vector<std::string>{p + "a", p + "\xff"}));
}

TEST_P(SessionConformance, DeletePrefixRemovesValuesAndLists) {
  MustPut("mem/default/m/c1/kv/a", "1");
  MustPut("mem/default/m/c1/kv/b", "2");
  MustAppend("mem/default/m/c1/conversation", "hi");
  MustPut("mem/default/m/c1/kv/gone", "x", 10ms);
  MustPut("mem/default/m/c10/kv/a", "other context");
  MustPut("mem/default/n/c1/kv/a", "other memory");
  clock_.Advance(10ms);

  auto n = store_->DeletePrefix("mem/default/m/c1/");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 3u);  // the expired key was already gone
  EXPECT_EQ(store_->Get("mem/default/m/c1/kv/a").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(MustRange("mem/default/m/c1/conversation").empty());
  EXPECT_TRUE(store_->Get("mem/default/m/c10/kv/a").ok());
  EXPECT_TRUE(store_->Get("mem/default/n/c1/kv/a").ok());
  EXPECT_EQ(MustCount(), 2u);

  auto none = store_->DeletePrefix("nothing/");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
}

TEST_P(SessionConformance, AppendNumbersItemsAndRangeReadsThem) {
  EXPECT_EQ(MustAppend("hist", "a"), 1);
  EXPECT_EQ(MustAppend("hist", "b"), 2);
  EXPECT_EQ(MustAppend("hist", "c"), 3);
  EXPECT_EQ(MustAppend("other", "x"), 1);

  EXPECT_EQ(MustRange("hist"), (Items{{1, "a"}, {2, "b"}, {3, "c"}}));
  EXPECT_EQ(MustRange("hist", 1), (Items{{2, "b"}, {3, "c"}}));
  EXPECT_EQ(MustRange("hist", 0, 2), (Items{{1, "a"}, {2, "b"}}));
  EXPECT_EQ(MustRange("hist", 3), Items{});
  EXPECT_EQ(MustRange("missing"), Items{});

  EXPECT_EQ(MustTail("hist", 2), (Items{{2, "b"}, {3, "c"}}));
  EXPECT_EQ(MustTail("hist", 10), (Items{{1, "a"}, {2, "b"}, {3, "c"}}));
  EXPECT_EQ(MustTail("hist", 0), Items{});
  EXPECT_EQ(MustTail("missing", 3), Items{});

  // A list is not a value: Get does not see it, Count does.
  EXPECT_EQ(store_->Get("hist").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(MustCount(), 2u);
}

TEST_P(SessionConformance, EvictionKeepsSequenceNumbers) {
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(MustAppend("h", "item" + std::to_string(i), 3), i);
  EXPECT_EQ(MustRange("h"), (Items{{3, "item3"}, {4, "item4"}, {5, "item5"}}));
  EXPECT_EQ(MustRange("h", 1, 1), (Items{{3, "item3"}}));
  EXPECT_EQ(MustRange("h", 4), (Items{{5, "item5"}}));
  EXPECT_EQ(MustAppend("h", "item6", 3), 6);
  EXPECT_EQ(MustTail("h", 2), (Items{{5, "item5"}, {6, "item6"}}));
  // A smaller bound on a later append trims to it; no bound keeps everything.
  EXPECT_EQ(MustAppend("h", "item7", 1), 7);
  EXPECT_EQ(MustRange("h"), (Items{{7, "item7"}}));
  EXPECT_EQ(MustAppend("h", "item8"), 8);
  EXPECT_EQ(MustRange("h"), (Items{{7, "item7"}, {8, "item8"}}));
}

TEST_P(SessionConformance, ListTtlCoversTheWholeList) {
  MustAppend("conv", "a", 0, 100ms);
  clock_.Advance(60ms);
  MustAppend("conv", "b");  // no ttl: the list keeps its expiry
  clock_.Advance(40ms);
  EXPECT_EQ(MustRange("conv"), Items{});
  EXPECT_EQ(MustTail("conv", 5), Items{});
  EXPECT_EQ(MustCount(), 0u);
  // An expired list is absent: appending starts a new one.
  EXPECT_EQ(MustAppend("conv", "c", 0, 100ms), 1);
  clock_.Advance(60ms);
  EXPECT_EQ(MustAppend("conv", "d", 0, 100ms), 2);  // pushes the expiry
  clock_.Advance(60ms);
  EXPECT_EQ(MustRange("conv"), (Items{{1, "c"}, {2, "d"}}));
  ASSERT_TRUE(store_->Touch("conv", 10ms).ok());
  clock_.Advance(10ms);
  EXPECT_EQ(MustRange("conv"), Items{});
}

TEST_P(SessionConformance, DeleteRemovesValueAndList) {
  MustPut("task", "v");
  MustAppend("task", "history-1");
  EXPECT_EQ(MustCount(), 1u);
  ASSERT_TRUE(store_->Delete("task").ok());
  EXPECT_EQ(store_->Get("task").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(MustRange("task"), Items{});
  EXPECT_EQ(MustCount(), 0u);
  EXPECT_EQ(MustAppend("task", "again"), 1);  // a new list
}

TEST_P(SessionConformance, ConcurrentAppendsGetDistinctSequenceNumbers) {
  constexpr int kThreads = 4;
  constexpr int kAppends = 100;
  std::vector<std::vector<std::int64_t>> seqs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        auto s = store_->Append("shared", std::to_string(t) + ":" + std::to_string(i));
        seqs[t].push_back(s.ok() ? *s : -1);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::int64_t> all;
  for (const auto& v : seqs) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kAppends));
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kAppends);
  auto items = MustRange("shared", 0, 10000);
  ASSERT_EQ(items.size(), static_cast<std::size_t>(kThreads * kAppends));
  for (std::size_t i = 0; i < items.size(); ++i) EXPECT_EQ(items[i].first, static_cast<std::int64_t>(i + 1));
}

TEST_P(SessionConformance, PurgeExpiredRemovesExpiredEntriesAndLists) {
  MustPut("t/1", "x", 10ms);
  MustPut("t/2", "x", 10ms);
  MustPut("t/3", "x", 20ms);
  MustPut("keep", "x");
  MustAppend("l/1", "i", 0, 10ms);
  MustAppend("l/2", "i");
  auto n = store_->PurgeExpired();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  clock_.Advance(10ms);
  n = store_->PurgeExpired();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 3u);
  n = store_->PurgeExpired();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_EQ(MustCount(), 3u);
  EXPECT_TRUE(store_->Get("t/3").ok());
  clock_.Advance(10ms);
  n = store_->PurgeExpired();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(MustCount(), 2u);
}

TEST_P(SessionConformance, BackgroundPurgeRunsAndStopsWithTheStore) {
  store_ = Open(5ms);
  ASSERT_NE(store_, nullptr);
  // Each round leaves one expired entry and waits; when PurgeExpired finds nothing, the
  // background thread got there first. Many rounds make a scheduling hiccup irrelevant.
  bool purged_in_background = false;
  for (int round = 0; round < 200 && !purged_in_background; ++round) {
    MustPut("bg/" + std::to_string(round), "x", 1ms);
    clock_.Advance(1ms);
    std::this_thread::sleep_for(20ms);
    auto n = store_->PurgeExpired();
    ASSERT_TRUE(n.ok());
    purged_in_background = *n == 0;
  }
  EXPECT_TRUE(purged_in_background);
  store_.reset();  // joins the purge thread; must not hang
}

TEST_P(SessionConformance, BadInputIsInvalidArgument) {
  auto expect_invalid = [](const Status& s, std::string_view needle) {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
  };
  const std::string long_key(2000, 'k');
  const std::string nul_key("a\0b", 3);
  expect_invalid(store_->Put("", "v").status(), "must not be empty");
  expect_invalid(store_->Put(long_key, "v").status(), "limit is 1024");
  expect_invalid(store_->Put(nul_key, "v").status(), "NUL");
  expect_invalid(store_->Put("k", "v", -1ms).status(), "negative");
  expect_invalid(store_->CompareAndSwap("k", "v", -1).status(), "negative");
  expect_invalid(store_->CompareAndSwap("", "v", 0).status(), "must not be empty");
  expect_invalid(store_->Get("").status(), "must not be empty");
  expect_invalid(store_->Delete(""), "must not be empty");
  expect_invalid(store_->DeletePrefix("").status(), "prefix must not be empty");
  expect_invalid(store_->Touch("k", -5ms), "negative");
  expect_invalid(store_->List("", "", 0).status(), "limit");
  expect_invalid(store_->Append("", "i").status(), "must not be empty");
  expect_invalid(store_->Append("l", "i", 0, -1ms).status(), "negative");
  expect_invalid(store_->Range("l", -1).status(), "negative");
  expect_invalid(store_->Range("l", 0, 0).status(), "limit");
  expect_invalid(store_->Tail("", 1).status(), "must not be empty");
  EXPECT_EQ(MustCount(), 0u);
}

TEST_P(SessionConformance, LargeValuesRoundTrip) {
  const std::string big(1 << 20, 'x');
  MustPut("big", big);
  MustAppend("bigl", big);
  auto e = store_->Get("big");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value.size(), big.size());
  auto items = MustRange("bigl");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].second.size(), big.size());
}

INSTANTIATE_TEST_SUITE_P(Backends, SessionConformance, ::testing::Values("Memory", "Sqlite"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tuna::session
