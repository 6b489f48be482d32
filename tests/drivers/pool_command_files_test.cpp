// Under bubblewrap every sandbox gets a fresh /tmp: a worker or stdio MCP server whose command
// names a file under /tmp (a checkout there, say) must still find it.

#include <unistd.h>

#include <filesystem>

#include "cli/process.hpp"
#include "drivers/pool_test_util.hpp"

namespace tuna {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::PoolFixture;

class PoolCommandFilesTest : public PoolFixture {
 protected:
  // A copy of `source` under this test's directory, which lives under $TMPDIR (/tmp).
  std::string CopyUnderTmp(const std::string& source, const std::string& name) {
    fs::path to = dir_ / "elsewhere" / name;
    fs::create_directories(to.parent_path());
    fs::copy_file(source, to, fs::copy_options::overwrite_existing);
    return to.string();
  }
};

TEST_F(PoolCommandFilesTest, WorkerScriptUnderTmpIsVisibleInTheSandbox) {
  MakeDriver();
  DeployRequest request = AgentRequest("ns/agent/staging/tmp1", EchoAppArtifact());
  request.environment.run_command = testing::RealPython() + " " + CopyUnderTmp(testing::PythonWorkerPath(), "worker.py");
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  auto executor = driver_->ExecutorFor(request.id);
  ASSERT_TRUE(executor.ok()) << executor.status().ToString();
  InvokeRequest call;
  call.body = "ping";
  call.timeout = 60s;
  auto reply = (*executor)->Invoke(call);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->status, 200) << reply->body;
}

TEST_F(PoolCommandFilesTest, StdioServerScriptUnderTmpIsVisibleInTheSandbox) {
  MakeDriver();
  DeployRequest request;
  request.id = "ns/mcp/staging/tmp1";
  request.kind = WorkloadKind::kMcpServer;
  request.environment.name = "python";
  request.command = {testing::RealPython(), CopyUnderTmp(testing::WorkloadPath("stdio_mcp.py"), "stdio_mcp.py")};
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  auto executor = driver_->ExecutorFor(request.id);
  ASSERT_TRUE(executor.ok()) << executor.status().ToString();
  InvokeRequest call;
  call.body = R"({"jsonrpc":"2.0","id":1,"method":"initialize"})";
  call.timeout = 60s;
  auto reply = (*executor)->Invoke(call);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_NE(reply->body.find("\"protocolVersion\""), std::string::npos) << reply->body;
}

// A virtual environment's interpreter is a symlink (bin/python3 -> the base interpreter), which
// bubblewrap cannot mount over: a worker started with it must run, whether the environment lives
// under /tmp (a fresh tmpfs in the sandbox) or elsewhere.
class PoolVenvTest : public PoolCommandFilesTest {
 protected:
  // `python -m venv --without-pip` at `where`; returns its bin/python3 (a symlink).
  std::string MakeVenv(const fs::path& where) {
    testing::ProcessOptions po;
    po.args = {"-m", "venv", "--without-pip", where.string()};
    po.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"HOME", dir_.path()}};
    auto made = testing::RunProcess(testing::RealPython(), po, 120s);
    EXPECT_EQ(made.exit_code, 0) << made.out << made.err;
    fs::path python = where / "bin" / "python3";
    EXPECT_TRUE(fs::is_symlink(python)) << python;
    return python.string();
  }

  void DeployWith(const std::string& python, const std::string& id) {
    MakeDriver();
    DeployRequest request = AgentRequest(id, EchoAppArtifact());
    request.environment.run_command = python + " " + testing::PythonWorkerPath();
    auto deployment = driver_->Deploy(request);
    ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
    auto executor = driver_->ExecutorFor(request.id);
    ASSERT_TRUE(executor.ok()) << executor.status().ToString();
    InvokeRequest call;
    call.body = "ping";
    call.timeout = 60s;
    auto reply = (*executor)->Invoke(call);
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_EQ(reply->status, 200) << reply->body;
  }
};

TEST_F(PoolVenvTest, VirtualEnvironmentUnderTmpRunsTheWorker) {
  DeployWith(MakeVenv(dir_ / "venv"), "ns/agent/staging/venv-tmp");
}

TEST_F(PoolVenvTest, VirtualEnvironmentOutsideTmpRunsTheWorker) {
  // The test's working directory (the build tree) is not under /tmp.
  fs::path where = fs::current_path() / ("pool-venv-test-" + std::to_string(::getpid()));
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{where};
  ASSERT_NE(where.string().rfind("/tmp/", 0), 0u) << "run from a directory outside /tmp";
  DeployWith(MakeVenv(where), "ns/agent/staging/venv-elsewhere");
}

}  // namespace
}  // namespace tuna
