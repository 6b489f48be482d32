// Agent identity through the real `tuna server`: a deployed agent revision's workers get
// TUNA_GATEWAY_URL, TUNA_NAMESPACE, TUNA_AGENT, TUNA_STAGE, TUNA_REVISION and TUNA_API_KEY, an
// invoke key of the namespace that reads there and calls the gateway there, is refused (403) on
// writes and in other namespaces, is listed as owned by the deployment and cannot be deleted
// through the key API, is revoked when its revision is replaced or deleted, and is replaced after a
// restart.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "artifacts/archive.hpp"
#include "support/tuna_server_fixture.hpp"

namespace tuna::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kApi = "/apis/tuna.ai/v1alpha1/namespaces/";
const std::string kNs = kApi + "default";

class AgentIdentity : public TunaServerTest {
 protected:
  // The echo app; `variant` makes another source (another revision) of it.
  std::string UploadEchoApp(const std::string& variant = "") {
    fs::path src = fs::path(dir_.path()) / ("src" + variant);
    fs::create_directories(src);
    fs::copy_file(std::string(TUNA_SOURCE_DIR) + "/tests/workloads/echo_app.py", src / "echo_app.py");
    if (!variant.empty()) std::ofstream(src / "VARIANT") << variant << "\n";
    fs::path tgz = src.string() + ".tgz";
    EXPECT_TRUE(artifacts::CreateTarGz(src, tgz).ok());
    std::ifstream t(tgz, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(t)), std::istreambuf_iterator<char>());
    auto r = api_->Call("POST", "/artifacts", bytes, {{"Content-Type", "application/octet-stream"}});
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(json::parse(r.body).at("digest").as_string());
  }

  void Apply(const std::string& plural, const json::object& obj) {
    auto r = api_->Post(kNs + "/" + plural, json::serialize(obj));
    ASSERT_EQ(r.status, 201) << r.body;
  }

  // The echo app, staging only; the deployment's own env tries to set TUNA_STAGE and TUNA_API_KEY.
  void Deploy(const std::string& digest) {
    Apply("agentenvironments",
          {{"apiVersion", "tuna.ai/v1alpha1"},
           {"kind", "AgentEnvironment"},
           {"metadata", {{"name", "proc"}}},
           {"spec",
            {{"runtime", "process"},
             {"buildScript", "true"},
             {"workerCommand", python_ + " " + std::string(TUNA_SOURCE_DIR) + "/runtimes/python/worker.py"},
             {"poolSize", 1}}}});
    Apply("agentdeployments",
          {{"apiVersion", "tuna.ai/v1alpha1"},
           {"kind", "AgentDeployment"},
           {"metadata", {{"name", "echo"}}},
           {"spec",
            {{"environmentName", "proc"},
             {"entrypoint", "echo_app.py:handle"},
             {"env", {{"TUNA_STAGE", "production"}, {"TUNA_API_KEY", "forged"}}},
             {"stages", {{"staging", {{"source", {{"archive", digest}}}}}}}}}});
  }

  // A variable of the deployed staging worker's environment (echo_app.py answers GET /env?name=).
  std::string WorkerEnv(const std::string& name) {
    auto r = api_->Get(kNs + "/agentdeployments/echo/proxy/staging/env?name=" + name);
    if (r.status != 200) return "HTTP " + std::to_string(r.status) + ": " + r.body;
    auto v = json::parse(r.body).at("value");
    return v.is_string() ? std::string(v.as_string()) : "<unset>";
  }

  json::value WaitForDeployed(std::chrono::seconds timeout = 90s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    json::value last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = api_->Get(kNs + "/agentdeployments/echo");
      if (r.status == 200) {
        last = json::parse(r.body);
        if (JsonStr(last, {"status", "phase"}) == "StagingDeployed" && WorkerEnv("TUNA_API_KEY").rfind("tuna_", 0) == 0) {
          return last;
        }
      }
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "echo was not deployed: " << json::serialize(last) << "\n" << ServerLog();
    return last;
  }

  ApiClient As(const std::string& token) { return ApiClient(static_cast<std::uint16_t>(std::stoi(port_)), token); }

  // Polls until the key gets `status` on a read of the default namespace.
  bool WaitForKeyStatus(const std::string& token, int status, std::chrono::seconds timeout = 20s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (As(token).Get(kNs + "/agentmemories").status == status) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
};

TEST_F(AgentIdentity, WorkersGetAnInvokeKeyOfTheirNamespaceThatGoesWithTheRevision) {
  Deploy(UploadEchoApp());
  auto dep = WaitForDeployed();
  const std::string revision = JsonStr(dep, {"status", "revisions", "staging", "revision"});
  ASSERT_FALSE(revision.empty());

  // Who the worker is; the deployment's env cannot override it.
  EXPECT_EQ(WorkerEnv("TUNA_GATEWAY_URL"), url_);
  EXPECT_EQ(WorkerEnv("TUNA_NAMESPACE"), "default");
  EXPECT_EQ(WorkerEnv("TUNA_AGENT"), "echo");
  EXPECT_EQ(WorkerEnv("TUNA_STAGE"), "staging");
  EXPECT_EQ(WorkerEnv("TUNA_REVISION"), revision);
  const std::string key = WorkerEnv("TUNA_API_KEY");
  ASSERT_EQ(key.rfind("tuna_", 0), 0u) << key;
  ApiClient agent = As(key);

  // Invoke in its namespace: reads, and the gateway (memory its binding lists).
  ASSERT_EQ(api_->Post(kNs + "/agentmemories",
                       R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory","metadata":{"name":"notes"},"spec":{"type":"conversation"}})")
                .status,
            201);
  ASSERT_EQ(api_->Post(kNs + "/agentresourcebindings",
                       R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentResourceBinding","metadata":{"name":"echo-binding"},)"
                       R"("spec":{"agentName":"echo","memories":[{"name":"notes"}]}})")
                .status,
            201);
  EXPECT_EQ(agent.Get(kNs + "/agentdeployments/echo").status, 200);
  auto appended = agent.Post("/memory/default/echo/notes/c1", R"({"role":"user","content":"hi"})");
  EXPECT_EQ(appended.status, 201) << appended.body;
  auto history = agent.Get("/memory/default/echo/notes/c1");
  EXPECT_EQ(history.status, 200) << history.body;
  EXPECT_NE(history.body.find("\"hi\""), std::string::npos) << history.body;

  // Never more than invoke: writes are refused, and so is every other namespace.
  auto write = agent.Post(kNs + "/agentmemories",
                          R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory","metadata":{"name":"mine"},"spec":{"type":"kv"}})");
  EXPECT_EQ(write.status, 403) << write.body;
  EXPECT_EQ(agent.Delete(kNs + "/agentdeployments/echo").status, 403);
  EXPECT_EQ(agent.Get(kNs + "/apikeys").status, 403);
  EXPECT_EQ(agent.Post(kNs + "/apikeys", R"({"metadata":{"name":"escalate"},"spec":{"scope":"admin"}})").status, 403);
  auto other = agent.Get(kApi + "team-b/agentmemories");
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_NE(other.body.find("belongs to namespace default"), std::string::npos) << other.body;
  EXPECT_EQ(agent.Get("/apis/tuna.ai/v1alpha1/agentmemories").status, 403);
  auto a2a_other = agent.Post("/a2a/team-b/echo", R"({"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}})");
  EXPECT_EQ(a2a_other.status, 403) << a2a_other.body;
  EXPECT_EQ(agent.Post("/memory/team-b/echo/notes/c1", R"({"role":"user","content":"hi"})").status, 403);

  // Listed for the namespace's admins, labelled, and not deletable through the key API.
  auto listed = api_->Get(kNs + "/apikeys");
  ASSERT_EQ(listed.status, 200);
  const std::string name = "agent:echo:staging:" + revision;
  bool found = false;
  const json::value listed_doc = json::parse(listed.body);
  for (const auto& item : listed_doc.at("items").as_array()) {
    if (JsonStr(item, {"metadata", "name"}) != name) continue;
    found = true;
    EXPECT_EQ(JsonStr(item, {"spec", "scope"}), "invoke");
    EXPECT_EQ(JsonStr(item, {"metadata", "labels", "tuna.ai/managed-by"}), "AgentDeployment");
  }
  EXPECT_TRUE(found) << listed.body;
  auto del = api_->Delete(kNs + "/apikeys/" + name);
  EXPECT_EQ(del.status, 412) << del.body;
  EXPECT_EQ(agent.Get(kNs + "/agentmemories").status, 200);

  // A new revision replaces this one: it gets its own key, and this one is revoked with it.
  const std::string v2 = UploadEchoApp("v2");
  ASSERT_EQ(api_->Patch(kNs + "/agentdeployments/echo",
                        R"({"spec":{"stages":{"staging":{"source":{"archive":")" + v2 + R"("}}}}})")
                .status,
            200);
  std::string revision2;
  for (auto deadline = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < deadline;) {
    auto r = api_->Get(kNs + "/agentdeployments/echo");
    revision2 = JsonStr(json::parse(r.body), {"status", "revisions", "staging", "revision"});
    if (revision2 != revision && WorkerEnv("TUNA_REVISION") == revision2) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_NE(revision2, revision) << ServerLog();
  const std::string key_v2 = WorkerEnv("TUNA_API_KEY");
  ASSERT_EQ(key_v2.rfind("tuna_", 0), 0u) << key_v2;
  EXPECT_NE(key_v2, key);
  EXPECT_TRUE(WaitForKeyStatus(key, 401)) << ServerLog();
  EXPECT_EQ(As(key_v2).Get(kNs + "/agentmemories").status, 200);

  // A restart (even a crash) places the revision again with a fresh key; the old one is dead.
  server_->Kill(SIGKILL);
  server_->Wait(20s);
  StartServer();
  WaitForDeployed();
  EXPECT_EQ(WorkerEnv("TUNA_GATEWAY_URL"), url_);  // the new port
  const std::string key2 = WorkerEnv("TUNA_API_KEY");
  ASSERT_EQ(key2.rfind("tuna_", 0), 0u) << key2;
  EXPECT_NE(key2, key_v2);
  EXPECT_EQ(As(key_v2).Get(kNs + "/agentmemories").status, 401);
  EXPECT_EQ(As(key2).Get(kNs + "/agentmemories").status, 200);

  // Deleting the deployment revokes it.
  ASSERT_EQ(api_->Delete(kNs + "/agentdeployments/echo").status, 200);
  EXPECT_TRUE(WaitForKeyStatus(key2, 401)) << ServerLog();
  auto after = api_->Get(kNs + "/apikeys");
  EXPECT_EQ(after.body.find("agent:echo"), std::string::npos) << after.body;
}

class AgentIdentityPublicUrl : public AgentIdentity {
 protected:
  void SetUp() override {
    server_args_ = {"--public-url", "https://tuna.example.com:8443/"};
    AgentIdentity::SetUp();
  }
};

TEST_F(AgentIdentityPublicUrl, WorkersGetThePublicUrlWhenOneIsSet) {
  Deploy(UploadEchoApp());
  WaitForDeployed();
  EXPECT_EQ(WorkerEnv("TUNA_GATEWAY_URL"), "https://tuna.example.com:8443");
}

}  // namespace
}  // namespace tuna::testing
