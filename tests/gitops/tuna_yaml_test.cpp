// tuna.yaml parsing: the accepted schema and path-precise errors (file:line: field: message).

#include <gtest/gtest.h>

#include <filesystem>

#include "gitops/tuna_yaml.hpp"
#include "support/files.hpp"

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
  EXPECT_FALSE(ParseTunaYaml("kind: agent\n---\nkind: agent\n").ok());
}

TEST(GitTunaYaml, McpServer) {
  auto y = ParseTunaYaml("kind: mcp-server\nname: hello\nspec:\n  environment: py\n  command: [python3, server.py, --quiet]\n"
                         "  env:\n    GREETING: hi\n  tagPattern: \"release-*\"\n");
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(y->DeploymentKind(), "MCPServerDeployment");
  EXPECT_TRUE(y->staged());
  EXPECT_EQ(y->command, (std::vector<std::string>{"python3", "server.py", "--quiet"}));
  EXPECT_EQ(y->env.at("GREETING"), "hi");
  EXPECT_EQ(y->tag_pattern, "release-*");

  // An agent's field and a missing command, each with its line.
  auto bad = ParseTunaYaml("kind: mcp-server\nname: hello\nspec:\n  environment: py\n  entrypoint: a.py:h\n");
  ASSERT_FALSE(bad.ok());
  const std::string& m = bad.status().message();
  EXPECT_NE(m.find("tuna.yaml:5: spec.entrypoint: unknown field (known: environment, command, env, branch, tagPattern)"),
            std::string::npos) << m;
  EXPECT_NE(m.find("tuna.yaml:3: spec.command: required field is missing"), std::string::npos) << m;
  auto mistyped = ParseTunaYaml("kind: mcp-server\nname: hello\nspec:\n  environment: py\n  command:\n    - python3\n    - {a: 1}\n"
                                "  env:\n    PORT: 8080\n");
  ASSERT_FALSE(mistyped.ok());
  EXPECT_NE(mistyped.status().message().find("tuna.yaml:7: spec.command[1]: expected a string, got a mapping"),
            std::string::npos) << mistyped.status().message();
  EXPECT_NE(mistyped.status().message().find("tuna.yaml:9: spec.env.PORT: expected a string, got a number (quote the value)"),
            std::string::npos) << mistyped.status().message();
}

TEST(GitTunaYaml, HttpTool) {
  const std::string text =
      "kind: http-tool\n"
      "name: petstore\n"
      "spec:\n"
      "  openapi:\n"
      "    file: api/openapi.yaml\n"
      "  baseUrl: https://petstore.example.com/api/v3\n"
      "  operations: [getPetById, \"GET /pet/findByStatus\"]\n"
      "  credentials:\n"
      "    type: apiKey\n"
      "    headerName: api_key\n"
      "    secretRef: {name: petstore, key: api-key}\n"
      "  headers: {X-Client: tuna}\n";
  auto y = ParseTunaYaml(text);
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_FALSE(y->staged());
  EXPECT_EQ(y->DeploymentKind(), "HTTPToolDeployment");
  EXPECT_EQ(y->branch, "main");  // the default branch that updates it
  EXPECT_EQ(y->openapi_file, "api/openapi.yaml");
  EXPECT_EQ(y->tool.at("baseUrl").as_string(), "https://petstore.example.com/api/v3");
  EXPECT_EQ(y->tool.at("operations").as_array().size(), 2u);
  EXPECT_FALSE(y->tool.contains("openapi"));

  const std::string doc =
      "openapi: 3.0.4\n"
      "info: {title: Pets, version: '1'}\n"
      "paths:\n"
      "  /pet/{petId}:\n"
      "    get: {operationId: getPetById, responses: {'200': {description: ok}}}\n"
      "  /pet/findByStatus:\n"
      "    get: {operationId: findPetsByStatus, responses: {'200': {description: ok}}}\n";
  auto parsed = ParseOpenApiDocument(*y, doc);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->at("info").at("title").as_string(), "Pets");
  // JSON is accepted too.
  EXPECT_TRUE(ParseOpenApiDocument(*y, R"({"openapi": "3.1.0", "info": {"title": "Pets", "version": "1"}, "paths": {"/pet/{petId}": {"get": {"operationId": "getPetById"}},
      "/pet/findByStatus": {"get": {}}}})").ok());

  // An allowlisted operation the document lacks names tuna.yaml's line; a broken document its own.
  auto without = ParseOpenApiDocument(*y, "openapi: 3.0.4\npaths:\n  /pet/{petId}:\n    get: {operationId: getPetById}\n");
  ASSERT_FALSE(without.ok());
  EXPECT_EQ(without.status().message(),
            "tuna.yaml:7: spec.operations[1]: operation \"GET /pet/findByStatus\" is not in api/openapi.yaml "
            "(an operationId or \"METHOD /path\")");
  auto broken = ParseOpenApiDocument(*y, "openapi: 3.0.4\npaths: {\n");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().message().rfind("api/openapi.yaml:", 0), 0u) << broken.status().message();
  auto swagger = ParseOpenApiDocument(*y, "swagger: '2.0'\npaths: {}\n");
  ASSERT_FALSE(swagger.ok());
  EXPECT_NE(swagger.status().message().find("must be an OpenAPI 3 document"), std::string::npos);
  // Checked as the gateway will load it: a broken $ref is refused at push time.
  auto dangling = ParseOpenApiDocument(
      *y, "openapi: 3.0.4\ninfo: {title: Pets, version: '1'}\npaths:\n  /pet/{petId}:\n    get:\n"
          "      operationId: getPetById\n      parameters: [{$ref: '#/components/parameters/missing'}]\n"
          "      responses: {'200': {description: ok}}\n  /pet/findByStatus:\n    get: {responses: {'200': {description: ok}}}\n");
  ASSERT_FALSE(dangling.ok());
  EXPECT_EQ(dangling.status().message().rfind("api/openapi.yaml: ", 0), 0u) << dangling.status().message();
  EXPECT_NE(dangling.status().message().find("missing"), std::string::npos) << dangling.status().message();

  // Schema problems of the tool, path-precise; tags do not deploy HTTP tools.
  auto bad = ParseTunaYaml(
      "kind: http-tool\nname: petstore\nspec:\n  openapi: {url: https://x}\n  baseUrl: ftp://x\n  tagPattern: v*\n"
      "  credentials:\n    type: password\n    secretRef: {name: s, key: k}\n");
  ASSERT_FALSE(bad.ok());
  const std::string& m = bad.status().message();
  EXPECT_NE(m.find("tuna.yaml:4: spec.openapi.url: unknown field (known: file)"), std::string::npos) << m;
  EXPECT_NE(m.find("tuna.yaml:4: spec.openapi.file: required field is missing"), std::string::npos) << m;
  EXPECT_NE(m.find("tuna.yaml:6: spec.tagPattern: not supported: HTTP tools have no stages"), std::string::npos) << m;
  EXPECT_NE(m.find("tuna.yaml:8: spec.credentials.type: "), std::string::npos) << m;
  auto url = ParseTunaYaml("kind: http-tool\nname: petstore\nspec:\n  openapi: {file: a.yaml}\n  baseUrl: ftp://x\n");
  ASSERT_FALSE(url.ok());
  EXPECT_NE(url.status().message().find("tuna.yaml:5: spec.baseUrl: "), std::string::npos) << url.status().message();
  auto escape = ParseTunaYaml("kind: http-tool\nname: petstore\nspec:\n  openapi: {file: ../etc/passwd}\n");
  ASSERT_FALSE(escape.ok());
  EXPECT_NE(escape.status().message().find("tuna.yaml:4: spec.openapi.file: "), std::string::npos) << escape.status().message();
}

TEST(GitTunaYaml, AgentCatalogueAndBindings) {
  const std::string text =
      "kind: agent\n"
      "name: echo\n"
      "spec:\n"
      "  environment: py\n"
      "  entrypoint: agent.py:handle\n"
      "  catalogue:\n"
      "    displayName: Echo\n"
      "    description: Repeats what you say.\n"
      "    skills:\n"
      "      - {id: echo, name: Echo, tags: [demo]}\n"
      "    tags: [demo]\n"
      "  bindings:\n"
      "    tools:\n"
      "      - {kind: mcp-server, name: hello}\n"
      "      - {kind: HTTPToolDeployment, name: petstore, allow: [getPetById]}\n"
      "    memories:\n"
      "      - {name: echo-history, readOnly: true}\n"
      "    peers:\n"
      "      - {name: planner}\n";
  auto y = ParseTunaYaml(text);
  ASSERT_TRUE(y.ok()) << y.status().message();
  ASSERT_TRUE(y->catalogue.has_value());
  EXPECT_EQ(y->catalogue->at("agentName").as_string(), "echo");
  EXPECT_EQ(y->catalogue->at("displayName").as_string(), "Echo");
  ASSERT_TRUE(y->bindings.has_value());
  EXPECT_EQ(y->bindings->at("agentName").as_string(), "echo");
  EXPECT_EQ(y->bindings->at("tools").as_array()[0].at("kind").as_string(), "MCPServerDeployment");
  EXPECT_EQ(y->bindings->at("tools").as_array()[1].at("kind").as_string(), "HTTPToolDeployment");

  // The kinds' own schema and rules, reported at tuna.yaml's lines under spec.catalogue / spec.bindings.
  auto bad = ParseTunaYaml(
      "kind: agent\nname: echo\nspec:\n  environment: py\n  entrypoint: a.py:h\n"
      "  catalogue:\n    displayName: Echo\n    skills:\n      - {id: echo}\n"
      "  bindings:\n    peers:\n      - {name: echo}\n  buildScript: make\n");
  ASSERT_FALSE(bad.ok());
  const std::string& m = bad.status().message();
  EXPECT_NE(m.find("tuna.yaml:9: spec.catalogue.skills[0].name: "), std::string::npos) << m;
  EXPECT_NE(m.find("tuna.yaml:12: spec.bindings.peers[0].name: an agent cannot be its own peer"), std::string::npos) << m;
  EXPECT_NE(m.find("tuna.yaml:13: spec.buildScript: not supported"), std::string::npos) << m;
  auto unknown = ParseTunaYaml("kind: agent\nname: echo\nspec:\n  environment: py\n  entrypoint: a.py:h\n"
                               "  catalogue:\n    displayName: Echo\n    colour: red\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("tuna.yaml:8: spec.catalogue.colour: "), std::string::npos)
      << unknown.status().message();
}

// The repository templates in examples/repos parse as they are (each could be pushed as is).
TEST(GitTunaYaml, ExampleRepositoriesAreValid) {
  const std::string root = std::string(TUNA_SOURCE_DIR) + "/examples/repos/";
  for (const std::string kind : {"agent", "mcp-server", "http-tool"}) {
    auto y = ParseTunaYaml(testing::ReadFile(root + kind + "/tuna.yaml"));
    ASSERT_TRUE(y.ok()) << kind << ": " << y.status().message();
    EXPECT_EQ(y->kind, kind);
    if (kind == "agent") {
      EXPECT_TRUE(y->catalogue.has_value());
      EXPECT_TRUE(y->bindings.has_value());
      EXPECT_TRUE(std::filesystem::exists(root + "agent/" + y->entrypoint.substr(0, y->entrypoint.find(':'))));
    } else if (kind == "mcp-server") {
      EXPECT_TRUE(std::filesystem::exists(root + "mcp-server/" + y->command.at(1)));
    } else {
      auto doc = ParseOpenApiDocument(*y, testing::ReadFile(root + "http-tool/" + y->openapi_file));
      EXPECT_TRUE(doc.ok()) << doc.status().message();
    }
  }
}

TEST(GitTunaYaml, DnsLabels) {
  EXPECT_TRUE(IsDnsLabel("echo-2"));
  for (const char* bad : {"", "..", "a.b", "a/b", "-a", "a-", "A", "a_b"}) EXPECT_FALSE(IsDnsLabel(bad)) << bad;
  EXPECT_FALSE(IsDnsLabel(std::string(64, 'a')));
}

}  // namespace
}  // namespace tuna::gitops
