#include <gtest/gtest.h>

#include "tuna/resources/codec.hpp"
#include "tuna/resources/kinds.hpp"

namespace tuna {
namespace {

Resource Decode(std::string_view json_text) {
  auto r = DecodeJson(json_text);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Resource{};
}

Resource Env(std::string_view spec) {
  return Decode(std::string(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentEnvironment",)"
                            R"("metadata":{"name":"py","namespace":"default"},"spec":)") +
                std::string(spec) + "}");
}

Resource Deploy(std::string_view spec_and_status) {
  return Decode(std::string(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment",)"
                            R"("metadata":{"name":"echo","namespace":"default"},)") +
                std::string(spec_and_status) + "}");
}

TEST(Kinds, AgentDeploymentRoundTripsWithFullStatus) {
  Resource r = Deploy(R"("spec":{"environmentName":"py","entrypoint":"agent:app",
      "stages":{"staging":{"source":{"repo":"echo","ref":"main"}},
                "production":{"source":{"archive":"sha256:0000000000000000000000000000000000000000000000000000000000000000"},"env":{"A":"1"}}},
      "rollout":{"canaryPercent":0}},
    "status":{"phase":"StagingDeployed","currentBuilds":{"staging":"echo-2"},
      "revisions":{"staging":{"revision":"abc","archive":"sha256:1111111111111111111111111111111111111111111111111111111111111111","build":"echo-1","deployedAt":"2026-11-26T11:00:00Z"}},
      "conditions":[{"type":"Ready","status":"True","reason":"Deployed","message":"ok","lastTransitionTime":"2026-11-26T11:00:00Z","observedGeneration":3}],
      "observedGeneration":3})");
  auto d = AgentDeployment::FromResource(r);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->spec.environment_name, "py");
  ASSERT_TRUE(d->spec.stages.production.has_value());
  EXPECT_FALSE(d->spec.stages.production->source.archive.empty());
  ASSERT_TRUE(d->spec.rollout.canary_percent.has_value());  // explicit 0 is kept
  EXPECT_EQ(*d->spec.rollout.canary_percent, 0);
  EXPECT_EQ(d->status.phase, DeploymentPhase::kStagingDeployed);
  EXPECT_EQ(d->status.current_builds.For(BuildTarget::kStaging), "echo-2");
  EXPECT_EQ(d->status.conditions.at(0).status, ConditionStatus::kTrue);
  EXPECT_EQ(d->status.conditions.at(0).observed_generation, 3);
  EXPECT_EQ(d->ToResource(), r);
  auto again = AgentDeployment::FromResource(d->ToResource());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *d);
}

TEST(Kinds, AgentBuildRoundTripsWithStatus) {
  Resource r = Decode(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentBuild",
    "metadata":{"name":"echo-1","namespace":"default","ownerReferences":[{"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment","name":"echo","uid":"u1"}]},
    "spec":{"buildTarget":"production","source":{"repo":"echo","commit":"3f786850e387550fdab836ed7e6dc881de23001b"},"timeLimitSeconds":60},
    "status":{"phase":"Failed","startTime":"2026-11-26T11:00:00Z","completionTime":"2026-11-26T11:01:00Z",
      "logTail":"error: boom\n","reason":"TimeLimitExceeded","message":"took longer than 60s"}})");
  auto b = AgentBuild::FromResource(r);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->spec.build_target, BuildTarget::kProduction);
  EXPECT_EQ(b->status.EffectivePhase(), BuildPhase::kFailed);
  EXPECT_TRUE(IsTerminal(b->status.EffectivePhase()));
  EXPECT_EQ(b->ToResource(), r);
}

TEST(Kinds, AbsentStatusStaysAbsentAndPhaseDefaultsToPending) {
  Resource r = Decode(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"MCPServerBuild",
    "metadata":{"name":"f-1","namespace":"default"},
    "spec":{"buildTarget":"staging","package":{"manager":"npm","name":"@modelcontextprotocol/server-everything"}}})");
  auto b = MCPServerBuild::FromResource(r);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->status.EffectivePhase(), BuildPhase::kPending);
  EXPECT_FALSE(IsTerminal(b->status.EffectivePhase()));
  Resource back = b->ToResource();
  EXPECT_TRUE(back.status.is_null());
  EXPECT_EQ(back, r);
}

TEST(Kinds, InlineOpenApiDocumentIsKeptVerbatim) {
  Resource r = Decode(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"HTTPToolDeployment",
    "metadata":{"name":"pets","namespace":"default"},
    "spec":{"openapi":{"inline":{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{},"x-any":[1,{"deep":true}]}},
            "operations":["getPet"],"timeoutSeconds":5}})");
  auto t = HTTPToolDeployment::FromResource(r);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(t->spec.openapi.inline_document.is_object());
  EXPECT_EQ(t->ToResource(), r);
}

TEST(Kinds, TypedStructEncodesCamelCaseAndOmitsEmptyValues) {
  AgentMemory m;
  m.metadata.name = "mem";
  m.metadata.namespace_ = "default";
  m.spec.type = MemoryType::kKv;
  m.spec.max_entries = 10;
  Resource r = m.ToResource();
  EXPECT_EQ(r.kind, "AgentMemory");
  EXPECT_EQ(boost::json::serialize(r.spec), R"({"type":"kv","maxEntries":10})");
  EXPECT_TRUE(r.status.is_null());
}

TEST(Kinds, UnknownFieldSuggestsTheClosestName) {
  auto d = AgentDeployment::FromResource(Deploy(R"("spec":{"enviromentName":"py"})"));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(d.status().message(), "spec.enviromentName: unknown field (did you mean environmentName?)");
  EXPECT_EQ(d.status().field(), "spec.enviromentName");
}

TEST(Kinds, UnknownFieldWithoutCloseNameHasNoSuggestion) {
  auto e = AgentEnvironment::FromResource(Env(R"({"runtime":"python3.11","colour":"blue"})"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "spec.colour: unknown field");
}

TEST(Kinds, WrongTypeNamesExpectedAndActual) {
  auto e = AgentEnvironment::FromResource(Env(R"({"runtime":"python3.11","poolSize":"3"})"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "spec.poolSize: expected integer, got string");
  EXPECT_EQ(e.status().field(), "spec.poolSize");
}

TEST(Kinds, FloatIsNotAnInteger) {
  auto e = AgentEnvironment::FromResource(Env(R"({"runtime":"python3.11","poolSize":1.5})"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "spec.poolSize: expected integer, got number");
}

TEST(Kinds, IntegerOutOfRange) {
  auto e = AgentEnvironment::FromResource(Env(R"({"runtime":"python3.11","poolSize":18446744073709551615})"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "spec.poolSize: integer out of range");
}

TEST(Kinds, MissingRequiredNestedField) {
  auto d = AgentDeployment::FromResource(Deploy(R"("spec":{"environmentName":"py","stages":{"staging":{"entrypoint":"x"}}})"));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "spec.stages.staging.source: required field is missing");
  EXPECT_EQ(d.status().field(), "spec.stages.staging.source");
}

TEST(Kinds, MissingSpec) {
  auto d = AgentDeployment::FromResource(Deploy(R"("status":{})"));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "spec: required field is missing");
}

TEST(Kinds, UnknownEnumValueListsChoices) {
  auto e = AgentEnvironment::FromResource(Env(R"({"runtime":"python3.11","driver":"docker"})"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "spec.driver: unknown value \"docker\" (expected one of: pool, kubernetes, lambda)");
}

TEST(Kinds, StatusIsDecodedStrictly) {
  auto d = AgentDeployment::FromResource(Deploy(R"("spec":{"environmentName":"py"},"status":{"phase":"Deployed"})"));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(),
            "status.phase: unknown value \"Deployed\" (expected one of: PendingStaging, StagingDeployed, "
            "PendingProduction, ProductionDeployed)");
  auto d2 = AgentDeployment::FromResource(Deploy(R"("spec":{"environmentName":"py"},"status":{"currentBuilds":{"stagin":"x"}})"));
  ASSERT_FALSE(d2.ok());
  EXPECT_EQ(d2.status().message(), "status.currentBuilds.stagin: unknown field (did you mean staging?)");
}

TEST(Kinds, ArrayElementPathsHaveIndexes) {
  Resource r = Decode(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentCatalogue",
    "metadata":{"name":"echo","namespace":"default"},
    "spec":{"agentName":"echo","displayName":"Echo","skills":[{"id":"a","name":"A"},{"name":"B"}]}})");
  auto c = AgentCatalogue::FromResource(r);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "spec.skills[1].id: required field is missing");
  EXPECT_EQ(c.status().field(), "spec.skills[1].id");
}

TEST(Kinds, MapValuesAreTyped) {
  auto e = AgentEnvironment::FromResource(Env(R"({"runtime":"python3.11","env":{"FOO":1}})"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "spec.env.FOO: expected string, got integer");
}

TEST(Kinds, KindMismatchIsRefused) {
  auto e = AgentMemory::FromResource(Env(R"({"runtime":"python3.11"})"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "kind: expected AgentMemory, got \"AgentEnvironment\"");
}

TEST(Kinds, ValidateSchemaDispatchesOnKind) {
  EXPECT_TRUE(ValidateSchema(Env(R"({"runtime":"python3.11"})")).ok());
  Status s = ValidateSchema(Env(R"({"runtim":"python3.11"})"));
  EXPECT_EQ(s.message(), "spec.runtim: unknown field (did you mean runtime?)");
}

TEST(Kinds, EnumSpellings) {
  EXPECT_EQ(ToString(BuildPhase::kSucceeded), "Succeeded");
  EXPECT_EQ(ToString(DriverType::kKubernetes), "kubernetes");
  EXPECT_EQ(ToString(ToolKind::kHTTPToolDeployment), "HTTPToolDeployment");
  EXPECT_EQ(ParseEnum<DeploymentPhase>("PendingProduction"), DeploymentPhase::kPendingProduction);
  EXPECT_EQ(ParseEnum<BuildTarget>("Staging"), std::nullopt);  // case-sensitive
  EXPECT_EQ(ParseEnum<MemoryType>("kv"), MemoryType::kKv);
}

}  // namespace
}  // namespace tuna
