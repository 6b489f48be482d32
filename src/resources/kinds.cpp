// The typed kinds: one field table per struct drives strict decoding and encoding.

#include "tuna/resources/kinds.hpp"

#include "resources/schema.hpp"

namespace tuna {
namespace internal {

// ---- enum spellings ---------------------------------------------------------------------------

#define TUNA_ENUM_TABLE(E, ...)                                              \
  template <>                                                                \
  struct EnumTable<E> {                                                      \
    static const std::vector<std::pair<E, std::string_view>>& Values() {     \
      static const std::vector<std::pair<E, std::string_view>> v = {__VA_ARGS__}; \
      return v;                                                              \
    }                                                                        \
  };

TUNA_ENUM_TABLE(DriverType, {DriverType::kPool, "pool"}, {DriverType::kKubernetes, "kubernetes"}, {DriverType::kLambda, "lambda"})
TUNA_ENUM_TABLE(BuildTarget, {BuildTarget::kStaging, "staging"}, {BuildTarget::kProduction, "production"})
TUNA_ENUM_TABLE(BuildPhase, {BuildPhase::kPending, "Pending"}, {BuildPhase::kScheduled, "Scheduled"},
                {BuildPhase::kRunning, "Running"}, {BuildPhase::kSucceeded, "Succeeded"},
                {BuildPhase::kFailed, "Failed"})
TUNA_ENUM_TABLE(DeploymentPhase, {DeploymentPhase::kPendingStaging, "PendingStaging"},
                {DeploymentPhase::kStagingDeployed, "StagingDeployed"},
                {DeploymentPhase::kPendingProduction, "PendingProduction"},
                {DeploymentPhase::kProductionDeployed, "ProductionDeployed"})
TUNA_ENUM_TABLE(ConditionStatus, {ConditionStatus::kTrue, "True"}, {ConditionStatus::kFalse, "False"},
                {ConditionStatus::kUnknown, "Unknown"})
TUNA_ENUM_TABLE(PackageManager, {PackageManager::kNpm, "npm"}, {PackageManager::kPip, "pip"})
TUNA_ENUM_TABLE(MemoryType, {MemoryType::kConversation, "conversation"}, {MemoryType::kKv, "kv"})
TUNA_ENUM_TABLE(ToolKind, {ToolKind::kMCPServerDeployment, "MCPServerDeployment"},
                {ToolKind::kHTTPToolDeployment, "HTTPToolDeployment"})
TUNA_ENUM_TABLE(CredentialType, {CredentialType::kApiKey, "apiKey"}, {CredentialType::kBearer, "bearer"},
                {CredentialType::kBasic, "basic"})

#undef TUNA_ENUM_TABLE

// ---- field tables -----------------------------------------------------------------------------

#define TUNA_SCHEMA(S, ...)                                       \
  template <>                                                     \
  struct Schema<S> {                                              \
    static const std::vector<FieldDesc<S>>& Fields() {            \
      static const std::vector<FieldDesc<S>> f = {__VA_ARGS__};   \
      return f;                                                   \
    }                                                             \
  };

TUNA_SCHEMA(Condition,
            Field("type", &Condition::type, kRequired),
            Field("status", &Condition::status, kRequired),
            Field("reason", &Condition::reason),
            Field("message", &Condition::message),
            Field("lastTransitionTime", &Condition::last_transition_time),
            Field("observedGeneration", &Condition::observed_generation))

TUNA_SCHEMA(Source,
            Field("repo", &Source::repo),
            Field("ref", &Source::ref),
            Field("commit", &Source::commit),
            Field("archive", &Source::archive),
            Field("path", &Source::path))

TUNA_SCHEMA(CommonStatus,
            Field("observedGeneration", &CommonStatus::observed_generation),
            Field("conditions", &CommonStatus::conditions))

TUNA_SCHEMA(PreviousRevision,
            Field("revision", &PreviousRevision::revision),
            Field("archive", &PreviousRevision::archive),
            Field("build", &PreviousRevision::build),
            Field("deployedAt", &PreviousRevision::deployed_at))

TUNA_SCHEMA(StageRevision,
            Field("revision", &StageRevision::revision),
            Field("archive", &StageRevision::archive),
            Field("build", &StageRevision::build),
            Field("deployedAt", &StageRevision::deployed_at),
            Field("previous", &StageRevision::previous))

TUNA_SCHEMA(StageRevisions,
            Field("staging", &StageRevisions::staging),
            Field("production", &StageRevisions::production))

TUNA_SCHEMA(CurrentBuilds,
            Field("staging", &CurrentBuilds::staging),
            Field("production", &CurrentBuilds::production))

TUNA_SCHEMA(DeploymentStatus,
            Field("phase", &DeploymentStatus::phase),
            Field("currentBuilds", &DeploymentStatus::current_builds),
            Field("revisions", &DeploymentStatus::revisions),
            Field("conditions", &DeploymentStatus::conditions),
            Field("observedGeneration", &DeploymentStatus::observed_generation))

TUNA_SCHEMA(BuildStatus,
            Field("phase", &BuildStatus::phase),
            Field("startTime", &BuildStatus::start_time),
            Field("completionTime", &BuildStatus::completion_time),
            Field("artifactDigest", &BuildStatus::artifact_digest),
            Field("logTail", &BuildStatus::log_tail),
            Field("reason", &BuildStatus::reason),
            Field("message", &BuildStatus::message),
            Field("conditions", &BuildStatus::conditions))

TUNA_SCHEMA(ResourceQuantities,
            Field("cpu", &ResourceQuantities::cpu),
            Field("memory", &ResourceQuantities::memory),
            Field("ephemeralStorage", &ResourceQuantities::ephemeral_storage),
            Field("maxProcesses", &ResourceQuantities::max_processes),
            Field("maxOpenFiles", &ResourceQuantities::max_open_files))

TUNA_SCHEMA(ResourceRequirements,
            Field("limits", &ResourceRequirements::limits),
            Field("requests", &ResourceRequirements::requests))

TUNA_SCHEMA(AgentEnvironmentSpec,
            Field("runtime", &AgentEnvironmentSpec::runtime, kRequired),
            Field("image", &AgentEnvironmentSpec::image),
            Field("buildScript", &AgentEnvironmentSpec::build_script),
            Field("workerCommand", &AgentEnvironmentSpec::worker_command),
            Field("driver", &AgentEnvironmentSpec::driver),
            Field("poolSize", &AgentEnvironmentSpec::pool_size),
            Field("forkServer", &AgentEnvironmentSpec::fork_server),
            Field("idleTimeoutSeconds", &AgentEnvironmentSpec::idle_timeout_seconds),
            Field("buildTimeLimitSeconds", &AgentEnvironmentSpec::build_time_limit_seconds),
            Field("resources", &AgentEnvironmentSpec::resources),
            Field("env", &AgentEnvironmentSpec::env))

TUNA_SCHEMA(AgentEnvironmentStatus,
            Field("observedGeneration", &AgentEnvironmentStatus::observed_generation),
            Field("conditions", &AgentEnvironmentStatus::conditions),
            Field("warmWorkers", &AgentEnvironmentStatus::warm_workers))

TUNA_SCHEMA(AgentStage,
            Field("source", &AgentStage::source, kRequired),
            Field("entrypoint", &AgentStage::entrypoint),
            Field("env", &AgentStage::env))

TUNA_SCHEMA(AgentStages,
            Field("staging", &AgentStages::staging),
            Field("production", &AgentStages::production))

TUNA_SCHEMA(Rollout, Field("canaryPercent", &Rollout::canary_percent))

TUNA_SCHEMA(AgentDeploymentSpec,
            Field("environmentName", &AgentDeploymentSpec::environment_name, kRequired),
            Field("entrypoint", &AgentDeploymentSpec::entrypoint),
            Field("stages", &AgentDeploymentSpec::stages),
            Field("rollout", &AgentDeploymentSpec::rollout),
            Field("env", &AgentDeploymentSpec::env))

TUNA_SCHEMA(AgentBuildSpec,
            Field("buildTarget", &AgentBuildSpec::build_target, kRequired),
            Field("source", &AgentBuildSpec::source, kRequired),
            Field("timeLimitSeconds", &AgentBuildSpec::time_limit_seconds))

TUNA_SCHEMA(Package,
            Field("manager", &Package::manager, kRequired),
            Field("name", &Package::name, kRequired),
            Field("version", &Package::version))

TUNA_SCHEMA(StdioServer,
            Field("command", &StdioServer::command, kRequired),
            Field("args", &StdioServer::args),
            Field("env", &StdioServer::env))

TUNA_SCHEMA(HttpServer,
            Field("url", &HttpServer::url),
            Field("path", &HttpServer::path),
            Field("port", &HttpServer::port),
            Field("headers", &HttpServer::headers))

TUNA_SCHEMA(McpServer,
            Field("stdio", &McpServer::stdio),
            Field("http", &McpServer::http))

TUNA_SCHEMA(McpStage,
            Field("source", &McpStage::source),
            Field("package", &McpStage::package))

TUNA_SCHEMA(McpStages,
            Field("staging", &McpStages::staging),
            Field("production", &McpStages::production))

TUNA_SCHEMA(MCPServerDeploymentSpec,
            Field("environmentName", &MCPServerDeploymentSpec::environment_name),
            Field("server", &MCPServerDeploymentSpec::server, kRequired),
            Field("stages", &MCPServerDeploymentSpec::stages),
            Field("rollout", &MCPServerDeploymentSpec::rollout))

TUNA_SCHEMA(MCPServerBuildSpec,
            Field("buildTarget", &MCPServerBuildSpec::build_target, kRequired),
            Field("source", &MCPServerBuildSpec::source),
            Field("package", &MCPServerBuildSpec::package),
            Field("timeLimitSeconds", &MCPServerBuildSpec::time_limit_seconds))

TUNA_SCHEMA(OpenApiSource,
            Field("inline", &OpenApiSource::inline_document),
            Field("file", &OpenApiSource::file),
            Field("url", &OpenApiSource::url))

TUNA_SCHEMA(SecretKeyRef,
            Field("name", &SecretKeyRef::name, kRequired),
            Field("key", &SecretKeyRef::key, kRequired))

TUNA_SCHEMA(HttpCredentials,
            Field("type", &HttpCredentials::type, kRequired),
            Field("secretRef", &HttpCredentials::secret_ref, kRequired),
            Field("headerName", &HttpCredentials::header_name),
            Field("securityScheme", &HttpCredentials::security_scheme))

TUNA_SCHEMA(HTTPToolDeploymentSpec,
            Field("openapi", &HTTPToolDeploymentSpec::openapi, kRequired),
            Field("baseUrl", &HTTPToolDeploymentSpec::base_url),
            Field("operations", &HTTPToolDeploymentSpec::operations),
            Field("credentials", &HTTPToolDeploymentSpec::credentials),
            Field("timeoutSeconds", &HTTPToolDeploymentSpec::timeout_seconds),
            Field("headers", &HTTPToolDeploymentSpec::headers))

TUNA_SCHEMA(HTTPToolDeploymentStatus,
            Field("observedGeneration", &HTTPToolDeploymentStatus::observed_generation),
            Field("conditions", &HTTPToolDeploymentStatus::conditions),
            Field("toolCount", &HTTPToolDeploymentStatus::tool_count),
            Field("documentDigest", &HTTPToolDeploymentStatus::document_digest))

TUNA_SCHEMA(ToolRef,
            Field("kind", &ToolRef::kind, kRequired),
            Field("name", &ToolRef::name, kRequired),
            Field("allow", &ToolRef::allow))

TUNA_SCHEMA(MemoryRef,
            Field("name", &MemoryRef::name, kRequired),
            Field("readOnly", &MemoryRef::read_only))

TUNA_SCHEMA(PeerRef, Field("name", &PeerRef::name, kRequired))

TUNA_SCHEMA(AgentResourceBindingSpec,
            Field("agentName", &AgentResourceBindingSpec::agent_name, kRequired),
            Field("tools", &AgentResourceBindingSpec::tools),
            Field("memories", &AgentResourceBindingSpec::memories),
            Field("peers", &AgentResourceBindingSpec::peers))

TUNA_SCHEMA(AgentMemorySpec,
            Field("type", &AgentMemorySpec::type, kRequired),
            Field("ttlSeconds", &AgentMemorySpec::ttl_seconds),
            Field("maxEntries", &AgentMemorySpec::max_entries))

TUNA_SCHEMA(Skill,
            Field("id", &Skill::id, kRequired),
            Field("name", &Skill::name, kRequired),
            Field("description", &Skill::description),
            Field("tags", &Skill::tags),
            Field("examples", &Skill::examples),
            Field("inputModes", &Skill::input_modes),
            Field("outputModes", &Skill::output_modes))

TUNA_SCHEMA(Provider,
            Field("organization", &Provider::organization, kRequired),
            Field("url", &Provider::url))

TUNA_SCHEMA(AgentCatalogueSpec,
            Field("agentName", &AgentCatalogueSpec::agent_name, kRequired),
            Field("displayName", &AgentCatalogueSpec::display_name, kRequired),
            Field("description", &AgentCatalogueSpec::description),
            Field("version", &AgentCatalogueSpec::version),
            Field("skills", &AgentCatalogueSpec::skills),
            Field("tags", &AgentCatalogueSpec::tags),
            Field("provider", &AgentCatalogueSpec::provider),
            Field("iconUrl", &AgentCatalogueSpec::icon_url),
            Field("documentationUrl", &AgentCatalogueSpec::documentation_url),
            Field("defaultInputModes", &AgentCatalogueSpec::default_input_modes),
            Field("defaultOutputModes", &AgentCatalogueSpec::default_output_modes))

#undef TUNA_SCHEMA

// ---- kind <-> Resource ------------------------------------------------------------------------

template <class K>
Result<K> KindFromResource(const Resource& r) {
  if (r.kind != K::kKind) {
    return InvalidArgument("kind: expected " + std::string(K::kKind) + ", got \"" + r.kind + "\"", "kind");
  }
  K out;
  out.metadata = r.metadata;
  if (r.spec.is_null()) return InvalidArgument("spec: required field is missing", "spec");
  TUNA_RETURN_IF_ERROR(DecodeValue(r.spec, "spec", out.spec));
  if (!r.status.is_null()) TUNA_RETURN_IF_ERROR(DecodeValue(r.status, "status", out.status));
  return out;
}

template <class K>
Resource KindToResource(const K& k) {
  Resource r;
  r.kind = std::string(K::kKind);
  r.metadata = k.metadata;
  r.spec = EncodeStruct(k.spec);
  sjson::object status = EncodeStruct(k.status);
  if (!status.empty()) r.status = std::move(status);
  return r;
}

}  // namespace internal

#define TUNA_KIND_CODEC(K)                                                              \
  Result<K> K::FromResource(const Resource& r) { return internal::KindFromResource<K>(r); } \
  Resource K::ToResource() const { return internal::KindToResource(*this); }

TUNA_KIND_CODEC(AgentEnvironment)
TUNA_KIND_CODEC(AgentDeployment)
TUNA_KIND_CODEC(AgentBuild)
TUNA_KIND_CODEC(MCPServerDeployment)
TUNA_KIND_CODEC(MCPServerBuild)
TUNA_KIND_CODEC(HTTPToolDeployment)
TUNA_KIND_CODEC(AgentResourceBinding)
TUNA_KIND_CODEC(AgentMemory)
TUNA_KIND_CODEC(AgentCatalogue)

#undef TUNA_KIND_CODEC

template <class E>
std::optional<E> ParseEnum(std::string_view name) {
  return internal::EnumFromName<E>(name);
}

#define TUNA_ENUM_API(E)                                           \
  std::string_view ToString(E v) { return internal::EnumName(v); } \
  template std::optional<E> ParseEnum<E>(std::string_view name);

TUNA_ENUM_API(DriverType)
TUNA_ENUM_API(BuildTarget)
TUNA_ENUM_API(BuildPhase)
TUNA_ENUM_API(DeploymentPhase)
TUNA_ENUM_API(ConditionStatus)
TUNA_ENUM_API(PackageManager)
TUNA_ENUM_API(MemoryType)
TUNA_ENUM_API(ToolKind)
TUNA_ENUM_API(CredentialType)

#undef TUNA_ENUM_API

namespace {
template <class K>
Status CheckKind(const Resource& r) {
  auto k = K::FromResource(r);
  return k.ok() ? Status() : k.status();
}
}  // namespace

Status ValidateSchema(const Resource& r) {
  if (r.kind == AgentEnvironment::kKind) return CheckKind<AgentEnvironment>(r);
  if (r.kind == AgentDeployment::kKind) return CheckKind<AgentDeployment>(r);
  if (r.kind == AgentBuild::kKind) return CheckKind<AgentBuild>(r);
  if (r.kind == MCPServerDeployment::kKind) return CheckKind<MCPServerDeployment>(r);
  if (r.kind == MCPServerBuild::kKind) return CheckKind<MCPServerBuild>(r);
  if (r.kind == HTTPToolDeployment::kKind) return CheckKind<HTTPToolDeployment>(r);
  if (r.kind == AgentResourceBinding::kKind) return CheckKind<AgentResourceBinding>(r);
  if (r.kind == AgentMemory::kKind) return CheckKind<AgentMemory>(r);
  if (r.kind == AgentCatalogue::kKind) return CheckKind<AgentCatalogue>(r);
  return InvalidArgument("kind: unknown kind \"" + r.kind + "\"", "kind");
}

}  // namespace tuna
