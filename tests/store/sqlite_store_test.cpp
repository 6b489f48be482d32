// SQLite-specific Store tests: persistence, restart semantics, open errors, corruption, and a
// crash test that SIGKILLs a writer process.

#include <gtest/gtest.h>

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <cerrno>
#include <fstream>
#include <set>

#include "store/store_test_util.hpp"
#include "tuna/store.hpp"

namespace tuna {
namespace {

using testing_store::Deployment;
using testing_store::MakeObject;
using testing_store::OwnedBy;
using testing_store::TempDir;

StorePtr MustOpen(const std::string& path) {
  auto s = MakeSqliteStore({.path = path});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

// Runs one query with the raw C API and returns the first column of every row.
std::vector<std::string> RawQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<std::string> rows;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "raw open " << path << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return rows;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  } else {
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      rows.emplace_back(text ? text : "");
    }
    if (rc != SQLITE_DONE) ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

TEST(SqliteStore, DataSurvivesCloseAndReopen) {
  TempDir dir;
  const std::string path = dir.File("tuna.db");
  Resource owner, child;
  {
    auto store = MustOpen(path);
    ASSERT_TRUE(store);
    owner = *store->Create(Deployment("echo", "default", {{"app", "echo"}}));
    Resource c = MakeObject("AgentBuild", "default", "echo-1");
    c.metadata.owner_references = {OwnedBy(owner)};
    child = *store->Create(c);
    auto s = store->Patch(KeyOf(owner), R"({"status":{"phase":"StagingDeployed"}})", {Subresource::kStatus});
    ASSERT_TRUE(s.ok());
    owner = *s;
  }
  EXPECT_EQ(RawQuery(path, "PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  auto store = MustOpen(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->Get(KeyOf(owner)), owner);
  EXPECT_EQ(*store->Get(KeyOf(child)), child);
  EXPECT_EQ(store->Stats().objects, 2);
  EXPECT_EQ(store->Stats().revision, std::stoll(owner.metadata.resource_version));
  // The owner index survived too: the cascade still finds the child.
  ASSERT_TRUE(store->Delete(KeyOf(owner)).ok());
  EXPECT_EQ(store->Get(KeyOf(child)).status().code(), StatusCode::kNotFound);
}

TEST(SqliteStore, RevisionSurvivesReopenAfterDeletingNewestObject) {
  TempDir dir;
  const std::string path = dir.File("tuna.db");
  std::int64_t deleted_at = 0;
  {
    auto store = MustOpen(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Create(Deployment("a")).ok());
    auto b = store->Create(Deployment("b"));
    ASSERT_TRUE(b.ok());
    auto d = store->Delete(KeyOf(*b));
    ASSERT_TRUE(d.ok());
    deleted_at = std::stoll(d->metadata.resource_version);
    EXPECT_EQ(deleted_at, 3);
  }
  EXPECT_EQ(RawQuery(path, "SELECT max(revision) FROM objects"), std::vector<std::string>{"1"});
  auto store = MustOpen(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->Stats().revision, deleted_at);
  auto c = store->Create(Deployment("c"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->metadata.resource_version, std::to_string(deleted_at + 1)) << "revisions never go back";

  // The event window restarts at the revision found on open (like etcd after compaction).
  auto old = store->Watch({.resource_version = "2"});
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), StatusCode::kGone);
  EXPECT_EQ(old.status().message(), "too old resource version: 2 (oldest available 3)");
  auto resume = store->Watch({.resource_version = "3"});
  ASSERT_TRUE(resume.ok()) << resume.status().ToString();
  auto events = (*resume)->Drain();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].object, *c);
}

TEST(SqliteStore, OpenErrorsAreStatuses) {
  TempDir dir;
  auto missing_dir = MakeSqliteStore({.path = dir.File("no/such/dir/tuna.db")});
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_NE(missing_dir.status().message().find(dir.File("no/such/dir/tuna.db")), std::string::npos)
      << missing_dir.status().message();

  const std::string garbage = dir.File("garbage.db");
  {
    std::ofstream out(garbage, std::ios::binary);
    for (int i = 0; i < 512; ++i) out << "this is not an SQLite database, just text. ";
  }
  auto not_db = MakeSqliteStore({.path = garbage});
  ASSERT_FALSE(not_db.ok());
  EXPECT_NE(not_db.status().message().find("file is not a database"), std::string::npos)
      << not_db.status().message();
  EXPECT_NE(not_db.status().message().find(garbage), std::string::npos) << not_db.status().message();

  auto empty_path = MakeSqliteStore({.path = ""});
  EXPECT_EQ(empty_path.status().code(), StatusCode::kInvalidArgument);

  // A second store on the same file would keep its own revision counter: refused.
  const std::string path = dir.File("tuna.db");
  auto first = MustOpen(path);
  ASSERT_TRUE(first);
  auto second = MakeSqliteStore({.path = path});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("already open"), std::string::npos) << second.status().message();
  first.reset();
  EXPECT_TRUE(MustOpen(path)) << "the lock is released when the store closes";
}

TEST(SqliteStore, ReadOnlyDirectoryIsAStatus) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  TempDir dir;
  const std::string ro = dir.File("ro");
  ASSERT_EQ(::mkdir(ro.c_str(), 0555), 0);
  auto s = MakeSqliteStore({.path = ro + "/tuna.db"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(ro + "/tuna.db"), std::string::npos) << s.status().message();
  ::chmod(ro.c_str(), 0755);
}

TEST(SqliteStore, CorruptRowIsReportedWithItsKeyNotACrash) {
  TempDir dir;
  const std::string path = dir.File("tuna.db");
  {
    auto store = MustOpen(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Create(Deployment("a")).ok());
    ASSERT_TRUE(store->Create(Deployment("b")).ok());
    ASSERT_TRUE(store->Create(Deployment("c")).ok());
  }
  RawQuery(path, "UPDATE objects SET json = '{\"garbage' WHERE name = 'b'");
  RawQuery(path, "UPDATE objects SET json = '{\"apiVersion\":\"tuna.ai/v1alpha1\",\"kind\":\"AgentDeployment\","
                 "\"metadata\":{\"name\":\"zzz\",\"namespace\":\"default\"}}' WHERE name = 'c'");
  auto store = MustOpen(path);
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->Get({"AgentDeployment", "default", "a"}).ok());
  auto b = store->Get({"AgentDeployment", "default", "b"});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInternal);
  EXPECT_NE(b.status().message().find("AgentDeployment default/b"), std::string::npos) << b.status().message();
  auto c = store->Get({"AgentDeployment", "default", "c"});
  EXPECT_EQ(c.status().code(), StatusCode::kInternal) << "a row whose JSON names another object is corrupt too";
  auto list = store->List({.kind = "AgentDeployment"});
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), StatusCode::kInternal);
  EXPECT_NE(list.status().message().find("AgentDeployment default/b"), std::string::npos)
      << list.status().message();
  // Other kinds and writes elsewhere keep working.
  EXPECT_TRUE(store->List({.kind = "AgentBuild"}).ok());
  EXPECT_TRUE(store->Create(Deployment("d")).ok());
}

// Writes every acknowledged name to `fd` after Create returned; never returns.
[[noreturn]] void CrashChild(const std::string& path, int fd) {
  auto store = MakeSqliteStore({.path = path});
  if (!store.ok()) _exit(2);
  for (int i = 0;; ++i) {
    std::string name = "obj-" + std::to_string(i);
    Resource r = Deployment(name, "default", {{"i", std::to_string(i)}});
    r.spec.as_object()["payload"] = std::string(512, 'x');
    if (!(*store)->Create(std::move(r)).ok()) _exit(3);
    std::string line = name + "\n";
    for (std::size_t off = 0; off < line.size();) {
      ssize_t n = ::write(fd, line.data() + off, line.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) _exit(4);
      off += static_cast<std::size_t>(n);
    }
  }
}

TEST(SqliteStore, CrashAfterAcknowledgedWritesLosesNothing) {
  TempDir dir;
  const std::string path = dir.File("crash.db");
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    CrashChild(path, fds[1]);
  }
  ::close(fds[1]);

  constexpr std::size_t kAcksBeforeKill = 300;
  std::vector<std::string> acked;
  std::string buffer;
  bool killed = false;
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child is gone and every ack it wrote has been read
    buffer.append(chunk, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
      acked.push_back(buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
    }
    if (!killed && acked.size() >= kAcksBeforeKill) {
      ::kill(pid, SIGKILL);  // mid-stream: the child is inside Create, or between two
      killed = true;
    }
  }
  ::close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(killed) << "child exited early, status " << wstatus;
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << "child status " << wstatus;
  ASSERT_GE(acked.size(), kAcksBeforeKill);

  {
    auto store = MustOpen(path);
    ASSERT_TRUE(store);
    for (const auto& name : acked) {
      auto got = store->Get({"AgentDeployment", "default", name});
      ASSERT_TRUE(got.ok()) << "acknowledged " << name << " lost: " << got.status().ToString();
    }
    // At most the one in-flight create may have committed without its ack being written.
    auto list = store->List({.kind = "AgentDeployment"});
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    EXPECT_GE(list->items.size(), acked.size());
    EXPECT_LE(list->items.size(), acked.size() + 1);
    EXPECT_EQ(store->Stats().revision, static_cast<std::int64_t>(list->items.size()));
  }
  EXPECT_EQ(RawQuery(path, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

}  // namespace
}  // namespace tuna
