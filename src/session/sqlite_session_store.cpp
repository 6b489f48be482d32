// SQLite backend of SessionStore: one file in WAL mode, one writer connection (writes are
// serialized by a mutex, each one a single statement or one BEGIN IMMEDIATE transaction) and a
// small pool of reader connections that read the last committed snapshot without waiting for
// the writer. Statements are prepared once per connection.
//
// Times are stored as milliseconds since the Unix epoch; expired rows stay invisible to reads
// (filtered in SQL with the injected clock's time) until PurgeExpired deletes them.

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

#include "session/session_common.hpp"

namespace tuna::session {
namespace {

constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;
constexpr std::size_t kMaxIdleReaders = 4;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', 1), ('version_floor', 0);
-- Values. expires_at: ms since the epoch, NULL for never.
CREATE TABLE IF NOT EXISTS entries (
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL,
  version INTEGER NOT NULL,
  expires_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_expires_at ON entries (expires_at) WHERE expires_at IS NOT NULL;
-- Lists: items first_seq .. next_seq-1 are in list_items (evictions only drop the oldest).
CREATE TABLE IF NOT EXISTS lists (
  key TEXT PRIMARY KEY,
  first_seq INTEGER NOT NULL,
  next_seq INTEGER NOT NULL,
  expires_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lists_expires_at ON lists (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS list_items (
  key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  item BLOB NOT NULL,
  PRIMARY KEY (key, seq)
) WITHOUT ROWID;
)sql";

// Live rows: ?now is the clock in ms.
#define LIVE(col) "(" col " IS NULL OR " col " > ?9)"

constexpr char kBeginImmediate[] = "BEGIN IMMEDIATE";
constexpr char kCommit[] = "COMMIT";
constexpr char kRollback[] = "ROLLBACK";
constexpr char kUpsert[] =
    "INSERT INTO entries (key, value, version, expires_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, "
    "expires_at = excluded.expires_at";
constexpr char kGetVersion[] = "SELECT version FROM entries WHERE key = ?1 AND " LIVE("expires_at");
constexpr char kGet[] = "SELECT value, version, expires_at FROM entries WHERE key = ?1 AND " LIVE("expires_at");
constexpr char kDeleteEntry[] = "DELETE FROM entries WHERE key = ?1";
constexpr char kDeleteList[] = "DELETE FROM lists WHERE key = ?1";
constexpr char kDeleteItems[] = "DELETE FROM list_items WHERE key = ?1";
constexpr char kTouchEntry[] = "UPDATE entries SET expires_at = ?2 WHERE key = ?1 AND " LIVE("expires_at");
constexpr char kTouchList[] = "UPDATE lists SET expires_at = ?2 WHERE key = ?1 AND " LIVE("expires_at");
// Paging: a lower bound (>= prefix or > after) and, when the prefix has one, an upper bound.
constexpr char kListGe[] =
    "SELECT key, value, version, expires_at FROM entries WHERE key >= ?1 AND key < ?2 AND " LIVE("expires_at")
    " ORDER BY key LIMIT ?3";
constexpr char kListGt[] =
    "SELECT key, value, version, expires_at FROM entries WHERE key > ?1 AND key < ?2 AND " LIVE("expires_at")
    " ORDER BY key LIMIT ?3";
constexpr char kListGeOpen[] =
    "SELECT key, value, version, expires_at FROM entries WHERE key >= ?1 AND " LIVE("expires_at")
    " ORDER BY key LIMIT ?3";
constexpr char kListGtOpen[] =
    "SELECT key, value, version, expires_at FROM entries WHERE key > ?1 AND " LIVE("expires_at")
    " ORDER BY key LIMIT ?3";
// Prefix deletes: ?1 <= key < ?2, or key >= ?1 when the prefix has no upper bound (two
// statements, so SQLite scans only the range either way).
#define COUNT_PREFIX(range)                                                                   \
  "SELECT count(*) FROM (SELECT key FROM entries WHERE " range " AND " LIVE("expires_at") \
  " UNION SELECT key FROM lists WHERE " range " AND " LIVE("expires_at") ")"
#define PREFIX_BOUNDED "key >= ?1 AND key < ?2"
#define PREFIX_OPEN "key >= ?1"
struct PrefixSql {
  const char* count;
  const char* entries;
  const char* items;
  const char* lists;
};
constexpr PrefixSql kPrefixBounded{COUNT_PREFIX(PREFIX_BOUNDED), "DELETE FROM entries WHERE " PREFIX_BOUNDED,
                                   "DELETE FROM list_items WHERE " PREFIX_BOUNDED, "DELETE FROM lists WHERE " PREFIX_BOUNDED};
constexpr PrefixSql kPrefixOpen{COUNT_PREFIX(PREFIX_OPEN), "DELETE FROM entries WHERE " PREFIX_OPEN,
                                "DELETE FROM list_items WHERE " PREFIX_OPEN, "DELETE FROM lists WHERE " PREFIX_OPEN};
constexpr char kGetList[] = "SELECT first_seq, next_seq, expires_at FROM lists WHERE key = ?1";
constexpr char kUpsertList[] =
    "INSERT INTO lists (key, first_seq, next_seq, expires_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (key) DO UPDATE SET first_seq = excluded.first_seq, next_seq = excluded.next_seq, "
    "expires_at = excluded.expires_at";
constexpr char kInsertItem[] = "INSERT INTO list_items (key, seq, item) VALUES (?1, ?2, ?3)";
constexpr char kEvictItems[] = "DELETE FROM list_items WHERE key = ?1 AND seq < ?2";
constexpr char kRange[] =
    "SELECT i.seq, i.item FROM lists l JOIN list_items i ON i.key = l.key "
    "WHERE l.key = ?1 AND " LIVE("l.expires_at") " AND i.seq > ?2 ORDER BY i.seq LIMIT ?3";
constexpr char kTail[] =
    "SELECT seq, item FROM (SELECT i.seq, i.item FROM lists l JOIN list_items i ON i.key = l.key "
    "WHERE l.key = ?1 AND " LIVE("l.expires_at") " ORDER BY i.seq DESC LIMIT ?3) ORDER BY seq";
constexpr char kPurgeItems[] =
    "DELETE FROM list_items WHERE key IN (SELECT key FROM lists WHERE expires_at <= ?9)";
constexpr char kPurgeLists[] = "DELETE FROM lists WHERE expires_at <= ?9";
constexpr char kPurgeEntries[] = "DELETE FROM entries WHERE expires_at <= ?9";
constexpr char kCount[] =
    "SELECT count(*) FROM (SELECT key FROM entries WHERE " LIVE("expires_at")
    " UNION SELECT key FROM lists WHERE " LIVE("expires_at") ")";
constexpr char kMaxVersion[] =
    "SELECT max(coalesce((SELECT max(version) FROM entries), 0), "
    "(SELECT value FROM meta WHERE key = 'version_floor'))";
constexpr char kSetVersionFloor[] = "UPDATE meta SET value = max(value, ?1) WHERE key = 'version_floor'";
constexpr char kSchemaVersionSql[] = "SELECT value FROM meta WHERE key = 'schema'";

#undef LIVE
#undef COUNT_PREFIX
#undef PREFIX_BOUNDED
#undef PREFIX_OPEN

constexpr std::string_view kErrorPrefix = "SQLite session store: ";

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(kErrorPrefix) + std::string(what) + ": " +
                    (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  int sys = db != nullptr ? sqlite3_system_errno(db) : 0;
  if (sys != 0 && (rc & 0xff) == SQLITE_CANTOPEN) msg += std::string(" (") + std::strerror(sys) + ")";
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_TOOBIG:
      return ResourceExhausted(msg);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return FailedPrecondition(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_IOERR:
      return Unavailable(msg);
    default:
      return Internal(msg);
  }
}

/// A prepared statement in use: reset and unbound when the scope ends.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() {
    if (stmt_ == nullptr) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  // Bound strings outlive the statement's use, so SQLite need not copy them.
  Stmt& Text(int i, std::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& Blob(int i, std::string_view s) {
    // A zero-length blob must not be bound as NULL (value is NOT NULL).
    if (s.empty()) {
      sqlite3_bind_zeroblob(stmt_, i, 0);
    } else {
      sqlite3_bind_blob(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    }
    return *this;
  }
  Stmt& Int(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& OptInt(int i, std::optional<std::int64_t> v) {
    if (v) {
      sqlite3_bind_int64(stmt_, i, *v);
    } else {
      sqlite3_bind_null(stmt_, i);
    }
    return *this;
  }

  /// SQLITE_ROW or SQLITE_DONE; anything else is an error status.
  Result<bool> Step(std::string_view what) {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(db_, rc, what);
  }
  Status Run(std::string_view what) {
    auto r = Step(what);
    return r.ok() ? Status() : r.status();
  }

  std::int64_t ColInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  bool ColNull(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  std::string ColBytes(int i) const {
    const void* p = sqlite3_column_blob(stmt_, i);
    const int n = sqlite3_column_bytes(stmt_, i);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  std::optional<Clock::time_point> ColTime(int i) const {
    if (ColNull(i)) return std::nullopt;
    return internal::FromMillis(ColInt(i));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

/// A connection and its statements, prepared on first use and kept.
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
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "open \"" + path + "\"");
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    return {};
  }

  sqlite3* db() const { return db_; }

  Status Exec(const char* sql, std::string_view what) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? Status() : SqliteError(db_, rc, what);
  }

  /// The cached statement for `sql` (identified by address: always one of the constants).
  Result<Stmt> Prepare(const char* sql) {
    auto it = stmts_.find(sql);
    if (it == stmts_.end()) {
      sqlite3_stmt* stmt = nullptr;
      const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return SqliteError(db_, rc, std::string("prepare ") + sql);
      it = stmts_.emplace(sql, stmt).first;
    }
    return Stmt(db_, it->second);
  }

  Status Run(const char* sql, std::string_view what) {
    TUNA_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
    return stmt.Run(what);
  }

 private:
  sqlite3* db_ = nullptr;
  std::map<const char*, sqlite3_stmt*> stmts_;
};

class SqliteSessionStore final : public SessionStore {
 public:
  explicit SqliteSessionStore(SqliteSessionStoreOptions options)
      : options_(std::move(options)), path_(options_.path.string()), clock_(internal::ClockOrDefault(options_.clock)) {}

  ~SqliteSessionStore() override {
    purger_.reset();  // before the connections go
    idle_readers_.clear();
    writer_.reset();
    if (lock_fd_ >= 0) ::close(lock_fd_);  // last: releases the single-owner lock
  }

  Status Open() {
    auto context = [&](const Status& s) {
      std::string_view msg = s.message();
      if (msg.starts_with(kErrorPrefix)) msg.remove_prefix(kErrorPrefix.size());
      return Status(s.code(), "open SQLite session store \"" + path_ + "\": " + std::string(msg), s.field());
    };
    std::error_code ec;
    if (options_.path.has_parent_path()) {
      std::filesystem::create_directories(options_.path.parent_path(), ec);
      if (ec) {
        return Unavailable("open SQLite session store \"" + path_ + "\": create directory \"" +
                           options_.path.parent_path().string() + "\": " + ec.message());
      }
    }
    // One store per file: the version counter lives in this process.
    const std::string lock_path = path_ + ".lock";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) {
      return Unavailable("open SQLite session store \"" + path_ + "\": cannot create lock file \"" + lock_path +
                         "\": " + std::strerror(errno));
    }
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        return FailedPrecondition("open SQLite session store \"" + path_ +
                                  "\": already open by another session store (in this or another process)");
      }
      return Unavailable("open SQLite session store \"" + path_ + "\": lock \"" + lock_path +
                         "\": " + std::strerror(errno));
    }
    writer_ = std::make_unique<Connection>();
    if (Status s = writer_->Open(path_, true); !s.ok()) return context(s);
    if (Status s = writer_->Exec("PRAGMA journal_mode=WAL", "enable WAL"); !s.ok()) return context(s);
    {
      TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare("PRAGMA journal_mode"));
      auto row = stmt.Step("journal_mode");
      if (!row.ok()) return context(row.status());
      if (!*row || stmt.ColBytes(0) != "wal") {
        return Unavailable("open SQLite session store \"" + path_ + "\": cannot enable WAL journal mode");
      }
    }
    const char* sync = options_.durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
    if (Status s = writer_->Exec(sync, "set synchronous"); !s.ok()) return context(s);
    if (Status s = writer_->Exec((std::string("BEGIN IMMEDIATE;") + kSchema + "COMMIT;").c_str(), "create schema");
        !s.ok()) {
      (void)writer_->Exec("ROLLBACK", "rollback");
      return context(s);
    }
    auto schema = Scalar(*writer_, kSchemaVersionSql);
    if (!schema.ok()) return context(schema.status());
    if (*schema > kSchemaVersion) {
      return FailedPrecondition("open SQLite session store \"" + path_ + "\": schema version " +
                                std::to_string(*schema) + " is newer than this tuna supports (" +
                                std::to_string(kSchemaVersion) + ")");
    }
    auto max_version = Scalar(*writer_, kMaxVersion);
    if (!max_version.ok()) return context(max_version.status());
    last_version_ = *max_version;
    // Open one reader now so a problem shows here, not on the first read.
    auto reader = AcquireReader();
    if (!reader.ok()) return context(reader.status());
    ReleaseReader(std::move(*reader));
    if (options_.purge_interval.count() > 0) {
      purger_ = std::make_unique<internal::PurgeThread>(options_.purge_interval, [this] {
        auto n = PurgeExpired();
        if (!n.ok()) {
          spdlog::warn("SQLite session store {}: background purge: {}", path_, n.status().message());
        } else if (*n > 0) {
          spdlog::debug("SQLite session store {}: purged {} expired entries", path_, *n);
        }
      });
    }
    return {};
  }

  Result<std::int64_t> Put(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(key));
    TUNA_RETURN_IF_ERROR(internal::CheckValue(key, value));
    TUNA_RETURN_IF_ERROR(internal::CheckTtl(ttl));
    const auto now = clock_();
    std::lock_guard lock(write_mu_);
    return WriteEntry(key, value, ttl, now);
  }

  Result<std::int64_t> CompareAndSwap(std::string_view key, std::string_view value, std::int64_t expected_version,
                                      std::chrono::milliseconds ttl) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(key));
    TUNA_RETURN_IF_ERROR(internal::CheckValue(key, value));
    TUNA_RETURN_IF_ERROR(internal::CheckTtl(ttl));
    if (expected_version < 0) return InvalidArgument("session expected version must not be negative");
    const auto now = clock_();
    // The read and the write need no transaction: every write goes through write_mu_ and the
    // file lock keeps other processes out.
    std::lock_guard lock(write_mu_);
    std::int64_t current = 0;
    {
      TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare(kGetVersion));
      stmt.Text(1, key).Int(9, internal::ToMillis(now));
      TUNA_ASSIGN_OR_RETURN(bool row, stmt.Step("compare-and-swap"));
      if (row) current = stmt.ColInt(0);
    }
    if (current != expected_version) {
      return FailedPrecondition("session key \"" + std::string(key) + "\": expected version " +
                                std::to_string(expected_version) + ", current version " + std::to_string(current));
    }
    return WriteEntry(key, value, ttl, now);
  }

  Result<Entry> Get(std::string_view key) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(key));
    const auto now = clock_();
    TUNA_ASSIGN_OR_RETURN(auto lease, Lease());
    TUNA_ASSIGN_OR_RETURN(Stmt stmt, lease.conn().Prepare(kGet));
    stmt.Text(1, key).Int(9, internal::ToMillis(now));
    TUNA_ASSIGN_OR_RETURN(bool row, stmt.Step("get"));
    if (!row) return NotFound("session key \"" + std::string(key) + "\" not found");
    return Entry{stmt.ColBytes(0), stmt.ColInt(1), stmt.ColTime(2)};
  }

  Status Delete(std::string_view key) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(key));
    std::lock_guard lock(write_mu_);
    return InTransaction("delete", [&]() -> Status {
      for (const char* sql : {kDeleteEntry, kDeleteItems, kDeleteList}) {
        TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare(sql));
        TUNA_RETURN_IF_ERROR(stmt.Text(1, key).Run("delete"));
      }
      return RaiseVersionFloor();
    });
  }

  Result<std::size_t> DeletePrefix(std::string_view prefix) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(prefix, "prefix"));
    const auto now = clock_();
    const std::optional<std::string> end = internal::PrefixEnd(prefix);
    std::lock_guard lock(write_mu_);
    std::size_t removed = 0;
    TUNA_RETURN_IF_ERROR(InTransaction("delete prefix", [&]() -> Status {
      const PrefixSql& q = end ? kPrefixBounded : kPrefixOpen;
      {
        TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare(q.count));
        stmt.Text(1, prefix).Int(9, internal::ToMillis(now));
        if (end) stmt.Text(2, *end);
        TUNA_ASSIGN_OR_RETURN(bool row, stmt.Step("delete prefix"));
        if (row) removed = static_cast<std::size_t>(stmt.ColInt(0));
      }
      for (const char* sql : {q.entries, q.items, q.lists}) {
        TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare(sql));
        stmt.Text(1, prefix);
        if (end) stmt.Text(2, *end);
        TUNA_RETURN_IF_ERROR(stmt.Run("delete prefix"));
      }
      return RaiseVersionFloor();
    }));
    return removed;
  }

  Status Touch(std::string_view key, std::chrono::milliseconds ttl) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(key));
    TUNA_RETURN_IF_ERROR(internal::CheckTtl(ttl));
    const auto now = clock_();
    std::optional<std::int64_t> expires;
    if (auto e = internal::ExpiryFrom(now, ttl)) expires = internal::ToMillis(*e);
    std::lock_guard lock(write_mu_);
    int changed = 0;
    TUNA_RETURN_IF_ERROR(InTransaction("touch", [&]() -> Status {
      for (const char* sql : {kTouchEntry, kTouchList}) {
        TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare(sql));
        TUNA_RETURN_IF_ERROR(stmt.Text(1, key).OptInt(2, expires).Int(9, internal::ToMillis(now)).Run("touch"));
        changed += sqlite3_changes(writer_->db());
      }
      return {};
    }));
    if (changed == 0) return NotFound("session key \"" + std::string(key) + "\" not found");
    return {};
  }

  Result<ListPage> List(std::string_view prefix, std::string_view after, std::size_t limit) override {
    if (!prefix.empty()) TUNA_RETURN_IF_ERROR(internal::CheckKey(prefix, "prefix"));
    TUNA_RETURN_IF_ERROR(internal::CheckLimit(limit));
    const auto now = clock_();
    const std::optional<std::string> end = internal::PrefixEnd(prefix);
    const bool from_after = !after.empty() && after >= prefix;
    const char* sql = from_after ? (end ? kListGt : kListGtOpen) : (end ? kListGe : kListGeOpen);
    TUNA_ASSIGN_OR_RETURN(auto lease, Lease());
    TUNA_ASSIGN_OR_RETURN(Stmt stmt, lease.conn().Prepare(sql));
    stmt.Text(1, from_after ? after : prefix);
    if (end) stmt.Text(2, *end);
    // One extra row tells whether another page follows.
    stmt.Int(3, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX - 1)) + 1);
    stmt.Int(9, internal::ToMillis(now));
    ListPage page;
    while (true) {
      TUNA_ASSIGN_OR_RETURN(bool row, stmt.Step("list"));
      if (!row) break;
      if (page.entries.size() == limit) {
        page.next_after = page.entries.back().key;
        break;
      }
      page.entries.push_back(KeyedEntry{stmt.ColBytes(0), Entry{stmt.ColBytes(1), stmt.ColInt(2), stmt.ColTime(3)}});
    }
    return page;
  }

  Result<std::int64_t> Append(std::string_view list_key, std::string_view item, std::size_t max_items,
                              std::chrono::milliseconds ttl) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(list_key));
    TUNA_RETURN_IF_ERROR(internal::CheckValue(list_key, item));
    TUNA_RETURN_IF_ERROR(internal::CheckTtl(ttl));
    const std::int64_t now_ms = internal::ToMillis(clock_());
    std::lock_guard lock(write_mu_);
    std::int64_t seq = 0;
    TUNA_RETURN_IF_ERROR(InTransaction("append", [&]() -> Status {
      TUNA_ASSIGN_OR_RETURN(seq, AppendItem(list_key, item, max_items, ttl, now_ms));
      return Status::Ok();
    }));
    return seq;
  }

  Status Write(const std::vector<WriteOp>& ops) override {
    for (const auto& op : ops) {
      TUNA_RETURN_IF_ERROR(internal::CheckKey(op.key));
      TUNA_RETURN_IF_ERROR(internal::CheckValue(op.key, op.value));
      TUNA_RETURN_IF_ERROR(internal::CheckTtl(op.ttl));
    }
    if (ops.empty()) return Status::Ok();
    const auto now = clock_();
    std::lock_guard lock(write_mu_);
    return InTransaction("write", [&]() -> Status {
      for (const auto& op : ops) {
        if (op.kind == WriteOp::Kind::kPut) {
          TUNA_RETURN_IF_ERROR(WriteEntry(op.key, op.value, op.ttl, now).status());
        } else {
          TUNA_RETURN_IF_ERROR(AppendItem(op.key, op.value, op.max_items, op.ttl, internal::ToMillis(now)).status());
        }
      }
      return Status::Ok();
    });
  }

  Result<std::vector<std::pair<std::int64_t, std::string>>> Range(std::string_view list_key, std::int64_t after_seq,
                                                                  std::size_t limit) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(list_key));
    TUNA_RETURN_IF_ERROR(internal::CheckLimit(limit));
    if (after_seq < 0) return InvalidArgument("session list after_seq must not be negative");
    return ReadItems(kRange, list_key, after_seq, limit);
  }

  Result<std::vector<std::pair<std::int64_t, std::string>>> Tail(std::string_view list_key,
                                                                 std::size_t count) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(list_key));
    if (count == 0) return std::vector<std::pair<std::int64_t, std::string>>{};
    return ReadItems(kTail, list_key, 0, count);
  }

  Result<std::size_t> PurgeExpired() override {
    const std::int64_t now_ms = internal::ToMillis(clock_());
    std::lock_guard lock(write_mu_);
    std::size_t removed = 0;
    TUNA_RETURN_IF_ERROR(InTransaction("purge", [&]() -> Status {
      for (const char* sql : {kPurgeItems, kPurgeLists, kPurgeEntries}) {
        TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare(sql));
        TUNA_RETURN_IF_ERROR(stmt.Int(9, now_ms).Run("purge expired"));
        if (sql != kPurgeItems) removed += static_cast<std::size_t>(sqlite3_changes(writer_->db()));
      }
      return RaiseVersionFloor();
    }));
    return removed;
  }

  Result<std::size_t> Count() override {
    const auto now = clock_();
    TUNA_ASSIGN_OR_RETURN(auto lease, Lease());
    TUNA_ASSIGN_OR_RETURN(Stmt stmt, lease.conn().Prepare(kCount));
    TUNA_ASSIGN_OR_RETURN(bool row, stmt.Int(9, internal::ToMillis(now)).Step("count"));
    return row ? static_cast<std::size_t>(stmt.ColInt(0)) : 0;
  }

 private:
  // A reader borrowed from the pool for one call, returned on every path.
  class ReaderLease {
   public:
    ReaderLease(SqliteSessionStore* store, std::unique_ptr<Connection> conn) : store_(store), conn_(std::move(conn)) {}
    ReaderLease(ReaderLease&& other) noexcept : store_(other.store_), conn_(std::move(other.conn_)) {}
    ReaderLease& operator=(ReaderLease&&) = delete;
    ~ReaderLease() {
      if (conn_) store_->ReleaseReader(std::move(conn_));
    }
    Connection& conn() { return *conn_; }

   private:
    SqliteSessionStore* store_;
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
    TUNA_RETURN_IF_ERROR(conn->Open(path_, false));
    TUNA_RETURN_IF_ERROR(conn->Exec("PRAGMA query_only=1", "reader"));
    return conn;
  }

  void ReleaseReader(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(pool_mu_);
    if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(conn));
  }

  Result<ReaderLease> Lease() {
    TUNA_ASSIGN_OR_RETURN(auto conn, AcquireReader());
    return ReaderLease(this, std::move(conn));
  }

  static Result<std::int64_t> Scalar(Connection& conn, const char* sql) {
    TUNA_ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql));
    TUNA_ASSIGN_OR_RETURN(bool row, stmt.Step(sql));
    if (!row) return Internal(std::string(kErrorPrefix) + "no row from " + sql);
    return stmt.ColInt(0);
  }

  // Called with write_mu_ held. One autocommit statement.
  // One append's statements, inside the caller's transaction (write_mu_ held); returns the
  // item's sequence number.
  Result<std::int64_t> AppendItem(std::string_view list_key, std::string_view item, std::size_t max_items,
                                  std::chrono::milliseconds ttl, std::int64_t now_ms) {
    std::int64_t seq = 0;
    std::int64_t first_seq = 1, next_seq = 1;
    std::optional<std::int64_t> expires;
    {
      TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare(kGetList));
      TUNA_ASSIGN_OR_RETURN(bool row, stmt.Text(1, list_key).Step("append"));
      if (row) {
        first_seq = stmt.ColInt(0);
        next_seq = stmt.ColInt(1);
        if (!stmt.ColNull(2)) expires = stmt.ColInt(2);
      }
    }
    if (expires && *expires <= now_ms) {
      // Expired: the list is gone, this append starts a new one.
      TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare(kDeleteItems));
      TUNA_RETURN_IF_ERROR(stmt.Text(1, list_key).Run("append"));
      first_seq = next_seq = 1;
      expires.reset();
    }
    seq = next_seq++;
    {
      TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare(kInsertItem));
      TUNA_RETURN_IF_ERROR(stmt.Text(1, list_key).Int(2, seq).Blob(3, item).Run("append"));
    }
    if (max_items > 0 && next_seq - first_seq > static_cast<std::int64_t>(max_items)) {
      first_seq = next_seq - static_cast<std::int64_t>(max_items);
      TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare(kEvictItems));
      TUNA_RETURN_IF_ERROR(stmt.Text(1, list_key).Int(2, first_seq).Run("append"));
    }
    if (ttl.count() > 0) expires = now_ms + ttl.count();
    TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare(kUpsertList));
    TUNA_RETURN_IF_ERROR(stmt.Text(1, list_key).Int(2, first_seq).Int(3, next_seq).OptInt(4, expires).Run("append"));
    return seq;
  }

  Result<std::int64_t> WriteEntry(std::string_view key, std::string_view value, std::chrono::milliseconds ttl,
                                  Clock::time_point now) {
    const std::int64_t version = last_version_ + 1;
    std::optional<std::int64_t> expires;
    if (auto e = internal::ExpiryFrom(now, ttl)) expires = internal::ToMillis(*e);
    TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare(kUpsert));
    TUNA_RETURN_IF_ERROR(stmt.Text(1, key).Blob(2, value).Int(3, version).OptInt(4, expires).Run("put"));
    last_version_ = version;  // only a committed write uses up a version
    return version;
  }

  // Rows that carried the highest versions may go; the floor keeps versions growing after a
  // reopen. Called inside the deleting transaction.
  Status RaiseVersionFloor() {
    TUNA_ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare(kSetVersionFloor));
    return stmt.Int(1, last_version_).Run("version floor");
  }

  // Runs `fn` in BEGIN IMMEDIATE ... COMMIT on the writer (write_mu_ held); rolls back on error.
  template <typename Fn>
  Status InTransaction(std::string_view what, Fn&& fn) {
    TUNA_RETURN_IF_ERROR(writer_->Run(kBeginImmediate, what));
    Status s = fn();
    if (s.ok()) s = writer_->Run(kCommit, what);
    if (!s.ok()) {
      if (!sqlite3_get_autocommit(writer_->db())) {
        Status rb = writer_->Run(kRollback, what);
        if (!rb.ok()) spdlog::warn("SQLite session store {}: rollback: {}", path_, rb.message());
      }
      return s;
    }
    return {};
  }

  Result<std::vector<std::pair<std::int64_t, std::string>>> ReadItems(const char* sql, std::string_view key,
                                                                      std::int64_t after_seq, std::size_t limit) {
    const auto now = clock_();
    TUNA_ASSIGN_OR_RETURN(auto lease, Lease());
    TUNA_ASSIGN_OR_RETURN(Stmt stmt, lease.conn().Prepare(sql));
    stmt.Text(1, key).Int(2, after_seq);
    stmt.Int(3, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    stmt.Int(9, internal::ToMillis(now));
    std::vector<std::pair<std::int64_t, std::string>> out;
    while (true) {
      TUNA_ASSIGN_OR_RETURN(bool row, stmt.Step("read list"));
      if (!row) break;
      out.emplace_back(stmt.ColInt(0), stmt.ColBytes(1));
    }
    return out;
  }

  const SqliteSessionStoreOptions options_;
  const std::string path_;
  const std::function<Clock::time_point()> clock_;
  int lock_fd_ = -1;
  std::mutex write_mu_;
  std::unique_ptr<Connection> writer_;  // used under write_mu_ (and in Open)
  std::int64_t last_version_ = 0;       // guarded by write_mu_
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;
  std::unique_ptr<internal::PurgeThread> purger_;
};

}  // namespace

Result<SessionStorePtr> MakeSqliteSessionStore(SqliteSessionStoreOptions options) {
  if (options.path.empty()) return InvalidArgument("SQLite session store: path is required");
  if (options.purge_interval.count() < 0) return InvalidArgument("session purge_interval must not be negative");
  try {
    auto store = std::make_unique<SqliteSessionStore>(std::move(options));
    TUNA_RETURN_IF_ERROR(store->Open());
    return SessionStorePtr(std::move(store));
  } catch (const std::exception& e) {  // std::thread for the purge thread may throw
    return Internal(std::string(kErrorPrefix) + e.what());
  }
}

}  // namespace tuna::session
