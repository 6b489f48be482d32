// Per-session handlers over Streamable HTTP: the SessionFactory path, the standalone GET stream,
// event ids, priming, resumption with Last-Event-ID (GET and POST streams), the replay bound,
// and the end of a session (DELETE, idle expiry, server stop) closing its handler. Real server on
// 127.0.0.1:0, a test factory whose handlers record what they see, no timing assertions.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "support/http_client.hpp"
#include "tuna/mcp/server.hpp"
#include "tuna/mcp/session.hpp"
#include "tuna/mcp/streamable_http.hpp"

namespace tuna::mcp {
namespace {
namespace json = boost::json;
using tuna::testing::HttpConnection;
using tuna::testing::HttpResult;
using Headers = std::vector<std::pair<std::string, std::string>>;

std::string InitializeBody(const std::string& version) {
  return R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":")" + version +
         R"(","capabilities":{"sampling":{}},"clientInfo":{"name":"t","version":"1"}}})";
}

// A gate a handler waits on until the test opens it.
class Gate {
 public:
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// What the test factory's sessions saw.
struct Record {
  std::mutex mu;
  std::vector<std::string> methods;
  std::vector<std::weak_ptr<Notifier>> notifiers;  // weakly: the transport keeps them alive
  std::vector<std::string> session_ids;
  std::atomic<int> opened{0};
  std::atomic<int> closed{0};
  Gate gate;  // tools/call "slow" waits here between its two notifications
};

// A handler answering ping, tools/list and tools/call ("slow": a notification, the gate, another
// notification, then the answer; anything else: an immediate text result).
class RecordingHandler final : public SessionHandler {
 public:
  explicit RecordingHandler(std::shared_ptr<Record> record) : record_(std::move(record)) {}

  std::optional<json::value> Handle(const jsonrpc::Message& message, const MessageSink& sink) override {
    {
      std::lock_guard lock(record_->mu);
      record_->methods.push_back(message.IsResponse() ? "response" : message.method);
    }
    if (!message.IsRequest()) return std::nullopt;
    if (message.method == "ping") return jsonrpc::MakeResponse(message.id, json::object{});
    if (message.method == "tools/list") {
      return jsonrpc::MakeResponse(message.id, json::object{{"tools", json::array{json::object{{"name", "slow"}, {"inputSchema", json::object{{"type", "object"}}}}}}});
    }
    if (message.method == "tools/call") {
      if (message.params.at("name").as_string() == "slow") {
        if (sink) sink(jsonrpc::MakeNotification("notifications/message", json::object{{"level", "info"}, {"data", "first"}}));
        record_->gate.Wait();
        if (sink) sink(jsonrpc::MakeNotification("notifications/message", json::object{{"level", "info"}, {"data", "second"}}));
      }
      return jsonrpc::MakeResponse(message.id, ToolResult::Text("done").ToJson());
    }
    return jsonrpc::MakeErrorResponse(message.id, jsonrpc::Error{jsonrpc::kMethodNotFound, "no such method", nullptr});
  }

  void Close() override { record_->closed.fetch_add(1); }

 private:
  std::shared_ptr<Record> record_;
};

class RecordingFactory final : public SessionFactory {
 public:
  explicit RecordingFactory(std::shared_ptr<Record> record) : record_(std::move(record)) {}

  SessionStart Open(const jsonrpc::Message& initialize, const SessionContext& context) override {
    std::string version = NegotiateProtocolVersion(initialize.params.at("protocolVersion").as_string());
    {
      std::lock_guard lock(record_->mu);
      record_->notifiers.push_back(context.notifier);
      record_->session_ids.push_back(context.session_id);
    }
    record_->opened.fetch_add(1);
    json::object result{{"protocolVersion", version},
                        {"capabilities", json::object{{"tools", json::object{{"listChanged", true}}}}},
                        {"serverInfo", json::object{{"name", "recording"}, {"version", "1"}}}};
    return SessionStart{.response = jsonrpc::MakeResponse(initialize.id, std::move(result)),
                        .handler = std::make_shared<RecordingHandler>(record_),
                        .protocol_version = version};
  }

 private:
  std::shared_ptr<Record> record_;
};

struct SseEvent {
  std::string id;
  std::string data;
  std::string retry;
};

// Reads the next SSE event from a chunked stream; nullopt at the end of the stream.
std::optional<SseEvent> ReadEvent(HttpConnection& conn) {
  SseEvent e;
  bool any = false;
  for (;;) {
    std::optional<std::string> line = conn.ReadLine();
    if (!line) return std::nullopt;
    if (line->empty()) {
      if (any) return e;
      continue;
    }
    any = true;
    auto field = [&](std::string_view name) -> std::optional<std::string> {
      if (!line->starts_with(name)) return std::nullopt;
      std::string v = line->substr(name.size());
      if (!v.empty() && v.front() == ' ') v.erase(0, 1);
      return v;
    };
    if (auto v = field("id:")) e.id = *v;
    if (auto v = field("data:")) e.data += *v;
    if (auto v = field("retry:")) e.retry = *v;
  }
}

class McpHttpSessionTest : public ::testing::Test {
 protected:
  void Start(StreamableHttpOptions options = {}) {
    record_ = std::make_shared<Record>();
    auto http = StreamableHttpServer::Make(std::make_shared<RecordingFactory>(record_), std::move(options));
    ASSERT_TRUE(http.ok()) << http.status().ToString();
    http_ = std::move(http).value();
    ASSERT_TRUE(http_->Start("127.0.0.1", 0).ok());
    conn_ = HttpConnection(http_->port());
  }
  void TearDown() override {
    if (record_) record_->gate.Open();
    if (http_) http_->Stop();
  }

  static Headers PostHeaders(const std::string& session = {}) {
    Headers h{{"Accept", "application/json, text/event-stream"}, {"Content-Type", "application/json"}};
    if (!session.empty()) h.emplace_back("Mcp-Session-Id", session);
    return h;
  }
  static Headers GetHeaders(const std::string& session, const std::string& last_event_id = {}) {
    Headers h{{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}};
    if (!last_event_id.empty()) h.emplace_back("Last-Event-ID", last_event_id);
    return h;
  }

  std::string OpenSession(const std::string& version = "2025-06-18") {
    HttpResult r = conn_.Request("POST", "/mcp", InitializeBody(version), PostHeaders());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Header("mcp-session-id");
  }

  // Opens a GET stream on a fresh connection; the head must say 200.
  HttpConnection OpenGet(const std::string& session, const std::string& last_event_id = {}) {
    HttpConnection c(http_->port());
    c.set_timeout(std::chrono::seconds(10));
    EXPECT_TRUE(c.SendRequest("GET", "/mcp", "", GetHeaders(session, last_event_id)));
    HttpResult head = c.ReadHead();
    EXPECT_EQ(head.status, 200) << head.body;
    EXPECT_NE(head.Header("content-type").find("text/event-stream"), std::string::npos);
    return c;
  }

  NotifierPtr Notifier(std::size_t i = 0) {
    std::lock_guard lock(record_->mu);
    NotifierPtr n = record_->notifiers.at(i).lock();
    EXPECT_TRUE(n) << "the transport let the notifier of a live session go";
    return n;
  }

  static std::string Method(const SseEvent& e) { return std::string(json::parse(e.data).at("method").as_string()); }

  std::shared_ptr<Record> record_;
  StreamableHttpServerPtr http_;
  HttpConnection conn_;
};

TEST_F(McpHttpSessionTest, FactoryOpensOneHandlerPerSession) {
  Start();
  std::string a = OpenSession();
  std::string b = OpenSession();
  ASSERT_FALSE(a.empty());
  ASSERT_NE(a, b);
  EXPECT_EQ(record_->opened.load(), 2);
  {
    std::lock_guard lock(record_->mu);
    EXPECT_EQ(record_->session_ids, (std::vector<std::string>{a, b}));  // the factory learns the id it is given
  }
  HttpResult r = conn_.Request("POST", "/mcp", R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", PostHeaders(a));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("result").at("tools").at(0).at("name").as_string(), "slow");
  EXPECT_EQ(conn_.Request("POST", "/mcp", R"({"jsonrpc":"2.0","method":"notifications/initialized"})", PostHeaders(a)).status, 202);
  EXPECT_EQ(conn_.Request("POST", "/mcp", R"({"jsonrpc":"2.0","id":"x","result":{}})", PostHeaders(a)).status, 202);
  std::lock_guard lock(record_->mu);
  EXPECT_EQ(record_->methods, (std::vector<std::string>{"tools/list", "notifications/initialized", "response"}));
}

TEST_F(McpHttpSessionTest, GetStreamDeliversListChangedWithEventIds) {
  Start();
  std::string session = OpenSession();
  HttpConnection get = OpenGet(session);
  ASSERT_TRUE(Notifier()->Notify(ListChangedNotification("tools")));
  ASSERT_TRUE(Notifier()->Notify(ListChangedNotification("prompts")));
  std::optional<SseEvent> e1 = ReadEvent(get);
  std::optional<SseEvent> e2 = ReadEvent(get);
  ASSERT_TRUE(e1 && e2);
  EXPECT_EQ(Method(*e1), "notifications/tools/list_changed");
  EXPECT_EQ(Method(*e2), "notifications/prompts/list_changed");
  EXPECT_EQ(e1->id, "0-1");
  EXPECT_EQ(e2->id, "0-2");
  EXPECT_TRUE(e1->retry.empty());  // 2025-06-18: no priming event
}

TEST_F(McpHttpSessionTest, MessagesWaitForTheGetStreamAndSecondGetIs409) {
  Start();
  std::string session = OpenSession();
  ASSERT_TRUE(Notifier()->Notify(ListChangedNotification("tools")));  // no GET stream yet: buffered
  HttpConnection get = OpenGet(session);
  std::optional<SseEvent> e = ReadEvent(get);
  ASSERT_TRUE(e);
  EXPECT_EQ(Method(*e), "notifications/tools/list_changed");
  HttpResult second = conn_.Request("GET", "/mcp", "", GetHeaders(session));
  EXPECT_EQ(second.status, 409) << second.body;
  // Without a session there is still nothing to stream; an unknown session is 404.
  EXPECT_EQ(conn_.Request("GET", "/mcp", "", {{"Accept", "text/event-stream"}}).status, 405);
  EXPECT_EQ(conn_.Request("GET", "/mcp", "", GetHeaders("0123456789abcdef0123456789abcdef")).status, 404);
  EXPECT_EQ(conn_.Request("GET", "/mcp", "", {{"Accept", "application/json"}, {"Mcp-Session-Id", session}}).status, 406);
}

TEST_F(McpHttpSessionTest, GetStreamResumesAfterLastEventId) {
  Start();
  std::string session = OpenSession("2025-11-25");
  {
    HttpConnection get = OpenGet(session);
    std::optional<SseEvent> priming = ReadEvent(get);
    ASSERT_TRUE(priming);
    EXPECT_EQ(priming->id, "0-0");
    EXPECT_TRUE(priming->data.empty());
    EXPECT_EQ(priming->retry, "1000");
    ASSERT_TRUE(Notifier()->Notify(ListChangedNotification("tools")));
    ASSERT_TRUE(Notifier()->Notify(ListChangedNotification("resources")));
    std::optional<SseEvent> e1 = ReadEvent(get);
    std::optional<SseEvent> e2 = ReadEvent(get);
    ASSERT_TRUE(e1 && e2);
    EXPECT_EQ(e1->id, "0-1");
    EXPECT_EQ(e2->id, "0-2");
  }  // the client drops the connection
  ASSERT_TRUE(Notifier()->Notify(ListChangedNotification("prompts")));
  // It reconnects saying it saw 0-1: 0-2 is replayed, then 0-3, after a priming event.
  HttpConnection again = OpenGet(session, "0-1");
  std::optional<SseEvent> priming = ReadEvent(again);
  ASSERT_TRUE(priming);
  EXPECT_EQ(priming->id, "0-1");
  std::optional<SseEvent> r2 = ReadEvent(again);
  std::optional<SseEvent> r3 = ReadEvent(again);
  ASSERT_TRUE(r2 && r3);
  EXPECT_EQ(r2->id, "0-2");
  EXPECT_EQ(Method(*r2), "notifications/resources/list_changed");
  EXPECT_EQ(r3->id, "0-3");
  EXPECT_EQ(Method(*r3), "notifications/prompts/list_changed");
}

TEST_F(McpHttpSessionTest, ReplayIsBounded) {
  StreamableHttpOptions options;
  options.replay_buffer_events = 3;
  Start(options);
  std::string session = OpenSession();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(Notifier()->Notify(ListChangedNotification("tools")));
  // Only the last three are kept: a resume from 0-1 restarts at the oldest kept (0-4).
  HttpConnection get = OpenGet(session, "0-1");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    std::optional<SseEvent> e = ReadEvent(get);
    ASSERT_TRUE(e);
    ids.push_back(e->id);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"0-4", "0-5", "0-6"}));
  // Live events continue after the replay.
  ASSERT_TRUE(Notifier()->Notify(ListChangedNotification("tools")));
  std::optional<SseEvent> live = ReadEvent(get);
  ASSERT_TRUE(live);
  EXPECT_EQ(live->id, "0-7");
}

TEST_F(McpHttpSessionTest, PostStreamResumesWithLastEventId) {
  Start();
  std::string session = OpenSession("2025-11-25");
  std::string id;
  {
    HttpConnection post(http_->port());
    post.set_timeout(std::chrono::seconds(10));
    ASSERT_TRUE(post.SendRequest("POST", "/mcp",
                                 R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow","_meta":{"progressToken":"p"}}})",
                                 PostHeaders(session)));
    HttpResult head = post.ReadHead();
    ASSERT_EQ(head.status, 200);
    ASSERT_NE(head.Header("content-type").find("text/event-stream"), std::string::npos);
    std::optional<SseEvent> priming = ReadEvent(post);
    ASSERT_TRUE(priming);
    EXPECT_TRUE(priming->data.empty());
    EXPECT_FALSE(priming->retry.empty());
    std::optional<SseEvent> first = ReadEvent(post);
    ASSERT_TRUE(first);
    EXPECT_EQ(json::parse(first->data).at("params").at("data").as_string(), "first");
    id = first->id;
    EXPECT_EQ(id.substr(id.find('-')), "-1");
    EXPECT_NE(id.substr(0, 2), "0-");  // a POST stream, not the standalone one
  }  // the connection drops while the call still runs
  record_->gate.Open();
  HttpConnection resumed = OpenGet(session, id);
  std::optional<SseEvent> priming = ReadEvent(resumed);
  std::optional<SseEvent> second = ReadEvent(resumed);
  std::optional<SseEvent> answer = ReadEvent(resumed);
  ASSERT_TRUE(priming && second && answer);
  EXPECT_EQ(json::parse(second->data).at("params").at("data").as_string(), "second");
  json::value response = json::parse(answer->data);
  EXPECT_EQ(response.at("id").as_int64(), 7);
  EXPECT_EQ(response.at("result").at("content").at(0).at("text").as_string(), "done");
  EXPECT_FALSE(ReadEvent(resumed));  // the stream ends with the response
  EXPECT_TRUE(resumed.stream_ended());
}

TEST_F(McpHttpSessionTest, NotificationsDuringARequestMakeItAnSseAnswer) {
  Start();
  std::string session = OpenSession();
  record_->gate.Open();
  HttpResult r = conn_.Request("POST", "/mcp", R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"slow"}})", PostHeaders(session));
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.Header("content-type").find("text/event-stream"), std::string::npos);
  std::size_t first = r.body.find("\"first\"");
  std::size_t second = r.body.find("\"second\"");
  std::size_t done = r.body.find("\"done\"");
  EXPECT_TRUE(first < second && second < done) << r.body;
  EXPECT_NE(r.body.find("id: 1-3"), std::string::npos) << r.body;
  // A request that sends nothing else is plain JSON.
  HttpResult ping = conn_.Request("POST", "/mcp", R"({"jsonrpc":"2.0","id":4,"method":"ping"})", PostHeaders(session));
  EXPECT_NE(ping.Header("content-type").find("application/json"), std::string::npos);
}

TEST_F(McpHttpSessionTest, DeleteClosesTheHandlerAndEndsItsStreams) {
  Start();
  std::string session = OpenSession();
  HttpConnection get = OpenGet(session);
  NotifierPtr notifier = Notifier();
  EXPECT_TRUE(notifier->alive());
  EXPECT_EQ(conn_.Request("DELETE", "/mcp", "", {{"Mcp-Session-Id", session}}).status, 200);
  EXPECT_EQ(record_->closed.load(), 1);
  EXPECT_FALSE(ReadEvent(get));
  EXPECT_TRUE(get.stream_ended());
  EXPECT_FALSE(notifier->alive());
  EXPECT_FALSE(notifier->Notify(ListChangedNotification()));
  EXPECT_EQ(conn_.Request("POST", "/mcp", R"({"jsonrpc":"2.0","id":2,"method":"ping"})", PostHeaders(session)).status, 404);
  EXPECT_EQ(conn_.Request("GET", "/mcp", "", GetHeaders(session)).status, 404);
  EXPECT_EQ(record_->closed.load(), 1);  // exactly once
}

TEST_F(McpHttpSessionTest, ExpiredSessionHandlerIsClosed) {
  auto now = std::make_shared<std::atomic<std::int64_t>>(0);
  StreamableHttpOptions options;
  options.session_idle_ttl = std::chrono::seconds(60);
  options.clock = [now] { return std::chrono::steady_clock::time_point(std::chrono::seconds(now->load())); };
  Start(options);
  std::string a = OpenSession();
  std::string b = OpenSession();
  now->store(61);
  EXPECT_EQ(http_->SessionCount(), 0u);
  EXPECT_EQ(record_->closed.load(), 2);
  EXPECT_EQ(conn_.Request("POST", "/mcp", R"({"jsonrpc":"2.0","id":2,"method":"ping"})", PostHeaders(a)).status, 404);
}

TEST_F(McpHttpSessionTest, StopClosesEveryHandler) {
  Start();
  OpenSession();
  OpenSession();
  http_->Stop();
  EXPECT_EQ(record_->closed.load(), 2);
  http_->Stop();
  EXPECT_EQ(record_->closed.load(), 2);
}

// The static Server through the factory path: a tool asks the client for sampling; the request
// travels on the GET stream and the client's POSTed response completes the call.
TEST(McpHttpServerSession, ToolRequestsSamplingOverTheGetStream) {
  ServerPtr server = Server::Make({.name = "sampler"});
  ASSERT_TRUE(server
                  ->AddTool(Tool{.name = "ask",
                                 .description = "asks the client's model",
                                 .handler = [](const json::object&, const ToolContext& ctx) -> Result<ToolResult> {
                                   Result<json::value> r = ctx.RequestClient("sampling/createMessage", json::object{{"maxTokens", 5}});
                                   if (!r.ok()) return r.status();
                                   return ToolResult::Text("model said " + std::string(r->at("content").at("text").as_string()));
                                 }})
                  .ok());
  auto http = StreamableHttpServer::Make(MakeServerSessionFactory(*server), {});
  ASSERT_TRUE(http.ok());
  ASSERT_TRUE((*http)->Start("127.0.0.1", 0).ok());
  HttpConnection conn((*http)->port());
  Headers post{{"Accept", "application/json, text/event-stream"}, {"Content-Type", "application/json"}};
  HttpResult init = conn.Request("POST", "/mcp", InitializeBody("2025-06-18"), post);
  ASSERT_EQ(init.status, 200);
  std::string session = init.Header("mcp-session-id");
  post.emplace_back("Mcp-Session-Id", session);

  HttpConnection get((*http)->port());
  ASSERT_TRUE(get.SendRequest("GET", "/mcp", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}}));
  ASSERT_EQ(get.ReadHead().status, 200);
  HttpConnection call((*http)->port());
  ASSERT_TRUE(call.SendRequest("POST", "/mcp", R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"ask"}})", post));
  std::optional<SseEvent> request = ReadEvent(get);
  ASSERT_TRUE(request);
  json::value sampling = json::parse(request->data);
  EXPECT_EQ(sampling.at("method").as_string(), "sampling/createMessage");
  json::value reply = jsonrpc::MakeResponse(sampling.at("id"), json::object{{"role", "assistant"},
                                                                            {"content", json::object{{"type", "text"}, {"text", "hi"}}},
                                                                            {"model", "m"}});
  EXPECT_EQ(conn.Request("POST", "/mcp", json::serialize(reply), post).status, 202);
  HttpResult answer = call.ReadResponse();
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(json::parse(answer.body).at("result").at("content").at(0).at("text").as_string(), "model said hi");
  (*http)->Stop();
}

// Server features the conformance suite exercises: logging, completion, templates, subscriptions.
TEST(McpServerFeatures, LoggingCompletionTemplatesAndSubscriptions) {
  ServerPtr server = Server::Make({});
  ASSERT_TRUE(server
                  ->AddTool(Tool{.name = "logs",
                                 .handler = [](const json::object&, const ToolContext& ctx) -> Result<ToolResult> {
                                   ctx.Log("debug", "fine detail");
                                   ctx.Log("error", "bad thing", "core");
                                   return ToolResult::Text("ok");
                                 }})
                  .ok());
  ASSERT_TRUE(server
                  ->AddResourceTemplate(ResourceTemplate{
                      .uri_template = "test://items/{id}/data",
                      .name = "items",
                      .reader = [](const std::string& uri) -> Result<std::vector<ResourceContents>> {
                        return std::vector<ResourceContents>{ResourceContents{.uri = uri, .text = MatchUriTemplate("test://items/{id}/data", uri)->at("id")}};
                      }})
                  .ok());
  SessionState state;
  auto call = [&](const std::string& text, const MessageSink& sink = nullptr) {
    jsonrpc::ParseResult p = jsonrpc::ParseMessage(text);
    EXPECT_TRUE(p.ok()) << text;
    return server->Handle(*p.message, state, sink).value_or(json::value());
  };
  json::value init = call(InitializeBody("2025-11-25"));
  const json::object& caps = init.at("result").at("capabilities").as_object();
  EXPECT_TRUE(caps.contains("logging"));
  EXPECT_TRUE(caps.contains("completions"));
  EXPECT_TRUE(caps.at("resources").at("subscribe").as_bool());

  std::vector<json::value> logs;
  MessageSink sink = [&](json::value m) { logs.push_back(std::move(m)); };
  call(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"logs"}})", sink);
  ASSERT_EQ(logs.size(), 1u);  // default level info: debug is filtered
  EXPECT_EQ(logs[0].at("params").at("level").as_string(), "error");
  EXPECT_EQ(logs[0].at("params").at("logger").as_string(), "core");
  EXPECT_TRUE(call(R"({"jsonrpc":"2.0","id":3,"method":"logging/setLevel","params":{"level":"debug"}})").at("result").as_object().empty());
  logs.clear();
  call(R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"logs"}})", sink);
  EXPECT_EQ(logs.size(), 2u);
  EXPECT_EQ(call(R"({"jsonrpc":"2.0","id":5,"method":"logging/setLevel","params":{"level":"loud"}})").at("error").at("code").as_int64(), -32602);

  json::value completion = call(R"({"jsonrpc":"2.0","id":6,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"x"}}})");
  EXPECT_TRUE(completion.at("result").at("completion").at("values").as_array().empty());

  json::value templates = call(R"({"jsonrpc":"2.0","id":7,"method":"resources/templates/list"})");
  EXPECT_EQ(templates.at("result").at("resourceTemplates").at(0).at("uriTemplate").as_string(), "test://items/{id}/data");
  json::value read = call(R"({"jsonrpc":"2.0","id":8,"method":"resources/read","params":{"uri":"test://items/42/data"}})");
  EXPECT_EQ(read.at("result").at("contents").at(0).at("text").as_string(), "42");
  EXPECT_EQ(call(R"({"jsonrpc":"2.0","id":9,"method":"resources/read","params":{"uri":"test://items/4/2/data"}})").at("error").at("code").as_int64(),
            kResourceNotFound);

  EXPECT_TRUE(call(R"({"jsonrpc":"2.0","id":10,"method":"resources/subscribe","params":{"uri":"test://items/1/data"}})").at("result").as_object().empty());
  EXPECT_EQ(state.subscriptions, (std::vector<std::string>{"test://items/1/data"}));
  call(R"({"jsonrpc":"2.0","id":11,"method":"resources/unsubscribe","params":{"uri":"test://items/1/data"}})");
  EXPECT_TRUE(state.subscriptions.empty());
}

TEST(McpServerFeatures, UriTemplateMatching) {
  auto m = MatchUriTemplate("a://x/{id}/y{n}", "a://x/12/y7");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("id"), "12");
  EXPECT_EQ(m->at("n"), "7");
  EXPECT_FALSE(MatchUriTemplate("a://x/{id}", "a://x/"));
  EXPECT_FALSE(MatchUriTemplate("a://x/{id}", "a://x/1/2"));
  EXPECT_FALSE(MatchUriTemplate("a://x/{id}", "b://x/1"));
}

}  // namespace
}  // namespace tuna::mcp
