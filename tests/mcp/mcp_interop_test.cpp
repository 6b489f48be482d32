// Interop with the official MCP TypeScript SDK (@modelcontextprotocol/sdk from npm): the
// fixture server runs in-process on 127.0.0.1:0 and tests/interop/mcp/client.mjs drives it with
// Client + StreamableHTTPClientTransport. scripts/test.sh installs the npm dependencies, so a
// missing node_modules is a failure, not a skip.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "support/node.hpp"
#include "cli/process.hpp"
#include "mcp/fixture_server.hpp"
#include "tuna/mcp/streamable_http.hpp"

namespace tuna::mcp {
namespace {
namespace fs = std::filesystem;

TEST(McpInterop, OfficialTypeScriptClient) {
  const fs::path dir = fs::path(TUNA_SOURCE_DIR) / "tests/interop/mcp";
  ASSERT_TRUE(fs::exists(dir / "node_modules/@modelcontextprotocol/sdk/package.json"))
      << "npm dependencies missing: run `npm ci --prefix tests/interop/mcp` (scripts/test.sh does)";
  const std::string node = tuna::testing::FindNode();
  ASSERT_FALSE(node.empty()) << "node not found on PATH";

  ServerPtr server = testing::MakeFixtureServer();
  ASSERT_TRUE(server);
  auto http = StreamableHttpServer::Make(*server, {});
  ASSERT_TRUE(http.ok()) << http.status().ToString();
  ASSERT_TRUE((*http)->Start("127.0.0.1", 0).ok());
  const std::string url = "http://127.0.0.1:" + std::to_string((*http)->port()) + "/mcp";

  tuna::testing::ProcessOptions options;
  options.args = {(dir / "client.mjs").string(), url};
  options.env["PATH"] = std::getenv("PATH") ? std::getenv("PATH") : "/usr/local/bin:/usr/bin:/bin";
  options.env["HOME"] = std::getenv("HOME") ? std::getenv("HOME") : "/tmp";
  tuna::testing::ProcessResult r = tuna::testing::RunProcess(node, options, std::chrono::seconds(120));

  EXPECT_EQ(r.exit_code, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;
  for (const char* step : {"ok initialize", "ok session", "ok version", "ok ping", "ok tools/list", "ok tools/call echo",
                           "ok tools/call add", "ok tools/call fail", "ok tools/call count with progress", "ok tools/call unknown", "ok resources/list + read",
                           "ok prompts/list + get", "ok terminate session",
                           "ALL OK"}) {
    EXPECT_NE(r.out.find(step), std::string::npos) << "missing \"" << step << "\" in:\n" << r.out << r.err;
  }
  // The client ended its session with DELETE.
  EXPECT_EQ((*http)->SessionCount(), 0u);
  (*http)->Stop();
}

}  // namespace
}  // namespace tuna::mcp
