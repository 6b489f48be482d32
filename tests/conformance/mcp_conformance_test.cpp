// The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
// tests/interop/conformance/package.json) against tuna's conformance fixture server
// (tests/conformance/fixture_server.cpp, its own executable on 127.0.0.1:0). The run is compared
// with tests/conformance/expected.json by run_conformance.py: a scenario expected to pass that
// fails is a regression. scripts/test.sh installs the suite, so a missing node_modules fails.
// The same suite through tuna's gateway (/mcp/{ns}/servers/{name}, an MCPServerDeployment whose
// external URL is the fixture) must give the same result for every scenario.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "cli/process.hpp"
#include "support/tuna_server_fixture.hpp"

namespace tuna::mcp {
namespace {
namespace fs = std::filesystem;

// Starts the fixture; returns its MCP endpoint URL ("" and a failure when it did not start).
std::string StartFixture(std::unique_ptr<tuna::testing::Process>& fixture, const tuna::testing::ProcessOptions& env) {
  std::string error;
  fixture = tuna::testing::Process::Spawn(TUNA_CONFORMANCE_FIXTURE, env, &error);
  EXPECT_TRUE(fixture) << error;
  if (!fixture) return "";
  const std::regex endpoint(R"(MCP endpoint: (http://127\.0\.0\.1:[0-9]+/mcp))");
  bool started = fixture->WaitForOutput([&](const std::string& out, const std::string&) { return std::regex_search(out, endpoint); },
                                        std::chrono::seconds(20));
  EXPECT_TRUE(started) << "fixture did not start: " << fixture->Stdout() << fixture->Stderr();
  std::smatch m;
  const std::string out = fixture->Stdout();
  return started && std::regex_search(out, m, endpoint) ? std::string(m[1]) : std::string();
}

TEST(McpServerConformance, OfficialSuiteMatchesExpected) {
  const fs::path root = TUNA_SOURCE_DIR;
  ASSERT_TRUE(fs::exists(root / "tests/interop/conformance/node_modules/@modelcontextprotocol/conformance/package.json"))
      << "conformance suite missing: run `npm ci --prefix tests/interop/conformance` (scripts/test.sh does)";

  tuna::testing::ProcessOptions env_only;
  env_only.env["PATH"] = std::getenv("PATH") ? std::getenv("PATH") : "/usr/local/bin:/usr/bin:/bin";
  env_only.env["HOME"] = std::getenv("HOME") ? std::getenv("HOME") : "/tmp";

  std::unique_ptr<tuna::testing::Process> fixture;
  const std::string url = StartFixture(fixture, env_only);
  ASSERT_FALSE(url.empty());

  tuna::testing::ProcessOptions run = env_only;
  run.args = {(root / "tests/conformance/run_conformance.py").string(), url, "--details", "--compare",
              (root / "tests/conformance/expected.json").string()};
  tuna::testing::ProcessResult r = tuna::testing::RunProcess("/usr/bin/python3", run, std::chrono::minutes(4));
  EXPECT_EQ(r.exit_code, 0) << "conformance regressions against " << url << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
  EXPECT_NE(r.out.find("\"server-initialize\": \"pass\""), std::string::npos) << r.out;

  fixture->Kill();
  EXPECT_NE(fixture->Wait(std::chrono::seconds(10)).exit_code, -1);
}

// The suite against the fixture directly and through the gateway, in one run_conformance.py
// --same-as call: every scenario must give the same result both ways (the gateway loses nothing),
// and the gateway's run must meet expected.json like the direct one. The gateway needs an API
// key, which run_conformance.py --header adds to every request the suite sends.
// Sampling and elicitation scenarios show that upstream requests reach the client through the
// gateway and its answers come back (the pass-through session announces the client's
// capabilities upstream).
class McpGatewayConformance : public tuna::testing::TunaServerTest {
 protected:
  void SetUp() override {
    server_args_ = {"--api-only"};  // an external MCP server needs no controllers
    TunaServerTest::SetUp();
  }
};

TEST_F(McpGatewayConformance, GatewayGivesTheSameResultsAsTheServerDirectly) {
  namespace json = boost::json;
  const fs::path root = TUNA_SOURCE_DIR;
  ASSERT_TRUE(fs::exists(root / "tests/interop/conformance/node_modules/@modelcontextprotocol/conformance/package.json"))
      << "conformance suite missing: run `npm ci --prefix tests/interop/conformance` (scripts/test.sh does)";
  tuna::testing::ProcessOptions env_only;
  env_only.env["PATH"] = std::getenv("PATH") ? std::getenv("PATH") : "/usr/local/bin:/usr/bin:/bin";
  env_only.env["HOME"] = dir_.path();
  std::unique_ptr<tuna::testing::Process> fixture;
  const std::string direct = StartFixture(fixture, env_only);
  ASSERT_FALSE(direct.empty());

  const std::string kApi = "/apis/tuna.ai/v1alpha1/namespaces/default/";
  json::object dep = {{"apiVersion", "tuna.ai/v1alpha1"},
                      {"kind", "MCPServerDeployment"},
                      {"metadata", {{"name", "fixture"}}},
                      {"spec", {{"server", {{"http", {{"url", direct}}}}}}}};
  auto created = api_->Post(kApi + "mcpserverdeployments", json::serialize(dep));
  ASSERT_EQ(created.status, 201) << created.body;
  auto key = api_->Post(kApi + "apikeys", R"({"metadata":{"name":"conformance"},"spec":{"scope":"invoke"}})");
  ASSERT_EQ(key.status, 201) << key.body;
  const std::string token = tuna::testing::JsonStr(json::parse(key.body), {"token"});

  tuna::testing::ProcessOptions run = env_only;
  run.args = {(root / "tests/conformance/run_conformance.py").string(),
              url_ + "/mcp/default/servers/fixture",
              "--header",
              "Authorization: Bearer " + token,
              "--same-as",
              direct,
              "--compare",
              (root / "tests/conformance/expected.json").string()};
  tuna::testing::ProcessResult r = tuna::testing::RunProcess("/usr/bin/python3", run, std::chrono::minutes(4));
  EXPECT_EQ(r.exit_code, 0) << "the gateway's results differ from the server's\nstdout:\n" << r.out << "\nstderr:\n" << r.err
                            << "\nserver log:\n" << ServerLog();
  boost::system::error_code ec;
  auto report = json::parse(r.out, ec);
  ASSERT_FALSE(ec) << "run_conformance.py printed no report: " << r.out << r.err;
  ASSERT_TRUE(report.is_object() && report.as_object().contains("differences")) << r.out;
  EXPECT_TRUE(report.at("differences").as_object().empty()) << r.out;
  // Both runs really ran the suite (the key reached the gateway): scenarios passed both ways.
  EXPECT_EQ(tuna::testing::JsonStr(report, {"summary", "server-initialize"}), "pass") << r.out;
  EXPECT_EQ(tuna::testing::JsonStr(report, {"same_as", "server-initialize"}), "pass") << r.out;
  EXPECT_GE(report.at("summary").as_object().size(), 30u) << r.out;
  fixture->Kill();
  fixture->Wait(std::chrono::seconds(10));
}

}  // namespace
}  // namespace tuna::mcp
