// The A2A HTTP binding and the A2A client, over real sockets on 127.0.0.1:0.

#include <gtest/gtest.h>

#include <thread>

#include <boost/json.hpp>

#include "a2a/test_store.hpp"
#include "a2a/http_handler.hpp"
#include "a2a/test_agent.hpp"
#include "support/http_client.hpp"
#include "tuna/a2a/client.hpp"
#include "tuna/a2a/http_server.hpp"

namespace tuna::a2a {
namespace {

using tuna::testing::HttpConnection;
using tuna::testing::HttpResult;

class A2aHttpTest : public ::testing::Test {
 protected:
  void Start(HttpOptions http_options = {}, ServerOptions options = {}) {
    options.card = A2aTestCard();
    auto server = Server::Make(agent_, *store_, options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    auto http = HttpServer::Make(*server_, std::move(http_options));
    ASSERT_TRUE(http.ok()) << http.status().ToString();
    http_ = std::move(*http);
    ASSERT_TRUE(http_->Start("127.0.0.1", 0).ok());
    base_ = "http://127.0.0.1:" + std::to_string(http_->port());
  }
  void TearDown() override {
    agent_.Release();
    if (http_) http_->Stop();
  }

  HttpResult Post(const std::string& body, std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpConnection conn(http_->port());
    if (headers.empty()) headers = {{"Content-Type", "application/json"}};
    return conn.Request("POST", "/", body, headers);
  }

  static int Code(const HttpResult& r) {
    json::value v = json::parse(r.body);
    const auto* e = v.as_object().if_contains("error");
    return e ? static_cast<int>(e->at("code").as_int64()) : 0;
  }

  ClientPtr Connect(std::optional<Version> version = std::nullopt) {
    ClientOptions options;
    options.version = version;
    auto c = Client::Connect(base_, options);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  A2aTestStore store_;
  A2aTestAgent agent_;
  ServerPtr server_;
  HttpServerPtr http_;
  std::string base_;
};

TEST_F(A2aHttpTest, AgentCardAtBothWellKnownPaths) {
  Start();
  for (const char* path : {"/.well-known/agent-card.json", "/.well-known/agent.json"}) {
    HttpConnection conn(http_->port());
    HttpResult r = conn.Request("GET", path);
    ASSERT_EQ(r.status, 200) << path << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/json");
    json::value card = json::parse(r.body);
    EXPECT_EQ(card.at("name"), "test-agent");
    // The endpoint URL comes from the Host header (this test client sends "127.0.0.1").
    EXPECT_EQ(card.at("supportedInterfaces").as_array()[0].at("url"), "http://127.0.0.1/");
    EXPECT_EQ(card.at("url"), "http://127.0.0.1/");
  }
  // curl sends host:port, so a client finds the endpoint it connected to.
  ClientPtr client = Connect();
  ASSERT_TRUE(client);
  EXPECT_EQ(client->endpoint(), base_ + "/");
}

TEST_F(A2aHttpTest, PublicUrlAndMountedHandlerRewriteTheCard) {
  HttpOptions options;
  options.public_url = "https://agents.example.com/team/echo";
  Start(options);
  HttpConnection conn(http_->port());
  json::value card = json::parse(conn.Request("GET", "/.well-known/agent-card.json").body);
  EXPECT_EQ(card.at("supportedInterfaces").as_array()[0].at("url"), "https://agents.example.com/team/echo");

  // Mounted by a gateway: its own path and a per-request public URL.
  HttpBinding binding(*server_, {});
  net::HttpRequest req;
  req.method = "GET";
  req.path = "/gateway/agents/echo/.well-known/agent-card.json";
  req.headers = {{"Host", "localhost:9000"}};
  net::HttpResponse res = binding.HandleAt(req, kCardPath, "https://gw.example.com/agents/echo");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(json::parse(res.body).at("url"), "https://gw.example.com/agents/echo");
  net::HttpRequest rpc;
  rpc.method = "POST";
  rpc.headers = {{"Host", "localhost"}, {"Content-Type", "application/json"}};
  rpc.body = R"({"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"nope"}})";
  net::HttpResponse rr = binding.HandleAt(rpc, "/", {});
  EXPECT_EQ(json::parse(rr.body).at("error").at("code"), kTaskNotFound);
}

TEST_F(A2aHttpTest, TransportErrors) {
  HttpOptions options;
  options.max_body_bytes = 2048;
  Start(options);
  HttpResult wrong_type = Post("{}", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(wrong_type.status, 415);
  EXPECT_EQ(Code(wrong_type), kContentTypeNotSupported);
  HttpResult garbage = Post("{not json");
  EXPECT_EQ(garbage.status, 400);
  EXPECT_EQ(Code(garbage), jsonrpc::kParseError);
  HttpResult batch = Post("[]");
  EXPECT_EQ(Code(batch), jsonrpc::kInvalidRequest);
  HttpResult big = Post(R"({"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":")" + std::string(4096, 'x') + "\"}}");
  EXPECT_EQ(big.status, 413);
  HttpConnection conn(http_->port());
  HttpResult get = conn.Request("GET", "/");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.Header("allow"), "POST");
  EXPECT_EQ(conn.Request("GET", "/elsewhere").status, 404);
  HttpResult evil_origin = Post(R"({"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}})",
                                {{"Content-Type", "application/json"}, {"Origin", "https://evil.example"}});
  EXPECT_EQ(evil_origin.status, 403);
  HttpResult local_origin = Post(R"({"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}})",
                                 {{"Content-Type", "application/json"}, {"Origin", "http://localhost:3000"}});
  EXPECT_EQ(local_origin.status, 200);
  EXPECT_EQ(Code(local_origin), kTaskNotFound);
  HttpConnection rebound(http_->port());
  ASSERT_TRUE(rebound.SendRaw("POST / HTTP/1.1\r\nHost: evil.example\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"));
  EXPECT_EQ(rebound.ReadResponse().status, 403);
  HttpResult a2a_json = Post(R"({"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}})",
                             {{"Content-Type", "application/a2a+json"}, {"A2A-Version", "1.0"}});
  EXPECT_EQ(Code(a2a_json), kTaskNotFound);
  HttpResult bad_version = Post(R"({"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}})",
                                {{"Content-Type", "application/json"}, {"A2A-Version", "9.9"}});
  EXPECT_EQ(Code(bad_version), kVersionNotSupported);
}

TEST_F(A2aHttpTest, SseEventsCarryTheRequestId) {
  Start();
  HttpConnection conn(http_->port());
  std::string body = R"({"jsonrpc":"2.0","id":"abc","method":"SendStreamingMessage","params":{"message":)" +
                     json::serialize(ToJson(Message::Text(Role::kUser, "chunks"), Version::kV1_0)) + "}}";
  ASSERT_TRUE(conn.SendRequest("POST", "/", body, {{"Content-Type", "application/json"}, {"Accept", "text/event-stream"}}));
  HttpResult head = conn.ReadHead();
  ASSERT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-type"), "text/event-stream");
  std::vector<json::value> events;
  while (auto line = conn.ReadLine()) {
    if (line->rfind("data: ", 0) == 0) events.push_back(json::parse(line->substr(6)));
  }
  EXPECT_TRUE(conn.stream_ended());
  ASSERT_EQ(events.size(), 6u);
  for (const auto& e : events) EXPECT_EQ(e.at("id"), "abc");
  EXPECT_EQ(events.back().at("result").at("statusUpdate").at("status").at("state"), "TASK_STATE_COMPLETED");
}

TEST_F(A2aHttpTest, ClientPicks1_0AndRunsEveryCall) {
  Start();
  ClientPtr client = Connect();
  ASSERT_TRUE(client);
  EXPECT_EQ(client->version(), Version::kV1_0);
  ASSERT_TRUE(client->card().has_value());
  EXPECT_EQ(client->card()->name, "test-agent");

  CallOptions call;
  call.headers = {{"X-Request-Id", "req-123"}, {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}};
  auto sent = client->SendMessage(Message::Text(Role::kUser, "echo one"), {}, call);
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  ASSERT_TRUE(std::holds_alternative<Task>(*sent));
  const Task& task = std::get<Task>(*sent);
  EXPECT_EQ(task.status.state, TaskState::kCompleted);
  ASSERT_TRUE(task.status.message.has_value());
  EXPECT_EQ(task.status.message->AllText(), "echo: one");

  auto direct = client->SendMessage(Message::Text(Role::kUser, "direct straight"));
  ASSERT_TRUE(direct.ok());
  ASSERT_TRUE(std::holds_alternative<Message>(*direct));
  EXPECT_EQ(std::get<Message>(*direct).AllText(), "straight");

  auto got = client->GetTask(task.id, 1);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->history.size(), 1u);
  auto missing = client->GetTask("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(RpcErrorCode(missing.status()), kTaskNotFound);

  std::vector<std::string> kinds;
  Status streamed = client->SendStreamingMessage(Message::Text(Role::kUser, "chunks"), [&](const StreamEvent& e) {
    kinds.push_back(e.index() == 0 ? "task" : e.index() == 1 ? "message" : e.index() == 2 ? "status" : "artifact");
    return true;
  });
  ASSERT_TRUE(streamed.ok()) << streamed.ToString();
  EXPECT_EQ(kinds, (std::vector<std::string>{"task", "status", "artifact", "artifact", "artifact", "status"}));

  auto list = client->ListTasks({});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->tasks.size(), 2u);
}

TEST_F(A2aHttpTest, ClientCancelSubscribeAndStreamCancellation) {
  Start();
  ClientPtr client = Connect();
  ASSERT_TRUE(client);
  SendOptions non_blocking;
  non_blocking.blocking = false;
  auto started = client->SendMessage(Message::Text(Role::kUser, "wait"), non_blocking);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::string id = std::get<Task>(*started).id;
  ASSERT_TRUE(agent_.WaitStarted(1));
  auto canceled = client->CancelTask(id);
  ASSERT_TRUE(canceled.ok()) << canceled.status().ToString();
  EXPECT_EQ(canceled->status.state, TaskState::kCanceled);
  auto again = client->CancelTask(id);
  EXPECT_EQ(RpcErrorCode(again.status()), kTaskNotCancelable);

  // Subscribe to a slow task, then let it finish.
  auto slow = client->SendMessage(Message::Text(Role::kUser, "slow"), non_blocking);
  ASSERT_TRUE(slow.ok());
  std::string slow_id = std::get<Task>(*slow).id;
  ASSERT_TRUE(agent_.WaitStarted(2));
  std::vector<TaskState> states;
  std::thread releaser;
  Status sub = client->SubscribeToTask(slow_id, [&](const StreamEvent& e) {
    if (const auto* t = std::get_if<Task>(&e)) {
      states.push_back(t->status.state);
      releaser = std::thread([this] { agent_.Release(); });
    }
    if (const auto* s = std::get_if<TaskStatusUpdateEvent>(&e)) states.push_back(s->status.state);
    return true;
  });
  if (releaser.joinable()) releaser.join();
  ASSERT_TRUE(sub.ok()) << sub.ToString();
  EXPECT_EQ(states, (std::vector<TaskState>{TaskState::kWorking, TaskState::kCompleted}));

  // A stream the caller cancels from another thread ends with kCancelled.
  auto token = std::make_shared<CancellationToken>();
  CallOptions call;
  call.cancel = token;
  std::thread canceller;
  Status cut = client->SendStreamingMessage(
      Message::Text(Role::kUser, "wait"),
      [&](const StreamEvent&) {
        if (!canceller.joinable()) canceller = std::thread([token] { token->Cancel(); });
        return true;
      },
      {}, call);
  if (canceller.joinable()) canceller.join();
  EXPECT_EQ(cut.code(), StatusCode::kCancelled) << cut.ToString();
}

TEST_F(A2aHttpTest, ClientSpeaks0_3WhenAsked) {
  Start();
  ClientPtr client = Connect(Version::kV0_3);
  ASSERT_TRUE(client);
  EXPECT_EQ(client->version(), Version::kV0_3);
  auto first = client->SendMessage(Message::Text(Role::kUser, "ask"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const Task& t = std::get<Task>(*first);
  EXPECT_EQ(t.status.state, TaskState::kInputRequired);
  Message answer = Message::Text(Role::kUser, "Grace");
  answer.task_id = t.id;
  answer.context_id = t.context_id;
  auto second = client->SendMessage(answer);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(std::get<Task>(*second).status.message->AllText(), "hello Grace");
  int events = 0;
  bool saw_final = false;
  Status s = client->SendStreamingMessage(Message::Text(Role::kUser, "echo old"), [&](const StreamEvent& e) {
    ++events;
    if (const auto* u = std::get_if<TaskStatusUpdateEvent>(&e)) saw_final = saw_final || u->final;
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_GE(events, 3);
  EXPECT_TRUE(saw_final);
  EXPECT_EQ(client->ListTasks({}).status().code(), StatusCode::kUnimplemented);
  auto forced = Client::ForEndpoint(base_ + "/", Version::kV0_3);
  ASSERT_TRUE(forced.ok());
  auto got = (*forced)->GetTask(t.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->status.state, TaskState::kCompleted);
}

// SendMessage for a new task is answered from the I/O thread when the task settles (no worker
// thread waits): many slow calls at once, more than the HTTP worker threads, all complete; one
// that outlasts blocking_timeout is answered with the task as it is then.
TEST_F(A2aHttpTest, WaitingSendMessagesHoldNoWorkerThread) {
  ServerOptions options;
  options.blocking_timeout = std::chrono::milliseconds(400);
  HttpListenOptions listen;
  listen.worker_threads = 1;
  options.card = A2aTestCard();
  auto server = Server::Make(agent_, *store_, options);
  ASSERT_TRUE(server.ok());
  server_ = std::move(*server);
  auto http = HttpServer::Make(*server_, {}, listen);
  ASSERT_TRUE(http.ok());
  http_ = std::move(*http);
  ASSERT_TRUE(http_->Start("127.0.0.1", 0).ok());
  const std::string body = R"({"jsonrpc":"2.0","id":3,"method":"SendMessage","params":{"message":{"role":"ROLE_USER","messageId":"m","parts":[{"text":"slow"}]}}})";
  std::vector<std::thread> callers;
  std::vector<HttpResult> results(4);
  for (int i = 0; i < 4; ++i) callers.emplace_back([&, i] { results[i] = Post(body); });
  // While they wait, the single worker thread still answers other requests.
  ASSERT_TRUE(agent_.WaitStarted(4));
  HttpConnection conn(http_->port());
  EXPECT_EQ(conn.Request("GET", "/.well-known/agent-card.json").status, 200);
  for (auto& t : callers) t.join();
  for (const auto& r : results) {
    ASSERT_EQ(r.status, 200) << r.body;
    json::value v = json::parse(r.body);
    // Answered at blocking_timeout with the task still working, in the request's id and version.
    EXPECT_EQ(v.at("id"), 3);
    EXPECT_EQ(v.at("result").at("task").at("status").at("state"), "TASK_STATE_WORKING") << r.body;
    EXPECT_EQ(r.Header("a2a-version"), "1.0");
  }
  agent_.Release();
  // A quick one is answered when it completes, and a direct message as a message.
  HttpResult echo = Post(R"({"jsonrpc":"2.0","id":"e","method":"message/send","params":{"message":{"role":"user","messageId":"m2","kind":"message","parts":[{"kind":"text","text":"echo hi"}]}}})");
  ASSERT_EQ(echo.status, 200) << echo.body;
  EXPECT_EQ(json::parse(echo.body).at("result").at("status").at("state"), "completed") << echo.body;
  HttpResult direct = Post(R"({"jsonrpc":"2.0","id":4,"method":"SendMessage","params":{"message":{"role":"ROLE_USER","messageId":"m3","parts":[{"text":"direct hello"}]}}})");
  EXPECT_EQ(json::parse(direct.body).at("result").at("message").at("parts").as_array()[0].at("text"), "hello") << direct.body;
}

}  // namespace
}  // namespace tuna::a2a
