// Every manifest in examples/manifests decodes, validates, round-trips, and is admitted into a
// store in dependency order (so the examples stay consistent with each other).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "admission/fake_store.hpp"
#include "tuna/admission.hpp"
#include "tuna/resources/codec.hpp"
#include "tuna/resources/kinds.hpp"

namespace fs = std::filesystem;

namespace tuna {
namespace {

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<Resource> LoadExamples() {
  std::vector<Resource> out;
  fs::path dir = fs::path(TUNA_SOURCE_DIR) / "examples" / "manifests";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto docs = DecodeYamlResources(ReadFile(f), f.filename().string());
    EXPECT_TRUE(docs.ok()) << docs.status().ToString();
    if (docs.ok()) out.insert(out.end(), docs->begin(), docs->end());
  }
  return out;
}

template <class K>
void ExpectTypedRoundTrip(const Resource& r) {
  auto k = K::FromResource(r);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(k->ToResource(), r) << ToString(KeyOf(r));
}

TEST(ExampleManifests, EveryKindHasAValidExample) {
  std::vector<Resource> all = LoadExamples();
  std::set<std::string> kinds;
  for (const auto& r : all) {
    SCOPED_TRACE(ToString(KeyOf(r)));
    // Hand-written owner references carry no uid: AdmittedCreate binds it (tested below).
    Resource bound = r;
    for (auto& ref : bound.metadata.owner_references) {
      if (ref.uid.empty()) ref.uid = "bound-when-created";
    }
    Status s = ValidateObject(bound);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(r.metadata.namespace_, "default");
    kinds.insert(r.kind);
  }
  EXPECT_EQ(kinds.size(), AllKinds().size());
  for (const auto& k : AllKinds()) EXPECT_TRUE(kinds.count(std::string(k.kind))) << k.kind;
}

TEST(ExampleManifests, RoundTripThroughTypedStructsAndYaml) {
  for (const auto& r : LoadExamples()) {
    SCOPED_TRACE(ToString(KeyOf(r)));
    if (r.kind == "AgentEnvironment") ExpectTypedRoundTrip<AgentEnvironment>(r);
    if (r.kind == "AgentDeployment") ExpectTypedRoundTrip<AgentDeployment>(r);
    if (r.kind == "AgentBuild") ExpectTypedRoundTrip<AgentBuild>(r);
    if (r.kind == "MCPServerDeployment") ExpectTypedRoundTrip<MCPServerDeployment>(r);
    if (r.kind == "MCPServerBuild") ExpectTypedRoundTrip<MCPServerBuild>(r);
    if (r.kind == "HTTPToolDeployment") ExpectTypedRoundTrip<HTTPToolDeployment>(r);
    if (r.kind == "AgentResourceBinding") ExpectTypedRoundTrip<AgentResourceBinding>(r);
    if (r.kind == "AgentMemory") ExpectTypedRoundTrip<AgentMemory>(r);
    if (r.kind == "AgentCatalogue") ExpectTypedRoundTrip<AgentCatalogue>(r);
    auto back = DecodeYamlResources(EncodeYaml(r), "re-encoded.yaml");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    ASSERT_EQ(back->size(), 1u);
    EXPECT_EQ((*back)[0], r);
    auto json_back = DecodeJson(EncodeJson(r));
    ASSERT_TRUE(json_back.ok());
    EXPECT_EQ(*json_back, r);
  }
}

TEST(ExampleManifests, AreAdmittedTogetherInDependencyOrder) {
  static const std::vector<std::string> kOrder = {"AgentEnvironment",    "AgentDeployment",     "AgentMemory",
                                                  "MCPServerDeployment", "HTTPToolDeployment",  "AgentResourceBinding",
                                                  "AgentCatalogue",      "AgentBuild",          "MCPServerBuild"};
  std::vector<Resource> all = LoadExamples();
  testing::FakeStore store;
  int admitted = 0;
  for (const auto& kind : kOrder) {
    for (Resource r : all) {
      if (r.kind != kind) continue;
      SCOPED_TRACE(ToString(KeyOf(r)));
      // Owner references without a uid are bound to the owner's uid on create.
      auto created = AdmittedCreate(store, r);
      ASSERT_TRUE(created.ok()) << created.status().ToString();
      for (const auto& ref : created->metadata.owner_references) {
        auto owner = store.Get({ref.kind, r.metadata.namespace_, ref.name});
        ASSERT_TRUE(owner.ok()) << owner.status().ToString();
        EXPECT_EQ(ref.uid, owner->metadata.uid);
      }
      ++admitted;
    }
  }
  EXPECT_EQ(admitted, static_cast<int>(all.size()));
  auto echo = AgentDeployment::FromResource(*store.Get({"AgentDeployment", "default", "echo-manual"}));
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->status.current_builds.staging, "echo-manual-1");
  auto hello = MCPServerDeployment::FromResource(*store.Get({"MCPServerDeployment", "default", "hello-manual"}));
  ASSERT_TRUE(hello.ok());
  EXPECT_EQ(hello->status.current_builds.staging, "hello-manual-1");
}

}  // namespace
}  // namespace tuna
