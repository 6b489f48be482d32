// Interop with the official A2A JavaScript SDK from npm: @a2a-js/sdk 1.x (A2A 1.0) and
// @a2a-js/sdk 0.3.x installed under the alias a2a-sdk-03 (A2A 0.3), each driving
// tests/interop/a2a/client.mjs against an a2a::HttpServer on 127.0.0.1:0 (send, direct message,
// stream, get, multi-turn, non-blocking send, resubscribe + cancel, list, error codes).
// scripts/test.sh installs the npm dependencies, so a missing node_modules is a failure.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <unistd.h>

#include "support/node.hpp"
#include "a2a/test_store.hpp"
#include "a2a/test_agent.hpp"
#include "cli/process.hpp"
#include "tuna/a2a/http_server.hpp"

namespace tuna::a2a {
namespace {
namespace fs = std::filesystem;

class A2aInterop : public ::testing::TestWithParam<std::string> {};

TEST_P(A2aInterop, OfficialJavaScriptClient) {
  const std::string version = GetParam();
  const fs::path dir = fs::path(TUNA_SOURCE_DIR) / "tests/interop/a2a";
  const char* package = version == "1.0" ? "node_modules/@a2a-js/sdk/package.json" : "node_modules/a2a-sdk-03/package.json";
  ASSERT_TRUE(fs::exists(dir / package)) << "npm dependencies missing: run `npm ci --prefix tests/interop/a2a` (scripts/test.sh does)";
  const std::string node = tuna::testing::FindNode();
  ASSERT_FALSE(node.empty()) << "node not found on PATH";

  A2aTestStore store;
  A2aTestAgent agent;
  ServerOptions options;
  options.card = A2aTestCard();
  auto server = Server::Make(agent, *store, options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto http = HttpServer::Make(**server);
  ASSERT_TRUE(http.ok()) << http.status().ToString();
  ASSERT_TRUE((*http)->Start("127.0.0.1", 0).ok());
  const std::string url = "http://127.0.0.1:" + std::to_string((*http)->port());

  tuna::testing::ProcessOptions process;
  process.args = {(dir / "client.mjs").string(), url, version};
  process.env["PATH"] = std::getenv("PATH") ? std::getenv("PATH") : "/usr/local/bin:/usr/bin:/bin";
  process.env["HOME"] = std::getenv("HOME") ? std::getenv("HOME") : "/tmp";
  tuna::testing::ProcessResult r = tuna::testing::RunProcess(node, process, std::chrono::seconds(120));

  EXPECT_EQ(r.exit_code, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;
  std::vector<std::string> steps = {"ok card", "ok send", "ok direct message", "ok stream", "ok get", "ok multi-turn",
                                    "ok cancel + resubscribe", "ok errors", "ALL OK"};
  if (version == "1.0") steps.push_back("ok list");
  for (const auto& step : steps) EXPECT_NE(r.out.find(step), std::string::npos) << "missing \"" << step << "\" in:\n" << r.out << r.err;
  (*http)->Stop();
}

INSTANTIATE_TEST_SUITE_P(Versions, A2aInterop, ::testing::Values("1.0", "0.3"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param == "1.0" ? "V1_0" : "V0_3"; });

}  // namespace
}  // namespace tuna::a2a
