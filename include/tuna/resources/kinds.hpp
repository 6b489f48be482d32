#pragma once
/// The nine tuna kinds as typed structs (spec + status), converted to and from the unstructured
/// Resource with strict decoding: an unknown field, a mistyped value, an unknown enum value or a
/// missing required field is an InvalidArgument whose message starts with the field path
/// ("spec.poolSize: expected integer, got string") and whose Status::field() is that path.
///
/// C++ members are snake_case, JSON fields camelCase. Encoding omits empty values (empty strings,
/// lists and maps, unset optionals, false, zero integers that are not optional), so the canonical
/// JSON of an object round-trips exactly: ToResource(FromResource(r)) == r.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "tuna/resources/codec.hpp"
#include "tuna/resources/object.hpp"
#include "tuna/status.hpp"

namespace tuna {

// ---- enums (their spellings are part of the public API) ---------------------------------------

/// Where an environment's workloads run.
enum class DriverType { kPool, kKubernetes, kLambda };
/// Which stage a build feeds.
enum class BuildTarget { kStaging, kProduction };
/// AgentBuild/MCPServerBuild.status.phase: Pending -> Scheduled -> Running -> Succeeded | Failed.
enum class BuildPhase { kPending, kScheduled, kRunning, kSucceeded, kFailed };
/// AgentDeployment/MCPServerDeployment.status.phase.
enum class DeploymentPhase { kPendingStaging, kStagingDeployed, kPendingProduction, kProductionDeployed };
/// Kubernetes condition status.
enum class ConditionStatus { kTrue, kFalse, kUnknown };
/// How an MCP server package is installed.
enum class PackageManager { kNpm, kPip };
/// What an AgentMemory stores.
enum class MemoryType { kConversation, kKv };
/// Kinds a binding may reference as a tool.
enum class ToolKind { kMCPServerDeployment, kHTTPToolDeployment };
/// How an HTTP tool's secret is sent.
enum class CredentialType { kApiKey, kBearer, kBasic };

/// Wire spelling of an enum value ("pool", "Succeeded", "MCPServerDeployment", ...).
std::string_view ToString(DriverType v);
std::string_view ToString(BuildTarget v);
std::string_view ToString(BuildPhase v);
std::string_view ToString(DeploymentPhase v);
std::string_view ToString(ConditionStatus v);
std::string_view ToString(PackageManager v);
std::string_view ToString(MemoryType v);
std::string_view ToString(ToolKind v);
std::string_view ToString(CredentialType v);

/// Parses the wire spelling of an enum value (exact, case-sensitive); nullopt if unknown.
/// Instantiated for every enum above.
template <class E>
std::optional<E> ParseEnum(std::string_view name);

/// True for Succeeded and Failed.
inline bool IsTerminal(BuildPhase p) { return p == BuildPhase::kSucceeded || p == BuildPhase::kFailed; }

// ---- shared pieces ----------------------------------------------------------------------------

/// A Kubernetes-style condition.
struct Condition {
  std::string type;                     // required, e.g. "Ready", "BuildFailed"
  ConditionStatus status = ConditionStatus::kUnknown;  // required
  std::string reason;                   // CamelCase machine word
  std::string message;
  std::string last_transition_time;     // RFC 3339
  std::int64_t observed_generation = 0;
  bool operator==(const Condition&) const = default;
};

/// Where a workload's code comes from. At least one of repo or archive.
struct Source {
  std::string repo;     // git URL or a tuna git repository name
  std::string ref;      // branch or tag ("refs/heads/main", "v1.2.0", "main")
  std::string commit;   // 40-hex commit id
  std::string archive;  // "sha256:<64 hex>" (artifact store) or an http(s)/s3/file URL
  std::string path;     // subdirectory inside the repository/archive
  bool operator==(const Source&) const = default;
};

/// Generic status for kinds without a state machine.
struct CommonStatus {
  std::int64_t observed_generation = 0;
  std::vector<Condition> conditions;
  bool operator==(const CommonStatus&) const = default;
};

/// The revision a stage keeps serving beside its newest one while a canary runs
/// (spec.rollout.canaryPercent below 100): it takes the share the canary does not get.
struct PreviousRevision {
  std::string revision;     // commit id or tag that was built
  std::string archive;      // artifact digest ("sha256:...") or URL
  std::string build;        // name of the build that produced it
  std::string deployed_at;  // RFC 3339: when it was deployed (not when it became "previous")
  bool operator==(const PreviousRevision&) const = default;
};

/// The deployed revision of one stage. While a canary runs, `revision` is the canary (the newest
/// revision, getting canaryPercent of the stage's requests) and `previous` the stable one.
struct StageRevision {
  std::string revision;     // commit id or tag that was built
  std::string archive;      // artifact digest ("sha256:...") or URL
  std::string build;        // name of the build that produced it
  std::string deployed_at;  // RFC 3339
  std::optional<PreviousRevision> previous;  // set only while a canary runs
  bool operator==(const StageRevision&) const = default;
};

struct StageRevisions {
  StageRevision staging;
  StageRevision production;
  bool operator==(const StageRevisions&) const = default;
};

/// status.currentBuilds: target -> name of the one non-terminal build (empty: none).
struct CurrentBuilds {
  std::string staging;
  std::string production;
  std::string& For(BuildTarget t) { return t == BuildTarget::kStaging ? staging : production; }
  const std::string& For(BuildTarget t) const { return t == BuildTarget::kStaging ? staging : production; }
  bool operator==(const CurrentBuilds&) const = default;
};

/// Status shared by AgentDeployment and MCPServerDeployment.
struct DeploymentStatus {
  std::optional<DeploymentPhase> phase;
  CurrentBuilds current_builds;
  StageRevisions revisions;
  std::vector<Condition> conditions;
  std::int64_t observed_generation = 0;
  bool operator==(const DeploymentStatus&) const = default;
};

/// Status shared by AgentBuild and MCPServerBuild.
struct BuildStatus {
  std::optional<BuildPhase> phase;  // absent means Pending
  std::string start_time;           // RFC 3339
  std::string completion_time;      // RFC 3339
  std::string artifact_digest;      // "sha256:<64 hex>"
  std::string log_tail;             // last lines of the build log
  std::string reason;               // CamelCase, e.g. "TimeLimitExceeded", "Cancelled"
  std::string message;
  std::vector<Condition> conditions;
  /// Phase with the default applied.
  BuildPhase EffectivePhase() const { return phase.value_or(BuildPhase::kPending); }
  bool operator==(const BuildStatus&) const = default;
};

// ---- AgentEnvironment -------------------------------------------------------------------------

/// cpu/memory as Kubernetes quantities ("500m", "1", "512Mi"); process and file limits as counts.
struct ResourceQuantities {
  std::string cpu;
  std::string memory;
  std::string ephemeral_storage;
  std::optional<std::int64_t> max_processes;
  std::optional<std::int64_t> max_open_files;
  bool operator==(const ResourceQuantities&) const = default;
};

struct ResourceRequirements {
  ResourceQuantities limits;
  ResourceQuantities requests;
  bool operator==(const ResourceRequirements&) const = default;
};

struct AgentEnvironmentSpec {
  std::string runtime;       // required, e.g. "python3.11", "node20"
  std::string image;         // container image (kubernetes/lambda drivers)
  std::string build_script;  // default build command run in the source directory
  std::string worker_command;  // starts a generic pool worker (docs/drivers.md); default from runtime
  std::optional<DriverType> driver;  // default pool
  std::optional<std::int64_t> pool_size;              // warm workers (pool driver); 0 scales to zero
  std::optional<bool> fork_server;                    // workers are forks of one pre-imported process (pool driver)
  std::optional<std::int64_t> idle_timeout_seconds;   // a specialized worker idle this long is recycled
  std::optional<std::int64_t> build_time_limit_seconds;  // default time limit of builds
  ResourceRequirements resources;
  std::map<std::string, std::string> env;  // environment variables for builds and workloads
  bool operator==(const AgentEnvironmentSpec&) const = default;
};

struct AgentEnvironmentStatus {
  std::int64_t observed_generation = 0;
  std::vector<Condition> conditions;
  std::optional<std::int64_t> warm_workers;
  bool operator==(const AgentEnvironmentStatus&) const = default;
};

struct AgentEnvironment {
  static constexpr std::string_view kKind = "AgentEnvironment";
  ObjectMeta metadata;
  AgentEnvironmentSpec spec;
  AgentEnvironmentStatus status;
  /// Strict typed decoding of `r` (kind must match).
  static Result<AgentEnvironment> FromResource(const Resource& r);
  /// The unstructured form.
  Resource ToResource() const;
  bool operator==(const AgentEnvironment&) const = default;
};

// ---- AgentDeployment --------------------------------------------------------------------------

struct AgentStage {
  Source source;           // required
  std::string entrypoint;  // overrides spec.entrypoint for this stage
  std::map<std::string, std::string> env;
  bool operator==(const AgentStage&) const = default;
};

struct AgentStages {
  std::optional<AgentStage> staging;
  std::optional<AgentStage> production;
  bool operator==(const AgentStages&) const = default;
};

struct Rollout {
  /// 0..100: share of a stage's requests sent to its newest revision while the previous one keeps
  /// the rest. Absent or 100: a new revision replaces the old at once (and a running canary is
  /// promoted); 0: the new revision is deployed but the previous takes every request.
  std::optional<std::int64_t> canary_percent;
  bool operator==(const Rollout&) const = default;
};

struct AgentDeploymentSpec {
  std::string environment_name;  // required: an AgentEnvironment in the same namespace
  std::string entrypoint;        // e.g. "agent:app" or "main.py"
  AgentStages stages;
  Rollout rollout;
  std::map<std::string, std::string> env;
  bool operator==(const AgentDeploymentSpec&) const = default;
};

struct AgentDeployment {
  static constexpr std::string_view kKind = "AgentDeployment";
  ObjectMeta metadata;
  AgentDeploymentSpec spec;
  DeploymentStatus status;
  /// Strict typed decoding of `r` (kind must match).
  static Result<AgentDeployment> FromResource(const Resource& r);
  /// The unstructured form.
  Resource ToResource() const;
  bool operator==(const AgentDeployment&) const = default;
};

// ---- AgentBuild -------------------------------------------------------------------------------

struct AgentBuildSpec {
  BuildTarget build_target = BuildTarget::kStaging;  // required
  Source source;                                     // required
  std::optional<std::int64_t> time_limit_seconds;    // default: the environment's
  bool operator==(const AgentBuildSpec&) const = default;
};

struct AgentBuild {
  static constexpr std::string_view kKind = "AgentBuild";
  ObjectMeta metadata;  // ownerReferences must name the AgentDeployment
  AgentBuildSpec spec;
  BuildStatus status;
  /// Strict typed decoding of `r` (kind must match).
  static Result<AgentBuild> FromResource(const Resource& r);
  /// The unstructured form.
  Resource ToResource() const;
  bool operator==(const AgentBuild&) const = default;
};

// ---- MCPServerDeployment / MCPServerBuild ------------------------------------------------------

struct Package {
  PackageManager manager = PackageManager::kNpm;  // required
  std::string name;                               // required
  std::string version;
  bool operator==(const Package&) const = default;
};

struct StdioServer {
  std::string command;  // required
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  bool operator==(const StdioServer&) const = default;
};

struct HttpServer {
  std::string url;   // an external server; or empty when tuna runs the server itself
  std::string path;  // MCP endpoint path of a server tuna runs (default "/mcp")
  std::optional<std::int64_t> port;  // port a server tuna runs listens on
  std::map<std::string, std::string> headers;
  bool operator==(const HttpServer&) const = default;
};

/// Exactly one of stdio or http.
struct McpServer {
  std::optional<StdioServer> stdio;
  std::optional<HttpServer> http;
  bool operator==(const McpServer&) const = default;
};

/// Exactly one of source or package.
struct McpStage {
  std::optional<Source> source;
  std::optional<Package> package;
  bool operator==(const McpStage&) const = default;
};

struct McpStages {
  std::optional<McpStage> staging;
  std::optional<McpStage> production;
  bool operator==(const McpStages&) const = default;
};

struct MCPServerDeploymentSpec {
  std::string environment_name;  // required when a stage builds source or a package
  McpServer server;              // required
  McpStages stages;
  Rollout rollout;
  bool operator==(const MCPServerDeploymentSpec&) const = default;
};

struct MCPServerDeployment {
  static constexpr std::string_view kKind = "MCPServerDeployment";
  ObjectMeta metadata;
  MCPServerDeploymentSpec spec;
  DeploymentStatus status;
  /// Strict typed decoding of `r` (kind must match).
  static Result<MCPServerDeployment> FromResource(const Resource& r);
  /// The unstructured form.
  Resource ToResource() const;
  bool operator==(const MCPServerDeployment&) const = default;
};

struct MCPServerBuildSpec {
  BuildTarget build_target = BuildTarget::kStaging;  // required
  std::optional<Source> source;    // exactly one of source or package
  std::optional<Package> package;
  std::optional<std::int64_t> time_limit_seconds;
  bool operator==(const MCPServerBuildSpec&) const = default;
};

struct MCPServerBuild {
  static constexpr std::string_view kKind = "MCPServerBuild";
  ObjectMeta metadata;  // ownerReferences must name the MCPServerDeployment
  MCPServerBuildSpec spec;
  BuildStatus status;
  /// Strict typed decoding of `r` (kind must match).
  static Result<MCPServerBuild> FromResource(const Resource& r);
  /// The unstructured form.
  Resource ToResource() const;
  bool operator==(const MCPServerBuild&) const = default;
};

// ---- HTTPToolDeployment -----------------------------------------------------------------------

/// Exactly one of inline, file or url.
struct OpenApiSource {
  boost::json::value inline_document;  // "inline": the OpenAPI 3 document itself (object)
  std::string file;                    // path relative to the manifest / repository
  std::string url;                     // http(s) URL of the document
  bool operator==(const OpenApiSource&) const = default;
};

struct SecretKeyRef {
  std::string name;  // required: secret name
  std::string key;   // required: key inside the secret
  bool operator==(const SecretKeyRef&) const = default;
};

struct HttpCredentials {
  CredentialType type = CredentialType::kBearer;  // required
  SecretKeyRef secret_ref;                        // required
  std::string header_name;  // for apiKey: header carrying the key (default "Authorization")
  std::string security_scheme;  // name of the OpenAPI securityScheme this satisfies
  bool operator==(const HttpCredentials&) const = default;
};

struct HTTPToolDeploymentSpec {
  OpenApiSource openapi;  // required
  std::string base_url;   // overrides the document's servers
  std::vector<std::string> operations;  // allowlist of operationIds or "METHOD /path"; empty: all
  std::optional<HttpCredentials> credentials;
  std::optional<std::int64_t> timeout_seconds;  // per call, default 30
  std::map<std::string, std::string> headers;  // static headers sent with every call
  bool operator==(const HTTPToolDeploymentSpec&) const = default;
};

struct HTTPToolDeploymentStatus {
  std::int64_t observed_generation = 0;
  std::vector<Condition> conditions;
  std::optional<std::int64_t> tool_count;
  std::string document_digest;  // sha256 of the resolved document
  bool operator==(const HTTPToolDeploymentStatus&) const = default;
};

struct HTTPToolDeployment {
  static constexpr std::string_view kKind = "HTTPToolDeployment";
  ObjectMeta metadata;
  HTTPToolDeploymentSpec spec;
  HTTPToolDeploymentStatus status;
  /// Strict typed decoding of `r` (kind must match).
  static Result<HTTPToolDeployment> FromResource(const Resource& r);
  /// The unstructured form.
  Resource ToResource() const;
  bool operator==(const HTTPToolDeployment&) const = default;
};

// ---- AgentResourceBinding ---------------------------------------------------------------------

struct ToolRef {
  ToolKind kind = ToolKind::kMCPServerDeployment;  // required
  std::string name;                                // required, same namespace
  std::vector<std::string> allow;                  // tool allowlist; empty: every tool
  bool operator==(const ToolRef&) const = default;
};

struct MemoryRef {
  std::string name;  // required: an AgentMemory
  bool read_only = false;
  bool operator==(const MemoryRef&) const = default;
};

struct PeerRef {
  std::string name;  // required: an AgentDeployment
  bool operator==(const PeerRef&) const = default;
};

struct AgentResourceBindingSpec {
  std::string agent_name;  // required: the AgentDeployment this binding grants to
  std::vector<ToolRef> tools;
  std::vector<MemoryRef> memories;
  std::vector<PeerRef> peers;
  bool operator==(const AgentResourceBindingSpec&) const = default;
};

struct AgentResourceBinding {
  static constexpr std::string_view kKind = "AgentResourceBinding";
  ObjectMeta metadata;
  AgentResourceBindingSpec spec;
  CommonStatus status;
  /// Strict typed decoding of `r` (kind must match).
  static Result<AgentResourceBinding> FromResource(const Resource& r);
  /// The unstructured form.
  Resource ToResource() const;
  bool operator==(const AgentResourceBinding&) const = default;
};

// ---- AgentMemory ------------------------------------------------------------------------------

struct AgentMemorySpec {
  MemoryType type = MemoryType::kConversation;  // required
  std::optional<std::int64_t> ttl_seconds;      // entries expire after this long; absent: never
  std::optional<std::int64_t> max_entries;      // oldest entries evicted beyond this
  bool operator==(const AgentMemorySpec&) const = default;
};

struct AgentMemory {
  static constexpr std::string_view kKind = "AgentMemory";
  ObjectMeta metadata;
  AgentMemorySpec spec;
  CommonStatus status;
  /// Strict typed decoding of `r` (kind must match).
  static Result<AgentMemory> FromResource(const Resource& r);
  /// The unstructured form.
  Resource ToResource() const;
  bool operator==(const AgentMemory&) const = default;
};

// ---- AgentCatalogue ---------------------------------------------------------------------------

/// One A2A skill.
struct Skill {
  std::string id;    // required
  std::string name;  // required
  std::string description;
  std::vector<std::string> tags;
  std::vector<std::string> examples;
  std::vector<std::string> input_modes;   // media types
  std::vector<std::string> output_modes;
  bool operator==(const Skill&) const = default;
};

struct Provider {
  std::string organization;  // required
  std::string url;
  bool operator==(const Provider&) const = default;
};

struct AgentCatalogueSpec {
  std::string agent_name;    // required: the AgentDeployment listed
  std::string display_name;  // required
  std::string description;
  std::string version;
  std::vector<Skill> skills;
  std::vector<std::string> tags;
  std::optional<Provider> provider;
  std::string icon_url;
  std::string documentation_url;
  std::vector<std::string> default_input_modes;
  std::vector<std::string> default_output_modes;
  bool operator==(const AgentCatalogueSpec&) const = default;
};

struct AgentCatalogue {
  static constexpr std::string_view kKind = "AgentCatalogue";
  ObjectMeta metadata;
  AgentCatalogueSpec spec;
  CommonStatus status;
  /// Strict typed decoding of `r` (kind must match).
  static Result<AgentCatalogue> FromResource(const Resource& r);
  /// The unstructured form.
  Resource ToResource() const;
  bool operator==(const AgentCatalogue&) const = default;
};

// ---- kind-independent entry points ------------------------------------------------------------

/// Strict typed decoding of spec and status for whichever kind `r` is (no integrity checks; those
/// are in tuna/admission.hpp).
Status ValidateSchema(const Resource& r);

/// Decodes a document from ParseYamlDocuments into a Resource and validates its schema; errors
/// are prefixed with "file.yaml:LINE: " where LINE is the line of the offending field.
Result<Resource> DecodeSourceDocument(const SourceDocument& doc);

}  // namespace tuna
