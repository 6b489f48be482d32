// Admission against a store: references, build ownership, the one-build-per-target claim, and
// the admitted write paths. Uses the in-test FakeStore (see fake_store.hpp).

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "admission/fake_store.hpp"
#include "tuna/admission.hpp"
#include "tuna/resources/codec.hpp"
#include "tuna/resources/kinds.hpp"

namespace json = boost::json;

namespace tuna {
namespace {

using testing::FakeStore;

Resource Obj(std::string_view json_text) {
  auto r = DecodeJson(json_text);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Resource{};
}

Resource Environment(std::string_view name = "py") {
  return Obj(std::string(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentEnvironment","metadata":{"name":")") +
             std::string(name) + R"(","namespace":"default"},"spec":{"runtime":"python3.11"}})");
}

Resource Deployment(std::string_view name = "echo", std::string_view env = "py") {
  return Obj(std::string(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment","metadata":{"name":")") +
             std::string(name) + R"(","namespace":"default"},"spec":{"environmentName":")" + std::string(env) +
             R"(","stages":{"staging":{"source":{"repo":"echo","ref":"main"}}}}})");
}

Resource Build(std::string_view name, const Resource& owner, std::string_view target = "staging") {
  AgentBuild b;
  b.metadata.name = std::string(name);
  b.metadata.namespace_ = "default";
  OwnerReference ref;
  ref.kind = owner.kind;
  ref.name = owner.metadata.name;
  ref.uid = owner.metadata.uid;
  ref.controller = true;
  b.metadata.owner_references.push_back(ref);
  b.spec.build_target = *ParseEnum<BuildTarget>(target);
  b.spec.source.repo = "echo";
  return b.ToResource();
}

std::string ClaimOn(FakeStore& store, std::string_view deployment, BuildTarget target) {
  auto d = store.Get({"AgentDeployment", "default", std::string(deployment)});
  EXPECT_TRUE(d.ok());
  auto typed = AgentDeployment::FromResource(*d);
  EXPECT_TRUE(typed.ok()) << typed.status().ToString();
  return typed.ok() ? typed->status.current_builds.For(target) : "";
}

void SetBuildPhase(FakeStore& store, std::string_view name, std::string_view phase) {
  auto b = store.Get({"AgentBuild", "default", std::string(name)});
  ASSERT_TRUE(b.ok());
  b->status = json::object{{"phase", phase}};
  auto u = AdmittedUpdate(store, *b, UpdateOptions{Subresource::kStatus});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
}

class AdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = AdmittedCreate(store_, Environment());
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    auto dep = AdmittedCreate(store_, Deployment());
    ASSERT_TRUE(dep.ok()) << dep.status().ToString();
    deployment_ = *dep;
  }
  FakeStore store_;
  Resource deployment_;
};

TEST_F(AdmissionTest, DeploymentEnvironmentMustExist) {
  auto r = AdmittedCreate(store_, Deployment("other", "node20"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "spec.environmentName: AgentEnvironment \"node20\" not found in namespace \"default\"");
  EXPECT_EQ(r.status().field(), "spec.environmentName");
}

TEST_F(AdmissionTest, ReferencesResolveWithinTheNamespaceOnly) {
  Resource d = Deployment("other");
  d.metadata.namespace_ = "team-b";
  auto r = AdmittedCreate(store_, d);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "spec.environmentName: AgentEnvironment \"py\" not found in namespace \"team-b\"");
}

TEST_F(AdmissionTest, InvalidObjectsNeverReachTheStore) {
  Resource d = Deployment("Bad_Name");
  auto r = AdmittedCreate(store_, d);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "metadata.name");
  EXPECT_EQ(store_.creates, 2);
}

TEST_F(AdmissionTest, McpServerEnvironmentMustExistWhenNamed) {
  Resource m = Obj(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"MCPServerDeployment","metadata":{"name":"f","namespace":"default"},
    "spec":{"environmentName":"node20","server":{"stdio":{"command":"x"}}}})");
  auto r = AdmittedCreate(store_, m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "spec.environmentName: AgentEnvironment \"node20\" not found in namespace \"default\"");
}

TEST_F(AdmissionTest, BindingReferencesMustResolve) {
  auto binding = [](std::string_view spec) {
    return Obj(std::string(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentResourceBinding",)"
                           R"("metadata":{"name":"b","namespace":"default"},"spec":)") +
               std::string(spec) + "}");
  };
  auto r = AdmittedCreate(store_, binding(R"({"agentName":"ghost"})"));
  EXPECT_EQ(r.status().message(), "spec.agentName: AgentDeployment \"ghost\" not found in namespace \"default\"");
  r = AdmittedCreate(store_, binding(R"({"agentName":"echo","tools":[{"kind":"HTTPToolDeployment","name":"pets"}]})"));
  EXPECT_EQ(r.status().message(), "spec.tools[0].name: HTTPToolDeployment \"pets\" not found in namespace \"default\"");
  r = AdmittedCreate(store_, binding(R"({"agentName":"echo","memories":[{"name":"hist"}]})"));
  EXPECT_EQ(r.status().message(), "spec.memories[0].name: AgentMemory \"hist\" not found in namespace \"default\"");
  r = AdmittedCreate(store_, binding(R"({"agentName":"echo","peers":[{"name":"other"}]})"));
  EXPECT_EQ(r.status().message(), "spec.peers[0].name: AgentDeployment \"other\" not found in namespace \"default\"");

  ASSERT_TRUE(AdmittedCreate(store_, Deployment("other")).ok());
  ASSERT_TRUE(AdmittedCreate(store_, Obj(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory",
      "metadata":{"name":"hist","namespace":"default"},"spec":{"type":"conversation"}})")).ok());
  ASSERT_TRUE(AdmittedCreate(store_, Obj(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"HTTPToolDeployment",
      "metadata":{"name":"pets","namespace":"default"},"spec":{"openapi":{"url":"https://example.com/o.yaml"}}})")).ok());
  r = AdmittedCreate(store_, binding(R"({"agentName":"echo","tools":[{"kind":"HTTPToolDeployment","name":"pets"}],
      "memories":[{"name":"hist"}],"peers":[{"name":"other"}]})"));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(AdmissionTest, CatalogueAgentMustExist) {
  auto r = AdmittedCreate(store_, Obj(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentCatalogue",
      "metadata":{"name":"c","namespace":"default"},"spec":{"agentName":"ghost","displayName":"G"}})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "spec.agentName: AgentDeployment \"ghost\" not found in namespace \"default\"");
}

TEST_F(AdmissionTest, BuildOwnerMustExist) {
  Resource ghost = Deployment("ghost");
  ghost.metadata.uid = "uid-x";
  auto r = AdmittedCreate(store_, Build("b1", ghost));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "metadata.ownerReferences[0]: AgentDeployment \"ghost\" not found in namespace \"default\"");
}

TEST_F(AdmissionTest, BuildOwnerUidMustMatch) {
  Resource stale = deployment_;
  stale.metadata.uid = "uid-old";
  auto r = AdmittedCreate(store_, Build("b1", stale));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "metadata.ownerReferences[0].uid: \"uid-old\" does not match AgentDeployment \"echo\" (uid \"" +
                                      deployment_.metadata.uid + "\")");
}

TEST_F(AdmissionTest, BuildOwnerMustBeOfTheRightKind) {
  Resource env = *store_.Get({"AgentEnvironment", "default", "py"});
  Resource b = Build("b1", env);  // owned by an AgentEnvironment
  auto r = AdmittedCreate(store_, b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "metadata.ownerReferences: an AgentBuild must have an ownerReference to its AgentDeployment");
}

TEST_F(AdmissionTest, BuildOwnerApiVersion) {
  Resource b = Build("b1", deployment_);
  b.metadata.owner_references[0].api_version = "apps/v1";
  auto r = AdmittedCreate(store_, b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "metadata.ownerReferences[0].apiVersion: must be tuna.ai/v1alpha1, got \"apps/v1\"");
}

TEST_F(AdmissionTest, CreatingABuildClaimsTheTarget) {
  auto r = AdmittedCreate(store_, Build("echo-1", deployment_));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ClaimOn(store_, "echo", BuildTarget::kStaging), "echo-1");
  EXPECT_EQ(ClaimOn(store_, "echo", BuildTarget::kProduction), "");
}

TEST_F(AdmissionTest, SecondNonTerminalBuildForTheSameTargetIsRefused) {
  ASSERT_TRUE(AdmittedCreate(store_, Build("echo-1", deployment_)).ok());
  SetBuildPhase(store_, "echo-1", "Running");
  auto r = AdmittedCreate(store_, Build("echo-2", deployment_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_EQ(r.status().message(),
            "AgentDeployment \"echo\" already has a non-terminal staging build \"echo-1\" (phase Running)");
  EXPECT_FALSE(store_.Get({"AgentBuild", "default", "echo-2"}).ok());
  // AdmitObject alone says the same.
  Status s = AdmitObject(store_, Build("echo-2", deployment_), AdmissionOperation::kCreate);
  EXPECT_EQ(s.message(), r.status().message());
}

TEST_F(AdmissionTest, PendingBuildWithoutStatusAlsoBlocks) {
  ASSERT_TRUE(AdmittedCreate(store_, Build("echo-1", deployment_)).ok());
  auto r = AdmittedCreate(store_, Build("echo-2", deployment_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "AgentDeployment \"echo\" already has a non-terminal staging build \"echo-1\" (phase Pending)");
}

TEST_F(AdmissionTest, OtherTargetIsIndependent) {
  ASSERT_TRUE(AdmittedCreate(store_, Build("echo-1", deployment_)).ok());
  auto r = AdmittedCreate(store_, Build("echo-p1", deployment_, "production"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ClaimOn(store_, "echo", BuildTarget::kProduction), "echo-p1");
  EXPECT_EQ(ClaimOn(store_, "echo", BuildTarget::kStaging), "echo-1");
}

TEST_F(AdmissionTest, TerminalBuildDoesNotBlock) {
  ASSERT_TRUE(AdmittedCreate(store_, Build("echo-1", deployment_)).ok());
  SetBuildPhase(store_, "echo-1", "Failed");
  auto r = AdmittedCreate(store_, Build("echo-2", deployment_));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ClaimOn(store_, "echo", BuildTarget::kStaging), "echo-2");
}

TEST_F(AdmissionTest, StaleClaimNamingAMissingBuildDoesNotBlock) {
  ASSERT_TRUE(AdmittedCreate(store_, Build("echo-1", deployment_)).ok());
  ASSERT_TRUE(store_.Delete({"AgentBuild", "default", "echo-1"}).ok());
  EXPECT_EQ(ClaimOn(store_, "echo", BuildTarget::kStaging), "echo-1");
  auto r = AdmittedCreate(store_, Build("echo-2", deployment_));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ClaimOn(store_, "echo", BuildTarget::kStaging), "echo-2");
}

TEST_F(AdmissionTest, ClaimIsReleasedWhenTheCreateFails) {
  store_.fail_next_create = Internal("disk full");
  auto r = AdmittedCreate(store_, Build("echo-1", deployment_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_EQ(r.status().message(), "disk full");
  EXPECT_EQ(ClaimOn(store_, "echo", BuildTarget::kStaging), "");
}

TEST_F(AdmissionTest, ClaimIsReleasedWhenTheNameIsTaken) {
  ASSERT_TRUE(AdmittedCreate(store_, Build("echo-1", deployment_)).ok());
  SetBuildPhase(store_, "echo-1", "Succeeded");
  // Re-creating the same name: the claim moves to echo-1 again, the create fails, the claim is released.
  auto r = AdmittedCreate(store_, Build("echo-1", deployment_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ClaimOn(store_, "echo", BuildTarget::kStaging), "");
}

TEST_F(AdmissionTest, ConcurrentClaimWinsTheCompareAndSwap) {
  // Another admission claims the target and creates its build between our read and our write.
  store_.before_update = [this](FakeStore& s, const Resource&) {
    Resource rival = Build("echo-rival", deployment_);
    rival.metadata.uid = "uid-rival";
    s.Put(rival);
    Resource owner = *s.Get({"AgentDeployment", "default", "echo"});
    owner.status = json::object{{"currentBuilds", json::object{{"staging", "echo-rival"}}}};
    s.Put(owner);
  };
  auto r = AdmittedCreate(store_, Build("echo-1", deployment_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_EQ(r.status().message(),
            "AgentDeployment \"echo\" already has a non-terminal staging build \"echo-rival\" (phase Pending)");
  EXPECT_EQ(ClaimOn(store_, "echo", BuildTarget::kStaging), "echo-rival");
  EXPECT_FALSE(store_.Get({"AgentBuild", "default", "echo-1"}).ok());
}

TEST_F(AdmissionTest, ConcurrentClaimWhoseBuildIsNotCreatedYetStillBlocks) {
  // The rival has claimed but not yet created its build: the claim is fresh, not stale.
  store_.before_update = [](FakeStore& s, const Resource&) {
    Resource owner = *s.Get({"AgentDeployment", "default", "echo"});
    owner.status = json::object{{"currentBuilds", json::object{{"staging", "echo-rival"}}}};
    s.Put(owner);
  };
  auto r = AdmittedCreate(store_, Build("echo-1", deployment_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "AgentDeployment \"echo\" already has a non-terminal staging build \"echo-rival\" (being created "
            "concurrently)");
}

TEST_F(AdmissionTest, UnrelatedConcurrentWriteIsRetried) {
  store_.before_update = [](FakeStore& s, const Resource&) {
    Resource owner = *s.Get({"AgentDeployment", "default", "echo"});
    owner.status = json::object{{"observedGeneration", 1}};
    s.Put(owner);
  };
  auto r = AdmittedCreate(store_, Build("echo-1", deployment_));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto d = AgentDeployment::FromResource(*store_.Get({"AgentDeployment", "default", "echo"}));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status.current_builds.staging, "echo-1");
  EXPECT_EQ(d->status.observed_generation, 1);  // the other writer's field survived
}

TEST_F(AdmissionTest, BuildSpecIsImmutable) {
  ASSERT_TRUE(AdmittedCreate(store_, Build("echo-1", deployment_)).ok());
  Resource b = *store_.Get({"AgentBuild", "default", "echo-1"});
  b.spec.as_object()["timeLimitSeconds"] = 5;
  auto r = AdmittedUpdate(store_, b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "spec: the spec of an AgentBuild cannot change after it is created");
  // Labels may change.
  b = *store_.Get({"AgentBuild", "default", "echo-1"});
  b.metadata.labels["tier"] = "gold";
  EXPECT_TRUE(AdmittedUpdate(store_, b).ok());
}

TEST_F(AdmissionTest, UpdateChecksReferences) {
  Resource d = *store_.Get({"AgentDeployment", "default", "echo"});
  d.spec.as_object()["environmentName"] = "node20";
  auto r = AdmittedUpdate(store_, d);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "spec.environmentName: AgentEnvironment \"node20\" not found in namespace \"default\"");
}

TEST_F(AdmissionTest, UpdateOfAMissingObjectIsNotFound) {
  auto r = AdmittedUpdate(store_, Deployment("ghost"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST_F(AdmissionTest, StaleResourceVersionIsAConflict) {
  Resource d = *store_.Get({"AgentDeployment", "default", "echo"});
  Resource older = d;
  d.metadata.labels["a"] = "b";
  ASSERT_TRUE(AdmittedUpdate(store_, d).ok());
  older.metadata.labels["c"] = "d";
  auto r = AdmittedUpdate(store_, older);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
}

TEST_F(AdmissionTest, StatusWritesValidateTheStatusSchema) {
  Resource d = *store_.Get({"AgentDeployment", "default", "echo"});
  d.status = json::object{{"phase", "Deployed"}};
  auto r = AdmittedUpdate(store_, d, UpdateOptions{Subresource::kStatus});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "status.phase: unknown value \"Deployed\" (expected one of: PendingStaging, StagingDeployed, "
            "PendingProduction, ProductionDeployed)");
  d.status = json::object{{"revisions", json::object{{"staging", json::object{{"archive", "nope"}}}}}};
  r = AdmittedUpdate(store_, d, UpdateOptions{Subresource::kStatus});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "status.revisions.staging.archive: must be \"sha256:<64 hex digits>\", an http, https, s3 or file URL, "
            "or file:PATH, got \"nope\"");
  d.status = json::object{{"phase", "StagingDeployed"}};
  EXPECT_TRUE(AdmittedUpdate(store_, d, UpdateOptions{Subresource::kStatus}).ok());
}

TEST_F(AdmissionTest, StatusWritesDoNotNeedReferencesToResolve) {
  // A controller must be able to report on a deployment whose environment is gone.
  ASSERT_TRUE(store_.Delete({"AgentEnvironment", "default", "py"}).ok());
  Resource d = *store_.Get({"AgentDeployment", "default", "echo"});
  d.status = json::object{{"phase", "PendingStaging"}};
  EXPECT_TRUE(AdmittedUpdate(store_, d, UpdateOptions{Subresource::kStatus}).ok());
}

TEST_F(AdmissionTest, PatchMergesAndAdmits) {
  auto r = AdmittedPatch(store_, {"AgentDeployment", "default", "echo"}, R"({"spec":{"rollout":{"canaryPercent":25}}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto d = AgentDeployment::FromResource(*r);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->spec.rollout.canary_percent, 25);
  EXPECT_EQ(d->spec.environment_name, "py");  // untouched fields survive
  EXPECT_EQ(r->metadata.generation, 2);
}

TEST_F(AdmissionTest, PatchIsAdmitted) {
  auto r = AdmittedPatch(store_, {"AgentDeployment", "default", "echo"}, R"({"spec":{"rollout":{"canaryPercent":150}}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "spec.rollout.canaryPercent: must be between 0 and 100, got 150");
  r = AdmittedPatch(store_, {"AgentDeployment", "default", "echo"}, R"({"spec":{"enviromentName":"x"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "spec.enviromentName: unknown field (did you mean environmentName?)");
}

TEST_F(AdmissionTest, PatchNullDeletes) {
  ASSERT_TRUE(AdmittedPatch(store_, {"AgentDeployment", "default", "echo"}, R"({"metadata":{"labels":{"a":"1","b":"2"}}})").ok());
  auto r = AdmittedPatch(store_, {"AgentDeployment", "default", "echo"}, R"({"metadata":{"labels":{"a":null}}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metadata.labels, (std::map<std::string, std::string>{{"b", "2"}}));
}

TEST_F(AdmissionTest, PatchCannotRenameOrMove) {
  auto r = AdmittedPatch(store_, {"AgentDeployment", "default", "echo"}, R"({"metadata":{"name":"other"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "metadata.name: cannot be changed by a patch");
  r = AdmittedPatch(store_, {"AgentDeployment", "default", "echo"}, R"({"metadata":{"namespace":"x"}})");
  EXPECT_EQ(r.status().message(), "metadata.namespace: cannot be changed by a patch");
  r = AdmittedPatch(store_, {"AgentDeployment", "default", "echo"}, R"({"kind":"AgentMemory"})");
  EXPECT_EQ(r.status().message(), "kind: cannot be changed by a patch");
}

TEST_F(AdmissionTest, PatchMustBeAJsonObject) {
  auto r = AdmittedPatch(store_, {"AgentDeployment", "default", "echo"}, "[1]");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "merge patch: must be a JSON object");
  r = AdmittedPatch(store_, {"AgentDeployment", "default", "echo"}, "{oops");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("merge patch:1:2: invalid JSON", 0), 0u) << r.status().message();
}

TEST_F(AdmissionTest, PatchRetriesOnConcurrentWrite) {
  store_.before_update = [](FakeStore& s, const Resource&) {
    Resource owner = *s.Get({"AgentDeployment", "default", "echo"});
    owner.metadata.labels["racer"] = "1";
    s.Put(owner);
  };
  auto r = AdmittedPatch(store_, {"AgentDeployment", "default", "echo"}, R"({"metadata":{"labels":{"mine":"1"}}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metadata.labels.count("racer"), 1u);
  EXPECT_EQ(r->metadata.labels.count("mine"), 1u);
}

TEST_F(AdmissionTest, PatchPinnedToAResourceVersionIsNotRetried) {
  auto r = AdmittedPatch(store_, {"AgentDeployment", "default", "echo"},
                         R"({"metadata":{"resourceVersion":"1","labels":{"mine":"1"}}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
}

TEST_F(AdmissionTest, StatusPatchOnlyChangesStatus) {
  auto r = AdmittedPatch(store_, {"AgentDeployment", "default", "echo"},
                         R"({"status":{"phase":"PendingStaging"},"spec":{"entrypoint":"ignored:app"}})",
                         UpdateOptions{Subresource::kStatus});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto d = AgentDeployment::FromResource(*r);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status.phase, DeploymentPhase::kPendingStaging);
  EXPECT_EQ(d->spec.entrypoint, "");
}

}  // namespace
}  // namespace tuna
