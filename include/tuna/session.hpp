#pragma once
/// Sessions: the state the gateway keeps between requests (A2A tasks and contexts, MCP sessions,
/// agent memory) behind one small key-value interface with TTLs. Backends: memory (embedded,
/// fastest, lost on restart) and SQLite (durable, one file); Redis comes later for gateway
/// replicas. Typed layers (tuna/a2a task store, tuna/memory.hpp) are built on top of it.
///
/// Keys are opaque strings (1..1024 bytes, no NUL, byte order); callers prefix them
/// ("a2a/task/<ns>/<agent>/<id>") so one store can hold everything and List(prefix) stays
/// cheap. Values are opaque bytes (JSON by convention, up to 16 MiB). Every entry carries a
/// version that grows on each write, for compare-and-swap; versions come from one store-wide
/// counter, so a key deleted and written again never repeats an old version.
///
/// A key may hold a value (Put/Get/List), a list (Append/Range/Tail), or both; Delete,
/// DeletePrefix, Touch and expiry act on both. Bad input (empty or oversized key, negative ttl,
/// zero limit) is InvalidArgument. Design notes: docs/sessions.md.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tuna/status.hpp"

namespace tuna::session {

using Clock = std::chrono::system_clock;
/// No expiry.
inline constexpr std::chrono::milliseconds kNoTtl{0};

struct Entry {
  std::string value;
  std::int64_t version = 0;        // > 0; grows on every write of the key
  std::optional<Clock::time_point> expires_at;  // absent: never
};

struct KeyedEntry {
  std::string key;
  Entry entry;
};

/// A page of List(): entries in key order; `next_after` is the last key returned when more
/// remain (pass it as `after` for the next page), empty at the end.
struct ListPage {
  std::vector<KeyedEntry> entries;
  std::string next_after;
};

/// Thread-safe. Expired entries are invisible at once (Get is NotFound, List skips them) and
/// removed by PurgeExpired (backends also purge in the background). An entry expires when the
/// clock reaches `expires_at` (milliseconds).
class SessionStore {
 public:
  virtual ~SessionStore() = default;

  /// Creates or replaces `key`. `ttl` > 0: the entry expires that long after this write;
  /// kNoTtl: never (also clearing an earlier expiry). Returns the new version.
  virtual Result<std::int64_t> Put(std::string_view key, std::string_view value,
                                   std::chrono::milliseconds ttl = kNoTtl) = 0;
  /// Writes only if the entry's version is `expected_version` (0: only if absent or expired).
  /// FailedPrecondition when it is not. Returns the new version.
  virtual Result<std::int64_t> CompareAndSwap(std::string_view key, std::string_view value,
                                              std::int64_t expected_version,
                                              std::chrono::milliseconds ttl = kNoTtl) = 0;
  /// NotFound when absent or expired.
  virtual Result<Entry> Get(std::string_view key) = 0;
  /// Removes `key` (and its list, if it is one). Deleting a missing key is OK.
  virtual Status Delete(std::string_view key) = 0;
  /// Removes every key (and list) starting with `prefix` (non-empty); returns how many live
  /// keys went.
  virtual Result<std::size_t> DeletePrefix(std::string_view prefix) = 0;
  /// Pushes the expiry of `key` (its value and its list) to now + ttl (kNoTtl: never); the
  /// version does not change. NotFound when absent or expired.
  virtual Status Touch(std::string_view key, std::chrono::milliseconds ttl) = 0;
  /// Live keys starting with `prefix`, in key order, after `after` (exclusive), at most `limit`.
  virtual Result<ListPage> List(std::string_view prefix, std::string_view after = {},
                                std::size_t limit = 1000) = 0;

  /// Lists: an append-only sequence of items under a key (A2A task history, conversation
  /// memory). Appends `item`; when the list holds more than `max_items` (> 0), the oldest go.
  /// `ttl` > 0 sets the whole list's expiry to now + ttl. Returns the item's sequence number
  /// (1, 2, ... per list; never reused, also after evictions; a deleted or expired list is
  /// gone, and the next Append starts a new one at 1).
  virtual Result<std::int64_t> Append(std::string_view list_key, std::string_view item,
                                      std::size_t max_items = 0,
                                      std::chrono::milliseconds ttl = kNoTtl) = 0;
  /// Items with sequence number > `after_seq`, oldest first, at most `limit`. An absent or
  /// expired list is empty (not an error).
  virtual Result<std::vector<std::pair<std::int64_t, std::string>>> Range(
      std::string_view list_key, std::int64_t after_seq = 0, std::size_t limit = 1000) = 0;
  /// The newest `count` items, oldest first.
  virtual Result<std::vector<std::pair<std::int64_t, std::string>>> Tail(std::string_view list_key,
                                                                        std::size_t count) = 0;

  /// Removes expired entries and lists now; returns how many went (values plus lists).
  virtual Result<std::size_t> PurgeExpired() = 0;
  /// Live keys (a key with a value and a list counts once; list items do not count); for
  /// metrics and tests.
  virtual Result<std::size_t> Count() = 0;

  /// One write of a batch (Write).
  struct WriteOp {
    enum class Kind { kPut, kAppend };
    Kind kind = Kind::kPut;
    std::string key;
    std::string value;                 // kPut: the value; kAppend: the item
    std::chrono::milliseconds ttl{0};  // as for Put and Append
    std::size_t max_items = 0;         // kAppend
  };
  /// Applies `ops` in order and stops at the first failure. The SQLite backend does it in one
  /// transaction (all or nothing, one commit for several writes); the default does one after the
  /// other.
  virtual Status Write(const std::vector<WriteOp>& ops);
};
using SessionStorePtr = std::unique_ptr<SessionStore>;

struct MemorySessionStoreOptions {
  /// Background purge period; zero: only on PurgeExpired() (and lazily on access).
  std::chrono::milliseconds purge_interval{std::chrono::seconds(30)};
  /// A bound on memory: at most about this many keys (values and lists; spread over 16 shards,
  /// each holding its share). A new key beyond it evicts the oldest keys (by creation), as if they
  /// had expired. 0: unbounded.
  std::size_t max_keys = 0;
  /// The clock; tests inject their own. Null: Clock::now.
  std::function<Clock::time_point()> clock;
};
Result<SessionStorePtr> MakeMemorySessionStore(MemorySessionStoreOptions options = {});

struct SqliteSessionStoreOptions {
  std::filesystem::path path;  // the database file (created with its directory)
  /// One store per file (an exclusive lock on "<path>.lock"; a second open is
  /// FailedPrecondition). false: synchronous=NORMAL (sessions survive a crash of the process, not of the machine);
  /// true: synchronous=FULL.
  bool durable = false;
  std::chrono::milliseconds purge_interval{std::chrono::seconds(30)};
  std::function<Clock::time_point()> clock;
};
Result<SessionStorePtr> MakeSqliteSessionStore(SqliteSessionStoreOptions options);

}  // namespace tuna::session
