// The gateway's inline MCP relay through the real `tuna server`: an MCPServerDeployment that
// points at an MCP server reached by URL (here tuna's own Streamable HTTP server, in this test
// process) gets its calls relayed on the client's upstream session without a worker thread.
// Shows: answers come back byte-for-byte with the client's own ids, one upstream session per
// client session, SSE answers (a tool that logs first) are passed on, an upstream session that
// expired is initialized again without the client noticing, and a dead upstream is a clear
// JSON-RPC error while the gateway keeps serving.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <regex>
#include <thread>

#include "support/tuna_server_fixture.hpp"
#include "tuna/mcp/server.hpp"
#include "tuna/mcp/streamable_http.hpp"

namespace tuna::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kApi = "/apis/tuna.ai/v1alpha1/namespaces/";
const std::string kPath = "/mcp/default/servers/upstream";

mcp::ServerPtr MakeUpstream() {
  mcp::ServerOptions o;
  o.name = "relay-upstream";
  auto server = mcp::Server::Make(o);
  mcp::Tool echo;
  echo.name = "echo";
  echo.handler = [](const json::object& args, const mcp::ToolContext&) -> Result<mcp::ToolResult> {
    mcp::ToolResult r;
    const json::value* text = args.if_contains("text");
    r.content.push_back(json::object{{"type", "text"}, {"text", text && text->is_string() ? text->get_string() : ""}});
    return r;
  };
  EXPECT_TRUE(server->AddTool(std::move(echo)).ok());
  mcp::Tool chatty;
  chatty.name = "chatty";
  chatty.handler = [](const json::object&, const mcp::ToolContext& ctx) -> Result<mcp::ToolResult> {
    ctx.Log("info", "thinking out loud");
    mcp::ToolResult r;
    r.content.push_back(json::object{{"type", "text"}, {"text", "said it"}});
    return r;
  };
  EXPECT_TRUE(server->AddTool(std::move(chatty)).ok());
  return server;
}

class GatewayRelay : public TunaServerTest {
 protected:
  void SetUp() override {
    TunaServerTest::SetUp();
    if (HasFatalFailure()) return;
    server_ = MakeUpstream();
    StartUpstream(0);
    if (HasFatalFailure()) return;
    std::string dep = R"({"apiVersion":"tuna.ai/v1alpha1","kind":"MCPServerDeployment","metadata":{"name":"upstream"},)"
                      R"("spec":{"server":{"http":{"url":"http://127.0.0.1:)" +
                      std::to_string(upstream_port_) + R"(/mcp"}}}})";
    auto created = api_->Post(kApi + "default/mcpserverdeployments", dep);
    ASSERT_EQ(created.status, 201) << created.body;
    auto key = api_->Post(kApi + "default/apikeys", R"({"metadata":{"name":"relay"},"spec":{"scope":"invoke"}})");
    ASSERT_EQ(key.status, 201) << key.body;
    client_ = std::make_unique<ApiClient>(static_cast<std::uint16_t>(std::stoi(port_)), JsonStr(json::parse(key.body), {"token"}));
  }

  void StartUpstream(std::uint16_t port) {
    auto http = mcp::StreamableHttpServer::Make(*server_, {});
    ASSERT_TRUE(http.ok()) << http.status().ToString();
    upstream_ = std::move(*http);
    ASSERT_TRUE(upstream_->Start("127.0.0.1", port).ok());
    upstream_port_ = upstream_->port();
  }

  HttpResult Post(const std::string& body, bool with_session = true) {
    std::vector<std::pair<std::string, std::string>> h = {{"Content-Type", "application/json"},
                                                          {"Accept", "application/json, text/event-stream"}};
    if (with_session) {
      h.emplace_back("Mcp-Session-Id", session_);
      h.emplace_back("MCP-Protocol-Version", "2025-06-18");
    }
    return client_->Call("POST", kPath, body, h);
  }

  void Initialize() {
    HttpResult init;
    // The deployment is served once the gateway sees it; the first initialize may race it.
    for (int i = 0; i < 100; ++i) {
      init = Post(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
                  R"("capabilities":{},"clientInfo":{"name":"relay-test","version":"1"}}})",
                  false);
      if (init.status == 200) break;
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(init.status, 200) << init.body << ServerLog();
    session_ = init.Header("mcp-session-id");
    ASSERT_FALSE(session_.empty());
    EXPECT_EQ(Post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})").status, 202);
  }

  double Metric(const std::string& series) {
    auto m = api_->Get("/metrics");
    std::smatch match;
    std::regex re(std::regex_replace(series, std::regex(R"([{}"])"), R"(\$&)") + R"( ([0-9.e+]+))");
    return std::regex_search(m.body, match, re) ? std::stod(match[1]) : 0;
  }

  mcp::ServerPtr server_;
  mcp::StreamableHttpServerPtr upstream_;
  std::uint16_t upstream_port_ = 0;
  std::unique_ptr<ApiClient> client_;
  std::string session_;
};

TEST_F(GatewayRelay, CallsTravelOnTheClientsUpstreamSessionWithTheClientsIds) {
  Initialize();
  ASSERT_FALSE(HasFatalFailure());
  for (int i = 0; i < 40; ++i) {
    std::string id = i % 2 == 0 ? std::to_string(100 + i) : "\"s-" + std::to_string(i) + "\"";
    auto r = Post(R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi )" +
                  std::to_string(i) + R"("}}})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/json");
    json::value v = json::parse(r.body);
    EXPECT_EQ(json::serialize(v.at("id")), id);
    EXPECT_EQ(v.at("result").at("content").at(0).at("text").as_string(), "hi " + std::to_string(i));
  }
  // A JSON-RPC error of the upstream's comes back as it was sent.
  auto unknown = Post(R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"nope","arguments":{}}})");
  ASSERT_EQ(unknown.status, 200);
  EXPECT_EQ(json::parse(unknown.body).at("error").at("code").as_int64(), -32602) << unknown.body;
  EXPECT_EQ(upstream_->SessionCount(), 1u) << "one upstream session per client session, never one per call";
  EXPECT_GE(Metric(R"(tuna_gateway_mcp_relay_total{outcome="relayed"})"), 41);
  EXPECT_GE(Metric(R"(tuna_gateway_requests_total{protocol="mcp",kind="server",code="200"})"), 42);

  // A tool that logs before answering: the upstream answers with SSE, and so does the gateway,
  // log message first, without the upstream's event ids.
  auto chatty = Post(R"({"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"chatty","arguments":{}}})");
  ASSERT_EQ(chatty.status, 200) << chatty.body;
  EXPECT_EQ(chatty.Header("content-type"), "text/event-stream");
  auto log_at = chatty.body.find("thinking out loud");
  auto answer_at = chatty.body.find("said it");
  ASSERT_NE(log_at, std::string::npos) << chatty.body;
  ASSERT_NE(answer_at, std::string::npos) << chatty.body;
  EXPECT_LT(log_at, answer_at);
  EXPECT_EQ(chatty.body.find("\nid:"), std::string::npos) << chatty.body;
  EXPECT_EQ(chatty.body.rfind("id:", 0), std::string::npos) << chatty.body;
}

TEST_F(GatewayRelay, AnExpiredUpstreamSessionIsInitializedAgainUnnoticed) {
  Initialize();
  ASSERT_FALSE(HasFatalFailure());
  auto first = Post(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"one"}}})");
  ASSERT_EQ(first.status, 200) << first.body;
  // The upstream restarts on the same port and forgets every session: it answers 404.
  std::uint16_t port = upstream_port_;
  upstream_->Stop();
  upstream_.reset();
  StartUpstream(port);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(upstream_->SessionCount(), 0u);
  auto second = Post(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"two"}}})");
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(json::parse(second.body).at("result").at("content").at(0).at("text").as_string(), "two") << second.body;
  EXPECT_EQ(Metric(R"(tuna_gateway_mcp_relay_total{outcome="renewed"})"), 1);
  EXPECT_EQ(upstream_->SessionCount(), 1u);
  // Later calls are relayed on the new upstream session.
  double relayed = Metric(R"(tuna_gateway_mcp_relay_total{outcome="relayed"})");
  auto third = Post(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"three"}}})");
  ASSERT_EQ(third.status, 200) << third.body;
  EXPECT_EQ(json::parse(third.body).at("result").at("content").at(0).at("text").as_string(), "three");
  EXPECT_EQ(Metric(R"(tuna_gateway_mcp_relay_total{outcome="relayed"})"), relayed + 1);
}

TEST_F(GatewayRelay, ADeadUpstreamIsAClearErrorAndTheGatewayKeepsServing) {
  Initialize();
  ASSERT_FALSE(HasFatalFailure());
  upstream_->Stop();
  auto r = Post(R"({"jsonrpc":"2.0","id":"gone","method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = json::parse(r.body);
  EXPECT_EQ(v.at("id").as_string(), "gone");
  std::string message(v.at("error").at("message").as_string());
  EXPECT_NE(message.find("upstream MCP server"), std::string::npos) << message;
  EXPECT_NE(message.find("127.0.0.1:" + std::to_string(upstream_port_)), std::string::npos) << message;
  EXPECT_EQ(api_->Get("/healthz").status, 200);
  EXPECT_EQ(api_->Get(kApi + "default/mcpserverdeployments/upstream").status, 200);
}

}  // namespace
}  // namespace tuna::testing
