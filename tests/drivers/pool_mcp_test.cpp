#include "drivers/pool_test_util.hpp"

namespace tuna {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::PoolFixture;

class PoolMcpTest : public PoolFixture {
 protected:
  DeployRequest McpRequest(const std::string& id) {
    DeployRequest request;
    request.id = id;
    request.kind = WorkloadKind::kMcpServer;
    request.environment.name = "node-or-python";
    request.command = {testing::RealPython(), testing::WorkloadPath("stdio_mcp.py")};
    request.env = {{"PYTHONUNBUFFERED", "1"}};
    return request;
  }

  Result<InvokeResponse> Rpc(const ExecutorPtr& executor, const std::string& body) {
    InvokeRequest request;
    request.body = body;
    request.timeout = 30s;
    return executor->Invoke(request);
  }

  json::object Reply(const tuna::Result<InvokeResponse>& response) {
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    if (!response.ok()) return {};
    EXPECT_EQ(response->status, 200);
    json::value v = json::parse(response->body);
    return v.as_object();
  }
};

TEST_F(PoolMcpTest, StdioServerAnswersFramedRequests) {
  MakeDriver();
  DeployRequest request = McpRequest("ns/mcp/staging/r1");
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  EXPECT_EQ((*deployment)->State().replicas, 1);
  auto executor = driver_->ExecutorFor(request.id);
  ASSERT_TRUE(executor.ok());

  // Pretty-printed input is re-framed as one line; the log notification before it is skipped.
  json::object init = Reply(Rpc(*executor, "{\n \"jsonrpc\": \"2.0\",\n \"id\": 1,\n \"method\": \"initialize\"\n}"));
  EXPECT_EQ(init["id"], 1);
  EXPECT_EQ(init["result"].at("protocolVersion"), "2025-06-18");
  auto pid = init["result"].at("serverInfo").at("pid");

  auto notified = Rpc(*executor, R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  ASSERT_TRUE(notified.ok());
  EXPECT_EQ(notified->status, 202);

  json::object call = Reply(Rpc(*executor, R"({"jsonrpc":"2.0","id":"c-2","method":"tools/call",)"
                                            R"("params":{"name":"echo","arguments":{"text":"hi there"}}})"));
  EXPECT_EQ(call["id"], "c-2");
  EXPECT_EQ(call["result"].at("content").at(0).at("text"), "hi there");
  json::object unknown = Reply(Rpc(*executor, R"({"jsonrpc":"2.0","id":3,"method":"nope"})"));
  EXPECT_EQ(unknown["error"].at("code"), -32601);
  // The same process served every call.
  EXPECT_EQ(Reply(Rpc(*executor, R"({"jsonrpc":"2.0","id":4,"method":"initialize"})"))["result"].at("serverInfo").at("pid"),
            pid);
  EXPECT_EQ(Rpc(*executor, "not json").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PoolMcpTest, CrashedServerFailsTheRequestAndRestarts) {
  MakeDriver();
  DeployRequest request = McpRequest("ns/mcp/staging/crash");
  auto deployment = driver_->Deploy(request);
  ASSERT_TRUE(deployment.ok()) << deployment.status().ToString();
  auto executor = driver_->ExecutorFor(request.id);
  ASSERT_TRUE(executor.ok());
  EXPECT_EQ(Reply(Rpc(*executor, R"({"jsonrpc":"2.0","id":1,"method":"initialize"})"))["id"], 1);
  // Host pids (inside bubblewrap's pid namespace every server is pid 2).
  std::vector<pid_t> first_pid = core().WorkerPids(request.id);
  ASSERT_EQ(first_pid.size(), 1u);

  auto crash = Rpc(*executor, R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"crash"}})");
  ASSERT_FALSE(crash.ok());
  EXPECT_EQ(crash.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(crash.status().message().find("exit code 3"), std::string::npos) << crash.status().ToString();
  EXPECT_NE(crash.status().message().find("crashing on request"), std::string::npos) << crash.status().ToString();

  EXPECT_EQ(Reply(Rpc(*executor, R"({"jsonrpc":"2.0","id":3,"method":"initialize"})"))["id"], 3);
  std::vector<pid_t> second_pid = core().WorkerPids(request.id);
  ASSERT_EQ(second_pid.size(), 1u);
  EXPECT_NE(first_pid, second_pid);

  ASSERT_TRUE((*deployment)->Undeploy().ok());
  EXPECT_EQ(Rpc(*executor, R"({"jsonrpc":"2.0","id":5,"method":"initialize"})").status().code(), StatusCode::kUnavailable);
}

TEST_F(PoolMcpTest, BadCommandFailsDeploy) {
  MakeDriver();
  DeployRequest request = McpRequest("ns/mcp/staging/bad");
  request.command = {"/nonexistent/tuna-mcp-server"};
  auto deployment = driver_->Deploy(request);
  // Under bubblewrap the exec error surfaces when bwrap runs the command; without it, at spawn.
  if (deployment.ok()) {
    auto executor = driver_->ExecutorFor(request.id);
    ASSERT_TRUE(executor.ok());
    auto response = Rpc(*executor, R"({"jsonrpc":"2.0","id":1,"method":"initialize"})");
    ASSERT_FALSE(response.ok());
    EXPECT_EQ(response.status().code(), StatusCode::kUnavailable) << response.status().ToString();
  } else {
    EXPECT_NE(deployment.status().message().find("tuna-mcp-server"), std::string::npos);
  }
  request.command.clear();
  EXPECT_EQ(driver_->Deploy(request).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tuna
