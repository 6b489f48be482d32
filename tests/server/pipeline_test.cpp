// The build/deploy pipeline end to end through the real `tuna server` binary: environment and
// deployment applied over the REST API, builds on the pool driver (bubblewrap when installed),
// revisions invoked through the proxy sub-resource, promotion, rollback, a failing build that
// keeps the last good revision serving, deletion, and a server SIGKILLed mid-build.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "artifacts/archive.hpp"
#include "support/tuna_server_fixture.hpp"

namespace tuna {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kNs = "/apis/tuna.ai/v1alpha1/namespaces/default";

// Every live process whose command line contains `needle`.
std::vector<int> ProcessesMatching(const std::string& needle) {
  std::vector<int> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (auto& c : cmd) {
      if (c == '\0') c = ' ';
    }
    if (cmd.find(needle) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

class Pipeline : public testing::TunaServerTest {
 protected:
  // Writes a source tree with the test workload (its VERSION replaced) and uploads it.
  std::string UploadSource(const std::string& version, bool poison = false) {
    fs::path src = fs::path(dir_.path()) / ("src-" + version + (poison ? "-poison" : ""));
    fs::create_directories(src);
    std::ifstream in(std::string(TUNA_SOURCE_DIR) + "/tests/workloads/echo_app.py");
    std::string app((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    app = std::regex_replace(app, std::regex("VERSION = \"v1\""), "VERSION = \"" + version + "\"");
    std::ofstream(src / "echo_app.py") << app;
    if (poison) std::ofstream(src / "FAIL") << "this source fails its build\n";
    fs::path tgz = src.string() + ".tgz";
    EXPECT_TRUE(artifacts::CreateTarGz(src, tgz).ok());
    std::ifstream t(tgz, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(t)), std::istreambuf_iterator<char>());
    auto r = api_->Call("POST", "/artifacts", bytes, {{"Content-Type", "application/octet-stream"}});
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(json::parse(r.body).at("digest").as_string());
  }

  void CreateEnvironment(const std::string& name, const std::string& build_script, int time_limit = 600) {
    json::object env = {
        {"apiVersion", "tuna.ai/v1alpha1"},
        {"kind", "AgentEnvironment"},
        {"metadata", {{"name", name}}},
        {"spec",
         {{"runtime", "process"},
          {"buildScript", build_script},
          {"workerCommand", python_ + " " + std::string(TUNA_SOURCE_DIR) + "/runtimes/python/worker.py"},
          {"poolSize", 1},
          {"buildTimeLimitSeconds", time_limit}}}};
    auto r = api_->Post(kNs + "/agentenvironments", json::serialize(env));
    ASSERT_EQ(r.status, 201) << r.body;
  }

  void CreateDeployment(const std::string& name, const std::string& env, const std::string& digest) {
    json::object dep = {{"apiVersion", "tuna.ai/v1alpha1"},
                        {"kind", "AgentDeployment"},
                        {"metadata", {{"name", name}}},
                        {"spec",
                         {{"environmentName", env},
                          {"entrypoint", "echo_app.py:handle"},
                          {"stages", {{"staging", {{"source", {{"archive", digest}}}}}}}}}};
    auto r = api_->Post(kNs + "/agentdeployments", json::serialize(dep));
    ASSERT_EQ(r.status, 201) << r.body;
  }

  json::value Get(const std::string& path) {
    auto r = api_->Get(path);
    if (r.status != 200) return nullptr;
    return json::parse(r.body);
  }

  // Polls `path` until `pred` holds; returns the last object seen.
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


  // Calls the stage's revision through the proxy sub-resource; returns the workload's "version".
  std::string Invoke(const std::string& name, const std::string& stage) {
    auto r = api_->Post(kNs + "/agentdeployments/" + name + "/proxy/" + stage + "/hello", "ping");
    if (r.status != 200) return "HTTP " + std::to_string(r.status) + ": " + r.body;
    auto body = json::parse(r.body);
    EXPECT_EQ(Str(body, {"echo"}), "ping");
    return Str(body, {"version"});
  }

  // Worker processes started by this test's server (their socket lives under its data dir).
  std::vector<int> WorkersOfThisServer() {
    std::vector<int> mine;
    for (int pid : ProcessesMatching("worker.py")) {
      std::ifstream env(fs::path("/proc") / std::to_string(pid) / "environ", std::ios::binary);
      std::string e((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
      if (e.find(dir_.path()) != std::string::npos) mine.push_back(pid);
    }
    return mine;
  }

  std::size_t CountBuilds(const std::string& deployment) {
    auto list = Get(kNs + "/agentbuilds?labelSelector=tuna.ai/deployment%3D" + deployment);
    return list.is_null() ? 0 : list.at("items").as_array().size();
  }

};

auto Phase(std::string want) {
  return [want](const json::value& v) {
    const auto* st = v.as_object().if_contains("status");
    return st && st->is_object() && st->get_object().contains("phase") && st->at("phase").as_string() == want;
  };
}

TEST_F(Pipeline, BuildDeployPromoteRollbackFailAndDelete) {
  // The build script fails for a source that carries a FAIL file.
  CreateEnvironment("proc", "echo building; test ! -f FAIL || { echo 'poisoned source' >&2; exit 3; }");
  const std::string v1 = UploadSource("v1");
  CreateDeployment("echo", "proc", v1);

  auto dep = WaitFor(kNs + "/agentdeployments/echo", Phase("StagingDeployed"));
  EXPECT_EQ(Invoke("echo", "staging"), "v1");
  std::string build = Str(dep, {"status", "revisions", "staging", "build"});
  auto b = Get(kNs + "/agentbuilds/" + build);
  EXPECT_EQ(Str(b, {"status", "phase"}), "Succeeded");
  EXPECT_EQ(b.at("metadata").at("ownerReferences").at(0).at("name").as_string(), "echo");
  EXPECT_EQ(Str(dep, {"status", "currentBuilds", "staging"}), "");  // cleared on the terminal phase
  auto log = api_->Get(kNs + "/agentbuilds/" + build + "/log");
  EXPECT_EQ(log.status, 200);
  EXPECT_NE(log.body.find("building"), std::string::npos) << log.body;
  auto logs = Tuna({"logs", "build/" + build, "-f"});  // a finished build: -f returns at its end
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_EQ(logs.out, log.body);
  auto workers = Tuna({"logs", "agentdeployment/echo", "--stage", "staging"});  // what the stage's workers wrote
  EXPECT_EQ(workers.exit_code, 0) << workers.err;
  EXPECT_NE(workers.out.find("==> worker "), std::string::npos) << workers.out;
  auto no_logs = Tuna({"logs", "agentenvironment/python311"});
  EXPECT_EQ(no_logs.exit_code, 2) << no_logs.err;
  auto described = Tuna({"describe", "agentdeployment", "echo"});
  EXPECT_EQ(described.exit_code, 0) << described.err;
  EXPECT_NE(described.out.find("Events:"), std::string::npos) << described.out;
  EXPECT_NE(described.out.find("BuildCreated"), std::string::npos) << described.out;
  EXPECT_NE(described.out.find("staging revision"), std::string::npos) << described.out;

  // Promote: the same source to production.
  auto p = api_->Patch(kNs + "/agentdeployments/echo",
                       R"({"spec":{"stages":{"production":{"source":{"archive":")" + v1 + R"("}}}}})");
  ASSERT_EQ(p.status, 200) << p.body;
  WaitFor(kNs + "/agentdeployments/echo", Phase("ProductionDeployed"));
  EXPECT_EQ(Invoke("echo", "production"), "v1");

  // A new staging source: staging moves to v2, production stays on v1.
  const std::string v2 = UploadSource("v2");
  api_->Patch(kNs + "/agentdeployments/echo", R"({"spec":{"stages":{"staging":{"source":{"archive":")" + v2 + R"("}}}}})");
  WaitFor(kNs + "/agentdeployments/echo", [&](const json::value& v) {
    return Str(v, {"status", "revisions", "staging", "archive"}) != "" &&
           Str(v, {"status", "revisions", "staging", "build"}) != build && Phase("ProductionDeployed")(v);
  });
  EXPECT_EQ(Invoke("echo", "staging"), "v2");
  EXPECT_EQ(Invoke("echo", "production"), "v1");

  // Roll back by changing the source back: the earlier build is reused, nothing is rebuilt.
  std::size_t builds_before = CountBuilds("echo");
  api_->Patch(kNs + "/agentdeployments/echo", R"({"spec":{"stages":{"staging":{"source":{"archive":")" + v1 + R"("}}}}})");
  WaitFor(kNs + "/agentdeployments/echo",
          [&](const json::value& v) { return Str(v, {"status", "revisions", "staging", "build"}) == build; });
  EXPECT_EQ(Invoke("echo", "staging"), "v1");
  EXPECT_EQ(CountBuilds("echo"), builds_before);

  // A source whose build fails: the build is Failed with its log tail, staging keeps serving v1.
  const std::string bad = UploadSource("v3", /*poison=*/true);
  api_->Patch(kNs + "/agentdeployments/echo", R"({"spec":{"stages":{"staging":{"source":{"archive":")" + bad + R"("}}}}})");
  dep = WaitFor(kNs + "/agentdeployments/echo", [](const json::value& v) {
    for (const auto& c : v.at("status").as_object().if_contains("conditions")->as_array()) {
      if (c.at("type").as_string() == "BuildSucceeded" && c.at("status").as_string() == "False") return true;
    }
    return false;
  });
  EXPECT_EQ(Str(dep, {"status", "phase"}), "PendingStaging");
  EXPECT_EQ(Str(dep, {"status", "revisions", "staging", "build"}), build);
  EXPECT_EQ(Invoke("echo", "staging"), "v1");
  auto builds = Get(kNs + "/agentbuilds?labelSelector=tuna.ai/deployment%3Decho");
  bool saw_failed = false;
  for (const auto& item : builds.at("items").as_array()) {
    if (Str(item, {"status", "phase"}) != "Failed") continue;
    saw_failed = true;
    EXPECT_EQ(Str(item, {"status", "reason"}), "ExitCode");
    EXPECT_NE(Str(item, {"status", "logTail"}).find("poisoned source"), std::string::npos) << json::serialize(item);
  }
  EXPECT_TRUE(saw_failed);

  // Delete: builds go with their owner, the revisions' workers stop.
  auto d = api_->Delete(kNs + "/agentdeployments/echo");
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(CountBuilds("echo"), 0u);
  auto gone = api_->Post(kNs + "/agentdeployments/echo/proxy/staging/hello", "ping");
  EXPECT_EQ(gone.status, 404) << gone.body;
  auto revisions = fs::path(dir_.path()) / "data/pool/revisions";
  WaitFor(kNs + "/agentenvironments/proc", [&](const json::value&) {
    for (const auto& e : fs::directory_iterator(revisions)) {
      if (e.path().filename().string().rfind("default_echo_", 0) == 0) return false;
    }
    return true;
  }, 20s);
  // Deleting the environment stops its warm pool: no worker of this server is left.
  ASSERT_EQ(api_->Delete(kNs + "/agentenvironments/proc").status, 200);
  WaitFor(kNs + "/agentdeployments", [&](const json::value&) { return WorkersOfThisServer().empty(); }, 20s);
}

TEST_F(Pipeline, ServerKilledMidBuildLeavesNoStuckBuildAndNoOrphans) {
  // A build that outlives the server: it sleeps well past the kill, then the retry is cut by the
  // time limit so every build ends terminal.
  CreateEnvironment("slow", "echo start; sleep 37; echo never", /*time_limit=*/6);
  CreateDeployment("slowpoke", "slow", UploadSource("v1"));
  auto dep = WaitFor(kNs + "/agentdeployments/slowpoke",
                     [&](const json::value& v) { return !Str(v, {"status", "currentBuilds", "staging"}).empty(); });
  std::string first = Str(dep, {"status", "currentBuilds", "staging"});
  WaitFor(kNs + "/agentbuilds/" + first, [](const json::value& v) { return Str(v, {"status", "phase"}) == "Scheduled" ||
                                                                          Str(v, {"status", "phase"}) == "Running"; });
  WaitFor(kNs + "/agentdeployments/slowpoke", [](const json::value&) { return !ProcessesMatching("sleep 37").empty(); }, 5s);

  server_->Kill(SIGKILL);
  server_->Wait(20s);
  StartServer();

  // The lost build is Failed (BuildLost), never stuck; the retry is cut by the time limit.
  auto b = WaitFor(kNs + "/agentbuilds/" + first, [](const json::value& v) { return Str(v, {"status", "phase"}) == "Failed"; });
  EXPECT_EQ(Str(b, {"status", "reason"}), "BuildLost");
  WaitFor(kNs + "/agentbuilds?labelSelector=tuna.ai/deployment%3Dslowpoke", [](const json::value& list) {
    const auto& items = list.at("items").as_array();
    if (items.size() < 2) return false;
    for (const auto& item : items) {
      if (Str(item, {"status", "phase"}) != "Failed") return false;
    }
    return true;
  });
  dep = WaitFor(kNs + "/agentdeployments/slowpoke",
                [](const json::value& v) { return Str(v, {"status", "currentBuilds", "staging"}).empty(); });
  // No process of the killed server's build is left behind.
  WaitFor(kNs + "/agentdeployments/slowpoke", [](const json::value&) { return ProcessesMatching("sleep 37").empty(); }, 20s);
}

// The README's run command applies examples/manifests: every example deploys and answers, and
// applying again changes nothing.
TEST_F(Pipeline, ExamplesApplyDeployAndAnswer) {
  auto applied = Tuna({"apply", "-f", std::string(TUNA_SOURCE_DIR) + "/examples/manifests"});
  ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
  EXPECT_NE(applied.out.find("agentdeployment.tuna.ai/echo created"), std::string::npos) << applied.out;
  EXPECT_NE(applied.out.find("agentbuild.tuna.ai/echo-manual-1 created"), std::string::npos) << applied.out;

  WaitFor(kNs + "/agentdeployments/echo", Phase("ProductionDeployed"));
  WaitFor(kNs + "/mcpserverdeployments/hello", Phase("ProductionDeployed"));
  WaitFor(kNs + "/agentbuilds/echo-manual-1", [](const json::value& v) { return Str(v, {"status", "phase"}) == "Succeeded"; });
  WaitFor(kNs + "/mcpserverbuilds/hello-manual-1",
          [](const json::value& v) { return Str(v, {"status", "phase"}) == "Succeeded"; });

  auto agent = api_->Post(kNs + "/agentdeployments/echo/proxy/production/chat", "hello");
  ASSERT_EQ(agent.status, 200) << agent.body;
  auto reply = json::parse(agent.body);
  EXPECT_EQ(Str(reply, {"echo"}), "hello");
  EXPECT_EQ(Str(reply, {"stage"}), "production");

  auto mcp = api_->Post(kNs + "/mcpserverdeployments/hello/proxy/staging/",
                        R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"greet","arguments":{"name":"tuna"}}})");
  ASSERT_EQ(mcp.status, 200) << mcp.body;
  EXPECT_EQ(json::parse(mcp.body).at("result").at("content").at(0).at("text").as_string(), "Hello, tuna!");

  auto again = Tuna({"apply", "-f", std::string(TUNA_SOURCE_DIR) + "/examples/manifests"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(again.out.find("configured"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find("created"), std::string::npos) << again.out;
}

}  // namespace
}  // namespace tuna
