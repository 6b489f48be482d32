// The REST API end to end: tuna::Server on 127.0.0.1 port 0 over the real memory store (and
// SQLite where it matters), real admission, real sockets.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include <boost/json.hpp>

#include "support/http_client.hpp"
#include "tuna/resources/codec.hpp"
#include "tuna/server.hpp"

namespace tuna {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::ApiClient;
using testing::HttpConnection;
using testing::HttpResult;

constexpr char kToken[] = "test-token-0123456789";
const std::string kBase = "/apis/tuna.ai/v1alpha1/namespaces/default/agentmemories";

std::string Memory(const std::string& name, int max_entries, const std::string& labels = "{}",
                   const std::string& ns = "") {
  std::string meta = "{\"name\":\"" + name + "\",\"labels\":" + labels;
  if (!ns.empty()) meta += ",\"namespace\":\"" + ns + "\"";
  meta += "}";
  return "{\"apiVersion\":\"tuna.ai/v1alpha1\",\"kind\":\"AgentMemory\",\"metadata\":" + meta +
         ",\"spec\":{\"type\":\"conversation\",\"maxEntries\":" + std::to_string(max_entries) + "}}";
}

json::value Body(const HttpResult& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  return ec ? json::value() : v;
}

// "metadata.resourceVersion" -> the value as text ("" when absent).
std::string At(const json::value& v, const std::string& path) {
  const json::value* cur = &v;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto dot = path.find('.', start);
    std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object()) return "";
    cur = cur->get_object().if_contains(key);
    if (cur == nullptr) return "";
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur->is_string() ? std::string(cur->get_string()) : json::serialize(*cur);
}
std::string At(const HttpResult& r, const std::string& path) { return At(Body(r), path); }

class ApiTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}, std::size_t event_window = 1000) {
    MemoryStoreOptions so;
    so.event_window = event_window;
    store_ = std::shared_ptr<Store>(MakeMemoryStore(so));
    options.store = store_;
    options.run_controllers = false;  // API only: these tests exercise the REST surface
    options.admin_token = kToken;
    options.listen = "127.0.0.1:0";
    auto made = Server::Make(std::move(options));
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    server_ = std::move(*made);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<ApiClient>(server_->port(), kToken);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  HttpResult Create(const std::string& name, int max_entries, const std::string& labels = "{}") {
    return client_->Post(kBase, Memory(name, max_entries, labels));
  }

  std::shared_ptr<Store> store_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<ApiClient> client_;
};

TEST_F(ApiTest, CrudRoundTrip) {
  Start();
  auto created = Create("history", 10);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(At(created, "kind"), "AgentMemory");
  EXPECT_EQ(At(created, "metadata.namespace"), "default");  // taken from the URL
  EXPECT_FALSE(At(created, "metadata.uid").empty());
  std::string rv1 = At(created, "metadata.resourceVersion");
  ASSERT_FALSE(rv1.empty());

  auto got = client_->Get(kBase + "/history");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(At(got, "spec.maxEntries"), "10");
  EXPECT_EQ(got.Header("content-type"), "application/json");

  auto list = client_->Get(kBase);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(At(list, "kind"), "AgentMemoryList");
  EXPECT_EQ(At(list, "apiVersion"), "tuna.ai/v1alpha1");
  EXPECT_FALSE(At(list, "metadata.resourceVersion").empty());
  ASSERT_EQ(Body(list).at("items").as_array().size(), 1u);

  // Replace with the current resourceVersion: accepted, generation bumps.
  auto body = Body(got);
  body.at("spec").as_object()["maxEntries"] = 20;
  auto replaced = client_->Put(kBase + "/history", json::serialize(body));
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_EQ(At(replaced, "spec.maxEntries"), "20");
  EXPECT_EQ(At(replaced, "metadata.generation"), "2");
  std::string rv2 = At(replaced, "metadata.resourceVersion");
  EXPECT_NE(rv1, rv2);

  // The same stale body again: 409 Conflict.
  auto stale = client_->Put(kBase + "/history", json::serialize(body));
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(At(stale, "reason"), "Conflict");
  EXPECT_EQ(At(stale, "kind"), "Status");

  // Merge patch.
  auto patched = client_->Patch(kBase + "/history", R"({"metadata":{"labels":{"team":"a"}}})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(At(patched, "metadata.labels.team"), "a");
  EXPECT_EQ(At(patched, "spec.maxEntries"), "20");

  // Status sub-resource changes only status; the main resource never changes status.
  auto cur = Body(patched);
  cur.as_object()["status"] = json::object{{"observedGeneration", 2}};
  cur.at("spec").as_object()["maxEntries"] = 99;
  auto status = client_->Put(kBase + "/history/status", json::serialize(cur));
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(At(status, "status.observedGeneration"), "2");
  EXPECT_EQ(At(status, "spec.maxEntries"), "20");
  auto main_put = Body(status);
  main_put.as_object()["status"] = json::object{{"observedGeneration", 7}};
  auto main = client_->Put(kBase + "/history", json::serialize(main_put));
  ASSERT_EQ(main.status, 200) << main.body;
  EXPECT_EQ(At(main, "status.observedGeneration"), "2");
  auto status_patch = client_->Patch(kBase + "/history/status", R"({"status":{"observedGeneration":3}})");
  ASSERT_EQ(status_patch.status, 200) << status_patch.body;
  EXPECT_EQ(At(status_patch, "status.observedGeneration"), "3");
  EXPECT_EQ(At(client_->Get(kBase + "/history/status"), "status.observedGeneration"), "3");

  // Delete with a stale precondition: 409; then for real: 200 with the object; then 404.
  auto pre = client_->Delete(kBase + "/history?resourceVersion=" + rv1);
  EXPECT_EQ(pre.status, 409);
  auto deleted = client_->Delete(kBase + "/history");
  ASSERT_EQ(deleted.status, 200);
  EXPECT_EQ(At(deleted, "metadata.name"), "history");
  auto gone = client_->Get(kBase + "/history");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(At(gone, "reason"), "NotFound");
  EXPECT_EQ(At(gone, "code"), "404");
  EXPECT_EQ(At(gone, "requestId"), gone.Header("x-request-id"));
}

TEST_F(ApiTest, MissingOrWrongTokenIs401AndChangesNothing) {
  Start();
  ASSERT_EQ(Create("keep", 1).status, 201);
  auto before = store_->Stats();
  for (const std::string& token : {std::string(), std::string("wrong"), std::string(kToken) + "x"}) {
    ApiClient anon(server_->port(), token);
    auto created = anon.Post(kBase, Memory("sneaky", 1));
    EXPECT_EQ(created.status, 401) << token;
    EXPECT_EQ(At(created, "reason"), "Unauthorized");
    EXPECT_EQ(created.Header("www-authenticate"), "Bearer");
    EXPECT_EQ(anon.Delete(kBase + "/keep").status, 401);
    EXPECT_EQ(anon.Put(kBase + "/keep", Memory("keep", 5)).status, 401);
    EXPECT_EQ(anon.Get(kBase).status, 401);
    EXPECT_EQ(anon.Get("/version").status, 401);
  }
  HttpConnection c(server_->port());
  EXPECT_EQ(c.Request("GET", kBase, "", {{"Authorization", std::string("Basic ") + kToken}}).status, 401);
  auto after = store_->Stats();
  EXPECT_EQ(before.revision, after.revision);
  EXPECT_EQ(before.objects, after.objects);
  EXPECT_EQ(At(client_->Get(kBase + "/keep"), "spec.maxEntries"), "1");
  EXPECT_EQ(client_->Get(kBase + "/sneaky").status, 404);
}

TEST_F(ApiTest, HealthReadinessMetricsNeedNoTokenVersionDoes) {
  Start();
  ApiClient anon(server_->port(), "");
  auto health = anon.Get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_EQ(anon.Get("/readyz").status, 200);
  EXPECT_EQ(anon.Get("/metrics").status, 200);
  auto version = client_->Get("/version");
  ASSERT_EQ(version.status, 200);
  EXPECT_EQ(At(version, "version"), "0.1.0");
  EXPECT_EQ(anon.Get("/nowhere").status, 404);
}

TEST_F(ApiTest, UnknownResourceTypeIs404ListingValidOnes) {
  Start();
  auto r = client_->Get("/apis/tuna.ai/v1alpha1/namespaces/default/widgets");
  EXPECT_EQ(r.status, 404);
  std::string msg = At(r, "message");
  EXPECT_NE(msg.find("widgets"), std::string::npos) << msg;
  EXPECT_NE(msg.find("agentdeployments"), std::string::npos) << msg;
  EXPECT_NE(msg.find("agentcatalogues"), std::string::npos) << msg;
  auto near = client_->Get("/apis/tuna.ai/v1alpha1/namespaces/default/agentmemory");
  EXPECT_EQ(near.status, 404);
  EXPECT_NE(At(near, "message").find("did you mean agentmemories?"), std::string::npos) << near.body;
  EXPECT_EQ(client_->Get("/apis/other.io/v1/namespaces/default/agentmemories").status, 404);
  EXPECT_EQ(client_->Get(kBase + "/x/logs").status, 404);
}

TEST_F(ApiTest, MalformedJsonIs400WithLineAndColumn) {
  Start();
  auto r = client_->Post(kBase, "{\n  \"apiVersion\": \"tuna.ai/v1alpha1\",\n  \"kind\": AgentMemory\n}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(At(r, "reason"), "BadRequest");
  std::string msg = At(r, "message");
  EXPECT_NE(msg.find("request body:3:"), std::string::npos) << msg;
  EXPECT_EQ(client_->Post(kBase, "   ").status, 400);
  EXPECT_EQ(client_->Post(kBase, "[1,2]").status, 422);  // JSON, but not an object
}

TEST_F(ApiTest, MalformedYamlIs400WithLineAndColumn) {
  Start();
  std::string yaml = "apiVersion: tuna.ai/v1alpha1\nkind: AgentMemory\nmetadata:\n  name: [unclosed\n";
  auto r = client_->Call("POST", kBase, yaml, {{"Content-Type", "application/yaml"}});
  EXPECT_EQ(r.status, 400) << r.body;
  std::string msg = At(r, "message");
  EXPECT_TRUE(std::regex_search(msg, std::regex("request body[^:]*:[0-9]+:[0-9]+"))) << msg;
  auto two = client_->Call("POST", kBase, "a: 1\n---\nb: 2\n", {{"Content-Type", "application/yaml"}});
  EXPECT_EQ(two.status, 400);
}

TEST_F(ApiTest, YamlBodiesAndResponses) {
  Start();
  std::string yaml =
      "apiVersion: tuna.ai/v1alpha1\nkind: AgentMemory\nmetadata:\n  name: from-yaml\nspec:\n  type: conversation\n"
      "  maxEntries: 5\n";
  auto r = client_->Call("POST", kBase, yaml, {{"Content-Type", "application/yaml; charset=utf-8"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(At(r, "spec.maxEntries"), "5");
  auto y = client_->Call("GET", kBase + "/from-yaml", "", {{"Accept", "application/yaml"}});
  ASSERT_EQ(y.status, 200);
  EXPECT_EQ(y.Header("content-type"), "application/yaml");
  auto docs = ParseYamlDocuments(y.body, "response");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString() << y.body;
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_EQ(At((*docs)[0].value, "kind"), "AgentMemory");
  EXPECT_EQ(At((*docs)[0].value, "metadata.name"), "from-yaml");
  auto list = client_->Call("GET", kBase, "", {{"Accept", "application/yaml"}});
  auto list_docs = ParseYamlDocuments(list.body, "response");
  ASSERT_TRUE(list_docs.ok());
  EXPECT_EQ(At((*list_docs)[0].value, "kind"), "AgentMemoryList");
}

TEST_F(ApiTest, WrongTypesAre422NamingTheField) {
  Start();
  auto labels = client_->Post(kBase, R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory","metadata":{"name":"x","labels":5}})");
  EXPECT_EQ(labels.status, 422);
  EXPECT_EQ(At(labels, "reason"), "Invalid");
  EXPECT_EQ(At(labels, "field"), "metadata.labels");
  auto unknown = client_->Post(kBase, R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory","metdata":{}})");
  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(At(unknown, "field"), "metdata");
  EXPECT_NE(At(unknown, "message").find("did you mean metadata"), std::string::npos) << unknown.body;
  auto spec = client_->Post(kBase, R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory","metadata":{"name":"x"},"spec":"big"})");
  EXPECT_EQ(spec.status, 422);
  EXPECT_EQ(At(spec, "field"), "spec");
  auto noname = client_->Post(kBase, R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory","metadata":{}})");
  EXPECT_EQ(noname.status, 422);
  EXPECT_EQ(At(noname, "field"), "metadata.name");
  // Typed checks of the spec come from admission, with the field path.
  auto typed = client_->Post(kBase, R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory","metadata":{"name":"x"},"spec":{"type":"conversation","maxEntries":"lots"}})");
  EXPECT_EQ(typed.status, 422) << typed.body;
  EXPECT_EQ(At(typed, "field"), "spec.maxEntries");
  auto range = client_->Post(kBase, R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory","metadata":{"name":"x"},"spec":{"type":"conversation","maxEntries":0}})");
  EXPECT_EQ(range.status, 422) << range.body;
  EXPECT_EQ(At(range, "field"), "spec.maxEntries");
  auto rv = client_->Post(kBase, R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory","metadata":{"name":"x","resourceVersion":"4"}})");
  EXPECT_EQ(rv.status, 422);
  EXPECT_EQ(store_->Stats().objects, 0);
}

TEST_F(ApiTest, BodyMustMatchThePath) {
  Start();
  auto ns = client_->Post(kBase, Memory("a", 1, "{}", "other"));
  EXPECT_EQ(ns.status, 400);
  EXPECT_EQ(At(ns, "field"), "metadata.namespace");
  EXPECT_NE(At(ns, "message").find("\"other\""), std::string::npos);
  auto kind = client_->Post("/apis/tuna.ai/v1alpha1/namespaces/default/agentcatalogues", Memory("a", 1));
  EXPECT_EQ(kind.status, 400);
  EXPECT_EQ(At(kind, "field"), "kind");
  ASSERT_EQ(Create("a", 1).status, 201);
  auto name = client_->Put(kBase + "/a", Memory("b", 1));
  EXPECT_EQ(name.status, 400);
  EXPECT_EQ(At(name, "field"), "metadata.name");
  auto patch = client_->Patch(kBase + "/a", R"({"metadata":{"name":"b"}})");
  EXPECT_EQ(patch.status, 400);
  EXPECT_EQ(store_->Stats().objects, 1);
}

TEST_F(ApiTest, OtherClientErrors) {
  Start();
  ASSERT_EQ(Create("dup", 1).status, 201);
  auto dup = Create("dup", 1);
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(At(dup, "reason"), "AlreadyExists");
  auto method = client_->Call("DELETE", kBase);
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.Header("allow"), "GET, POST");
  auto media = client_->Call("POST", kBase, Memory("m", 1), {{"Content-Type", "text/plain"}});
  EXPECT_EQ(media.status, 415);
  auto json_patch = client_->Call("PATCH", kBase + "/dup", "[]", {{"Content-Type", "application/json-patch+json"}});
  EXPECT_EQ(json_patch.status, 415);
  EXPECT_EQ(client_->Get(kBase + "?limit=abc").status, 400);
  EXPECT_EQ(client_->Post(kBase + "?dryRun=Some", Memory("m", 1)).status, 400);
  EXPECT_EQ(client_->Patch(kBase + "/missing", R"({"spec":{}})").status, 404);
  EXPECT_EQ(client_->Put(kBase + "/missing", Memory("missing", 1)).status, 404);
}

TEST_F(ApiTest, DryRunAdmitsWithoutWriting) {
  Start();
  auto before = store_->Stats().revision;
  auto r = client_->Post(kBase + "?dryRun=All", Memory("dry", 3));
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(At(r, "metadata.name"), "dry");
  EXPECT_EQ(store_->Stats().objects, 0);
  EXPECT_EQ(store_->Stats().revision, before);
  auto invalid = client_->Post(kBase + "?dryRun=All", R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory","metadata":{"name":"dry"},"spec":{"type":"nope"}})");
  EXPECT_EQ(invalid.status, 422) << invalid.body;
  ASSERT_EQ(Create("real", 3).status, 201);
  auto rev = store_->Stats().revision;
  auto p = client_->Patch(kBase + "/real?dryRun=All", R"({"spec":{"maxEntries":9}})");
  EXPECT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(At(p, "spec.maxEntries"), "9");
  auto u = client_->Put(kBase + "/real?dryRun=All", Memory("real", 8));
  EXPECT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(client_->Delete(kBase + "/real?dryRun=All").status, 200);
  EXPECT_EQ(store_->Stats().revision, rev);
  EXPECT_EQ(At(client_->Get(kBase + "/real"), "spec.maxEntries"), "3");
}

TEST_F(ApiTest, ListSelectorAndPaging) {
  Start();
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Create("m" + std::to_string(i), 1, i % 2 ? R"({"tier":"odd"})" : R"({"tier":"even"})").status, 201);
  }
  ASSERT_EQ(client_->Post("/apis/tuna.ai/v1alpha1/namespaces/team-b/agentmemories", Memory("other-ns", 1)).status, 201);
  auto odd = client_->Get(kBase + "?labelSelector=tier%3Dodd");
  ASSERT_EQ(odd.status, 200);
  EXPECT_EQ(Body(odd).at("items").as_array().size(), 2u);
  std::set<std::string> seen;
  std::string cont;
  for (int page = 0; page < 10; ++page) {
    auto r = client_->Get(kBase + "?limit=2" + (cont.empty() ? "" : "&continue=" + cont));
    ASSERT_EQ(r.status, 200);
    auto doc = Body(r);
    for (const auto& item : doc.at("items").as_array()) seen.insert(At(item, "metadata.name"));
    cont = At(r, "metadata.continue");
    if (cont.empty()) break;
    EXPECT_EQ(Body(r).at("items").as_array().size(), 2u);
  }
  EXPECT_EQ(seen.size(), 5u);
  auto all = client_->Get("/apis/tuna.ai/v1alpha1/agentmemories");
  EXPECT_EQ(Body(all).at("items").as_array().size(), 6u);
}

TEST_F(ApiTest, ConcurrentConflictingPutsOneWinnerPerVersion) {
  ServerOptions o;
  o.run_controllers = false;  // API only: these tests exercise the REST surface
  o.worker_threads = 4;
  Start(o);
  ASSERT_EQ(Create("race", 1).status, 201);
  constexpr int kThreads = 6;
  for (int round = 0; round < 5; ++round) {
    auto current = client_->Get(kBase + "/race");
    ASSERT_EQ(current.status, 200);
    std::string rv = At(current, "metadata.resourceVersion");
    std::atomic<int> ok{0}, conflict{0}, other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        ApiClient c(server_->port(), kToken);
        auto body = Body(current);
        body.at("spec").as_object()["maxEntries"] = 100 * round + t + 2;
        auto r = c.Put(kBase + "/race", json::serialize(body));
        if (r.status == 200) ++ok;
        else if (r.status == 409) ++conflict;
        else ++other;
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(ok, 1) << "round " << round;
    EXPECT_EQ(conflict, kThreads - 1);
    EXPECT_EQ(other, 0);
    EXPECT_NE(At(client_->Get(kBase + "/race"), "metadata.resourceVersion"), rv);
  }
}

TEST_F(ApiTest, DiscoveryListsTheNineKinds) {
  Start();
  auto r = client_->Get("/apis/tuna.ai/v1alpha1");
  ASSERT_EQ(r.status, 200);
  auto doc = Body(r);
  EXPECT_EQ(At(doc, "kind"), "APIResourceList");
  EXPECT_EQ(At(doc, "groupVersion"), "tuna.ai/v1alpha1");
  std::set<std::string> kinds;
  for (const auto& res : doc.at("resources").as_array()) {
    std::string name = At(res, "name");
    if (name.find('/') != std::string::npos) continue;
    kinds.insert(At(res, "kind"));
    EXPECT_FALSE(At(res, "singularName").empty());
    EXPECT_EQ(At(res, "namespaced"), "true");
    EXPECT_TRUE(res.as_object().contains("shortNames"));
  }
  EXPECT_EQ(kinds.size(), 9u);
  EXPECT_TRUE(kinds.count("AgentDeployment"));
  EXPECT_EQ(At(client_->Get("/apis"), "kind"), "APIGroupList");
}

TEST_F(ApiTest, RequestIdIsEchoedInHeaderAndErrorBody) {
  Start();
  auto r = client_->Call("GET", kBase + "/nope", "", {{"X-Request-Id", "trace-42"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Header("x-request-id"), "trace-42");
  EXPECT_EQ(At(r, "requestId"), "trace-42");
  auto ok = client_->Get(kBase);
  EXPECT_EQ(ok.Header("x-request-id").size(), 32u);
}

TEST_F(ApiTest, LimitsAnswerWithStatusBodies) {
  ServerOptions o;
  o.run_controllers = false;  // API only: these tests exercise the REST surface
  o.max_body_bytes = 512;
  o.max_header_bytes = 1024;
  Start(o);
  auto big = client_->Post(kBase, Memory("big", 1, "{\"pad\":\"" + std::string(1000, 'p') + "\"}"));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(At(big, "kind"), "Status");
  auto headers = client_->Call("GET", kBase, "", {{"X-Pad", std::string(2000, 'h')}});
  EXPECT_EQ(headers.status, 431);
  EXPECT_EQ(store_->Stats().objects, 0);
}

TEST_F(ApiTest, MetricsExpositionParses) {
  Start();
  ASSERT_EQ(Create("m", 1).status, 201);
  ASSERT_EQ(client_->Get(kBase + "/absent").status, 404);
  HttpConnection c(server_->port());
  auto r = c.Request("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.Header("content-type").find("version=0.0.4"), std::string::npos);
  std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$)");
  std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  std::istringstream in(r.body);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      EXPECT_TRUE(std::regex_match(line, comment)) << line;
    } else {
      EXPECT_TRUE(std::regex_match(line, sample)) << line;
      ++samples;
    }
  }
  EXPECT_GT(samples, 5);
  const std::string route = "/apis/tuna.ai/v1alpha1/namespaces/{namespace}/{plural}";
  EXPECT_NE(r.body.find("tuna_http_requests_total{route=\"" + route + "\",method=\"POST\",code=\"201\"} 1"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("code=\"404\""), std::string::npos);
  EXPECT_NE(r.body.find("tuna_store_objects 1"), std::string::npos);
  EXPECT_NE(r.body.find("tuna_api_watches_open 0"), std::string::npos);
}

// ---- watch -------------------------------------------------------------------------------------

struct WatchLine {
  std::string type, name, rv, code;
};

std::optional<WatchLine> NextEvent(HttpConnection& c) {
  auto line = c.ReadLine();
  if (!line) return std::nullopt;
  auto v = json::parse(*line);
  return WatchLine{At(v, "type"), At(v, "object.metadata.name"), At(v, "object.metadata.resourceVersion"),
                   At(v, "object.code")};
}

HttpConnection OpenWatch(std::uint16_t port, const std::string& query) {
  HttpConnection c(port);
  c.SendRequest("GET", kBase + "?watch=true" + query, "", {{"Authorization", std::string("Bearer ") + kToken}});
  auto head = c.ReadHead();
  EXPECT_EQ(head.status, 200) << head.error;
  EXPECT_EQ(head.Header("transfer-encoding"), "chunked");
  return c;
}

TEST_F(ApiTest, WatchStreamsChangesInOrderAndResumes) {
  Start();
  const auto baseline = server_->store().Stats().watchers;  // the server's own (the gateway's binding watch)
  ASSERT_EQ(Create("first", 1).status, 201);
  auto w = OpenWatch(server_->port(), "");
  auto initial = NextEvent(w);
  ASSERT_TRUE(initial);
  EXPECT_EQ(initial->type, "ADDED");
  EXPECT_EQ(initial->name, "first");

  ASSERT_EQ(Create("second", 1).status, 201);
  ASSERT_EQ(client_->Patch(kBase + "/second", R"({"spec":{"maxEntries":2}})").status, 200);
  ASSERT_EQ(client_->Delete(kBase + "/first").status, 200);

  auto a = NextEvent(w);
  auto m = NextEvent(w);
  auto d = NextEvent(w);
  ASSERT_TRUE(a && m && d);
  EXPECT_EQ(a->type, "ADDED");
  EXPECT_EQ(a->name, "second");
  EXPECT_EQ(m->type, "MODIFIED");
  EXPECT_EQ(m->name, "second");
  EXPECT_EQ(d->type, "DELETED");
  EXPECT_EQ(d->name, "first");

  // Resume after the ADDED event: exactly the later changes, in order, and no initial list.
  auto resumed = OpenWatch(server_->port(), "&resourceVersion=" + a->rv);
  auto r1 = NextEvent(resumed);
  auto r2 = NextEvent(resumed);
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r1->type, "MODIFIED");
  EXPECT_EQ(r1->rv, m->rv);
  EXPECT_EQ(r2->type, "DELETED");
  EXPECT_EQ(r2->rv, d->rv);
  ASSERT_EQ(Create("third", 1).status, 201);
  auto r3 = NextEvent(resumed);
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->name, "third");
  EXPECT_EQ(server_->store().Stats().watchers, baseline + 2);
}

TEST_F(ApiTest, WatchFromTooOldVersionIsAnErrorEvent410) {
  Start({}, /*event_window=*/3);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(Create("m" + std::to_string(i), 1).status, 201);
  auto w = OpenWatch(server_->port(), "&resourceVersion=1");
  auto ev = NextEvent(w);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->type, "ERROR");
  EXPECT_EQ(ev->code, "410");
  EXPECT_FALSE(w.ReadLine());
  EXPECT_TRUE(w.stream_ended());
}

TEST_F(ApiTest, WatchHonoursSelectorAndTimeout) {
  Start();
  auto w = OpenWatch(server_->port(), "&labelSelector=app%3Decho&timeoutSeconds=1");
  ASSERT_EQ(Create("no", 1, R"({"app":"other"})").status, 201);
  ASSERT_EQ(Create("yes", 1, R"({"app":"echo"})").status, 201);
  auto ev = NextEvent(w);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->name, "yes");
  EXPECT_FALSE(w.ReadLine());  // ends by itself after timeoutSeconds
  EXPECT_TRUE(w.stream_ended());
}

TEST_F(ApiTest, WatchesOverTheLimitGet429AndSlotsAreReleased) {
  ServerOptions o;
  o.run_controllers = false;  // API only: these tests exercise the REST surface
  o.max_watches = 1;
  Start(o);
  {
    auto first = OpenWatch(server_->port(), "");
    auto second = client_->Get(kBase + "?watch=true");
    EXPECT_EQ(second.status, 429);
    EXPECT_EQ(At(second, "reason"), "TooManyRequests");
  }  // the first client goes away; its slot frees up
  HttpResult again;
  for (int i = 0; i < 200; ++i) {
    HttpConnection c(server_->port());
    c.SendRequest("GET", kBase + "?watch=true&timeoutSeconds=1", "", {{"Authorization", std::string("Bearer ") + kToken}});
    again = c.ReadHead();
    if (again.status == 200) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(again.status, 200);
}

TEST_F(ApiTest, StopEndsOpenWatches) {
  Start();
  auto w = OpenWatch(server_->port(), "");
  server_->Stop();
  EXPECT_FALSE(w.ReadLine());
  EXPECT_TRUE(w.stream_ended());
  server_->Stop();  // idempotent
  EXPECT_EQ(store_->Stats().watchers, 0);
}

// ---- Server::Make ------------------------------------------------------------------------------

TEST(ApiServerMake, CreatesDataDirTokenAndSqliteStoreThatPersist) {
  testing::TempDir tmp;
  std::string dir = tmp.path() + "/data";
  ServerOptions o;
  o.run_controllers = false;  // API only: these tests exercise the REST surface
  o.data_dir = dir;
  o.listen = "127.0.0.1:0";
  auto first = Server::Make(o);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir + "/admin.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string token = (*first)->admin_token();
  EXPECT_TRUE(std::regex_match(token, std::regex("[0-9a-f]{64}"))) << token;
  std::ifstream in(dir + "/admin.token");
  std::string on_disk;
  in >> on_disk;
  EXPECT_EQ(on_disk, token);

  EXPECT_TRUE(std::filesystem::exists(dir + "/tuna.db"));
  ASSERT_TRUE((*first)->Start().ok());
  ApiClient writer((*first)->port(), token);
  ASSERT_EQ(writer.Post(kBase, Memory("durable", 4)).status, 201);
  (*first)->Stop();
  first->reset();

  auto second = Server::Make(o);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ((*second)->admin_token(), token);

  // The file's token works against the restarted server, and the object survived.
  ASSERT_TRUE((*second)->Start().ok());
  ApiClient good((*second)->port(), token);
  auto got = good.Get(kBase + "/durable");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(At(got, "spec.maxEntries"), "4");
  EXPECT_EQ((*second)->url(), "http://127.0.0.1:" + std::to_string((*second)->port()));
  (*second)->Stop();
  EXPECT_FALSE((*second)->Start().ok());  // stopped for good
}

TEST(ApiServerMake, EmptyExistingDataDirIsMadePrivate) {
  testing::TempDir tmp;
  std::string dir = tmp.path() + "/pre";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);  // as `tuna server` may create it first
  ServerOptions o;
  o.run_controllers = false;  // API only: these tests exercise the REST surface
  o.data_dir = dir;
  o.listen = "127.0.0.1:0";
  o.store = std::shared_ptr<Store>(MakeMemoryStore());
  ASSERT_TRUE(Server::Make(o).ok());
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(ApiServerMake, RejectsBadListenAddresses) {
  ServerOptions o;
  o.run_controllers = false;  // API only: these tests exercise the REST surface
  o.store = std::shared_ptr<Store>(MakeMemoryStore());
  o.admin_token = kToken;
  o.listen = "nonsense";
  EXPECT_FALSE(Server::Make(o).ok());
  o.listen = "256.1.1.1:0";
  auto made = Server::Make(o);
  ASSERT_TRUE(made.ok());
  EXPECT_FALSE((*made)->Start().ok());
}

TEST(ApiServerMake, ListensOnIpv6Loopback) {
  ServerOptions o;
  o.run_controllers = false;  // API only: these tests exercise the REST surface
  o.store = std::shared_ptr<Store>(MakeMemoryStore());
  o.admin_token = kToken;
  o.listen = "[::1]:0";
  auto made = Server::Make(o);
  ASSERT_TRUE(made.ok());
  Status st = (*made)->Start();
  if (!st.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << st.ToString();
  EXPECT_EQ((*made)->url(), "http://[::1]:" + std::to_string((*made)->port()));
  HttpConnection c((*made)->port(), "::1");
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.Request("GET", "/healthz").status, 200);
  (*made)->Stop();
}

TEST(ApiServerMake, StopFromAnotherThreadWakesWait) {
  ServerOptions o;
  o.run_controllers = false;  // API only: these tests exercise the REST surface
  o.store = std::shared_ptr<Store>(MakeMemoryStore());
  o.admin_token = kToken;
  o.listen = "127.0.0.1:0";
  auto made = Server::Make(o);
  ASSERT_TRUE(made.ok());
  auto& server = *made;
  ASSERT_TRUE(server->Start().ok());
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    server->Stop();
  });
  server->Wait();
  stopper.join();
  EXPECT_FALSE(HttpConnection(server->port()).connected());
}

}  // namespace
}  // namespace tuna

namespace tuna {
namespace {

TEST(ApiServerMake, SigtermWakesWaitWhenSignalHandlersAreInstalled) {
  ServerOptions o;
  o.run_controllers = false;  // API only: these tests exercise the REST surface
  o.store = std::shared_ptr<Store>(MakeMemoryStore());
  o.admin_token = kToken;
  o.listen = "127.0.0.1:0";
  o.install_signal_handlers = true;
  auto made = Server::Make(o);
  ASSERT_TRUE(made.ok());
  auto& server = *made;
  ASSERT_TRUE(server->Start().ok());
  std::uint16_t port = server->port();
  std::thread sender([] {
    std::this_thread::sleep_for(50ms);
    ::raise(SIGTERM);  // our handler is installed: it wakes Wait() instead of ending the process
  });
  server->Wait();  // returns only after the server stopped
  sender.join();
  EXPECT_FALSE(HttpConnection(port).connected());
  // The previous disposition is back (gtest's default here), and a second Stop is harmless.
  struct sigaction current {};
  ::sigaction(SIGTERM, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_DFL);
  server->Stop();
}

}  // namespace
}  // namespace tuna
