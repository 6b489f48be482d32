// The pool driver's fork-server path (docs/drivers.md, "The fork-server protocol"): real
// processes, the real fork-server of tuna.a2a (bindings/python/tuna/a2a/forkserver.py) around the
// basic Python runtime (tests/workloads/fork_worker.py), with and without bubblewrap.
#include <signal.h>
#include <unistd.h>

#include <future>

#include "drivers/pool_test_util.hpp"
#include "sandbox/process.hpp"

namespace tuna {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::Eventually;
using testing::PoolFixture;

EnvironmentSpec ForkEnvironment(int pool_size = 0) {
  EnvironmentSpec env = testing::PythonEnvironment(pool_size);
  env.name = "python-fork";
  env.run_command = testing::RealPython() + " " + testing::WorkloadPath("fork_worker.py");
  env.fork_server = true;
  return env;
}

// The parent pid of `pid` from /proc (0 when gone).
pid_t ParentOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PPid:", 0) == 0) return static_cast<pid_t>(std::atoi(line.c_str() + 5));
  }
  return 0;
}

bool DescendsFrom(pid_t pid, pid_t ancestor) {
  for (int depth = 0; pid > 1 && depth < 16; ++depth) {
    pid = ParentOf(pid);
    if (pid == ancestor) return true;
  }
  return false;
}

class PoolForkTest : public PoolFixture, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    PoolFixture::SetUp();
    options_.use_bubblewrap = GetParam();
    MakeDriver();
  }

  DeployRequest ForkRequest(const std::string& id, const EnvironmentSpec& env = ForkEnvironment()) {
    DeployRequest request = AgentRequest(id, EchoAppArtifact());
    request.environment = env;
    return request;
  }

  Result<InvokeResponse> Call(const std::string& id, const std::string& path) {
    auto executor = driver_->ExecutorFor(id);
    if (!executor.ok()) return executor.status();
    InvokeRequest request;
    request.method = path == "/crash" ? "POST" : "GET";
    request.path = path;
    request.timeout = 60s;
    return (*executor)->Invoke(request);
  }

  json::object Json(const Result<InvokeResponse>& response) { return testing::JsonBody(response); }

  pid_t WaitForForkServer(const std::string& environment, pid_t other_than = 0) {
    pid_t pid = 0;
    EXPECT_TRUE(Eventually([&] {
      pid = core().ForkServerPid(environment);
      return pid != 0 && pid != other_than;
    })) << "no fork-server started for " << environment;
    return pid;
  }
};

TEST_P(PoolForkTest, WorkersAreForksAndScaleFromZero) {
  EnvironmentSpec env = ForkEnvironment(/*pool_size=*/0);
  ASSERT_TRUE(driver_->EnsureEnvironment(env).ok());
  // No warm worker, but the fork-server runs before any revision asks for one.
  pid_t server = WaitForForkServer(env.name);
  EXPECT_TRUE(core().WarmWorkerPids(env.name).empty());

  DeployRequest request = ForkRequest("ns/agent/staging/r1");
  request.env = {{"GREETING", "forked"}};
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  EXPECT_EQ(Json(Call(request.id, "/"))["greeting"], "forked");
  auto pids = core().WorkerPids(request.id);
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(DescendsFrom(pids[0], server)) << "worker " << pids[0] << " is not a fork of " << server;
  // The worker got its own environment, not the fork-server's.
  json::object socket = Json(Call(request.id, "/env?name=TUNA_WORKER_SOCKET"));
  EXPECT_NE(std::string(socket["value"].as_string()).find("/worker.sock"), std::string::npos);
  EXPECT_EQ(Json(Call(request.id, "/env?name=TUNA_FORK_SERVER_SOCKET"))["value"], nullptr);

  // A second revision is another fork; both serve.
  DeployRequest second = ForkRequest("ns/agent/production/r2");
  ASSERT_TRUE(driver_->Deploy(second).ok());
  auto second_pids = core().WorkerPids(second.id);
  ASSERT_EQ(second_pids.size(), 1u);
  EXPECT_NE(second_pids[0], pids[0]);
  EXPECT_TRUE(DescendsFrom(second_pids[0], server));
  EXPECT_EQ(Json(Call(second.id, "/"))["version"], "v1");
  EXPECT_EQ(core().ForkServerPid(env.name), server) << "one fork-server per environment";
}

TEST_P(PoolForkTest, WarmWorkersAreForksToo) {
  EnvironmentSpec env = ForkEnvironment(/*pool_size=*/2);
  ASSERT_TRUE(driver_->EnsureEnvironment(env).ok());
  ASSERT_TRUE(Eventually([&] { return core().WarmWorkerPids(env.name).size() == 2; }));
  pid_t server = core().ForkServerPid(env.name);
  for (pid_t pid : core().WarmWorkerPids(env.name)) EXPECT_TRUE(DescendsFrom(pid, server));
  auto warm = core().WarmWorkerPids(env.name);
  DeployRequest request = ForkRequest("ns/agent/staging/warm", env);
  ASSERT_TRUE(driver_->Deploy(request).ok());
  auto pids = core().WorkerPids(request.id);
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_NE(std::find(warm.begin(), warm.end(), pids[0]), warm.end()) << "the revision did not take a warm fork";
}

TEST_P(PoolForkTest, ACrashedForkedWorkerIsReportedAndReplaced) {
  DeployRequest request = ForkRequest("ns/agent/staging/crash");
  request.max_concurrency = 4;
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  auto slow = std::async(std::launch::async, [&] { return Call(request.id, "/sleep?ms=30000"); });
  ASSERT_TRUE(Eventually([&] { return (*deployment)->State().busy == 1; }));
  auto crash = Call(request.id, "/crash");
  ASSERT_FALSE(crash.ok());
  EXPECT_EQ(crash.status().code(), StatusCode::kUnavailable);
  auto in_flight = slow.get();
  ASSERT_FALSE(in_flight.ok());
  // How it ended comes from the fork-server, which reaped it.
  EXPECT_NE(in_flight.status().message().find("killed by signal 9"), std::string::npos) << in_flight.status().ToString();
  EXPECT_EQ(Json(Call(request.id, "/"))["version"], "v1");
}

TEST_P(PoolForkTest, AForkServerThatDiesIsStartedAgain) {
  EnvironmentSpec env = ForkEnvironment();
  ASSERT_TRUE(driver_->EnsureEnvironment(env).ok());
  pid_t server = WaitForForkServer(env.name);
  DeployRequest request = ForkRequest("ns/agent/staging/zygote-death");
  ASSERT_TRUE(driver_->Deploy(request).ok());
  ASSERT_EQ(::kill(server, SIGKILL), 0);
  // The maintenance thread starts another one; the revision serves again from a new fork.
  pid_t again = WaitForForkServer(env.name, server);
  EXPECT_NE(again, server);
  EXPECT_TRUE(Eventually([&] {
    auto response = Call(request.id, "/");
    return response.ok() && response->status == 200;
  }));
  auto pids = core().WorkerPids(request.id);
  ASSERT_FALSE(pids.empty());
  EXPECT_TRUE(DescendsFrom(pids.back(), again));
}

TEST_P(PoolForkTest, ABrokenForkServerFailsDeployWithItsLog) {
  EnvironmentSpec env = ForkEnvironment();
  env.name = "python-fork-broken";
  env.run_command = "sh -c \"echo 'no fork-server here' >&2; exit 3\"";
  DeployRequest request = ForkRequest("ns/agent/staging/broken", env);
  auto deployment = driver_->Deploy(request);
  ASSERT_FALSE(deployment.ok());
  EXPECT_EQ(deployment.status().code(), StatusCode::kFailedPrecondition) << deployment.status().ToString();
  EXPECT_NE(deployment.status().message().find("fork-server of environment python-fork-broken exited while starting (exit code 3)"),
            std::string::npos)
      << deployment.status().ToString();
  EXPECT_NE(deployment.status().message().find("no fork-server here"), std::string::npos) << deployment.status().ToString();
}

TEST_P(PoolForkTest, AForkedWorkerThatExitsAtOnceFailsDeployWithItsExitCode) {
  EnvironmentSpec env = ForkEnvironment();
  env.env["FORK_WORKER_CHILD_EXIT"] = "7";
  auto deployment = driver_->Deploy(ForkRequest("ns/agent/staging/child-exit", env));
  ASSERT_FALSE(deployment.ok());
  EXPECT_NE(deployment.status().message().find("exited while starting (exit code 7)"), std::string::npos)
      << deployment.status().ToString();
}

TEST_P(PoolForkTest, AChangedEnvironmentGetsANewForkServerAndOldRevisionsKeepServing) {
  EnvironmentSpec env = ForkEnvironment();
  DeployRequest old_request = ForkRequest("ns/agent/staging/old", env);
  ASSERT_TRUE(driver_->Deploy(old_request).ok());
  pid_t old_server = WaitForForkServer(env.name);

  env.env["SOMETHING"] = "changed";
  ASSERT_TRUE(driver_->EnsureEnvironment(env).ok());
  pid_t new_server = WaitForForkServer(env.name, old_server);
  DeployRequest new_request = ForkRequest("ns/agent/staging/new", env);
  ASSERT_TRUE(driver_->Deploy(new_request).ok());
  EXPECT_TRUE(DescendsFrom(core().WorkerPids(new_request.id).at(0), new_server));
  EXPECT_EQ(Json(Call(new_request.id, "/env?name=SOMETHING"))["value"], "changed");
  // The old revision's worker lives on with its own fork-server.
  EXPECT_EQ(Json(Call(old_request.id, "/"))["version"], "v1");
  EXPECT_EQ(::kill(old_server, 0), 0) << "the old fork-server went while its worker still serves";
  // Once the old revision goes, so does its fork-server.
  ASSERT_TRUE(driver_->FindDeployment(old_request.id).ok());
  ASSERT_TRUE((*driver_->FindDeployment(old_request.id))->Undeploy().ok());
  EXPECT_TRUE(Eventually([&] { return ::kill(old_server, 0) != 0 || ParentOf(old_server) == 0; }));
}

INSTANTIATE_TEST_SUITE_P(Sandbox, PoolForkTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Bubblewrap" : "Plain"; });

TEST(ProcessAdopt, WatchesAProcessItDidNotStart) {
  testing::TempDir dir;
  fs::path pid_file = dir / "pid";
  fs::path exit_file = dir / "exit";
  // A grandchild in its own session, like a fork-server's worker.
  sandbox::ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "setsid sleep 60 & echo $! > " + pid_file.string() + "; sleep 60"};
  spec.env = {{"PATH", "/usr/bin:/bin"}};
  spec.cwd = dir.path();
  auto parent = sandbox::Process::Spawn(spec);
  ASSERT_TRUE(parent.ok()) << parent.status().ToString();
  pid_t pid = 0;
  ASSERT_TRUE(Eventually([&] {
    std::ifstream in(pid_file);
    return static_cast<bool>(in >> pid) && pid > 0;
  }));
  auto adopted = sandbox::Process::Adopt(pid, exit_file);
  ASSERT_TRUE(adopted.ok()) << adopted.status().ToString();
  EXPECT_FALSE((*adopted)->TryWait());
  // Whoever reaps it says how it ended; the adopter reads that.
  std::ofstream(exit_file) << "exit code 3\n";
  (*adopted)->KillGroup(SIGKILL);
  auto exit = (*adopted)->Wait(10s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_EQ(sandbox::Process::Adopt(0, exit_file).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tuna
