#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <future>

#include "drivers/pool_test_util.hpp"

namespace tuna {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::Eventually;
using testing::PoolFixture;

class PoolDeployTest : public PoolFixture {
 protected:
  Result<InvokeResponse> Call(const ExecutorPtr& executor, const std::string& method, const std::string& path,
                              const std::string& body = "") {
    InvokeRequest request;
    request.method = method;
    request.path = path;
    request.body = body;
    request.timeout = 60s;
    return executor->Invoke(request);
  }

  json::object Json(const Result<InvokeResponse>& response) { return testing::JsonBody(response); }

  ExecutorPtr ExecutorFor(const std::string& id) {
    auto executor = driver_->ExecutorFor(id);
    EXPECT_TRUE(executor.ok()) << executor.status().ToString();
    return executor.value_or(nullptr);
  }
};

TEST_F(PoolDeployTest, DeploySpecializesAWarmWorker) {
  MakeDriver();
  EnvironmentSpec env = testing::PythonEnvironment(/*pool_size=*/1);
  ASSERT_TRUE(driver_->EnsureEnvironment(env).ok());
  ASSERT_TRUE(Eventually([&] { return core().WarmWorkerPids(env.name).size() == 1; }));
  pid_t warm_pid = core().WarmWorkerPids(env.name)[0];

  DeployRequest request = AgentRequest("ns/agent/staging/r1", EchoAppArtifact());
  request.env = {{"GREETING", "hello from the revision"}};
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  // The revision runs on the worker that was warm, not on a new one.
  EXPECT_EQ(core().WorkerPids(request.id), std::vector<pid_t>{warm_pid});
  DeploymentState state = (*deployment)->State();
  EXPECT_TRUE(state.ready);
  EXPECT_EQ(state.replicas, 1);

  ExecutorPtr executor = ExecutorFor(request.id);
  ASSERT_TRUE(executor);
  json::object reply = Json(Call(executor, "POST", "/tasks", "{\"q\": 1}"));
  EXPECT_EQ(reply["echo"], "{\"q\": 1}");
  EXPECT_EQ(reply["path"], "/tasks");
  EXPECT_EQ(reply["greeting"], "hello from the revision");
  // Keep-alive connections are reused across calls; results stay right.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Json(Call(executor, "POST", "/", std::to_string(i)))["echo"], json::value(std::to_string(i)));

  // The pool refills with a new generic worker.
  ASSERT_TRUE(Eventually([&] {
    auto pids = core().WarmWorkerPids(env.name);
    return pids.size() == 1 && pids[0] != warm_pid;
  }));
  // Deploying the same id again returns the same revision.
  auto again = driver_->Deploy(request);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(core().WorkerPids(request.id), std::vector<pid_t>{warm_pid});
  // The worker protocol's own paths are not reachable through the executor.
  EXPECT_EQ(Call(executor, "POST", "/_tuna/specialize", "{}").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PoolDeployTest, TwoRevisionsServeTheirOwnCode) {
  MakeDriver();
  auto v1 = driver_->Deploy(AgentRequest("ns/agent/staging/r1", EchoAppArtifact("v1")));
  auto v2 = driver_->Deploy(AgentRequest("ns/agent/production/r2", EchoAppArtifact("v2")));
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(Json(Call(ExecutorFor("ns/agent/staging/r1"), "GET", "/"))["version"], "v1");
  EXPECT_EQ(Json(Call(ExecutorFor("ns/agent/production/r2"), "GET", "/"))["version"], "v2");
}

TEST_F(PoolDeployTest, ScalesUpWhenRequestsQueue) {
  MakeDriver();
  DeployRequest request = AgentRequest("ns/agent/staging/scale", EchoAppArtifact());
  request.max_concurrency = 1;
  request.max_replicas = 3;
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  EXPECT_EQ((*deployment)->State().replicas, 1);
  ExecutorPtr executor = ExecutorFor(request.id);
  // Three slow requests against one worker that takes one at a time: two queue, so it scales.
  std::vector<std::future<Result<InvokeResponse>>> calls;
  for (int i = 0; i < 3; ++i) {
    calls.push_back(std::async(std::launch::async, [&] { return Call(executor, "GET", "/sleep?ms=1500"); }));
  }
  int max_replicas_seen = 0;
  for (auto& call : calls) {
    while (call.wait_for(10ms) != std::future_status::ready) {
      max_replicas_seen = std::max(max_replicas_seen, (*deployment)->State().replicas);
    }
    EXPECT_EQ(Json(call.get())["slept"], 1500);
  }
  max_replicas_seen = std::max(max_replicas_seen, (*deployment)->State().replicas);
  EXPECT_GE(max_replicas_seen, 2);
  EXPECT_LE(max_replicas_seen, 3);
}

TEST_F(PoolDeployTest, IdleReplicasAreReapedToZeroAndComeBack) {
  MakeDriver();
  DeployRequest request = AgentRequest("ns/agent/staging/idle", EchoAppArtifact());
  request.environment.idle_timeout = 1s;
  request.environment.pool_size = 0;
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  EXPECT_EQ((*deployment)->State().replicas, 1);
  pid_t first = core().WorkerPids(request.id).at(0);
  ASSERT_TRUE(Eventually([&] { return (*deployment)->State().replicas == 0; }));
  EXPECT_TRUE((*deployment)->State().ready);  // min_replicas 0: ready to scale from zero
  EXPECT_TRUE(testing::WaitUntilGone([&] { return testing::ProcessesInGroup(first); }).empty());

  // Scale from zero: the next request starts a worker (no warm pool here: a cold start).
  ExecutorPtr executor = ExecutorFor(request.id);
  EXPECT_EQ(Json(Call(executor, "GET", "/"))["version"], "v1");
  EXPECT_EQ((*deployment)->State().replicas, 1);
}

TEST_F(PoolDeployTest, MinReplicasAreKept) {
  MakeDriver();
  DeployRequest request = AgentRequest("ns/agent/staging/min", EchoAppArtifact());
  request.environment.idle_timeout = 1s;
  request.min_replicas = 2;
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  ASSERT_TRUE(Eventually([&] { return (*deployment)->State().replicas == 2; }));
  // Kill one from outside: maintenance notices and brings the count back to two.
  pid_t victim = core().WorkerPids(request.id).at(0);
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] {
    auto pids = core().WorkerPids(request.id);
    return pids.size() == 2 && std::find(pids.begin(), pids.end(), victim) == pids.end();
  }));
  std::this_thread::sleep_for(1500ms);  // past the idle timeout: min_replicas are never reaped
  EXPECT_EQ((*deployment)->State().replicas, 2);
}

TEST_F(PoolDeployTest, CrashedWorkerFailsInFlightRequestAndTheNextSucceeds) {
  MakeDriver();
  DeployRequest request = AgentRequest("ns/agent/staging/crash", EchoAppArtifact());
  request.max_concurrency = 4;
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  ExecutorPtr executor = ExecutorFor(request.id);
  auto slow = std::async(std::launch::async, [&] { return Call(executor, "GET", "/sleep?ms=30000"); });
  ASSERT_TRUE(Eventually([&] { return (*deployment)->State().busy == 1; }));
  // Another request makes the worker kill itself (SIGKILL) while the slow one is in flight.
  auto crash = Call(executor, "POST", "/crash");
  ASSERT_FALSE(crash.ok());
  EXPECT_EQ(crash.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(crash.status().message().find("while handling the request"), std::string::npos)
      << crash.status().ToString();
  auto in_flight = slow.get();
  ASSERT_FALSE(in_flight.ok()) << "the in-flight request on the crashed worker did not fail";
  EXPECT_EQ(in_flight.status().code(), StatusCode::kUnavailable) << in_flight.status().ToString();
  EXPECT_NE(in_flight.status().message().find("worker"), std::string::npos) << in_flight.status().ToString();
  // The next request gets a new worker.
  EXPECT_EQ(Json(Call(executor, "GET", "/"))["version"], "v1");
}

TEST_F(PoolDeployTest, WorkerThatDiedWhileIdleIsReplacedWithoutFailingARequest) {
  options_.maintenance_interval = std::chrono::hours(1);  // only the request path notices the death
  MakeDriver();
  DeployRequest request = AgentRequest("ns/agent/staging/idle-death", EchoAppArtifact());
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  ExecutorPtr executor = ExecutorFor(request.id);
  std::string socket = std::string(Json(Call(executor, "GET", "/socket"))["socket"].as_string());
  pid_t victim = core().WorkerPids(request.id).at(0);
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  // Dead for sure: its socket refuses connections (the sandbox dies a moment after bwrap).
  ASSERT_TRUE(Eventually([&] {
    pool::UnixHttpClient probe(socket);
    InvokeRequest health;
    health.method = "GET";
    health.path = "/_tuna/healthz";
    return probe.Call(health, std::chrono::steady_clock::now() + 1s).failure == pool::HttpFailure::kConnect;
  }));
  // The request cannot reach the dead worker, so it goes to a new one instead of failing.
  EXPECT_EQ(Json(Call(executor, "GET", "/"))["version"], "v1");
  auto pids = core().WorkerPids(request.id);
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_NE(pids[0], victim);
}

TEST_F(PoolDeployTest, BrokenOrMaliciousArtifactsFailDeploy) {
  MakeDriver();
  DeployRequest broken = AgentRequest("ns/agent/staging/broken", EchoAppArtifact());
  broken.entrypoint = "echo_app.py:no_such_function";
  auto deployment = driver_->Deploy(broken);
  ASSERT_FALSE(deployment.ok());
  EXPECT_EQ(deployment.status().code(), StatusCode::kFailedPrecondition) << deployment.status().ToString();
  EXPECT_NE(deployment.status().message().find("no_such_function"), std::string::npos)
      << deployment.status().ToString();
  EXPECT_EQ(driver_->FindDeployment(broken.id).status().code(), StatusCode::kNotFound);

  // Zip-slip, an absolute path, and a symlink out followed by a write through it.
  fs::path evil = dir_ / "evil";
  fs::create_directories(evil / "sub");
  std::ofstream(evil / "x") << "pwned";
  fs::create_directory_symlink(dir_.path(), evil / "sub" / "link");
  std::ofstream(evil / "sub" / "link_target_file") << "pwned";
  struct Case {
    std::string tar_command;
    std::string mention;
  };
  std::vector<Case> cases = {
      {"tar -C " + (evil / "sub").string() + " -cf {} --absolute-names ../x", "'../x'"},
      {"tar -cf {} --absolute-names " + (evil / "x").string(), "absolute path"},
      {"tar -C " + (evil / "sub").string() + " -cf {} link && tar -C " + (evil / "sub").string() +
           " -rf {} --transform s,link_target_file,link/pwned, link_target_file",
       "symlink to an absolute path"},
  };
  int i = 0;
  for (const auto& c : cases) {
    fs::path tar = dir_ / ("evil" + std::to_string(i) + ".tar");
    std::string cmd = c.tar_command;
    for (std::size_t pos; (pos = cmd.find("{}")) != std::string::npos;) cmd.replace(pos, 2, tar.string());
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    auto digest = store_->Put(tar);
    ASSERT_TRUE(digest.ok());
    DeployRequest request = AgentRequest("ns/agent/staging/evil" + std::to_string(i++), *digest);
    auto result = driver_->Deploy(request);
    ASSERT_FALSE(result.ok()) << c.mention;
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status().ToString();
    EXPECT_NE(result.status().message().find(c.mention), std::string::npos) << result.status().ToString();
    EXPECT_EQ(driver_->FindDeployment(request.id).status().code(), StatusCode::kNotFound);
  }
  EXPECT_FALSE(fs::exists(dir_ / "pwned"));
  EXPECT_FALSE(fs::exists(work_dir() / "artifacts" / "x"));

  DeployRequest bad = AgentRequest("ns/agent/staging/bad", "sha256:zz");
  EXPECT_EQ(driver_->Deploy(bad).status().code(), StatusCode::kInvalidArgument);
  bad = AgentRequest("ns/agent/staging/bad", EchoAppArtifact());
  bad.environment.run_command.clear();
  EXPECT_EQ(driver_->Deploy(bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PoolDeployTest, UndeployStopsWorkersAndRemovesFiles) {
  MakeDriver();
  DeployRequest request = AgentRequest("ns/agent/staging/undeploy", EchoAppArtifact());
  request.min_replicas = 2;
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  ASSERT_TRUE(Eventually([&] { return core().WorkerPids(request.id).size() == 2; }));
  std::vector<pid_t> pids = core().WorkerPids(request.id);
  ExecutorPtr executor = ExecutorFor(request.id);
  fs::path artifact_dir = work_dir() / "artifacts" / request.artifact.substr(7);
  EXPECT_TRUE(fs::exists(artifact_dir / "echo_app.py"));

  ASSERT_TRUE((*deployment)->Undeploy().ok());
  EXPECT_TRUE((*deployment)->Undeploy().ok());  // idempotent
  for (pid_t pid : pids) {
    EXPECT_TRUE(testing::WaitUntilGone([&] { return testing::ProcessesInGroup(pid); }).empty());
  }
  EXPECT_FALSE(fs::exists(artifact_dir));
  EXPECT_EQ(driver_->FindDeployment(request.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Call(executor, "GET", "/").status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE((*deployment)->State().ready);
}

TEST_F(PoolDeployTest, DestroyingTheDriverLeavesNoProcesses) {
  MakeDriver();
  ASSERT_TRUE(driver_->EnsureEnvironment(testing::PythonEnvironment(2)).ok());
  DeployRequest request = AgentRequest("ns/agent/staging/orphans", EchoAppArtifact());
  request.min_replicas = 2;
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  ExecutorPtr executor = ExecutorFor(request.id);
  auto slow = std::async(std::launch::async, [&] { return Call(executor, "GET", "/sleep?ms=30000"); });
  ASSERT_TRUE(Eventually([&] { return (*deployment)->State().busy == 1; }));
  EXPECT_GE(testing::ProcessesWithEnv(core().marker()).size(), 4u);
  std::string marker = core().marker();
  driver_.reset();
  // The in-flight request ends with an error rather than hanging; handles report the shutdown.
  EXPECT_FALSE(slow.get().ok());
  EXPECT_EQ(Call(executor, "GET", "/").status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE((*deployment)->State().ready);
  EXPECT_TRUE(testing::WaitUntilGone([&] { return testing::ProcessesWithEnv(marker); }).empty());
}

// Runs `body` in a forked child that holds a pool driver; the parent SIGKILLs it once the child
// reports ready, then checks what is left. The child never returns into the test framework.
template <typename Body>
void RunInKilledChild(Body body) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    bool ok = body();
    char byte = ok ? 'y' : 'n';
    ssize_t ignored = ::write(ready[1], &byte, 1);
    (void)ignored;
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char byte = 0;
  ssize_t n = ::read(ready[0], &byte, 1);
  ::close(ready[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(byte, 'y') << "the child could not deploy";
}

TEST_F(PoolDeployTest, KillingTheServerLeavesNoProcesses) {
  Digest artifact = EchoAppArtifact();
  DeployRequest request = AgentRequest("ns/agent/staging/killed", artifact);
  request.min_replicas = 2;
  request.environment.pool_size = 2;
  PoolDriverOptions options = options_;
  RunInKilledChild([&] {
    auto driver = MakePoolDriver(options);
    if (!driver.ok()) return false;
    if (!(*driver)->EnsureEnvironment(testing::PythonEnvironment(2)).ok()) return false;
    auto deployment = (*driver)->Deploy(request);
    if (!deployment.ok()) {
      fprintf(stderr, "child: %s\n", deployment.status().ToString().c_str());
      return false;
    }
    auto& core = static_cast<pool::PoolDriver&>(**driver).core();
    bool ok = Eventually([&] { return core.WorkerPids(request.id).size() == 2; }, 60s) &&
              Eventually([&] { return core.WarmWorkerPids("python-test").size() == 2; }, 60s);
    if (!ok) {
      fprintf(stderr, "child: %zu replicas, %zu warm\n", core.WorkerPids(request.id).size(),
              core.WarmWorkerPids("python-test").size());
    }
    driver->release();  // the driver lives until the kill
    return ok;
  });
  // PR_SET_PDEATHSIG (and bubblewrap's --die-with-parent and pid namespace) take them all.
  auto left = testing::WaitUntilGone([&] { return testing::ProcessesWithEnv("TUNA_POOL_WORKDIR=" + work_dir().string()); });
  EXPECT_TRUE(left.empty()) << left.size() << " processes survived the killed driver";
}

TEST_F(PoolDeployTest, LeftoversOfAKilledServerAreReapedOnStart) {
  // Without bubblewrap a workload can leave its process group (setsid) and outlive a SIGKILLed
  // driver; the next driver on the work dir finds it by its marker and kills it.
  options_.use_bubblewrap = false;
  Digest artifact = EchoAppArtifact();
  DeployRequest request = AgentRequest("ns/agent/staging/leftover", artifact);
  request.environment.pool_size = 0;
  request.environment.run_command =
      "sh -c 'setsid sleep 1000 & exec " + testing::RealPython() + " " + testing::PythonWorkerPath() + "'";
  PoolDriverOptions options = options_;
  std::string marker = "TUNA_POOL_WORKDIR=" + work_dir().string();
  RunInKilledChild([&] {
    auto driver = MakePoolDriver(options);
    if (!driver.ok() || !(*driver)->Deploy(request).ok()) return false;
    // Keep the driver alive (leaked on purpose) until the kill.
    driver->release();
    return true;
  });
  // The escaped sleep survives the kill of the driver...
  std::this_thread::sleep_for(200ms);
  ASSERT_FALSE(testing::ProcessesWithEnv(marker).empty()) << "nothing escaped: the scenario did not happen";
  // ...until a new driver starts on the same work dir.
  MakeDriver();
  EXPECT_GE(core().leftovers_killed(), 1);
  EXPECT_TRUE(testing::WaitUntilGone([&] { return testing::ProcessesWithEnv(marker); }).empty());
}

TEST_F(PoolDeployTest, OneDriverPerWorkDir) {
  MakeDriver();
  auto second = MakePoolDriver(options_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
}

}  // namespace
}  // namespace tuna
