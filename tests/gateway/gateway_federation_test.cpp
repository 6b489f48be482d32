// The federated agent endpoint /mcp/{ns}/agents/{agent}/{stage} through the real `tuna server`,
// with the official MCP TypeScript SDK client (tests/interop/mcp/federation_client.mjs). The
// agent's AgentResourceBinding names three upstreams of three kinds:
//   everything  MCPServerDeployment: @modelcontextprotocol/server-everything over stdio, run by the pool
//   web         MCPServerDeployment with an external URL: tuna's conformance fixture over Streamable HTTP
//   notes       HTTPToolDeployment: an OpenAPI document whose upstream is this test's HTTP server
// and the client sees their tools, resources and prompts behind one session, with
// `<binding>__<name>` names, allowlists applied, calls reaching each upstream, and
// notifications/tools/list_changed when the binding changes under the open session.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <mutex>
#include <regex>
#include <set>

#include "net/http_server.hpp"
#include "support/node.hpp"
#include "support/tuna_server_fixture.hpp"
#include "support/wait.hpp"

namespace tuna::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kApi = "/apis/tuna.ai/v1alpha1/namespaces/default/";

fs::path EverythingScript() {
  return fs::path(TUNA_SOURCE_DIR) / "tests/interop/mcp-everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js";
}

// The HTTP API behind the "notes" tool, on a real socket: records what arrives.
class NotesUpstream {
 public:
  NotesUpstream() {
    net::HttpServerOptions o;
    o.drain_timeout = 200ms;
    server_ = std::make_unique<net::HttpServer>(o, [this](net::HttpRequest& req) { return Handle(req); });
    Status st = server_->Start("127.0.0.1", 0);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  ~NotesUpstream() { server_->Stop(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  net::HttpResponse Handle(net::HttpRequest& req) {
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req.method + " " + req.target);
    }
    net::HttpResponse r;
    if (req.method == "GET" && req.path == "/echo") {
      r.body = json::serialize(json::object{{"upstream", "notes"}, {"text", req.QueryOr("text")}});
    } else if (req.method == "GET" && req.segments.size() == 2 && req.segments[0] == "notes") {
      r.body = json::serialize(json::object{{"id", std::stoi(req.segments[1])}, {"title", "note " + req.segments[1]}});
    } else if (req.method == "DELETE") {
      r.status = 204;
      r.body.clear();
    } else {
      r.status = 404;
      r.body = R"({"error":"no such path"})";
    }
    return r;
  }

  std::unique_ptr<net::HttpServer> server_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

// Two operations of the same name as server-everything's "echo" tool and one the binding leaves out.
const char* kNotesOpenApi = R"({
  "openapi": "3.0.3",
  "info": {"title": "Notes", "version": "1.0.0"},
  "paths": {
    "/echo": {"get": {"operationId": "echo", "summary": "Echoes its text.",
      "parameters": [{"name": "text", "in": "query", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "the text"}}}},
    "/notes/{id}": {
      "get": {"operationId": "getNote", "summary": "Reads a note.",
        "parameters": [{"$ref": "#/components/parameters/NoteId"}],
        "responses": {"200": {"description": "the note"}}},
      "delete": {"operationId": "deleteNote", "summary": "Deletes a note.",
        "parameters": [{"$ref": "#/components/parameters/NoteId"}],
        "responses": {"204": {"description": "deleted"}}}}
  },
  "components": {"parameters": {"NoteId": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}}}
})";

// The JSON-RPC message of an MCP POST answer, whether sent as JSON or as one SSE event.
json::value Answer(const HttpResult& r) {
  if (r.Header("content-type").rfind("text/event-stream", 0) != 0) return json::parse(r.body);
  std::size_t at = r.body.rfind("data: ");
  if (at == std::string::npos) return nullptr;
  std::size_t end = r.body.find('\n', at);
  return json::parse(r.body.substr(at + 6, end == std::string::npos ? std::string::npos : end - at - 6));
}

class GatewayFederation : public TunaServerTest {
 protected:
  void SetUp() override {
    TunaServerTest::SetUp();
    if (HasFatalFailure()) return;
    node_ = FindNode();
    ASSERT_FALSE(node_.empty()) << "node not found on PATH";
    ASSERT_TRUE(fs::exists(EverythingScript())) << "run: npm ci --prefix tests/interop/mcp-everything";
    ASSERT_TRUE(fs::exists(fs::path(TUNA_SOURCE_DIR) / "tests/interop/mcp/node_modules/@modelcontextprotocol/sdk"))
        << "run: npm ci --prefix tests/interop/mcp";

    // The Streamable HTTP upstream: tuna's conformance fixture on 127.0.0.1:0.
    ProcessOptions po;
    po.env = {{"HOME", dir_.path()}};
    fixture_ = Process::Spawn(TUNA_CONFORMANCE_FIXTURE, po);
    ASSERT_TRUE(fixture_);
    const std::regex endpoint(R"(MCP endpoint: (http://127\.0\.0\.1:[0-9]+/mcp))");
    ASSERT_TRUE(fixture_->WaitForOutput([&](const std::string& out, const std::string&) { return std::regex_search(out, endpoint); }, 20s))
        << fixture_->Stderr();
    std::smatch m;
    std::string out = fixture_->Stdout();
    ASSERT_TRUE(std::regex_search(out, m, endpoint));
    fixture_url_ = m[1];

    // The agent needs no running revision for its tool endpoint, only to exist.
    Create("agentenvironments", R"({"kind":"AgentEnvironment","metadata":{"name":"node20"},"spec":{"runtime":"node20","poolSize":0}})");
    Create("agentdeployments", R"({"kind":"AgentDeployment","metadata":{"name":"planner"},"spec":{"environmentName":"node20","entrypoint":"agent.js"}})");
    json::object everything = {
        {"kind", "MCPServerDeployment"},
        {"metadata", {{"name", "everything"}}},
        {"spec",
         {{"environmentName", "node20"},
          {"server", {{"stdio", {{"command", node_}, {"args", json::array{EverythingScript().string(), "stdio"}}}}}},
          {"stages",
           {{"staging", {{"package", {{"manager", "npm"}, {"name", "@modelcontextprotocol/server-everything"}, {"version", "2025.11.25"}}}}}}}}}};
    Create("mcpserverdeployments", json::serialize(everything));
    Create("mcpserverdeployments", json::serialize(json::object{
                                       {"kind", "MCPServerDeployment"},
                                       {"metadata", {{"name", "web"}}},
                                       {"spec", {{"server", {{"http", {{"url", fixture_url_}}}}}}}}));
    Create("httptooldeployments", json::serialize(json::object{
                                      {"kind", "HTTPToolDeployment"},
                                      {"metadata", {{"name", "notes"}}},
                                      {"spec", {{"openapi", {{"inline", json::parse(kNotesOpenApi)}}}, {"baseUrl", notes_.url()}, {"timeoutSeconds", 10}}}}));
    Create("agentresourcebindings", R"({"kind":"AgentResourceBinding","metadata":{"name":"planner-tools"},"spec":{"agentName":"planner","tools":[
        {"kind":"MCPServerDeployment","name":"everything","allow":["echo","add","longRunningOperation"]},
        {"kind":"MCPServerDeployment","name":"web"},
        {"kind":"HTTPToolDeployment","name":"notes","allow":["echo","getNote"]}]}})");
    auto key = api_->Post(kApi + "apikeys", R"({"metadata":{"name":"planner"},"spec":{"scope":"invoke"}})");
    ASSERT_EQ(key.status, 201) << key.body;
    key_ = JsonStr(json::parse(key.body), {"token"});

    std::string last;
    bool deployed = WaitFor(
        [&] {
          auto r = api_->Get(kApi + "mcpserverdeployments/everything");
          last = r.body;
          return r.status == 200 && JsonStr(json::parse(r.body), {"status", "phase"}) == "StagingDeployed";
        },
        60s, 50ms);
    ASSERT_TRUE(deployed) << last << ServerLog();
  }

  void Create(const std::string& plural, const std::string& body) {
    json::value v = json::parse(body);
    v.as_object()["apiVersion"] = "tuna.ai/v1alpha1";
    auto r = api_->Post(kApi + plural, json::serialize(v));
    ASSERT_EQ(r.status, 201) << plural << ": " << r.body;
  }

  std::string node_;
  std::unique_ptr<Process> fixture_;
  std::string fixture_url_;
  NotesUpstream notes_;
  std::string key_;
};

TEST_F(GatewayFederation, OfficialClientUsesStdioHttpAndOpenApiUpstreamsBehindOneSession) {
  ProcessOptions po;
  fs::path dir = fs::path(TUNA_SOURCE_DIR) / "tests/interop/mcp";
  po.args = {(dir / "federation_client.mjs").string(), url_ + "/mcp/default/agents/planner/staging", key_};
  po.env = {{"PATH", std::getenv("PATH")}, {"HOME", dir_.path()}};
  auto client = Process::Spawn(node_, po);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->WaitForOutput([](const std::string& out, const std::string&) { return out.find("READY\n") != std::string::npos; }, 60s))
      << client->Stdout() << client->Stderr() << ServerLog();

  // Under the open session: "web" leaves the binding, "everything" keeps only echo.
  auto patched = api_->Patch(kApi + "agentresourcebindings/planner-tools", R"({"spec":{"tools":[
      {"kind":"MCPServerDeployment","name":"everything","allow":["echo"]},
      {"kind":"HTTPToolDeployment","name":"notes","allow":["echo","getNote"]}]}})");
  ASSERT_EQ(patched.status, 200) << patched.body;

  auto done = client->Wait(60s);
  EXPECT_EQ(done.exit_code, 0) << done.out << done.err << ServerLog();
  EXPECT_NE(done.out.find("ALL OK"), std::string::npos) << done.out;

  // The HTTP tool's calls arrived as the OpenAPI document maps them; the operation the binding
  // leaves out never reached the upstream.
  auto seen = notes_.requests();
  EXPECT_NE(std::find(seen.begin(), seen.end(), "GET /echo?text=via%20http"), seen.end()) << ::testing::PrintToString(seen);
  EXPECT_NE(std::find(seen.begin(), seen.end(), "GET /notes/7"), seen.end()) << ::testing::PrintToString(seen);
  for (const auto& r : seen) EXPECT_EQ(r.rfind("DELETE", 0), std::string::npos) << r;
}

// DISABLED: progress notifications of a stdio MCP server on the pool never reach the client
// (through servers/... as well as through federation): the pool's stdio executor
// (src/drivers/pool/pool_stdio.cpp, InvokeStdio) returns only the line carrying the request's id
// and skips every other line the server writes, notifications/progress included, so
// ExecutorFunction in src/gateway/mcp_endpoint.cpp has nothing to emit. The same call to an HTTP
// upstream forwards its progress (checked above). Enable with the MCP relay rewrite.
TEST_F(GatewayFederation, DISABLED_ProgressOfAStdioUpstreamReachesTheClient) {
  ProcessOptions po;
  fs::path dir = fs::path(TUNA_SOURCE_DIR) / "tests/interop/mcp";
  po.args = {(dir / "federation_client.mjs").string(), url_ + "/mcp/default/agents/planner/staging", key_, "stdio-progress"};
  po.env = {{"PATH", std::getenv("PATH")}, {"HOME", dir_.path()}};
  auto r = RunProcess(node_, po, 60s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << ServerLog();
  EXPECT_NE(r.out.find("ALL OK"), std::string::npos) << r.out;
}

// An MCPServerDeployment and an HTTPToolDeployment of the same name would share the prefix
// "<name>__": admission refuses such a binding, naming the field (nothing is silently dropped).
TEST_F(GatewayFederation, SameNameOfTwoKindsIsNeverSilentlyDropped) {
  Create("httptooldeployments", json::serialize(json::object{
                                    {"kind", "HTTPToolDeployment"},
                                    {"metadata", {{"name", "web"}}},
                                    {"spec", {{"openapi", {{"inline", json::parse(kNotesOpenApi)}}}, {"baseUrl", notes_.url()}}}}));
  Create("agentdeployments", R"({"kind":"AgentDeployment","metadata":{"name":"solo"},"spec":{"environmentName":"node20","entrypoint":"agent.js"}})");
  auto binding = api_->Post(kApi + "agentresourcebindings",
                            R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentResourceBinding","metadata":{"name":"same-name"},"spec":{"agentName":"solo","tools":[
        {"kind":"MCPServerDeployment","name":"web"},{"kind":"HTTPToolDeployment","name":"web"}]}})");
  if (binding.status == 422) {  // refused at admission, naming the field: fine
    EXPECT_NE(binding.body.find("spec.tools[1].name"), std::string::npos) << binding.body;
    return;
  }
  ASSERT_EQ(binding.status, 201) << binding.body;
  ApiClient app(static_cast<std::uint16_t>(std::stoi(port_)), key_);
  const std::vector<std::pair<std::string, std::string>> hdr = {{"Content-Type", "application/json"},
                                                                {"Accept", "application/json, text/event-stream"}};
  const std::string path = "/mcp/default/agents/solo/staging";
  auto init = app.Call("POST", path,
                       R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})",
                       hdr);
  ASSERT_EQ(init.status, 200) << init.body;
  auto with_session = hdr;
  with_session.emplace_back("Mcp-Session-Id", init.Header("mcp-session-id"));
  with_session.emplace_back("MCP-Protocol-Version", "2025-06-18");
  auto list = Answer(app.Call("POST", path, R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", with_session));
  std::set<std::string> names;
  bool fixture_tool = false, http_tool = false;
  for (const auto& t : list.at("result").at("tools").as_array()) {
    std::string name(t.at("name").as_string());
    EXPECT_TRUE(names.insert(name).second) << "duplicate " << name;
    fixture_tool |= name.ends_with("__test_simple_text");
    http_tool |= name.ends_with("__getNote");
  }
  EXPECT_TRUE(fixture_tool) << json::serialize(list);
  EXPECT_TRUE(http_tool) << "the HTTP tool named like the MCP server is missing: " << json::serialize(list);
}

TEST_F(GatewayFederation, AnUpstreamThatIsDownLeavesTheOthersWorking) {
  // The HTTP upstream goes away before the session opens: its tools are missing from the list,
  // calling one names it, and the other upstreams answer as before.
  fixture_->Kill(SIGKILL);
  fixture_->Wait(10s);
  ApiClient app(static_cast<std::uint16_t>(std::stoi(port_)), key_);
  const std::vector<std::pair<std::string, std::string>> hdr = {{"Content-Type", "application/json"},
                                                                {"Accept", "application/json, text/event-stream"}};
  const std::string path = "/mcp/default/agents/planner/staging";
  auto init = app.Call("POST", path,
                       R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})",
                       hdr);
  ASSERT_EQ(init.status, 200) << init.body;
  auto with_session = hdr;
  with_session.emplace_back("Mcp-Session-Id", init.Header("mcp-session-id"));
  with_session.emplace_back("MCP-Protocol-Version", "2025-06-18");
  auto list = app.Call("POST", path, R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", with_session);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.body.find("web__"), std::string::npos) << list.body;
  EXPECT_NE(list.body.find("everything__echo"), std::string::npos) << list.body;
  EXPECT_NE(list.body.find("notes__getNote"), std::string::npos) << list.body;

  auto down = app.Call("POST", path, R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"web__test_simple_text","arguments":{}}})",
                       with_session);
  ASSERT_EQ(down.status, 200) << down.body;
  auto answer = Answer(down);
  ASSERT_TRUE(answer.is_object() && answer.as_object().contains("result")) << down.body;
  EXPECT_TRUE(answer.at("result").at("isError").as_bool()) << down.body;
  EXPECT_NE(down.body.find("web is unavailable"), std::string::npos) << down.body;

  auto up = app.Call("POST", path,
                     R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"everything__echo","arguments":{"message":"still here"}}})",
                     with_session);
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_NE(up.body.find("Echo: still here"), std::string::npos) << up.body;
  auto http_tool = app.Call("POST", path, R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"notes__getNote","arguments":{"id":3}}})",
                            with_session);
  EXPECT_NE(http_tool.body.find("note 3"), std::string::npos) << http_tool.body;
}

}  // namespace
}  // namespace tuna::testing
