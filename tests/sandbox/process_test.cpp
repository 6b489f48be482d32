#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "sandbox/process.hpp"
#include "sandbox/proc_scan.hpp"

namespace tuna::sandbox {
namespace {
using testing::ReadFile;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::TempDir;


ProcessSpec Shell(const TempDir& dir, const std::string& script) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.cwd = dir.path();
  spec.log_file = dir / "log";
  spec.env = {{"PATH", "/usr/bin:/bin"}, {"TUNA_TEST_MARKER", dir.path()}};
  return spec;
}

std::string Marker(const TempDir& dir) { return "TUNA_TEST_MARKER=" + dir.path(); }

TEST(SandboxTest, ScrubbedEnvironmentCwdAndLog) {
  TempDir dir;
  ::setenv("TUNA_PARENT_SECRET", "leak", 1);
  ProcessSpec spec = Shell(dir, "echo \"foo=$FOO\"; pwd; env; echo to-stderr >&2");
  spec.env["FOO"] = "bar";
  auto process = Process::Spawn(spec);
  ::unsetenv("TUNA_PARENT_SECRET");
  ASSERT_TRUE(process.ok()) << process.status().ToString();
  auto exit = (*process)->Wait(-1ms);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->success()) << exit->ToString();
  std::string log = ReadFile(dir / "log");
  EXPECT_NE(log.find("foo=bar"), std::string::npos) << log;
  EXPECT_NE(log.find(dir.path() + "\n"), std::string::npos) << log;
  EXPECT_NE(log.find("to-stderr"), std::string::npos) << log;
  EXPECT_EQ(log.find("TUNA_PARENT_SECRET"), std::string::npos) << log;
}

TEST(SandboxTest, ReportsExitCodesSignalsAndExecErrors) {
  TempDir dir;
  auto three = Process::Spawn(Shell(dir, "exit 3"));
  ASSERT_TRUE(three.ok());
  auto exit = (*three)->Wait(-1ms);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_EQ(exit->ToString(), "exit code 3");

  auto killed = Process::Spawn(Shell(dir, "kill -9 $$"));
  ASSERT_TRUE(killed.ok());
  exit = (*killed)->Wait(-1ms);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_NE(exit->ToString().find("signal 9"), std::string::npos);

  ProcessSpec missing = Shell(dir, "");
  missing.argv = {"tuna-no-such-binary"};
  auto failed = Process::Spawn(missing);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(failed.status().message().find("tuna-no-such-binary"), std::string::npos) << failed.status().ToString();

  ProcessSpec bad_cwd = Shell(dir, "true");
  bad_cwd.cwd = dir / "nope";
  auto no_cwd = Process::Spawn(bad_cwd);
  ASSERT_FALSE(no_cwd.ok());
  EXPECT_NE(no_cwd.status().message().find("chdir"), std::string::npos) << no_cwd.status().ToString();
}

TEST(SandboxTest, WaitTimesOutAndKillGroupKillsGrandchildren) {
  TempDir dir;
  auto process = Process::Spawn(Shell(dir, "sleep 1000 & sleep 1000 & wait"));
  ASSERT_TRUE(process.ok());
  pid_t pgid = (*process)->pid();
  EXPECT_FALSE((*process)->Wait(50ms).has_value());
  // The group holds the shell and its two sleeps (wait until the shell forked them).
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (testing::ProcessesInGroup(pgid).size() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(testing::ProcessesInGroup(pgid).size(), 3u);
  (*process)->KillGroup(SIGKILL);
  auto exit = (*process)->Wait(-1ms);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_TRUE(testing::WaitUntilGone([&] { return testing::ProcessesInGroup(pgid); }).empty());
  EXPECT_TRUE(testing::WaitUntilGone([&] { return testing::ProcessesWithEnv(Marker(dir)); }).empty());
}

TEST(SandboxTest, DestructorLeavesNoProcesses) {
  TempDir dir;
  pid_t pgid = 0;
  {
    auto process = Process::Spawn(Shell(dir, "sleep 1000 & exec sleep 1000"));
    ASSERT_TRUE(process.ok());
    pgid = (*process)->pid();
  }
  EXPECT_TRUE(testing::WaitUntilGone([&] { return testing::ProcessesInGroup(pgid); }).empty());
  EXPECT_TRUE(testing::WaitUntilGone([&] { return testing::ProcessesWithEnv(Marker(dir)); }).empty());
}

TEST(SandboxTest, FileSizeLimit) {
  TempDir dir;
  ProcessSpec spec = Shell(dir, "head -c 2000000 /dev/zero > big");
  spec.limits.file_size_bytes = 1 << 20;
  auto process = Process::Spawn(spec);
  ASSERT_TRUE(process.ok());
  auto exit = (*process)->Wait(-1ms);
  ASSERT_TRUE(exit.has_value());
  EXPECT_FALSE(exit->success());
  EXPECT_LE(fs::file_size(dir / "big"), 1u << 20);
}

TEST(SandboxTest, CpuTimeLimit) {
  TempDir dir;
  ProcessSpec spec = Shell(dir, "while :; do :; done");
  spec.limits.cpu_seconds = 1;
  auto process = Process::Spawn(spec);
  ASSERT_TRUE(process.ok());
  auto exit = (*process)->Wait(-1ms);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->signal == SIGXCPU || exit->signal == SIGKILL) << exit->ToString();
}

TEST(SandboxTest, PipedStdio) {
  TempDir dir;
  ProcessSpec spec = Shell(dir, "read line; echo \"got:$line\"");
  spec.pipe_stdio = true;
  auto process = Process::Spawn(spec);
  ASSERT_TRUE(process.ok());
  ASSERT_EQ(::write((*process)->stdin_fd(), "hello\n", 6), 6);
  std::string out;
  char buffer[64];
  ssize_t n;
  while ((n = ::read((*process)->stdout_fd(), buffer, sizeof buffer)) > 0) out.append(buffer, n);
  EXPECT_EQ(out, "got:hello\n");
  EXPECT_TRUE((*process)->Wait(-1ms)->success());
}

class SandboxBwrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!BwrapAvailable()) GTEST_SKIP() << "bubblewrap is not installed";
  }
};

TEST_F(SandboxBwrapTest, ReadOnlySystemPrivateTmpWritableWorkdir) {
  TempDir dir;
  fs::create_directories(dir / "work");
  std::string home_probe = std::string(std::getenv("HOME") ? std::getenv("HOME") : "/root") + "/tuna_sandbox_probe_" +
                           std::to_string(::getpid());
  ProcessSpec spec = Shell(dir, "echo x > /etc/tuna_sandbox_probe && echo etc-written; "
                                "echo x > " + home_probe + " && echo home-written; "
                                "echo x > /tmp/tuna_private_probe && echo tmp-written; "
                                "echo x > ok && echo work-written; exit 0");
  spec.cwd = dir / "work";
  spec.bwrap = {.enabled = true, .writable = {dir / "work"}};
  auto process = Process::Spawn(spec);
  ASSERT_TRUE(process.ok()) << process.status().ToString();
  auto exit = (*process)->Wait(-1ms);
  ASSERT_TRUE(exit.has_value());
  std::string log = ReadFile(dir / "log");
  EXPECT_EQ(log.find("etc-written"), std::string::npos) << log;
  EXPECT_EQ(log.find("home-written"), std::string::npos) << log;
  EXPECT_NE(log.find("tmp-written"), std::string::npos) << log;
  EXPECT_NE(log.find("work-written"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists("/etc/tuna_sandbox_probe"));
  EXPECT_FALSE(fs::exists(home_probe));
  EXPECT_FALSE(fs::exists("/tmp/tuna_private_probe"));
  EXPECT_TRUE(fs::exists(dir / "work" / "ok"));
}

TEST_F(SandboxBwrapTest, HiddenPathsAreEmpty) {
  TempDir dir;
  fs::create_directories(dir / "secret");
  std::ofstream(dir / "secret" / "key") << "s3cret";
  fs::create_directories(dir / "work");
  ProcessSpec spec = Shell(dir, "cat " + (dir / "secret" / "key").string() + " && echo read-secret; exit 0");
  spec.cwd = dir / "work";
  spec.bwrap = {.enabled = true, .hidden = {dir.path()}, .writable = {dir / "work"}};
  spec.log_file = dir / "work" / "log";
  auto process = Process::Spawn(spec);
  ASSERT_TRUE(process.ok()) << process.status().ToString();
  ASSERT_TRUE((*process)->Wait(-1ms).has_value());
  std::string log = ReadFile(dir / "work" / "log");
  EXPECT_EQ(log.find("read-secret"), std::string::npos) << log;
  EXPECT_EQ(log.find("s3cret"), std::string::npos) << log;
}

TEST_F(SandboxBwrapTest, NoNetwork) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);

  TempDir dir;
  // bash's /dev/tcp needs no client tools; it fails when the network namespace has no route.
  ProcessSpec spec = Shell(dir, "");
  spec.argv = {"/bin/bash", "-c", "echo hi > /dev/tcp/127.0.0.1/" + std::to_string(port) + " && echo connected"};
  spec.bwrap = {.enabled = true, .writable = {dir.path()}};
  auto process = Process::Spawn(spec);
  ASSERT_TRUE(process.ok()) << process.status().ToString();
  auto exit = (*process)->Wait(-1ms);
  ASSERT_TRUE(exit.has_value());
  EXPECT_FALSE(exit->success());
  EXPECT_EQ(ReadFile(dir / "log").find("connected"), std::string::npos);
  pollfd pfd = {listener, POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 0), 0) << "the sandboxed process reached the test's listener";

  // Control: the same command without the sandbox does connect, so the test can fail.
  spec.bwrap.enabled = false;
  auto open = Process::Spawn(spec);
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE((*open)->Wait(-1ms)->success());
  EXPECT_EQ(::poll(&pfd, 1, 5000), 1);
  ::close(listener);
}

TEST_F(SandboxBwrapTest, KillingTheSandboxKillsEverythingInside) {
  TempDir dir;
  ProcessSpec spec = Shell(dir, "sleep 1000 & sleep 1000 & setsid sleep 1000 & wait");
  spec.bwrap = {.enabled = true, .writable = {dir.path()}};
  auto process = Process::Spawn(spec);
  ASSERT_TRUE(process.ok()) << process.status().ToString();
  // bwrap, its pid-1 helper, the shell and three sleeps carry the marker.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (testing::ProcessesWithEnv(Marker(dir)).size() < 6 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GE(testing::ProcessesWithEnv(Marker(dir)).size(), 5u);
  process->reset();
  EXPECT_TRUE(testing::WaitUntilGone([&] { return testing::ProcessesWithEnv(Marker(dir)); }).empty());
}

}  // namespace
}  // namespace tuna::sandbox
