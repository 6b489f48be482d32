// Under bubblewrap every sandbox gets a fresh /tmp: a worker or stdio MCP server whose command
// names a file under /tmp (a checkout there, say) must still find it.

#include <filesystem>

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

}  // namespace
}  // namespace tuna
