// End to end: petstore tools call a real HTTP server on 127.0.0.1 (tuna's net::HttpServer) and
// the test checks the exact request that arrives and the tool results, including failures.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "net/http_server.hpp"
#include "openapi/fixtures.hpp"
#include "tuna/jsonrpc.hpp"
#include "tuna/mcp/server.hpp"
#include "tuna/openapi.hpp"

namespace json = boost::json;

namespace tuna {
namespace {

using testing::LoadFixture;

// A petstore double on a real socket: records every request, answers by path.
class PetstoreUpstream {
 public:
  PetstoreUpstream() {
    net::HttpServerOptions options;
    options.drain_timeout = std::chrono::milliseconds(200);
    server_ = std::make_unique<net::HttpServer>(options, [this](net::HttpRequest& req) { return Handle(req); });
    auto status = server_->Start("127.0.0.1", 0);
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  ~PetstoreUpstream() {
    Release();
    server_->Stop();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/api/v3"; }
  std::vector<net::HttpRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  net::HttpResponse Handle(net::HttpRequest& req) {
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
    }
    net::HttpResponse resp;
    if (req.path == "/api/v3/pet/404") {
      resp.status = 404;
      resp.body = R"({"code":404,"message":"Pet not found"})";
    } else if (req.path == "/api/v3/pet/999") {  // hangs until the test ends
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(10), [this] { return released_; });
      resp.body = "{}";
    } else if (req.path == "/api/v3/pet/1000") {  // far more than the tool keeps
      resp.content_type = "text/plain";
      resp.body = std::string(4 << 20, 'x');
    } else if (req.path == "/api/v3/pet/findByStatus") {
      resp.body = R"([{"id":1}])";
    } else if (req.method == "POST" && req.path == "/api/v3/pet") {
      resp.body = req.body;
    } else if (req.path.rfind("/api/v3/pet/", 0) == 0) {
      resp.body = R"({"id":)" + req.path.substr(12) + R"(,"name":"doggie"})";
    } else {
      resp.status = 500;
    }
    return resp;
  }

  std::unique_ptr<net::HttpServer> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::vector<net::HttpRequest> requests_;
};

struct Toolset {
  std::vector<mcp::Tool> tools;
  mcp::ToolResult Call(const std::string& name, std::string_view args) {
    for (const auto& t : tools) {
      if (t.name == name) {
        auto r = t.handler(json::parse(args).as_object(), mcp::ToolContext());
        EXPECT_TRUE(r.ok()) << r.status().ToString();  // failures are is_error results, not statuses
        return r.ok() ? *r : mcp::ToolResult::Failure(r.status().message());
      }
    }
    ADD_FAILURE() << "no tool " << name;
    return {};
  }
};

std::string Text(const mcp::ToolResult& r) {
  return r.content.empty() ? std::string() : std::string(r.content[0].at("text").as_string());
}

openapi::ToolsetOptions PetstoreOptions(const std::string& base_url) {
  openapi::ToolsetOptions options;
  options.base_url = base_url;
  options.headers = {{"X-Static", "static-value"}};
  options.credentials = HttpCredentials{CredentialType::kApiKey, {"petstore", "api_key"}, "", ""};
  options.secrets = [](const SecretKeyRef& ref) -> Result<std::string> {
    if (ref.name == "petstore" && ref.key == "api_key") return std::string("s3cret");
    return NotFound("no secret " + ref.name);
  };
  options.caller.timeout = std::chrono::milliseconds(1000);
  options.caller.max_response_bytes = 64 * 1024;
  return options;
}

TEST(OpenApiCall, RequestsArriveExactlyWithCredentials) {
  PetstoreUpstream upstream;
  auto doc = LoadFixture("swagger-petstore.yaml");
  auto tools = openapi::MakeTools(doc, PetstoreOptions(upstream.base_url()));
  ASSERT_TRUE(tools.ok()) << tools.status().ToString();
  Toolset set{std::move(*tools)};

  auto got = set.Call("getPetById", R"({"petId": 42})");
  EXPECT_FALSE(got.is_error) << Text(got);
  ASSERT_TRUE(got.structured_content);
  EXPECT_EQ(*got.structured_content, json::parse(R"({"id":42,"name":"doggie"})"));

  auto added = set.Call("addPet", R"({"name": "rex", "photoUrls": ["p1"], "tags": [{"id": 1, "name": "t"}]})");
  EXPECT_FALSE(added.is_error) << Text(added);

  auto found = set.Call("findPetsByStatus", R"({"status": "pending"})");
  EXPECT_FALSE(found.is_error);
  EXPECT_FALSE(found.structured_content);  // an array is text only
  EXPECT_EQ(Text(found), R"([{"id":1}])");

  auto reqs = upstream.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/api/v3/pet/42");
  EXPECT_EQ(reqs[0].Header("api_key"), "s3cret");
  EXPECT_EQ(reqs[0].Header("X-Static"), "static-value");
  EXPECT_EQ(reqs[0].body, "");
  EXPECT_EQ(reqs[1].method, "POST");
  EXPECT_EQ(reqs[1].target, "/api/v3/pet");
  EXPECT_EQ(reqs[1].Header("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(reqs[1].body), json::parse(R"({"name":"rex","photoUrls":["p1"],"tags":[{"id":1,"name":"t"}]})"));
  EXPECT_EQ(reqs[2].target, "/api/v3/pet/findByStatus?status=pending");
  // One connection carried all three calls.
  EXPECT_EQ(reqs[0].remote_address, reqs[1].remote_address);
  EXPECT_EQ(reqs[1].remote_address, reqs[2].remote_address);
}

TEST(OpenApiCall, ErrorStatusTimeoutHugeBodyAndRefusedConnection) {
  PetstoreUpstream upstream;
  auto doc = LoadFixture("swagger-petstore.yaml");
  auto tools = openapi::MakeTools(doc, PetstoreOptions(upstream.base_url()));
  ASSERT_TRUE(tools.ok()) << tools.status().ToString();
  Toolset set{std::move(*tools)};

  auto missing = set.Call("getPetById", R"({"petId": 404})");
  EXPECT_TRUE(missing.is_error);
  EXPECT_EQ(Text(missing).rfind("HTTP 404 Not Found", 0), 0u) << Text(missing);
  EXPECT_NE(Text(missing).find("Pet not found"), std::string::npos);

  auto hanging = set.Call("getPetById", R"({"petId": 999})");
  EXPECT_TRUE(hanging.is_error);
  EXPECT_NE(Text(hanging).find("timed out"), std::string::npos) << Text(hanging);
  upstream.Release();

  auto huge = set.Call("getPetById", R"({"petId": 1000})");
  EXPECT_FALSE(huge.is_error) << Text(huge).substr(0, 200);
  EXPECT_LE(Text(huge).size(), 64u * 1024 + 100);
  EXPECT_NE(Text(huge).find("[response truncated after 65536 bytes]"), std::string::npos);

  auto bad_args = set.Call("getPetById", R"({})");
  EXPECT_TRUE(bad_args.is_error);
  EXPECT_NE(Text(bad_args).find("petId"), std::string::npos);

  // Nothing listens on the port of a stopped server.
  std::string dead_url;
  {
    net::HttpServer dead({}, [](net::HttpRequest&) { return net::HttpResponse{}; });
    ASSERT_TRUE(dead.Start("127.0.0.1", 0).ok());
    dead_url = "http://127.0.0.1:" + std::to_string(dead.port());
  }
  auto refused_tools = openapi::MakeTools(doc, PetstoreOptions(dead_url));
  ASSERT_TRUE(refused_tools.ok());
  Toolset refused{std::move(*refused_tools)};
  auto r = refused.Call("getPetById", R"({"petId": 1})");
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(Text(r).find("request failed: GET " + dead_url + "/pet/1"), std::string::npos) << Text(r);

  // A secret that cannot be read is an error result, and nothing is sent.
  auto options = PetstoreOptions(upstream.base_url());
  options.credentials->secret_ref.name = "absent";
  auto no_secret_tools = openapi::MakeTools(doc, options);
  ASSERT_TRUE(no_secret_tools.ok());
  Toolset no_secret{std::move(*no_secret_tools)};
  std::size_t before = upstream.requests().size();
  auto s = no_secret.Call("getPetById", R"({"petId": 1})");
  EXPECT_TRUE(s.is_error);
  EXPECT_NE(Text(s).find("absent/api_key"), std::string::npos) << Text(s);
  EXPECT_EQ(upstream.requests().size(), before);
}

TEST(OpenApiCall, ThroughAnMcpServer) {
  PetstoreUpstream upstream;
  auto doc = LoadFixture("swagger-petstore.yaml");
  HTTPToolDeploymentSpec spec;
  spec.base_url = upstream.base_url();
  spec.operations = {"getPetById", "GET /pet/findByStatus"};
  spec.timeout_seconds = 5;
  spec.headers = {{"X-Tenant", "t1"}};
  auto options = openapi::OptionsFromSpec(spec, nullptr);
  auto tools = openapi::MakeTools(doc, options);
  ASSERT_TRUE(tools.ok()) << tools.status().ToString();
  auto server = mcp::Server::Make({.name = "petstore"});
  for (auto& t : *tools) ASSERT_TRUE(server->AddTool(std::move(t)).ok());
  EXPECT_EQ(server->ToolNames(), (std::vector<std::string>{"findPetsByStatus", "getPetById"}));

  mcp::SessionState state;
  auto init = jsonrpc::ParseMessage(json::serialize(jsonrpc::MakeRequest(
      1, "initialize", json::object{{"protocolVersion", "2025-06-18"}, {"capabilities", json::object{}},
                                    {"clientInfo", json::object{{"name", "t"}, {"version", "1"}}}})));
  ASSERT_TRUE(init.message);
  ASSERT_TRUE(server->Handle(*init.message, state));
  auto call = jsonrpc::ParseMessage(json::serialize(jsonrpc::MakeRequest(
      2, "tools/call", json::object{{"name", "getPetById"}, {"arguments", json::object{{"petId", 5}}}})));
  ASSERT_TRUE(call.message);
  auto answer = server->Handle(*call.message, state);
  ASSERT_TRUE(answer);
  const auto& result = answer->at("result").as_object();
  EXPECT_EQ(result.at("isError"), false);
  EXPECT_EQ(result.at("structuredContent"), json::parse(R"({"id":5,"name":"doggie"})"));
  auto reqs = upstream.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].Header("X-Tenant"), "t1");
  EXPECT_EQ(reqs[0].Header("api_key"), "");  // no credentials configured
}

}  // namespace
}  // namespace tuna

namespace tuna {
namespace {

TEST(OpenApiCall, FetchDocumentResolvesRelativeServers) {
  auto doc = LoadFixture("swagger-petstore.yaml");
  json::value variant = doc.root;  // derived: a relative server URL, as many hosted documents have
  variant.as_object()["servers"] = json::parse(R"([{"url": "/api/v3"}])");
  std::string body = json::serialize(variant);
  net::HttpServer server({}, [&](net::HttpRequest& req) {
    net::HttpResponse resp;
    if (req.path == "/specs/openapi.json") {
      resp.body = body;
    } else {
      resp.status = 404;
    }
    return resp;
  });
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  std::string origin = "http://127.0.0.1:" + std::to_string(server.port());
  auto fetched = openapi::FetchDocument(origin + "/specs/openapi.json");
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(openapi::ResolveBaseUrl(*fetched).value_or("?"), origin + "/api/v3");
  auto missing = openapi::FetchDocument(origin + "/nope.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("HTTP 404"), std::string::npos) << missing.status().message();
  auto small = openapi::FetchDocument(origin + "/specs/openapi.json", {}, 1000);
  EXPECT_EQ(small.status().code(), StatusCode::kResourceExhausted);

  OpenApiSource source;
  source.url = origin + "/specs/openapi.json";
  EXPECT_TRUE(openapi::LoadSource(source).ok());
  OpenApiSource file;
  file.file = "swagger-petstore.yaml";
  auto from_file = openapi::LoadSource(file, testing::OpenApiFixturesDir().string());
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  EXPECT_EQ(from_file->version, "3.0.4");
  file.file = "../openapi/swagger-petstore.yaml";
  EXPECT_FALSE(openapi::LoadSource(file, testing::OpenApiFixturesDir().string()).ok());
  OpenApiSource inline_doc;
  inline_doc.inline_document = doc.root;
  EXPECT_TRUE(openapi::LoadSource(inline_doc).ok());
  EXPECT_FALSE(openapi::LoadSource(OpenApiSource{}).ok());
}

}  // namespace
}  // namespace tuna
