// SessionStore throughput and latency (memory and SQLite backends) against raw SQLite doing the
// same single-row work with the same schema and pragmas, in the same run. The PERFORMANCE.md
// target: create and enqueue p99 < 1 ms at >= 50,000/s embedded. Put of a new key is "create",
// Append to a list is "enqueue". p50/p99 are per-operation latencies measured in the loop.
//
//   ./build/benchmarks/session_bench --benchmark_min_time=0.2 --benchmark_repetitions=3
//     --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
//     --benchmark_out=benchmarks/results/session.json --benchmark_out_format=json

#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "tuna/session.hpp"

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tuna-bench-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// An A2A task as the gateway stores it (about 400 bytes).
const std::string& TaskJson() {
  static const std::string json =
      R"({"id":"9f0c3a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b","contextId":"c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f",)"
      R"("kind":"task","status":{"state":"working","timestamp":"2026-11-26T12:00:00.000Z",)"
      R"("message":{"role":"agent","parts":[{"kind":"text","text":"Looking that up for you now."}],)"
      R"("messageId":"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}},"metadata":{"agent":"echo","namespace":"default",)"
      R"("stage":"production","revision":"r42","requestId":"req-0123456789abcdef"}})";
  return json;
}

class Latencies {
 public:
  Latencies() { ns_.reserve(1 << 20); }
  void Add(SteadyClock::duration d) { ns_.push_back(std::chrono::duration<double, std::nano>(d).count()); }
  void Report(benchmark::State& state) {
    if (ns_.empty()) return;
    std::sort(ns_.begin(), ns_.end());
    auto pct = [&](double p) { return ns_[std::min(ns_.size() - 1, static_cast<std::size_t>(p * ns_.size()))] / 1000.0; };
    state.counters["p50_us"] = pct(0.50);
    state.counters["p99_us"] = pct(0.99);
  }

 private:
  std::vector<double> ns_;
};

enum Backend : int { kMemory = 0, kSqlite = 1, kSqliteDurable = 2 };

const char* Label(int backend) {
  return backend == kMemory ? "memory" : backend == kSqlite ? "sqlite WAL+NORMAL" : "sqlite WAL+FULL";
}

tuna::session::SessionStorePtr Open(int backend, const TempDir& dir) {
  if (backend == kMemory) {
    auto s = tuna::session::MakeMemorySessionStore();
    return s.ok() ? std::move(*s) : nullptr;
  }
  tuna::session::SqliteSessionStoreOptions o;
  o.path = dir.File("sessions.db");
  o.durable = backend == kSqliteDurable;
  auto s = tuna::session::MakeSqliteSessionStore(o);
  return s.ok() ? std::move(*s) : nullptr;
}

std::string TaskKey(std::int64_t i) { return "a2a/task/default/echo/" + std::to_string(i); }

// --- SessionStore ---------------------------------------------------------------------------------

void BM_SessionPut(benchmark::State& state) {
  TempDir dir;
  auto store = Open(static_cast<int>(state.range(0)), dir);
  if (!store) return state.SkipWithError("open failed");
  Latencies lat;
  std::int64_t i = 0;
  for (auto _ : state) {
    const std::string key = TaskKey(i++);
    auto t0 = SteadyClock::now();
    auto v = store->Put(key, TaskJson(), 1h);
    lat.Add(SteadyClock::now() - t0);
    if (!v.ok()) return state.SkipWithError(v.status().message().c_str());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(Label(static_cast<int>(state.range(0))));
  lat.Report(state);
}
BENCHMARK(BM_SessionPut)->Arg(kMemory)->Arg(kSqlite)->Arg(kSqliteDurable)->UseRealTime();

void BM_SessionCompareAndSwap(benchmark::State& state) {
  TempDir dir;
  auto store = Open(static_cast<int>(state.range(0)), dir);
  if (!store) return state.SkipWithError("open failed");
  constexpr int kKeys = 1000;
  std::vector<std::int64_t> versions(kKeys);
  for (int k = 0; k < kKeys; ++k) versions[k] = *store->Put(TaskKey(k), TaskJson(), 1h);
  Latencies lat;
  int k = 0;
  for (auto _ : state) {
    const std::string key = TaskKey(k);
    auto t0 = SteadyClock::now();
    auto v = store->CompareAndSwap(key, TaskJson(), versions[k], 1h);
    lat.Add(SteadyClock::now() - t0);
    if (!v.ok()) return state.SkipWithError(v.status().message().c_str());
    versions[k] = *v;
    k = (k + 1) % kKeys;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(Label(static_cast<int>(state.range(0))));
  lat.Report(state);
}
BENCHMARK(BM_SessionCompareAndSwap)->Arg(kMemory)->Arg(kSqlite)->UseRealTime();

void BM_SessionGet(benchmark::State& state) {
  TempDir dir;
  auto store = Open(static_cast<int>(state.range(0)), dir);
  if (!store) return state.SkipWithError("open failed");
  constexpr int kKeys = 10000;
  for (int k = 0; k < kKeys; ++k) (void)store->Put(TaskKey(k), TaskJson(), 1h);
  std::mt19937 rng(42);
  Latencies lat;
  for (auto _ : state) {
    const std::string key = TaskKey(static_cast<std::int64_t>(rng() % kKeys));
    auto t0 = SteadyClock::now();
    auto e = store->Get(key);
    lat.Add(SteadyClock::now() - t0);
    if (!e.ok()) return state.SkipWithError(e.status().message().c_str());
    benchmark::DoNotOptimize(e->value.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(Label(static_cast<int>(state.range(0))));
  lat.Report(state);
}
BENCHMARK(BM_SessionGet)->Arg(kMemory)->Arg(kSqlite)->UseRealTime();

// Enqueue: appends to 100 lists in turn (bounded at 1,000 items each, as task histories are).
void BM_SessionAppend(benchmark::State& state) {
  TempDir dir;
  auto store = Open(static_cast<int>(state.range(0)), dir);
  if (!store) return state.SkipWithError("open failed");
  constexpr int kLists = 100;
  std::vector<std::string> keys;
  for (int l = 0; l < kLists; ++l) keys.push_back("a2a/history/default/echo/" + std::to_string(l));
  Latencies lat;
  int l = 0;
  for (auto _ : state) {
    auto t0 = SteadyClock::now();
    auto s = store->Append(keys[l], TaskJson(), 1000, 1h);
    lat.Add(SteadyClock::now() - t0);
    if (!s.ok()) return state.SkipWithError(s.status().message().c_str());
    l = (l + 1) % kLists;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(Label(static_cast<int>(state.range(0))));
  lat.Report(state);
}
BENCHMARK(BM_SessionAppend)->Arg(kMemory)->Arg(kSqlite)->Arg(kSqliteDurable)->UseRealTime();

// Two threads writing different keys at once (the gateway's request threads).
void BM_SessionPutTwoThreads(benchmark::State& state) {
  static TempDir* dir = nullptr;
  static tuna::session::SessionStorePtr store;
  if (state.thread_index() == 0) {
    dir = new TempDir();
    store = Open(static_cast<int>(state.range(0)), *dir);
  }
  // Google Benchmark starts every thread's timed loop together, after the setup above.
  Latencies lat;
  std::int64_t i = 0;
  const std::string prefix = "t" + std::to_string(state.thread_index()) + "/";
  for (auto _ : state) {
    const std::string key = prefix + std::to_string(i++);
    auto t0 = SteadyClock::now();
    auto v = store->Put(key, TaskJson(), 1h);
    lat.Add(SteadyClock::now() - t0);
    if (!v.ok()) {
      state.SkipWithError(v.status().message().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(Label(static_cast<int>(state.range(0))));
  lat.Report(state);
  if (state.thread_index() == 0) {
    store.reset();
    delete dir;
    dir = nullptr;
  }
}
BENCHMARK(BM_SessionPutTwoThreads)->Arg(kMemory)->Arg(kSqlite)->Threads(2)->UseRealTime();

// --- raw SQLite baseline: the same schema, pragmas and statements, no SessionStore ---------------

struct RawDb {
  sqlite3* db = nullptr;
  RawDb(const std::string& path, bool full) {
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                 nullptr, nullptr, nullptr);
    sqlite3_exec(db,
                 "CREATE TABLE entries (key TEXT PRIMARY KEY, value BLOB NOT NULL, version INTEGER NOT NULL,"
                 " expires_at INTEGER) WITHOUT ROWID;"
                 "CREATE INDEX entries_expires_at ON entries (expires_at) WHERE expires_at IS NOT NULL;"
                 "CREATE TABLE lists (key TEXT PRIMARY KEY, first_seq INTEGER NOT NULL, next_seq INTEGER NOT NULL,"
                 " expires_at INTEGER) WITHOUT ROWID;"
                 "CREATE TABLE list_items (key TEXT NOT NULL, seq INTEGER NOT NULL, item BLOB NOT NULL,"
                 " PRIMARY KEY (key, seq)) WITHOUT ROWID;",
                 nullptr, nullptr, nullptr);
  }
  ~RawDb() { sqlite3_close(db); }
  sqlite3_stmt* Prepare(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    return stmt;
  }
};

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void BM_RawSqlitePut(benchmark::State& state) {
  TempDir dir;
  RawDb raw(dir.File("raw.db"), state.range(0) == kSqliteDurable);
  sqlite3_stmt* stmt = raw.Prepare(
      "INSERT INTO entries (key, value, version, expires_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO UPDATE SET "
      "value = excluded.value, version = excluded.version, expires_at = excluded.expires_at");
  Latencies lat;
  std::int64_t i = 0;
  for (auto _ : state) {
    const std::string key = TaskKey(i);
    auto t0 = SteadyClock::now();
    sqlite3_bind_text(stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_blob(stmt, 2, TaskJson().data(), static_cast<int>(TaskJson().size()), SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, ++i);
    sqlite3_bind_int64(stmt, 4, NowMs() + 3600000);
    if (sqlite3_step(stmt) != SQLITE_DONE) state.SkipWithError(sqlite3_errmsg(raw.db));
    sqlite3_reset(stmt);
    lat.Add(SteadyClock::now() - t0);
  }
  sqlite3_finalize(stmt);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string("raw ") + Label(static_cast<int>(state.range(0))));
  lat.Report(state);
}
BENCHMARK(BM_RawSqlitePut)->Arg(kSqlite)->Arg(kSqliteDurable)->UseRealTime();

void BM_RawSqliteGet(benchmark::State& state) {
  TempDir dir;
  RawDb raw(dir.File("raw.db"), false);
  constexpr int kKeys = 10000;
  sqlite3_exec(raw.db, "BEGIN", nullptr, nullptr, nullptr);
  sqlite3_stmt* ins = raw.Prepare("INSERT INTO entries VALUES (?1, ?2, 1, ?3)");
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = TaskKey(k);
    sqlite3_bind_text(ins, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_blob(ins, 2, TaskJson().data(), static_cast<int>(TaskJson().size()), SQLITE_STATIC);
    sqlite3_bind_int64(ins, 3, NowMs() + 3600000);
    sqlite3_step(ins);
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  sqlite3_exec(raw.db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_stmt* stmt = raw.Prepare(
      "SELECT value, version, expires_at FROM entries WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)");
  std::mt19937 rng(42);
  Latencies lat;
  for (auto _ : state) {
    const std::string key = TaskKey(static_cast<std::int64_t>(rng() % kKeys));
    auto t0 = SteadyClock::now();
    sqlite3_bind_text(stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, NowMs());
    if (sqlite3_step(stmt) != SQLITE_ROW) state.SkipWithError("raw get: no row");
    std::string value(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                      static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0)));
    benchmark::DoNotOptimize(value.data());
    sqlite3_reset(stmt);
    lat.Add(SteadyClock::now() - t0);
  }
  sqlite3_finalize(stmt);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("raw sqlite");
  lat.Report(state);
}
BENCHMARK(BM_RawSqliteGet)->UseRealTime();

// The raw form of Append: one transaction reading the list row, inserting the item, trimming
// and updating the list row.
void BM_RawSqliteAppend(benchmark::State& state) {
  TempDir dir;
  RawDb raw(dir.File("raw.db"), state.range(0) == kSqliteDurable);
  sqlite3_stmt* begin = raw.Prepare("BEGIN IMMEDIATE");
  sqlite3_stmt* commit = raw.Prepare("COMMIT");
  sqlite3_stmt* get = raw.Prepare("SELECT first_seq, next_seq FROM lists WHERE key = ?1");
  sqlite3_stmt* ins = raw.Prepare("INSERT INTO list_items (key, seq, item) VALUES (?1, ?2, ?3)");
  sqlite3_stmt* trim = raw.Prepare("DELETE FROM list_items WHERE key = ?1 AND seq < ?2");
  sqlite3_stmt* upd = raw.Prepare(
      "INSERT INTO lists (key, first_seq, next_seq, expires_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO UPDATE "
      "SET first_seq = excluded.first_seq, next_seq = excluded.next_seq, expires_at = excluded.expires_at");
  constexpr int kLists = 100;
  std::vector<std::string> keys;
  for (int l = 0; l < kLists; ++l) keys.push_back("a2a/history/default/echo/" + std::to_string(l));
  Latencies lat;
  int l = 0;
  for (auto _ : state) {
    const std::string& key = keys[l];
    auto t0 = SteadyClock::now();
    sqlite3_step(begin);
    sqlite3_reset(begin);
    std::int64_t first = 1, next = 1;
    sqlite3_bind_text(get, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    if (sqlite3_step(get) == SQLITE_ROW) {
      first = sqlite3_column_int64(get, 0);
      next = sqlite3_column_int64(get, 1);
    }
    sqlite3_reset(get);
    const std::int64_t seq = next++;
    sqlite3_bind_text(ins, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_int64(ins, 2, seq);
    sqlite3_bind_blob(ins, 3, TaskJson().data(), static_cast<int>(TaskJson().size()), SQLITE_STATIC);
    if (sqlite3_step(ins) != SQLITE_DONE) state.SkipWithError(sqlite3_errmsg(raw.db));
    sqlite3_reset(ins);
    if (next - first > 1000) {
      first = next - 1000;
      sqlite3_bind_text(trim, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
      sqlite3_bind_int64(trim, 2, first);
      sqlite3_step(trim);
      sqlite3_reset(trim);
    }
    sqlite3_bind_text(upd, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_int64(upd, 2, first);
    sqlite3_bind_int64(upd, 3, next);
    sqlite3_bind_int64(upd, 4, NowMs() + 3600000);
    sqlite3_step(upd);
    sqlite3_reset(upd);
    if (sqlite3_step(commit) != SQLITE_DONE) state.SkipWithError(sqlite3_errmsg(raw.db));
    sqlite3_reset(commit);
    lat.Add(SteadyClock::now() - t0);
    l = (l + 1) % kLists;
  }
  for (sqlite3_stmt* s : {begin, commit, get, ins, trim, upd}) sqlite3_finalize(s);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string("raw ") + Label(static_cast<int>(state.range(0))));
  lat.Report(state);
}
BENCHMARK(BM_RawSqliteAppend)->Arg(kSqlite)->Arg(kSqliteDurable)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
