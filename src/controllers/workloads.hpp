#pragma once
// Private: the controllers of the build/deploy pipeline (AgentBuild, AgentDeployment and their MCP
// twins) and the glue they share. tuna::Server owns one WorkloadControllers.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "tuna/artifacts.hpp"
#include "tuna/controller.hpp"
#include "tuna/driver.hpp"
#include "tuna/events.hpp"
#include "tuna/resources/kinds.hpp"
#include "tuna/store.hpp"

namespace tuna::controllers {

/// One revision of one stage of an AgentDeployment.
struct AgentRevision {
  std::string namespace_;
  std::string name;      // the AgentDeployment
  std::string stage;     // "staging" | "production"
  std::string revision;  // the commit, or "src-<hash>"
};

struct ControllerContext {
  Store* store = nullptr;             // not owned
  DriverRegistry* drivers = nullptr;  // not owned
  EventRecorder* events = nullptr;    // not owned; may be null
  std::string default_driver = "pool";
  /// Poll interval for a running build (drivers do not push state changes yet).
  std::chrono::milliseconds build_poll{200};
  int workers = 2;
  /// Default generic worker for python* runtimes when an environment names no workerCommand:
  /// "<python> <runtimes_dir>/python/worker.py". Empty: no default.
  std::string python;
  std::string runtimes_dir;
  /// Issues the credentials of an agent revision the controllers are about to place, as extra
  /// environment variables of its workers (tuna::Server: TUNA_GATEWAY_URL and TUNA_API_KEY, an
  /// invoke key of the namespace). Its workers always get TUNA_NAMESPACE, TUNA_AGENT, TUNA_STAGE
  /// and TUNA_REVISION. Null: no credentials.
  std::function<Result<std::map<std::string, std::string>>(const AgentRevision& revision)> issue_agent_credentials;
  /// Revokes what issue_agent_credentials issued, when the revision is undeployed (or its
  /// placement failed). Null: nothing to revoke.
  std::function<void(const AgentRevision& revision)> revoke_agent_credentials;
};

/// Runs the AgentBuild, AgentDeployment, MCPServerBuild and MCPServerDeployment controllers.
class WorkloadControllers {
 public:
  virtual ~WorkloadControllers() = default;
  static Result<std::unique_ptr<WorkloadControllers>> Make(ControllerContext context);
  /// Starts informers and controllers; returns when the informers have synced.
  virtual Status Start() = 0;
  virtual void Stop() = 0;
  /// The executor serving `stage` ("staging"/"production") of a deployment of `kind`. While a
  /// canary runs (status.revisions.<stage>.previous set, spec.rollout.canaryPercent below 100) it
  /// splits: each call goes to the newest revision with probability canaryPercent/100, else to
  /// the previous one.
  /// The logs of a stage's current revision (Deployment::ReadLogs): what its workers wrote,
  /// at most `tail_bytes` per replica. NotFound / Unavailable like ExecutorForStage.
  virtual Result<std::string> LogsForStage(std::string_view kind, const std::string& ns, const std::string& name,
                                           std::string_view stage, std::size_t tail_bytes) = 0;
  virtual Result<ExecutorPtr> ExecutorForStage(std::string_view kind, const std::string& ns,
                                               const std::string& name, std::string_view stage) = 0;
  /// As above, but every call of the returned executor goes to the one revision `affinity_key`
  /// (an A2A task or context id, an MCP session id) hashes to, so a conversation does not flip
  /// between revisions while a canary runs; the same key gets the same revision on every call of
  /// this function as long as the percent and the revisions stay. An empty key: no pinning.
  virtual Result<ExecutorPtr> ExecutorForStage(std::string_view kind, const std::string& ns, const std::string& name,
                                               std::string_view stage, std::string_view affinity_key) {
    (void)affinity_key;  // implementations without a split have nothing to pin
    return ExecutorForStage(kind, ns, name, stage);
  }
};

// ---- helpers shared by the controllers (exposed for tests) ------------------------------------

/// Reads, mutates and writes an object's status; retried on Conflict. `mutate` returns false when
/// nothing changed (no write). Returns the object as stored afterwards.
Result<Resource> UpdateStatus(Store& store, const ObjectKey& key,
                              const std::function<Status(Resource& obj, bool& changed)>& mutate);

/// Sets (or replaces) a condition by type; lastTransitionTime changes only when status changes.
/// Returns true when anything changed.
bool SetCondition(std::vector<Condition>& conditions, Condition condition);

/// Bytes of a Kubernetes quantity ("512Mi", "1G", "1000"); error names the text.
Result<std::int64_t> ParseQuantityBytes(std::string_view text);

/// The driver-level description of an AgentEnvironment (defaults from `ctx`).
Result<EnvironmentSpec> ToEnvironmentSpec(const AgentEnvironment& env, const ControllerContext& ctx = {});

/// The default worker command for `runtime`, or "" when tuna ships none.
std::string DefaultWorkerCommand(std::string_view runtime, const ControllerContext& ctx);

/// A short stable hash of a source (what a build is for), used in names and labels.
std::string SourceHash(const Source& source);

}  // namespace tuna::controllers
