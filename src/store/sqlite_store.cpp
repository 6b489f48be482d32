// SqliteStore: the raw storage of the SQLite backend (semantics live in StoreCore).
//
// One writer connection (writes are serialized by the core anyway) and a small pool of reader
// connections: in WAL mode readers see the last committed snapshot and never wait for the
// writer's fsync.

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "store/store_core.hpp"
#include "tuna/resources/codec.hpp"

namespace tuna {
namespace store_internal {
namespace {

constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;
constexpr std::size_t kMaxIdleReaders = 4;

// Statements, identified by address in each connection's cache.
constexpr char kSqlBeginImmediate[] = "BEGIN IMMEDIATE";
constexpr char kSqlBegin[] = "BEGIN";
constexpr char kSqlCommit[] = "COMMIT";
constexpr char kSqlRollback[] = "ROLLBACK";
constexpr char kSqlGet[] = "SELECT json FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3";
constexpr char kSqlInsert[] =
    "INSERT INTO objects (kind, namespace, name, uid, revision, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr char kSqlUpdate[] =
    "UPDATE objects SET uid = ?4, revision = ?5, json = ?6 WHERE kind = ?1 AND namespace = ?2 AND name = ?3";
constexpr char kSqlDelete[] = "DELETE FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3";
constexpr char kSqlSetRevision[] = "UPDATE meta SET value = ?1 WHERE key = 'revision'";
constexpr char kSqlGetRevision[] = "SELECT value FROM meta WHERE key = 'revision'";
constexpr char kSqlCount[] = "SELECT count(*) FROM objects";
constexpr char kSqlOwnerAdd[] =
    "INSERT OR IGNORE INTO owner_refs (owner_uid, namespace, kind, name) VALUES (?1, ?2, ?3, ?4)";
constexpr char kSqlOwnerDel[] =
    "DELETE FROM owner_refs WHERE owner_uid = ?1 AND namespace = ?2 AND kind = ?3 AND name = ?4";
constexpr char kSqlOwnerSelect[] = "SELECT kind, name FROM owner_refs WHERE owner_uid = ?1 AND namespace = ?2";
constexpr char kSqlListAll[] = "SELECT kind, namespace, name, json FROM objects ORDER BY kind, namespace, name";
constexpr char kSqlListAllNs[] =
    "SELECT kind, namespace, name, json FROM objects WHERE namespace = ?2 ORDER BY kind, namespace, name";
constexpr char kSqlListKind[] =
    "SELECT kind, namespace, name, json FROM objects WHERE kind = ?1 ORDER BY namespace, name";
constexpr char kSqlListKindNs[] =
    "SELECT kind, namespace, name, json FROM objects WHERE kind = ?1 AND namespace = ?2 ORDER BY name";
constexpr char kSqlListKindAfter[] =
    "SELECT kind, namespace, name, json FROM objects WHERE kind = ?1 AND (namespace, name) > (?2, ?3) "
    "ORDER BY namespace, name";
constexpr char kSqlListKindNsAfter[] =
    "SELECT kind, namespace, name, json FROM objects WHERE kind = ?1 AND namespace = ?2 AND name > ?3 "
    "ORDER BY name";

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', 1), ('revision', 0);
-- One row per object; the primary key gives List its (namespace, name) order per kind.
CREATE TABLE IF NOT EXISTS objects (
  kind TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  uid TEXT NOT NULL,
  revision INTEGER NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (kind, namespace, name)
);
-- ownerReferences index: lets a cascading delete find dependents without scanning every object.
CREATE TABLE IF NOT EXISTS owner_refs (
  owner_uid TEXT NOT NULL,
  namespace TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (owner_uid, namespace, kind, name)
) WITHOUT ROWID;
)sql";

constexpr std::string_view kErrorPrefix = "SQLite store: ";

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(kErrorPrefix) + std::string(what) + ": " +
                    (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  int sys = db != nullptr ? sqlite3_system_errno(db) : 0;
  if (sys != 0 && (rc & 0xff) == SQLITE_CANTOPEN) msg += std::string(" (") + std::strerror(sys) + ")";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(msg);
    case SQLITE_FULL:
      return ResourceExhausted(msg);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return FailedPrecondition(msg);
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_IOERR:
      return Unavailable(msg);
    case SQLITE_CONSTRAINT:
      return Conflict(msg);
    default:
      return Internal(msg);
  }
}

/// A connection with its prepared statements, prepared once and reused.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  Status Open(const std::string& path, bool create) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "open \"" + path + "\"");
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    return {};
  }

  sqlite3* db() const { return db_; }

  Status Exec(const char* sql, std::string_view what) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    sqlite3_free(err);  // sqlite3_errmsg() still holds the same message
    if (rc == SQLITE_OK) return {};
    return SqliteError(db_, rc, what);
  }

  Result<sqlite3_stmt*> Prepare(const char* sql) {
    if (auto it = stmts_.find(sql); it != stmts_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, std::string("prepare ") + sql);
    stmts_.emplace(sql, stmt);
    return stmt;
  }

  /// Runs a statement that returns no rows.
  Status Run(const char* sql) {
    TUNA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql));
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return SqliteError(db_, rc, sql);
    return {};
  }

 private:
  sqlite3* db_ = nullptr;
  std::map<const char*, sqlite3_stmt*> stmts_;
};

/// Resets and unbinds a cached statement when the scope ends.
class StmtScope {
 public:
  explicit StmtScope(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StmtScope() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StmtScope(const StmtScope&) = delete;
  StmtScope& operator=(const StmtScope&) = delete;
  sqlite3_stmt* get() const { return stmt_; }
  // The bound strings outlive the scope, so SQLite need not copy them.
  void Text(int i, std::string_view s) { sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC); }
  void Int(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }

 private:
  sqlite3_stmt* stmt_;
};

std::string_view ColumnText(sqlite3_stmt* stmt, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
  return p == nullptr ? std::string_view() : std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
}

std::string EncodeRow(const Resource& r) { return boost::json::serialize(ResourceToJson(r)); }

// A row that does not decode is reported with its key (never skipped: a controller that does
// not see an object might act as if it were deleted). Kubernetes reports corrupt objects alike.
Result<Resource> DecodeRow(const ObjectKey& key, std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) {
    spdlog::error("SQLite store: corrupt object {}: invalid JSON: {}", ToString(key), ec.message());
    return Internal("SQLite store: corrupt object " + ToString(key) + ": invalid JSON: " + ec.message());
  }
  auto r = ResourceFromJson(v);
  if (!r.ok() || KeyOf(*r) != key) {
    std::string why = r.ok() ? "stored key does not match the object" : r.status().message();
    spdlog::error("SQLite store: corrupt object {}: {}", ToString(key), why);
    return Internal("SQLite store: corrupt object " + ToString(key) + ": " + why);
  }
  return r;
}

std::set<std::string> OwnerUids(const Resource& r) {
  std::set<std::string> uids;
  for (const auto& ref : r.metadata.owner_references) {
    if (!ref.uid.empty()) uids.insert(ref.uid);
  }
  return uids;
}

Result<std::optional<Resource>> GetWith(Connection& conn, const ObjectKey& key) {
  TUNA_ASSIGN_OR_RETURN(sqlite3_stmt * raw, conn.Prepare(kSqlGet));
  StmtScope stmt(raw);
  stmt.Text(1, key.kind);
  stmt.Text(2, key.namespace_);
  stmt.Text(3, key.name);
  int rc = sqlite3_step(raw);
  if (rc == SQLITE_DONE) return std::optional<Resource>();
  if (rc != SQLITE_ROW) return SqliteError(conn.db(), rc, "get " + ToString(key));
  TUNA_ASSIGN_OR_RETURN(auto obj, DecodeRow(key, ColumnText(raw, 0)));
  return std::optional<Resource>(std::move(obj));
}

Result<std::int64_t> ScalarWith(Connection& conn, const char* sql) {
  TUNA_ASSIGN_OR_RETURN(sqlite3_stmt * raw, conn.Prepare(sql));
  StmtScope stmt(raw);
  int rc = sqlite3_step(raw);
  if (rc != SQLITE_ROW) return SqliteError(conn.db(), rc, sql);
  return static_cast<std::int64_t>(sqlite3_column_int64(raw, 0));
}

class SqliteStore;

class SqliteTxn final : public WriteTxn {
 public:
  explicit SqliteTxn(Connection& conn) : conn_(conn) {}
  ~SqliteTxn() override {
    if (!done_) {
      Status s = conn_.Run(kSqlRollback);
      if (!s.ok()) spdlog::warn("SQLite store: rollback: {}", s.message());
    }
  }

  Result<std::optional<Resource>> Get(const ObjectKey& key) override { return GetWith(conn_, key); }

  Result<std::vector<ObjectKey>> Dependents(const std::string& namespace_, const std::string& owner_uid) override {
    TUNA_ASSIGN_OR_RETURN(sqlite3_stmt * raw, conn_.Prepare(kSqlOwnerSelect));
    StmtScope stmt(raw);
    stmt.Text(1, owner_uid);
    stmt.Text(2, namespace_);
    std::vector<ObjectKey> keys;
    int rc;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
      keys.push_back(ObjectKey{std::string(ColumnText(raw, 0)), namespace_, std::string(ColumnText(raw, 1))});
    }
    if (rc != SQLITE_DONE) return SqliteError(conn_.db(), rc, "select dependents");
    return keys;
  }

  Status Insert(const Resource& object) override {
    TUNA_RETURN_IF_ERROR(Write(kSqlInsert, object));
    for (const auto& uid : OwnerUids(object)) TUNA_RETURN_IF_ERROR(Owner(kSqlOwnerAdd, uid, object));
    return {};
  }

  Status Replace(const Resource& old_object, const Resource& object) override {
    TUNA_RETURN_IF_ERROR(Write(kSqlUpdate, object));
    auto before = OwnerUids(old_object), after = OwnerUids(object);
    for (const auto& uid : before) {
      if (!after.contains(uid)) TUNA_RETURN_IF_ERROR(Owner(kSqlOwnerDel, uid, object));
    }
    for (const auto& uid : after) {
      if (!before.contains(uid)) TUNA_RETURN_IF_ERROR(Owner(kSqlOwnerAdd, uid, object));
    }
    return {};
  }

  Status Remove(const Resource& old_object) override {
    const ObjectKey key = KeyOf(old_object);
    {
      TUNA_ASSIGN_OR_RETURN(sqlite3_stmt * raw, conn_.Prepare(kSqlDelete));
      StmtScope stmt(raw);
      stmt.Text(1, key.kind);
      stmt.Text(2, key.namespace_);
      stmt.Text(3, key.name);
      int rc = sqlite3_step(raw);
      if (rc != SQLITE_DONE) return SqliteError(conn_.db(), rc, "delete " + ToString(key));
    }
    for (const auto& uid : OwnerUids(old_object)) TUNA_RETURN_IF_ERROR(Owner(kSqlOwnerDel, uid, old_object));
    return {};
  }

  Status Commit(std::int64_t revision) override {
    {
      TUNA_ASSIGN_OR_RETURN(sqlite3_stmt * raw, conn_.Prepare(kSqlSetRevision));
      StmtScope stmt(raw);
      stmt.Int(1, revision);
      int rc = sqlite3_step(raw);
      if (rc != SQLITE_DONE) return SqliteError(conn_.db(), rc, "set revision");
    }
    TUNA_RETURN_IF_ERROR(conn_.Run(kSqlCommit));
    done_ = true;
    return {};
  }

 private:
  Status Write(const char* sql, const Resource& object) {
    const ObjectKey key = KeyOf(object);
    const std::string json = EncodeRow(object);
    std::int64_t revision = std::stoll(object.metadata.resource_version);
    TUNA_ASSIGN_OR_RETURN(sqlite3_stmt * raw, conn_.Prepare(sql));
    StmtScope stmt(raw);
    stmt.Text(1, key.kind);
    stmt.Text(2, key.namespace_);
    stmt.Text(3, key.name);
    stmt.Text(4, object.metadata.uid);
    stmt.Int(5, revision);
    stmt.Text(6, json);
    int rc = sqlite3_step(raw);
    if (rc != SQLITE_DONE) return SqliteError(conn_.db(), rc, "write " + ToString(key));
    if (sqlite3_changes(conn_.db()) != 1) return Internal("SQLite store: write " + ToString(key) + ": no row changed");
    return {};
  }

  Status Owner(const char* sql, const std::string& owner_uid, const Resource& object) {
    TUNA_ASSIGN_OR_RETURN(sqlite3_stmt * raw, conn_.Prepare(sql));
    StmtScope stmt(raw);
    stmt.Text(1, owner_uid);
    stmt.Text(2, object.metadata.namespace_);
    stmt.Text(3, object.kind);
    stmt.Text(4, object.metadata.name);
    int rc = sqlite3_step(raw);
    if (rc != SQLITE_DONE) return SqliteError(conn_.db(), rc, "owner index");
    return {};
  }

  Connection& conn_;
  bool done_ = false;
};

class SqliteStore final : public StoreCore {
 public:
  explicit SqliteStore(SqliteStoreOptions options)
      : StoreCore(CoreOptions{options.event_window, options.watcher_queue_limit}), options_(std::move(options)) {}

  ~SqliteStore() override {
    Shutdown();
    idle_readers_.clear();
    writer_.reset();
    if (lock_fd_ >= 0) ::close(lock_fd_);  // after every connection: releases the single-owner lock
  }

  using StoreCore::Init;

  Status Open() {
    const std::string& path = options_.path;
    auto context = [&](const Status& s) {
      // "open SQLite store "p": enable WAL: file is not a database" reads better without the
      // generic prefix runtime errors carry.
      std::string_view msg = s.message();
      if (msg.starts_with(kErrorPrefix)) msg.remove_prefix(kErrorPrefix.size());
      return Status(s.code(), "open SQLite store \"" + path + "\": " + std::string(msg), s.field());
    };
    // One Store per database: two would each keep their own revision counter and event window.
    const std::string lock_path = path + ".lock";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) {
      return Unavailable("open SQLite store \"" + path + "\": cannot create lock file \"" + lock_path +
                         "\": " + std::strerror(errno));
    }
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        return FailedPrecondition("open SQLite store \"" + path +
                                  "\": already open by another store (in this or another process)");
      }
      return Unavailable("open SQLite store \"" + path + "\": lock \"" + lock_path + "\": " + std::strerror(errno));
    }
    writer_ = std::make_unique<Connection>();
    if (Status s = writer_->Open(path, true); !s.ok()) return context(s);
    // journal_mode is the first statement to touch the file: it reports "not a database".
    if (Status s = writer_->Exec("PRAGMA journal_mode=WAL", "enable WAL"); !s.ok()) return context(s);
    {
      TUNA_ASSIGN_OR_RETURN(sqlite3_stmt * raw, writer_->Prepare("PRAGMA journal_mode"));
      StmtScope stmt(raw);
      if (sqlite3_step(raw) != SQLITE_ROW || ColumnText(raw, 0) != "wal") {
        return Unavailable("open SQLite store \"" + path + "\": cannot enable WAL journal mode");
      }
    }
    const char* sync = options_.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
    if (Status s = writer_->Exec(sync, "set synchronous"); !s.ok()) return context(s);
    if (Status s = writer_->Exec((std::string("BEGIN IMMEDIATE;") + kSchema + "COMMIT;").c_str(), "create schema");
        !s.ok()) {
      (void)writer_->Exec("ROLLBACK", "rollback");
      return context(s);
    }
    TUNA_ASSIGN_OR_RETURN(std::int64_t schema, ScalarWith(*writer_, "SELECT value FROM meta WHERE key = 'schema'"));
    if (schema > kSchemaVersion) {
      return FailedPrecondition("open SQLite store \"" + path + "\": schema version " + std::to_string(schema) +
                                " is newer than this tuna supports (" + std::to_string(kSchemaVersion) + ")");
    }
    // Open one reader now so a problem surfaces here rather than on the first read.
    auto reader = AcquireReader();
    if (!reader.ok()) return context(reader.status());
    ReleaseReader(std::move(*reader));
    return {};
  }

 private:
  // A reader borrowed from the pool for one call; returned on every path.
  class ReaderLease {
   public:
    ReaderLease(SqliteStore& store, std::unique_ptr<Connection> conn) : store_(store), conn_(std::move(conn)) {}
    ~ReaderLease() {
      if (conn_) store_.ReleaseReader(std::move(conn_));
    }
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;
    Connection& conn() { return *conn_; }

   private:
    SqliteStore& store_;
    std::unique_ptr<Connection> conn_;
  };

  Result<std::unique_ptr<Connection>> AcquireReader() {
    {
      std::lock_guard lock(pool_mu_);
      if (!idle_readers_.empty()) {
        auto conn = std::move(idle_readers_.back());
        idle_readers_.pop_back();
        return conn;
      }
    }
    auto conn = std::make_unique<Connection>();
    TUNA_RETURN_IF_ERROR(conn->Open(options_.path, false));
    TUNA_RETURN_IF_ERROR(conn->Exec("PRAGMA query_only=1", "reader"));
    return conn;
  }

  void ReleaseReader(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(pool_mu_);
    if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(conn));
  }

  Result<std::optional<Resource>> DoGet(const ObjectKey& key) override {
    TUNA_ASSIGN_OR_RETURN(auto conn, AcquireReader());
    ReaderLease lease(*this, std::move(conn));
    return GetWith(lease.conn(), key);
  }

  Result<ListPage> DoList(const ListQuery& q) override {
    TUNA_ASSIGN_OR_RETURN(auto raw_conn, AcquireReader());
    ReaderLease lease(*this, std::move(raw_conn));
    Connection& conn = lease.conn();
    // One read transaction: the revision and the rows come from the same WAL snapshot.
    TUNA_RETURN_IF_ERROR(conn.Run(kSqlBegin));
    struct EndRead {
      Connection& conn;
      ~EndRead() { (void)conn.Run(kSqlCommit); }
    } end_read{conn};

    ListPage page;
    TUNA_ASSIGN_OR_RETURN(page.revision, ScalarWith(conn, kSqlGetRevision));
    const char* sql;
    if (q.kind.empty()) {
      sql = q.namespace_.empty() ? kSqlListAll : kSqlListAllNs;
    } else if (q.after) {
      sql = q.namespace_.empty() ? kSqlListKindAfter : kSqlListKindNsAfter;
    } else {
      sql = q.namespace_.empty() ? kSqlListKind : kSqlListKindNs;
    }
    TUNA_ASSIGN_OR_RETURN(sqlite3_stmt * raw, conn.Prepare(sql));
    StmtScope stmt(raw);
    if (!q.kind.empty()) stmt.Text(1, q.kind);
    if (q.after) {
      stmt.Text(2, q.after->first);
      stmt.Text(3, q.after->second);
    }
    if (!q.namespace_.empty()) stmt.Text(2, q.namespace_);
    int rc;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
      ObjectKey key{std::string(ColumnText(raw, 0)), std::string(ColumnText(raw, 1)), std::string(ColumnText(raw, 2))};
      TUNA_ASSIGN_OR_RETURN(auto obj, DecodeRow(key, ColumnText(raw, 3)));
      if (q.filter && !q.filter(obj)) continue;
      if (q.limit != 0 && page.items.size() == q.limit) {
        page.more = true;
        break;
      }
      page.items.push_back(std::move(obj));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqliteError(conn.db(), rc, "list");
    return page;
  }

  Result<WriteTxnPtr> DoBeginWrite() override {
    TUNA_RETURN_IF_ERROR(writer_->Run(kSqlBeginImmediate));
    return WriteTxnPtr(std::make_unique<SqliteTxn>(*writer_));
  }

  Result<std::int64_t> DoRevision() override { return ScalarWith(*writer_, kSqlGetRevision); }
  Result<std::int64_t> DoCount() override { return ScalarWith(*writer_, kSqlCount); }

  const SqliteStoreOptions options_;
  int lock_fd_ = -1;
  std::unique_ptr<Connection> writer_;  // used only under the core's write lock (and in Open/Init)
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;
};

}  // namespace
}  // namespace store_internal

Result<StorePtr> MakeSqliteStore(SqliteStoreOptions options) {
  try {
    if (options.path.empty()) return InvalidArgument("SQLite store: path is required", "path");
    auto store = std::make_unique<store_internal::SqliteStore>(std::move(options));
    TUNA_RETURN_IF_ERROR(store->Open());
    TUNA_RETURN_IF_ERROR(store->Init());
    return StorePtr(std::move(store));
  } catch (const std::exception& e) {
    return Internal(std::string("open SQLite store: ") + e.what());
  }
}

}  // namespace tuna
