// What goes wrong at the gateway, through tuna::Server embedded in the test (its limits set low
// so that each case takes seconds) with real deployed workloads on the pool and real sockets:
// a wrong key, another tenant's key, an oversized body, a slow-loris client, an agent and MCP
// upstreams that hang, an agent worker killed in the middle of a stream and an MCP server that
// dies in the middle of a call. Each gives a clear error, and an ordinary request made while it
// happens still succeeds: the gateway keeps serving.
//
// Workloads (tests/gateway/fixtures): agents "steady" (the ordinary requests) and "flaky", both
// run by streaming_worker.py, a pool worker whose agent streams its events as it makes them
// ("hang": never finishes, "crash": names its worker and waits to be killed); "flaky-mcp", the
// stdio MCP server flaky_mcp/server.py (tools echo, hang, crash); "slow-api", an HTTP tool whose
// upstream (this test's HTTP server) never answers.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "cli/process.hpp"
#include "net/http_server.hpp"
#include "sandbox/proc_scan.hpp"
#include "support/files.hpp"
#include "support/http_client.hpp"
#include "support/python.hpp"
#include "support/temp_dir.hpp"
#include "support/tuna_server_fixture.hpp"
#include "support/wait.hpp"
#include "tuna/server.hpp"

namespace tuna::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

const std::string kApi = "/apis/tuna.ai/v1alpha1/namespaces/";
constexpr std::size_t kMaxBody = 256 << 10;
constexpr auto kReadTimeout = 1500ms;
constexpr auto kAgentCallTimeout = 2s;
constexpr auto kRequestTimeout = 5s;

const Headers kA2a = {{"Content-Type", "application/json"}, {"A2A-Version", "1.0"}};
const Headers kMcp = {{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"}};

std::string SendMessage(const std::string& method, const std::string& text) {
  return json::serialize(json::object{
      {"jsonrpc", "2.0"},
      {"id", 1},
      {"method", method},
      {"params", {{"message", {{"messageId", "m-" + text}, {"role", "ROLE_USER"}, {"parts", json::array{json::object{{"text", text}}}}}}}}});
}

// The JSON-RPC message of an MCP POST answer, whether sent as JSON or as SSE events.
json::value McpAnswer(const HttpResult& r) {
  if (r.Header("content-type").rfind("text/event-stream", 0) != 0) return r.body.empty() ? json::value() : json::parse(r.body);
  json::value last;
  std::size_t at = 0;
  while ((at = r.body.find("data: ", at)) != std::string::npos) {
    std::size_t end = r.body.find('\n', at);
    std::string data = r.body.substr(at + 6, end == std::string::npos ? std::string::npos : end - at - 6);
    boost::system::error_code ec;
    json::value v = json::parse(data, ec);
    if (!ec && v.is_object() && v.as_object().contains("id")) last = v;
    at = end == std::string::npos ? r.body.size() : end;
  }
  return last;
}

// The HTTP API behind "slow-api": answers nothing until the test ends.
class HangingUpstream {
 public:
  HangingUpstream() {
    net::HttpServerOptions o;
    o.drain_timeout = 200ms;
    server_ = std::make_unique<net::HttpServer>(o, [this](net::HttpRequest&) {
      std::unique_lock lock(mu_);
      ++arrived_;
      cv_.wait(lock, [this] { return released_; });
      return net::HttpResponse{};
    });
    Status st = server_->Start("127.0.0.1", 0);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  ~HangingUpstream() {
    Release();
    server_->Stop();
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  int arrived() {
    std::lock_guard lock(mu_);
    return arrived_;
  }

 private:
  std::unique_ptr<net::HttpServer> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int arrived_ = 0;
};

class GatewayNegative : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.data_dir = dir_.path() + "/data";
    o.listen = "127.0.0.1:0";
    o.python = RealPython();
    o.max_body_bytes = kMaxBody;
    o.read_timeout = kReadTimeout;
    o.request_timeout = kRequestTimeout;
    o.agent_call_timeout = agent_call_timeout_;
    o.gateway_threads = gateway_threads_;
    auto made = Server::Make(std::move(o));
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    server_ = std::move(*made);
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
    api_ = std::make_unique<ApiClient>(port_, server_->admin_token());

    const std::string fixtures = std::string(TUNA_SOURCE_DIR) + "/tests/gateway/fixtures";
    const std::string manifest = dir_.path() + "/manifests.yaml";
    WriteFile(manifest, R"(apiVersion: tuna.ai/v1alpha1
kind: AgentEnvironment
metadata: {name: streamer, namespace: default}
spec:
  runtime: process
  workerCommand: ")" + RealPython() + " " + fixtures + R"(/streaming_worker.py"
  poolSize: 2
---
apiVersion: tuna.ai/v1alpha1
kind: AgentDeployment
metadata: {name: steady, namespace: default}
spec:
  environmentName: streamer
  entrypoint: streaming_worker.py
  stages: {staging: {source: {archive: "file:)" + fixtures + R"("}}}
---
apiVersion: tuna.ai/v1alpha1
kind: AgentDeployment
metadata: {name: flaky, namespace: default}
spec:
  environmentName: streamer
  entrypoint: streaming_worker.py
  stages: {staging: {source: {archive: "file:)" + fixtures + R"("}}}
---
apiVersion: tuna.ai/v1alpha1
kind: MCPServerDeployment
metadata: {name: flaky-mcp, namespace: default}
spec:
  environmentName: streamer
  server: {stdio: {command: ")" + RealPython() + R"(", args: [server.py]}}
  stages: {staging: {source: {archive: "file:)" + fixtures + R"(/flaky_mcp"}}}
---
apiVersion: tuna.ai/v1alpha1
kind: HTTPToolDeployment
metadata: {name: slow-api, namespace: default}
spec:
  baseUrl: )" + hanging_.url() + R"(
  timeoutSeconds: 1
  openapi:
    inline:
      openapi: 3.0.3
      info: {title: Slow, version: "1"}
      paths:
        /slow:
          get:
            operationId: slow
            responses: {"200": {description: never comes}}
)");
    ProcessOptions po;
    po.args = {"apply", "-f", manifest};
    po.env = {{"HOME", dir_.path()}, {"PATH", std::getenv("PATH")}, {"TUNA_SERVER", server_->url()}, {"TUNA_TOKEN", server_->admin_token()}};
    auto applied = RunProcess(TUNA_BINARY, po, 60s);
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;

    key_ = Key("default", "app");
    other_tenant_key_ = Key("team-b", "app");
    for (const std::string path : {"agentdeployments/steady", "agentdeployments/flaky", "mcpserverdeployments/flaky-mcp"}) {
      std::string last;
      ASSERT_TRUE(WaitFor(
          [&] {
            auto r = api_->Get(kApi + "default/" + path);
            last = r.body;
            return r.status == 200 && JsonStr(json::parse(r.body), {"status", "phase"}) == "StagingDeployed";
          },
          60s, 50ms))
          << path << ": " << last;
    }
  }

  void TearDown() override {
    hanging_.Release();  // a handler waiting on it would hold up Stop
    if (server_) server_->Stop();
  }

  // Processes of this server's pool (they carry its marker) whose command line contains `part`.
  std::vector<pid_t> PoolProcesses(const std::string& part) {
    std::vector<pid_t> out;
    for (pid_t p : ProcessesWithEnv("TUNA_POOL_WORKDIR=" + fs::weakly_canonical(dir_.path() + "/data/pool").string())) {
      std::string cmdline = ReadFile(fs::path("/proc") / std::to_string(p) / "cmdline");
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      if (cmdline.find(part) != std::string::npos) out.push_back(p);
    }
    return out;
  }

  std::string Key(const std::string& ns, const std::string& name) {
    auto r = api_->Post(kApi + ns + "/apikeys", R"({"metadata":{"name":")" + name + R"("},"spec":{"scope":"invoke"}})");
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? JsonStr(json::parse(r.body), {"token"}) : std::string();
  }

  HttpResult Call(const std::string& token, const std::string& method, const std::string& path, const std::string& body,
                  Headers headers) {
    HttpConnection c(port_);
    c.set_timeout(20s);
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    return c.Request(method, path, body, headers);
  }

  // An ordinary request: the steady agent answers a message. Empty when it succeeded, else why not.
  std::string Ordinary() {
    auto r = Call(key_, "POST", "/a2a/default/steady/staging", SendMessage("SendMessage", "hi"), kA2a);
    if (r.status != 200) return "HTTP " + std::to_string(r.status) + " " + r.error + ": " + r.body;
    auto v = json::parse(r.body);
    const json::value* task = v.is_object() && v.as_object().contains("result") ? v.at("result").as_object().if_contains("task") : nullptr;
    if (task == nullptr || JsonStr(*task, {"status", "state"}) != "TASK_STATE_COMPLETED" || r.body.find("echo: hi") == std::string::npos) {
      return "not completed: " + r.body;
    }
    return "";
  }

  // Runs ordinary requests one after another on another thread while `bad` runs; every one must
  // succeed. How `bad` overlaps them:
  enum class Overlap {
    kDuring,  // bad takes long: at least one ordinary request completes while it runs
    kRepeat,  // bad is quick: it runs again until two ordinary requests completed in between
    kAround,  // bad cannot run twice: the caller makes its own ordinary requests at the right points
  };
  template <typename Bad>
  void WhileOrdinaryRequestsRun(Bad bad, Overlap overlap = Overlap::kDuring) {
    std::atomic<bool> done{false};
    std::atomic<int> completed{0};
    std::vector<std::string> failures;
    std::thread ordinary([&] {
      while (!done.load()) {
        std::string why = Ordinary();
        if (!why.empty()) failures.push_back(why);
        ++completed;
      }
    });
    int before = completed.load();
    bad();
    int rounds = 1;
    while (overlap == Overlap::kRepeat && completed.load() - before < 2 && rounds < 200 && !::testing::Test::HasFailure()) {
      bad();
      ++rounds;
    }
    int during = completed.load() - before;
    done = true;
    ordinary.join();
    EXPECT_TRUE(failures.empty()) << ::testing::PrintToString(failures);
    if (overlap != Overlap::kAround) EXPECT_GE(during, 1) << "no ordinary request completed while the bad ones ran";
    EXPECT_EQ(Ordinary(), "");  // and after it
  }

  // Initializes an MCP session; returns its id ("" when it could not, a failure unless `quiet`).
  std::string McpSession(const std::string& path, bool quiet = false) {
    auto init = Call(key_, "POST", path,
                     R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})",
                     kMcp);
    std::string id = init.status == 200 ? init.Header("mcp-session-id") : std::string();
    if (!quiet) EXPECT_FALSE(id.empty()) << init.status << " " << init.body;
    return id;
  }

  HttpResult McpCall(const std::string& path, const std::string& session, const std::string& body) {
    Headers h = kMcp;
    h.emplace_back("Mcp-Session-Id", session);
    h.emplace_back("MCP-Protocol-Version", "2025-06-18");
    return Call(key_, "POST", path, body, h);
  }

  static std::string ToolCall(const std::string& name, const std::string& text = "") {
    return R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":")" + name + R"(","arguments":{"text":")" + text + R"("}}})";
  }

  std::chrono::seconds agent_call_timeout_ = std::chrono::duration_cast<std::chrono::seconds>(kAgentCallTimeout);
  std::size_t gateway_threads_ = 64;
  TempDir dir_;
  HangingUpstream hanging_;
  ServerPtr server_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ApiClient> api_;
  std::string key_, other_tenant_key_;
};

TEST_F(GatewayNegative, WrongKeyIs401) {
  WhileOrdinaryRequestsRun([&] {
    for (const std::string path : {"/a2a/default/flaky/staging", "/mcp/default/servers/flaky-mcp/staging", "/mcp/default/tools/slow-api"}) {
      auto missing = Call("", "POST", path, SendMessage("SendMessage", "x"), kA2a);
      EXPECT_EQ(missing.status, 401) << path << ": " << missing.body;
      EXPECT_EQ(missing.Header("www-authenticate"), "Bearer realm=\"tuna\"") << path;
      EXPECT_NE(missing.body.find("missing bearer token"), std::string::npos) << missing.body;
      // A well-formed key that does not exist, and one whose secret is wrong.
      for (const std::string& wrong : {"tuna_000000000000_" + std::string(48, '0'), key_.substr(0, key_.size() - 4) + "0000"}) {
        auto r = Call(wrong, "POST", path, SendMessage("SendMessage", "x"), kA2a);
        EXPECT_EQ(r.status, 401) << path << ": " << r.body;
        auto v = json::parse(r.body);  // a JSON-RPC error, so protocol clients show the message
        EXPECT_EQ(v.at("error").at("code").as_int64(), -32000) << r.body;
        EXPECT_NE(r.body.find("invalid bearer token"), std::string::npos) << r.body;
      }
    }
  }, Overlap::kRepeat);
}

TEST_F(GatewayNegative, OtherTenantsKeyIs403) {
  WhileOrdinaryRequestsRun([&] {
    for (const std::string path : {"/a2a/default/flaky/staging", "/a2a/default/flaky/staging/.well-known/agent-card.json",
                                   "/mcp/default/servers/flaky-mcp/staging", "/mcp/default/tools/slow-api"}) {
      auto r = Call(other_tenant_key_, path.find(".well-known") == std::string::npos ? "POST" : "GET", path,
                    path.find(".well-known") == std::string::npos ? SendMessage("SendMessage", "x") : "", kA2a);
      EXPECT_EQ(r.status, 403) << path << ": " << r.body;
      EXPECT_NE(r.body.find("belongs to namespace team-b"), std::string::npos) << r.body;
      EXPECT_EQ(r.body.find("echo"), std::string::npos) << "nothing of the target leaks: " << r.body;
    }
  }, Overlap::kRepeat);
  // The key works in its own namespace (where nothing is deployed).
  auto own = Call(other_tenant_key_, "POST", "/a2a/team-b/flaky/staging", SendMessage("SendMessage", "x"), kA2a);
  EXPECT_EQ(own.status, 404) << own.body;
}

TEST_F(GatewayNegative, OversizedBodyIs413) {
  WhileOrdinaryRequestsRun([&] {
    const std::string big(kMaxBody + 1, 'x');
    for (const std::string path : {"/a2a/default/flaky/staging", "/mcp/default/servers/flaky-mcp/staging"}) {
      auto r = Call(key_, "POST", path, big, kA2a);
      EXPECT_EQ(r.status, 413) << path << ": " << r.error << r.body;
      EXPECT_NE(r.body.find("request body exceeds " + std::to_string(kMaxBody) + " bytes"), std::string::npos) << r.body;
      EXPECT_NE(r.body.find(R"("jsonrpc":"2.0")"), std::string::npos) << "a JSON-RPC error, like every gateway refusal: " << r.body;
    }
    // Far beyond the limit: refused from the Content-Length alone, before the body is read.
    HttpConnection c(port_);
    c.set_timeout(10s);
    ASSERT_TRUE(c.SendRaw("POST /a2a/default/flaky/staging HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key_ +
                          "\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n"));
    auto r = c.ReadResponse();
    EXPECT_EQ(r.status, 413) << r.error << r.body;
    EXPECT_NE(r.body.find("request body exceeds"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("jsonrpc":"2.0")"), std::string::npos) << r.body;
  }, Overlap::kRepeat);
}

TEST_F(GatewayNegative, SlowLorisClientIsClosedWith408) {
  WhileOrdinaryRequestsRun([&] {
    // Headers a byte at a time, then a body a byte at a time: each connection is answered 408
    // and closed once the whole request has taken longer than the read timeout.
    const std::string head = "POST /a2a/default/flaky/staging HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key_ +
                             "\r\nContent-Type: application/json\r\n";
    for (bool slow_body : {false, true}) {
      HttpConnection c(port_);
      c.set_timeout(100ms);
      std::string bytes = slow_body ? head + "Content-Length: 100\r\n\r\n" + std::string(100, ' ') : head + std::string(400, 'X');
      std::size_t sent = slow_body ? head.size() + 23 : 0;
      if (slow_body) ASSERT_TRUE(c.SendRaw(bytes.substr(0, sent)));
      auto start = Clock::now();
      HttpResult answer;
      while (sent < bytes.size() && Clock::now() - start < 10s) {
        if (!c.SendRaw(bytes.substr(sent++, 1))) break;  // the server closed the connection
        answer = c.ReadResponse();                       // waits up to 100 ms
        if (answer.status != 0) break;
      }
      if (answer.status == 0) {
        c.set_timeout(5s);
        answer = c.ReadResponse();
      }
      auto took = Clock::now() - start;
      EXPECT_EQ(answer.status, 408) << (slow_body ? "slow body: " : "slow headers: ") << answer.error << answer.body;
      EXPECT_NE(answer.body.find("request not received within " + std::to_string(kReadTimeout.count()) + " ms"), std::string::npos)
          << answer.body;
      if (slow_body) {  // the path is known once the headers are in: a JSON-RPC error
        EXPECT_NE(answer.body.find(R"("jsonrpc":"2.0")"), std::string::npos) << answer.body;
      }
      EXPECT_GE(took, kReadTimeout - 100ms);
      EXPECT_LT(took, kReadTimeout + 3s);
      EXPECT_TRUE(c.WaitClosed()) << "the connection stays open after 408";
    }
  });
}

TEST_F(GatewayNegative, AgentThatHangsFailsTheTaskAtTheCallTimeout) {
  WhileOrdinaryRequestsRun([&] {
    auto start = Clock::now();
    auto r = Call(key_, "POST", "/a2a/default/flaky/staging", SendMessage("SendMessage", "hang"), kA2a);
    auto took = Clock::now() - start;
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    auto v = json::parse(r.body);
    const auto& task = v.at("result").at("task");
    EXPECT_EQ(JsonStr(task, {"status", "state"}), "TASK_STATE_FAILED") << r.body;
    std::string why = json::serialize(task.at("status").at("message"));
    // Names the agent, the limit and where the call was.
    EXPECT_NE(why.find("agent flaky did not finish within 2 s (the agent call timeout)"), std::string::npos) << why;
    EXPECT_NE(why.find("timed out"), std::string::npos) << why;
    EXPECT_GE(took, kAgentCallTimeout - 100ms);
    EXPECT_LT(took, kAgentCallTimeout + 3s);
  });
}

// The HTTPToolDeployment's timeoutSeconds applies through the gateway: an upstream that hangs
// gives the isError "timeout" result after 1 s, well within the server's 5 s handler budget.
TEST_F(GatewayNegative, HttpToolWhoseUpstreamHangsGivesATimeoutResult) {
  const std::string path = "/mcp/default/tools/slow-api";
  std::string session = McpSession(path);
  ASSERT_FALSE(session.empty());
  WhileOrdinaryRequestsRun([&] {
    auto start = Clock::now();
    auto r = McpCall(path, session, ToolCall("slow"));
    auto took = Clock::now() - start;
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    auto v = McpAnswer(r);
    ASSERT_TRUE(v.is_object() && v.as_object().contains("result")) << r.body;
    EXPECT_TRUE(v.at("result").at("isError").as_bool()) << r.body;
    EXPECT_NE(r.body.find("timed out"), std::string::npos) << r.body;
    EXPECT_GE(took, 1s - 100ms);  // timeoutSeconds: 1
    EXPECT_LT(took, 4s);
  });
  EXPECT_EQ(hanging_.arrived(), 1);
}

TEST_F(GatewayNegative, McpServerThatHangsGivesAClearErrorAndOthersAreServed) {
  const std::string path = "/mcp/default/servers/flaky-mcp/staging";
  std::string session = McpSession(path);
  ASSERT_FALSE(session.empty());
  WhileOrdinaryRequestsRun([&] {
    auto start = Clock::now();
    auto r = McpCall(path, session, ToolCall("hang"));
    auto took = Clock::now() - start;
    // No MCP upstream timeout can be configured (McpEndpointOptions::upstream_timeout, 60 s, is
    // not in ServerOptions), so the server's handler budget (request_timeout) ends the call.
    EXPECT_EQ(r.status, 504) << r.error << r.body;
    EXPECT_NE(r.body.find("request not handled within " + std::to_string(std::chrono::milliseconds(kRequestTimeout).count()) + " ms"),
              std::string::npos)
        << r.body;
    EXPECT_GE(took, kRequestTimeout - 100ms);
    EXPECT_LT(took, kRequestTimeout + 3s);
  });
  // The handler that answered 504 still waits on the hung server (up to the 60 s upstream
  // timeout; calls to one stdio server are serialized). Once the server is killed, the pool
  // starts it again for the next call: the MCP server serves again.
  auto hung = PoolProcesses("server.py");
  ASSERT_FALSE(hung.empty());
  for (pid_t p : hung) ::kill(p, SIGKILL);
  std::string last;
  EXPECT_TRUE(WaitFor(
      [&] {
        std::string fresh = McpSession(path, /*quiet=*/true);
        if (fresh.empty()) return false;
        auto r = McpCall(path, fresh, ToolCall("echo", "back"));
        last = r.body;
        return r.status == 200 && r.body.find("\"back\"") != std::string::npos;
      },
      10s, 100ms))
      << last;
}

TEST_F(GatewayNegative, AgentWorkerKilledMidStreamFailsTheTaskWithTheCause) {
  HttpConnection stream(port_);
  stream.set_timeout(15s);
  Headers h = kA2a;
  h.emplace_back("Authorization", "Bearer " + key_);
  h.emplace_back("Accept", "text/event-stream");
  ASSERT_TRUE(stream.SendRequest("POST", "/a2a/default/flaky/staging", SendMessage("SendStreamingMessage", "crash"), h));
  auto head = stream.ReadHead();
  ASSERT_EQ(head.status, 200) << head.error << head.body;
  ASSERT_EQ(head.Header("content-type").rfind("text/event-stream", 0), 0u);

  // Events until the agent names its worker; the worker's processes carry its id and the pool's marker.
  std::vector<json::value> events;
  auto next_event = [&]() -> std::optional<json::value> {
    while (auto line = stream.ReadLine()) {
      if (line->rfind("data: ", 0) != 0) continue;
      events.push_back(json::parse(line->substr(6)));
      return events.back();
    }
    return std::nullopt;
  };
  std::string worker;
  std::string task_id;
  while (auto e = next_event()) {
    std::string s = json::serialize(*e);
    if (task_id.empty()) {
      for (auto key : {"task", "statusUpdate", "artifactUpdate"}) {
        const auto* r = e->at("result").as_object().if_contains(key);
        if (r) task_id = JsonStr(*r, {key == std::string("task") ? "id" : "taskId"});
      }
    }
    auto at = s.find("worker ");
    if (at != std::string::npos) {
      worker = s.substr(at + 7, s.find('"', at) - at - 7);
      break;
    }
  }
  ASSERT_FALSE(worker.empty()) << ::testing::PrintToString(events);
  ASSERT_FALSE(task_id.empty()) << ::testing::PrintToString(events);
  EXPECT_EQ(Ordinary(), "") << "an ordinary request while the stream is open";

  std::vector<pid_t> pids;
  for (pid_t p : ProcessesWithEnv("TUNA_WORKER_ID=" + worker)) {
    auto marked = ProcessesWithEnv("TUNA_POOL_WORKDIR=" + fs::weakly_canonical(dir_.path() + "/data/pool").string());
    if (std::find(marked.begin(), marked.end(), p) != marked.end()) pids.push_back(p);
  }
  ASSERT_FALSE(pids.empty()) << "no process of worker " << worker;
  WhileOrdinaryRequestsRun([&] {
    for (pid_t p : pids) ::kill(p, SIGKILL);
    // The stream goes on to a failed task naming the cause, then ends.
    std::optional<json::value> last;
    while (auto e = next_event()) last = e;
    ASSERT_TRUE(last) << "the stream ended without a final event";
    const auto* update = last->at("result").as_object().if_contains("statusUpdate");
    ASSERT_NE(update, nullptr) << json::serialize(*last);
    EXPECT_EQ(JsonStr(*update, {"status", "state"}), "TASK_STATE_FAILED") << json::serialize(*last);
    std::string why = json::serialize(update->at("status").at("message"));
    EXPECT_NE(why.find("worker " + worker), std::string::npos) << why;
    EXPECT_NE(why.find("killed by signal 9"), std::string::npos) << why;
    EXPECT_TRUE(stream.stream_ended() || stream.WaitClosed());
  }, Overlap::kAround);

  // The task keeps its failure; the agent serves the next message on a new worker.
  auto got = Call(key_, "POST", "/a2a/default/flaky/staging", R"({"jsonrpc":"2.0","id":3,"method":"GetTask","params":{"id":")" + task_id + R"("}})",
                  kA2a);
  EXPECT_NE(got.body.find("TASK_STATE_FAILED"), std::string::npos) << got.body;
  auto again = Call(key_, "POST", "/a2a/default/flaky/staging", SendMessage("SendMessage", "again"), kA2a);
  EXPECT_NE(again.body.find("TASK_STATE_COMPLETED"), std::string::npos) << again.body;
  EXPECT_NE(again.body.find("echo: again"), std::string::npos) << again.body;
}

TEST_F(GatewayNegative, McpServerThatDiesMidCallGivesAJsonRpcErrorAndTheNextSessionWorks) {
  const std::string path = "/mcp/default/servers/flaky-mcp/staging";
  std::string session = McpSession(path);
  ASSERT_FALSE(session.empty());
  auto echo = McpCall(path, session, ToolCall("echo", "before"));
  ASSERT_NE(echo.body.find("before"), std::string::npos) << echo.body;
  WhileOrdinaryRequestsRun([&] {
    auto r = McpCall(path, session, ToolCall("crash"));
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    auto v = McpAnswer(r);
    ASSERT_TRUE(v.is_object() && v.as_object().contains("error")) << r.body;
    EXPECT_EQ(v.at("id").as_int64(), 2) << r.body;
    std::string message(v.at("error").at("message").as_string());
    EXPECT_NE(message.find("exited"), std::string::npos) << message;
    EXPECT_NE(message.find("crashing in the middle of tools/call"), std::string::npos) << "its stderr tail: " << message;
  }, Overlap::kRepeat);  // each call crashes the server the previous one left restarting
  // A new session reaches a new server process.
  std::string next = McpSession(path);
  ASSERT_FALSE(next.empty());
  auto after = McpCall(path, next, ToolCall("echo", "after"));
  EXPECT_EQ(after.status, 200) << after.body;
  auto v = McpAnswer(after);
  ASSERT_TRUE(v.is_object() && v.as_object().contains("result")) << after.body;
  EXPECT_NE(after.body.find("after"), std::string::npos) << after.body;
}


// Agent calls that may take longer than the server's handler budget, as real agents do (the
// default agent_call_timeout is 10 min, the handler budget 60 s).
class GatewayNegativeSlowAgents : public GatewayNegative {
 protected:
  GatewayNegativeSlowAgents() { agent_call_timeout_ = std::chrono::seconds(60); }

  // `n` SendMessage "hang" calls to the flaky agent, each on a thread of its own; waits until all
  // of them reached the agent (it leaves a file per call).
  void StartHangingCalls(int n) {
    for (int i = 0; i < n; ++i) {
      slow_.emplace_back([this] {
        Call(key_, "POST", "/a2a/default/flaky/staging", SendMessage("SendMessage", "hang"), kA2a);
        ++finished_;
      });
    }
    auto arrived = [&] {
      int found = 0;
      std::error_code ec;
      for (auto it = fs::recursive_directory_iterator(dir_.path() + "/data/pool", ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        found += it->path().filename().string().rfind("hang-", 0) == 0;
      }
      return found;
    };
    EXPECT_TRUE(WaitFor([&] { return arrived() >= n; }, 10s)) << arrived() << " slow calls reached the agent";
  }

  // Ends the hanging calls: kills the agent's workers (and the ones that replace them) until
  // every call is answered.
  void EndHangingCalls() {
    const int n = static_cast<int>(slow_.size());
    EXPECT_TRUE(WaitFor(
        [&] {
          for (pid_t p : PoolProcesses("streaming_worker.py")) ::kill(p, SIGKILL);
          return finished_.load() == n;
        },
        20s, 200ms));
    for (auto& t : slow_) t.join();
    slow_.clear();
  }

  std::vector<std::thread> slow_;
  std::atomic<int> finished_{0};
};

// A few slow calls to one target do not starve other requests: gateway calls wait for their
// agents on the gateway's own lane of threads (ServerOptions::gateway_threads), and one endpoint
// gets at most 3/4 of them, so an ordinary request to another agent (or the REST API) is served
// at once.
TEST_F(GatewayNegativeSlowAgents, SlowCallsToOneTargetDoNotStarveTheOthers) {
  StartHangingCalls(5);
  auto start = Clock::now();
  EXPECT_EQ(Ordinary(), "");
  EXPECT_LT(Clock::now() - start, 2s) << "the ordinary request waited for the slow ones";
  EndHangingCalls();
}

// A small gateway lane (4 threads: at most 3 calls per endpoint): the fourth slow call to one
// agent is refused at once with 503 and Retry-After, naming the endpoint, while another agent is
// still served.
class GatewayNegativeSmallLane : public GatewayNegativeSlowAgents {
 protected:
  GatewayNegativeSmallLane() { gateway_threads_ = 4; }
};

TEST_F(GatewayNegativeSmallLane, OneEndpointGetsAtMostThreeQuartersOfTheLane) {
  StartHangingCalls(3);
  auto refused = Call(key_, "POST", "/a2a/default/flaky/staging", SendMessage("SendMessage", "hello"), kA2a);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.Header("retry-after"), "1");
  EXPECT_NE(refused.body.find("/a2a/default/flaky/staging is busy"), std::string::npos) << refused.body;
  EXPECT_EQ(Ordinary(), "");  // the fourth thread serves another agent
  EndHangingCalls();
}

}  // namespace
}  // namespace tuna::testing
