// Pool driver benchmarks (PERFORMANCE.md rows "cold start", "scale from zero", "warm request").
//
//   pool_bench [--iterations N] [--requests N] [--runtime basic|a2a] [--out FILE]
//
// Measures, in one run on this machine:
//   cold_start_warm_pool   Deploy of a new revision (new artifact) + its first request, with a warm
//                          generic worker ready (specialization path)
//   scale_from_zero        the same with no warm worker (poolSize 0): worker start + specialization
//                          + first request; with and without bubblewrap
//   warm_request           sequential requests through the Executor to a specialized worker
//   baselines              the same request straight to the worker's socket (no driver), and a bare
//                          interpreter start (fork/exec/exit) of the same Python
// Reports median / p90 / p99 in milliseconds as JSON (default benchmarks/results/pool.json) and a
// markdown table on stdout. The workload (--runtime): basic = runtimes/python/worker.py +
// tests/workloads/echo_app.py (GET /); a2a = `python -m tuna.a2a worker` (the Python package must be
// installed in python3) + benchmarks/agents/echo_agent.py, called with the agent handler protocol
// (POST /a2a/execute). Default results file: benchmarks/results/pool[_a2a].json.
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "artifacts/archive.hpp"
#include "drivers/pool/pool_driver.hpp"
#include "sandbox/process.hpp"
#include "tuna/artifacts.hpp"
#include "tuna/driver.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const fs::path kSourceDir = fs::path(__FILE__).parent_path().parent_path();

std::string RealPython() {
  std::string out;
  FILE* pipe = ::popen("python3 -c 'import sys; print(sys.executable)' 2>/dev/null", "r");
  if (pipe == nullptr) return "/usr/bin/python3";
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  ::pclose(pipe);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out.empty() ? "/usr/bin/python3" : out;
}

// "basic" or "a2a" (--runtime).
std::string g_runtime = "basic";
bool A2a() { return g_runtime == "a2a"; }

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Stats {
  double p50 = 0, p90 = 0, p99 = 0, mean = 0;
  std::size_t n = 0;
};

Stats Summarize(std::vector<double> samples) {
  Stats s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) { return samples[std::min(samples.size() - 1, static_cast<std::size_t>(q * samples.size()))]; };
  s.p50 = at(0.5);
  s.p90 = at(0.9);
  s.p99 = at(0.99);
  double sum = 0;
  for (double v : samples) sum += v;
  s.mean = sum / samples.size();
  s.n = samples.size();
  return s;
}

[[noreturn]] void Die(const std::string& what, const tuna::Status& status) {
  std::cerr << what << ": " << status.ToString() << "\n";
  std::exit(1);
}

class Bench {
 public:
  Bench(fs::path dir, bool bwrap) : dir_(std::move(dir)) {
    auto store = tuna::MakeLocalArtifactStore({dir_ / "store"});
    if (!store.ok()) Die("store", store.status());
    store_ = std::move(*store);
    tuna::PoolDriverOptions options;
    options.work_dir = dir_ / "pool";
    options.artifacts = store_.get();
    options.use_bubblewrap = bwrap;
    auto driver = tuna::MakePoolDriver(options);
    if (!driver.ok()) Die("driver", driver.status());
    driver_ = std::move(*driver);
  }

  tuna::pool::PoolCore& core() { return static_cast<tuna::pool::PoolDriver&>(*driver_).core(); }
  tuna::Driver& driver() { return *driver_; }
  /// Workers are forks of one pre-imported process (a2a runtime only).
  void set_fork_server(bool on) { fork_server_ = on; }
  bool fork_server() const { return fork_server_; }

  tuna::Digest Artifact(int version) {
    fs::path src = dir_ / ("src" + std::to_string(version));
    fs::create_directories(src);
    const std::string module = A2a() ? "echo_agent.py" : "echo_app.py";
    fs::copy_file(kSourceDir / (A2a() ? "benchmarks/agents/" : "tests/workloads/") / module, src / module,
                  fs::copy_options::overwrite_existing);
    std::ofstream(src / module, std::ios::app) << "\nVERSION = \"v" << version << "\"\n";
    fs::path file = dir_ / ("src" + std::to_string(version) + ".tar.gz");
    if (auto s = tuna::artifacts::CreateTarGz(src, file); !s.ok()) Die("archive", s);
    auto digest = store_->Put(file);
    if (!digest.ok()) Die("put", digest.status());
    return *digest;
  }

  tuna::EnvironmentSpec Environment(int pool_size) {
    tuna::EnvironmentSpec env;
    env.name = "python-bench";
    env.fork_server = fork_server_;
    env.run_command = A2a() ? RealPython() + " -m tuna.a2a worker"
                            : RealPython() + " " + (kSourceDir / "runtimes/python/worker.py").string();
    env.pool_size = pool_size;
    env.env = {{"PYTHONDONTWRITEBYTECODE", "1"}};
    return env;
  }

  tuna::DeployRequest Request(const std::string& id, const tuna::Digest& artifact, int pool_size) {
    tuna::DeployRequest request;
    request.id = id;
    request.artifact = artifact;
    request.environment = Environment(pool_size);
    request.entrypoint = A2a() ? "echo_agent:agent" : "echo_app.py:handle";
    return request;
  }

 private:
  bool fork_server_ = false;
  fs::path dir_;
  tuna::ArtifactStorePtr store_;
  tuna::DriverPtr driver_;
};

// The request every measurement sends: GET / (basic), or one echo task (a2a).
tuna::InvokeRequest Get() {
  tuna::InvokeRequest request;
  request.method = "GET";
  request.path = "/";
  request.timeout = 30s;
  if (A2a()) {
    request.method = "POST";
    request.path = "/a2a/execute";
    request.headers = {{"Content-Type", "application/json"}};
    request.body = R"({"taskId":"t-1","contextId":"c-1","history":[],)"
                   R"("message":{"role":"ROLE_USER","messageId":"m-1","parts":[{"text":"hello"}]}})";
  }
  return request;
}

// Deploy of a new revision + first request. pool_size 0: a cold worker start (scale from zero).
std::vector<double> DeployAndFirstRequest(Bench& bench, int iterations, int pool_size, std::vector<double>* deploy_only) {
  std::vector<double> samples;
  if (pool_size > 0 || bench.fork_server()) {
    if (auto s = bench.driver().EnsureEnvironment(bench.Environment(pool_size)); !s.ok()) Die("environment", s);
  }
  for (int i = 0; i < iterations; ++i) {
    tuna::Digest artifact = bench.Artifact(1000 * pool_size + i);
    auto request = bench.Request("bench/agent/staging/r" + std::to_string(pool_size) + "-" + std::to_string(i),
                                 artifact, pool_size);
    if (pool_size > 0) {  // the pool refills between deploys; wait so every deploy finds a warm worker
      auto deadline = Clock::now() + 30s;
      while (bench.core().WarmWorkerPids("python-bench").size() < static_cast<std::size_t>(pool_size) &&
             Clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
      }
    }
    if (bench.fork_server()) {  // no warm worker, but the fork-server runs
      auto deadline = Clock::now() + 30s;
      while (bench.core().ForkServerPid("python-bench") == 0 && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
    }
    auto t0 = Clock::now();
    auto deployment = bench.driver().Deploy(request);
    if (!deployment.ok()) Die("deploy", deployment.status());
    auto t1 = Clock::now();
    auto executor = bench.driver().ExecutorFor(request.id);
    auto response = (*executor)->Invoke(Get());
    auto t2 = Clock::now();
    if (!response.ok() || response->status != 200) Die("first request", response.status());
    samples.push_back(Ms(t2 - t0));
    if (deploy_only) deploy_only->push_back(Ms(t1 - t0));
    (void)(*deployment)->Undeploy();
  }
  return samples;
}

std::vector<double> BareInterpreterStarts(int iterations) {
  std::vector<double> samples;
  std::string python = RealPython();
  fs::path cwd = fs::temp_directory_path();
  for (int i = 0; i < iterations; ++i) {
    tuna::sandbox::ProcessSpec spec;
    spec.argv = {python, "-c", "pass"};
    spec.cwd = cwd;
    auto t0 = Clock::now();
    auto process = tuna::sandbox::Process::Spawn(spec);
    if (!process.ok()) Die("spawn", process.status());
    (*process)->Wait(std::chrono::milliseconds(-1));
    samples.push_back(Ms(Clock::now() - t0));
  }
  return samples;
}

std::string Row(const std::string& name, const Stats& s) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(3);
  out << "| " << name << " | " << s.n << " | " << s.p50 << " | " << s.p90 << " | " << s.p99 << " |";
  return out.str();
}

std::string Json(const Stats& s) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(4);
  out << "{\"n\": " << s.n << ", \"p50_ms\": " << s.p50 << ", \"p90_ms\": " << s.p90 << ", \"p99_ms\": " << s.p99
      << ", \"mean_ms\": " << s.mean << "}";
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 30;
  int requests = 3000;
  fs::path out = kSourceDir / "benchmarks/results/pool.json";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--iterations") iterations = std::atoi(argv[i + 1]);
    if (flag == "--requests") requests = std::atoi(argv[i + 1]);
    if (flag == "--out") out = argv[i + 1];
    if (flag == "--runtime") g_runtime = argv[i + 1];
  }
  if (g_runtime != "basic" && g_runtime != "a2a") {
    std::cerr << "--runtime must be basic or a2a\n";
    return 2;
  }
  bool out_given = false;
  for (int i = 1; i < argc; ++i) out_given = out_given || std::string(argv[i]) == "--out";
  if (A2a() && !out_given) out = kSourceDir / "benchmarks/results/pool_a2a.json";
  char pattern[] = "/tmp/tuna_pool_bench_XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return 1;
  fs::path dir = pattern;
  bool bwrap = tuna::sandbox::BwrapAvailable();

  std::map<std::string, Stats> results;
  {
    Bench bench(dir / "bwrap", bwrap);
    std::vector<double> deploy_only;
    results["cold_start_warm_pool"] = Summarize(DeployAndFirstRequest(bench, iterations, 1, &deploy_only));
    results["cold_start_warm_pool_deploy_only"] = Summarize(deploy_only);
    results["scale_from_zero"] = Summarize(DeployAndFirstRequest(bench, iterations, 0, nullptr));

    // Warm requests through the executor, and the same requests straight to the worker socket.
    auto request = bench.Request("bench/agent/staging/warm", bench.Artifact(99999), 0);
    auto deployment = bench.driver().Deploy(request);
    if (!deployment.ok()) Die("deploy", deployment.status());
    auto executor = bench.driver().ExecutorFor(request.id);
    std::vector<double> through_driver;
    std::vector<double> direct;
    fs::path socket = dir / "bwrap/pool/workers";
    // The revision's worker socket: the only workers/<id>/worker.sock that exists.
    fs::path worker_socket;
    for (const auto& entry : fs::directory_iterator(socket)) {
      if (fs::exists(entry.path() / "worker.sock")) worker_socket = entry.path() / "worker.sock";
    }
    tuna::pool::UnixHttpClient client(worker_socket);
    for (int i = 0; i < 200; ++i) {  // warm-up
      (void)(*executor)->Invoke(Get());
      (void)client.Call(Get(), Clock::now() + 30s);
    }
    // Interleaved so both see the same machine noise.
    for (int i = 0; i < requests; ++i) {
      auto t0 = Clock::now();
      auto response = (*executor)->Invoke(Get());
      auto t1 = Clock::now();
      auto raw = client.Call(Get(), Clock::now() + 30s);
      auto t2 = Clock::now();
      if (!response.ok() || !raw.status.ok()) Die("warm request", response.status());
      through_driver.push_back(Ms(t1 - t0));
      direct.push_back(Ms(t2 - t1));
    }
    results["warm_request_executor"] = Summarize(through_driver);
    results["warm_request_direct_socket"] = Summarize(direct);
  }
  if (bwrap) {
    Bench bench(dir / "plain", false);
    results["scale_from_zero_no_bwrap"] = Summarize(DeployAndFirstRequest(bench, iterations, 0, nullptr));
  }
  if (A2a()) {
    // poolSize 0 with forkServer: no warm worker, each first request forks one.
    Bench bench(dir / "fork", bwrap);
    bench.set_fork_server(true);
    results["scale_from_zero_fork_server"] = Summarize(DeployAndFirstRequest(bench, iterations, 0, nullptr));
  }
  results["baseline_bare_interpreter_start"] = Summarize(BareInterpreterStarts(iterations));
  std::error_code ec;
  fs::remove_all(dir, ec);

  std::ostringstream json;
  json << "{\n  \"runtime\": \"" << g_runtime << "\",\n  \"machine\": {\"nproc\": " << std::thread::hardware_concurrency() << ", \"bubblewrap\": "
       << (bwrap ? "true" : "false") << ", \"python\": \"" << RealPython() << "\"},\n";
  json << "  \"results\": {\n";
  std::size_t k = 0;
  for (const auto& [name, stats] : results) {
    json << "    \"" << name << "\": " << Json(stats) << (++k < results.size() ? ",\n" : "\n");
  }
  double ratio = results["warm_request_executor"].p50 / std::max(1e-9, results["warm_request_direct_socket"].p50);
  double cold_ratio =
      results["scale_from_zero"].p50 / std::max(1e-9, results["baseline_bare_interpreter_start"].p50);
  json << "  },\n  \"ratios\": {\"warm_executor_over_direct_p50\": " << ratio
       << ", \"scale_from_zero_over_bare_interpreter_p50\": " << cold_ratio << "}\n}\n";
  fs::create_directories(out.parent_path(), ec);
  std::ofstream(out) << json.str();

  std::cout << "| measurement | n | p50 ms | p90 ms | p99 ms |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& [name, stats] : results) std::cout << Row(name, stats) << "\n";
  std::cout << "\nwarm executor / direct socket p50: " << ratio << "\n"
            << "scale from zero / bare interpreter start p50: " << cold_ratio << "\n"
            << "written to " << out << "\n";
  return 0;
}
