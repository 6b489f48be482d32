// ValidateObject: one test per rule, asserting the exact error text.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tuna/store.hpp"
#include "tuna/admission.hpp"
#include "tuna/resources/codec.hpp"

namespace json = boost::json;

namespace tuna {
namespace {

// A valid object of `kind` with `spec`, then a merge patch applied to its JSON form.
Resource Make(std::string_view kind, std::string_view spec, std::string_view patch = "{}") {
  json::value doc = json::parse(std::string(R"({"apiVersion":"tuna.ai/v1alpha1","kind":")") + std::string(kind) +
                                R"(","metadata":{"name":"x","namespace":"default"},"spec":)" + std::string(spec) + "}");
  EXPECT_TRUE(ApplyMergePatch(doc, patch).ok());
  auto r = ResourceFromJson(doc);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Resource{};
}

constexpr std::string_view kEnvSpec = R"({"runtime":"python3.11"})";
constexpr std::string_view kDeploySpec = R"({"environmentName":"py","stages":{"staging":{"source":{"repo":"echo"}}}})";
constexpr std::string_view kBuildSpec = R"({"buildTarget":"staging","source":{"repo":"echo"}})";
constexpr std::string_view kOwner =
    R"({"metadata":{"ownerReferences":[{"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment","name":"echo","uid":"u1"}]}})";
constexpr std::string_view kMcpSpec = R"({"server":{"stdio":{"command":"srv"}}})";
constexpr std::string_view kToolSpec = R"({"openapi":{"url":"https://example.com/openapi.yaml"}})";
constexpr std::string_view kBindingSpec = R"({"agentName":"echo"})";
constexpr std::string_view kCatalogueSpec = R"({"agentName":"echo","displayName":"Echo"})";

std::string Error(const Resource& r) {
  Status s = ValidateObject(r);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  return s.message();
}

TEST(Validate, ValidObjectsPass) {
  EXPECT_TRUE(ValidateObject(Make("AgentEnvironment", kEnvSpec)).ok());
  EXPECT_TRUE(ValidateObject(Make("AgentDeployment", kDeploySpec)).ok());
  EXPECT_TRUE(ValidateObject(Make("AgentBuild", kBuildSpec, kOwner)).ok());
  EXPECT_TRUE(ValidateObject(Make("MCPServerDeployment", kMcpSpec)).ok());
  EXPECT_TRUE(ValidateObject(Make("HTTPToolDeployment", kToolSpec)).ok());
  EXPECT_TRUE(ValidateObject(Make("AgentResourceBinding", kBindingSpec)).ok());
  EXPECT_TRUE(ValidateObject(Make("AgentMemory", R"({"type":"kv"})")).ok());
  EXPECT_TRUE(ValidateObject(Make("AgentCatalogue", kCatalogueSpec)).ok());
}

TEST(Validate, SchemaErrorsComeFromStrictDecoding) {
  Status s = ValidateObject(Make("AgentDeployment", R"({"enviromentName":"py"})"));
  EXPECT_EQ(s.message(), "spec.enviromentName: unknown field (did you mean environmentName?)");
  EXPECT_EQ(s.field(), "spec.enviromentName");
}

TEST(Validate, UnknownKind) {
  Resource r = Make("AgentEnvironment", kEnvSpec);
  r.kind = "AgentEnviroment";
  EXPECT_EQ(Error(r), "kind: unknown kind \"AgentEnviroment\" (did you mean AgentEnvironment?)");
}

TEST(Validate, ApiVersion) {
  Resource r = Make("AgentEnvironment", kEnvSpec);
  r.api_version = "tuna.ai/v1";
  EXPECT_EQ(Error(r), "apiVersion: unsupported \"tuna.ai/v1\" (expected tuna.ai/v1alpha1)");
}

TEST(Validate, NameIsRequired) {
  EXPECT_EQ(Error(Make("AgentEnvironment", kEnvSpec, R"({"metadata":{"name":""}})")),
            "metadata.name: required field is missing");
}

TEST(Validate, NameMustBeDnsLabel) {
  const std::string rule =
      ": must be a DNS-1123 label (at most 63 characters: lowercase letters, digits and '-', starting and ending "
      "with a letter or digit)";
  EXPECT_EQ(Error(Make("AgentEnvironment", kEnvSpec, R"({"metadata":{"name":"Echo_1"}})")),
            "metadata.name: invalid name \"Echo_1\"" + rule);
  EXPECT_EQ(Error(Make("AgentEnvironment", kEnvSpec, R"({"metadata":{"name":"-echo"}})")),
            "metadata.name: invalid name \"-echo\"" + rule);
  EXPECT_EQ(Error(Make("AgentEnvironment", kEnvSpec, R"({"metadata":{"name":"echo-"}})")),
            "metadata.name: invalid name \"echo-\"" + rule);
  std::string long_name(64, 'a');
  EXPECT_EQ(Error(Make("AgentEnvironment", kEnvSpec, R"({"metadata":{"name":")" + long_name + R"("}})")),
            "metadata.name: invalid name \"" + long_name + "\"" + rule);
  EXPECT_TRUE(ValidateObject(Make("AgentEnvironment", kEnvSpec,
                                  R"({"metadata":{"name":")" + std::string(63, 'a') + R"("}})"))
                  .ok());
}

TEST(Validate, NamespaceMustBeDnsLabel) {
  EXPECT_EQ(Error(Make("AgentEnvironment", kEnvSpec, R"({"metadata":{"namespace":"Team.A"}})")),
            "metadata.namespace: invalid name \"Team.A\": must be a DNS-1123 label (at most 63 characters: "
            "lowercase letters, digits and '-', starting and ending with a letter or digit)");
  EXPECT_EQ(Error(Make("AgentEnvironment", kEnvSpec, R"({"metadata":{"namespace":""}})")),
            "metadata.namespace: required field is missing");
}

TEST(Validate, LabelKeys) {
  EXPECT_TRUE(ValidateObject(Make("AgentEnvironment", kEnvSpec,
                                  R"({"metadata":{"labels":{"tuna.ai/runtime":"python3.11","app":""}}})"))
                  .ok());
  EXPECT_EQ(Error(Make("AgentEnvironment", kEnvSpec, R"({"metadata":{"labels":{"app name":"x"}}})")),
            "metadata.labels: invalid label key \"app name\": name part must be at most 63 characters: letters, "
            "digits, '-', '_' and '.', starting and ending with a letter or digit");
  EXPECT_EQ(Error(Make("AgentEnvironment", kEnvSpec, R"({"metadata":{"labels":{"Bad_Prefix/app":"x"}}})")),
            "metadata.labels: invalid label key \"Bad_Prefix/app\": prefix must be a DNS-1123 subdomain");
}

TEST(Validate, LabelValues) {
  EXPECT_EQ(Error(Make("AgentEnvironment", kEnvSpec, R"({"metadata":{"labels":{"app":"hello world"}}})")),
            "metadata.labels: invalid value \"hello world\" for label \"app\": must be at most 63 characters: "
            "letters, digits, '-', '_' and '.', starting and ending with a letter or digit");
}

TEST(Validate, AnnotationKeys) {
  EXPECT_EQ(Error(Make("AgentEnvironment", kEnvSpec, R"({"metadata":{"annotations":{"/x":"1"}}})")),
            "metadata.annotations: invalid annotation key \"/x\": prefix must be a DNS-1123 subdomain");
}

TEST(Validate, OwnerReferenceFieldsRequired) {
  EXPECT_EQ(Error(Make("AgentEnvironment", kEnvSpec,
                       R"({"metadata":{"ownerReferences":[{"apiVersion":"tuna.ai/v1alpha1","kind":"X","name":"n"}]}})")),
            "metadata.ownerReferences[0].uid: required field is missing");
}

TEST(Validate, Runtime) {
  EXPECT_EQ(Error(Make("AgentEnvironment", R"({"runtime":"Python 3"})")),
            "spec.runtime: invalid runtime \"Python 3\": must be at most 63 characters: lowercase letters, digits, "
            "'.', '+', '_' and '-', starting with a letter (e.g. python3.11)");
}

TEST(Validate, PoolSizeRange) {
  EXPECT_EQ(Error(Make("AgentEnvironment", R"({"runtime":"python3.11","poolSize":-1})")),
            "spec.poolSize: must be between 0 and 256, got -1");
  EXPECT_EQ(Error(Make("AgentEnvironment", R"({"runtime":"python3.11","poolSize":257})")),
            "spec.poolSize: must be between 0 and 256, got 257");
  EXPECT_TRUE(ValidateObject(Make("AgentEnvironment", R"({"runtime":"python3.11","poolSize":0})")).ok());
}

TEST(Validate, IdleTimeoutAndBuildTimeLimit) {
  EXPECT_EQ(Error(Make("AgentEnvironment", R"({"runtime":"python3.11","idleTimeoutSeconds":0})")),
            "spec.idleTimeoutSeconds: must be between 1 and 604800, got 0");
  EXPECT_EQ(Error(Make("AgentEnvironment", R"({"runtime":"python3.11","buildTimeLimitSeconds":86401})")),
            "spec.buildTimeLimitSeconds: must be between 1 and 86400, got 86401");
}

TEST(Validate, ResourceQuantities) {
  EXPECT_EQ(Error(Make("AgentEnvironment", R"({"runtime":"python3.11","resources":{"limits":{"memory":"512MB"}}})")),
            "spec.resources.limits.memory: invalid quantity \"512MB\" (examples: \"500m\", \"2\", \"512Mi\", \"1G\")");
  EXPECT_EQ(Error(Make("AgentEnvironment", R"({"runtime":"python3.11","resources":{"requests":{"maxProcesses":0}}})")),
            "spec.resources.requests.maxProcesses: must be between 1 and 1048576, got 0");
  EXPECT_TRUE(ValidateObject(Make("AgentEnvironment",
                                  R"({"runtime":"python3.11","resources":{"limits":{"cpu":"1.5","memory":"1e9"}}})"))
                  .ok());
}

TEST(Validate, EnvVariableNames) {
  EXPECT_EQ(Error(Make("AgentEnvironment", R"({"runtime":"python3.11","env":{"1X":"a"}})")),
            "spec.env: invalid variable name \"1X\": must be letters, digits and '_', not starting with a digit");
}

TEST(Validate, EnvironmentNameMustBeAName) {
  EXPECT_EQ(Error(Make("AgentDeployment", R"({"environmentName":"Py"})")),
            "spec.environmentName: invalid name \"Py\": must be a DNS-1123 label (at most 63 characters: lowercase "
            "letters, digits and '-', starting and ending with a letter or digit)");
}

TEST(Validate, SourceNeedsRepoOrArchive) {
  EXPECT_EQ(Error(Make("AgentDeployment", R"({"environmentName":"py","stages":{"staging":{"source":{"ref":"main"}}}})")),
            "spec.stages.staging.source: one of repo or archive is required");
}

TEST(Validate, SourceCommitRefArchiveAndPath) {
  EXPECT_EQ(Error(Make("AgentDeployment", kDeploySpec, R"({"spec":{"stages":{"staging":{"source":{"commit":"abc"}}}}})")),
            "spec.stages.staging.source.commit: must be a 40- or 64-character lowercase hexadecimal commit id, got "
            "\"abc\"");
  EXPECT_EQ(Error(Make("AgentDeployment", kDeploySpec, R"({"spec":{"stages":{"staging":{"source":{"ref":"a..b"}}}}})")),
            "spec.stages.staging.source.ref: invalid git ref \"a..b\"");
  EXPECT_EQ(Error(Make("AgentDeployment", kDeploySpec, R"({"spec":{"stages":{"staging":{"source":{"archive":"md5:1"}}}}})")),
            "spec.stages.staging.source.archive: must be \"sha256:<64 hex digits>\", an http, https, s3 or file "
            "URL, or file:PATH, got \"md5:1\"");
  EXPECT_EQ(Error(Make("AgentDeployment", kDeploySpec, R"({"spec":{"stages":{"staging":{"source":{"archive":"file:"}}}}})")),
            "spec.stages.staging.source.archive: must be \"sha256:<64 hex digits>\", an http, https, s3 or file "
            "URL, or file:PATH, got \"file:\"");
  EXPECT_TRUE(ValidateObject(Make("AgentDeployment", kDeploySpec,
                                  R"({"spec":{"stages":{"staging":{"source":{"archive":"file:../agents/echo"}}}}})"))
                  .ok());
  EXPECT_EQ(Error(Make("AgentDeployment", kDeploySpec,
                       R"({"spec":{"stages":{"staging":{"source":{"archive":"ftp://host/a.tgz"}}}}})")),
            "spec.stages.staging.source.archive: invalid URL \"ftp://host/a.tgz\": scheme must be one of: http, "
            "https, s3, file");
  EXPECT_EQ(Error(Make("AgentDeployment", kDeploySpec, R"({"spec":{"stages":{"staging":{"source":{"path":"../x"}}}}})")),
            "spec.stages.staging.source.path: must be a relative path without \"..\" segments, got \"../x\"");
  EXPECT_EQ(Error(Make("AgentDeployment", kDeploySpec, R"({"spec":{"stages":{"staging":{"source":{"repo":"https://"}}}}})")),
            "spec.stages.staging.source.repo: invalid URL \"https://\": missing host");
}

TEST(Validate, CanaryPercentRange) {
  EXPECT_EQ(Error(Make("AgentDeployment", kDeploySpec, R"({"spec":{"rollout":{"canaryPercent":101}}})")),
            "spec.rollout.canaryPercent: must be between 0 and 100, got 101");
  EXPECT_EQ(Error(Make("AgentDeployment", kDeploySpec, R"({"spec":{"rollout":{"canaryPercent":-1}}})")),
            "spec.rollout.canaryPercent: must be between 0 and 100, got -1");
  EXPECT_TRUE(ValidateObject(Make("AgentDeployment", kDeploySpec, R"({"spec":{"rollout":{"canaryPercent":100}}})")).ok());
}

TEST(Validate, DeploymentStatus) {
  EXPECT_EQ(Error(Make("AgentDeployment", kDeploySpec, R"({"status":{"currentBuilds":{"staging":"Bad"}}})")),
            "status.currentBuilds.staging: invalid name \"Bad\": must be a DNS-1123 label (at most 63 characters: "
            "lowercase letters, digits and '-', starting and ending with a letter or digit)");
  EXPECT_EQ(Error(Make("AgentDeployment", kDeploySpec,
                       R"({"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"Ready","status":"False"}]}})")),
            "status.conditions[1].type: duplicate condition type \"Ready\"");
  EXPECT_EQ(Error(Make("AgentDeployment", kDeploySpec, R"({"status":{"conditions":[{"type":"Ready","status":"Maybe"}]}})")),
            "status.conditions[0].status: unknown value \"Maybe\" (expected one of: True, False, Unknown)");
}

TEST(Validate, BuildNeedsOwnerReference) {
  EXPECT_EQ(Error(Make("AgentBuild", kBuildSpec)),
            "metadata.ownerReferences: an AgentBuild must have an ownerReference to its AgentDeployment");
}

TEST(Validate, BuildTimeLimit) {
  EXPECT_EQ(Error(Make("AgentBuild", kBuildSpec,
                       R"({"spec":{"timeLimitSeconds":0},"metadata":{"ownerReferences":[{"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment","name":"echo","uid":"u1"}]}})")),
            "spec.timeLimitSeconds: must be between 1 and 86400, got 0");
}

TEST(Validate, BuildTargetEnum) {
  EXPECT_EQ(Error(Make("AgentBuild", R"({"buildTarget":"prod","source":{"repo":"echo"}})", kOwner)),
            "spec.buildTarget: unknown value \"prod\" (expected one of: staging, production)");
}

TEST(Validate, BuildArtifactDigest) {
  EXPECT_EQ(Error(Make("AgentBuild", kBuildSpec,
                       R"({"status":{"artifactDigest":"sha256:xyz"},"metadata":{"ownerReferences":[{"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment","name":"echo","uid":"u1"}]}})")),
            "status.artifactDigest: must be \"sha256:<64 hex digits>\", got \"sha256:xyz\"");
}

TEST(Validate, McpServerExactlyOneTransport) {
  EXPECT_EQ(Error(Make("MCPServerDeployment", R"({"server":{}})")), "spec.server: exactly one of stdio or http must be set");
  EXPECT_EQ(Error(Make("MCPServerDeployment", R"({"server":{"stdio":{"command":"a"},"http":{"url":"http://h"}}})")),
            "spec.server: exactly one of stdio or http must be set");
}

TEST(Validate, McpHttpServer) {
  EXPECT_EQ(Error(Make("MCPServerDeployment", R"({"server":{"http":{"url":"localhost:8080"}}})")),
            "spec.server.http.url: invalid URL \"localhost:8080\": scheme must be one of: http, https");
  EXPECT_EQ(Error(Make("MCPServerDeployment", R"({"server":{"http":{}}})")),
            "spec.server.http.url: required when no stage builds the server");
  EXPECT_EQ(Error(Make("MCPServerDeployment",
                       R"({"server":{"http":{"url":"https://mcp.example.com/mcp"}},"environmentName":"py","stages":{"staging":{"package":{"manager":"npm","name":"x"}}}})")),
            "spec.stages: must be empty when spec.server.http.url names an external server");
  EXPECT_EQ(Error(Make("MCPServerDeployment",
                       R"({"server":{"http":{"port":70000}},"environmentName":"py","stages":{"staging":{"package":{"manager":"npm","name":"x"}}}})")),
            "spec.server.http.port: must be between 1 and 65535, got 70000");
  EXPECT_EQ(Error(Make("MCPServerDeployment",
                       R"({"server":{"http":{"path":"mcp"}},"environmentName":"py","stages":{"staging":{"package":{"manager":"npm","name":"x"}}}})")),
            "spec.server.http.path: must start with '/'");
}

TEST(Validate, McpStageSourceOrPackage) {
  EXPECT_EQ(Error(Make("MCPServerDeployment", kMcpSpec, R"({"spec":{"environmentName":"py","stages":{"staging":{}}}})")),
            "spec.stages.staging: exactly one of source or package must be set");
  EXPECT_EQ(Error(Make("MCPServerDeployment", kMcpSpec,
                       R"({"spec":{"stages":{"staging":{"package":{"manager":"pip","name":"x"}}}}})")),
            "spec.environmentName: required when a stage builds source or a package");
  EXPECT_EQ(Error(Make("MCPServerDeployment", kMcpSpec,
                       R"({"spec":{"environmentName":"py","stages":{"staging":{"package":{"manager":"cargo","name":"x"}}}}})")),
            "spec.stages.staging.package.manager: unknown value \"cargo\" (expected one of: npm, pip)");
  EXPECT_EQ(Error(Make("MCPServerDeployment", kMcpSpec,
                       R"({"spec":{"environmentName":"py","stages":{"staging":{"package":{"manager":"pip","name":"a b"}}}}})")),
            "spec.stages.staging.package.name: invalid package name \"a b\"");
}

TEST(Validate, McpBuild) {
  const std::string owner =
      R"({"metadata":{"ownerReferences":[{"apiVersion":"tuna.ai/v1alpha1","kind":"MCPServerDeployment","name":"f","uid":"u"}]}})";
  EXPECT_TRUE(ValidateObject(Make("MCPServerBuild", R"({"buildTarget":"staging","package":{"manager":"npm","name":"x"}})", owner)).ok());
  EXPECT_EQ(Error(Make("MCPServerBuild", R"({"buildTarget":"staging"})", owner)),
            "spec: exactly one of source or package must be set");
  EXPECT_EQ(Error(Make("MCPServerBuild", R"({"buildTarget":"staging","package":{"manager":"npm","name":"x"}})", kOwner)),
            "metadata.ownerReferences: an MCPServerBuild must have an ownerReference to its MCPServerDeployment");
}

TEST(Validate, OpenApiExactlyOneSource) {
  EXPECT_EQ(Error(Make("HTTPToolDeployment", R"({"openapi":{}})")),
            "spec.openapi: exactly one of inline, file or url must be set");
  EXPECT_EQ(Error(Make("HTTPToolDeployment", R"({"openapi":{"file":"a.yaml","url":"https://h/a.yaml"}})")),
            "spec.openapi: exactly one of inline, file or url must be set");
}

TEST(Validate, OpenApiInlineMustBeOpenApi3) {
  EXPECT_EQ(Error(Make("HTTPToolDeployment", R"({"openapi":{"inline":{"swagger":"2.0"}}})")),
            "spec.openapi.inline: must be an OpenAPI 3 document (an object with \"openapi\": \"3.x.y\")");
  EXPECT_TRUE(ValidateObject(Make("HTTPToolDeployment", R"({"openapi":{"inline":{"openapi":"3.1.0","paths":{}}}})")).ok());
}

TEST(Validate, OpenApiFileAndUrl) {
  EXPECT_EQ(Error(Make("HTTPToolDeployment", R"({"openapi":{"file":"/etc/passwd"}})")),
            "spec.openapi.file: must be a relative path without \"..\" segments, got \"/etc/passwd\"");
  EXPECT_EQ(Error(Make("HTTPToolDeployment", R"({"openapi":{"file":"specs/../../x.yaml"}})")),
            "spec.openapi.file: must be a relative path without \"..\" segments, got \"specs/../../x.yaml\"");
  EXPECT_EQ(Error(Make("HTTPToolDeployment", R"({"openapi":{"url":"not a url"}})")),
            "spec.openapi.url: invalid URL \"not a url\": not an absolute URL (scheme://host/path)");
}

TEST(Validate, ToolBaseUrlOperationsTimeoutHeaders) {
  EXPECT_EQ(Error(Make("HTTPToolDeployment", kToolSpec, R"({"spec":{"baseUrl":"file:///x"}})")),
            "spec.baseUrl: invalid URL \"file:///x\": scheme must be one of: http, https");
  EXPECT_EQ(Error(Make("HTTPToolDeployment", kToolSpec, R"({"spec":{"operations":["a","b","a"]}})")),
            "spec.operations[2]: duplicate operation \"a\"");
  EXPECT_EQ(Error(Make("HTTPToolDeployment", kToolSpec, R"({"spec":{"operations":[""]}})")),
            "spec.operations[0]: must not be empty");
  EXPECT_EQ(Error(Make("HTTPToolDeployment", kToolSpec, R"({"spec":{"timeoutSeconds":0}})")),
            "spec.timeoutSeconds: must be between 1 and 3600, got 0");
  EXPECT_EQ(Error(Make("HTTPToolDeployment", kToolSpec, R"({"spec":{"headers":{"Bad Header":"1"}}})")),
            "spec.headers: invalid header name \"Bad Header\"");
}

TEST(Validate, ToolCredentials) {
  EXPECT_EQ(Error(Make("HTTPToolDeployment", kToolSpec, R"({"spec":{"credentials":{"type":"bearer"}}})")),
            "spec.credentials.secretRef: required field is missing");
  EXPECT_EQ(Error(Make("HTTPToolDeployment", kToolSpec,
                       R"({"spec":{"credentials":{"type":"bearer","secretRef":{"name":"s","key":"k"},"headerName":"X-Key"}}})")),
            "spec.credentials.headerName: only allowed with type apiKey");
  EXPECT_EQ(Error(Make("HTTPToolDeployment", kToolSpec,
                       R"({"spec":{"credentials":{"type":"apiKey","secretRef":{"name":"S","key":"k"}}}})")),
            "spec.credentials.secretRef.name: invalid name \"S\": must be a DNS-1123 label (at most 63 characters: "
            "lowercase letters, digits and '-', starting and ending with a letter or digit)");
}

TEST(Validate, BindingRefs) {
  EXPECT_EQ(Error(Make("AgentResourceBinding", R"({"agentName":"echo","tools":[{"kind":"AgentMemory","name":"m"}]})")),
            "spec.tools[0].kind: unknown value \"AgentMemory\" (expected one of: MCPServerDeployment, "
            "HTTPToolDeployment)");
  EXPECT_EQ(Error(Make("AgentResourceBinding",
                       R"({"agentName":"echo","tools":[{"kind":"HTTPToolDeployment","name":"p"},{"kind":"HTTPToolDeployment","name":"p"}]})")),
            "spec.tools[1]: duplicate tool HTTPToolDeployment \"p\"");
  EXPECT_EQ(Error(Make("AgentResourceBinding", R"({"agentName":"echo","memories":[{"name":"m"},{"name":"m"}]})")),
            "spec.memories[1]: duplicate memory \"m\"");
  EXPECT_EQ(Error(Make("AgentResourceBinding", R"({"agentName":"echo","peers":[{"name":"echo"}]})")),
            "spec.peers[0].name: an agent cannot be its own peer");
  EXPECT_EQ(Error(Make("AgentResourceBinding", R"({"agentName":"echo","tools":[{"kind":"HTTPToolDeployment","name":"p","allow":[""]}]})")),
            "spec.tools[0].allow[0]: must not be empty");
}

TEST(Validate, MemoryRanges) {
  EXPECT_EQ(Error(Make("AgentMemory", R"({"type":"kv","ttlSeconds":0})")),
            "spec.ttlSeconds: must be between 1 and 315360000, got 0");
  EXPECT_EQ(Error(Make("AgentMemory", R"({"type":"kv","maxEntries":0})")),
            "spec.maxEntries: must be between 1 and 10000000, got 0");
  EXPECT_EQ(Error(Make("AgentMemory", R"({"type":"vector"})")),
            "spec.type: unknown value \"vector\" (expected one of: conversation, kv)");
}

TEST(Validate, Catalogue) {
  EXPECT_EQ(Error(Make("AgentCatalogue", R"({"agentName":"echo","displayName":""})")),
            "spec.displayName: must not be empty");
  EXPECT_EQ(Error(Make("AgentCatalogue", kCatalogueSpec, R"({"spec":{"skills":[{"id":"a","name":"A"},{"id":"a","name":"B"}]}})")),
            "spec.skills[1].id: duplicate skill id \"a\"");
  EXPECT_EQ(Error(Make("AgentCatalogue", kCatalogueSpec, R"({"spec":{"iconUrl":"icon.png"}})")),
            "spec.iconUrl: invalid URL \"icon.png\": not an absolute URL (scheme://host/path)");
  EXPECT_EQ(Error(Make("AgentCatalogue", kCatalogueSpec, R"({"spec":{"defaultInputModes":["text"]}})")),
            "spec.defaultInputModes[0]: invalid media type \"text\" (expected type/subtype)");
  EXPECT_EQ(Error(Make("AgentCatalogue", kCatalogueSpec, R"({"spec":{"provider":{"organization":""}}})")),
            "spec.provider.organization: must not be empty");
}

}  // namespace
}  // namespace tuna
