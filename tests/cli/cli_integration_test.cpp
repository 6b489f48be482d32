// End to end: the real `tuna` binary as processes. One `tuna server` on 127.0.0.1:0 with a temp
// data dir and HOME (so its first start writes the client config the other commands then use).

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "cli/process.hpp"
#include "support/temp_dir.hpp"

namespace tuna::testing {
namespace {

constexpr const char* kManifests =
    "apiVersion: tuna.ai/v1alpha1\n"
    "kind: AgentEnvironment\n"
    "metadata:\n"
    "  name: python311\n"
    "spec:\n"
    "  runtime: python3.11\n"
    "---\n"
    "apiVersion: tuna.ai/v1alpha1\n"
    "kind: AgentDeployment\n"
    "metadata:\n"
    "  name: echo\n"
    "  labels:\n"
    "    app: echo\n"
    "spec:\n"
    "  environmentName: python311\n"
    "  entrypoint: agent:app\n"
    "  stages:\n"
    "    staging:\n"
    "      source:\n"
    "        repo: echo\n"
    "        ref: refs/heads/main\n";

class CliIntegration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::filesystem::create_directories(Home());
    server_ = Process::Spawn(TUNA_BINARY, {{"server", "--data-dir", dir_->path() + "/data", "--listen", "127.0.0.1:0",
                                            "--log-level", "warn"},
                                           {{"HOME", Home()}},
                                           ""})
                  .release();
    ASSERT_NE(server_, nullptr);
    const std::regex listening("tuna server listening on (http://127\\.0\\.0\\.1:[0-9]+)\n");
    bool up = server_->WaitForOutput(
        [&](const std::string& out, const std::string&) {
          return std::regex_search(out, listening) && out.find("press Ctrl-C") != std::string::npos;
        },
        std::chrono::seconds(30));
    std::smatch m;
    std::string out = server_->Stdout();
    if (up && std::regex_search(out, m, listening)) url_ = m[1];
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    // TEMPORARY: goes with src/cli/server_fallback.cpp once branch `api` is merged into cli.
    if (url_.empty() && server_->Stderr().find("branch `api` is not merged") != std::string::npos) {
      GTEST_SKIP() << "this build has no API server yet";
    }
    ASSERT_FALSE(url_.empty()) << "tuna server did not start.\nstdout:\n"
                               << server_->Stdout() << "\nstderr:\n"
                               << server_->Stderr();
  }

  static std::string Home() { return dir_->path() + "/home"; }

  static ProcessResult Tuna(std::vector<std::string> args, std::string stdin_text = "",
                            std::map<std::string, std::string> env = {}) {
    env.emplace("HOME", Home());
    return RunProcess(TUNA_BINARY, {std::move(args), std::move(env), std::move(stdin_text)});
  }

  static std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_->path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  static TempDir* dir_;
  static Process* server_;
  static std::string url_;
};

TempDir* CliIntegration::dir_ = nullptr;
Process* CliIntegration::server_ = nullptr;
std::string CliIntegration::url_;

TEST_F(CliIntegration, ServerWroteAClientConfigTheCliUses) {
  std::string config = Home() + "/.config/tuna/config.yaml";
  ASSERT_TRUE(std::filesystem::exists(config)) << server_->Stdout();
  EXPECT_NE(server_->Stdout().find("client config written to " + config), std::string::npos);
  EXPECT_NE(server_->Stdout().find("admin token file: " + dir_->path() + "/data/admin.token"), std::string::npos)
      << server_->Stdout();
  auto v = Tuna({"version"});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_NE(v.out.find("Client Version: "), std::string::npos);
  EXPECT_NE(v.out.find("Server Version: "), std::string::npos) << v.out << v.err;
  auto kinds = Tuna({"api-resources"});
  EXPECT_EQ(kinds.exit_code, 0) << kinds.err;
  EXPECT_NE(kinds.out.find("agentdeployments"), std::string::npos) << kinds.out;
}

TEST_F(CliIntegration, ApplyGetDescribeDeleteRoundTrip) {
  std::string file = Write("app.yaml", kManifests);
  auto first = Tuna({"apply", "-f", file, "-n", "flow"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, "agentenvironment.tuna.ai/python311 created\nagentdeployment.tuna.ai/echo created\n");
  auto second = Tuna({"apply", "-f", file, "-n", "flow"});
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, "agentenvironment.tuna.ai/python311 unchanged\nagentdeployment.tuna.ai/echo unchanged\n");

  std::string changed = kManifests;
  changed.replace(changed.find("agent:app"), 9, "main:app");
  auto third = Tuna({"apply", "-f", "-", "-n", "flow"}, changed);
  EXPECT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(third.out, "agentenvironment.tuna.ai/python311 unchanged\nagentdeployment.tuna.ai/echo configured\n");

  auto table = Tuna({"get", "agents", "-n", "flow"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.rfind("NAME   ENV", 0), 0u) << table.out;
  EXPECT_NE(table.out.find("\necho   python311"), std::string::npos) << table.out;
  auto all = Tuna({"get", "env", "-A", "-o", "name"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.out.find("agentenvironment.tuna.ai/python311\n"), std::string::npos);

  auto yaml = Tuna({"get", "ad", "echo", "-n", "flow", "-o", "yaml"});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
  EXPECT_NE(yaml.out.find("entrypoint: main:app"), std::string::npos) << yaml.out;
  auto reapply = Tuna({"apply", "-f", "-"}, yaml.out);
  EXPECT_EQ(reapply.exit_code, 0) << reapply.err;
  EXPECT_EQ(reapply.out, "agentdeployment.tuna.ai/echo unchanged\n");
  auto json_out = Tuna({"get", "ad", "-n", "flow", "-o", "json"});
  ASSERT_EQ(json_out.exit_code, 0);
  EXPECT_EQ(boost::json::parse(json_out.out).at("items").as_array().size(), 1u);

  auto describe = Tuna({"describe", "ad", "echo", "-n", "flow"});
  EXPECT_EQ(describe.exit_code, 0) << describe.err;
  EXPECT_NE(describe.out.find("Name:               echo\n"), std::string::npos) << describe.out;
  EXPECT_NE(describe.out.find("Namespace:          flow\n"), std::string::npos);
  EXPECT_NE(describe.out.find("Labels:             app=echo\n"), std::string::npos);
  EXPECT_NE(describe.out.find("Spec:\n"), std::string::npos);

  auto del = Tuna({"delete", "-f", file, "-n", "flow"});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_EQ(del.out, "agentenvironment.tuna.ai/python311 deleted\nagentdeployment.tuna.ai/echo deleted\n");
  auto gone = Tuna({"get", "ad", "echo", "-n", "flow"});
  EXPECT_EQ(gone.exit_code, 3);
  EXPECT_EQ(gone.err, "error: agentdeployment \"echo\" not found in namespace \"flow\"\n");
}

TEST_F(CliIntegration, ErrorsHaveExitCodesAndSayWhatToDo) {
  auto kind = Tuna({"get", "agentdeploymnt"});
  EXPECT_EQ(kind.exit_code, 2);
  EXPECT_EQ(kind.err.rfind("error: unknown kind \"agentdeploymnt\" (did you mean agentdeployment?)", 0), 0u) << kind.err;

  auto missing = Tuna({"apply", "-f", dir_->path() + "/nope.yaml"});
  EXPECT_EQ(missing.exit_code, 6);
  EXPECT_EQ(missing.err, "error: " + dir_->path() + "/nope.yaml: no such file or directory\n");

  std::string bad = Write("bad.yaml",
                          "apiVersion: tuna.ai/v1alpha1\nkind: AgentEnvironment\nmetadata:\n  name: e\n"
                          "spec:\n  runtime: python3.11\n"
                          "---\napiVersion: tuna.ai/v1alpha1\nkind: AgentDeployment\nmetadata:\n  name: bad\n"
                          "spec:\n  enviromentName: e\n");
  auto invalid = Tuna({"apply", "-f", bad, "-n", "errors"});
  EXPECT_EQ(invalid.exit_code, 6);
  EXPECT_EQ(invalid.out, "agentenvironment.tuna.ai/e created\n");  // the good document still applied
  EXPECT_NE(invalid.err.find(bad + ":13 (document 2)"), std::string::npos) << invalid.err;
  EXPECT_NE(invalid.err.find("spec.enviromentName"), std::string::npos) << invalid.err;

  auto not_found = Tuna({"describe", "ad", "ghost"});
  EXPECT_EQ(not_found.exit_code, 3);
  auto del = Tuna({"delete", "ad", "ghost"});
  EXPECT_EQ(del.exit_code, 3);

  auto token = Tuna({"get", "ad", "--token", "wrong"});
  EXPECT_EQ(token.exit_code, 5);
  EXPECT_EQ(token.err.rfind("error: ", 0), 0u);
  EXPECT_NE(token.err.find("hint: check the token (from --token)"), std::string::npos) << token.err;

  // A port nothing listens on.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string down = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  ::close(fd);
  auto unreachable = Tuna({"get", "ad"}, "", {{"TUNA_SERVER", down}});
  EXPECT_EQ(unreachable.exit_code, 7);
  EXPECT_EQ(unreachable.err.rfind("error: cannot reach tuna server at " + down, 0), 0u) << unreachable.err;
  EXPECT_NE(unreachable.err.find("is `tuna server` running?"), std::string::npos);
}

TEST_F(CliIntegration, WatchPrintsChanges) {
  auto watcher = Process::Spawn(TUNA_BINARY, {{"get", "mem", "-n", "watch", "-w"}, {{"HOME", Home()}}, ""});
  ASSERT_TRUE(watcher);
  // The watch is established after the (empty) list; give it a moment, then create objects until
  // one shows up (an object created before the watch began would be missed otherwise).
  bool seen = false;
  for (int i = 0; i < 50 && !seen; ++i) {
    std::string name = "m" + std::to_string(i);
    auto r = Tuna({"apply", "-n", "watch", "-f", "-"},
                  "apiVersion: tuna.ai/v1alpha1\nkind: AgentMemory\nmetadata:\n  name: " + name +
                      "\nspec:\n  type: conversation\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    seen = watcher->WaitForOutput(
        [&](const std::string& out, const std::string&) { return out.find("\n" + name + " ") != std::string::npos; },
        std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(seen) << watcher->Stdout() << watcher->Stderr();
  EXPECT_EQ(watcher->Stdout().rfind("NAME", 0), 0u) << watcher->Stdout();
  watcher->Kill(SIGINT);
  EXPECT_EQ(watcher->Wait(std::chrono::seconds(10)).exit_code, 0) << watcher->Stderr();
}

TEST_F(CliIntegration, ZzServerStopsCleanlyOnSigterm) {
  server_->Kill(SIGTERM);
  auto r = server_->Wait(std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tuna server stopped"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace tuna::testing
