// The Streamable HTTP transport over a real server on 127.0.0.1:0, one test per rule.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include <boost/json.hpp>

#include "mcp/fixture_server.hpp"
#include "support/http_client.hpp"
#include "tuna/mcp/streamable_http.hpp"

namespace tuna::mcp {
namespace {
namespace json = boost::json;
using tuna::testing::HttpConnection;
using tuna::testing::HttpResult;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kInitialize =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})";

class McpStreamableHttpTest : public ::testing::Test {
 protected:
  void Start(StreamableHttpOptions options = {}) {
    server_ = testing::MakeFixtureServer();
    ASSERT_TRUE(server_);
    auto http = StreamableHttpServer::Make(*server_, std::move(options));
    ASSERT_TRUE(http.ok()) << http.status().ToString();
    http_ = std::move(http).value();
    ASSERT_TRUE(http_->Start("127.0.0.1", 0).ok());
    conn_ = HttpConnection(http_->port());
  }
  void TearDown() override {
    if (http_) http_->Stop();
  }

  static Headers PostHeaders(const std::string& session = {}, const std::string& version = {}) {
    Headers h{{"Accept", "application/json, text/event-stream"}, {"Content-Type", "application/json"}};
    if (!session.empty()) h.emplace_back("Mcp-Session-Id", session);
    if (!version.empty()) h.emplace_back("MCP-Protocol-Version", version);
    return h;
  }

  HttpResult Post(const std::string& body, const Headers& headers) { return conn_.Request("POST", "/mcp", body, headers); }

  // initialize + notifications/initialized; returns the session id.
  std::string OpenSession() {
    HttpResult r = Post(kInitialize, PostHeaders());
    EXPECT_EQ(r.status, 200) << r.body;
    std::string session = r.Header("mcp-session-id");
    EXPECT_FALSE(session.empty());
    HttpResult n = Post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", PostHeaders(session, "2025-06-18"));
    EXPECT_EQ(n.status, 202);
    return session;
  }

  static int JsonRpcCode(const HttpResult& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("error")) return 0;
    return static_cast<int>(v.at("error").at("code").as_int64());
  }

  ServerPtr server_;
  StreamableHttpServerPtr http_;
  HttpConnection conn_;
};

TEST_F(McpStreamableHttpTest, InitializeIssuesSessionId) {
  Start();
  HttpResult r = Post(kInitialize, PostHeaders());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.Header("content-type").find("application/json"), std::string::npos);
  std::string session = r.Header("mcp-session-id");
  EXPECT_EQ(session.size(), 32u);
  for (char c : session) EXPECT_TRUE(c > 0x20 && c < 0x7f);  // visible ASCII, as the spec requires
  json::value body = json::parse(r.body);
  EXPECT_EQ(body.at("id").as_int64(), 1);
  EXPECT_EQ(body.at("result").at("protocolVersion").as_string(), "2025-06-18");
  EXPECT_EQ(http_->SessionCount(), 1u);
  // A second initialize gets a different session.
  HttpResult r2 = Post(kInitialize, PostHeaders());
  EXPECT_NE(r2.Header("mcp-session-id"), session);
  EXPECT_EQ(http_->SessionCount(), 2u);
}

TEST_F(McpStreamableHttpTest, NotificationGets202WithoutBody) {
  Start();
  std::string session = OpenSession();
  HttpResult r = Post(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}})", PostHeaders(session, "2025-06-18"));
  EXPECT_EQ(r.status, 202);
  EXPECT_TRUE(r.body.empty());
}

TEST_F(McpStreamableHttpTest, ResponseGets202WithoutBody) {
  Start();
  std::string session = OpenSession();
  HttpResult r = Post(R"({"jsonrpc":"2.0","id":"srv-1","result":{}})", PostHeaders(session, "2025-06-18"));
  EXPECT_EQ(r.status, 202);
  EXPECT_TRUE(r.body.empty());
}

TEST_F(McpStreamableHttpTest, RequestGetsJsonResponse) {
  Start();
  std::string session = OpenSession();
  HttpResult r = Post(R"({"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"echo","arguments":{"text":"over http"}}})",
                      PostHeaders(session, "2025-06-18"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.Header("content-type").find("application/json"), std::string::npos);
  json::value body = json::parse(r.body);
  EXPECT_EQ(body.at("id").as_string(), "c1");
  EXPECT_EQ(body.at("result").at("content").at(0).at("text").as_string(), "over http");
  // The version header is optional after initialize: the session's version applies.
  HttpResult list = Post(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", PostHeaders(session));
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(json::parse(list.body).at("result").at("tools").as_array().size(), 4u);
}

TEST_F(McpStreamableHttpTest, ToolCallWithProgressTokenStreamsSse) {
  Start();
  std::string session = OpenSession();
  HttpResult r = Post(R"({"jsonrpc":"2.0","id":"s1","method":"tools/call","params":{"name":"count","arguments":{"n":3},"_meta":{"progressToken":7}}})",
                      PostHeaders(session, "2025-06-18"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.Header("content-type").find("text/event-stream"), std::string::npos);
  std::vector<json::value> events;
  std::size_t pos = 0;
  while ((pos = r.body.find("data: ", pos)) != std::string::npos) {
    std::size_t end = r.body.find('\n', pos);
    events.push_back(json::parse(r.body.substr(pos + 6, end - pos - 6)));
    pos = end;
  }
  ASSERT_EQ(events.size(), 4u) << r.body;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(events[i].at("method").as_string(), "notifications/progress");
    EXPECT_EQ(events[i].at("params").at("progressToken").as_int64(), 7);
    EXPECT_EQ(events[i].at("params").at("progress").as_double(), i + 1.0);
  }
  EXPECT_EQ(events[3].at("id").as_string(), "s1");  // the stream ends with the response
  EXPECT_EQ(events[3].at("result").at("content").at(0).at("text").as_string(), "counted 3 with progress");
  // The connection is reusable after the stream.
  EXPECT_EQ(Post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", PostHeaders(session)).status, 200);
}

TEST_F(McpStreamableHttpTest, MissingSessionIs400) {
  Start();
  OpenSession();
  HttpResult r = Post(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", PostHeaders("", "2025-06-18"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(JsonRpcCode(r), 0) << r.body;
}

TEST_F(McpStreamableHttpTest, UnknownSessionIs404) {
  Start();
  OpenSession();
  HttpResult r = Post(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", PostHeaders("0123456789abcdef0123456789abcdef", "2025-06-18"));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(JsonRpcCode(r), 0) << r.body;
}

TEST_F(McpStreamableHttpTest, UnsupportedProtocolVersionIs400) {
  Start();
  std::string session = OpenSession();
  HttpResult r = Post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", PostHeaders(session, "2024-11-05"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("MCP-Protocol-Version"), std::string::npos) << r.body;
  // A supported revision that is not the session's own is refused too.
  HttpResult other = Post(R"({"jsonrpc":"2.0","id":3,"method":"ping"})", PostHeaders(session, "2025-11-25"));
  EXPECT_EQ(other.status, 400);
  HttpResult good = Post(R"({"jsonrpc":"2.0","id":4,"method":"ping"})", PostHeaders(session, "2025-06-18"));
  EXPECT_EQ(good.status, 200);
}

TEST_F(McpStreamableHttpTest, GarbageIs400WithParseError) {
  Start();
  HttpResult r = Post("this is {not json", PostHeaders());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.Header("content-type").find("application/json"), std::string::npos);
  EXPECT_EQ(JsonRpcCode(r), -32700) << r.body;
  EXPECT_TRUE(json::parse(r.body).at("id").is_null());
}

TEST_F(McpStreamableHttpTest, BatchIs400InvalidRequest) {
  Start();
  std::string session = OpenSession();
  HttpResult r = Post(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", PostHeaders(session, "2025-06-18"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(JsonRpcCode(r), -32600) << r.body;
}

TEST_F(McpStreamableHttpTest, WrongAcceptIs406) {
  Start();
  for (const char* accept : {"application/json", "text/event-stream", "text/html", ""}) {
    Headers h{{"Content-Type", "application/json"}};
    if (*accept) h.emplace_back("Accept", accept);
    HttpResult r = Post(kInitialize, h);
    EXPECT_EQ(r.status, 406) << accept;
  }
  EXPECT_EQ(http_->SessionCount(), 0u);
  // Wildcards and parameters are understood.
  HttpResult ok = Post(kInitialize, {{"Content-Type", "application/json"}, {"Accept", "application/json;q=0.9, text/*"}});
  EXPECT_EQ(ok.status, 200);
}

TEST_F(McpStreamableHttpTest, WrongContentTypeIs415) {
  Start();
  HttpResult r = Post(kInitialize, {{"Accept", "application/json, text/event-stream"}, {"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 415);
}

TEST_F(McpStreamableHttpTest, BadOriginIs403) {
  Start();
  Headers h = PostHeaders();
  h.emplace_back("Origin", "http://evil.example");
  HttpResult r = Post(kInitialize, h);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(http_->SessionCount(), 0u);
  Headers local = PostHeaders();
  local.emplace_back("Origin", "http://localhost:5173");
  EXPECT_EQ(Post(kInitialize, local).status, 200);
  // A look-alike host is not localhost.
  Headers lookalike = PostHeaders();
  lookalike.emplace_back("Origin", "http://localhost.evil.example");
  EXPECT_EQ(Post(kInitialize, lookalike).status, 403);
}

TEST_F(McpStreamableHttpTest, NonLocalHostIs403ByDefault) {
  Start();
  std::string body = kInitialize;
  auto raw = [&](const std::string& host) {
    HttpConnection conn(http_->port());
    conn.SendRaw("POST /mcp HTTP/1.1\r\nHost: " + host +
                 "\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body);
    return conn.ReadResponse().status;
  };
  EXPECT_EQ(raw("rebind.evil.example"), 403);
  EXPECT_EQ(raw("rebind.evil.example:" + std::to_string(http_->port())), 403);
  EXPECT_EQ(raw("localhost:" + std::to_string(http_->port())), 200);
  EXPECT_EQ(raw("[::1]:" + std::to_string(http_->port())), 200);
}

TEST_F(McpStreamableHttpTest, HostAllowlist) {
  StreamableHttpOptions options;
  options.allowed_hosts = {"mcp.example.com"};
  Start(options);
  std::string body = kInitialize;
  auto raw = [&](const std::string& host) {
    HttpConnection conn(http_->port());
    conn.SendRaw("POST /mcp HTTP/1.1\r\nHost: " + host +
                 "\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body);
    return conn.ReadResponse().status;
  };
  EXPECT_EQ(raw("MCP.example.com:443"), 200);
  EXPECT_EQ(raw("127.0.0.1"), 403);  // not listed
}

TEST_F(McpStreamableHttpTest, OriginAllowlist) {
  StreamableHttpOptions options;
  options.allowed_origins = {"https://app.example.com"};
  Start(options);
  Headers good = PostHeaders();
  good.emplace_back("Origin", "https://APP.example.com");
  EXPECT_EQ(Post(kInitialize, good).status, 200);
  Headers local = PostHeaders();
  local.emplace_back("Origin", "http://localhost:3000");  // not listed, so refused
  EXPECT_EQ(Post(kInitialize, local).status, 403);
}

TEST_F(McpStreamableHttpTest, DeleteEndsSessionThen404) {
  Start();
  std::string session = OpenSession();
  HttpResult d = conn_.Request("DELETE", "/mcp", "", {{"Mcp-Session-Id", session}});
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(http_->SessionCount(), 0u);
  HttpResult r = Post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", PostHeaders(session, "2025-06-18"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(conn_.Request("DELETE", "/mcp", "", {{"Mcp-Session-Id", session}}).status, 404);
  EXPECT_EQ(conn_.Request("DELETE", "/mcp").status, 400);
}

TEST_F(McpStreamableHttpTest, GetIs405AndOtherPathsAre404) {
  Start();
  HttpResult g = conn_.Request("GET", "/mcp", "", {{"Accept", "text/event-stream"}});
  EXPECT_EQ(g.status, 405);
  EXPECT_NE(g.Header("allow").find("POST"), std::string::npos);
  EXPECT_EQ(conn_.Request("PUT", "/mcp").status, 405);
  EXPECT_EQ(conn_.Request("POST", "/other", kInitialize, PostHeaders()).status, 404);
}

TEST_F(McpStreamableHttpTest, IdleSessionsExpire) {
  auto now = std::make_shared<std::atomic<std::int64_t>>(0);  // fake clock, in seconds
  StreamableHttpOptions options;
  options.session_idle_ttl = std::chrono::seconds(60);
  options.clock = [now] { return std::chrono::steady_clock::time_point(std::chrono::seconds(now->load())); };
  Start(options);
  std::string session = OpenSession();
  now->store(59);
  EXPECT_EQ(Post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", PostHeaders(session)).status, 200);  // refreshes
  now->store(118);
  EXPECT_EQ(Post(R"({"jsonrpc":"2.0","id":3,"method":"ping"})", PostHeaders(session)).status, 200);
  now->store(178);
  EXPECT_EQ(Post(R"({"jsonrpc":"2.0","id":4,"method":"ping"})", PostHeaders(session)).status, 404);
  EXPECT_EQ(http_->SessionCount(), 0u);
}

TEST_F(McpStreamableHttpTest, SessionCountIsBounded) {
  auto now = std::make_shared<std::atomic<std::int64_t>>(0);
  StreamableHttpOptions options;
  options.max_sessions = 2;
  options.session_idle_ttl = std::chrono::seconds(60);
  options.clock = [now] { return std::chrono::steady_clock::time_point(std::chrono::seconds(now->load())); };
  Start(options);
  EXPECT_EQ(Post(kInitialize, PostHeaders()).status, 200);
  EXPECT_EQ(Post(kInitialize, PostHeaders()).status, 200);
  EXPECT_EQ(Post(kInitialize, PostHeaders()).status, 503);
  EXPECT_EQ(http_->SessionCount(), 2u);
  now->store(61);  // both idle past the TTL: room again
  EXPECT_EQ(Post(kInitialize, PostHeaders()).status, 200);
  EXPECT_EQ(http_->SessionCount(), 1u);
}

TEST_F(McpStreamableHttpTest, TransportErrorsHaveJsonRpcBodies) {
  server_ = testing::MakeFixtureServer();
  auto http = StreamableHttpServer::Make(*server_, {}, HttpListenOptions{.max_body_bytes = 64});
  ASSERT_TRUE(http.ok());
  http_ = std::move(http).value();
  ASSERT_TRUE(http_->Start("127.0.0.1", 0).ok());
  HttpConnection conn(http_->port());
  HttpResult r = conn.Request("POST", "/mcp", kInitialize, PostHeaders());  // longer than 64 bytes
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(JsonRpcCode(r), 0) << r.body;
}

TEST_F(McpStreamableHttpTest, MakeValidatesOptions) {
  auto server = testing::MakeFixtureServer();
  StreamableHttpOptions bad_path;
  bad_path.path = "mcp";
  EXPECT_FALSE(StreamableHttpServer::Make(*server, bad_path).ok());
  StreamableHttpOptions bad_count;
  bad_count.max_sessions = 0;
  EXPECT_FALSE(StreamableHttpServer::Make(*server, bad_count).ok());
}

}  // namespace
}  // namespace tuna::mcp
