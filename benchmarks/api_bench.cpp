// REST API throughput and latency over real HTTP: several keep-alive connections creating
// objects against a tuna::Server on a memory store and on a SQLite store, with a GET of one
// object as the baseline measured in the same run. Writes JSON to benchmarks/results/api.json
// (or --out PATH) and prints a markdown table.
//
//   ./build/api_bench [--connections 4] [--requests 2000] [--runs 3] [--out FILE] [--no-pin]
//
// With 2+ CPUs the server's threads are pinned to CPU 1 and the load generator to CPU 0
// (docs: /work/shared/design/PERFORMANCE.md), so every row gets the same server budget.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "tuna/server.hpp"
#include "tuna/store.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr char kToken[] = "bench-token";
const std::string kBase = "/apis/tuna.ai/v1alpha1/namespaces/bench/agentmemories";

// A minimal blocking keep-alive client: enough for Content-Length responses.
class Conn {
 public:
  explicit Conn(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::perror("connect");
      std::exit(1);
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Conn() { ::close(fd_); }

  // Returns the HTTP status (0 on a transport failure).
  int Call(const std::string& method, const std::string& path, const std::string& body) {
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer " + kToken +
                      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\n\r\n" + body;
    for (std::size_t off = 0; off < req.size();) {
      ssize_t n = ::send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return 0;
      off += static_cast<std::size_t>(n);
    }
    std::size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return 0;
    }
    int status = std::atoi(buf_.c_str() + 9);
    std::size_t length = 0;
    std::string head = buf_.substr(0, head_end);
    for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto p = head.find("content-length:"); p != std::string::npos) length = std::strtoul(head.c_str() + p + 15, nullptr, 10);
    while (buf_.size() < head_end + 4 + length) {
      if (!Fill()) return 0;
    }
    buf_.erase(0, head_end + 4 + length);
    return status;
  }

 private:
  bool Fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buf_;
};

std::string Memory(const std::string& name) {
  return "{\"apiVersion\":\"tuna.ai/v1alpha1\",\"kind\":\"AgentMemory\",\"metadata\":{\"name\":\"" + name +
         "\",\"labels\":{\"bench\":\"api\"}},\"spec\":{\"type\":\"conversation\",\"maxEntries\":100}}";
}

void PinSelf(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

struct Sample {
  double seconds = 0;
  std::size_t requests = 0;
  std::size_t errors = 0;
  std::vector<double> latencies_us;
};

// `connections` threads, each with its own keep-alive connection, `per_conn` requests each.
Sample Load(std::uint16_t port, int connections, int per_conn, bool pin, const std::string& run_tag, bool create) {
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(connections));
  std::atomic<std::size_t> errors{0};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      if (pin) PinSelf(0);
      Conn conn(port);
      auto& mine = lat[static_cast<std::size_t>(c)];
      mine.reserve(static_cast<std::size_t>(per_conn));
      ++ready;
      while (!go) std::this_thread::yield();
      for (int i = 0; i < per_conn; ++i) {
        auto t0 = Clock::now();
        int status = create ? conn.Call("POST", kBase, Memory(run_tag + "-" + std::to_string(c) + "-" + std::to_string(i)))
                            : conn.Call("GET", kBase + "/probe", "");
        auto t1 = Clock::now();
        if (status != (create ? 201 : 200)) ++errors;
        mine.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
    });
  }
  while (ready < connections) std::this_thread::yield();
  auto start = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  Sample s;
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  s.errors = errors;
  for (auto& l : lat) s.latencies_us.insert(s.latencies_us.end(), l.begin(), l.end());
  s.requests = s.latencies_us.size();
  return s;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[idx];
}

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

struct Row {
  std::string store, op;
  std::vector<double> rps, p50, p99;
  std::size_t errors = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int connections = 4, requests = 2000, runs = 3;
  bool pin = std::thread::hardware_concurrency() >= 2;
  std::string out = "benchmarks/results/api.json";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--connections") connections = std::atoi(next().c_str());
    else if (a == "--requests") requests = std::atoi(next().c_str());
    else if (a == "--runs") runs = std::atoi(next().c_str());
    else if (a == "--out") out = next();
    else if (a == "--no-pin") pin = false;
    else {
      std::fprintf(stderr, "usage: api_bench [--connections N] [--requests N] [--runs N] [--out FILE] [--no-pin]\n");
      return 2;
    }
  }
  const int per_conn = std::max(1, requests / connections);
  // Server threads inherit the main thread's affinity: pin it before the servers start.
  if (pin) PinSelf(1);

  auto tmp = std::filesystem::temp_directory_path() / ("tuna-api-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);

  struct Target {
    std::string name;
    tuna::ServerPtr server;
  };
  std::vector<Target> targets;
  for (std::string kind : {"memory", "sqlite"}) {
    tuna::ServerOptions o;
    o.run_controllers = false;
    o.listen = "127.0.0.1:0";
    o.admin_token = kToken;
    o.data_dir = (tmp / kind).string();
    o.io_threads = 1;
    o.worker_threads = 4;
    if (kind == "memory") {
      o.store = std::shared_ptr<tuna::Store>(tuna::MakeMemoryStore());
    } else {
      tuna::SqliteStoreOptions so;
      std::filesystem::create_directories(o.data_dir);
      so.path = (tmp / kind / "tuna.db").string();
      auto s = tuna::MakeSqliteStore(so);
      if (!s.ok()) {
        std::fprintf(stderr, "sqlite store: %s\n", s.status().ToString().c_str());
        return 1;
      }
      o.store = std::shared_ptr<tuna::Store>(std::move(*s));
    }
    auto made = tuna::Server::Make(o);
    if (!made.ok() || !(*made)->Start().ok()) {
      std::fprintf(stderr, "server did not start\n");
      return 1;
    }
    Conn probe((*made)->port());
    if (probe.Call("POST", kBase, Memory("probe")) != 201) {
      std::fprintf(stderr, "probe create failed\n");
      return 1;
    }
    targets.push_back({kind, std::move(*made)});
  }

  std::map<std::string, Row> rows;
  for (int run = 0; run < runs; ++run) {
    // Interleave rows within each run so drift on a shared machine hits them alike.
    for (auto& t : targets) {
      for (bool create : {false, true}) {
        std::string key = t.name + (create ? "/create" : "/get");
        Sample s = Load(t.server->port(), connections, per_conn, pin, "r" + std::to_string(run), create);
        Row& row = rows[key];
        row.store = t.name;
        row.op = create ? "create (POST, 201)" : "get (GET one object)";
        row.rps.push_back(static_cast<double>(s.requests) / s.seconds);
        row.p50.push_back(Percentile(s.latencies_us, 0.5));
        row.p99.push_back(Percentile(s.latencies_us, 0.99));
        row.errors += s.errors;
      }
    }
  }
  for (auto& t : targets) t.server->Stop();
  targets.clear();
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);

  boost::json::object doc;
  doc["benchmark"] = "api_bench";
  doc["connections"] = connections;
  doc["requests_per_run"] = per_conn * connections;
  doc["runs"] = runs;
  doc["pinned"] = pin;
  doc["cpus"] = std::thread::hardware_concurrency();
  {
    // Shared machines are noisy: keep the load next to the numbers.
    std::ifstream load("/proc/loadavg");
    std::string one;
    if (load >> one) doc["load_avg_1m"] = one;
  }
  boost::json::array results;
  std::printf("| store | operation | req/s (median of %d) | p50 µs | p99 µs | vs GET baseline |\n", runs);
  std::printf("| --- | --- | --- | --- | --- | --- |\n");
  for (const auto& store : {"memory", "sqlite"}) {
    double get_rps = Median(rows[std::string(store) + "/get"].rps);
    for (const auto& op : {"/get", "/create"}) {
      Row& r = rows[std::string(store) + op];
      double rps = Median(r.rps), p50 = Median(r.p50), p99 = Median(r.p99);
      boost::json::object o;
      o["store"] = r.store;
      o["operation"] = r.op;
      o["rps_median"] = rps;
      o["rps_runs"] = boost::json::value_from(r.rps);
      o["p50_us_median"] = p50;
      o["p99_us_median"] = p99;
      o["errors"] = r.errors;
      o["ratio_to_get"] = rps / get_rps;
      results.push_back(std::move(o));
      std::printf("| %s | %s | %.0f | %.0f | %.0f | %.2f |\n", r.store.c_str(), r.op.c_str(), rps, p50, p99, rps / get_rps);
      if (r.errors) std::fprintf(stderr, "%s%s: %zu errors\n", store, op, r.errors);
    }
  }
  doc["results"] = std::move(results);
  if (auto parent = std::filesystem::path(out).parent_path(); !parent.empty()) {
    std::filesystem::create_directories(parent, ec);
  }
  std::ofstream(out) << boost::json::serialize(doc) << "\n";
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return 0;
}
