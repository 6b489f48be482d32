// tuna's MCP client (tuna/mcp/client.hpp) against tuna's own MCP server: in-process through the
// function transport, and over Streamable HTTP on 127.0.0.1:0 (progress over SSE, concurrent
// calls, deadlines, session expiry followed by a transparent re-initialize, DELETE on close).

#include "tuna/mcp/client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "mcp/fixture_server.hpp"
#include "tuna/mcp/streamable_http.hpp"

namespace tuna::mcp {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

// A tool that blocks until the test releases it (or 20 s pass), as a hung upstream.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> entered{0};
  void Open() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

ServerPtr MakeServer(Gate* gate = nullptr, std::size_t page_size = 100, int filler = 0) {
  ServerPtr server = testing::MakeFixtureServer(page_size, filler);
  if (server && gate != nullptr) {
    Status s = server->AddTool(Tool{.name = "hang", .handler = [gate](const json::object&, const ToolContext&) -> Result<ToolResult> {
                                      ++gate->entered;
                                      std::unique_lock lock(gate->mu);
                                      gate->cv.wait_for(lock, 20s, [&] { return gate->open; });
                                      return ToolResult::Text("released");
                                    }});
    if (!s.ok()) return nullptr;
  }
  return server;
}

// A function transport that hands each message to `server` as one session would.
ClientTransportPtr InProcess(const Server& server) {
  auto state = std::make_shared<SessionState>();
  auto mu = std::make_shared<std::mutex>();
  return MakeFunctionTransport([&server, state, mu](const json::value& message, const FunctionContext& context) -> Result<json::value> {
    jsonrpc::ParseResult parsed = jsonrpc::ParseValue(message);
    if (!parsed.ok()) return InvalidArgument(parsed.error.message);
    SessionState copy;
    {
      std::lock_guard lock(*mu);
      copy = *state;
    }
    auto reply = server.Handle(*parsed.message, copy, [&](json::value m) { context.emit(m); });
    if (parsed.message->method == "initialize" || parsed.message->method == "notifications/initialized") {
      std::lock_guard lock(*mu);
      *state = copy;
    }
    return reply ? *reply : json::value();
  });
}

void ExpectFixtureWorks(Client& client) {
  ServerInfo info = client.server_info();
  EXPECT_EQ(info.name, "tuna-fixture");
  EXPECT_EQ(info.version, "1.2.3");
  EXPECT_EQ(info.protocol_version, "2025-11-25");
  EXPECT_TRUE(info.HasCapability("tools"));
  EXPECT_TRUE(client.Ping().ok());

  auto tools = client.ListTools();
  ASSERT_TRUE(tools.ok()) << tools.status().ToString();
  ASSERT_GE(tools->size(), 4u);
  EXPECT_EQ((*tools)[0].name, "echo");
  EXPECT_EQ((*tools)[0].title, "Echo");
  EXPECT_EQ((*tools)[0].input_schema.at("required").as_array().size(), 1u);
  EXPECT_TRUE((*tools)[1].output_schema.has_value());

  auto echo = client.CallTool("echo", {{"text", "hi"}});
  ASSERT_TRUE(echo.ok()) << echo.status().ToString();
  EXPECT_FALSE(echo->is_error);
  EXPECT_EQ(echo->content.at(0).at("text").as_string(), "hi");

  auto add = client.CallTool("add", {{"a", 2}, {"b", 3}});
  ASSERT_TRUE(add.ok()) << add.status().ToString();
  ASSERT_TRUE(add->structured_content.has_value());
  EXPECT_EQ(add->structured_content->at("sum").to_number<double>(), 5.0);

  // A failing tool is a result with isError; an unknown tool is a JSON-RPC -32602.
  auto fail = client.CallTool("fail");
  ASSERT_TRUE(fail.ok()) << fail.status().ToString();
  EXPECT_TRUE(fail->is_error);
  auto unknown = client.CallTool("no_such_tool");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument) << unknown.status().ToString();
  EXPECT_NE(unknown.status().message().find("-32602"), std::string::npos) << unknown.status().message();
  auto raw = client.CallRaw("tools/call", {{"name", "no_such_tool"}});
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->kind, jsonrpc::MessageKind::kErrorResponse);
  EXPECT_EQ(raw->error.code, jsonrpc::kInvalidParams);

  std::vector<Progress> progress;
  CallOptions with_progress;
  with_progress.on_progress = [&](const Progress& p) { progress.push_back(p); };
  auto count = client.CallTool("count", {{"n", 3}}, with_progress);
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(count->content.at(0).at("text").as_string(), "counted 3 with progress");
  ASSERT_EQ(progress.size(), 3u);
  EXPECT_EQ(progress[2].progress, 3.0);
  EXPECT_EQ(progress[2].total, 3.0);
  EXPECT_EQ(progress[0].message, "step 1");

  auto resources = client.ListResources();
  ASSERT_TRUE(resources.ok()) << resources.status().ToString();
  ASSERT_EQ(resources->size(), 1u);
  EXPECT_EQ((*resources)[0].uri, "tuna://fixture/readme");
  auto contents = client.ReadResource("tuna://fixture/readme");
  ASSERT_TRUE(contents.ok()) << contents.status().ToString();
  ASSERT_EQ(contents->size(), 1u);
  EXPECT_EQ((*contents)[0].text.value_or(""), "hello resource");
  auto missing = client.ReadResource("tuna://nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().ToString();

  auto prompts = client.ListPrompts();
  ASSERT_TRUE(prompts.ok()) << prompts.status().ToString();
  ASSERT_EQ(prompts->size(), 1u);
  ASSERT_EQ((*prompts)[0].arguments.size(), 1u);
  EXPECT_TRUE((*prompts)[0].arguments[0].required);
  auto prompt = client.GetPrompt("greet", {{"name", "Ada"}});
  ASSERT_TRUE(prompt.ok()) << prompt.status().ToString();
  ASSERT_EQ(prompt->messages.size(), 1u);
  EXPECT_EQ(prompt->messages[0].content.at("text").as_string(), "Say hello to Ada");

  // No templates are registered here: an empty list.
  auto templates = client.ListResourceTemplates();
  ASSERT_TRUE(templates.ok()) << templates.status().ToString();
  EXPECT_TRUE(templates->empty());
}

struct HttpServer {
  ServerPtr server;
  StreamableHttpServerPtr http;
  std::string url;
  std::atomic<std::int64_t> clock_offset_ms{0};

  explicit HttpServer(ServerPtr s, std::chrono::milliseconds ttl = std::chrono::minutes(30)) : server(std::move(s)) {
    if (!server) return;
    StreamableHttpOptions options;
    options.session_idle_ttl = ttl;
    options.clock = [this] { return std::chrono::steady_clock::now() + std::chrono::milliseconds(clock_offset_ms.load()); };
    auto made = StreamableHttpServer::Make(*server, options);
    if (!made.ok()) return;
    http = std::move(*made);
    if (!http->Start("127.0.0.1", 0).ok()) {
      http.reset();
      return;
    }
    url = "http://127.0.0.1:" + std::to_string(http->port()) + "/mcp";
  }
  ~HttpServer() {
    if (http) http->Stop();
  }
};

ClientTransportPtr Http(const std::string& url, HttpTransportOptions options = {}) {
  options.url = url;
  auto t = MakeHttpTransport(std::move(options));
  return t.ok() ? std::move(*t) : nullptr;
}

TEST(McpClientFunction, InProcessServer) {
  ServerPtr server = MakeServer();
  ASSERT_TRUE(server);
  auto client = Client::Connect(InProcess(*server));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ExpectFixtureWorks(**client);
}

TEST(McpClientFunction, FollowsCursorsThroughEveryPage) {
  ServerPtr server = MakeServer(nullptr, /*page_size=*/3, /*filler=*/10);
  ASSERT_TRUE(server);
  auto client = Client::Connect(InProcess(*server));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto tools = (*client)->ListTools();
  ASSERT_TRUE(tools.ok()) << tools.status().ToString();
  EXPECT_EQ(tools->size(), 14u);
  EXPECT_EQ(tools->back().name, "filler_9");
}

TEST(McpClientFunction, NegotiatesTheOlderRevision) {
  ServerPtr server = MakeServer();
  ASSERT_TRUE(server);
  ClientOptions options;
  options.protocol_version = "2025-06-18";
  auto client = Client::Connect(InProcess(*server), options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->server_info().protocol_version, "2025-06-18");
}

TEST(McpClientFunction, RefusesAServerThatAnswersAnUnknownRevision) {
  auto transport = MakeFunctionTransport([](const json::value& message, const FunctionContext&) -> Result<json::value> {
    const json::object& o = message.as_object();
    if (!o.contains("id")) return json::value();
    return jsonrpc::MakeResponse(o.at("id"), json::object{{"protocolVersion", "2024-11-05"}, {"capabilities", json::object{}},
                                                          {"serverInfo", json::object{{"name", "old"}, {"version", "1"}}}});
  });
  auto client = Client::Connect(std::move(transport));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(client.status().message().find("2024-11-05"), std::string::npos) << client.status().message();
}

TEST(McpClientFunction, CallsBeforeInitializeFailCleanly) {
  ServerPtr server = MakeServer();
  ASSERT_TRUE(server);
  ClientPtr client = Client::Make(InProcess(*server));
  EXPECT_EQ(client->Ping().code(), StatusCode::kFailedPrecondition);
  client->Close();
  EXPECT_EQ(client->Initialize().code(), StatusCode::kCancelled);
}

TEST(McpClientFunction, ServerRequestsGetPingAnswersAndMethodNotFound) {
  // A server that, while answering tools/call, sends ping and sampling/createMessage to the
  // client and reports what came back.
  std::vector<json::value> replies;
  std::mutex mu;
  auto transport = MakeFunctionTransport([&](const json::value& message, const FunctionContext& context) -> Result<json::value> {
    const json::object& o = message.as_object();
    if (o.contains("result") || o.contains("error")) {
      std::lock_guard lock(mu);
      replies.push_back(message);
      return json::value();
    }
    if (!o.contains("id")) return json::value();
    std::string method(o.at("method").as_string());
    if (method == "initialize") {
      return jsonrpc::MakeResponse(o.at("id"), json::object{{"protocolVersion", "2025-06-18"}, {"capabilities", json::object{}},
                                                            {"serverInfo", json::object{{"name", "s"}, {"version", "1"}}}});
    }
    context.emit(jsonrpc::MakeRequest("s1", "ping"));
    context.emit(jsonrpc::MakeRequest("s2", "sampling/createMessage", json::object{}));
    context.emit(jsonrpc::MakeNotification("notifications/tools/list_changed"));
    return jsonrpc::MakeResponse(o.at("id"), json::object{{"content", json::array{}}});
  });
  std::mutex notes_mu;
  std::condition_variable notes_cv;
  std::vector<std::string> notes;
  ClientOptions options;
  options.on_notification = [&](const std::string& method, const json::value&) {
    std::lock_guard lock(notes_mu);
    notes.push_back(method);
    notes_cv.notify_all();
  };
  auto client = Client::Connect(std::move(transport), options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ASSERT_TRUE((*client)->CallTool("x").ok());
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(replies.size(), 2u);
    EXPECT_EQ(replies[0].at("id").as_string(), "s1");
    EXPECT_TRUE(replies[0].at("result").is_object());
    EXPECT_EQ(replies[1].at("id").as_string(), "s2");
    EXPECT_EQ(replies[1].at("error").at("code").to_number<int>(), jsonrpc::kMethodNotFound);
  }
  std::unique_lock lock(notes_mu);
  ASSERT_TRUE(notes_cv.wait_for(lock, 10s, [&] { return !notes.empty(); }));
  EXPECT_EQ(notes[0], "notifications/tools/list_changed");
}

TEST(McpClientFunction, InFlightBoundMakesExtraCallsWaitUntilTheirDeadline) {
  Gate gate;
  ServerPtr server = MakeServer(&gate);
  ASSERT_TRUE(server);
  ClientOptions options;
  options.max_in_flight = 1;
  auto client = Client::Connect(InProcess(*server), options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  std::thread busy([&] { EXPECT_TRUE((*client)->CallTool("hang").ok()); });
  while (gate.entered.load() == 0) std::this_thread::sleep_for(5ms);
  Status waited = (*client)->Ping({.timeout = 200ms});
  EXPECT_EQ(waited.code(), StatusCode::kDeadlineExceeded) << waited.ToString();
  EXPECT_NE(waited.message().find("in flight"), std::string::npos) << waited.message();
  gate.Open();
  busy.join();
  EXPECT_TRUE((*client)->Ping().ok());  // the slot is free again
}

TEST(McpClientHttp, AgainstTunaServer) {
  HttpServer s(MakeServer());
  ASSERT_TRUE(s.http);
  std::atomic<int> header_calls{0};
  HttpTransportOptions options;
  options.headers = {{"Authorization", "Bearer test-token"}};
  options.header_source = [&] {
    ++header_calls;
    return std::vector<Header>{{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}};
  };
  auto client = Client::Connect(Http(s.url, options));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ(s.http->SessionCount(), 1u);
  ExpectFixtureWorks(**client);
  EXPECT_GT(header_calls.load(), 10);
  // Per-call headers go with the call.
  CallOptions call;
  call.headers = {{"X-Request-Id", "client-test-1"}};
  EXPECT_TRUE((*client)->Ping(call).ok());
  // Close sends DELETE: the session is gone on the server.
  (*client)->Close();
  EXPECT_EQ(s.http->SessionCount(), 0u);
  EXPECT_EQ((*client)->Ping().code(), StatusCode::kCancelled);
}

TEST(McpClientHttp, ConcurrentCallsShareOneSession) {
  HttpServer s(MakeServer());
  ASSERT_TRUE(s.http);
  ClientOptions options;
  options.max_in_flight = 4;  // fewer slots than threads: the rest wait their turn
  auto client = Client::Connect(Http(s.url), options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        std::string text = std::to_string(t) + "-" + std::to_string(i);
        CallOptions call;
        if (i % 5 == 0) call.on_progress = [](const Progress&) {};
        auto r = i % 5 == 0 ? (*client)->CallTool("count", {{"n", 2}}, call) : (*client)->CallTool("echo", {{"text", text}});
        if (r.ok() && !r->is_error &&
            (i % 5 == 0 || r->content.at(0).at("text").as_string() == text)) {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8 * 15);
  EXPECT_EQ(s.http->SessionCount(), 1u);
}

TEST(McpClientHttp, DeadlineOnAHangingToolSendsCancelled) {
  Gate gate;
  HttpServer s(MakeServer(&gate));
  ASSERT_TRUE(s.http);
  auto client = Client::Connect(Http(s.url));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  CallOptions call;
  call.timeout = 300ms;
  auto r = (*client)->CallTool("hang", {}, call);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_EQ(gate.entered.load(), 1);
  // The session still works for other calls.
  EXPECT_TRUE((*client)->Ping().ok());
  gate.Open();
}

TEST(McpClientHttp, ExpiredSessionIsInitializedAgainTransparently) {
  HttpServer s(MakeServer(), /*ttl=*/std::chrono::minutes(1));
  ASSERT_TRUE(s.http);
  // An idle session: no standalone GET stream (whether an open one keeps a session alive is the
  // server's business; here the server must forget the session).
  HttpTransportOptions idle;
  idle.open_event_stream = false;
  auto client = Client::Connect(Http(s.url, idle));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->session_generation(), 1u);
  ASSERT_TRUE((*client)->Ping().ok());
  s.clock_offset_ms += 2 * 60 * 1000;  // the server forgets the session
  EXPECT_EQ(s.http->SessionCount(), 0u);
  // Several threads hit the expired session at once: one initialize, every call succeeds.
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto r = (*client)->CallTool("echo", {{"text", "again"}});
      if (r.ok() && r->content.at(0).at("text").as_string() == "again") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ((*client)->session_generation(), 2u);
  EXPECT_EQ(s.http->SessionCount(), 1u);
}

TEST(McpClientHttp, ExpiredSessionWithoutAutoReinitializeIsNotFound) {
  HttpServer s(MakeServer(), std::chrono::minutes(1));
  ASSERT_TRUE(s.http);
  ClientOptions options;
  options.auto_reinitialize = false;
  auto client = Client::Connect(Http(s.url), options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  s.clock_offset_ms += 2 * 60 * 1000;
  Status ping = (*client)->Ping();
  EXPECT_EQ(ping.code(), StatusCode::kNotFound) << ping.ToString();
  EXPECT_NE(ping.message().find("expired"), std::string::npos) << ping.message();
  ASSERT_TRUE((*client)->Reinitialize().ok());
  EXPECT_TRUE((*client)->Ping().ok());
  EXPECT_EQ((*client)->session_generation(), 2u);
}

TEST(McpClientHttp, UnreachableServerAndBadUrl) {
  auto bad = MakeHttpTransport({.url = "ftp://example.com/mcp"});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  // A port nobody listens on: bind one, close it.
  std::string url;
  {
    HttpServer s(MakeServer());
    ASSERT_TRUE(s.http);
    url = s.url;
  }
  auto client = Client::Connect(Http(url));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kUnavailable) << client.status().ToString();
}

TEST(McpClientHttp, WrongPathIsNotMistakenForAnExpiredSession) {
  HttpServer s(MakeServer());
  ASSERT_TRUE(s.http);
  auto client = Client::Connect(Http(s.url + "/elsewhere"));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kFailedPrecondition) << client.status().ToString();
}

}  // namespace
}  // namespace tuna::mcp
