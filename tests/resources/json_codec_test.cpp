#include <gtest/gtest.h>

#include "tuna/resources/codec.hpp"

namespace tuna {
namespace {

TEST(JsonCodec, RoundTripsEnvelopeAndMetadata) {
  auto r = DecodeJson(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment",
    "metadata":{"name":"echo","namespace":"default","labels":{"app":"echo"},
    "ownerReferences":[{"apiVersion":"tuna.ai/v1alpha1","kind":"AgentEnvironment","name":"py","uid":"u1","controller":true}]},
    "spec":{"environmentName":"py"}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metadata.labels.at("app"), "echo");
  auto again = DecodeJson(EncodeJson(*r));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *r);
}

TEST(JsonCodec, UnknownMetadataFieldSuggests) {
  auto r = DecodeJson(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment","metadata":{"nmae":"x"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "metadata.nmae: unknown field (did you mean name?)");
  EXPECT_EQ(r.status().field(), "metadata.nmae");
}

TEST(JsonCodec, UnknownKindSuggests) {
  auto r = DecodeJson(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeploymnt","metadata":{"name":"x"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "kind: unknown kind \"AgentDeploymnt\" (did you mean AgentDeployment?)");
}

TEST(JsonCodec, SyntaxErrorNamesLineAndColumn) {
  auto r = ParseJson("{\n  \"a\": 1,\n  oops\n}", "x.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("x.json:3:3: invalid JSON", 0), 0u) << r.status().message();
}

}  // namespace
}  // namespace tuna
