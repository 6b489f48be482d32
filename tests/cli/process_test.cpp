// The subprocess runner the CLI integration tests use, checked against /bin/sh.

#include "cli/process.hpp"

#include <gtest/gtest.h>

namespace tuna::testing {
namespace {

TEST(CliProcess, CapturesOutputExitCodeAndEnvironment) {
  auto r = RunProcess("/bin/sh", {{"-c", "echo out-$GREETING; echo err >&2; exit 3"}, {{"GREETING", "hi"}}, ""});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out-hi\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(CliProcess, FeedsStdin) {
  auto r = RunProcess("/bin/sh", {{"-c", "cat"}, {}, "line one\nline two\n"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "line one\nline two\n");
}

TEST(CliProcess, WaitsForOutputAndKills) {
  auto p = Process::Spawn("/bin/sh", {{"-c", "echo ready; exec sleep 30"}, {}, ""});
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->WaitForOutput([](const std::string& out, const std::string&) { return out == "ready\n"; },
                               std::chrono::seconds(10)));
  EXPECT_EQ(p->Wait(std::chrono::milliseconds(50)).exit_code, -1);  // still running
  p->Kill(SIGTERM);
  EXPECT_EQ(p->Wait(std::chrono::seconds(10)).exit_code, 128 + SIGTERM);
}

TEST(CliProcess, MissingBinaryIsReported) {
  auto r = RunProcess("/nonexistent/tuna", {{}, {}, ""});
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_NE(r.err.find("cannot start /nonexistent/tuna"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tuna::testing
