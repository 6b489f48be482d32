#include "tuna/client.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <thread>

#include "cli/canned_http_server.hpp"

namespace tuna {
namespace {

using testing::CannedHttpServer;
using Response = CannedHttpServer::Response;

constexpr const char* kEcho =
    R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment","metadata":{"name":"echo","namespace":"default",)"
    R"("resourceVersion":"7","uid":"u1"},"spec":{"environmentName":"py"},"status":{"phase":"StagingDeployed"}})";

Response Json(int status, std::string body, std::map<std::string, std::string> headers = {}) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

std::string StatusBody(int code, std::string_view reason, std::string_view message, std::string_view field = "",
                       std::string_view request_id = "req-1") {
  boost::json::object o{{"apiVersion", "v1"}, {"kind", "Status"}, {"status", "Failure"}, {"code", code},
                        {"reason", reason}, {"message", message}, {"requestId", request_id}};
  if (!field.empty()) o["field"] = field;
  return boost::json::serialize(o);
}

ClientPtr MakeClient(const std::string& url, std::string token = "t0k",
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  ClientOptions o;
  o.server = url;
  o.token = std::move(token);
  o.timeout = timeout;
  auto c = Client::Make(o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(c).value();
}

Resource Echo() {
  Resource r;
  r.kind = "AgentDeployment";
  r.metadata.name = "echo";
  r.metadata.namespace_ = "team-a";
  r.spec = boost::json::object{{"environmentName", "py"}};
  return r;
}

// A port nothing listens on: bind one, read it, close it.
int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

TEST(ClientMake, RejectsBadUrls) {
  ClientOptions o;
  o.server = "127.0.0.1:7070";
  EXPECT_EQ(Client::Make(o).status().code(), StatusCode::kInvalidArgument);
  o.server = "http://";
  EXPECT_EQ(Client::Make(o).status().code(), StatusCode::kInvalidArgument);
  o.server = "https://tuna.example.com/prefix/";
  auto c = Client::Make(o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->server(), "https://tuna.example.com/prefix");
}

TEST(ClientGet, SendsPathTokenAndParsesTheObject) {
  CannedHttpServer server;
  server.Enqueue(Json(200, kEcho));
  auto client = MakeClient(server.url());
  auto r = client->Get({"agentdeployment", "default", "echo"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metadata.name, "echo");
  EXPECT_EQ(r->metadata.resource_version, "7");
  EXPECT_EQ(r->status.at("phase"), "StagingDeployed");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/apis/tuna.ai/v1alpha1/namespaces/default/agentdeployments/echo");
  EXPECT_EQ(reqs[0].Header("authorization"), "Bearer t0k");
  EXPECT_EQ(reqs[0].Header("user-agent").rfind("tuna-client/", 0), 0u);
}

TEST(ClientGet, UnknownKindIsInvalidArgument) {
  auto client = MakeClient("http://127.0.0.1:1");
  EXPECT_EQ(client->Get({"Nope", "default", "x"}).status().code(), StatusCode::kInvalidArgument);
}

TEST(ClientErrors, StatusBodyBecomesStatusWithFieldAndRequestId) {
  CannedHttpServer server;
  server.Enqueue(Json(422, StatusBody(422, "Invalid", "spec.enviromentName: unknown field (did you mean environmentName?)",
                                      "spec.enviromentName", "7f9c")));
  auto client = MakeClient(server.url());
  auto r = client->Create(Echo());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), "spec.enviromentName");
  EXPECT_EQ(r.status().message(),
            "spec.enviromentName: unknown field (did you mean environmentName?) (request id 7f9c)");
}

TEST(ClientErrors, ConflictReasonsAreDistinguished) {
  EXPECT_EQ(StatusFromHttpError(409, StatusBody(409, "AlreadyExists", "exists")).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusFromHttpError(409, StatusBody(409, "Conflict", "stale")).code(), StatusCode::kConflict);
  EXPECT_EQ(StatusFromHttpError(404, StatusBody(404, "NotFound", "gone")).code(), StatusCode::kNotFound);
  EXPECT_EQ(StatusFromHttpError(401, StatusBody(401, "Unauthorized", "no")).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(StatusFromHttpError(403, "").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusFromHttpError(410, "").code(), StatusCode::kGone);
  EXPECT_EQ(StatusFromHttpError(504, "").code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(StatusFromHttpError(500, "").code(), StatusCode::kInternal);
}

TEST(ClientErrors, NonJsonBodyKeepsHeaderRequestIdAndText) {
  CannedHttpServer server;
  Response r = Json(502, "Bad gateway\n", {{"X-Request-Id", "hdr-9"}});
  r.content_type = "text/plain";
  server.Enqueue(r);
  auto client = MakeClient(server.url());
  auto got = client->Get({"AgentDeployment", "default", "echo"});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(got.status().message(), "server answered HTTP 502: Bad gateway (request id hdr-9)");
}

TEST(ClientErrors, ConnectionRefusedNamesServerAndHint) {
  std::string url = "http://127.0.0.1:" + std::to_string(UnusedPort());
  auto client = MakeClient(url);
  auto r = client->Get({"AgentDeployment", "default", "echo"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find(url), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("is `tuna server` running?"), std::string::npos);
}

TEST(ClientErrors, SlowServerIsDeadlineExceeded) {
  CannedHttpServer server;
  Response slow = Json(200, kEcho);
  slow.delay = std::chrono::milliseconds(2000);
  server.Enqueue(slow);
  auto client = MakeClient(server.url(), "t", std::chrono::milliseconds(200));
  auto r = client->Get({"AgentDeployment", "default", "echo"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find(server.url()), std::string::npos);
}

TEST(ClientList, EncodesQueryAndFollowsContinueTokens) {
  CannedHttpServer server;
  // Items without apiVersion/kind (as Kubernetes lists may send) are filled from the list's kind.
  server.Enqueue(Json(200, R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeploymentList",
    "metadata":{"resourceVersion":"10","continue":"c/1="},"items":[{"metadata":{"name":"a","namespace":"x"}}]})"));
  server.Enqueue(Json(200, R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeploymentList",
    "metadata":{"resourceVersion":"11"},"items":[{"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment",
    "metadata":{"name":"b","namespace":"y"}}]})"));
  auto client = MakeClient(server.url());
  ListOptions o;
  o.kind = "AgentDeployment";
  o.label_selector = "app=echo,tier in (a,b)";
  o.limit = 1;
  auto list = client->ListAll(o);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_EQ(list->items[0].metadata.name, "a");
  EXPECT_EQ(list->items[0].kind, "AgentDeployment");
  EXPECT_EQ(list->items[1].metadata.name, "b");
  EXPECT_EQ(list->resource_version, "10");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].target,
            "/apis/tuna.ai/v1alpha1/agentdeployments?labelSelector=app%3Decho%2Ctier%20in%20%28a%2Cb%29&limit=1");
  EXPECT_EQ(reqs[1].target,
            "/apis/tuna.ai/v1alpha1/agentdeployments?labelSelector=app%3Decho%2Ctier%20in%20%28a%2Cb%29&limit=1"
            "&continue=c%2F1%3D");
}

TEST(ClientWrites, CreateUpdateStatusPatchDeleteUseTheContract) {
  CannedHttpServer server;
  for (int i = 0; i < 5; ++i) server.Enqueue(Json(i == 0 ? 201 : 200, kEcho));
  auto client = MakeClient(server.url());
  Resource echo = Echo();
  ASSERT_TRUE(client->Create(echo, {.dry_run = true}).ok());
  echo.metadata.resource_version = "7";
  ASSERT_TRUE(client->Update(echo).ok());
  ASSERT_TRUE(client->UpdateStatus(echo).ok());
  ASSERT_TRUE(client->Patch(KeyOf(echo), R"({"spec":{"entrypoint":"main.py"}})").ok());
  ASSERT_TRUE(client->Delete(KeyOf(echo), {.precondition_resource_version = "7"}).ok());

  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 5u);
  const std::string base = "/apis/tuna.ai/v1alpha1/namespaces/team-a/agentdeployments";
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, base + "?dryRun=All");
  EXPECT_EQ(reqs[0].Header("content-type"), "application/json");
  auto sent = boost::json::parse(reqs[0].body);
  EXPECT_EQ(sent.at("metadata").at("name"), "echo");
  EXPECT_EQ(sent.at("spec").at("environmentName"), "py");
  EXPECT_EQ(reqs[1].method, "PUT");
  EXPECT_EQ(reqs[1].target, base + "/echo");
  EXPECT_EQ(boost::json::parse(reqs[1].body).at("metadata").at("resourceVersion"), "7");
  EXPECT_EQ(reqs[2].method, "PUT");
  EXPECT_EQ(reqs[2].target, base + "/echo/status");
  EXPECT_EQ(reqs[3].method, "PATCH");
  EXPECT_EQ(reqs[3].Header("content-type"), "application/merge-patch+json");
  EXPECT_EQ(reqs[3].body, R"({"spec":{"entrypoint":"main.py"}})");
  EXPECT_EQ(reqs[4].method, "DELETE");
  EXPECT_EQ(reqs[4].target, base + "/echo?resourceVersion=7");
}

std::string Event(std::string_view type, std::string_view name, std::string_view rv) {
  return std::string(R"({"type":")") + std::string(type) +
         R"(","object":{"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment","metadata":{"name":")" +
         std::string(name) + R"(","namespace":"default","resourceVersion":")" + std::string(rv) + "\"}}}\n";
}

TEST(ClientWatch, ParsesLinesSplitAcrossChunks) {
  CannedHttpServer server;
  std::string stream = Event("ADDED", "a", "1") + Event("MODIFIED", "a", "2") + "\n" + Event("DELETED", "a", "3");
  Response r;
  // Split at awkward places: mid-line and right after a newline.
  r.chunks = {stream.substr(0, 10), stream.substr(10, 90), stream.substr(100)};
  server.Enqueue(r);
  auto client = MakeClient(server.url());
  std::vector<std::pair<WatchEventType, std::string>> seen;
  WatchOptions o;
  o.kind = "AgentDeployment";
  o.namespace_ = "default";
  o.resource_version = "0";
  Status s = client->Watch(o, [&](const WatchEvent& e) {
    seen.emplace_back(e.type, e.object.metadata.resource_version);
    return true;
  }, {.timeout = std::chrono::seconds(30)});
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], std::make_pair(WatchEventType::kAdded, std::string("1")));
  EXPECT_EQ(seen[1], std::make_pair(WatchEventType::kModified, std::string("2")));
  EXPECT_EQ(seen[2], std::make_pair(WatchEventType::kDeleted, std::string("3")));
  EXPECT_EQ(server.requests()[0].target,
            "/apis/tuna.ai/v1alpha1/namespaces/default/agentdeployments?watch=true&resourceVersion=0&timeoutSeconds=30");
}

TEST(ClientWatch, ErrorEventEndsTheWatchWithItsStatus) {
  CannedHttpServer server;
  Response r;
  r.chunks = {Event("ADDED", "a", "1"),
              R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","code":410,"reason":"Gone","message":"too old resource version"}})"
              "\n"};
  server.Enqueue(r);
  auto client = MakeClient(server.url());
  int events = 0;
  Status s = client->Watch({.kind = "AgentDeployment"}, [&](const WatchEvent&) { return ++events, true; });
  EXPECT_EQ(events, 1);
  EXPECT_EQ(s.code(), StatusCode::kGone);
  EXPECT_EQ(s.message(), "too old resource version");
}

TEST(ClientWatch, CallbackStopsAndNameFilters) {
  CannedHttpServer server;
  Response r;
  r.chunks = {Event("ADDED", "a", "1") + Event("ADDED", "b", "2") + Event("MODIFIED", "b", "3")};
  r.hold_open = true;
  server.Enqueue(r);
  auto client = MakeClient(server.url());
  std::vector<std::string> seen;
  Status s = client->Watch({.kind = "AgentDeployment", .name = "b"}, [&](const WatchEvent& e) {
    seen.push_back(e.object.metadata.resource_version);
    return false;  // one is enough
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(seen, std::vector<std::string>{"2"});
}

TEST(ClientWatch, CancelEndsAHeldOpenStream) {
  CannedHttpServer server;
  Response r;
  r.chunks = {Event("ADDED", "a", "1")};
  r.hold_open = true;
  server.Enqueue(r);
  auto client = MakeClient(server.url());
  CancelToken cancel;
  std::atomic<int> events{0};
  std::thread canceller([&] {
    while (events.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    cancel.Cancel();
  });
  Status s = client->Watch({.kind = "AgentDeployment"}, [&](const WatchEvent&) { return ++events, true; },
                           {.cancel = &cancel});
  canceller.join();
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_EQ(events.load(), 1);
}

TEST(ClientWatch, HttpErrorBeforeTheStream) {
  CannedHttpServer server;
  server.Enqueue(Json(401, StatusBody(401, "Unauthorized", "invalid token")));
  auto client = MakeClient(server.url(), "wrong");
  Status s = client->Watch({.kind = "AgentDeployment"}, [](const WatchEvent&) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(s.message(), "invalid token (request id req-1)");
}

TEST(ClientMisc, DiscoveryVersionHealth) {
  CannedHttpServer server;
  server.Enqueue(Json(200, R"({"kind":"APIResourceList","groupVersion":"tuna.ai/v1alpha1","resources":[
    {"name":"agentdeployments","singularName":"agentdeployment","namespaced":true,"kind":"AgentDeployment",
     "shortNames":["ad","agent"]}]})"));
  server.Enqueue(Json(200, R"({"version":"0.1.0"})"));
  Response ok;
  ok.body = "ok";
  ok.content_type = "text/plain";
  server.Enqueue(ok);
  auto client = MakeClient(server.url());
  auto d = client->Discovery();
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ((*d)[0], (ApiResourceInfo{"AgentDeployment", "agentdeployments", "agentdeployment", {"ad", "agent"}, true}));
  auto v = client->Version();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "0.1.0");
  EXPECT_TRUE(client->Health().ok());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].target, "/apis/tuna.ai/v1alpha1");
  EXPECT_EQ(reqs[1].target, "/version");
  EXPECT_EQ(reqs[2].target, "/healthz");
  EXPECT_EQ(reqs[2].Header("authorization"), "");  // health needs no token
}

TEST(ClientThreads, ConcurrentCallsShareOneClient) {
  CannedHttpServer server;
  server.SetHandler([](const CannedHttpServer::Request&) { return Json(200, kEcho); });
  auto client = MakeClient(server.url());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (client->Get({"AgentDeployment", "default", "echo"}).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 100);
}

}  // namespace
}  // namespace tuna
