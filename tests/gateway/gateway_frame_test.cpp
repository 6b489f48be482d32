// The gateway's own checks, before any protocol: routes, Host/Origin, API keys and tenancy,
// rate limits, trace context. The endpoint behind it is a recording stub here; the protocols
// are tested through the real server in the other gateway tests.
#include <gtest/gtest.h>

#include "gateway/gateway.hpp"
#include "gateway/rate_limiter.hpp"

namespace tuna::gateway {
namespace {

class RecordingEndpoint final : public EndpointHandler {
 public:
  net::HttpResponse Handle(net::HttpRequest&, const Target& target, const auth::Principal& principal,
                           const std::string& base) override {
    last_target = target;
    last_principal = principal;
    last_base = base;
    ++calls;
    net::HttpResponse r;
    r.body = "{}";
    return r;
  }
  Target last_target;
  auth::Principal last_principal;
  std::string last_base;
  int calls = 0;
};

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 1;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

net::HttpRequest Req(const std::string& path, const std::string& token, std::vector<std::pair<std::string, std::string>> headers = {}) {
  net::HttpRequest r;
  r.method = "POST";
  r.path = r.target = path;
  r.segments = Split(path);
  r.headers = {{"Host", "127.0.0.1:7070"}};
  if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
  for (auto& h : headers) r.headers.push_back(std::move(h));
  r.request_id = "rid-1";
  return r;
}

TEST(GatewayRoutes, ParsesEveryEndpointKind) {
  auto a = ParseTarget(Split("/a2a/default/echo"));
  ASSERT_TRUE(a && a->ok());
  EXPECT_EQ((*a)->stage, "production");
  EXPECT_EQ((*a)->base_path, "/a2a/default/echo");
  auto s = ParseTarget(Split("/a2a/default/echo/staging/.well-known/agent-card.json"));
  ASSERT_TRUE(s && s->ok());
  EXPECT_EQ((*s)->stage, "staging");
  EXPECT_EQ((*s)->rest, ".well-known/agent-card.json");
  EXPECT_EQ((*s)->route, "/a2a/{namespace}/{agent}/{stage}/.well-known/agent-card.json");
  auto m = ParseTarget(Split("/mcp/team-a/servers/hello/staging"));
  ASSERT_TRUE(m && m->ok());
  EXPECT_EQ((*m)->kind, Target::Kind::kMcpServer);
  EXPECT_EQ((*m)->namespace_, "team-a");
  auto t = ParseTarget(Split("/mcp/default/tools/petstore"));
  ASSERT_TRUE(t && t->ok());
  EXPECT_EQ((*t)->kind, Target::Kind::kHttpTool);
  EXPECT_EQ((*t)->stage, "");
  auto f = ParseTarget(Split("/mcp/default/agents/echo"));
  ASSERT_TRUE(f && f->ok());
  EXPECT_EQ((*f)->kind, Target::Kind::kFederated);
  EXPECT_EQ((*f)->stage, "production");

  EXPECT_FALSE(ParseTarget(Split("/apis/tuna.ai")));
  for (const char* bad : {"/a2a/default", "/mcp/default/things/x", "/mcp/default/servers/x/staging/extra", "/a2a/Default/echo",
                          "/a2a/default/../echo", "/mcp/default/tools/petstore/staging"}) {
    auto r = ParseTarget(Split(bad));
    ASSERT_TRUE(r) << bad;
    EXPECT_FALSE(r->ok()) << bad;
  }
}

TEST(GatewayTrace, ChildKeepsTheTraceIdAndMakesANewSpan) {
  std::string in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  std::string child = ChildTraceparent(in);
  ASSERT_EQ(child.size(), 55u);
  EXPECT_EQ(child.substr(0, 36), in.substr(0, 36));
  EXPECT_NE(child.substr(36, 16), in.substr(36, 16));
  EXPECT_EQ(child.substr(52), "-01");
  for (const char* bad : {"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) {
    std::string fresh = ChildTraceparent(bad);
    ASSERT_EQ(fresh.size(), 55u) << bad;
    EXPECT_EQ(fresh.substr(0, 3), "00-");
    EXPECT_NE(fresh.substr(3, 32), std::string(32, '0'));
  }
}

TEST(GatewayRateLimiter, TokenBucketRefillsAtTheRate) {
  RateLimiter limiter;
  auto t0 = RateLimiter::Clock::now();
  auth::RateLimit limit{10, 3};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("k", limit, t0).count(), 0) << i;
  auto wait = limiter.Acquire("k", limit, t0);
  EXPECT_GT(wait.count(), 0);
  EXPECT_LE(wait.count(), 100);
  EXPECT_EQ(limiter.Acquire("k", limit, t0 + std::chrono::milliseconds(110)).count(), 0);  // one token back
  EXPECT_GT(limiter.Acquire("k", limit, t0 + std::chrono::milliseconds(110)).count(), 0);
  EXPECT_EQ(limiter.Acquire("other", limit, t0).count(), 0);  // buckets are per key
  EXPECT_EQ(limiter.Acquire("free", {}, t0).count(), 0);      // unlimited
}

class GatewayChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = auth::MakeKeyStore({.path = {}, .admin_token = "admin-token"});
    ASSERT_TRUE(keys.ok());
    keys_ = std::move(*keys);
    invoke_a_ = keys_->Create({.namespace_ = "team-a", .name = "app", .scope = auth::Scope::kInvoke})->token;
    limited_a_ = keys_->Create({.namespace_ = "team-a", .name = "slow", .rate_limit = {1, 2}})->token;
    invoke_b_ = keys_->Create({.namespace_ = "team-b", .name = "app"})->token;
    GatewayOptions o;
    o.keys = keys_.get();
    o.a2a = &endpoint_;
    o.mcp = &endpoint_;
    o.public_url = [] { return std::string("http://127.0.0.1:7070"); };
    gateway_ = std::make_unique<Gateway>(std::move(o));
  }

  int Status(net::HttpRequest req) {
    auto r = gateway_->Handle(req);
    EXPECT_TRUE(r.has_value());
    last_ = r ? *r : net::HttpResponse{};
    return last_.status;
  }

  auth::KeyStorePtr keys_;
  std::string invoke_a_, limited_a_, invoke_b_;
  RecordingEndpoint endpoint_;
  std::unique_ptr<Gateway> gateway_;
  net::HttpResponse last_;
};

TEST_F(GatewayChecks, KeysScopesAndTenants) {
  EXPECT_EQ(Status(Req("/a2a/team-a/echo", invoke_a_)), 200);
  EXPECT_EQ(endpoint_.last_principal.namespace_, "team-a");
  EXPECT_EQ(endpoint_.last_base, "http://127.0.0.1:7070");

  EXPECT_EQ(Status(Req("/a2a/team-a/echo", "")), 401);
  EXPECT_NE(last_.body.find("\"code\":-32000"), std::string::npos) << last_.body;
  EXPECT_NE(last_.body.find("missing bearer token"), std::string::npos) << last_.body;
  EXPECT_EQ(Status(Req("/a2a/team-a/echo", "tuna_000000000000_" + std::string(48, '0'))), 401);
  EXPECT_EQ(Status(Req("/mcp/team-a/servers/hello", invoke_b_)), 403);
  EXPECT_NE(last_.body.find("belongs to namespace team-b"), std::string::npos) << last_.body;
  EXPECT_EQ(Status(Req("/mcp/team-b/tools/petstore", "admin-token")), 200);
  EXPECT_EQ(endpoint_.calls, 2);
  EXPECT_EQ(Status(Req("/mcp/team-b/servers/Bad_Name", "admin-token")), 400);
  EXPECT_EQ(Status(Req("/mcp/team-b/unknown/x", "admin-token")), 404);
}

TEST_F(GatewayChecks, HostAndOriginAreCheckedFirst) {
  auto req = Req("/a2a/team-a/echo", invoke_a_);
  req.headers[0].second = "evil.example.com";
  EXPECT_EQ(Status(req), 403);
  EXPECT_NE(last_.body.find("host not allowed"), std::string::npos);
  EXPECT_EQ(Status(Req("/a2a/team-a/echo", invoke_a_, {{"Origin", "https://evil.example.com"}})), 403);
  EXPECT_NE(last_.body.find("origin not allowed"), std::string::npos);
  EXPECT_EQ(Status(Req("/a2a/team-a/echo", invoke_a_, {{"Origin", "http://localhost:3000"}})), 200);
  // Even without a key, a foreign origin learns nothing but 403.
  EXPECT_EQ(Status(Req("/a2a/team-a/echo", "", {{"Origin", "https://evil.example.com"}})), 403);
}

TEST_F(GatewayChecks, RateLimitPerKeyAnswers429WithRetryAfter) {
  EXPECT_EQ(Status(Req("/a2a/team-a/echo", limited_a_)), 200);
  EXPECT_EQ(Status(Req("/a2a/team-a/echo", limited_a_)), 200);
  EXPECT_EQ(Status(Req("/a2a/team-a/echo", limited_a_)), 429);
  bool retry_after = false;
  for (const auto& [k, v] : last_.headers) retry_after |= k == "Retry-After" && v == "1";
  EXPECT_TRUE(retry_after);
  EXPECT_NE(last_.body.find("rate limit of API key \\\"slow\\\""), std::string::npos) << last_.body;
  // Another key of the same tenant is not affected.
  EXPECT_EQ(Status(Req("/a2a/team-a/echo", invoke_a_)), 200);
}

}  // namespace
}  // namespace tuna::gateway
