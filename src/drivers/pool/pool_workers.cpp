// Deployments on the pool driver: warm generic workers per environment, specialization with a
// build archive, per-revision concurrency, scale-up on queue depth, idle reaping to zero and
// crash replacement. Stdio MCP servers live in pool_stdio.cpp.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

#include "artifacts/archive.hpp"
#include "drivers/pool/pool_core.hpp"

namespace tuna::pool {

std::vector<std::string> Words(const std::string& command) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < command.size()) {
    while (i < command.size() && std::isspace(static_cast<unsigned char>(command[i]))) ++i;
    std::size_t start = i;
    while (i < command.size() && !std::isspace(static_cast<unsigned char>(command[i]))) ++i;
    if (i > start) out.push_back(command.substr(start, i - start));
  }
  return out;
}

namespace {

namespace fs = std::filesystem;

namespace json = boost::json;
using std::chrono::milliseconds;

constexpr std::string_view kReservedPrefix = "/_tuna/";

class PoolDeployment final : public Deployment {
 public:
  PoolDeployment(std::weak_ptr<PoolCore> core, RevisionPtr revision)
      : core_(std::move(core)), revision_(std::move(revision)) {}
  const std::string& id() const override { return revision_->request.id; }
  DeploymentState State() override {
    auto core = core_.lock();
    if (!core) return {.ready = false, .message = "pool driver is shut down"};
    return core->StateOf(revision_);
  }
  Status Undeploy() override {
    auto core = core_.lock();
    if (!core) return Status::Ok();  // the driver's shutdown stopped everything
    return core->Undeploy(revision_);
  }
  Result<std::string> ReadLogs(std::size_t tail_bytes) override {
    auto core = core_.lock();
    if (!core) return Unavailable("pool driver is shut down");
    return core->LogsOf(revision_, tail_bytes);
  }

 private:
  std::weak_ptr<PoolCore> core_;
  RevisionPtr revision_;
};

class PoolExecutor final : public Executor {
 public:
  PoolExecutor(std::weak_ptr<PoolCore> core, RevisionPtr revision)
      : core_(std::move(core)), revision_(std::move(revision)) {}
  Result<InvokeResponse> Invoke(const InvokeRequest& request) override {
    auto core = core_.lock();
    if (!core) return Unavailable("pool driver is shut down");
    return core->Invoke(revision_, request);
  }

 private:
  std::weak_ptr<PoolCore> core_;
  RevisionPtr revision_;
};

}  // namespace

Result<std::string> PoolCore::LogsOf(const RevisionPtr& revision, std::size_t tail_bytes) {
  std::vector<std::pair<std::string, std::filesystem::path>> logs;
  {
    std::lock_guard lock(mu_);
    if (revision->undeployed) return Unavailable("revision " + revision->request.id + " is not deployed");
    for (const auto& w : revision->replicas) {
      logs.emplace_back("worker " + std::to_string(w->id) + (w->dead ? " (exited)" : ""), w->log);
    }
    if (revision->request.kind == WorkloadKind::kMcpServer) logs.emplace_back("MCP server (stderr)", revision->home.parent_path() / "stderr.log");
  }
  std::string out;
  for (const auto& [name, file] : logs) {
    std::string tail = FileTail(file, tail_bytes);
    out += "==> " + name + " <==\n" + tail;
    if (!tail.empty() && tail.back() != '\n') out += '\n';
  }
  if (logs.empty()) out = "(no replica is running: the revision scaled to zero or has not started one yet)\n";
  return out;
}

std::string Fingerprint(const EnvironmentSpec& spec) {
  std::string fp = spec.runtime + '\0' + spec.run_command + '\0' + (spec.fork_server ? "fork\0" : "");
  for (const auto& [k, v] : spec.env) fp += k + '=' + v + '\0';
  fp += std::to_string(spec.limits.memory_bytes) + ',' + std::to_string(spec.limits.cpu_seconds) + ',' +
        std::to_string(spec.limits.file_size_bytes) + ',' + std::to_string(spec.limits.max_processes);
  return fp;
}

std::string WithLogTail(const std::string& tail) {
  if (tail.empty()) return "";
  return "; log tail:\n" + tail;
}

void Bury(std::vector<WorkerPtr>& graveyard) {
  for (auto& w : graveyard) {
    if (w && w->process) (*w->process)->KillGroup(SIGKILL);
  }
  graveyard.clear();
}

sandbox::RLimits WorkerLimits(const ResourceLimits& limits) {
  return {.cpu_seconds = limits.cpu_seconds,
          .memory_bytes = limits.memory_bytes,
          .file_size_bytes = limits.file_size_bytes,
          .max_processes = limits.max_processes};
}

// ---- environments and warm workers ---------------------------------------------------------

std::vector<fs::path> PoolCore::CommandFiles(const std::vector<std::string>& tokens) const {
  std::vector<fs::path> out;
  const auto hidden = HiddenPaths();
  for (const auto& token : tokens) {
    std::error_code ec;
    if (token.size() < 2 || token[0] != '/' || !fs::exists(token, ec)) continue;
    fs::path file(token);
    // bubblewrap cannot mount over a symlink (a virtual environment's bin/python): bind the
    // directory that holds it instead, and for a virtual environment its root (pyvenv.cfg and
    // site-packages come with it). The link's target is bound when it is a file of its own.
    if (fs::is_symlink(fs::symlink_status(file, ec))) {
      fs::path dir = file.parent_path();
      if (dir.filename() == "bin" && fs::exists(dir.parent_path() / "pyvenv.cfg", ec)) dir = dir.parent_path();
      file = dir;
    }
    bool inside_hidden = std::any_of(hidden.begin(), hidden.end(), [&](const fs::path& h) {
      auto rel = file.lexically_relative(h);
      return !rel.empty() && *rel.begin() != "..";
    });
    if (!inside_hidden && std::find(out.begin(), out.end(), file) == out.end()) out.push_back(std::move(file));
  }
  return out;
}

Status PoolCore::EnsureEnvironment(const EnvironmentSpec& spec) {
  if (spec.name.empty()) return InvalidArgument("environment name is empty", "environment.name");
  if (spec.pool_size < 0) return InvalidArgument("poolSize must not be negative", "environment.poolSize");
  if (stopping_) return Unavailable("pool driver is shut down");
  std::vector<WorkerPtr> graveyard;
  {
    std::lock_guard<std::mutex> lock(mu_);
    EnvironmentPool& pool = environments_[spec.name];
    std::string fp = Fingerprint(spec);
    if (pool.fingerprint != fp) {
      graveyard.assign(pool.warm.begin(), pool.warm.end());
      pool.warm.clear();
      pool.fingerprint = fp;
      pool.generation++;
      pool.starting = 0;
      pool.failures = 0;
      pool.next_attempt = {};
    }
    pool.spec = spec;
    // Surplus warm workers (poolSize lowered) go.
    while (static_cast<int>(pool.warm.size()) > spec.pool_size) {
      graveyard.push_back(pool.warm.back());
      pool.warm.pop_back();
    }
    RefillWarmLocked(pool);
  }
  Bury(graveyard);
  return Status::Ok();
}

Status PoolCore::RemoveEnvironment(std::string_view name) {
  std::vector<WorkerPtr> graveyard;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = environments_.find(std::string(name));
    if (it == environments_.end()) return Status::Ok();
    graveyard.assign(it->second.warm.begin(), it->second.warm.end());
    environments_.erase(it);
  }
  Bury(graveyard);
  DropForkServer(name);  // lives on while a revision's worker forked from it does
  return Status::Ok();
}

void PoolCore::RefillWarmLocked(EnvironmentPool& pool) {
  if (stopping_ || pool.spec.run_command.empty()) return;
  if (pool.failures > 0 && Clock::now() < pool.next_attempt) return;
  if (pool.spec.fork_server && !pool.fork_server_starting) {
    // Keep the fork-server running even with no warm worker: it is what makes scale from zero fast.
    auto server = pool.fork_server.lock();
    if (!server || server->fingerprint != pool.fingerprint || (*server->process)->TryWait()) {
      pool.fork_server_starting = true;
      if (!manager_tasks_->Post([this, name = pool.spec.name, gen = pool.generation] { StartForkServerTask(name, gen); })) {
        pool.fork_server_starting = false;
      }
    }
  }
  int need = pool.spec.pool_size - static_cast<int>(pool.warm.size()) - pool.starting;
  for (int i = 0; i < need; ++i) {
    pool.starting++;
    if (!manager_tasks_->Post([this, name = pool.spec.name, gen = pool.generation] { StartWarmTask(name, gen); })) {
      pool.starting--;
      return;
    }
  }
}

namespace {

// A failed start of a worker or fork-server: 250 ms, 500 ms, ... up to 30 s before the next try.
void NoteStartFailure(EnvironmentPool& pool, Status status) {
  pool.failures++;
  pool.last_failure = std::move(status);
  auto backoff = milliseconds(250) * (1 << std::min(pool.failures - 1, 7));
  pool.next_attempt = Clock::now() + std::min<milliseconds>(backoff, milliseconds(30000));
}

}  // namespace

void PoolCore::StartForkServerTask(const std::string& environment, std::uint64_t generation) {
  EnvironmentSpec spec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = environments_.find(environment);
    if (it == environments_.end()) return;
    if (it->second.generation != generation) {
      it->second.fork_server_starting = false;
      return;
    }
    spec = it->second.spec;
  }
  auto server = ForkServerFor(spec);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = environments_.find(environment);
  if (it == environments_.end()) return;
  EnvironmentPool& pool = it->second;
  pool.fork_server_starting = false;
  if (!server.ok()) {
    NoteStartFailure(pool, server.status());
  } else if (pool.generation == generation) {
    pool.fork_server = *server;
  }
}

void PoolCore::StartWarmTask(const std::string& environment, std::uint64_t generation) {
  EnvironmentSpec spec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = environments_.find(environment);
    if (it == environments_.end() || it->second.generation != generation) return;
    spec = it->second.spec;
  }
  auto worker = StartGenericWorker(spec);
  std::vector<WorkerPtr> graveyard;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = environments_.find(environment);
    if (it == environments_.end() || it->second.generation != generation) {
      if (worker.ok()) graveyard.push_back(*worker);
    } else {
      EnvironmentPool& pool = it->second;
      pool.starting--;
      if (!worker.ok()) {
        NoteStartFailure(pool, worker.status());
      } else if (stopping_ || static_cast<int>(pool.warm.size()) >= pool.spec.pool_size) {
        graveyard.push_back(*worker);
      } else {
        pool.failures = 0;
        pool.warm.push_back(*worker);
      }
    }
  }
  Bury(graveyard);
}

Status PoolCore::PollUntil(Clock::time_point deadline, std::chrono::microseconds first, std::chrono::microseconds cap,
                           const std::function<Result<bool>()>& step, const std::function<Status()>& on_deadline) {
  auto backoff = first;
  for (;;) {
    if (stopping_) return Unavailable("pool driver is shutting down");
    TUNA_ASSIGN_OR_RETURN(bool done, step());
    if (done) return Status::Ok();
    if (Clock::now() >= deadline) return on_deadline();
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, cap);
  }
}

sandbox::ProcessSpec PoolCore::WorkerProcessSpec(const EnvironmentSpec& spec, const fs::path& dir,
                                                 const fs::path& log) const {
  sandbox::ProcessSpec process_spec;
  // exec: the shell becomes the worker, so the worker is the process the driver watches.
  process_spec.argv = {"/bin/sh", "-c", "exec " + spec.run_command};
  process_spec.env = BaseEnv(dir);
  for (const auto& [k, v] : spec.env) process_spec.env[k] = v;
  process_spec.env["TUNA_ENVIRONMENT"] = spec.name;
  process_spec.env[registry_->marker_key()] = registry_->marker_value();
  process_spec.cwd = dir;
  process_spec.log_file = log;
  process_spec.limits = WorkerLimits(spec.limits);
  if (use_bwrap_) {
    process_spec.bwrap = {.enabled = true, .bwrap = options_.bwrap_path, .share_network = true,
                          .hidden = HiddenPaths(), .read_only = {options_.work_dir / "artifacts"},
                          .writable = {dir}};
    for (auto& file : CommandFiles(Words(spec.run_command))) process_spec.bwrap.read_only.push_back(std::move(file));
  }
  return process_spec;
}

Result<WorkerPtr> PoolCore::StartGenericWorker(const EnvironmentSpec& spec) {
  if (stopping_) return Unavailable("pool driver is shutting down");
  if (spec.run_command.empty()) {
    return InvalidArgument("environment " + spec.name + " has no run command for workers", "environment.runCommand");
  }
  auto worker = std::make_shared<Worker>();
  worker->id = next_worker_id_++;
  worker->environment = spec.name;
  auto deadline = Clock::now() + options_.worker_start_timeout;
  fs::path base = options_.work_dir / "workers";
  if (spec.fork_server) {
    TUNA_ASSIGN_OR_RETURN(worker->fork_server, ForkServerFor(spec));
    base = worker->fork_server->dir;
    worker->exit_file = base / (std::to_string(worker->id) + ".exit");
  }
  worker->dir = base / std::to_string(worker->id);
  worker->socket = worker->dir / "worker.sock";
  worker->log = base / (std::to_string(worker->id) + ".log");
  if (worker->socket.native().size() >= 108) {
    return InvalidArgument("worker socket path " + worker->socket.string() + " is too long for a Unix socket", "work_dir");
  }
  std::error_code ec;
  fs::create_directories(worker->dir, ec);
  if (ec) return Internal("create " + worker->dir.string() + ": " + ec.message());

  if (worker->fork_server) {
    TUNA_RETURN_IF_ERROR(ForkWorker(spec, *worker, deadline));
  } else {
    sandbox::ProcessSpec process_spec = WorkerProcessSpec(spec, worker->dir, worker->log);
    process_spec.env["TUNA_WORKER_SOCKET"] = worker->socket.string();
    process_spec.env["TUNA_WORKER_ID"] = std::to_string(worker->id);
    TUNA_ASSIGN_OR_RETURN(worker->process, SpawnTracked(process_spec));
  }
  worker->client = std::make_unique<UnixHttpClient>(worker->socket);

  // Healthy = answers GET /_tuna/healthz on its socket. Poll with a short, growing backoff.
  InvokeRequest health;
  health.method = "GET";
  health.path = "/_tuna/healthz";
  TUNA_RETURN_IF_ERROR(PollUntil(
      deadline, std::chrono::microseconds(200), std::chrono::microseconds(2000),
      [&]() -> Result<bool> {
        if (auto exit = (*worker->process)->TryWait()) {
          return FailedPrecondition("worker of environment " + spec.name + " exited while starting (" +
                                    exit->ToString() + ")" + WithLogTail(LogTail(worker->log, 10)));
        }
        struct stat st;
        if (::stat(worker->socket.c_str(), &st) != 0) return false;
        auto result = worker->client->Call(health, std::min(deadline, Clock::now() + milliseconds(2000)));
        return result.status.ok() && result.response.status == 200;
      },
      [&] {
        return DeadlineExceeded("worker of environment " + spec.name + " did not answer /_tuna/healthz within " +
                                std::to_string(options_.worker_start_timeout.count()) + " ms" +
                                WithLogTail(LogTail(worker->log, 10)));
      }));
  worker->last_used = Clock::now();
  return worker;
}

Status PoolCore::Specialize(const WorkerPtr& worker, const RevisionPtr& revision) {
  json::object env;
  for (const auto& [k, v] : revision->request.env) env[k] = v;
  json::object body{{"revision", revision->request.id},
                    {"artifactDir", revision->artifact_dir.string()},
                    {"entrypoint", revision->request.entrypoint},
                    {"env", std::move(env)}};
  InvokeRequest request{.method = "POST",
                        .path = "/_tuna/specialize",
                        .headers = {{"Content-Type", "application/json"}},
                        .body = json::serialize(body)};
  auto result = worker->client->Call(request, Clock::now() + options_.worker_start_timeout);
  if (!result.status.ok()) {
    return Status(result.status.code(), "specialize a worker for " + revision->request.id + ": " +
                                            result.status.message() + WithLogTail(LogTail(worker->log, 10)));
  }
  if (result.response.status != 200) {
    return FailedPrecondition("worker refused to specialize for " + revision->request.id + " (HTTP " +
                              std::to_string(result.response.status) + "): " + result.response.body +
                              WithLogTail(LogTail(worker->log, 10)));
  }
  return Status::Ok();
}

// ---- replicas ------------------------------------------------------------------------------

void PoolCore::StartReplicaTask(const RevisionPtr& revision) {
  WorkerPtr worker;
  std::vector<WorkerPtr> graveyard;
  const std::string& env_name = revision->request.environment.name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = environments_.find(env_name);
    if (it != environments_.end() && it->second.fingerprint == Fingerprint(revision->request.environment)) {
      auto& warm = it->second.warm;
      while (!worker && !warm.empty()) {
        WorkerPtr candidate = warm.front();
        warm.pop_front();
        if ((*candidate->process)->TryWait()) {
          graveyard.push_back(candidate);  // died while warm
        } else {
          worker = candidate;
        }
      }
    }
  }
  Bury(graveyard);
  Status status;
  if (!worker) {  // no warm worker: a cold start
    auto started = StartGenericWorker(revision->request.environment);
    if (started.ok()) {
      worker = *started;
    } else {
      status = started.status();
    }
  }
  if (status.ok()) status = Specialize(worker, revision);
  {
    std::lock_guard<std::mutex> lock(mu_);
    revision->starting--;
    if (!status.ok()) {
      revision->failures++;
      revision->last_failure = status;
      if (worker) graveyard.push_back(worker);
    } else if (revision->undeployed || stopping_) {
      graveyard.push_back(worker);
    } else {
      worker->last_used = Clock::now();
      revision->replicas.push_back(worker);
    }
    revision->cv.notify_all();
    // Refill the warm pool only now: a worker starting next to the specialization competes with
    // it for the CPU and would slow the cold start it is meant to speed up.
    if (auto it = environments_.find(env_name); it != environments_.end()) RefillWarmLocked(it->second);
  }
  Bury(graveyard);
}

void PoolCore::StartReplicaLocked(const RevisionPtr& revision) {
  revision->starting++;
  if (!manager_tasks_->Post([this, revision] { StartReplicaTask(revision); })) revision->starting--;
}

void PoolCore::ScaleUpLocked(const RevisionPtr& revision) {
  if (revision->undeployed || stopping_ || revision->request.kind != WorkloadKind::kAgent) return;
  int total = static_cast<int>(revision->replicas.size()) + revision->starting;
  if (total >= revision->request.max_replicas) return;
  int in_flight = 0;
  for (const auto& w : revision->replicas) in_flight += w->in_flight;
  int capacity = total * revision->request.max_concurrency;
  if (in_flight + revision->waiters > capacity) StartReplicaLocked(revision);
}

Result<WorkerPtr> PoolCore::Acquire(const RevisionPtr& revision, Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  revision->waiters++;
  struct Leave {
    Revision& r;
    ~Leave() { r.waiters--; }
  } leave{*revision};
  std::uint64_t failures_seen = revision->failures;
  for (;;) {
    if (revision->undeployed || stopping_) return Unavailable("revision " + revision->request.id + " is not deployed");
    WorkerPtr best;
    for (const auto& w : revision->replicas) {
      if (w->dead || w->in_flight >= revision->request.max_concurrency) continue;
      if (!best || w->in_flight < best->in_flight) best = w;
    }
    if (best) {
      best->in_flight++;
      return best;
    }
    if (revision->failures != failures_seen && revision->starting == 0) {
      return Status(revision->last_failure.code(), "no worker could be started for revision " + revision->request.id +
                                                       ": " + revision->last_failure.message());
    }
    ScaleUpLocked(revision);
    if (revision->cv.wait_until(lock, deadline) == std::cv_status::timeout && Clock::now() >= deadline) {
      return DeadlineExceeded("no worker of revision " + revision->request.id + " became free in time (" +
                              std::to_string(revision->replicas.size()) + " replicas, " +
                              std::to_string(revision->starting) + " starting, " +
                              std::to_string(revision->waiters) + " requests waiting)");
    }
  }
}

void PoolCore::Release(const RevisionPtr& revision, const WorkerPtr& worker, bool died) {
  std::lock_guard<std::mutex> lock(mu_);
  worker->in_flight--;
  worker->last_used = Clock::now();
  if (died && !worker->dead) {
    worker->dead = true;
    // Other requests on it fail now rather than at their deadline.
    (*worker->process)->KillGroup(SIGKILL);
    auto& replicas = revision->replicas;
    replicas.erase(std::remove(replicas.begin(), replicas.end(), worker), replicas.end());
    if (!revision->undeployed &&
        static_cast<int>(replicas.size()) + revision->starting < revision->request.min_replicas) {
      StartReplicaLocked(revision);
    }
  }
  revision->cv.notify_all();
}

Result<InvokeResponse> PoolCore::Invoke(const RevisionPtr& revision, const InvokeRequest& request) {
  if (std::string_view(request.path).starts_with(kReservedPrefix)) {
    return InvalidArgument("paths under /_tuna/ are reserved for the worker protocol", "path");
  }
  if (revision->request.kind == WorkloadKind::kMcpServer) return InvokeStdio(revision, request);
  auto deadline = Clock::now() + request.timeout;
  for (int attempt = 0;; ++attempt) {
    TUNA_ASSIGN_OR_RETURN(WorkerPtr worker, Acquire(revision, deadline));
    HttpCallResult result = worker->client->Call(request, deadline);
    if (result.status.ok()) {
      Release(revision, worker, false);
      return std::move(result.response);
    }
    if (result.failure == HttpFailure::kTimeout || result.failure == HttpFailure::kStopped) {
      Release(revision, worker, false);
      return Status(result.status.code(), "revision " + revision->request.id + ": " + result.status.message());
    }
    // The connection broke or was refused: the worker crashed or is wedged. Replace it.
    auto exit = (*worker->process)->Wait(milliseconds(200));  // a sandbox takes a moment to tear down
    std::string what = exit ? "exited (" + exit->ToString() + ")" : "stopped answering on its socket";
    Release(revision, worker, true);
    // A refused connection never delivered the request (a worker that died while idle): another
    // replica can take it. A broken one might have, so that request fails.
    if (result.failure == HttpFailure::kConnect && attempt < 2) continue;
    return Unavailable("worker " + std::to_string(worker->id) + " of revision " + revision->request.id + " " + what +
                       " while handling the request (" + result.status.message() +
                       "); it is being replaced, retry the request" + WithLogTail(LogTail(worker->log, 5)));
  }
}

// ---- artifacts -----------------------------------------------------------------------------

Result<fs::path> PoolCore::PrepareArtifact(const Digest& digest) {
  std::lock_guard<std::mutex> lock(artifact_mu_);
  fs::path dir = options_.work_dir / "artifacts" / digest.substr(7);
  std::error_code ec;
  if (artifact_refs_[digest] > 0 || fs::is_directory(dir, ec)) {
    artifact_refs_[digest]++;
    return dir;
  }
  fs::path archive = dir.string() + ".archive";
  fs::path temp = dir.string() + ".extracting";
  fs::remove_all(temp, ec);
  Status status = options_.artifacts->Fetch(digest, archive);
  if (status.ok()) status = artifacts::ExtractSafely(archive, temp);
  fs::remove(archive, ec);
  if (status.ok()) {
    fs::rename(temp, dir, ec);
    if (ec) status = Internal("rename " + temp.string() + ": " + ec.message());
  }
  if (!status.ok()) {
    fs::remove_all(temp, ec);
    if (artifact_refs_[digest] == 0) artifact_refs_.erase(digest);
    return Status(status.code(), "artifact " + digest + ": " + status.message());
  }
  artifact_refs_[digest]++;
  return dir;
}

void PoolCore::ReleaseArtifact(const Digest& digest) {
  std::lock_guard<std::mutex> lock(artifact_mu_);
  auto it = artifact_refs_.find(digest);
  if (it == artifact_refs_.end()) return;
  if (--it->second > 0) return;
  artifact_refs_.erase(it);
  std::error_code ec;
  fs::remove_all(options_.work_dir / "artifacts" / digest.substr(7), ec);
}

// ---- deploy / undeploy ---------------------------------------------------------------------

Status PoolCore::RunOnManager(std::function<Status()> task) {
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Status status;
  };
  auto shared = std::make_shared<Shared>();
  bool posted = manager_tasks_->Post([shared, task = std::move(task)] {
    Status status = task();
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->status = std::move(status);
    shared->done = true;
    shared->cv.notify_all();
  });
  if (!posted) return Unavailable("pool driver is shutting down");
  std::unique_lock<std::mutex> lock(shared->mu);
  shared->cv.wait(lock, [&] { return shared->done; });
  return shared->status;
}

Result<DeploymentPtr> PoolCore::Deploy(const DeployRequest& request) {
  if (request.id.empty()) return InvalidArgument("deployment id is empty", "id");
  if (request.max_concurrency < 1) return InvalidArgument("max_concurrency must be >= 1", "max_concurrency");
  if (request.max_replicas < 1) return InvalidArgument("max_replicas must be >= 1", "max_replicas");
  if (request.min_replicas < 0 || request.min_replicas > request.max_replicas) {
    return InvalidArgument("min_replicas must be between 0 and max_replicas", "min_replicas");
  }
  bool agent = request.kind == WorkloadKind::kAgent;
  if ((agent || !request.artifact.empty()) && !IsValidDigest(request.artifact)) {
    return InvalidArgument("artifact is not a sha256 digest: '" + request.artifact + "'", "artifact");
  }
  if (agent && request.environment.run_command.empty()) {
    return InvalidArgument("environment " + request.environment.name + " has no run command for workers",
                           "environment.runCommand");
  }
  if (!agent && request.command.empty()) return InvalidArgument("an MCP server needs a command", "command");
  if (stopping_) return Unavailable("pool driver is shut down");
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = revisions_.find(request.id); it != revisions_.end()) {
      if (it->second->request.artifact != request.artifact) {
        return AlreadyExists("deployment " + request.id + " exists with another artifact; undeploy it first");
      }
      return DeploymentPtr(std::make_shared<PoolDeployment>(weak_from_this(), it->second));
    }
  }
  if (agent) TUNA_RETURN_IF_ERROR(EnsureEnvironment(request.environment));

  auto revision = std::make_shared<Revision>();
  revision->request = request;
  revision->key = SafeKey(request.id);
  revision->home = options_.work_dir / "revisions" / revision->key / "home";
  std::error_code ec;
  fs::create_directories(revision->home, ec);
  if (ec) return Internal("create " + revision->home.string() + ": " + ec.message());
  if (!request.artifact.empty()) {
    auto dir = PrepareArtifact(request.artifact);
    if (!dir.ok()) {
      fs::remove_all(revision->home.parent_path(), ec);
      return dir.status().WithContext("deploy " + request.id);
    }
    revision->artifact_dir = *dir;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = revisions_.find(request.id); it != revisions_.end()) {  // a concurrent Deploy won
      RevisionPtr winner = it->second;
      if (!request.artifact.empty()) ReleaseArtifact(request.artifact);
      return DeploymentPtr(std::make_shared<PoolDeployment>(weak_from_this(), winner));
    }
    revisions_[request.id] = revision;
  }
  auto fail = [&](const Status& status) -> Result<DeploymentPtr> {
    (void)Undeploy(revision);
    return status.WithContext("deploy " + request.id);
  };

  if (agent) {
    // The first replica is specialized before Deploy returns: a broken artifact fails here.
    std::unique_lock<std::mutex> lock(mu_);
    int first = std::max(1, request.min_replicas);
    for (int i = 0; i < first; ++i) StartReplicaLocked(revision);
    auto deadline = Clock::now() + options_.worker_start_timeout + milliseconds(5000);
    bool finished = revision->cv.wait_until(lock, deadline, [&] {
      return !revision->replicas.empty() || revision->failures > 0 || revision->undeployed || stopping_;
    });
    if (revision->replicas.empty()) {
      Status status = !finished                ? DeadlineExceeded("no worker became ready in time")
                      : revision->failures > 0 ? revision->last_failure
                                               : Unavailable("pool driver is shutting down");
      lock.unlock();
      return fail(status);
    }
  } else {
    revision->stdio = std::make_unique<StdioServer>();
    revision->stdio->call_gate.Enter();
    GateGuard call_guard(revision->stdio->call_gate);
    if (Status status = EnsureStdioStarted(revision, *revision->stdio); !status.ok()) return fail(status);
  }
  return DeploymentPtr(std::make_shared<PoolDeployment>(weak_from_this(), revision));
}

Result<DeploymentPtr> PoolCore::FindDeployment(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = revisions_.find(id);
  if (it == revisions_.end()) return NotFound("deployment " + id + " not found on the pool driver");
  return DeploymentPtr(std::make_shared<PoolDeployment>(weak_from_this(), it->second));
}

Result<ExecutorPtr> PoolCore::ExecutorFor(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = revisions_.find(id);
  if (it == revisions_.end()) return NotFound("deployment " + id + " not found on the pool driver");
  return ExecutorPtr(std::make_shared<PoolExecutor>(weak_from_this(), it->second));
}

DeploymentState PoolCore::StateOf(const RevisionPtr& revision) {
  std::lock_guard<std::mutex> lock(mu_);
  DeploymentState state;
  if (revision->undeployed) {
    state.message = "undeployed";
    return state;
  }
  if (revision->stdio) {
    state.replicas = revision->stdio->pgid.load() > 0 ? 1 : 0;
    state.ready = true;  // restarted on the next request if it exited
    return state;
  }
  state.replicas = static_cast<int>(revision->replicas.size());
  state.starting = revision->starting;
  state.queued = revision->waiters;
  for (const auto& w : revision->replicas) state.busy += w->in_flight;
  state.ready = state.replicas > 0 || revision->request.min_replicas == 0;
  if (!revision->last_failure.ok()) state.message = "last worker start failed: " + revision->last_failure.message();
  return state;
}

Status PoolCore::Undeploy(const RevisionPtr& revision) {
  std::vector<WorkerPtr> graveyard;
  {
    std::lock_guard<std::mutex> lock(mu_);
    revision->undeployed = true;
    graveyard = std::move(revision->replicas);
    revision->replicas.clear();
    auto it = revisions_.find(revision->request.id);
    if (it != revisions_.end() && it->second == revision) revisions_.erase(it);
    revision->cv.notify_all();
  }
  Bury(graveyard);
  if (revision->stdio) {
    // Kill first so an in-flight call returns, then take the lock and reap.
    if (pid_t pgid = revision->stdio->pgid.load(); pgid > 0) ::killpg(pgid, SIGKILL);
    revision->stdio->call_gate.Enter();
    GateGuard call_guard(revision->stdio->call_gate);
    revision->stdio->process.reset();
    revision->stdio->pgid = 0;
  }
  std::lock_guard<std::mutex> lock(undeploy_mu_);
  if (revision->cleaned) return Status::Ok();  // Undeploy is idempotent
  revision->cleaned = true;
  if (!revision->artifact_dir.empty()) ReleaseArtifact(revision->request.artifact);
  std::error_code ec;
  fs::remove_all(revision->home.parent_path(), ec);
  return Status::Ok();
}

// ---- maintenance ---------------------------------------------------------------------------

void PoolCore::MaintainOnce() {
  if (stopping_) return;
  std::vector<WorkerPtr> graveyard;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = Clock::now();
    for (auto& [name, pool] : environments_) {
      for (auto it = pool.warm.begin(); it != pool.warm.end();) {
        if ((*(*it)->process)->TryWait()) {
          graveyard.push_back(*it);
          it = pool.warm.erase(it);
        } else {
          ++it;
        }
      }
      RefillWarmLocked(pool);
    }
    for (auto& [id, revision] : revisions_) {
      if (revision->request.kind != WorkloadKind::kAgent) continue;
      auto& replicas = revision->replicas;
      for (auto it = replicas.begin(); it != replicas.end();) {
        if (!(*it)->dead && (*(*it)->process)->TryWait()) {
          (*it)->dead = true;
          graveyard.push_back(*it);
          it = replicas.erase(it);
        } else {
          ++it;
        }
      }
      int removable = static_cast<int>(replicas.size()) - revision->request.min_replicas;
      auto idle_timeout = revision->request.environment.idle_timeout;
      for (auto it = replicas.begin(); it != replicas.end() && removable > 0;) {
        if ((*it)->in_flight == 0 && now - (*it)->last_used >= idle_timeout) {
          graveyard.push_back(*it);
          it = replicas.erase(it);
          --removable;
        } else {
          ++it;
        }
      }
      while (static_cast<int>(replicas.size()) + revision->starting < revision->request.min_replicas) {
        int before = revision->starting;
        StartReplicaLocked(revision);
        if (revision->starting == before) break;
      }
      if (revision->waiters > 0) ScaleUpLocked(revision);
      revision->cv.notify_all();
    }
  }
  Bury(graveyard);
}

// ---- introspection -------------------------------------------------------------------------

std::vector<pid_t> PoolCore::WorkerPids(const std::string& deployment_id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<pid_t> pids;
  auto it = revisions_.find(deployment_id);
  if (it == revisions_.end()) return pids;
  for (const auto& w : it->second->replicas) pids.push_back(w->process->pid());
  if (it->second->stdio && it->second->stdio->pgid > 0) pids.push_back(it->second->stdio->pgid);
  return pids;
}

std::vector<pid_t> PoolCore::WarmWorkerPids(const std::string& environment) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<pid_t> pids;
  auto it = environments_.find(environment);
  if (it == environments_.end()) return pids;
  for (const auto& w : it->second.warm) pids.push_back(w->process->pid());
  return pids;
}

}  // namespace tuna::pool
