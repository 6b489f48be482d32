// The build/deploy pipeline: AgentBuild and MCPServerBuild follow their driver build jobs;
// AgentDeployment and MCPServerDeployment create builds when a stage's source changes, deploy
// succeeded builds as the stage's revision and keep the last good revision serving on failure.
// All reconcilers are level-triggered: they read the store and the driver, never their own memory,
// so they resume after a restart from the store alone.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "controllers/split_executor.hpp"
#include "controllers/workloads.hpp"
#include "tuna/admission.hpp"

namespace tuna::controllers {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kLabelDeployment = "tuna.ai/deployment";
constexpr std::string_view kLabelTarget = "tuna.ai/build-target";
constexpr std::string_view kLabelSourceHash = "tuna.ai/source-hash";
constexpr BuildTarget kTargets[] = {BuildTarget::kStaging, BuildTarget::kProduction};

// Grace beyond a build's time limit before the controller itself gives up on the driver.
constexpr auto kDeadlineGrace = std::chrono::seconds(30);

std::string BuildJobId(const Resource& build) {
  return build.metadata.namespace_ + "/" + build.metadata.name + "/" + build.metadata.uid;
}

std::string RevisionName(const Source& s) { return s.commit.empty() ? "src-" + SourceHash(s) : s.commit; }

std::string DeploymentJobId(const std::string& ns, const std::string& name, BuildTarget target,
                            const std::string& revision) {
  return ns + "/" + name + "/" + std::string(ToString(target)) + "/" + revision;
}

std::chrono::system_clock::time_point ParseRfc3339(const std::string& text) {
  std::tm tm{};
  if (text.empty() || strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) == nullptr) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// The driver's time, or now when it has none.
std::string FormatRfc3339(std::chrono::system_clock::time_point tp) {
  return tp == std::chrono::system_clock::time_point{} ? NowRfc3339() : ToRfc3339(tp);
}

// Kind-specific facts of the two pipelines.
template <class DeploymentT, class BuildT>
struct Pipeline;

template <>
struct Pipeline<AgentDeployment, AgentBuild> {
  static constexpr std::string_view kDeploymentKind = "AgentDeployment";
  static constexpr std::string_view kBuildKind = "AgentBuild";
  static constexpr WorkloadKind kWorkload = WorkloadKind::kAgent;
  static std::optional<Source> BuildSource(const AgentBuild& b) { return b.spec.source; }
  static std::optional<std::int64_t> TimeLimit(const AgentBuild& b) { return b.spec.time_limit_seconds; }
  static BuildTarget Target(const AgentBuild& b) { return b.spec.build_target; }
  // The source a stage wants, or nullopt when the stage is not declared.
  static std::optional<Source> StageSource(const AgentDeployment& d, BuildTarget t) {
    const auto& stage = t == BuildTarget::kStaging ? d.spec.stages.staging : d.spec.stages.production;
    if (!stage) return std::nullopt;
    return stage->source;
  }
  static bool NeedsBuild(const AgentDeployment&, BuildTarget) { return true; }
  static void FillDeploy(const AgentDeployment& d, BuildTarget t, DeployRequest& req) {
    const auto& stage = t == BuildTarget::kStaging ? d.spec.stages.staging : d.spec.stages.production;
    req.kind = WorkloadKind::kAgent;
    req.entrypoint = (stage && !stage->entrypoint.empty()) ? stage->entrypoint : d.spec.entrypoint;
    req.env = d.spec.env;
    if (stage) {
      for (const auto& [k, v] : stage->env) req.env[k] = v;
    }
  }
  static Resource NewBuild(const AgentDeployment& d, BuildTarget t, const Source& src, std::optional<std::int64_t> limit) {
    AgentBuild b;
    b.spec.build_target = t;
    b.spec.source = src;
    b.spec.time_limit_seconds = limit;
    return b.ToResource();
  }
};

template <>
struct Pipeline<MCPServerDeployment, MCPServerBuild> {
  static constexpr std::string_view kDeploymentKind = "MCPServerDeployment";
  static constexpr std::string_view kBuildKind = "MCPServerBuild";
  static constexpr WorkloadKind kWorkload = WorkloadKind::kMcpServer;
  static std::optional<Source> BuildSource(const MCPServerBuild& b) { return b.spec.source; }
  static std::optional<std::int64_t> TimeLimit(const MCPServerBuild& b) { return b.spec.time_limit_seconds; }
  static BuildTarget Target(const MCPServerBuild& b) { return b.spec.build_target; }
  static const std::optional<McpStage>& Stage(const MCPServerDeployment& d, BuildTarget t) {
    return t == BuildTarget::kStaging ? d.spec.stages.staging : d.spec.stages.production;
  }
  static std::optional<Source> StageSource(const MCPServerDeployment& d, BuildTarget t) {
    const auto& stage = Stage(d, t);
    if (!stage) return std::nullopt;
    if (stage->source) return stage->source;
    // A package or a plain command: the "source" is the server definition itself.
    Source s;
    if (stage->package) {
      s.repo = std::string(ToString(stage->package->manager)) + ":" + stage->package->name;
      s.ref = stage->package->version;
    }
    if (d.spec.server.stdio) {
      s.path = d.spec.server.stdio->command;
      for (const auto& a : d.spec.server.stdio->args) s.path += " " + a;
    }
    return s;
  }
  static bool NeedsBuild(const MCPServerDeployment& d, BuildTarget t) {
    const auto& stage = Stage(d, t);
    return stage && stage->source.has_value();
  }
  static void FillDeploy(const MCPServerDeployment& d, BuildTarget, DeployRequest& req) {
    req.kind = WorkloadKind::kMcpServer;
    if (d.spec.server.stdio) {
      req.command.push_back(d.spec.server.stdio->command);
      for (const auto& a : d.spec.server.stdio->args) req.command.push_back(a);
      req.env = d.spec.server.stdio->env;
    }
  }
  static Resource NewBuild(const MCPServerDeployment&, BuildTarget t, const Source& src, std::optional<std::int64_t> limit) {
    MCPServerBuild b;
    b.spec.build_target = t;
    b.spec.source = src;
    b.spec.time_limit_seconds = limit;
    return b.ToResource();
  }
};

// A new revision of a stage runs beside the previous one (a canary) while the rollout asks for
// less than all of the traffic; absent or 100 means replace at once.
bool IsCanary(const Rollout& r) { return r.canary_percent && *r.canary_percent < 100; }

// External HTTP MCP servers are not placed on a driver: the gateway talks to the URL.
bool IsExternal(const AgentDeployment&) { return false; }
bool IsExternal(const MCPServerDeployment& d) { return d.spec.server.http && !d.spec.server.http->url.empty(); }

class WorkloadControllersImpl final : public WorkloadControllers {
 public:
  explicit WorkloadControllersImpl(ControllerContext ctx) : ctx_(ctx) {}
  ~WorkloadControllersImpl() override { Stop(); }

  Status Start() override {
    Store& store = *ctx_.store;
    auto informer = [&](std::string_view kind) {
      InformerOptions o;
      o.kind = std::string(kind);
      informers_.push_back(std::make_unique<Informer>(store, o));
      return informers_.back().get();
    };
    environments_ = informer("AgentEnvironment");
    Informer* agent_deployments = informer("AgentDeployment");
    Informer* agent_builds = informer("AgentBuild");
    Informer* mcp_deployments = informer("MCPServerDeployment");
    Informer* mcp_builds = informer("MCPServerBuild");

    ControllerOptions copts;
    copts.workers = ctx_.workers;
    copts.name = "agentbuild";
    auto* ab = AddController(copts, [this](const ObjectKey& k) { return ReconcileBuild<AgentDeployment, AgentBuild>(k); });
    ab->Watches(*agent_builds);
    copts.name = "mcpserverbuild";
    auto* mb = AddController(copts, [this](const ObjectKey& k) { return ReconcileBuild<MCPServerDeployment, MCPServerBuild>(k); });
    mb->Watches(*mcp_builds);

    copts.name = "agentenvironment";
    auto* ae = AddController(copts, [this](const ObjectKey& k) { return ReconcileEnvironment(k); });
    ae->Watches(*environments_);

    copts.name = "agentdeployment";
    auto* ad = AddController(copts, [this](const ObjectKey& k) { return ReconcileDeployment<AgentDeployment, AgentBuild>(k); });
    ad->Watches(*agent_deployments);
    ad->WatchesMapped(*agent_builds, [](const Resource& b) { return OwnerKey(b, "AgentDeployment"); });
    WatchEnvironments(*ad, agent_deployments);
    copts.name = "mcpserverdeployment";
    auto* md = AddController(copts, [this](const ObjectKey& k) { return ReconcileDeployment<MCPServerDeployment, MCPServerBuild>(k); });
    md->Watches(*mcp_deployments);
    md->WatchesMapped(*mcp_builds, [](const Resource& b) { return OwnerKey(b, "MCPServerDeployment"); });
    WatchEnvironments(*md, mcp_deployments);

    for (auto& i : informers_) i->Start();
    for (auto& i : informers_) {
      if (!i->WaitForSync(std::chrono::seconds(30))) return Unavailable("informer " + i->options().kind + " did not sync");
    }
    for (auto& c : controllers_) c->Start();
    return Status::Ok();
  }

  void Stop() override {
    for (auto& c : controllers_) c->Stop();
    for (auto& i : informers_) i->Stop();
  }

  Result<ExecutorPtr> ExecutorForStage(std::string_view kind, const std::string& ns, const std::string& name,
                                       std::string_view stage) override {
    return ExecutorForStage(kind, ns, name, stage, std::string_view());
  }

  Result<std::string> LogsForStage(std::string_view kind, const std::string& ns, const std::string& name, std::string_view stage,
                                   std::size_t tail_bytes) override {
    TUNA_ASSIGN_OR_RETURN(StageTarget t, ResolveStage(kind, ns, name, stage));
    TUNA_ASSIGN_OR_RETURN(DeploymentPtr deployment,
                          t.driver->FindDeployment(DeploymentJobId(ns, name, t.target, t.revision.revision)));
    return deployment->ReadLogs(tail_bytes);
  }

  // A stage of an AgentDeployment or MCPServerDeployment and where its newest revision runs.
  struct StageTarget {
    BuildTarget target = BuildTarget::kStaging;
    StageRevision revision;
    Rollout rollout;
    Driver* driver = nullptr;
  };

  Result<StageTarget> ResolveStage(std::string_view kind, const std::string& ns, const std::string& name, std::string_view stage) {
    auto target = ParseEnum<BuildTarget>(stage);
    if (!target) return InvalidArgument("unknown stage \"" + std::string(stage) + "\" (expected staging or production)", "stage");
    TUNA_ASSIGN_OR_RETURN(Resource r, ctx_.store->Get({std::string(kind), ns, name}));
    DeploymentStatus status;
    StageTarget out;
    out.target = *target;
    std::string env_name;
    if (kind == "AgentDeployment") {
      TUNA_ASSIGN_OR_RETURN(auto d, AgentDeployment::FromResource(r));
      status = d.status;
      out.rollout = d.spec.rollout;
      env_name = d.spec.environment_name;
    } else if (kind == "MCPServerDeployment") {
      TUNA_ASSIGN_OR_RETURN(auto d, MCPServerDeployment::FromResource(r));
      status = d.status;
      out.rollout = d.spec.rollout;
      env_name = d.spec.environment_name;
    } else {
      return InvalidArgument("kind " + std::string(kind) + " has no stages");
    }
    out.revision = *target == BuildTarget::kStaging ? status.revisions.staging : status.revisions.production;
    if (out.revision.revision.empty()) {
      return Unavailable(std::string(kind) + " " + ns + "/" + name + " has no " + std::string(stage) + " revision deployed yet");
    }
    TUNA_ASSIGN_OR_RETURN(out.driver, DriverForEnvironment(ns, env_name));
    return out;
  }

  Result<ExecutorPtr> ExecutorForStage(std::string_view kind, const std::string& ns, const std::string& name,
                                       std::string_view stage, std::string_view affinity_key) override {
    TUNA_ASSIGN_OR_RETURN(StageTarget t, ResolveStage(kind, ns, name, stage));
    const StageRevision& rev = t.revision;
    const Rollout& rollout = t.rollout;
    Driver* driver = t.driver;
    TUNA_ASSIGN_OR_RETURN(ExecutorPtr newest, driver->ExecutorFor(DeploymentJobId(ns, name, t.target, rev.revision)));
    // The spec's percent is read on every call, so a change applies before the controller has
    // reconciled it; a previous revision with no canary percent is being promoted right now.
    if (!rev.previous || !IsCanary(rollout)) return newest;
    auto previous = driver->ExecutorFor(DeploymentJobId(ns, name, t.target, rev.previous->revision));
    if (!previous.ok()) return newest;  // retired (or not placed again yet): the newest serves alone
    SplitExecutor::Options split;
    split.stable = std::move(*previous);
    split.canary = std::move(newest);
    split.canary_percent = *rollout.canary_percent;
    split.affinity_key = std::string(affinity_key);
    return ExecutorPtr(std::make_shared<SplitExecutor>(std::move(split)));
  }

 private:
  void Event(const ObjectKey& key, std::string type, std::string reason, std::string message) {
    if (ctx_.events != nullptr) ctx_.events->Record(key, std::move(type), std::move(reason), std::move(message));
  }

  Controller* AddController(const ControllerOptions& o, Reconciler r) {
    controllers_.push_back(std::make_unique<Controller>(o, std::move(r)));
    return controllers_.back().get();
  }

  // An environment change re-reconciles every deployment that uses it.
  void WatchEnvironments(Controller& c, Informer* deployments) {
    InformerHandlers h;
    auto enqueue = [&c, deployments](const Resource& env) {
      for (const auto& d : deployments->List()) {
        if (d.metadata.namespace_ != env.metadata.namespace_) continue;
        const auto* name = d.spec.is_object() ? d.spec.get_object().if_contains("environmentName") : nullptr;
        if (name && name->is_string() && name->get_string() == env.metadata.name) c.queue().Add(KeyOf(d));
      }
    };
    h.on_add = enqueue;
    h.on_update = [enqueue](const Resource&, const Resource& n) { enqueue(n); };
    h.on_delete = enqueue;
    environments_->AddHandlers(std::move(h));
  }

  Result<AgentEnvironment> GetEnvironment(const std::string& ns, const std::string& name) {
    TUNA_ASSIGN_OR_RETURN(Resource r, ctx_.store->Get({"AgentEnvironment", ns, name}));
    return AgentEnvironment::FromResource(r);
  }

  Result<Driver*> DriverFor(const AgentEnvironment& env) {
    std::string name = env.spec.driver ? std::string(ToString(*env.spec.driver)) : ctx_.default_driver;
    Driver* d = ctx_.drivers->Find(name);
    if (d == nullptr) return FailedPrecondition("driver \"" + name + "\" is not available in this server");
    return d;
  }

  Result<Driver*> DriverForEnvironment(const std::string& ns, const std::string& env_name) {
    if (env_name.empty()) {
      Driver* d = ctx_.drivers->Find(ctx_.default_driver);
      if (d == nullptr) return FailedPrecondition("driver \"" + ctx_.default_driver + "\" is not available");
      return d;
    }
    TUNA_ASSIGN_OR_RETURN(auto env, GetEnvironment(ns, env_name));
    return DriverFor(env);
  }

  // ---- environments ----------------------------------------------------------------------------

  // Keeps the environment's warm pool on its driver (before any deployment needs it) and releases
  // it when the environment is deleted.
  Result<ReconcileResult> ReconcileEnvironment(const ObjectKey& key) {
    auto got = ctx_.store->Get(key);
    const std::string pool_name = key.namespace_ + "/" + key.name;
    if (!got.ok()) {
      if (got.status().code() != StatusCode::kNotFound) return got.status();
      for (const auto& name : ctx_.drivers->Names()) (void)ctx_.drivers->Find(name)->RemoveEnvironment(pool_name);
      return ReconcileResult{};
    }
    TUNA_ASSIGN_OR_RETURN(AgentEnvironment env, AgentEnvironment::FromResource(*got));
    Condition ready{.type = "Ready", .status = ConditionStatus::kTrue, .reason = "PoolReady",
                    .message = "workers are kept warm", .observed_generation = env.metadata.generation};
    auto driver = DriverFor(env);
    Status prepared = driver.ok() ? Status::Ok() : driver.status();
    if (prepared.ok()) {
      auto spec = ToEnvironmentSpec(env, ctx_);
      prepared = spec.ok() ? (*driver)->EnsureEnvironment(*spec) : spec.status();
    }
    if (!prepared.ok()) {
      ready.status = ConditionStatus::kFalse;
      ready.reason = "PoolFailed";
      ready.message = prepared.message();
    } else if (DefaultWorkerCommand(env.spec.runtime, ctx_).empty() && env.spec.worker_command.empty()) {
      ready.reason = "NoWorkerCommand";
      ready.message = "no generic worker for runtime " + env.spec.runtime + ": workers start per revision";
    }
    auto st = UpdateStatus(*ctx_.store, key, [&](Resource& obj, bool& changed) -> Status {
      TUNA_ASSIGN_OR_RETURN(AgentEnvironment e, AgentEnvironment::FromResource(obj));
      AgentEnvironmentStatus before = e.status;
      e.status.observed_generation = env.metadata.generation;
      SetCondition(e.status.conditions, ready);
      changed = !(before == e.status);
      if (changed) obj.status = e.ToResource().status;
      return Status::Ok();
    });
    if (!st.ok()) return st.status();
    if (!prepared.ok()) return prepared;  // retried with backoff
    return ReconcileResult{};
  }

  // ---- builds ----------------------------------------------------------------------------------

  template <class DeploymentT, class BuildT>
  Result<ReconcileResult> ReconcileBuild(const ObjectKey& key) {
    using P = Pipeline<DeploymentT, BuildT>;
    auto got = ctx_.store->Get(key);
    if (!got.ok()) {
      if (got.status().code() == StatusCode::kNotFound) return ReconcileResult{};
      return got.status();
    }
    const Resource& raw = *got;
    TUNA_ASSIGN_OR_RETURN(BuildT build, BuildT::FromResource(raw));
    auto owner = OwnerKey(raw, P::kDeploymentKind);
    BuildTarget target = P::Target(build);

    if (IsTerminal(build.status.EffectivePhase())) {
      if (owner) TUNA_RETURN_IF_ERROR(ReleaseClaim(*owner, target, key.name));
      return ReconcileResult{};
    }
    auto fail = [&](std::string reason, std::string message, std::string log_tail = {}) -> Result<ReconcileResult> {
      auto st = UpdateStatus(*ctx_.store, key, [&](Resource& obj, bool& changed) -> Status {
        TUNA_ASSIGN_OR_RETURN(BuildT b, BuildT::FromResource(obj));
        if (IsTerminal(b.status.EffectivePhase())) return Status::Ok();
        b.status.phase = BuildPhase::kFailed;
        b.status.reason = reason;
        b.status.message = message;
        if (!log_tail.empty()) b.status.log_tail = log_tail;
        if (b.status.start_time.empty()) b.status.start_time = NowRfc3339();
        b.status.completion_time = NowRfc3339();
        SetCondition(b.status.conditions, {.type = "Succeeded", .status = ConditionStatus::kFalse, .reason = reason,
                                           .message = message, .observed_generation = b.metadata.generation});
        obj.status = b.ToResource().status;
        changed = true;
        return Status::Ok();
      });
      if (!st.ok()) return st.status();
      spdlog::info("{} {}/{} failed: {}: {}", P::kBuildKind, key.namespace_, key.name, reason, message);
      Event(key, "Warning", reason, message);
      if (owner) TUNA_RETURN_IF_ERROR(ReleaseClaim(*owner, target, key.name));
      return ReconcileResult{};
    };

    if (!owner) return fail("OwnerMissing", "the build has no " + std::string(P::kDeploymentKind) + " owner");
    auto dep_raw = ctx_.store->Get(*owner);
    if (!dep_raw.ok()) {
      if (dep_raw.status().code() == StatusCode::kNotFound) return ReconcileResult{};  // cascade deletes us
      return dep_raw.status();
    }
    TUNA_ASSIGN_OR_RETURN(DeploymentT dep, DeploymentT::FromResource(*dep_raw));
    auto env = GetEnvironment(key.namespace_, dep.spec.environment_name);
    if (!env.ok()) {
      return fail("EnvironmentNotFound", "AgentEnvironment " + key.namespace_ + "/" + dep.spec.environment_name + ": " +
                                             env.status().message());
    }
    auto driver_or = DriverFor(*env);
    if (!driver_or.ok()) return fail("DriverUnavailable", driver_or.status().message());
    Driver* driver = *driver_or;
    const std::string job_id = BuildJobId(raw);
    std::int64_t limit_s = P::TimeLimit(build).value_or(env->spec.build_time_limit_seconds.value_or(600));

    if (build.status.EffectivePhase() == BuildPhase::kPending) {
      auto source = P::BuildSource(build);
      if (!source || !IsValidDigest(source->archive)) {
        return fail("SourceUnavailable",
                    "spec.source.archive must name a snapshot in the artifact store (sha256:...); local file: "
                    "sources are uploaded by `tuna apply`, git sources by a push to the git endpoint");
      }
      TUNA_ASSIGN_OR_RETURN(auto env_spec, ToEnvironmentSpec(*env, ctx_));
      BuildRequest req;
      req.id = job_id;
      req.source = source->archive;
      req.environment = std::move(env_spec);
      req.time_limit = std::chrono::seconds(limit_s);
      auto started = driver->StartBuild(req);
      if (!started.ok()) return fail("DriverError", started.status().message());
      auto st = UpdateStatus(*ctx_.store, key, [&](Resource& obj, bool& changed) -> Status {
        TUNA_ASSIGN_OR_RETURN(BuildT b, BuildT::FromResource(obj));
        if (b.status.EffectivePhase() != BuildPhase::kPending) return Status::Ok();
        b.status.phase = BuildPhase::kScheduled;
        b.status.start_time = NowRfc3339();
        SetCondition(b.status.conditions, {.type = "Scheduled", .status = ConditionStatus::kTrue, .reason = "Scheduled",
                                           .message = "started on driver " + std::string(driver->name()),
                                           .observed_generation = b.metadata.generation});
        obj.status = b.ToResource().status;
        changed = true;
        return Status::Ok();
      });
      if (!st.ok()) return st.status();
      Event(key, "Normal", "Started", "build job started on driver " + std::string(driver->name()));
      return ReconcileResult{ctx_.build_poll};
    }

    // Scheduled or Running: follow the driver's job.
    auto job = driver->FindBuild(job_id);
    if (!job.ok()) {
      if (job.status().code() == StatusCode::kNotFound) {
        return fail("BuildLost", "the driver no longer knows this build (was tuna server restarted mid-build?)");
      }
      return job.status();
    }
    BuildState state = (*job)->State();
    auto started_at = ParseRfc3339(build.status.start_time);
    if (state.phase != BuildJobPhase::kSucceeded && state.phase != BuildJobPhase::kFailed &&
        started_at != std::chrono::system_clock::time_point{} &&
        std::chrono::system_clock::now() > started_at + std::chrono::seconds(limit_s) + kDeadlineGrace) {
      (void)(*job)->Cancel();
      return fail("TimeLimitExceeded", "the build ran past its time limit of " + std::to_string(limit_s) + "s",
                  state.log_tail);
    }
    if (state.phase == BuildJobPhase::kFailed) {
      std::string reason = state.reason.empty() ? "BuildFailed" : state.reason;
      if (reason == "DeadlineExceeded") reason = "TimeLimitExceeded";
      return fail(reason, state.message.empty() ? "the build failed" : state.message, state.log_tail);
    }
    auto st = UpdateStatus(*ctx_.store, key, [&](Resource& obj, bool& changed) -> Status {
      TUNA_ASSIGN_OR_RETURN(BuildT b, BuildT::FromResource(obj));
      if (IsTerminal(b.status.EffectivePhase())) return Status::Ok();
      BuildStatus before = b.status;
      if (state.phase == BuildJobPhase::kRunning) b.status.phase = BuildPhase::kRunning;
      if (state.phase == BuildJobPhase::kSucceeded) {
        b.status.phase = BuildPhase::kSucceeded;
        b.status.artifact_digest = state.artifact;
        b.status.completion_time = FormatRfc3339(state.completion_time);
        b.status.reason = "Succeeded";
        b.status.message = "built " + state.artifact;
        SetCondition(b.status.conditions, {.type = "Succeeded", .status = ConditionStatus::kTrue, .reason = "Succeeded",
                                           .message = b.status.message, .observed_generation = b.metadata.generation});
      }
      b.status.log_tail = state.log_tail;
      changed = !(before == b.status);
      if (changed) obj.status = b.ToResource().status;
      return Status::Ok();
    });
    if (!st.ok()) return st.status();
    if (state.phase == BuildJobPhase::kSucceeded) {
      Event(key, "Normal", "Succeeded", "built " + state.artifact);
      TUNA_RETURN_IF_ERROR(ReleaseClaim(*owner, target, key.name));
      return ReconcileResult{};
    }
    return ReconcileResult{ctx_.build_poll};
  }

  Status ReleaseClaim(const ObjectKey& owner, BuildTarget target, const std::string& build_name) {
    auto r = UpdateStatus(*ctx_.store, owner, [&](Resource& obj, bool& changed) -> Status {
      if (!obj.status.is_object()) return Status::Ok();
      auto* cb = obj.status.get_object().if_contains("currentBuilds");
      if (cb == nullptr || !cb->is_object()) return Status::Ok();
      auto& m = cb->get_object();
      auto* current = m.if_contains(ToString(target));
      if (current == nullptr || !current->is_string() || current->get_string() != build_name) return Status::Ok();
      m.erase(ToString(target));
      if (m.empty()) obj.status.get_object().erase("currentBuilds");
      changed = true;
      return Status::Ok();
    });
    if (!r.ok() && r.status().code() == StatusCode::kNotFound) return Status::Ok();
    return r.status();
  }

  // ---- deployments -----------------------------------------------------------------------------

  template <class DeploymentT, class BuildT>
  Result<ReconcileResult> ReconcileDeployment(const ObjectKey& key) {
    using P = Pipeline<DeploymentT, BuildT>;
    auto got = ctx_.store->Get(key);
    if (!got.ok()) {
      if (got.status().code() != StatusCode::kNotFound) return got.status();
      UndeployAll(key);
      if (ctx_.events != nullptr) ctx_.events->Forget(key);
      return ReconcileResult{};
    }
    TUNA_ASSIGN_OR_RETURN(DeploymentT dep, DeploymentT::FromResource(*got));
    const std::int64_t generation = dep.metadata.generation;

    DeploymentStatus next = dep.status;
    std::optional<milliseconds> requeue;
    bool pending[2] = {false, false};
    bool deployed[2] = {false, false};

    if (IsExternal(dep)) {
      next.phase = dep.spec.stages.production ? DeploymentPhase::kProductionDeployed : DeploymentPhase::kStagingDeployed;
      SetCondition(next.conditions, {.type = "Ready", .status = ConditionStatus::kTrue, .reason = "External",
                                     .message = "served by its own URL", .observed_generation = generation});
      return WriteDeploymentStatus<DeploymentT>(key, next, generation, requeue);
    }

    Result<AgentEnvironment> env = NotFound("no environment");
    if (!dep.spec.environment_name.empty()) env = GetEnvironment(key.namespace_, dep.spec.environment_name);
    Driver* driver = nullptr;
    if (env.ok()) {
      auto d = DriverFor(*env);
      if (!d.ok()) {
        SetCondition(next.conditions, {.type = "Ready", .status = ConditionStatus::kFalse, .reason = "DriverUnavailable",
                                       .message = d.status().message(), .observed_generation = generation});
        return WriteDeploymentStatus<DeploymentT>(key, next, generation, milliseconds(5000));
      }
      driver = *d;
    } else if (!dep.spec.environment_name.empty() || P::kWorkload == WorkloadKind::kAgent) {
      SetCondition(next.conditions, {.type = "Ready", .status = ConditionStatus::kFalse, .reason = "EnvironmentNotFound",
                                     .message = "AgentEnvironment " + key.namespace_ + "/" + dep.spec.environment_name +
                                                " does not exist",
                                     .observed_generation = generation});
      return WriteDeploymentStatus<DeploymentT>(key, next, generation, requeue);
    } else {
      driver = ctx_.drivers->Find(ctx_.default_driver);
      if (driver == nullptr) return FailedPrecondition("default driver \"" + ctx_.default_driver + "\" is not available");
    }

    // Builds owned by this deployment.
    ListOptions lo;
    lo.kind = std::string(P::kBuildKind);
    lo.namespace_ = key.namespace_;
    lo.label_selector = std::string(kLabelDeployment) + "=" + key.name;
    TUNA_ASSIGN_OR_RETURN(ResourceList builds_list, ctx_.store->List(lo));
    std::vector<BuildT> builds;
    for (const auto& r : builds_list.items) {
      bool owned = std::any_of(r.metadata.owner_references.begin(), r.metadata.owner_references.end(),
                               [&](const OwnerReference& o) { return o.uid == dep.metadata.uid; });
      if (!owned) continue;
      auto b = BuildT::FromResource(r);
      if (b.ok()) builds.push_back(std::move(*b));
    }
    std::sort(builds.begin(), builds.end(), [](const BuildT& a, const BuildT& b) {
      return a.metadata.creation_timestamp != b.metadata.creation_timestamp
                 ? a.metadata.creation_timestamp > b.metadata.creation_timestamp
                 : std::stoll(a.metadata.resource_version) > std::stoll(b.metadata.resource_version);
    });

    std::string build_error;
    std::string canary_end_reason = "Promoted";  // why a Canary condition ends: Promoted, RolledBack, StageRemoved
    for (BuildTarget target : kTargets) {
      const int ti = target == BuildTarget::kStaging ? 0 : 1;
      StageRevision& rev = target == BuildTarget::kStaging ? next.revisions.staging : next.revisions.production;
      const std::string stage_name(ToString(target));
      auto source = P::StageSource(dep, target);
      if (!source) {
        if (rev.previous) {
          (void)Undeploy(key, driver, target, rev.previous->revision);
          canary_end_reason = "StageRemoved";
        }
        if (!rev.revision.empty()) (void)Undeploy(key, driver, target, rev.revision);
        rev = StageRevision{};
        continue;
      }
      const std::string want = RevisionName(*source);
      const std::string hash = SourceHash(*source);

      if (rev.previous && rev.previous->revision == want) {
        // The source went back to the stable revision while a canary ran: retire the canary; the
        // previous revision serves the whole stage again, without a rebuild.
        const std::string canary = rev.revision;
        (void)Undeploy(key, driver, target, canary);
        const PreviousRevision stable = *rev.previous;
        rev = StageRevision{.revision = stable.revision, .archive = stable.archive, .build = stable.build,
                            .deployed_at = stable.deployed_at};
        canary_end_reason = "RolledBack";
        spdlog::info("{} {}/{}: {} canary {} rolled back to {}", P::kDeploymentKind, key.namespace_, key.name, stage_name,
                     canary, stable.revision);
        Event(key, "Normal", "RolledBack",
              stage_name + ": canary revision " + canary + " retired; revision " + stable.revision + " serves all of " +
                  stage_name);
      } else if (rev.previous && !IsCanary(dep.spec.rollout)) {
        // canaryPercent went to 100 (or the rollout was removed): the canary takes over.
        const std::string stable = rev.previous->revision;
        (void)Undeploy(key, driver, target, stable);
        rev.previous.reset();
        canary_end_reason = "Promoted";
        spdlog::info("{} {}/{}: {} revision {} promoted, {} retired", P::kDeploymentKind, key.namespace_, key.name,
                     stage_name, rev.revision, stable);
        Event(key, "Normal", "Promoted",
              stage_name + ": revision " + rev.revision + " promoted to all of " + stage_name + "; revision " + stable +
                  " retired");
      }

      if (rev.revision == want) {
        // Up to date: make sure it is placed (after a restart the driver starts empty), and the
        // stable revision beside it while a canary runs.
        auto placed = EnsureDeployed(dep, driver, env.ok() ? &*env : nullptr, target, rev.revision, rev.archive);
        if (placed.ok() && rev.previous) {
          placed = EnsureDeployed(dep, driver, env.ok() ? &*env : nullptr, target, rev.previous->revision,
                                  rev.previous->archive);
        }
        if (!placed.ok()) {
          SetCondition(next.conditions, {.type = "Ready", .status = ConditionStatus::kFalse, .reason = "DeployFailed",
                                         .message = placed.message(), .observed_generation = generation});
          requeue = milliseconds(2000);
          pending[ti] = true;
          continue;
        }
        deployed[ti] = true;
        continue;
      }

      std::string artifact;
      std::string build_name;
      if (P::NeedsBuild(dep, target)) {
        const BuildT* succeeded = nullptr;
        const BuildT* active = nullptr;
        const BuildT* failed = nullptr;
        for (const auto& b : builds) {
          if (P::Target(b) != target) continue;
          auto it = b.metadata.labels.find(std::string(kLabelSourceHash));
          if (it == b.metadata.labels.end() || it->second != hash) continue;
          BuildPhase ph = b.status.EffectivePhase();
          if (ph == BuildPhase::kSucceeded && !succeeded) succeeded = &b;
          else if (!IsTerminal(ph) && !active) active = &b;
          else if (ph == BuildPhase::kFailed && !failed) failed = &b;
        }
        if (!succeeded) {
          pending[ti] = true;
          if (active) continue;  // its events bring us back
          if (failed && failed->status.reason != "BuildLost") {
            build_error = std::string(P::kBuildKind) + " " + failed->metadata.name + " failed: " + failed->status.reason +
                          ": " + failed->status.message;
            continue;  // the last good revision keeps serving; a new source triggers a new build
          }
          auto created = CreateBuild<DeploymentT, BuildT>(dep, *got, target, *source, hash, builds.size(), env);
          if (!created.ok()) {
            if (created.code() == StatusCode::kConflict || created.code() == StatusCode::kAlreadyExists) {
              requeue = milliseconds(500);  // another build holds the target; try again soon
            } else {
              build_error = "cannot create a build: " + created.message();
            }
          }
          continue;
        }
        artifact = succeeded->status.artifact_digest;
        build_name = succeeded->metadata.name;
      }

      // A new revision is ready to place: deploy it, then retire the old one.
      auto placed = EnsureDeployed(dep, driver, env.ok() ? &*env : nullptr, target, want, artifact);
      if (!placed.ok()) {
        Event(key, "Warning", "DeployFailed", placed.message());
        SetCondition(next.conditions, {.type = "Ready", .status = ConditionStatus::kFalse, .reason = "DeployFailed",
                                       .message = placed.message(), .observed_generation = generation});
        pending[ti] = true;
        requeue = milliseconds(2000);
        continue;
      }
      if (!rev.revision.empty() && rev.revision != want) {
        if (!IsCanary(dep.spec.rollout)) {
          (void)Undeploy(key, driver, target, rev.revision);
        } else if (rev.previous) {
          // A newer revision while a canary runs replaces the canary; the stable one stays.
          (void)Undeploy(key, driver, target, rev.revision);
          Event(key, "Normal", "CanaryReplaced",
                stage_name + ": canary revision " + rev.revision + " retired, replaced by " + want);
        } else {
          rev.previous = PreviousRevision{.revision = rev.revision, .archive = rev.archive, .build = rev.build,
                                          .deployed_at = rev.deployed_at};
        }
      }
      rev.revision = want;
      rev.archive = artifact;
      rev.build = build_name;
      rev.deployed_at = NowRfc3339();
      deployed[ti] = true;
      spdlog::info("{} {}/{}: {} revision {} deployed", P::kDeploymentKind, key.namespace_, key.name, ToString(target), want);
      Event(key, "Normal", "Deployed",
            std::string(ToString(target)) + " revision " + want + (build_name.empty() ? "" : " (build " + build_name + ")") + " deployed");
    }

    if (!build_error.empty()) {
      Event(key, "Warning", "BuildFailed", build_error);
      SetCondition(next.conditions, {.type = "BuildSucceeded", .status = ConditionStatus::kFalse, .reason = "BuildFailed",
                                     .message = build_error, .observed_generation = generation});
    } else if (deployed[0] || deployed[1]) {
      SetCondition(next.conditions, {.type = "BuildSucceeded", .status = ConditionStatus::kTrue, .reason = "Succeeded",
                                     .message = "the latest build succeeded", .observed_generation = generation});
    }
    UpdateCanaryCondition(key, dep.spec.rollout, next, canary_end_reason, generation);
    bool any_pending = pending[0] || pending[1];
    if (!any_pending && (deployed[0] || deployed[1])) {
      SetCondition(next.conditions, {.type = "Ready", .status = ConditionStatus::kTrue, .reason = "Deployed",
                                     .message = "every declared stage serves its current source",
                                     .observed_generation = generation});
    } else if (any_pending && build_error.empty()) {
      SetCondition(next.conditions, {.type = "Ready", .status = ConditionStatus::kFalse, .reason = "Progressing",
                                     .message = "building or deploying a new revision", .observed_generation = generation});
    } else if (!build_error.empty()) {
      SetCondition(next.conditions, {.type = "Ready", .status = ConditionStatus::kFalse, .reason = "BuildFailed",
                                     .message = build_error, .observed_generation = generation});
    }
    if (pending[0]) next.phase = DeploymentPhase::kPendingStaging;
    else if (pending[1]) next.phase = DeploymentPhase::kPendingProduction;
    else if (deployed[1]) next.phase = DeploymentPhase::kProductionDeployed;
    else if (deployed[0]) next.phase = DeploymentPhase::kStagingDeployed;
    return WriteDeploymentStatus<DeploymentT>(key, next, generation, requeue);
  }

  // Condition Canary: True while any stage splits its traffic, saying how; False once the last
  // split ended (reason Promoted, RolledBack or StageRemoved). A deployment that never ran a
  // canary has none.
  void UpdateCanaryCondition(const ObjectKey& key, const Rollout& rollout, DeploymentStatus& next,
                             const std::string& end_reason, std::int64_t generation) {
    std::string split;
    for (BuildTarget target : kTargets) {
      const StageRevision& rev = target == BuildTarget::kStaging ? next.revisions.staging : next.revisions.production;
      if (!rev.previous) continue;
      if (!split.empty()) split += "; ";
      split += "revision " + rev.revision + " gets " + std::to_string(rollout.canary_percent.value_or(100)) + "% of " +
               std::string(ToString(target)) + ", " + rev.previous->revision + " the rest";
    }
    auto it = std::find_if(next.conditions.begin(), next.conditions.end(),
                           [](const Condition& c) { return c.type == "Canary"; });
    if (!split.empty()) {
      // An event when the split starts or its shares change, not on every new generation.
      const bool news = it == next.conditions.end() || it->status != ConditionStatus::kTrue || it->message != split;
      SetCondition(next.conditions, {.type = "Canary", .status = ConditionStatus::kTrue, .reason = "Split",
                                     .message = split, .observed_generation = generation});
      if (news) Event(key, "Normal", "Canary", split);
      return;
    }
    if (it == next.conditions.end() || it->status == ConditionStatus::kFalse) return;
    const std::string message = end_reason == "RolledBack"     ? "the canary was rolled back"
                                : end_reason == "StageRemoved" ? "the stage that ran the canary was removed"
                                                               : "the canary was promoted";
    SetCondition(next.conditions, {.type = "Canary", .status = ConditionStatus::kFalse, .reason = end_reason,
                                   .message = message, .observed_generation = generation});
  }

  template <class DeploymentT>
  Result<ReconcileResult> WriteDeploymentStatus(const ObjectKey& key, const DeploymentStatus& next, std::int64_t generation,
                                                std::optional<milliseconds> requeue) {
    auto st = UpdateStatus(*ctx_.store, key, [&](Resource& obj, bool& changed) -> Status {
      TUNA_ASSIGN_OR_RETURN(DeploymentT d, DeploymentT::FromResource(obj));
      DeploymentStatus merged = next;
      merged.current_builds = d.status.current_builds;  // owned by admission and the build controller
      merged.observed_generation = generation;
      if (merged == d.status) return Status::Ok();
      d.status = merged;
      obj.status = d.ToResource().status;
      changed = true;
      return Status::Ok();
    });
    if (!st.ok()) return st.status();
    return ReconcileResult{requeue};
  }

  template <class DeploymentT, class BuildT>
  Status CreateBuild(const DeploymentT& dep, const Resource& dep_raw, BuildTarget target, const Source& source,
                     const std::string& hash, std::size_t existing, const Result<AgentEnvironment>& env) {
    using P = Pipeline<DeploymentT, BuildT>;
    std::optional<std::int64_t> limit;
    if (env.ok() && env->spec.build_time_limit_seconds) limit = env->spec.build_time_limit_seconds;
    Resource b = P::NewBuild(dep, target, source, limit);
    b.metadata.namespace_ = dep.metadata.namespace_;
    std::string base = dep.metadata.name + "-" + std::string(ToString(target)).substr(0, 4) + "-" + hash.substr(0, 8);
    if (base.size() > 55) base = base.substr(base.size() - 55);
    while (!base.empty() && !std::isalnum(static_cast<unsigned char>(base.front()))) base.erase(base.begin());
    b.metadata.name = base + "-" + std::to_string(existing + 1);
    b.metadata.labels[std::string(kLabelDeployment)] = dep.metadata.name;
    b.metadata.labels[std::string(kLabelTarget)] = std::string(ToString(target));
    b.metadata.labels[std::string(kLabelSourceHash)] = hash;
    OwnerReference ref;
    ref.kind = std::string(P::kDeploymentKind);
    ref.name = dep.metadata.name;
    ref.uid = dep_raw.metadata.uid;
    ref.controller = true;
    ref.block_owner_deletion = true;
    b.metadata.owner_references.push_back(ref);
    auto created = AdmittedCreate(*ctx_.store, b);
    if (!created.ok()) return created.status();
    spdlog::info("{} {}/{}: created {} {} for {}", P::kDeploymentKind, dep.metadata.namespace_, dep.metadata.name,
                 P::kBuildKind, b.metadata.name, ToString(target));
    Event({std::string(P::kDeploymentKind), dep.metadata.namespace_, dep.metadata.name}, "Normal", "BuildCreated",
          "created " + std::string(P::kBuildKind) + " " + b.metadata.name + " for " + std::string(ToString(target)));
    return Status::Ok();
  }

  template <class DeploymentT>
  Status EnsureDeployed(const DeploymentT& dep, Driver* driver, const AgentEnvironment* env, BuildTarget target,
                        const std::string& revision, const std::string& artifact) {
    using P = Pipeline<DeploymentT, std::conditional_t<std::is_same_v<DeploymentT, AgentDeployment>, AgentBuild, MCPServerBuild>>;
    const std::string id = DeploymentJobId(dep.metadata.namespace_, dep.metadata.name, target, revision);
    if (driver->FindDeployment(id).ok()) {
      Track({std::string(P::kDeploymentKind), dep.metadata.namespace_, dep.metadata.name}, id);
      return Status::Ok();
    }
    DeployRequest req;
    req.id = id;
    req.artifact = artifact;
    if (env) {
      TUNA_ASSIGN_OR_RETURN(req.environment, ToEnvironmentSpec(*env, ctx_));
    }
    P::FillDeploy(dep, target, req);
    std::optional<AgentRevision> agent;
    if constexpr (P::kWorkload == WorkloadKind::kAgent) {
      // Who the workers are, set after the deployment's own env so it cannot pretend otherwise,
      // and their credentials for calling the gateway (issued per revision, revoked on undeploy).
      agent = AgentRevision{dep.metadata.namespace_, dep.metadata.name, std::string(ToString(target)), revision};
      req.env["TUNA_NAMESPACE"] = agent->namespace_;
      req.env["TUNA_AGENT"] = agent->name;
      req.env["TUNA_STAGE"] = agent->stage;
      req.env["TUNA_REVISION"] = agent->revision;
      if (ctx_.issue_agent_credentials) {
        auto credentials = ctx_.issue_agent_credentials(*agent);
        if (!credentials.ok()) return credentials.status().WithContext("issue the credentials of " + id);
        for (const auto& [k, v] : *credentials) req.env[k] = v;
      }
    }
    auto placed = driver->Deploy(req);
    if (!placed.ok()) {
      if (agent && ctx_.revoke_agent_credentials) ctx_.revoke_agent_credentials(*agent);
      return placed.status().WithContext("deploy " + id);
    }
    Track({std::string(P::kDeploymentKind), dep.metadata.namespace_, dep.metadata.name}, id);
    return Status::Ok();
  }

  Status Undeploy(const ObjectKey& key, Driver* driver, BuildTarget target, const std::string& revision) {
    const std::string id = DeploymentJobId(key.namespace_, key.name, target, revision);
    {
      std::lock_guard lock(mu_);
      deployed_[key].erase(id);
    }
    RevokeCredentials(key, std::string(ToString(target)), revision);
    auto d = driver->FindDeployment(id);
    if (!d.ok()) return Status::Ok();
    return (*d)->Undeploy();
  }

  // Revokes an agent revision's credentials (MCP servers have none).
  void RevokeCredentials(const ObjectKey& key, const std::string& stage, const std::string& revision) {
    if (key.kind != "AgentDeployment" || !ctx_.revoke_agent_credentials) return;
    ctx_.revoke_agent_credentials(AgentRevision{key.namespace_, key.name, stage, revision});
  }

  void Track(const ObjectKey& key, const std::string& id) {
    std::lock_guard lock(mu_);
    deployed_[key].insert(id);
  }

  // The deployment is gone: stop every revision it had on any driver.
  void UndeployAll(const ObjectKey& key) {
    std::set<std::string> ids;
    {
      std::lock_guard lock(mu_);
      auto it = deployed_.find(key);
      if (it == deployed_.end()) return;
      ids = std::move(it->second);
      deployed_.erase(it);
    }
    for (const auto& name : ctx_.drivers->Names()) {
      Driver* driver = ctx_.drivers->Find(name);
      for (const auto& id : ids) {
        auto d = driver->FindDeployment(id);
        if (d.ok()) (void)(*d)->Undeploy();
      }
    }
    // ids are DeploymentJobId()s: "<ns>/<name>/<stage>/<revision>".
    const std::string prefix = key.namespace_ + "/" + key.name + "/";
    for (const auto& id : ids) {
      if (id.rfind(prefix, 0) != 0) continue;
      std::string rest = id.substr(prefix.size());
      auto slash = rest.find('/');
      if (slash != std::string::npos) RevokeCredentials(key, rest.substr(0, slash), rest.substr(slash + 1));
    }
    spdlog::info("{}: deleted; undeployed {} revision(s)", ToString(key), ids.size());
  }

  ControllerContext ctx_;
  std::vector<std::unique_ptr<Informer>> informers_;
  std::vector<std::unique_ptr<Controller>> controllers_;
  Informer* environments_ = nullptr;
  std::mutex mu_;
  std::map<ObjectKey, std::set<std::string>> deployed_;
};

}  // namespace

Result<std::unique_ptr<WorkloadControllers>> WorkloadControllers::Make(ControllerContext context) {
  if (context.store == nullptr || context.drivers == nullptr) {
    return InvalidArgument("WorkloadControllers needs a store and a driver registry");
  }
  return std::unique_ptr<WorkloadControllers>(new WorkloadControllersImpl(context));
}

}  // namespace tuna::controllers
