// tuna.yaml parsing: the accepted schema and path-precise errors (file:line: field: message).

#include <gtest/gtest.h>

#include "gitops/tuna_yaml.hpp"

namespace tuna::gitops {
namespace {

TEST(GitTunaYaml, ParsesTheFullSchema) {
  auto y = ParseTunaYaml("kind: agent\nname: echo\nspec:\n  environment: python311\n  entrypoint: agent.py:handle\n"
                         "  branch: main\n  tagPattern: \"release-*\"\n  env:\n    A: \"1\"\n");
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(y->name, "echo");
  EXPECT_EQ(y->environment, "python311");
  EXPECT_EQ(y->entrypoint, "agent.py:handle");
  EXPECT_EQ(y->branch, "main");
  EXPECT_EQ(y->tag_pattern, "release-*");
  EXPECT_EQ(y->env.at("A"), "1");
}

TEST(GitTunaYaml, DefaultsTagPatternAndBranch) {
  auto y = ParseTunaYaml("kind: agent\nname: echo\nspec:\n  environment: e\n  entrypoint: a.py:h\n");
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(y->tag_pattern, "v*");
  EXPECT_EQ(y->branch, "");
  EXPECT_TRUE(TagMatches(y->tag_pattern, "v1.2.0"));
  EXPECT_FALSE(TagMatches(y->tag_pattern, "release-1"));
}

TEST(GitTunaYaml, MissingFieldNamesLineAndPath) {
  auto y = ParseTunaYaml("kind: agent\nname: echo\nspec:\n  entrypoint: agent.py:handle\n");
  ASSERT_FALSE(y.ok());
  EXPECT_EQ(y.status().message(), "tuna.yaml:3: spec.environment: required field is missing");
}

TEST(GitTunaYaml, ReportsEveryProblem) {
  auto y = ParseTunaYaml("kind: robot\nname: Echo_1\nspec:\n  environment: [a]\n  entrypoint: x\n  colour: red\n");
  ASSERT_FALSE(y.ok());
  const std::string& m = y.status().message();
  EXPECT_NE(m.find("tuna.yaml:1: kind: unknown kind \"robot\""), std::string::npos) << m;
  EXPECT_NE(m.find("tuna.yaml:2: name: invalid name \"Echo_1\""), std::string::npos) << m;
  EXPECT_NE(m.find("tuna.yaml:4: spec.environment: expected a string"), std::string::npos) << m;
  EXPECT_NE(m.find("tuna.yaml:6: spec.colour: unknown field"), std::string::npos) << m;
}

TEST(GitTunaYaml, RejectsBrokenYamlAndNonMappings) {
  auto bad = ParseTunaYaml("kind: agent\nname: [unclosed\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("tuna.yaml:", 0), 0u) << bad.status().message();
  EXPECT_FALSE(ParseTunaYaml("- a\n- b\n").ok());
  EXPECT_FALSE(ParseTunaYaml("").ok());
  auto mcp = ParseTunaYaml("kind: mcp-server\nname: x\nspec:\n  environment: e\n  entrypoint: a\n");
  ASSERT_FALSE(mcp.ok());
  EXPECT_NE(mcp.status().message().find("not supported by git push yet"), std::string::npos);
}

TEST(GitTunaYaml, DnsLabels) {
  EXPECT_TRUE(IsDnsLabel("echo-2"));
  for (const char* bad : {"", "..", "a.b", "a/b", "-a", "a-", "A", "a_b"}) EXPECT_FALSE(IsDnsLabel(bad)) << bad;
  EXPECT_FALSE(IsDnsLabel(std::string(64, 'a')));
}

}  // namespace
}  // namespace tuna::gitops
