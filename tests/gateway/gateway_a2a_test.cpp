// The gateway's A2A endpoints through the real `tuna server`: the example echo agent deployed on
// the pool answers A2A at /a2a/default/echo/{stage}, with its card from the AgentCatalogue, API
// keys and tenants enforced; the official @a2a-js/sdk clients (A2A 1.0 and 0.3) send, stream,
// get and cancel through the gateway.
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

class GatewayA2a : public TunaServerTest {
 protected:
  void SetUp() override {
    TunaServerTest::SetUp();
    if (HasFatalFailure()) return;
    std::string manifests = std::string(TUNA_SOURCE_DIR) + "/examples/manifests/";
    auto applied = Tuna({"apply", "-f", manifests + "agent-environment.yaml", "-f", manifests + "agent-deployment.yaml", "-f",
                         manifests + "agent-catalogue.yaml"});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    WaitDeployed();
  }

  void WaitDeployed() {
    auto deadline = std::chrono::steady_clock::now() + 90s;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = api_->Get(kApi + "default/agentdeployments/echo");
      last = r.body;
      if (r.status == 200 && JsonStr(json::parse(r.body), {"status", "phase"}) == "ProductionDeployed") return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "echo never reached ProductionDeployed: " << last << "\n" << ServerLog();
  }

  std::string Key(const std::string& ns, const std::string& name, const std::string& scope) {
    auto r = api_->Post(kApi + ns + "/apikeys", R"({"metadata":{"name":")" + name + R"("},"spec":{"scope":")" + scope + R"("}})");
    EXPECT_EQ(r.status, 201) << r.body;
    return JsonStr(json::parse(r.body), {"token"});
  }

  ApiClient As(const std::string& token) { return ApiClient(static_cast<std::uint16_t>(std::stoi(port_)), token); }

  static std::string Send(const std::string& text) {
    return R"({"jsonrpc":"2.0","id":7,"method":"SendMessage","params":{"message":{"messageId":"m-)" + text +
           R"(","role":"ROLE_USER","parts":[{"text":")" + text + R"("}]}}})";
  }
};

TEST_F(GatewayA2a, CardSendAndTenancy) {
  std::string key = Key("default", "app", "invoke");
  ApiClient app = As(key);
  auto card = app.Get("/a2a/default/echo/staging/.well-known/agent-card.json");
  ASSERT_EQ(card.status, 200) << card.body;
  auto c = json::parse(card.body);
  EXPECT_EQ(JsonStr(c, {"name"}), "Echo");  // from the AgentCatalogue
  // The card points at the gateway, under the name the client used to reach it.
  std::string card_url = JsonStr(c, {"url"});
  EXPECT_EQ(card_url.rfind("http://127.0.0.1", 0), 0u) << card.body;
  EXPECT_EQ(card_url.substr(card_url.size() - 25), "/a2a/default/echo/staging") << card.body;
  EXPECT_NE(card.body.find("\"id\":\"pets\""), std::string::npos) << card.body;

  auto sent = app.Call("POST", "/a2a/default/echo/staging", Send("hi"),
                       {{"Content-Type", "application/json"}, {"A2A-Version", "1.0"}, {"X-Request-Id", "gw-test-1"}});
  ASSERT_EQ(sent.status, 200) << sent.body;
  auto v = json::parse(sent.body);
  const auto& task = v.at("result").at("task");
  EXPECT_EQ(JsonStr(task, {"status", "state"}), "TASK_STATE_COMPLETED") << sent.body;
  EXPECT_NE(sent.body.find("echo: hi"), std::string::npos) << sent.body;
  EXPECT_NE(sent.body.find("\"stage\":\"staging\""), std::string::npos) << "the staging revision answered: " << sent.body;

  // Production is another revision with its own tasks.
  auto prod = app.Call("POST", "/a2a/default/echo", Send("prod"), {{"Content-Type", "application/json"}, {"A2A-Version", "1.0"}});
  ASSERT_EQ(prod.status, 200) << prod.body;
  EXPECT_NE(prod.body.find("\"stage\":\"production\""), std::string::npos) << prod.body;
  std::string task_id = JsonStr(task, {"id"});
  auto cross = app.Call("POST", "/a2a/default/echo", R"({"jsonrpc":"2.0","id":8,"method":"GetTask","params":{"id":")" + task_id + R"("}})",
                        {{"Content-Type", "application/json"}, {"A2A-Version", "1.0"}});
  EXPECT_NE(cross.body.find("-32001"), std::string::npos) << "a staging task is not visible on production: " << cross.body;

  // Keys: none, wrong tenant, unknown agent.
  auto anonymous = As("").Call("POST", "/a2a/default/echo/staging", Send("x"), {{"Content-Type", "application/json"}});
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  std::string other = Key("team-b", "app", "invoke");
  auto foreign = As(other).Call("POST", "/a2a/default/echo/staging", Send("x"), {{"Content-Type", "application/json"}});
  EXPECT_EQ(foreign.status, 403) << foreign.body;
  EXPECT_NE(foreign.body.find("belongs to namespace team-b"), std::string::npos) << foreign.body;
  EXPECT_EQ(app.Get("/a2a/default/nobody/.well-known/agent-card.json").status, 404);
  auto garbage = app.Call("POST", "/a2a/default/echo/staging", "{nope", {{"Content-Type", "application/json"}});
  EXPECT_EQ(garbage.status, 400);
  EXPECT_NE(garbage.body.find("-32700"), std::string::npos) << garbage.body;

  // The gateway counts what it served.
  auto metrics = api_->Get("/metrics");
  EXPECT_NE(metrics.body.find("tuna_gateway_requests_total{protocol=\"a2a\",kind=\"agent\",code=\"200\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("tuna_gateway_refusals_total{reason=\"forbidden\"}"), std::string::npos);
}

TEST_F(GatewayA2a, OfficialJavaScriptSdkSendStreamGetCancel) {
  std::string node = tuna::testing::FindNode();
  ASSERT_FALSE(node.empty()) << "node not found on PATH";
  fs::path dir = fs::path(TUNA_SOURCE_DIR) / "tests/interop/a2a";
  ASSERT_TRUE(fs::exists(dir / "node_modules/@a2a-js/sdk/package.json")) << "run: npm ci --prefix tests/interop/a2a";
  std::string key = Key("default", "sdk", "invoke");
  for (const std::string version : {"1.0", "0.3"}) {
    ProcessOptions po;
    po.args = {(dir / "gateway_client.mjs").string(), url_ + "/a2a/default/echo/staging/", key, version};
    po.env = {{"PATH", std::getenv("PATH")}, {"HOME", dir_.path()}};
    auto r = RunProcess(node, po, 120s);
    EXPECT_EQ(r.exit_code, 0) << version << "\n" << r.out << r.err << "\n" << ServerLog();
    EXPECT_NE(r.out.find("ALL OK"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace tuna::testing
