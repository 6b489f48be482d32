#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drivers/pool_test_util.hpp"

namespace tuna {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::PoolFixture;

class PoolBuildTest : public PoolFixture {
 protected:
  BuildRequest Request(const std::string& id, const Digest& source, const std::string& script) {
    BuildRequest request;
    request.id = id;
    request.source = source;
    request.environment.name = "bash";
    request.environment.build_script = script;
    request.time_limit = 120s;
    return request;
  }

  std::map<std::string, std::string> Extract(const Digest& digest) {
    fs::path archive = dir_ / "fetched.tar.gz";
    EXPECT_TRUE(store_->Fetch(digest, archive).ok());
    fs::path out = dir_ / ("extracted-" + digest.substr(7, 8));
    EXPECT_TRUE(artifacts::ExtractSafely(archive, out).ok());
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(out)) {
      if (entry.is_regular_file()) files[entry.path().lexically_relative(out).string()] = testing::ReadFile(entry.path());
    }
    return files;
  }
};

TEST_F(PoolBuildTest, SucceedsAndArchivesTheOutputDir) {
  MakeDriver();
  Digest source = PutArchive({{"hello.txt", "hello"}, {"src/main.py", "print(1)"}});
  auto build = driver_->StartBuild(Request("ns/b1/uid1", source,
                                           "echo building in $PWD\n"
                                           "cp hello.txt \"$TUNA_OUTPUT_DIR/\"\n"
                                           "echo built > \"$TUNA_OUTPUT_DIR/marker\"\n"));
  ASSERT_TRUE(build.ok()) << build.status().ToString();
  BuildState state = WaitForBuild(*build);
  ASSERT_EQ(state.phase, BuildJobPhase::kSucceeded) << state.reason << ": " << state.message << "\n" << state.log_tail;
  EXPECT_TRUE(IsValidDigest(state.artifact));
  EXPECT_NE(state.log_tail.find("building in"), std::string::npos) << state.log_tail;
  auto files = Extract(state.artifact);
  EXPECT_EQ(files, (std::map<std::string, std::string>{{"hello.txt", "hello"}, {"marker", "built\n"}}));

  auto log = (*build)->ReadLog(0);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("building in"), std::string::npos);
  auto rest = (*build)->ReadLog(log->size());
  ASSERT_TRUE(rest.ok());
  EXPECT_TRUE(rest->empty());

  // Same id: same build. FindBuild knows it; an unknown id is NotFound.
  auto again = driver_->StartBuild(Request("ns/b1/uid1", source, "exit 1"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), build->get());
  EXPECT_EQ(driver_->FindBuild("ns/b1/uid1").value_or(nullptr).get(), build->get());
  EXPECT_EQ(driver_->FindBuild("ns/none/x").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(BuildJobPhaseName(state.phase), "Succeeded");
}

TEST_F(PoolBuildTest, WithoutOutputDirArchivesTheWorkingDir) {
  MakeDriver();
  Digest source = PutArchive({{"app.py", "x = 1"}});
  auto build = driver_->StartBuild(Request("ns/b2/uid", source, "echo generated > generated.txt"));
  ASSERT_TRUE(build.ok());
  BuildState state = WaitForBuild(*build);
  ASSERT_EQ(state.phase, BuildJobPhase::kSucceeded) << state.message << "\n" << state.log_tail;
  EXPECT_EQ(Extract(state.artifact),
            (std::map<std::string, std::string>{{"app.py", "x = 1"}, {"generated.txt", "generated\n"}}));
}

TEST_F(PoolBuildTest, NonZeroExitFailsWithLogTail) {
  MakeDriver();
  Digest source = PutArchive({{"a", "a"}});
  auto build = driver_->StartBuild(
      Request("ns/b3/uid", source, "echo step one\necho 'compile error: boom' >&2\nexit 3\necho never"));
  ASSERT_TRUE(build.ok());
  BuildState state = WaitForBuild(*build);
  EXPECT_EQ(state.phase, BuildJobPhase::kFailed);
  EXPECT_EQ(state.reason, "ExitCode");
  EXPECT_NE(state.message.find("exit code 3"), std::string::npos) << state.message;
  EXPECT_NE(state.log_tail.find("compile error: boom"), std::string::npos) << state.log_tail;
  EXPECT_EQ(state.log_tail.find("never"), std::string::npos) << state.log_tail;
  EXPECT_TRUE(state.artifact.empty());
}

TEST_F(PoolBuildTest, TimeLimitKillsTheWholeGroup) {
  MakeDriver();
  Digest source = PutArchive({{"a", "a"}});
  BuildRequest request = Request("ns/b4/uid", source, "sleep 1000 &\nsleep 1000 &\necho started\nwait");
  request.time_limit = 1s;
  auto build = driver_->StartBuild(request);
  ASSERT_TRUE(build.ok());
  BuildState state = WaitForBuild(*build);
  EXPECT_EQ(state.phase, BuildJobPhase::kFailed);
  EXPECT_EQ(state.reason, "DeadlineExceeded");
  EXPECT_NE(state.message.find("time limit of 1s"), std::string::npos) << state.message;
  // No sleep of the build survives: every process the driver starts carries its marker.
  auto left = testing::WaitUntilGone([&] { return testing::ProcessesWithEnv(core().marker()); });
  EXPECT_TRUE(left.empty()) << left.size() << " build processes survived the time limit";
}

TEST_F(PoolBuildTest, ResourceLimitsApply) {
  MakeDriver();
  Digest source = PutArchive({{"a", "a"}});
  BuildRequest cpu = Request("ns/b10/uid", source, "while :; do :; done");
  cpu.environment.limits.cpu_seconds = 1;
  BuildRequest memory = Request("ns/b11/uid", source,
                                testing::RealPython() + " -c 'x = bytearray(1024 * 1024 * 1024); print(\"allocated\")'");
  memory.environment.limits.memory_bytes = 256 << 20;
  BuildRequest file_size = Request("ns/b12/uid", source, "head -c 5000000 /dev/zero > big");
  file_size.environment.limits.file_size_bytes = 1 << 20;
  auto cpu_build = driver_->StartBuild(cpu);
  auto memory_build = driver_->StartBuild(memory);
  auto file_build = driver_->StartBuild(file_size);
  ASSERT_TRUE(cpu_build.ok() && memory_build.ok() && file_build.ok());

  BuildState state = WaitForBuild(*cpu_build);
  EXPECT_EQ(state.phase, BuildJobPhase::kFailed);
  EXPECT_EQ(state.reason, "CPULimitExceeded") << state.message;
  state = WaitForBuild(*memory_build);
  EXPECT_EQ(state.phase, BuildJobPhase::kFailed);
  EXPECT_NE(state.log_tail.find("MemoryError"), std::string::npos) << state.log_tail;
  EXPECT_EQ(state.log_tail.find("allocated"), std::string::npos) << state.log_tail;
  state = WaitForBuild(*file_build);
  EXPECT_EQ(state.phase, BuildJobPhase::kFailed);
  EXPECT_EQ(state.reason, "FileSizeLimitExceeded") << state.message << "\n" << state.log_tail;
}

TEST_F(PoolBuildTest, CancelKillsARunningBuild) {
  MakeDriver();
  Digest source = PutArchive({{"a", "a"}});
  auto build = driver_->StartBuild(Request("ns/b5/uid", source, "echo running\nsleep 1000"));
  ASSERT_TRUE(build.ok());
  ASSERT_TRUE(testing::Eventually([&] { return (*build)->State().log_tail.find("running\n") != std::string::npos; }));
  EXPECT_TRUE((*build)->Cancel().ok());
  BuildState state = WaitForBuild(*build);
  EXPECT_EQ(state.phase, BuildJobPhase::kFailed);
  EXPECT_EQ(state.reason, "Cancelled");
  EXPECT_TRUE((*build)->Cancel().ok());  // idempotent on a finished build
  EXPECT_TRUE(testing::WaitUntilGone([&] { return testing::ProcessesWithEnv(core().marker()); }).empty());
}

TEST_F(PoolBuildTest, MaliciousSourceIsRefused) {
  MakeDriver();
  // A tar whose entry climbs out of the extraction directory.
  fs::path evil_dir = dir_ / "evil";
  fs::create_directories(evil_dir / "sub");
  std::ofstream(evil_dir / "x") << "pwned";
  fs::path tar = dir_ / "evil.tar";
  std::string cmd = "tar -C " + (evil_dir / "sub").string() + " -cf " + tar.string() + " --absolute-names ../x";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto source = store_->Put(tar);
  ASSERT_TRUE(source.ok());
  auto build = driver_->StartBuild(Request("ns/b6/uid", *source, "echo should-not-run"));
  ASSERT_TRUE(build.ok());
  BuildState state = WaitForBuild(*build);
  EXPECT_EQ(state.phase, BuildJobPhase::kFailed);
  EXPECT_EQ(state.reason, "InvalidSource");
  EXPECT_NE(state.message.find("unsafe archive entry '../x'"), std::string::npos) << state.message;
  EXPECT_EQ(state.log_tail.find("should-not-run"), std::string::npos);
}

TEST_F(PoolBuildTest, MissingSourceAndBadRequests) {
  MakeDriver();
  auto build = driver_->StartBuild(Request("ns/b7/uid", Sha256Bytes("not stored"), "true"));
  ASSERT_TRUE(build.ok());
  BuildState state = WaitForBuild(*build);
  EXPECT_EQ(state.phase, BuildJobPhase::kFailed);
  EXPECT_EQ(state.reason, "SourceUnavailable");
  EXPECT_EQ(driver_->StartBuild(Request("", Sha256Bytes("x"), "true")).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(driver_->StartBuild(Request("ns/b8/uid", "sha256:nope", "true")).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(PoolBuildTest, SandboxBlocksWritesOutsideAndNetwork) {
  if (!sandbox::BwrapAvailable()) GTEST_SKIP() << "bubblewrap is not installed";
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string port = std::to_string(ntohs(addr.sin_port));
  std::string home_probe = std::string(std::getenv("HOME") ? std::getenv("HOME") : "/root") +
                           "/tuna_build_probe_" + std::to_string(::getpid());

  // Outside /tmp (which is private in the sandbox anyway): one hidden directory, one not.
  fs::path outside = "/var/tmp/tuna_pool_test_" + std::to_string(::getpid()) + "_" + std::filesystem::path(dir_.path()).filename().string();
  fs::create_directories(outside / "secrets");
  fs::create_directories(outside / "public");
  std::ofstream(outside / "secrets" / "key") << "s3cret";
  std::ofstream(outside / "public" / "note") << "visible-note";
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } cleanup{outside};
  options_.hidden_paths = {outside / "secrets", "/nonexistent/is/skipped"};
  MakeDriver();
  Digest source = PutArchive({{"a", "a"}});
  std::string python = testing::RealPython();
  auto build = driver_->StartBuild(Request(
      "ns/b9/uid", source,
      "if echo x > /etc/tuna_build_probe; then echo ETC_WRITTEN; fi\n"
      "if echo x > " + home_probe + "; then echo HOME_WRITTEN; fi\n"
      "if echo x > " + (dir_ / "outside").string() + "; then echo OUTSIDE_WRITTEN; fi\n"
      "if " + python + " -c \"import socket; socket.create_connection(('127.0.0.1', " + port +
      "), timeout=3)\"; then echo PY_CONNECTED; fi\n"
      "if echo hi > /dev/tcp/127.0.0.1/" + port + "; then echo BASH_CONNECTED; fi\n"
      "echo x > inside && echo INSIDE_WRITTEN\n"
      "cat " + (outside / "secrets" / "key").string() + "\n"
      "cat " + (outside / "public" / "note").string() + "\n"
      "echo DONE\n"));
  ASSERT_TRUE(build.ok());
  BuildState state = WaitForBuild(*build);
  EXPECT_EQ(state.phase, BuildJobPhase::kSucceeded) << state.message << "\n" << state.log_tail;
  // The write to the test's directory lands in the sandbox's private /tmp, never on the host.
  for (const char* marker : {"ETC_WRITTEN", "HOME_WRITTEN", "PY_CONNECTED", "BASH_CONNECTED"}) {
    EXPECT_EQ(state.log_tail.find(marker), std::string::npos) << marker << "\n" << state.log_tail;
  }
  EXPECT_NE(state.log_tail.find("INSIDE_WRITTEN"), std::string::npos) << state.log_tail;
  EXPECT_EQ(state.log_tail.find("s3cret"), std::string::npos) << state.log_tail;
  EXPECT_NE(state.log_tail.find("visible-note"), std::string::npos) << state.log_tail;
  EXPECT_NE(state.log_tail.find("DONE"), std::string::npos) << state.log_tail;
  EXPECT_FALSE(fs::exists("/etc/tuna_build_probe"));
  EXPECT_FALSE(fs::exists(home_probe));
  EXPECT_FALSE(fs::exists(dir_ / "outside"));
  pollfd pfd = {listener, POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 0), 0) << "a build reached the test's listener";
  ::close(listener);
}

}  // namespace
}  // namespace tuna
