// git push deploys, end to end: the real `git` client against the real `tuna server` binary
// (git smart HTTP through `git http-backend`, hooks calling back into the server, builds and
// deploys on the pool driver). A branch push deploys staging, a matching tag production; a broken
// tuna.yaml is refused with its line and field; rollbacks; auth; path tricks; concurrent pushes.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "support/files.hpp"
#include "support/tuna_server_fixture.hpp"

namespace tuna {
namespace {
using testing::ReadFile;

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::ApiClient;
using namespace std::chrono_literals;

const std::string kNs = "/apis/tuna.ai/v1alpha1/namespaces/default";


std::string Str(const json::value& v, std::initializer_list<std::string_view> path) { return testing::JsonStr(v, path); }

const char* kGoodYaml =
    "kind: agent\n"
    "name: echo\n"
    "spec:\n"
    "  environment: proc\n"
    "  entrypoint: agent.py:handle\n";
// Line 3 holds spec, which lacks its environment.
const char* kBrokenYaml =
    "kind: agent\n"
    "name: echo\n"
    "spec:\n"
    "  entrypoint: agent.py:handle\n";

class GitPush : public testing::TunaServerTest {
 protected:
  std::string RemoteUrl(const std::string& repo, const std::string& token) const {
    return "http://git:" + token + "@127.0.0.1:" + port_ + "/git/default/" + repo + ".git";
  }

  // Runs git in `cwd` with a private HOME and no credential helper or prompt.
  testing::ProcessResult Git(const fs::path& cwd, std::vector<std::string> args) {
    testing::ProcessOptions po;
    po.args = {"-C", cwd.string(), "-c", "credential.helper=", "-c", "user.name=Tuna Test", "-c", "user.email=test@tuna.ai",
               "-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false"};
    po.args.insert(po.args.end(), args.begin(), args.end());
    po.env = {{"HOME", dir_.path()}, {"PATH", std::getenv("PATH")}, {"GIT_TERMINAL_PROMPT", "0"},
              {"GIT_CONFIG_NOSYSTEM", "1"}, {"LC_ALL", "C"}};
    return testing::RunProcess("/usr/bin/git", po, 120s);
  }

  void CreateEnvironment() {
    json::object env = {
        {"apiVersion", "tuna.ai/v1alpha1"},
        {"kind", "AgentEnvironment"},
        {"metadata", {{"name", "proc"}}},
        {"spec",
         {{"runtime", "process"},
          {"buildScript", "test -f agent.py && echo built; test ! -f FAIL || { echo 'poisoned source' >&2; exit 3; }"},
          {"workerCommand", python_ + " " + std::string(TUNA_SOURCE_DIR) + "/runtimes/python/worker.py"},
          {"poolSize", 1},
          {"buildTimeLimitSeconds", 60}}}};
    auto r = api_->Post(kNs + "/agentenvironments", json::serialize(env));
    ASSERT_EQ(r.status, 201) << r.body;
  }

  // A work tree with the example echo agent (answering its VERSION) and a tuna.yaml.
  fs::path MakeWorkTree(const std::string& name, const std::string& remote_repo) {
    fs::path work = fs::path(dir_.path()) / name;
    fs::create_directories(work);
    EXPECT_EQ(Git(work, {"init", "-q"}).exit_code, 0);
    EXPECT_EQ(Git(work, {"remote", "add", "tuna", RemoteUrl(remote_repo, token_)}).exit_code, 0);
    return work;
  }

  void WriteAgent(const fs::path& work, const std::string& version, const std::string& yaml = kGoodYaml) {
    std::string agent = ReadFile(std::string(TUNA_SOURCE_DIR) + "/examples/agents/echo/agent.py");
    agent = std::regex_replace(agent, std::regex("\"agent\": \"echo\","), "\"agent\": \"echo\", \"version\": VERSION,");
    agent += "\nVERSION = \"" + version + "\"\n";
    std::ofstream(work / "agent.py") << agent;
    std::ofstream(work / "tuna.yaml") << yaml;
  }

  void Commit(const fs::path& work, const std::string& message) {
    ASSERT_EQ(Git(work, {"add", "-A"}).exit_code, 0);
    auto c = Git(work, {"commit", "-q", "-m", message});
    ASSERT_EQ(c.exit_code, 0) << c.err;
  }

  std::string Head(const fs::path& work, const std::string& rev = "HEAD") {
    auto r = Git(work, {"rev-parse", rev});
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  // The "version" a stage's revision answers through the proxy.
  std::string Invoke(const std::string& stage) {
    auto r = api_->Post(kNs + "/agentdeployments/echo/proxy/" + stage + "/hello", "ping");
    if (r.status != 200) return "HTTP " + std::to_string(r.status) + ": " + r.body;
    auto body = json::parse(r.body);
    EXPECT_EQ(Str(body, {"echo"}), "ping");
    return Str(body, {"version"});
  }

  // The last "remote: " line git printed.
  static std::string LastRemoteLine(const std::string& err) {
    std::istringstream lines(err);
    std::string line, last;
    while (std::getline(lines, line)) {
      if (line.rfind("remote: ", 0) == 0) last = line.substr(8);
    }
    while (!last.empty() && (last.back() == ' ' || last.back() == '\r')) last.pop_back();
    return last;
  }

  // Where the push says the stage answers: the gateway's A2A endpoint. (The tests invoke through
  // the proxy route, which serves the same revision.)
  std::string StageUrl(const std::string& stage) const { return url_ + "/a2a/default/echo/" + stage + "/"; }

  // The example MCP server, greeting with its version ("Hello v1, tuna!"), and its tuna.yaml.
  void WriteMcpServer(const fs::path& work, const std::string& version, const std::string& yaml) {
    std::string server = ReadFile(std::string(TUNA_SOURCE_DIR) + "/examples/mcp/hello/server.py");
    server = std::regex_replace(server, std::regex("Hello, \\{"), "Hello " + version + ", {");
    std::ofstream(work / "server.py") << server;
    std::ofstream(work / "tuna.yaml") << yaml;
  }

  // What the MCP server's stage answers to tools/call greet (through the proxy route).
  std::string Greet(const std::string& stage) {
    auto r = api_->Post(kNs + "/mcpserverdeployments/hello/proxy/" + stage + "/",
                        R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"greet","arguments":{"name":"tuna"}}})");
    if (r.status != 200) return "HTTP " + std::to_string(r.status) + ": " + r.body;
    auto body = json::parse(r.body);
    const auto* result = body.as_object().if_contains("result");
    if (result == nullptr) return r.body;
    return std::string(result->at("content").at(0).at("text").as_string());
  }

  std::size_t CountBuilds() {
    auto r = api_->Get(kNs + "/agentbuilds?labelSelector=tuna.ai/deployment%3Decho");
    return r.status == 200 ? json::parse(r.body).at("items").as_array().size() : 0;
  }

};

TEST_F(GitPush, BranchDeploysStagingTagDeploysProductionBrokenYamlIsRefused) {
  CreateEnvironment();
  auto created = Tuna({"repo", "create", "echo"});
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  EXPECT_NE(created.out.find(url_ + "/git/default/echo.git"), std::string::npos) << created.out;

  fs::path work = MakeWorkTree("work", "echo");
  WriteAgent(work, "v1");
  Commit(work, "v1");
  const std::string v1 = Head(work);

  // A branch push: snapshot, build, deploy to staging; the output ends with where it answers.
  auto push = Git(work, {"push", "tuna", "HEAD:refs/heads/main"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_NE(push.err.find("remote: refs/heads/main: snapshot sha256:"), std::string::npos) << push.err;
  EXPECT_NE(push.err.find("remote: build echo-"), std::string::npos) << push.err;
  EXPECT_EQ(LastRemoteLine(push.err), "echo staging deployed: " + StageUrl("staging")) << push.err;
  EXPECT_EQ(Invoke("staging"), "v1");
  auto dep = json::parse(api_->Get(kNs + "/agentdeployments/echo").body);
  EXPECT_EQ(Str(dep, {"spec", "stages", "staging", "source", "repo"}), "echo");
  EXPECT_EQ(Str(dep, {"spec", "stages", "staging", "source", "ref"}), "refs/heads/main");
  EXPECT_EQ(Str(dep, {"spec", "stages", "staging", "source", "commit"}), v1);
  EXPECT_EQ(Str(dep, {"metadata", "labels", "tuna.ai/repository"}), "echo");
  const std::string v1_archive = Str(dep, {"spec", "stages", "staging", "source", "archive"});
  EXPECT_EQ(v1_archive.rfind("sha256:", 0), 0u);

  // A tag matching tagPattern (default v*): production.
  ASSERT_EQ(Git(work, {"tag", "v1"}).exit_code, 0);
  push = Git(work, {"push", "tuna", "v1"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_EQ(LastRemoteLine(push.err), "echo production deployed: " + StageUrl("production")) << push.err;
  EXPECT_EQ(Invoke("production"), "v1");

  // A broken tuna.yaml: refused with the line and field, the branch does not move, staging serves v1.
  WriteAgent(work, "v2", kBrokenYaml);
  Commit(work, "broken");
  push = Git(work, {"push", "tuna", "HEAD:refs/heads/main"});
  EXPECT_NE(push.exit_code, 0) << push.err;
  EXPECT_NE(push.err.find("remote: refs/heads/main: tuna.yaml:3: spec.environment: required field is missing"),
            std::string::npos)
      << push.err;
  EXPECT_NE(push.err.find("pre-receive hook declined"), std::string::npos) << push.err;
  auto remote = Git(work, {"ls-remote", "tuna", "refs/heads/main"});
  ASSERT_EQ(remote.exit_code, 0) << remote.err;
  EXPECT_EQ(remote.out.substr(0, 40), v1);
  EXPECT_EQ(Invoke("staging"), "v1");

  // A missing tuna.yaml is refused too.
  ASSERT_EQ(Git(work, {"rm", "-q", "tuna.yaml"}).exit_code, 0);
  Commit(work, "no tuna.yaml");
  push = Git(work, {"push", "tuna", "HEAD:refs/heads/main"});
  EXPECT_NE(push.exit_code, 0) << push.err;
  EXPECT_NE(push.err.find("tuna.yaml: missing at the repository root"), std::string::npos) << push.err;

  // Fixed: v2 reaches staging; production stays on v1.
  WriteAgent(work, "v2");
  Commit(work, "v2");
  const std::string v2 = Head(work);
  push = Git(work, {"push", "tuna", "HEAD:refs/heads/main"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_EQ(LastRemoteLine(push.err), "echo staging deployed: " + StageUrl("staging")) << push.err;
  EXPECT_EQ(Invoke("staging"), "v2");
  EXPECT_EQ(Invoke("production"), "v1");

  // A commit whose build fails: the push is accepted (tuna.yaml is fine) and reports the failed
  // build with its log tail; staging keeps serving v2.
  std::ofstream(work / "FAIL") << "this source fails its build\n";
  Commit(work, "poisoned");
  push = Git(work, {"push", "tuna", "HEAD:refs/heads/main"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_NE(push.err.find("failed: ExitCode"), std::string::npos) << push.err;
  EXPECT_NE(push.err.find("remote: poisoned source"), std::string::npos) << push.err;
  EXPECT_EQ(LastRemoteLine(push.err), "echo staging keeps serving its last good revision") << push.err;
  EXPECT_EQ(Invoke("staging"), "v2");

  // Rolling back is pushing the older commit: the same snapshot, the earlier build reused.
  const std::size_t builds = CountBuilds();
  push = Git(work, {"push", "--force", "tuna", v1 + ":refs/heads/main"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_NE(push.err.find("snapshot " + v1_archive), std::string::npos) << push.err;
  EXPECT_EQ(LastRemoteLine(push.err), "echo staging deployed: " + StageUrl("staging")) << push.err;
  EXPECT_EQ(Invoke("staging"), "v1");
  EXPECT_EQ(CountBuilds(), builds);

  // Tag v2 promotes it; deleting the tag rolls production back to v1. -o nowait returns early.
  ASSERT_EQ(Git(work, {"tag", "v2", v2}).exit_code, 0);
  push = Git(work, {"push", "tuna", "v2"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_EQ(Invoke("production"), "v2");
  push = Git(work, {"push", "-o", "nowait", "tuna", ":refs/tags/v2"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_NE(push.err.find("refs/tags/v2: deleted; production of echo rolls back to refs/tags/v1"), std::string::npos)
      << push.err;
  EXPECT_NE(push.err.find("not waiting for the deploy (push option nowait)"), std::string::npos) << push.err;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (Invoke("production") != "v1" && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(Invoke("production"), "v1");

  // The repository clones back with its history.
  fs::path clone = fs::path(dir_.path()) / "clone";
  auto cloned = Git(dir_.path(), {"clone", "-q", RemoteUrl("echo", token_), clone.string()});
  ASSERT_EQ(cloned.exit_code, 0) << cloned.err;
  EXPECT_EQ(Head(clone), v1);
}

TEST_F(GitPush, AuthenticationAndRepositoryNames) {
  auto made = api_->Post(kNs + "/repositories", R"({"name":"agent"})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(Str(json::parse(made.body), {"url"}), url_ + "/git/default/agent.git");
  EXPECT_EQ(api_->Post(kNs + "/repositories", R"({"name":"agent"})").status, 409);

  // No credentials: 401 with a Basic challenge, and git gives up (no prompt).
  ApiClient anonymous(static_cast<std::uint16_t>(std::stoi(port_)), "");
  auto challenge = anonymous.Call("GET", "/git/default/agent.git/info/refs?service=git-receive-pack", "", {});
  EXPECT_EQ(challenge.status, 401) << challenge.body;
  EXPECT_EQ(challenge.Header("www-authenticate"), "Basic realm=\"tuna\"");
  fs::path work = fs::path(dir_.path()) / "work";
  fs::create_directories(work);
  ASSERT_EQ(Git(work, {"init", "-q"}).exit_code, 0);
  WriteAgent(work, "v1");
  ASSERT_EQ(Git(work, {"add", "-A"}).exit_code, 0);
  ASSERT_EQ(Git(work, {"commit", "-q", "-m", "v1"}).exit_code, 0);
  auto anon = Git(work, {"push", "http://127.0.0.1:" + port_ + "/git/default/agent.git", "HEAD:refs/heads/main"});
  EXPECT_NE(anon.exit_code, 0) << anon.err;
  auto wrong = Git(work, {"push", RemoteUrl("agent", "not-the-token"), "HEAD:refs/heads/main"});
  EXPECT_NE(wrong.exit_code, 0) << wrong.err;
  EXPECT_NE(wrong.err.find("Authentication failed"), std::string::npos) << wrong.err;
  auto refs = Git(work, {"ls-remote", RemoteUrl("agent", token_)});
  ASSERT_EQ(refs.exit_code, 0) << refs.err;
  EXPECT_EQ(refs.out, "");  // nothing was pushed

  // Authenticated, but the deployment it would write fails admission (no environment "proc"):
  // refused as a whole, with the reason.
  auto no_env = Git(work, {"push", RemoteUrl("agent", token_), "HEAD:refs/heads/main"});
  EXPECT_NE(no_env.exit_code, 0) << no_env.err;
  EXPECT_NE(no_env.err.find("remote: refs/heads/main: agentdeployment echo: "), std::string::npos) << no_env.err;
  EXPECT_NE(no_env.err.find("proc"), std::string::npos) << no_env.err;
  refs = Git(work, {"ls-remote", RemoteUrl("agent", token_)});
  EXPECT_EQ(refs.out, "");
  EXPECT_EQ(api_->Get(kNs + "/agentdeployments/echo").status, 404);

  // A repository that does not exist.
  auto missing = Git(work, {"ls-remote", RemoteUrl("nope", token_)});
  EXPECT_NE(missing.exit_code, 0);

  // Path tricks never reach the filesystem: bad names are 400, non-smart paths 404.
  for (const std::string bad : {"..%2F..%2Fetc", "a.b", "..", "Agent", "a%00b", "-a"}) {
    auto r = api_->Get("/git/default/" + bad + ".git/info/refs?service=git-upload-pack");
    EXPECT_TRUE(r.status == 400 || r.status == 404) << bad << ": " << r.status << " " << r.body;
    auto c = api_->Post(kNs + "/repositories", R"({"name":")" + bad + R"("})");
    EXPECT_EQ(c.status, 400) << bad << ": " << c.body;
  }
  EXPECT_EQ(api_->Get("/git/..%2F..%2Ftmp/agent.git/info/refs").status, 400);
  EXPECT_EQ(api_->Get("/git/default/agent.git/config").status, 404);
  EXPECT_EQ(api_->Get("/git/default/agent.git/objects/info/packs").status, 404);
  EXPECT_EQ(api_->Get("/git/default/agent.git/hooks/pre-receive").status, 404);
  EXPECT_EQ(api_->Post("/apis/tuna.ai/v1alpha1/namespaces/..%2Fx/repositories", R"({"name":"a"})").status, 400);
  // Only the one repository exists under the git root, and nothing beside it.
  std::vector<std::string> entries;
  for (const fs::path& d : {fs::path(dir_.path() + "/data/git"), fs::path(dir_.path() + "/data/git/default")}) {
    for (const auto& e : fs::directory_iterator(d)) entries.push_back(fs::relative(e.path(), dir_.path() + "/data/git").string());
  }
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{"default", "default/agent.git"}));
  EXPECT_FALSE(fs::exists(dir_.path() + "/data/x"));

  // The internal hook routes need the per-server secret, not the admin token.
  EXPECT_EQ(api_->Post("/internal/git/hooks/pre-receive", R"({"namespace":"default","repo":"agent"})").status, 401);

  // The CLI: list and delete.
  auto list = Tuna({"repo", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("agent"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(url_ + "/git/default/agent.git"), std::string::npos) << list.out;
  auto bad_name = Tuna({"repo", "create", "no.dots"});
  EXPECT_NE(bad_name.exit_code, 0);
  EXPECT_NE(bad_name.err.find("invalid repository name"), std::string::npos) << bad_name.err;
  auto del = Tuna({"repo", "delete", "agent"});
  ASSERT_EQ(del.exit_code, 0) << del.err;
  EXPECT_EQ(api_->Get(kNs + "/repositories/agent").status, 404);
  EXPECT_FALSE(fs::exists(dir_.path() + "/data/git/default/agent.git"));
  EXPECT_NE(Tuna({"repo", "delete", "agent"}).exit_code, 0);
}

TEST_F(GitPush, ConcurrentPushesToOneBranchOneWinsTheOtherFetchesFirst) {
  CreateEnvironment();
  ASSERT_EQ(api_->Post(kNs + "/repositories", R"({"name":"echo"})").status, 201);
  fs::path base = MakeWorkTree("base", "echo");
  WriteAgent(base, "v1");
  Commit(base, "base");
  auto first = Git(base, {"push", "-o", "nowait", "tuna", "HEAD:refs/heads/main"});
  ASSERT_EQ(first.exit_code, 0) << first.err;

  std::vector<fs::path> clones;
  for (const std::string name : {"a", "b"}) {
    fs::path c = fs::path(dir_.path()) / name;
    ASSERT_EQ(Git(dir_.path(), {"clone", "-q", RemoteUrl("echo", token_), c.string()}).exit_code, 0);
    WriteAgent(c, "v-" + name);
    Commit(c, "change " + name);
    clones.push_back(c);
  }
  testing::ProcessResult results[2];
  std::thread ta([&] { results[0] = Git(clones[0], {"push", "-o", "nowait", "origin", "HEAD:refs/heads/main"}); });
  std::thread tb([&] { results[1] = Git(clones[1], {"push", "-o", "nowait", "origin", "HEAD:refs/heads/main"}); });
  ta.join();
  tb.join();
  const int winners = (results[0].exit_code == 0) + (results[1].exit_code == 0);
  EXPECT_EQ(winners, 1) << results[0].err << "\n---\n" << results[1].err;
  const int loser = results[0].exit_code == 0 ? 1 : 0;
  const int winner = 1 - loser;
  auto remote = Git(base, {"ls-remote", "tuna", "refs/heads/main"});
  EXPECT_EQ(remote.out.substr(0, 40), Head(clones[winner]));
  // Git's own non-fast-forward rule: the loser is told to fetch first.
  auto again = Git(clones[loser], {"push", "-o", "nowait", "origin", "HEAD:refs/heads/main"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("fetch first"), std::string::npos) << again.err;
  auto dep = json::parse(api_->Get(kNs + "/agentdeployments/echo").body);
  EXPECT_EQ(Str(dep, {"spec", "stages", "staging", "source", "commit"}), Head(clones[winner]));
}

const char* kMcpYaml =
    "kind: mcp-server\n"
    "name: hello\n"
    "spec:\n"
    "  environment: proc\n"
    "  command: [python3, server.py]\n"
    "  env:\n"
    "    GREETING_SOURCE: git\n";

TEST_F(GitPush, McpServerBranchDeploysStagingTagDeploysProduction) {
  CreateEnvironment();
  ASSERT_EQ(api_->Post(kNs + "/repositories", R"({"name":"hello"})").status, 201);
  fs::path work = MakeWorkTree("mcp", "hello");

  // A broken tuna.yaml of this kind: refused with line and field, nothing is created.
  WriteMcpServer(work, "v0", "kind: mcp-server\nname: hello\nspec:\n  environment: proc\n  entrypoint: server.py\n");
  Commit(work, "broken");
  auto push = Git(work, {"push", "tuna", "HEAD:refs/heads/main"});
  EXPECT_NE(push.exit_code, 0) << push.err;
  EXPECT_NE(push.err.find("remote: refs/heads/main: tuna.yaml:5: spec.entrypoint: unknown field"), std::string::npos) << push.err;
  EXPECT_NE(push.err.find("remote: refs/heads/main: tuna.yaml:3: spec.command: required field is missing"), std::string::npos)
      << push.err;
  EXPECT_EQ(api_->Get(kNs + "/mcpserverdeployments/hello").status, 404);

  WriteMcpServer(work, "v1", kMcpYaml);
  Commit(work, "v1");
  const std::string v1 = Head(work);
  push = Git(work, {"push", "tuna", "HEAD:refs/heads/main"});
  ASSERT_EQ(push.exit_code, 0) << push.err << ServerLog();
  EXPECT_NE(push.err.find("remote: refs/heads/main: tuna.yaml ok: mcp-server hello -> staging"), std::string::npos) << push.err;
  EXPECT_NE(push.err.find("remote: refs/heads/main: snapshot sha256:"), std::string::npos) << push.err;
  EXPECT_NE(push.err.find("remote: build hello-"), std::string::npos) << push.err;
  EXPECT_EQ(LastRemoteLine(push.err), "hello staging deployed: " + url_ + "/mcp/default/servers/hello/staging") << push.err;
  EXPECT_EQ(Greet("staging"), "Hello v1, tuna!");
  auto dep = json::parse(api_->Get(kNs + "/mcpserverdeployments/hello").body);
  EXPECT_EQ(Str(dep, {"metadata", "labels", "tuna.ai/repository"}), "hello");
  EXPECT_EQ(Str(dep, {"spec", "environmentName"}), "proc");
  EXPECT_EQ(Str(dep, {"spec", "server", "stdio", "command"}), "python3");
  EXPECT_EQ(json::serialize(dep.at("spec").at("server").at("stdio").at("args")), R"(["server.py"])");
  EXPECT_EQ(Str(dep, {"spec", "server", "stdio", "env", "GREETING_SOURCE"}), "git");
  EXPECT_EQ(Str(dep, {"spec", "stages", "staging", "source", "commit"}), v1);
  EXPECT_EQ(Str(dep, {"spec", "stages", "staging", "source", "ref"}), "refs/heads/main");
  EXPECT_FALSE(dep.at("spec").at("stages").as_object().contains("production"));

  // A matching tag: production.
  ASSERT_EQ(Git(work, {"tag", "v1"}).exit_code, 0);
  push = Git(work, {"push", "tuna", "v1"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_EQ(LastRemoteLine(push.err), "hello production deployed: " + url_ + "/mcp/default/servers/hello/production")
      << push.err;
  EXPECT_EQ(Greet("production"), "Hello v1, tuna!");

  // v2 on the branch: staging moves, production stays.
  WriteMcpServer(work, "v2", kMcpYaml);
  Commit(work, "v2");
  push = Git(work, {"push", "tuna", "HEAD:refs/heads/main"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_EQ(Greet("staging"), "Hello v2, tuna!");
  EXPECT_EQ(Greet("production"), "Hello v1, tuna!");
}

// The HTTP tool's tuna.yaml, its OpenAPI document being a copy of the petstore fixture.
const char* kToolYaml =
    "kind: http-tool\n"
    "name: petstore\n"
    "spec:\n"
    "  openapi:\n"
    "    file: api/petstore.yaml\n"
    "  baseUrl: https://petstore3.swagger.io/api/v3\n"
    "  operations: [getPetById, \"GET /pet/findByStatus\"]\n"
    "  credentials:\n"
    "    type: apiKey\n"
    "    headerName: api_key\n"
    "    secretRef: {name: petstore-credentials, key: api-key}\n"
    "  headers: {X-Client: tuna}\n";

TEST_F(GitPush, HttpToolStoresTheDocumentFromTheCommitInline) {
  ASSERT_EQ(api_->Post(kNs + "/repositories", R"({"name":"petstore"})").status, 201);
  fs::path work = MakeWorkTree("tool", "petstore");
  const std::string petstore = ReadFile("/work/shared/fixtures/openapi/swagger-petstore.yaml");
  ASSERT_FALSE(petstore.empty());
  // A copy of the fixture (never edited in place) inside the repository.
  fs::create_directories(work / "api");
  std::ofstream(work / "api" / "petstore.yaml") << petstore;
  std::ofstream(work / "tuna.yaml") << kToolYaml;
  Commit(work, "v1");
  const std::string v1 = Head(work);

  // A branch push of the configured branch (main by default) updates the tool; no build, so the
  // output ends with where its operations answer as MCP tools.
  auto push = Git(work, {"push", "tuna", "HEAD:refs/heads/main"});
  ASSERT_EQ(push.exit_code, 0) << push.err << ServerLog();
  EXPECT_NE(push.err.find("remote: refs/heads/main: tuna.yaml ok: http-tool petstore -> updated"), std::string::npos) << push.err;
  EXPECT_EQ(LastRemoteLine(push.err), "petstore updated: " + url_ + "/mcp/default/tools/petstore") << push.err;
  auto got = api_->Get(kNs + "/httptooldeployments/petstore");
  ASSERT_EQ(got.status, 200) << got.body;
  auto tool = json::parse(got.body);
  EXPECT_EQ(Str(tool, {"spec", "openapi", "inline", "info", "title"}), "Swagger Petstore - OpenAPI 3.0");
  EXPECT_TRUE(tool.at("spec").at("openapi").at("inline").at("paths").as_object().contains("/pet/{petId}"));
  EXPECT_FALSE(tool.at("spec").at("openapi").as_object().contains("file"));
  EXPECT_EQ(Str(tool, {"spec", "baseUrl"}), "https://petstore3.swagger.io/api/v3");
  EXPECT_EQ(json::serialize(tool.at("spec").at("operations")), R"(["getPetById","GET /pet/findByStatus"])");
  EXPECT_EQ(Str(tool, {"spec", "credentials", "secretRef", "name"}), "petstore-credentials");
  EXPECT_EQ(Str(tool, {"spec", "headers", "X-Client"}), "tuna");
  EXPECT_EQ(Str(tool, {"metadata", "labels", "tuna.ai/repository"}), "petstore");
  EXPECT_EQ(Str(tool, {"metadata", "annotations", "tuna.ai/source-commit"}), v1);

  // Tags and other branches do not touch it (HTTP tools have no stages).
  ASSERT_EQ(Git(work, {"tag", "v1"}).exit_code, 0);
  push = Git(work, {"push", "tuna", "v1"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_NE(push.err.find("refs/tags/v1: not deployed (http-tool petstore has no stages: pushes to branch main update it)"),
            std::string::npos) << push.err;

  // Broken pushes, each refused with file:line and the field; the tool keeps v1's document.
  struct Broken {
    std::string yaml, doc, expect;
  };
  const std::vector<Broken> broken = {
      {std::regex_replace(std::string(kToolYaml), std::regex("getPetById, "), "getPetById, nope, "), petstore,
       "remote: refs/heads/main: tuna.yaml:7: spec.operations[1]: operation \"nope\" is not in api/petstore.yaml"},
      {std::regex_replace(std::string(kToolYaml), std::regex("api/petstore.yaml"), "api/missing.yaml"), petstore,
       "remote: refs/heads/main: tuna.yaml:5: spec.openapi.file: api/missing.yaml is not a file in commit"},
      {kToolYaml, "openapi: 3.0.4\npaths: {\n", "remote: refs/heads/main: api/petstore.yaml:"},
      {std::regex_replace(std::string(kToolYaml), std::regex("type: apiKey"), "type: password"), petstore,
       "remote: refs/heads/main: tuna.yaml:9: spec.credentials.type: "},
  };
  for (const auto& b : broken) {
    std::ofstream(work / "tuna.yaml") << b.yaml;
    std::ofstream(work / "api" / "petstore.yaml") << b.doc;
    Commit(work, "broken");
    push = Git(work, {"push", "tuna", "HEAD:refs/heads/main"});
    EXPECT_NE(push.exit_code, 0) << push.err;
    EXPECT_NE(push.err.find(b.expect), std::string::npos) << b.expect << "\n" << push.err;
    EXPECT_NE(push.err.find("push rejected: nothing was changed"), std::string::npos) << push.err;
  }
  tool = json::parse(api_->Get(kNs + "/httptooldeployments/petstore").body);
  EXPECT_EQ(Str(tool, {"metadata", "annotations", "tuna.ai/source-commit"}), v1);
  EXPECT_EQ(Str(tool, {"spec", "openapi", "inline", "info", "title"}), "Swagger Petstore - OpenAPI 3.0");

  // A JSON document with one operation: the tool follows the branch.
  std::ofstream(work / "api" / "petstore.yaml")
      << R"({"openapi": "3.0.4", "info": {"title": "Pets v2", "version": "2"}, "paths": {"/pet/{petId}": {"get": {"operationId": "getPetById", "responses": {"200": {"description": "ok"}}}}}})";
  std::ofstream(work / "tuna.yaml") << std::regex_replace(std::string(kToolYaml), std::regex(", \"GET /pet/findByStatus\""), "");
  Commit(work, "v2");
  push = Git(work, {"push", "tuna", "HEAD:refs/heads/main"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  tool = json::parse(api_->Get(kNs + "/httptooldeployments/petstore").body);
  EXPECT_EQ(Str(tool, {"spec", "openapi", "inline", "info", "title"}), "Pets v2");
  EXPECT_EQ(Str(tool, {"metadata", "annotations", "tuna.ai/source-commit"}), Head(work));
}

TEST_F(GitPush, AgentCatalogueAndBindingsAreWrittenWithTheDeployment) {
  CreateEnvironment();
  ASSERT_EQ(api_->Post(kNs + "/agentmemories",
                       R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory","metadata":{"name":"echo-history"},"spec":{"type":"conversation"}})")
                .status,
            201);
  ASSERT_EQ(api_->Post(kNs + "/repositories", R"({"name":"echo"})").status, 201);
  fs::path work = MakeWorkTree("work", "echo");
  const std::string base = std::string(kGoodYaml) +
                           "  catalogue:\n"
                           "    displayName: Echo\n"
                           "    description: Repeats what you say.\n"
                           "    version: 1.0.0\n"
                           "    skills:\n"
                           "      - id: echo\n"
                           "        name: Echo\n"
                           "        tags: [demo]\n"
                           "    tags: [demo]\n";

  // A binding to a memory that does not exist: the deployment alone would be admitted, but the
  // push's writes are checked together, so nothing is written.
  WriteAgent(work, "v1", base + "  bindings:\n    memories:\n      - name: echo-history\n      - name: ghost\n");
  Commit(work, "ghost");
  auto push = Git(work, {"push", "tuna", "HEAD:refs/heads/main"});
  EXPECT_NE(push.exit_code, 0) << push.err;
  EXPECT_NE(push.err.find("remote: refs/heads/main: agentresourcebinding echo: spec.memories[1].name: "), std::string::npos)
      << push.err;
  EXPECT_EQ(api_->Get(kNs + "/agentdeployments/echo").status, 404);
  EXPECT_EQ(api_->Get(kNs + "/agentcatalogues/echo").status, 404);

  // A catalogue problem names its tuna.yaml line.
  WriteAgent(work, "v1", std::regex_replace(base, std::regex("        name: Echo\n"), ""));
  Commit(work, "no skill name");
  push = Git(work, {"push", "tuna", "HEAD:refs/heads/main"});
  EXPECT_NE(push.exit_code, 0) << push.err;
  EXPECT_NE(push.err.find("remote: refs/heads/main: tuna.yaml:11: spec.catalogue.skills[0].name: "), std::string::npos)
      << push.err;

  WriteAgent(work, "v1", base + "  bindings:\n    memories:\n      - name: echo-history\n        readOnly: true\n");
  Commit(work, "v1");
  push = Git(work, {"push", "-o", "nowait", "tuna", "HEAD:refs/heads/main"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_NE(push.err.find("remote: refs/heads/main: agentcatalogue echo written"), std::string::npos) << push.err;
  EXPECT_NE(push.err.find("remote: refs/heads/main: agentresourcebinding echo written"), std::string::npos) << push.err;
  auto cat = json::parse(api_->Get(kNs + "/agentcatalogues/echo").body);
  EXPECT_EQ(Str(cat, {"spec", "agentName"}), "echo");
  EXPECT_EQ(Str(cat, {"spec", "displayName"}), "Echo");
  EXPECT_EQ(Str(cat, {"spec", "version"}), "1.0.0");
  EXPECT_EQ(cat.at("spec").at("skills").as_array().size(), 1u);
  EXPECT_EQ(Str(cat, {"metadata", "labels", "tuna.ai/repository"}), "echo");
  auto bind = json::parse(api_->Get(kNs + "/agentresourcebindings/echo").body);
  EXPECT_EQ(Str(bind, {"spec", "agentName"}), "echo");
  EXPECT_EQ(json::serialize(bind.at("spec").at("memories")), R"([{"name":"echo-history","readOnly":true}])");
  EXPECT_EQ(api_->Get(kNs + "/agentdeployments/echo").status, 200);

  // The next push updates the catalogue entry like the deployment.
  WriteAgent(work, "v2", std::regex_replace(base, std::regex("version: 1.0.0"), "version: 2.0.0"));
  Commit(work, "v2");
  push = Git(work, {"push", "-o", "nowait", "tuna", "HEAD:refs/heads/main"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  cat = json::parse(api_->Get(kNs + "/agentcatalogues/echo").body);
  EXPECT_EQ(Str(cat, {"spec", "version"}), "2.0.0");
}

// The push's output is streamed: its first "remote:" lines reach the pusher while the hook still
// waits for the build (which sleeps), long before git exits. Buffered, they would all arrive at
// the end.
TEST_F(GitPush, ProgressLinesStreamWhileThePushRuns) {
  json::object env = {{"apiVersion", "tuna.ai/v1alpha1"},
                      {"kind", "AgentEnvironment"},
                      {"metadata", {{"name", "proc"}}},
                      {"spec",
                       {{"runtime", "process"},
                        {"buildScript", "echo building; sleep 5; echo built"},
                        {"workerCommand", python_ + " " + std::string(TUNA_SOURCE_DIR) + "/runtimes/python/worker.py"},
                        {"poolSize", 1},
                        {"buildTimeLimitSeconds", 60}}}};
  ASSERT_EQ(api_->Post(kNs + "/agentenvironments", json::serialize(env)).status, 201);
  ASSERT_EQ(api_->Post(kNs + "/repositories", R"({"name":"echo"})").status, 201);
  fs::path work = MakeWorkTree("work", "echo");
  WriteAgent(work, "v1");
  Commit(work, "v1");

  testing::ProcessOptions po;
  po.args = {"-C", work.string(), "-c", "credential.helper=", "push", "--progress", "tuna", "HEAD:refs/heads/main"};
  po.env = {{"HOME", dir_.path()}, {"PATH", std::getenv("PATH")}, {"GIT_TERMINAL_PROMPT", "0"},
            {"GIT_CONFIG_NOSYSTEM", "1"}, {"LC_ALL", "C"}};
  auto git = testing::Process::Spawn("/usr/bin/git", po);
  ASSERT_TRUE(git);
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(git->WaitForOutput(
      [](const std::string&, const std::string& err) {
        return err.find("remote: waiting for echo staging to build and deploy") != std::string::npos;
      },
      90s))
      << git->Stderr();
  const auto first_lines = std::chrono::steady_clock::now();
  const std::string early = git->Stderr();
  EXPECT_NE(early.find("remote: refs/heads/main: snapshot sha256:"), std::string::npos) << early;
  EXPECT_EQ(early.find("deployed:"), std::string::npos) << early;  // the push is still running
  auto done = git->Wait(120s);
  const auto finished = std::chrono::steady_clock::now();
  ASSERT_EQ(done.exit_code, 0) << git->Stderr();
  EXPECT_EQ(LastRemoteLine(git->Stderr()), "echo staging deployed: " + StageUrl("staging")) << git->Stderr();
  // The build alone takes 5 s after the first lines arrived.
  EXPECT_GE(finished - first_lines, 3s) << "first lines after "
                                        << std::chrono::duration_cast<std::chrono::milliseconds>(first_lines - started).count()
                                        << " ms\n" << git->Stderr();
  EXPECT_EQ(Invoke("staging"), "v1");
}

}  // namespace
}  // namespace tuna
