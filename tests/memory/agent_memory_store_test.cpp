// AgentMemoryStore over both session backends: conversation and key-value memory, the
// AgentMemory spec (ttlSeconds, maxEntries), tenant isolation and input checks.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "session/session_test_util.hpp"
#include "support/temp_dir.hpp"
#include "tuna/memory.hpp"

namespace tuna::memory {
namespace {

using namespace std::chrono_literals;
using testing_session::FakeClock;

boost::json::object Msg(std::string role, std::string content) {
  return boost::json::object{{"role", role}, {"content", content}};
}

MemoryRef Conversation(std::string ns = "default", std::string name = "chat") {
  MemoryRef m;
  m.namespace_ = std::move(ns);
  m.name = std::move(name);
  m.spec.type = MemoryType::kConversation;
  return m;
}

MemoryRef Kv(std::string ns = "default", std::string name = "notes") {
  MemoryRef m;
  m.namespace_ = std::move(ns);
  m.name = std::move(name);
  m.spec.type = MemoryType::kKv;
  return m;
}

class AgentMemoryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "Memory") {
      session::MemorySessionStoreOptions o;
      o.purge_interval = 0ms;
      o.clock = clock_.Fn();
      auto s = session::MakeMemorySessionStore(std::move(o));
      ASSERT_TRUE(s.ok());
      sessions_ = std::move(*s);
    } else {
      session::SqliteSessionStoreOptions o;
      o.path = dir_ / "memory.db";
      o.purge_interval = 0ms;
      o.clock = clock_.Fn();
      auto s = session::MakeSqliteSessionStore(std::move(o));
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      sessions_ = std::move(*s);
    }
    AgentMemoryStoreOptions o;
    o.clock = clock_.Fn();
    o.max_value_bytes = 1024;
    o.max_entry_bytes = 2048;
    memory_ = std::make_unique<AgentMemoryStore>(*sessions_, o);
  }

  std::int64_t MustAppend(const MemoryRef& m, std::string_view ctx, boost::json::object entry) {
    auto r = memory_->Append(m, ctx, std::move(entry));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->seq : -1;
  }

  std::vector<std::string> Contents(const std::vector<ConversationEntry>& entries) {
    std::vector<std::string> out;
    for (const auto& e : entries) out.emplace_back(e.entry.at("content").as_string());
    return out;
  }

  std::vector<std::string> MustListContents(const MemoryRef& m, std::string_view ctx) {
    auto page = memory_->List(m, ctx, 0, 1000);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? Contents(page->entries) : std::vector<std::string>{};
  }

  FakeClock clock_;
  testing::TempDir dir_;
  session::SessionStorePtr sessions_;
  std::unique_ptr<AgentMemoryStore> memory_;
};

TEST_P(AgentMemoryTest, ConversationAppendsAndListsOldestFirst) {
  const auto m = Conversation();
  EXPECT_EQ(MustAppend(m, "ctx-1", Msg("user", "hello")), 1);
  EXPECT_EQ(MustAppend(m, "ctx-1", Msg("agent", "hi there")), 2);
  boost::json::object with_parts{{"role", "user"},
                                 {"parts", boost::json::array{boost::json::object{{"kind", "text"}, {"text", "x"}}}},
                                 {"metadata", boost::json::object{{"source", "a2a"}}},
                                 {"timestamp", "2026-01-01T00:00:00Z"}};
  EXPECT_EQ(MustAppend(m, "ctx-1", with_parts), 3);

  auto page = memory_->List(m, "ctx-1");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->entries.size(), 3u);
  EXPECT_EQ(page->next_after, 0);
  EXPECT_EQ(page->entries[0].seq, 1);
  EXPECT_EQ(page->entries[0].entry.at("role"), "user");
  EXPECT_EQ(page->entries[0].entry.at("content"), "hello");
  // The store stamps entries that come without a timestamp (RFC 3339 UTC, milliseconds).
  EXPECT_EQ(page->entries[0].entry.at("timestamp"), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(page->entries[2].entry, with_parts);  // a caller's timestamp is kept
}

TEST_P(AgentMemoryTest, ConversationPagesWithAfterSeq) {
  const auto m = Conversation();
  for (int i = 1; i <= 7; ++i) MustAppend(m, "c", Msg("user", std::to_string(i)));
  std::vector<std::string> seen;
  std::int64_t after = 0;
  int pages = 0;
  while (true) {
    auto page = memory_->List(m, "c", after, 3);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ++pages;
    for (auto& c : Contents(page->entries)) seen.push_back(c);
    if (page->next_after == 0) break;
    after = page->next_after;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2", "3", "4", "5", "6", "7"}));
  EXPECT_EQ(pages, 3);

  auto recent = memory_->Recent(m, "c", 2);
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ(Contents(*recent), (std::vector<std::string>{"6", "7"}));
}

TEST_P(AgentMemoryTest, MaxEntriesKeepsTheNewestAndNeverReusesSeq) {
  auto m = Conversation();
  m.spec.max_entries = 3;
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(MustAppend(m, "c", Msg("user", std::to_string(i))), i);
  auto page = memory_->List(m, "c");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 3u);
  EXPECT_EQ(page->entries.front().seq, 3);
  EXPECT_EQ(Contents(page->entries), (std::vector<std::string>{"3", "4", "5"}));
  EXPECT_EQ(MustAppend(m, "c", Msg("user", "6")), 6);
}

TEST_P(AgentMemoryTest, TtlSecondsHidesEachEntryAfterItsOwnLifetime) {
  auto m = Conversation();
  m.spec.ttl_seconds = 60;
  MustAppend(m, "c", Msg("user", "old"));
  clock_.Advance(30s);
  MustAppend(m, "c", Msg("agent", "new"));
  clock_.Advance(30s);  // "old" is 60 s old now
  EXPECT_EQ(MustListContents(m, "c"), std::vector<std::string>{"new"});
  auto recent = memory_->Recent(m, "c", 10);
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ(Contents(*recent), std::vector<std::string>{"new"});
  // Paging skips expired entries without cutting the page short.
  auto page = memory_->List(m, "c", 0, 1);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Contents(page->entries), std::vector<std::string>{"new"});
  EXPECT_EQ(page->next_after, 0);

  clock_.Advance(30s);
  EXPECT_TRUE(MustListContents(m, "c").empty());
  // Everything expired: the whole list expired with its newest entry. (The memory backend
  // already dropped it when List touched it; SQLite leaves it to the purge.)
  EXPECT_EQ(*sessions_->Count(), 0u);
  auto purged = sessions_->PurgeExpired();
  ASSERT_TRUE(purged.ok());
  EXPECT_LE(*purged, 1u);
  EXPECT_TRUE(sessions_->Range("mem/default/chat/c/conversation")->empty());
}

TEST_P(AgentMemoryTest, ClearForgetsOneContextOnly) {
  const auto m = Conversation();
  MustAppend(m, "c1", Msg("user", "a"));
  MustAppend(m, "c10", Msg("user", "b"));  // shares a prefix with c1
  MustAppend(Conversation("default", "other"), "c1", Msg("user", "c"));
  MustAppend(Conversation("tenant-b"), "c1", Msg("user", "d"));

  auto n = memory_->Clear(m, "c1");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(MustListContents(m, "c1").empty());
  EXPECT_EQ(MustListContents(m, "c10"), std::vector<std::string>{"b"});
  EXPECT_EQ(MustListContents(Conversation("default", "other"), "c1"), std::vector<std::string>{"c"});
  EXPECT_EQ(MustListContents(Conversation("tenant-b"), "c1"), std::vector<std::string>{"d"});
  // A cleared context starts again at 1.
  EXPECT_EQ(MustAppend(m, "c1", Msg("user", "again")), 1);

  auto all = memory_->ClearAll(m);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, 2u);
  EXPECT_TRUE(MustListContents(m, "c10").empty());
  EXPECT_EQ(MustListContents(Conversation("default", "other"), "c1"), std::vector<std::string>{"c"});
}

TEST_P(AgentMemoryTest, KeysAreTenantPrefixed) {
  MustAppend(Conversation("team-a", "chat"), "ctx", Msg("user", "x"));
  ASSERT_TRUE(memory_->Put(Kv("team-a", "notes"), "ctx", "color", "blue").ok());
  auto page = sessions_->List("mem/team-a/notes/ctx/");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_EQ(page->entries[0].key, "mem/team-a/notes/ctx/kv/color");
  auto items = sessions_->Range("mem/team-a/chat/ctx/conversation");
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(items->size(), 1u);
  EXPECT_EQ(*AgentMemoryStore::ContextPrefix(Kv("team-a", "notes"), "ctx"), "mem/team-a/notes/ctx/");
}

TEST_P(AgentMemoryTest, KeyValuePutGetDeleteList) {
  const auto m = Kv();
  auto v1 = memory_->Put(m, "user-1", "language", R"("fr")");
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  ASSERT_TRUE(memory_->Put(m, "user-1", "name", R"("Ada")").ok());
  ASSERT_TRUE(memory_->Put(m, "user-2", "name", R"("Bob")").ok());

  auto got = memory_->Get(m, "user-1", "language");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->value, R"("fr")");
  EXPECT_EQ(got->version, *v1);
  EXPECT_FALSE(got->expires_at.has_value());

  auto v2 = memory_->Put(m, "user-1", "language", R"("en")");
  ASSERT_TRUE(v2.ok());
  EXPECT_GT(*v2, *v1);
  EXPECT_EQ(memory_->Get(m, "user-1", "language")->value, R"("en")");

  auto keys = memory_->ListKeys(m, "user-1");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->keys, (std::vector<std::string>{"language", "name"}));
  EXPECT_EQ(keys->next_after, "");

  ASSERT_TRUE(memory_->Delete(m, "user-1", "language").ok());
  ASSERT_TRUE(memory_->Delete(m, "user-1", "language").ok());
  auto missing = memory_->Get(m, "user-1", "language");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("\"language\""), std::string::npos) << missing.status().message();
  EXPECT_EQ(memory_->Get(m, "user-2", "name")->value, R"("Bob")");
}

TEST_P(AgentMemoryTest, KeyValueListPages) {
  const auto m = Kv();
  for (char c = 'a'; c <= 'g'; ++c) ASSERT_TRUE(memory_->Put(m, "c", std::string(1, c), "v").ok());
  std::vector<std::string> seen;
  std::string after;
  for (int i = 0; i < 10; ++i) {
    auto page = memory_->ListKeys(m, "c", after, 3);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    seen.insert(seen.end(), page->keys.begin(), page->keys.end());
    if (page->next_after.empty()) break;
    after = page->next_after;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g"}));
}

TEST_P(AgentMemoryTest, KeyValueTtl) {
  auto m = Kv();
  m.spec.ttl_seconds = 10;
  ASSERT_TRUE(memory_->Put(m, "c", "k", "v").ok());
  auto got = memory_->Get(m, "c", "k");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->expires_at.has_value());
  EXPECT_EQ(*got->expires_at, clock_.Now() + 10s);
  clock_.Advance(10s);
  EXPECT_EQ(memory_->Get(m, "c", "k").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(memory_->ListKeys(m, "c")->keys.empty());
}

TEST_P(AgentMemoryTest, ValueSizeLimitNamesTheKey) {
  const auto m = Kv();
  EXPECT_TRUE(memory_->Put(m, "c", "fits", std::string(1024, 'x')).ok());
  auto r = memory_->Put(m, "c", "profile", std::string(1025, 'x'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "memory value for key \"profile\" is 1025 bytes; the limit is 1024");
}

TEST_P(AgentMemoryTest, EntrySizeLimit) {
  auto r = memory_->Append(Conversation(), "c", Msg("user", std::string(4096, 'x')));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("the limit is 2048"), std::string::npos) << r.status().message();
}

TEST_P(AgentMemoryTest, WrongMemoryTypeIsFailedPrecondition) {
  auto r = memory_->Append(Kv(), "c", Msg("user", "x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("AgentMemory default/notes is of type kv"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(memory_->Put(Conversation(), "c", "k", "v").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(memory_->List(Kv(), "c").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(memory_->ListKeys(Conversation(), "c").status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(AgentMemoryTest, BadNamesAreRejectedWithTheValue) {
  auto expect_invalid = [](const Status& s, std::string_view needle) {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find(needle), std::string::npos) << "message: " << s.message() << "\nwanted: " << needle;
  };
  auto put = [&](MemoryRef m, std::string_view ctx, std::string_view key) {
    return memory_->Put(m, ctx, key, "v").status();
  };
  expect_invalid(put(Kv("a/b"), "c", "k"), "memory namespace \"a/b\" must be a DNS label");
  expect_invalid(put(Kv(""), "c", "k"), "memory namespace must not be empty");
  expect_invalid(put(Kv("Default"), "c", "k"), "memory namespace \"Default\"");
  expect_invalid(put(Kv(std::string(64, 'a')), "c", "k"), "the limit is 63");
  expect_invalid(put(Kv("-x"), "c", "k"), "must start and end");
  expect_invalid(put(Kv("default", "../x"), "c", "k"), "memory name \"../x\"");
  expect_invalid(put(Kv("default", "a/b"), "c", "k"), "memory name \"a/b\"");
  expect_invalid(put(Kv(), "a/b", "k"), "memory context id \"a/b\"");
  expect_invalid(put(Kv(), "..", "k"), "memory context id \"..\" is not allowed");
  expect_invalid(put(Kv(), "", "k"), "memory context id must not be empty");
  expect_invalid(put(Kv(), std::string(129, 'c'), "k"), "the limit is 128");
  expect_invalid(put(Kv(), "c", "a/b"), "memory key \"a/b\" must not contain '/'");
  expect_invalid(put(Kv(), "c", ""), "memory key must not be empty");
  expect_invalid(put(Kv(), "c", std::string(257, 'k')), "the limit is 256");
  expect_invalid(put(Kv(), "c", std::string("a\nb")), "control characters");
  expect_invalid(put(Kv(), "c", ".."), "is not allowed");
  expect_invalid(memory_->Get(Kv(), "c", "a/b").status(), "must not contain '/'");
  expect_invalid(memory_->Clear(Kv(), "../other").status(), "memory context id");
  expect_invalid(memory_->ClearAll(Kv("default", "")).status(), "memory name must not be empty");
  // Unicode keys are fine; so are ids with the allowed punctuation.
  EXPECT_TRUE(memory_->Put(Kv(), "user@example.com:thread_1", "prénom", "v").ok());
  EXPECT_EQ(*sessions_->Count(), 1u);
}

TEST_P(AgentMemoryTest, BadEntriesAreRejected) {
  auto expect_invalid = [&](boost::json::object entry, std::string_view needle) {
    auto r = memory_->Append(Conversation(), "c", std::move(entry));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  expect_invalid({{"content", "x"}}, "role: required field is missing");
  expect_invalid({{"role", ""}, {"content", "x"}}, "role: expected a non-empty string");
  expect_invalid({{"role", 3}, {"content", "x"}}, "role: expected a non-empty string");
  expect_invalid({{"role", "user"}}, "needs content or parts");
  expect_invalid({{"role", "user"}, {"content", 5}}, "content: expected a string");
  expect_invalid({{"role", "user"}, {"parts", "x"}}, "parts: expected an array");
  expect_invalid({{"role", "user"}, {"content", "x"}, {"metadata", 1}}, "metadata: expected an object");
  expect_invalid({{"role", "user"}, {"content", "x"}, {"timestamp", 1}}, "timestamp: expected");
  expect_invalid({{"role", "user"}, {"content", "x"}, {"extra", 1}}, "unknown field \"extra\"");
  auto limit = memory_->List(Conversation(), "c", 0, 0);
  EXPECT_EQ(limit.status().code(), StatusCode::kInvalidArgument);
  auto negative = memory_->List(Conversation(), "c", -1);
  EXPECT_EQ(negative.status().code(), StatusCode::kInvalidArgument);
  auto spec = Conversation();
  spec.spec.max_entries = -1;
  EXPECT_EQ(memory_->Append(spec, "c", Msg("user", "x")).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*sessions_->Count(), 0u);
}

TEST_P(AgentMemoryTest, RefFromAnAgentMemoryObject) {
  AgentMemory obj;
  obj.metadata.namespace_ = "team-a";
  obj.metadata.name = "chat";
  obj.spec.type = MemoryType::kConversation;
  obj.spec.max_entries = 2;
  const MemoryRef m = MemoryRef::From(obj);
  EXPECT_EQ(m.namespace_, "team-a");
  EXPECT_EQ(m.name, "chat");
  for (int i = 0; i < 3; ++i) MustAppend(m, "c", Msg("user", std::to_string(i)));
  EXPECT_EQ(MustListContents(m, "c"), (std::vector<std::string>{"1", "2"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, AgentMemoryTest, ::testing::Values("Memory", "Sqlite"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tuna::memory
