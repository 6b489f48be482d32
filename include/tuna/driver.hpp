#pragma once
/// Drivers place builds and revisions on a platform: the local process pool (embedded default),
/// Kubernetes, AWS Lambda. Controllers talk only to Driver, Build and Deployment; the gateway only
/// to Executor. A new driver is one folder under src/drivers/ and one registration line.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tuna/artifacts.hpp"
#include "tuna/status.hpp"

namespace tuna {

/// Resource limits applied to builds and workers.
struct ResourceLimits {
  std::int64_t memory_bytes = 0;     // 0: driver default
  std::int64_t cpu_seconds = 0;      // CPU time (builds); 0: default
  std::int64_t file_size_bytes = 0;  // largest file a process may write; 0: default
  std::int64_t max_processes = 0;    // 0: default
};

/// What a build or a worker runs in (from an AgentEnvironment).
struct EnvironmentSpec {
  std::string name;            // AgentEnvironment name
  std::string runtime;         // e.g. "python3.11", "process"
  std::string build_script;    // bash script run in the snapshot directory (see docs/drivers.md)
  std::string run_command;     // shell command starting a generic worker (worker protocol, docs/drivers.md)
  int pool_size = 1;           // warm generic workers kept ready
  bool fork_server = false;    // run_command speaks the fork-server protocol: workers are forks of one process (docs/drivers.md)
  std::chrono::seconds idle_timeout{300};
  ResourceLimits limits;
  std::map<std::string, std::string> env;
};

// ---- builds ------------------------------------------------------------------------------------

struct BuildRequest {
  std::string id;              // unique and stable: "<namespace>/<build name>/<uid>"
  Digest source;               // snapshot archive (tar or tar.gz) in the artifact store
  EnvironmentSpec environment;
  std::chrono::seconds time_limit{600};
};

enum class BuildJobPhase { kPending, kRunning, kSucceeded, kFailed };
std::string_view BuildJobPhaseName(BuildJobPhase phase);

struct BuildState {
  BuildJobPhase phase = BuildJobPhase::kPending;
  Digest artifact;             // set when Succeeded: the output archive
  std::string reason;          // machine-readable when Failed: "ExitCode", "DeadlineExceeded", ...
  std::string message;         // human-readable
  std::string log_tail;        // last lines of the log (always, terminal or not)
  std::chrono::system_clock::time_point start_time{};
  std::chrono::system_clock::time_point completion_time{};
};

/// A build running on a driver.
class Build {
 public:
  virtual ~Build() = default;
  virtual const std::string& id() const = 0;
  virtual BuildState State() = 0;
  /// Reads the build log from `offset`; returns what is there now (empty at the end).
  virtual Result<std::string> ReadLog(std::size_t offset) = 0;
  /// Stops the build; its phase becomes Failed with reason "Cancelled".
  virtual Status Cancel() = 0;
};
using BuildPtr = std::shared_ptr<Build>;

// ---- deployments -------------------------------------------------------------------------------

enum class WorkloadKind { kAgent, kMcpServer };

struct DeployRequest {
  std::string id;              // unique: "<namespace>/<deployment>/<stage>/<revision>"
  WorkloadKind kind = WorkloadKind::kAgent;
  Digest artifact;             // built archive
  EnvironmentSpec environment;
  std::string entrypoint;      // module:attr, script, or command (environment decides)
  std::vector<std::string> command;  // for stdio MCP servers: argv
  std::map<std::string, std::string> env;
  int max_concurrency = 8;     // in-flight requests per worker
  int max_replicas = 4;
  int min_replicas = 0;        // 0: scale to zero when idle
};

struct DeploymentState {
  bool ready = false;
  int replicas = 0;            // workers serving the revision
  int busy = 0;                // requests in flight
  std::string message;
  int starting = 0;            // workers being started or specialized for it
  int queued = 0;              // requests waiting for a free worker
};

/// One revision placed on a driver.
class Deployment {
 public:
  virtual ~Deployment() = default;
  virtual const std::string& id() const = 0;
  virtual DeploymentState State() = 0;
  /// Stops every worker of the revision and removes its files. Idempotent.
  virtual Status Undeploy() = 0;
  /// What the revision's processes wrote (stdout and stderr: a runtime's structured log lines),
  /// at most the last `tail_bytes` of each replica, each under a "==> worker N <==" heading.
  virtual Result<std::string> ReadLogs(std::size_t tail_bytes) {
    (void)tail_bytes;
    return Unimplemented("this driver keeps no logs of deployments");
  }
};
using DeploymentPtr = std::shared_ptr<Deployment>;

// ---- executors ---------------------------------------------------------------------------------

struct InvokeRequest {
  std::string method = "POST";
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{30000};
  /// Streaming: when set, the response body is handed over piece by piece as it arrives (chunked
  /// framing removed) instead of being collected in InvokeResponse::body. Returning false stops
  /// the call: the connection to the worker is closed, which the worker sees as cancellation,
  /// and Invoke returns kCancelled. Called on the invoking thread.
  std::function<bool(std::string_view piece)> on_body;
  /// When set, asked every 50 ms while waiting for the worker; true stops the call the same way
  /// (a handler that is silent can still be cancelled).
  std::function<bool()> cancelled;
  /// stdio MCP servers: each JSON-RPC notification the server writes while this request runs
  /// (notifications/progress, notifications/message), in order, on the invoking thread. Null:
  /// they are skipped.
  std::function<void(std::string_view message)> on_notification;
};

struct InvokeResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

/// Invokes one deployed thing over the worker protocol (HTTP); InvokeRequest::on_body streams.
class Executor {
 public:
  virtual ~Executor() = default;
  /// One request/response round trip to a worker of the revision (starting one if needed).
  virtual Result<InvokeResponse> Invoke(const InvokeRequest& request) = 0;
};
using ExecutorPtr = std::shared_ptr<Executor>;

// ---- drivers -----------------------------------------------------------------------------------

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string_view name() const = 0;
  /// Prepares an environment (pool: keeps `pool_size` generic workers warm). Idempotent; a
  /// changed spec replaces what was prepared. Deploy prepares its environment too.
  virtual Status EnsureEnvironment(const EnvironmentSpec& /*environment*/) { return Status::Ok(); }
  /// Releases what EnsureEnvironment prepared (deployed revisions keep running). Idempotent.
  virtual Status RemoveEnvironment(std::string_view /*name*/) { return Status::Ok(); }
  /// Starts a build; returns at once. A second call with the same id returns the same build.
  virtual Result<BuildPtr> StartBuild(const BuildRequest& request) = 0;
  /// Finds a build started earlier (NotFound if the driver lost it, e.g. after a restart).
  virtual Result<BuildPtr> FindBuild(const std::string& id) = 0;
  /// Places a revision; returns once it can take requests (warm) or fails.
  virtual Result<DeploymentPtr> Deploy(const DeployRequest& request) = 0;
  /// Finds a deployment placed earlier (NotFound if absent).
  virtual Result<DeploymentPtr> FindDeployment(const std::string& id) = 0;
  /// An executor for a deployed revision.
  virtual Result<ExecutorPtr> ExecutorFor(const std::string& deployment_id) = 0;
  /// Stops everything the driver runs (server shutdown).
  virtual void Shutdown() = 0;
};
using DriverPtr = std::unique_ptr<Driver>;

/// Named drivers; an object, not a global. A duplicate name is AlreadyExists.
class DriverRegistry {
 public:
  Status Register(DriverPtr driver);
  Driver* Find(std::string_view name) const;
  std::vector<std::string> Names() const;
  void ShutdownAll();

 private:
  std::vector<DriverPtr> drivers_;
};

struct PoolDriverOptions {
  std::filesystem::path work_dir;       // builds/, workers/, artifacts/ live here (created)
  ArtifactStore* artifacts = nullptr;   // not owned; required; must outlive the driver
  bool use_bubblewrap = true;           // when `bwrap_path` exists
  std::filesystem::path bwrap_path = "/usr/bin/bwrap";
  bool build_network = false;           // builds get no network unless set (workers always do)
  int max_concurrent_builds = 2;
  std::size_t log_tail_lines = 40;
  int manager_threads = 2;              // threads starting and specializing workers
  std::chrono::milliseconds worker_start_timeout{30000};   // start + healthy + specialized
  std::chrono::milliseconds maintenance_interval{250};     // crash detection, idle reaping, refill
  /// Hidden from builds and workers under bubblewrap, like the work dir itself: the server's data
  /// directory (store, keys), the artifact store's directory.
  std::vector<std::filesystem::path> hidden_paths;
};

/// The local warm process pool.
Result<DriverPtr> MakePoolDriver(PoolDriverOptions options);

}  // namespace tuna
