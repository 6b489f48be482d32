// The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
// tests/interop/conformance/package.json) against tuna's conformance fixture server
// (tests/conformance/fixture_server.cpp, its own executable on 127.0.0.1:0). The run is compared
// with tests/conformance/expected.json by run_conformance.py: a scenario expected to pass that
// fails is a regression. scripts/test.sh installs the suite, so a missing node_modules fails.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "cli/process.hpp"

namespace tuna::mcp {
namespace {
namespace fs = std::filesystem;

TEST(McpServerConformance, OfficialSuiteMatchesExpected) {
  const fs::path root = TUNA_SOURCE_DIR;
  ASSERT_TRUE(fs::exists(root / "tests/interop/conformance/node_modules/@modelcontextprotocol/conformance/package.json"))
      << "conformance suite missing: run `npm ci --prefix tests/interop/conformance` (scripts/test.sh does)";

  tuna::testing::ProcessOptions env_only;
  env_only.env["PATH"] = std::getenv("PATH") ? std::getenv("PATH") : "/usr/local/bin:/usr/bin:/bin";
  env_only.env["HOME"] = std::getenv("HOME") ? std::getenv("HOME") : "/tmp";

  std::string error;
  auto fixture = tuna::testing::Process::Spawn(TUNA_CONFORMANCE_FIXTURE, env_only, &error);
  ASSERT_TRUE(fixture) << error;
  const std::regex endpoint(R"(MCP endpoint: (http://127\.0\.0\.1:[0-9]+/mcp))");
  ASSERT_TRUE(fixture->WaitForOutput([&](const std::string& out, const std::string&) { return std::regex_search(out, endpoint); },
                                     std::chrono::seconds(20)))
      << "fixture did not start: " << fixture->Stdout() << fixture->Stderr();
  std::smatch m;
  const std::string out = fixture->Stdout();
  ASSERT_TRUE(std::regex_search(out, m, endpoint));
  const std::string url = m[1];

  tuna::testing::ProcessOptions run = env_only;
  run.args = {(root / "tests/conformance/run_conformance.py").string(), url, "--details", "--compare",
              (root / "tests/conformance/expected.json").string()};
  tuna::testing::ProcessResult r = tuna::testing::RunProcess("/usr/bin/python3", run, std::chrono::minutes(4));
  EXPECT_EQ(r.exit_code, 0) << "conformance regressions against " << url << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
  EXPECT_NE(r.out.find("\"server-initialize\": \"pass\""), std::string::npos) << r.out;

  fixture->Kill();
  EXPECT_NE(fixture->Wait(std::chrono::seconds(10)).exit_code, -1);
}

}  // namespace
}  // namespace tuna::mcp
