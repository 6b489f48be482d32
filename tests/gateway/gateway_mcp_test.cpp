// The gateway's MCP endpoints through the real `tuna server`, with the official MCP TypeScript
// SDK client: the example stdio MCP server "hello" deployed on the pool, and the echo agent's
// federated endpoint (hello + the petstore HTTP tool, as its AgentResourceBinding allows).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <thread>

#include "support/node.hpp"
#include "support/tuna_server_fixture.hpp"

namespace tuna::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kApi = "/apis/tuna.ai/v1alpha1/namespaces/";

class GatewayMcp : public TunaServerTest {
 protected:
  void SetUp() override {
    TunaServerTest::SetUp();
    if (HasFatalFailure()) return;
    std::string m = std::string(TUNA_SOURCE_DIR) + "/examples/manifests/";
    auto applied = Tuna({"apply", "-f", m + "agent-environment.yaml", "-f", m + "agent-deployment.yaml", "-f",
                         m + "mcp-server-deployment.yaml", "-f", m + "http-tool-deployment.yaml", "-f", m + "agent-memory.yaml",
                         "-f", m + "agent-resource-binding.yaml"});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    auto deadline = std::chrono::steady_clock::now() + 90s;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = api_->Get(kApi + "default/mcpserverdeployments/hello");
      last = r.body;
      if (r.status == 200 && JsonStr(json::parse(r.body), {"status", "phase"}) == "ProductionDeployed") break;
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_NE(last.find("ProductionDeployed"), std::string::npos) << last << ServerLog();
    auto key = api_->Post(kApi + "default/apikeys", R"({"metadata":{"name":"mcp"},"spec":{"scope":"invoke"}})");
    ASSERT_EQ(key.status, 201) << key.body;
    token_key_ = JsonStr(json::parse(key.body), {"token"});
  }

  ProcessResult Client(const std::string& path, const std::string& mode) {
    ProcessOptions po;
    fs::path dir = fs::path(TUNA_SOURCE_DIR) / "tests/interop/mcp";
    po.args = {(dir / "gateway_client.mjs").string(), url_ + path, token_key_, mode};
    po.env = {{"PATH", std::getenv("PATH")}, {"HOME", dir_.path()}};
    return RunProcess(tuna::testing::FindNode(), po, 120s);
  }

  std::string token_key_;
};

TEST_F(GatewayMcp, OfficialClientUsesADeployedServerAndTheFederatedAgentEndpoint) {
  ASSERT_FALSE(tuna::testing::FindNode().empty()) << "node not found on PATH";
  ASSERT_TRUE(fs::exists(fs::path(TUNA_SOURCE_DIR) / "tests/interop/mcp/node_modules/@modelcontextprotocol/sdk"))
      << "run: npm ci --prefix tests/interop/mcp";
  auto server = Client("/mcp/default/servers/hello/staging", "server");
  EXPECT_EQ(server.exit_code, 0) << server.out << server.err << ServerLog();
  EXPECT_NE(server.out.find("ALL OK"), std::string::npos) << server.out;

  auto federated = Client("/mcp/default/agents/echo/staging", "federated");
  EXPECT_EQ(federated.exit_code, 0) << federated.out << federated.err << ServerLog();
  EXPECT_NE(federated.out.find("ALL OK"), std::string::npos) << federated.out;

  // Transport rules hold on the gateway too: garbage is -32700, a wrong Accept 406, an unknown
  // session 404, another tenant's key 403.
  ApiClient app(static_cast<std::uint16_t>(std::stoi(port_)), token_key_);
  auto garbage = app.Call("POST", "/mcp/default/servers/hello/staging", "{nope",
                          {{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"}});
  EXPECT_EQ(garbage.status, 400) << garbage.body;
  EXPECT_NE(garbage.body.find("-32700"), std::string::npos) << garbage.body;
  auto accept = app.Call("POST", "/mcp/default/servers/hello/staging", R"({"jsonrpc":"2.0","id":1,"method":"ping"})",
                         {{"Content-Type", "application/json"}, {"Accept", "text/html"}});
  EXPECT_EQ(accept.status, 406) << accept.body;
  auto unknown = app.Call("POST", "/mcp/default/servers/hello/staging", R"({"jsonrpc":"2.0","id":1,"method":"ping"})",
                          {{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"},
                           {"Mcp-Session-Id", "no-such-session"}, {"MCP-Protocol-Version", "2025-06-18"}});
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  auto other = api_->Post(kApi + "team-b/apikeys", R"({"metadata":{"name":"x"}})");
  ApiClient foreign(static_cast<std::uint16_t>(std::stoi(port_)), JsonStr(json::parse(other.body), {"token"}));
  EXPECT_EQ(foreign.Call("POST", "/mcp/default/agents/echo/staging", "{}", {{"Content-Type", "application/json"}}).status, 403);
  EXPECT_EQ(app.Call("POST", "/mcp/default/servers/nobody/staging", "{}", {{"Content-Type", "application/json"}}).status, 404);
}

TEST_F(GatewayMcp, FederatedSessionHearsListChangedWhenTheBindingChanges) {
  // Open a federated session by hand, then narrow the binding: tools/list follows.
  ApiClient app(static_cast<std::uint16_t>(std::stoi(port_)), token_key_);
  const std::vector<std::pair<std::string, std::string>> hdr = {{"Content-Type", "application/json"},
                                                                {"Accept", "application/json, text/event-stream"}};
  auto init = app.Call("POST", "/mcp/default/agents/echo/staging",
                       R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})",
                       hdr);
  ASSERT_EQ(init.status, 200) << init.body;
  std::string session = init.Header("mcp-session-id");
  ASSERT_FALSE(session.empty());
  auto with_session = hdr;
  with_session.emplace_back("Mcp-Session-Id", session);
  with_session.emplace_back("MCP-Protocol-Version", "2025-06-18");
  auto list = app.Call("POST", "/mcp/default/agents/echo/staging", R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", with_session);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_NE(list.body.find("hello__greet"), std::string::npos) << list.body;

  auto patched = api_->Patch(kApi + "default/agentresourcebindings/echo-tools",
                             R"({"spec":{"tools":[{"kind":"MCPServerDeployment","name":"hello","allow":["add"]}]}})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  std::string body;
  for (int i = 0; i < 100; ++i) {
    body = app.Call("POST", "/mcp/default/agents/echo/staging", R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})", with_session).body;
    if (body.find("hello__greet") == std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(body.find("hello__greet"), std::string::npos) << body;
  EXPECT_NE(body.find("hello__add"), std::string::npos) << body;
  EXPECT_EQ(body.find("petstore__"), std::string::npos) << body;
}

TEST_F(GatewayMcp, AgentMemoryApiIsScopedToTheAgentsBindingAndContext) {
  ApiClient app(static_cast<std::uint16_t>(std::stoi(port_)), token_key_);
  const std::string conv = "/memory/default/echo/echo-history/ctx-1";
  auto first = app.Call("POST", conv, R"({"role":"user","content":"my name is Ada"})", {{"Content-Type", "application/json"}});
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_NE(first.body.find("\"seq\":1"), std::string::npos) << first.body;
  ASSERT_EQ(app.Call("POST", conv, R"({"role":"agent","content":"hello Ada"})", {{"Content-Type", "application/json"}}).status, 201);
  auto listed = app.Get(conv);
  ASSERT_EQ(listed.status, 200) << listed.body;
  auto entries = json::parse(listed.body).at("entries").as_array();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(JsonStr(entries[0], {"content"}), "my name is Ada");
  // Contexts are separate; a bad entry names what is wrong; other agents and tenants are refused.
  EXPECT_EQ(json::parse(app.Get("/memory/default/echo/echo-history/ctx-2").body).at("entries").as_array().size(), 0u);
  auto bad = app.Call("POST", conv, R"({"content":"no role"})", {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad.status / 100, 4) << bad.body;
  EXPECT_NE(bad.body.find("role"), std::string::npos) << bad.body;
  auto unbound = app.Get("/memory/default/someone-else/echo-history/ctx-1");
  EXPECT_EQ(unbound.status, 403) << unbound.body;
  auto other = api_->Post(kApi + "team-b/apikeys", R"({"metadata":{"name":"m"}})");
  ApiClient foreign(static_cast<std::uint16_t>(std::stoi(port_)), JsonStr(json::parse(other.body), {"token"}));
  EXPECT_EQ(foreign.Get(conv).status, 403);
  EXPECT_EQ(app.Get("/memory/default/echo/no-such-memory/ctx-1").status, 404);
  // Forget the context.
  EXPECT_EQ(app.Call("DELETE", conv).status, 200);
  EXPECT_EQ(json::parse(app.Get(conv).body).at("entries").as_array().size(), 0u);
}

}  // namespace
}  // namespace tuna::testing
