#pragma once
// The pool driver's state, shared by builds, workers, revisions and the handles given out.
// Handles (Build, Deployment, Executor) hold a weak_ptr to the core: they outlive a shut-down
// driver safely and then answer Unavailable. Private.
//
// Threads: `build_tasks_` run builds; `manager_tasks_` start, health-check and specialize
// workers (every fork happens on one of these long-lived threads, see sandbox/process.hpp);
// `maintenance_` reaps crashed and idle workers and refills warm pools. One mutex `mu_` guards
// environments, revisions and workers; it is never held across a fork, an HTTP call or a wait.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "drivers/pool/http_client.hpp"
#include "drivers/pool/process_registry.hpp"
#include "drivers/pool/task_pool.hpp"
#include "sandbox/process.hpp"
#include "tuna/driver.hpp"

namespace tuna::pool {

using Clock = std::chrono::steady_clock;
class PoolCore;

/// A started process the registry knows about; removed from it when destroyed.
class TrackedProcess {
 public:
  TrackedProcess(sandbox::ProcessPtr process, std::shared_ptr<ProcessRegistry> registry);
  ~TrackedProcess();
  sandbox::Process& operator*() { return *process_; }
  sandbox::Process* operator->() { return process_.get(); }
  pid_t pid() const { return pid_; }

 private:
  sandbox::ProcessPtr process_;
  std::shared_ptr<ProcessRegistry> registry_;
  pid_t pid_;
};

/// The process of a `fork_server` environment that its workers are forked from (pool_fork.cpp,
/// docs/drivers.md "The fork-server protocol"). Workers hold it: it lives while one of them does.
struct ForkServer {
  /// Kills it (inside bubblewrap its workers go with it) and removes its directory.
  ~ForkServer();
  std::string environment;
  std::string fingerprint;
  std::filesystem::path dir;     // its socket and log; its workers' directories, logs, exit files
  std::filesystem::path socket;
  std::filesystem::path log;
  std::unique_ptr<TrackedProcess> process;
  std::atomic<std::uint64_t> forks{0};
};
using ForkServerPtr = std::shared_ptr<ForkServer>;

/// One generic worker process (warm, then specialized for one revision).
struct Worker {
  /// Kills and reaps the process, then removes the worker's directory and log.
  ~Worker();
  std::uint64_t id = 0;
  std::string environment;
  std::filesystem::path dir;
  std::filesystem::path socket;
  std::filesystem::path log;
  std::filesystem::path exit_file;  // forked workers: how it ended, written by the fork-server
  ForkServerPtr fork_server;        // forked workers: released after the process is gone
  std::unique_ptr<TrackedProcess> process;
  std::unique_ptr<UnixHttpClient> client;
  // Guarded by PoolCore::mu_.
  int in_flight = 0;
  Clock::time_point last_used;
  bool dead = false;
};
using WorkerPtr = std::shared_ptr<Worker>;

struct EnvironmentPool {
  EnvironmentSpec spec;
  std::string fingerprint;      // what a worker depends on; a change replaces warm workers
  std::uint64_t generation = 0; // bumps with the fingerprint; late starts of older ones are dropped
  std::deque<WorkerPtr> warm;   // started, healthy, not specialized
  int starting = 0;
  int failures = 0;             // consecutive failed starts: back off before retrying
  Clock::time_point next_attempt{};
  Status last_failure;
  std::weak_ptr<ForkServer> fork_server;  // fork_server environments: the one last started
  bool fork_server_starting = false;
};

/// A mutex with a deadline, built on a condition variable (ThreadSanitizer does not model
/// std::timed_mutex::try_lock_until, which made every use a false report).
class CallGate {
 public:
  /// Waits until free or `deadline`; false on timeout.
  bool Enter(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_until(lock, deadline, [&] { return !busy_; })) return false;
    busy_ = true;
    return true;
  }
  void Enter() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !busy_; });
    busy_ = true;
  }
  void Leave() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool busy_ = false;
};

/// Leaves a CallGate entered by the caller at scope exit.
class GateGuard {
 public:
  explicit GateGuard(CallGate& gate) : gate_(gate) {}
  ~GateGuard() { gate_.Leave(); }
  GateGuard(const GateGuard&) = delete;
  GateGuard& operator=(const GateGuard&) = delete;

 private:
  CallGate& gate_;
};

/// A stdio MCP server process kept for one revision.
struct StdioServer {
  CallGate call_gate;            // one framed request/response at a time
  std::atomic<pid_t> pgid{0};    // for Undeploy to kill without waiting for call_gate
  std::unique_ptr<TrackedProcess> process;
  std::string pending;           // bytes read past the last line
  std::string last_exit;         // why the previous process ended
};

struct Revision {
  DeployRequest request;
  std::string key;                          // file-system safe form of the id
  std::filesystem::path artifact_dir;       // extracted archive (shared per digest), may be empty
  std::filesystem::path home;               // writable per-revision directory
  // Guarded by PoolCore::mu_.
  std::vector<WorkerPtr> replicas;
  int starting = 0;
  int waiters = 0;
  bool undeployed = false;
  std::uint64_t failures = 0;               // bumps on every failed start
  Status last_failure;
  std::condition_variable cv;
  // kMcpServer only.
  std::unique_ptr<StdioServer> stdio;
  bool cleaned = false;                     // files removed; guarded by PoolCore::undeploy_mu_
};
using RevisionPtr = std::shared_ptr<Revision>;

class PoolBuild;

class PoolCore : public std::enable_shared_from_this<PoolCore> {
 public:
  static Result<std::shared_ptr<PoolCore>> Make(PoolDriverOptions options);
  ~PoolCore();

  // Builds (pool_builds.cpp).
  Result<BuildPtr> StartBuild(const BuildRequest& request);
  Result<BuildPtr> FindBuild(const std::string& id);
  void RunBuild(const std::shared_ptr<PoolBuild>& build);

  // Environments, revisions, executors (pool_workers.cpp).
  Status EnsureEnvironment(const EnvironmentSpec& spec);
  Status RemoveEnvironment(std::string_view name);
  Result<DeploymentPtr> Deploy(const DeployRequest& request);
  Result<DeploymentPtr> FindDeployment(const std::string& id);
  Result<ExecutorPtr> ExecutorFor(const std::string& id);
  DeploymentState StateOf(const RevisionPtr& revision);
  Result<std::string> LogsOf(const RevisionPtr& revision, std::size_t tail_bytes);
  Status Undeploy(const RevisionPtr& revision);
  Result<InvokeResponse> Invoke(const RevisionPtr& revision, const InvokeRequest& request);

  /// Stops everything; idempotent. Handles answer Unavailable afterwards.
  void Shutdown();

  // Introspection for tests and benchmarks (not part of the Driver interface).
  std::vector<pid_t> WorkerPids(const std::string& deployment_id);
  std::vector<pid_t> WarmWorkerPids(const std::string& environment);
  /// The pid of the environment's running fork-server; 0 when there is none.
  pid_t ForkServerPid(const std::string& environment);
  int leftovers_killed() const { return registry_->leftovers_killed(); }
  const PoolDriverOptions& options() const { return options_; }
  bool use_bwrap() const { return use_bwrap_; }
  const std::string& marker() const { return marker_entry_; }

  /// How a worker (or a fork-server) of `spec` is started: `/bin/sh -c "exec <run command>"` in
  /// `dir` (also its HOME), logging to `log`, with the environment's env, limits and sandbox.
  sandbox::ProcessSpec WorkerProcessSpec(const EnvironmentSpec& spec, const std::filesystem::path& dir,
                                         const std::filesystem::path& log) const;
  /// Polls `step` until it is done: true, or an error Status, ends the wait; false sleeps (from
  /// `first`, doubling up to `cap`) and asks again. Past `deadline` answers `on_deadline()`; a
  /// driver shutting down answers Unavailable. For waits on processes that start.
  Status PollUntil(Clock::time_point deadline, std::chrono::microseconds first, std::chrono::microseconds cap,
                   const std::function<Result<bool>()>& step, const std::function<Status()>& on_deadline);
  /// Spawns on the calling thread (which must be a driver thread) and registers the pid.
  Result<std::unique_ptr<TrackedProcess>> SpawnTracked(const sandbox::ProcessSpec& spec);
  /// Base environment for every child: PATH, LANG, HOME, TMPDIR, the work-dir marker.
  std::map<std::string, std::string> BaseEnv(const std::filesystem::path& home) const;
  bool stopping() const { return stopping_.load(); }
  /// What bubblewrap covers with an empty tmpfs: the options' hidden paths that exist, then the
  /// work dir (children get their own directories bound back in).
  std::vector<std::filesystem::path> HiddenPaths() const;
  /// Files a command names by absolute path (its runtime script, say) that the sandbox's fresh
  /// /tmp would hide: bound read-only, unless they sit in a hidden path.
  std::vector<std::filesystem::path> CommandFiles(const std::vector<std::string>& tokens) const;

 private:
  explicit PoolCore(PoolDriverOptions options) : options_(std::move(options)) {}

  // Worker lifecycle (run on manager threads).
  Result<WorkerPtr> StartGenericWorker(const EnvironmentSpec& spec);
  /// The environment's fork-server, started (or restarted after a crash or a spec change) if
  /// needed (pool_fork.cpp).
  Result<ForkServerPtr> ForkServerFor(const EnvironmentSpec& spec);
  /// Asks the fork-server for a worker; returns once the child listens and is adopted.
  Status ForkWorker(const EnvironmentSpec& spec, Worker& worker, Clock::time_point deadline);
  void DropForkServer(std::string_view environment);
  Status Specialize(const WorkerPtr& worker, const RevisionPtr& revision);
  void StartReplicaTask(const RevisionPtr& revision);
  void StartWarmTask(const std::string& environment, std::uint64_t generation);
  void StartForkServerTask(const std::string& environment, std::uint64_t generation);
  Result<WorkerPtr> Acquire(const RevisionPtr& revision, Clock::time_point deadline);
  void Release(const RevisionPtr& revision, const WorkerPtr& worker, bool died);
  /// Runs `task` on a manager thread (where forking is safe) and waits for it.
  Status RunOnManager(std::function<Status()> task);
  void RefillWarmLocked(EnvironmentPool& pool);
  void ScaleUpLocked(const RevisionPtr& revision);
  void StartReplicaLocked(const RevisionPtr& revision);
  Result<std::filesystem::path> PrepareArtifact(const Digest& digest);
  void ReleaseArtifact(const Digest& digest);
  Status EnsureStdioStarted(const RevisionPtr& revision, StdioServer& server);
  Result<InvokeResponse> InvokeStdio(const RevisionPtr& revision, const InvokeRequest& request);
  void MaintenanceLoop();
  void MaintainOnce();

  PoolDriverOptions options_;
  bool use_bwrap_ = false;
  std::string marker_entry_;
  std::shared_ptr<ProcessRegistry> registry_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> next_worker_id_{1};

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<PoolBuild>> builds_;
  std::map<std::string, EnvironmentPool> environments_;
  std::map<std::string, RevisionPtr> revisions_;

  std::mutex fork_mu_;                                // held while a fork-server starts
  std::map<std::string, ForkServerPtr> fork_servers_; // by environment; guarded by fork_mu_
  std::atomic<std::uint64_t> next_fork_server_id_{1};

  std::mutex undeploy_mu_;
  std::mutex artifact_mu_;                            // serialises extraction per driver
  std::map<Digest, int> artifact_refs_;

  std::unique_ptr<TaskPool> build_tasks_;
  std::unique_ptr<TaskPool> manager_tasks_;
  std::mutex maintenance_mu_;
  std::condition_variable maintenance_cv_;
  std::thread maintenance_;
};

/// A build run by the pool driver.
class PoolBuild final : public Build {
 public:
  PoolBuild(std::weak_ptr<PoolCore> core, BuildRequest request, std::filesystem::path dir, std::size_t tail_lines);
  const std::string& id() const override { return request_.id; }
  BuildState State() override;
  Result<std::string> ReadLog(std::size_t offset) override;
  Status Cancel() override;

  const BuildRequest& request() const { return request_; }
  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& log_path() const { return log_; }
  /// Appends a "tuna: ..." line to the log.
  void Log(const std::string& line);
  /// Moves to Running unless cancelled; false if the build must not run.
  bool MarkRunning();
  void Finish(BuildJobPhase phase, std::string reason, std::string message, Digest artifact = {});
  /// Registers the running script (nullptr when it ended); kills it at once if cancelled.
  void SetProcess(sandbox::Process* process);
  bool cancelled();

 private:
  std::weak_ptr<PoolCore> core_;
  BuildRequest request_;
  std::filesystem::path dir_;
  std::filesystem::path log_;
  std::size_t tail_lines_;
  std::mutex mu_;
  BuildState state_;
  bool cancel_requested_ = false;
  sandbox::Process* process_ = nullptr;
};

/// The last `lines` lines of a log file (reads at most its last 64 KiB).
std::string LogTail(const std::filesystem::path& log, std::size_t lines);
/// The last `max` bytes of a file, from a line start when the cut falls inside a line.
std::string FileTail(const std::filesystem::path& file, std::size_t max);

/// What a generic worker depends on; workers of another fingerprint are not reused.
std::string Fingerprint(const EnvironmentSpec& spec);
/// "; log tail:\n<tail>" or "" when the tail is empty.
std::string WithLogTail(const std::string& tail);
/// Kills every worker's process group first (teardown in parallel), then drops them (reaps).
void Bury(std::vector<WorkerPtr>& graveyard);
sandbox::RLimits WorkerLimits(const ResourceLimits& limits);

/// The whitespace-separated words of a shell command.
std::vector<std::string> Words(const std::string& command);

/// Turns an id ("ns/name/uid") into a short, unique, file-system safe key.
std::string SafeKey(std::string_view id);

}  // namespace tuna::pool
