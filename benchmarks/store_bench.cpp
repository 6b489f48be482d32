// Store throughput and latency, memory and SQLite backends, against the baseline that matters:
// raw SQLite doing the same durable single-row write (WAL + synchronous=FULL, same JSON payload,
// same table layout) in the same run. Latency percentiles are reported as counters (p50_us,
// p99_us) because the mean hides fsync outliers.
//
//   ./build/benchmarks/store_bench --benchmark_min_time=0.3 --benchmark_out=store.json

#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tuna/resources/codec.hpp"
#include "tuna/store.hpp"

namespace {

using tuna::Resource;
using Clock = std::chrono::steady_clock;

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

// A typical AgentDeployment (about 700 bytes of JSON once stored).
Resource SampleObject(const std::string& name, int counter = 0) {
  Resource r;
  r.kind = "AgentDeployment";
  r.metadata.namespace_ = "default";
  r.metadata.name = name;
  r.metadata.labels = {{"app", name}, {"team", "agents"}, {"tier", "backend"}};
  r.metadata.annotations = {{"tuna.ai/description", std::string(160, 'd')}};
  r.spec = boost::json::object{
      {"environmentName", "python3.11"},
      {"source", {{"repo", "http://tuna.local/git/agents/" + name + ".git"}, {"ref", "refs/heads/main"},
                  {"commit", "0123456789abcdef0123456789abcdef01234567"}}},
      {"stages", {{"staging", {{"revision", "r" + std::to_string(counter)}}}, {"production", {{"revision", "r0"}}}}},
      {"rollout", {{"canaryPercent", counter % 100}}},
      {"entrypoint", "agent.py:main"},
      {"env", {{"LOG_LEVEL", "info"}, {"MODEL", "small"}}},
  };
  return r;
}

// Per-operation latencies -> p50/p99 counters.
class Latencies {
 public:
  void Add(Clock::duration d) { ns_.push_back(std::chrono::duration<double, std::nano>(d).count()); }
  void Report(benchmark::State& state, const std::string& prefix = "") {
    if (ns_.empty()) return;
    std::sort(ns_.begin(), ns_.end());
    auto pct = [&](double p) { return ns_[std::min(ns_.size() - 1, static_cast<std::size_t>(p * ns_.size()))] / 1000.0; };
    state.counters[prefix + "p50_us"] = pct(0.50);
    state.counters[prefix + "p99_us"] = pct(0.99);
  }

 private:
  std::vector<double> ns_;
};

// kSqliteNormal (synchronous=NORMAL: durable against process crashes, not power loss) isolates
// the CPU cost of the store from the fsync cost that dominates kSqlite on most disks.
enum Backend : int { kMemory = 0, kSqlite = 1, kSqliteNormal = 2 };

// `durable` false only for read benchmarks, whose thousand setup writes would otherwise take
// seconds of fsync per run; reads are unaffected by the synchronous setting.
tuna::StorePtr OpenStore(int backend, const TempDir& dir, bool durable = true) {
  if (backend == kMemory) return tuna::MakeMemoryStore();
  durable = durable && backend == kSqlite;
  auto s = tuna::MakeSqliteStore({.path = dir.File("store.db"), .synchronous_full = durable});
  if (!s.ok()) return nullptr;
  return std::move(*s);
}

void SetLabel(benchmark::State& state, int backend) {
  state.SetLabel(backend == kMemory ? "memory" : backend == kSqlite ? "sqlite WAL+FULL" : "sqlite WAL+NORMAL");
}

// --- raw SQLite baseline ---------------------------------------------------------------------------

struct RawDb {
  sqlite3* db = nullptr;
  RawDb(const std::string& path, bool full) {
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                 nullptr, nullptr, nullptr);
    sqlite3_exec(db,
                 "CREATE TABLE objects (kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,"
                 " uid TEXT NOT NULL, revision INTEGER NOT NULL, json TEXT NOT NULL,"
                 " PRIMARY KEY (kind, namespace, name));",
                 nullptr, nullptr, nullptr);
  }
  ~RawDb() { sqlite3_close(db); }
};

void BM_RawSqliteInsert(benchmark::State& state) {
  TempDir dir;
  const bool full = state.range(0) == kSqlite;
  RawDb raw(dir.File("raw.db"), full);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(raw.db, "INSERT INTO objects VALUES ('AgentDeployment', 'default', ?1, ?2, ?3, ?4)", -1, &stmt,
                     nullptr);
  Latencies lat;
  std::int64_t i = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    std::string name = "obj-" + std::to_string(i);
    std::string json = tuna::EncodeJson(SampleObject(name));  // payload prepared outside SQLite, as a client would
    sqlite3_bind_text(stmt, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, "00000000-0000-4000-8000-000000000000", -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, ++i);
    sqlite3_bind_text(stmt, 4, json.c_str(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(stmt) != SQLITE_DONE) state.SkipWithError(sqlite3_errmsg(raw.db));
    sqlite3_reset(stmt);
    lat.Add(Clock::now() - t0);
  }
  sqlite3_finalize(stmt);
  lat.Report(state);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(full ? "raw sqlite WAL+FULL" : "raw sqlite WAL+NORMAL");
}
BENCHMARK(BM_RawSqliteInsert)->Arg(kSqlite)->Arg(kSqliteNormal)->UseRealTime();

void BM_RawSqliteUpdate(benchmark::State& state) {
  TempDir dir;
  const bool full = state.range(0) == kSqlite;
  RawDb raw(dir.File("raw.db"), full);
  sqlite3_exec(raw.db, "INSERT INTO objects VALUES ('AgentDeployment', 'default', 'echo', 'u', 1, '{}')", nullptr,
               nullptr, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(raw.db,
                     "UPDATE objects SET revision = ?1, json = ?2 WHERE kind = 'AgentDeployment' AND "
                     "namespace = 'default' AND name = 'echo'",
                     -1, &stmt, nullptr);
  Latencies lat;
  std::int64_t i = 1;
  for (auto _ : state) {
    auto t0 = Clock::now();
    std::string json = tuna::EncodeJson(SampleObject("echo", static_cast<int>(i)));
    sqlite3_bind_int64(stmt, 1, ++i);
    sqlite3_bind_text(stmt, 2, json.c_str(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(stmt) != SQLITE_DONE) state.SkipWithError(sqlite3_errmsg(raw.db));
    sqlite3_reset(stmt);
    lat.Add(Clock::now() - t0);
  }
  sqlite3_finalize(stmt);
  lat.Report(state);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(full ? "raw sqlite WAL+FULL" : "raw sqlite WAL+NORMAL");
}
BENCHMARK(BM_RawSqliteUpdate)->Arg(kSqlite)->Arg(kSqliteNormal)->UseRealTime();

// --- Store API ---------------------------------------------------------------------------------

void BM_StoreCreate(benchmark::State& state) {
  const int backend = static_cast<int>(state.range(0));
  TempDir dir;
  auto store = OpenStore(backend, dir);
  if (!store) return state.SkipWithError("open failed");
  Latencies lat;
  std::int64_t i = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    auto r = store->Create(SampleObject("obj-" + std::to_string(i++)));
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    lat.Add(Clock::now() - t0);
  }
  lat.Report(state);
  state.SetItemsProcessed(state.iterations());
  SetLabel(state, backend);
}
BENCHMARK(BM_StoreCreate)->Arg(kMemory)->Arg(kSqlite)->Arg(kSqliteNormal)->UseRealTime();

void BM_StoreUpdate(benchmark::State& state) {
  const int backend = static_cast<int>(state.range(0));
  TempDir dir;
  auto store = OpenStore(backend, dir);
  if (!store) return state.SkipWithError("open failed");
  auto current = store->Create(SampleObject("echo"));
  if (!current.ok()) return state.SkipWithError("create failed");
  Resource obj = *current;
  Latencies lat;
  int i = 1;
  for (auto _ : state) {
    auto t0 = Clock::now();
    Resource next = SampleObject("echo", i++);
    next.metadata.resource_version = obj.metadata.resource_version;  // optimistic concurrency on
    auto r = store->Update(std::move(next));
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
    obj = std::move(*r);
    lat.Add(Clock::now() - t0);
  }
  lat.Report(state);
  state.SetItemsProcessed(state.iterations());
  SetLabel(state, backend);
}
BENCHMARK(BM_StoreUpdate)->Arg(kMemory)->Arg(kSqlite)->Arg(kSqliteNormal)->UseRealTime();

void BM_StoreGet(benchmark::State& state) {
  const int backend = static_cast<int>(state.range(0));
  TempDir dir;
  auto store = OpenStore(backend, dir, /*durable=*/false);
  if (!store) return state.SkipWithError("open failed");
  for (int i = 0; i < 1000; ++i) (void)store->Create(SampleObject("obj-" + std::to_string(i)));
  Latencies lat;
  int i = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    auto r = store->Get({"AgentDeployment", "default", "obj-" + std::to_string(i++ % 1000)});
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    benchmark::DoNotOptimize(r);
    lat.Add(Clock::now() - t0);
  }
  lat.Report(state);
  state.SetItemsProcessed(state.iterations());
  SetLabel(state, backend);
}
BENCHMARK(BM_StoreGet)->Arg(kMemory)->Arg(kSqlite)->UseRealTime();

// Get while another thread writes durably in a loop: readers use their own WAL connections and
// must not queue behind the writer's fsync.
void BM_StoreGetDuringWrites(benchmark::State& state) {
  const int backend = static_cast<int>(state.range(0));
  TempDir dir;
  auto store = OpenStore(backend, dir);
  if (!store) return state.SkipWithError("open failed");
  for (int i = 0; i < 100; ++i) (void)store->Create(SampleObject("obj-" + std::to_string(i)));
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; !done.load(); ++i) {
      Resource next = SampleObject("obj-" + std::to_string(i % 100), i);
      (void)store->Update(std::move(next));
    }
  });
  Latencies lat;
  int i = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    auto r = store->Get({"AgentDeployment", "default", "obj-" + std::to_string(i++ % 100)});
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    benchmark::DoNotOptimize(r);
    lat.Add(Clock::now() - t0);
  }
  done = true;
  writer.join();
  lat.Report(state);
  state.SetItemsProcessed(state.iterations());
  SetLabel(state, backend);
}
BENCHMARK(BM_StoreGetDuringWrites)->Arg(kSqlite)->UseRealTime();

// One page of 100 objects out of 1000 (items/s counts objects returned).
void BM_StoreListPage(benchmark::State& state) {
  const int backend = static_cast<int>(state.range(0));
  TempDir dir;
  auto store = OpenStore(backend, dir, /*durable=*/false);
  if (!store) return state.SkipWithError("open failed");
  for (int i = 0; i < 1000; ++i) (void)store->Create(SampleObject("obj-" + std::to_string(i)));
  Latencies lat;
  std::string token;
  for (auto _ : state) {
    auto t0 = Clock::now();
    auto r = store->List({.kind = "AgentDeployment", .namespace_ = "default", .limit = 100, .continue_token = token});
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
    token = r->continue_token;
    lat.Add(Clock::now() - t0);
  }
  lat.Report(state);
  state.SetItemsProcessed(state.iterations() * 100);
  SetLabel(state, backend);
}
BENCHMARK(BM_StoreListPage)->Arg(kMemory)->Arg(kSqlite)->UseRealTime();

// Writer updates while `watchers` consumers, each on its own thread blocked in Next(), receive
// every event. Latency: from just before Update() to the last watcher holding the event.
void BM_WatchDelivery(benchmark::State& state) {
  const int backend = static_cast<int>(state.range(0));
  const int watchers = static_cast<int>(state.range(1));
  TempDir dir;
  auto store = OpenStore(backend, dir);
  if (!store) return state.SkipWithError("open failed");
  auto current = store->Create(SampleObject("echo"));
  if (!current.ok()) return state.SkipWithError("create failed");

  std::atomic<std::int64_t> sent_at_ns{0};
  std::atomic<int> received{0};
  std::atomic<std::int64_t> last_received_ns{0};
  std::atomic<bool> done{false};
  std::vector<tuna::WatchPtr> watches;
  std::vector<std::thread> consumers;
  for (int w = 0; w < watchers; ++w) {
    auto watch = store->Watch({.kind = "AgentDeployment", .send_initial_events = false});
    if (!watch.ok()) return state.SkipWithError("watch failed");
    watches.push_back(std::move(*watch));
    consumers.emplace_back([&, watch = watches.back().get()] {
      while (!done.load()) {
        auto e = watch->Next(std::chrono::milliseconds(100));
        if (!e) continue;
        std::int64_t now = Clock::now().time_since_epoch().count();
        std::int64_t prev = last_received_ns.load();
        while (prev < now && !last_received_ns.compare_exchange_weak(prev, now)) {
        }
        received.fetch_add(1);
      }
    });
  }
  Latencies lat, deliver;
  int i = 1;
  for (auto _ : state) {
    received = 0;
    auto t0 = Clock::now();
    sent_at_ns = t0.time_since_epoch().count();
    Resource next = *current;
    next.spec = SampleObject("echo", i++).spec;
    auto r = store->Update(std::move(next));
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
    const std::int64_t returned_ns = Clock::now().time_since_epoch().count();
    *current = std::move(*r);
    while (received.load() < watchers) std::this_thread::yield();
    lat.Add(Clock::duration(last_received_ns.load() - sent_at_ns.load()));
    // Events are queued before Update returns, so this can be 0: it is the fan-out cost alone.
    deliver.Add(Clock::duration(std::max<std::int64_t>(0, last_received_ns.load() - returned_ns)));
  }
  done = true;
  for (auto& t : consumers) t.join();
  lat.Report(state);
  deliver.Report(state, "deliver_");
  state.SetItemsProcessed(state.iterations() * watchers);  // events delivered
  SetLabel(state, backend);
}
BENCHMARK(BM_WatchDelivery)->Args({kMemory, 1})->Args({kMemory, 16})->Args({kSqlite, 1})->Args({kSqlite, 16})->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
