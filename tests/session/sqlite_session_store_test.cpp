// SQLite session store specifics: what survives a reopen, open errors, one store per file.

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "session/session_test_util.hpp"
#include "support/temp_dir.hpp"
#include "tuna/session.hpp"

namespace tuna::session {
namespace {

using namespace std::chrono_literals;
using testing_session::FakeClock;
using Items = std::vector<std::pair<std::int64_t, std::string>>;

class SqliteSessionStoreTest : public ::testing::Test {
 protected:
  Result<SessionStorePtr> Open(std::filesystem::path path = {}) {
    SqliteSessionStoreOptions o;
    o.path = path.empty() ? dir_ / "sessions.db" : path;
    o.purge_interval = 0ms;
    o.clock = clock_.Fn();
    return MakeSqliteSessionStore(std::move(o));
  }
  SessionStorePtr MustOpen() {
    auto s = Open();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  FakeClock clock_;
  testing::TempDir dir_;
};

TEST_F(SqliteSessionStoreTest, EverythingSurvivesAReopen) {
  std::int64_t v_keep = 0, v_deleted = 0;
  {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    v_keep = *store->Put("a2a/task/default/echo/1", R"({"state":"working"})", 1h);
    ASSERT_TRUE(store->Put("plain", "forever").ok());
    v_deleted = *store->Put("zzz-newest", "x");
    ASSERT_TRUE(store->Delete("zzz-newest").ok());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(store->Append("history", "m" + std::to_string(i), 3).ok());
  }
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  auto e = store->Get("a2a/task/default/echo/1");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->value, R"({"state":"working"})");
  EXPECT_EQ(e->version, v_keep);
  ASSERT_TRUE(e->expires_at.has_value());
  EXPECT_EQ(*e->expires_at, clock_.Now() + 1h);
  EXPECT_EQ(store->Get("plain")->value, "forever");
  EXPECT_EQ(*store->Range("history"), (Items{{3, "m2"}, {4, "m3"}, {5, "m4"}}));
  // Sequence numbers and versions continue; the deleted newest version is not handed out again.
  EXPECT_EQ(*store->Append("history", "m5", 3), 6);
  auto v = store->Put("zzz-newest", "again");
  ASSERT_TRUE(v.ok());
  EXPECT_GT(*v, v_deleted);
  // The TTL still counts with the same clock.
  clock_.Advance(1h);
  EXPECT_EQ(store->Get("a2a/task/default/echo/1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store->Count(), 3u);
}

TEST_F(SqliteSessionStoreTest, CreatesTheDirectory) {
  auto store = Open(dir_ / "a" / "b" / "sessions.db");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(dir_ / "a" / "b" / "sessions.db"));
}

TEST_F(SqliteSessionStoreTest, SecondOpenOfTheSameFileIsRefused) {
  auto first = MustOpen();
  ASSERT_NE(first, nullptr);
  auto second = Open();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("already open"), std::string::npos) << second.status().message();
  first.reset();
  EXPECT_TRUE(Open().ok());
}

TEST_F(SqliteSessionStoreTest, NotADatabaseIsAClearError) {
  const auto path = dir_ / "garbage.db";
  {
    std::ofstream out(path);
    out << std::string(8192, 'x');
  }
  auto store = Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition) << store.status().ToString();
  EXPECT_NE(store.status().message().find(path.string()), std::string::npos) << store.status().message();
  EXPECT_NE(store.status().message().find("not a database"), std::string::npos) << store.status().message();
}

TEST_F(SqliteSessionStoreTest, UnwritableDirectoryIsUnavailable) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can write anywhere";
  std::filesystem::create_directories(dir_ / "ro");
  std::filesystem::permissions(dir_ / "ro", std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  auto store = Open(dir_ / "ro" / "sessions.db");
  std::filesystem::permissions(dir_ / "ro", std::filesystem::perms::owner_all);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable) << store.status().ToString();
}

TEST_F(SqliteSessionStoreTest, DirectoryThatIsAFileIsUnavailable) {
  {
    std::ofstream out(dir_ / "file");
    out << "x";
  }
  auto store = Open(dir_ / "file" / "sessions.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable) << store.status().ToString();
  EXPECT_NE(store.status().message().find("create directory"), std::string::npos) << store.status().message();
}

TEST_F(SqliteSessionStoreTest, EmptyPathIsInvalid) {
  SqliteSessionStoreOptions o;
  auto bad = MakeSqliteSessionStore(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SqliteSessionStoreTest, DurableModeWorks) {
  SqliteSessionStoreOptions o;
  o.path = dir_ / "durable.db";
  o.durable = true;
  auto store = MakeSqliteSessionStore(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Put("k", "v").ok());
  EXPECT_EQ((*store)->Get("k")->value, "v");
}

}  // namespace
}  // namespace tuna::session
