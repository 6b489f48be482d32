// The memory session store's bound (MemorySessionStoreOptions::max_keys): the oldest keys go first.
#include <gtest/gtest.h>

#include <string>

#include "tuna/session.hpp"

namespace tuna::session {
namespace {

using std::chrono::milliseconds;

TEST(MemorySessionStoreBound, KeysBeyondTheBoundEvictTheOldestFirst) {
  auto store = MakeMemorySessionStore({.purge_interval = milliseconds(0), .max_keys = 160});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  SessionStore& s = **store;
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(s.Put("task/" + std::to_string(i), "v" + std::to_string(i), milliseconds(0)).ok());
    if (i % 3 == 0) ASSERT_TRUE(s.Append("history/" + std::to_string(i), "m", 10, milliseconds(0)).ok());
  }
  auto count = s.Count();
  ASSERT_TRUE(count.ok());
  // Each of the 16 shards keeps its share (10): the total stays at the bound.
  EXPECT_LE(*count, 160u);
  EXPECT_GE(*count, 100u);
  // The newest keys are there, the oldest are gone, as if they had expired.
  EXPECT_EQ(s.Get("task/1999")->value, "v1999");
  EXPECT_EQ(s.Get("task/0").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s.Get("task/1").status().code(), StatusCode::kNotFound);
  // Rewriting an existing key creates nothing: it evicts nothing and keeps its place.
  auto before = s.Count();
  ASSERT_TRUE(s.Put("task/1999", "again", milliseconds(0)).ok());
  EXPECT_EQ(*s.Count(), *before);
  EXPECT_EQ(s.Get("task/1999")->value, "again");
  // Listing and prefix deletion still see an ordered, consistent view.
  auto page = s.List("task/", "", 1000);
  ASSERT_TRUE(page.ok());
  for (std::size_t i = 1; i < page->entries.size(); ++i) EXPECT_LT(page->entries[i - 1].key, page->entries[i].key);
  auto deleted = s.DeletePrefix("task/");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, page->entries.size());
}

TEST(MemorySessionStoreBound, ZeroMeansUnbounded) {
  auto store = MakeMemorySessionStore({.purge_interval = milliseconds(0)});
  ASSERT_TRUE(store.ok());
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE((*store)->Put("k/" + std::to_string(i), "v", milliseconds(0)).ok());
  EXPECT_EQ(*(*store)->Count(), 5000u);
}

}  // namespace
}  // namespace tuna::session
