// A canary rollout end to end through the real `tuna server` binary and the pool driver: v1 in
// production, then canaryPercent 30 with a new source: both revisions answer through the proxy
// sub-resource in about that proportion and status shows both; 0 sends everything to v1; 100
// promotes v2 and v1's workers are gone; setting the source back rolls back without a rebuild.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "artifacts/archive.hpp"
#include "support/tuna_server_fixture.hpp"

namespace tuna {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kNs = "/apis/tuna.ai/v1alpha1/namespaces/default";
const std::string kDep = kNs + "/agentdeployments/shop";

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// True when a live process carries `text` in its environment (or command line).
bool AnyProcessWith(const std::string& text) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (ReadAll(entry.path() / "environ").find(text) != std::string::npos) return true;
    if (ReadAll(entry.path() / "cmdline").find(text) != std::string::npos) return true;
  }
  return false;
}

class Canary : public testing::TunaServerTest {
 protected:
  // Uploads the test workload with its VERSION replaced; returns the digest.
  std::string UploadSource(const std::string& version) {
    fs::path src = fs::path(dir_.path()) / ("src-" + version);
    fs::create_directories(src);
    std::string app = ReadAll(std::string(TUNA_SOURCE_DIR) + "/tests/workloads/echo_app.py");
    app = std::regex_replace(app, std::regex("VERSION = \"v1\""), "VERSION = \"" + version + "\"");
    std::ofstream(src / "echo_app.py") << app;
    fs::path tgz = src.string() + ".tgz";
    EXPECT_TRUE(artifacts::CreateTarGz(src, tgz).ok());
    auto r = api_->Call("POST", "/artifacts", ReadAll(tgz), {{"Content-Type", "application/octet-stream"}});
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(json::parse(r.body).at("digest").as_string());
  }

  json::value Get(const std::string& path) {
    auto r = api_->Get(path);
    if (r.status != 200) return nullptr;
    return json::parse(r.body);
  }

  json::value WaitFor(const std::string& path, const std::function<bool(const json::value&)>& pred,
                      std::chrono::seconds timeout = 60s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    json::value last;
    while (std::chrono::steady_clock::now() < deadline) {
      last = Get(path);
      if (!last.is_null() && pred(last)) return last;
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "timed out waiting on " << path << "; last: " << json::serialize(last) << "\nserver log:\n"
                  << ServerLog();
    return last;
  }

  static std::string Str(const json::value& v, std::initializer_list<std::string_view> path) {
    return testing::JsonStr(v, path);
  }

  // The Canary condition of a deployment, or null.
  static json::value CanaryCondition(const json::value& dep) {
    const auto* st = dep.as_object().if_contains("status");
    const auto* conds = st && st->is_object() ? st->get_object().if_contains("conditions") : nullptr;
    if (conds == nullptr || !conds->is_array()) return nullptr;
    for (const auto& c : conds->get_array()) {
      if (Str(c, {"type"}) == "Canary") return c;
    }
    return nullptr;
  }

  // One call through the proxy sub-resource; returns the answering workload's version.
  std::string Invoke(const std::string& path = "/hello") {
    auto r = api_->Post(kDep + "/proxy/production" + path, "ping");
    if (r.status != 200) return "HTTP " + std::to_string(r.status) + ": " + r.body;
    return Str(json::parse(r.body), {"version"});
  }

  // `n` calls; answers counted by version.
  std::map<std::string, int> Spray(int n) {
    std::map<std::string, int> seen;
    for (int i = 0; i < n; ++i) ++seen[Invoke()];
    return seen;
  }

  void Patch(const std::string& body) {
    auto r = api_->Patch(kDep, body);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  std::string ProductionSourcePatch(const std::string& digest) {
    return R"({"stages":{"production":{"source":{"archive":")" + digest + R"("}}}})";
  }

  std::size_t CountBuilds() {
    auto list = Get(kNs + "/agentbuilds?labelSelector=tuna.ai/deployment%3Dshop");
    return list.is_null() ? 0 : list.at("items").as_array().size();
  }
};

TEST_F(Canary, SplitPromoteAndRollBackThroughTheProxy) {
  json::object env = {{"apiVersion", "tuna.ai/v1alpha1"},
                      {"kind", "AgentEnvironment"},
                      {"metadata", {{"name", "proc"}}},
                      {"spec",
                       {{"runtime", "process"},
                        {"buildScript", "echo building"},
                        {"workerCommand", python_ + " " + std::string(TUNA_SOURCE_DIR) + "/runtimes/python/worker.py"},
                        {"poolSize", 1}}}};
  ASSERT_EQ(api_->Post(kNs + "/agentenvironments", json::serialize(env)).status, 201);
  const std::string v1 = UploadSource("v1");
  const std::string v2 = UploadSource("v2");
  json::object dep = {{"apiVersion", "tuna.ai/v1alpha1"},
                      {"kind", "AgentDeployment"},
                      {"metadata", {{"name", "shop"}}},
                      {"spec",
                       {{"environmentName", "proc"},
                        {"entrypoint", "echo_app.py:handle"},
                        {"stages", {{"production", {{"source", {{"archive", v1}}}}}}}}}};
  ASSERT_EQ(api_->Post(kNs + "/agentdeployments", json::serialize(dep)).status, 201);
  auto d = WaitFor(kDep, [](const json::value& v) { return Str(v, {"status", "phase"}) == "ProductionDeployed"; });
  const std::string rev1 = Str(d, {"status", "revisions", "production", "revision"});
  EXPECT_EQ(Invoke(), "v1");

  // canaryPercent 30 and a new source in one change: v2 is built and deployed beside v1.
  Patch(R"({"spec":{"rollout":{"canaryPercent":30},)" + ProductionSourcePatch(v2).substr(1) + "}");
  d = WaitFor(kDep, [](const json::value& v) {
    return !Str(v, {"status", "revisions", "production", "previous", "revision"}).empty();
  });
  const std::string rev2 = Str(d, {"status", "revisions", "production", "revision"});
  EXPECT_NE(rev2, rev1);
  EXPECT_EQ(Str(d, {"status", "revisions", "production", "previous", "revision"}), rev1);
  EXPECT_EQ(Str(d, {"status", "revisions", "production", "previous", "archive"}),
            Str(Get(kNs + "/agentbuilds/" + Str(d, {"status", "revisions", "production", "previous", "build"})),
                {"status", "artifactDigest"}));
  auto canary = CanaryCondition(d);
  EXPECT_EQ(Str(canary, {"status"}), "True");
  EXPECT_EQ(Str(canary, {"message"}), "revision " + rev2 + " gets 30% of production, " + rev1 + " the rest");

  // ~200 proxied calls: both answer, v2 about 30% (60 expected; 30..90 is beyond 4.5 sd).
  auto seen = Spray(200);
  EXPECT_EQ(seen["v1"] + seen["v2"], 200) << "unexpected answers";
  EXPECT_GE(seen["v2"], 30);
  EXPECT_LE(seen["v2"], 90);

  // 0: everything to v1 (the split follows the spec at once). Note v1's worker sockets.
  Patch(R"({"spec":{"rollout":{"canaryPercent":0}}})");
  EXPECT_EQ(Spray(20)["v1"], 20);
  std::set<std::string> v1_sockets;
  for (int i = 0; i < 5; ++i) {
    auto r = api_->Get(kDep + "/proxy/production/socket");
    ASSERT_EQ(r.status, 200) << r.body;
    v1_sockets.insert(Str(json::parse(r.body), {"socket"}));
  }
  ASSERT_FALSE(v1_sockets.empty());
  for (const auto& s : v1_sockets) EXPECT_TRUE(AnyProcessWith("TUNA_WORKER_SOCKET=" + s)) << s;

  // 100 promotes: v1 is retired, its workers stop, only v2 answers.
  Patch(R"({"spec":{"rollout":{"canaryPercent":100}}})");
  d = WaitFor(kDep, [](const json::value& v) {
    return Str(v, {"status", "revisions", "production", "previous", "revision"}).empty() &&
           Str(CanaryCondition(v), {"reason"}) == "Promoted";
  });
  EXPECT_EQ(Str(d, {"status", "revisions", "production", "revision"}), rev2);
  EXPECT_EQ(Str(CanaryCondition(d), {"status"}), "False");
  EXPECT_EQ(Spray(30)["v2"], 30);
  WaitFor(kDep, [&](const json::value&) {
    for (const auto& s : v1_sockets) {
      if (AnyProcessWith("TUNA_WORKER_SOCKET=" + s)) return false;
    }
    return true;
  }, 20s);
  const auto revisions = fs::path(dir_.path()) / "data/pool/revisions";
  for (const auto& e : fs::directory_iterator(revisions)) {
    EXPECT_EQ(e.path().filename().string().find(rev1), std::string::npos) << "v1 still placed: " << e.path();
  }
  auto described = Tuna({"describe", "agentdeployment", "shop"});
  EXPECT_EQ(described.exit_code, 0) << described.err;
  EXPECT_NE(described.out.find("Promoted"), std::string::npos) << described.out;

  // Rolling back by setting the source back still works, and reuses v1's build.
  const std::size_t builds = CountBuilds();
  Patch("{\"spec\":" + ProductionSourcePatch(v1) + "}");
  WaitFor(kDep, [&](const json::value& v) { return Str(v, {"status", "revisions", "production", "revision"}) == rev1; });
  EXPECT_EQ(Spray(20)["v1"], 20);
  EXPECT_EQ(CountBuilds(), builds);
}

}  // namespace
}  // namespace tuna
