// The CLI's commands run in-process (tuna::cli::Run) against a canned HTTP responder that keeps
// objects in a map and answers per docs/api.md (Status bodies, resourceVersion checks, 401s).
// The same flows run against the real `tuna server` in cli_integration_test.cpp.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/canned_http_server.hpp"
#include "cli/command.hpp"
#include "support/temp_dir.hpp"

namespace tuna::cli {
namespace {

namespace json = boost::json;
using tuna::testing::CannedHttpServer;
using tuna::testing::TempDir;

constexpr std::string_view kToken = "s3cret";
constexpr std::string_view kPrefix = "/apis/tuna.ai/v1alpha1/namespaces/";

// A map of objects behind the REST contract (only what the CLI uses).
class FakeApi {
 public:
  explicit FakeApi(CannedHttpServer& server) {
    server.SetHandler([this](const CannedHttpServer::Request& r) { return Handle(r); });
  }

  std::map<std::string, json::value> objects;  // "ns/plural/name" -> object
  int revision = 0;
  int conflicts_to_inject = 0;  // answer this many PUTs with 409 Conflict

  CannedHttpServer::Response Handle(const CannedHttpServer::Request& r) {
    std::lock_guard lock(mu_);
    if (r.Header("authorization") != "Bearer " + std::string(kToken)) return Error(401, "Unauthorized", "invalid bearer token");
    std::string path = r.target.substr(0, r.target.find('?'));
    if (path.rfind(kPrefix, 0) != 0) return Error(404, "NotFound", "no route");
    std::string rest = path.substr(kPrefix.size());  // ns/plural[/name]
    std::vector<std::string> parts;
    for (std::size_t start = 0;;) {
      auto slash = rest.find('/', start);
      parts.push_back(rest.substr(start, slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    if (parts.size() == 2 && r.method == "GET") return List(parts[0], parts[1]);
    if (parts.size() == 2 && r.method == "POST") {
      json::value obj = json::parse(r.body);
      std::string name(obj.at("metadata").at("name").as_string());
      std::string key = parts[0] + "/" + parts[1] + "/" + name;
      if (objects.count(key)) return Error(409, "AlreadyExists", parts[1] + " \"" + name + "\" already exists");
      // Stands in for admission refusing an object (e.g. a reference to a missing object).
      if (obj.at("metadata").as_object().contains("labels") && obj.at("metadata").at("labels").as_object().contains("reject")) {
        return Error(422, "Invalid", "spec.type: refused by admission", "spec.type");
      }
      obj.at("metadata").as_object()["resourceVersion"] = std::to_string(++revision);
      obj.at("metadata").as_object()["namespace"] = parts[0];
      obj.at("metadata").as_object()["uid"] = "uid-" + name;
      obj.at("metadata").as_object()["creationTimestamp"] = "2026-01-01T00:00:00Z";
      if (r.target.find("dryRun=All") == std::string::npos) objects[key] = obj;
      return Ok(201, obj);
    }
    if (parts.size() != 3) return Error(404, "NotFound", "no route");
    std::string key = parts[0] + "/" + parts[1] + "/" + parts[2];
    auto it = objects.find(key);
    if (it == objects.end()) {
      return Error(404, "NotFound", parts[1] + " \"" + parts[2] + "\" not found");
    }
    if (r.method == "GET") return Ok(200, it->second);
    if (r.method == "DELETE") {
      json::value gone = it->second;
      objects.erase(it);
      return Ok(200, gone);
    }
    if (r.method == "PUT") {
      if (conflicts_to_inject > 0) {
        --conflicts_to_inject;
        ++revision;
        it->second.at("metadata").as_object()["resourceVersion"] = std::to_string(revision);
        return Error(409, "Conflict", "the object has been modified");
      }
      json::value obj = json::parse(r.body);
      if (obj.at("metadata").at("resourceVersion") != it->second.at("metadata").at("resourceVersion")) {
        return Error(409, "Conflict", "stale resourceVersion");
      }
      obj.at("metadata").as_object()["resourceVersion"] = std::to_string(++revision);
      it->second = obj;
      return Ok(200, obj);
    }
    return Error(405, "MethodNotAllowed", "no");
  }

  int puts = 0;

 private:
  CannedHttpServer::Response List(const std::string& ns, const std::string& plural) {
    json::array items;
    for (const auto& [k, v] : objects) {
      if (k.rfind(ns + "/" + plural + "/", 0) == 0) items.push_back(v);
    }
    json::object list{{"apiVersion", "tuna.ai/v1alpha1"},
                      {"kind", "List"},
                      {"metadata", {{"resourceVersion", std::to_string(revision)}}},
                      {"items", items}};
    return Ok(200, list);
  }
  static CannedHttpServer::Response Ok(int status, const json::value& v) {
    CannedHttpServer::Response r;
    r.status = status;
    r.body = json::serialize(v);
    return r;
  }
  static CannedHttpServer::Response Error(int status, std::string_view reason, std::string message,
                                          std::string_view field = "") {
    json::object o{{"apiVersion", "v1"}, {"kind", "Status"}, {"status", "Failure"}, {"code", status},
                   {"reason", reason}, {"message", message}, {"requestId", "rid-42"}};
    if (!field.empty()) o["field"] = field;
    return Ok(status, o);
  }
  std::mutex mu_;
};

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

class CliCommands : public ::testing::Test {
 protected:
  CliResult Cli(std::vector<std::string> args, std::string stdin_text = "", std::map<std::string, std::string> env = {}) {
    std::ostringstream out, err;
    std::istringstream in(stdin_text);
    env.emplace("HOME", home_.path());
    env.emplace("TUNA_SERVER", server_.url());
    env.emplace("TUNA_TOKEN", std::string(kToken));
    Io io{out, err, in, [env](std::string_view name) -> std::optional<std::string> {
            auto it = env.find(std::string(name));
            return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
          }};
    io.cancel = cancel_;
    CliResult r;
    r.code = cli::Run(args, io);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = home_.path() + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
    return path;
  }

  TempDir home_;
  CannedHttpServer server_;
  FakeApi api_{server_};
  const CancelToken* cancel_ = nullptr;
};

constexpr const char* kTwoDocs =
    "apiVersion: tuna.ai/v1alpha1\n"
    "kind: AgentEnvironment\n"
    "metadata:\n"
    "  name: python\n"
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
    "  environmentName: python\n";

TEST_F(CliCommands, HelpAndUsageErrors) {
  auto help = Cli({"help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("apply"), std::string::npos);
  auto get_help = Cli({"get", "--help"});
  EXPECT_EQ(get_help.code, 0);
  EXPECT_NE(get_help.out.find("tuna get KIND [NAME...]"), std::string::npos);
  EXPECT_NE(get_help.out.find("--all-namespaces"), std::string::npos);
  EXPECT_EQ(Cli({"help", "apply"}).code, 0);

  auto unknown = Cli({"aply"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_EQ(unknown.err, "error: unknown command \"aply\" (did you mean apply?); run 'tuna help' for the list of commands\n");
  auto flag = Cli({"get", "ad", "--outptu", "yaml"});
  EXPECT_EQ(flag.code, 2);
  EXPECT_EQ(flag.err.rfind("error: unknown flag --outptu (did you mean --output?)", 0), 0u) << flag.err;
  EXPECT_EQ(Cli({"apply"}).code, 2);
  EXPECT_EQ(Cli({"get"}).code, 2);
  EXPECT_EQ(Cli({"get", "ad", "-o", "xml"}).code, 2);
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(CliCommands, UnknownKindSuggests) {
  auto r = Cli({"get", "agentdeploymnt"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.rfind("error: unknown kind \"agentdeploymnt\" (did you mean agentdeployment?)", 0), 0u) << r.err;
}

TEST_F(CliCommands, ApplyCreatesThenReportsUnchangedThenConfigured) {
  std::string file = Write("m/app.yaml", kTwoDocs);
  auto first = Cli({"apply", "-f", file});
  EXPECT_EQ(first.code, 0) << first.err;
  EXPECT_EQ(first.out, "agentenvironment.tuna.ai/python created\nagentdeployment.tuna.ai/echo created\n");
  auto again = Cli({"apply", "-f", home_.path() + "/m"});  // a directory
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out, "agentenvironment.tuna.ai/python unchanged\nagentdeployment.tuna.ai/echo unchanged\n");
  std::string changed = kTwoDocs;
  changed.replace(changed.rfind("python"), 6, "python2");
  auto third = Cli({"apply", "-f", "-"}, changed);
  EXPECT_EQ(third.code, 0) << third.err;
  EXPECT_EQ(third.out, "agentenvironment.tuna.ai/python unchanged\nagentdeployment.tuna.ai/echo configured\n");
  EXPECT_EQ(api_.objects.at("default/agentdeployments/echo").at("spec").at("environmentName"), "python2");
}

TEST_F(CliCommands, ApplyRetriesConflicts) {
  std::string file = Write("app.yaml", kTwoDocs);
  ASSERT_EQ(Cli({"apply", "-f", file}).code, 0);
  std::string changed = kTwoDocs;
  changed.replace(changed.rfind("python"), 6, "python2");
  api_.conflicts_to_inject = 2;
  auto r = Cli({"apply", "-f", "-"}, changed);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("agentdeployment.tuna.ai/echo configured"), std::string::npos);
}

TEST_F(CliCommands, ApplyDryRunWritesNothing) {
  auto r = Cli({"apply", "--dry-run", "-f", "-"}, kTwoDocs);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "agentenvironment.tuna.ai/python created (dry run)\nagentdeployment.tuna.ai/echo created (dry run)\n");
  EXPECT_TRUE(api_.objects.empty());
}

TEST_F(CliCommands, ApplyContinuesPastBadDocumentsAndNamesThem) {
  std::string text = std::string(kTwoDocs) +
                     "---\napiVersion: tuna.ai/v1alpha1\nkind: AgentMemory\nmetadata:\n  nmae: m\n"
                     "---\napiVersion: tuna.ai/v1alpha1\nkind: AgentMemory\nmetadata:\n  name: m2\n  labels:\n    reject: \"yes\"\n"
                     "spec:\n  type: kv\n";
  std::string file = Write("mixed.yaml", text);
  auto r = Cli({"apply", "-f", file});
  EXPECT_EQ(r.code, 6);
  EXPECT_EQ(r.out, "agentenvironment.tuna.ai/python created\nagentdeployment.tuna.ai/echo created\n");
  // The client-side decode error names file, line of the field, document and field path.
  EXPECT_NE(r.err.find("error: " + file + ":20 (document 3): metadata.nmae: unknown field (did you mean name?)\n"),
            std::string::npos)
      << r.err;
  // The server's error keeps its field (located in the file) and request id.
  EXPECT_NE(r.err.find("error: " + file + ":29 (document 4): agentmemory.tuna.ai/m2: spec.type: refused by admission "
                       "(request id rid-42)\n"),
            std::string::npos)
      << r.err;
}

TEST_F(CliCommands, ApplyMissingFileAndNamespaceMismatch) {
  auto missing = Cli({"apply", "-f", home_.path() + "/nope.yaml"});
  EXPECT_EQ(missing.code, 6);
  EXPECT_EQ(missing.err, "error: " + home_.path() + "/nope.yaml: no such file or directory\n");
  std::string text =
      "apiVersion: tuna.ai/v1alpha1\nkind: AgentMemory\nmetadata:\n  name: m\n  namespace: a\nspec:\n  type: kv\n";
  auto clash = Cli({"apply", "-n", "b", "-f", "-"}, text);
  EXPECT_EQ(clash.code, 6);
  EXPECT_NE(clash.err.find("metadata.namespace: \"a\" does not match the namespace \"b\" given with -n"),
            std::string::npos)
      << clash.err;
  auto ok = Cli({"apply", "-f", "-"}, text);
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(api_.objects.count("a/agentmemories/m"));
}

TEST_F(CliCommands, GetTablesYamlRoundTripAndNotFound) {
  ASSERT_EQ(Cli({"apply", "-f", "-"}, kTwoDocs).code, 0);
  auto table = Cli({"get", "agents"});
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(table.out.substr(0, table.out.find('\n')), "NAME   ENV      PHASE    STAGING   PRODUCTION   AGE");
  EXPECT_EQ(table.out.rfind("echo   python   <none>   <none>    <none>       ", table.out.find('\n') + 1),
            table.out.find('\n') + 1)
      << table.out;
  auto names = Cli({"get", "env", "-o", "name"});
  EXPECT_EQ(names.out, "agentenvironment.tuna.ai/python\n");

  auto yaml = Cli({"get", "ad", "echo", "-o", "yaml"});
  EXPECT_EQ(yaml.code, 0) << yaml.err;
  EXPECT_NE(yaml.out.find("resourceVersion:"), std::string::npos);
  auto reapply = Cli({"apply", "-f", "-"}, yaml.out);
  EXPECT_EQ(reapply.code, 0) << reapply.err;
  EXPECT_EQ(reapply.out, "agentdeployment.tuna.ai/echo unchanged\n");

  auto json_list = Cli({"get", "ad", "-o", "json"});
  EXPECT_EQ(json_list.code, 0);
  EXPECT_EQ(json::parse(json_list.out).at("items").as_array().size(), 1u);
  EXPECT_EQ(Cli({"apply", "-f", "-"}, json_list.out).out, "agentdeployment.tuna.ai/echo unchanged\n");

  auto missing = Cli({"get", "ad", "nope"});
  EXPECT_EQ(missing.code, 3);
  EXPECT_EQ(missing.err, "error: agentdeployment \"nope\" not found in namespace \"default\"\n");
  auto empty = Cli({"get", "mem", "-n", "elsewhere"});
  EXPECT_EQ(empty.code, 0);
  EXPECT_EQ(empty.err, "No resources found in elsewhere namespace.\n");
}

TEST_F(CliCommands, DescribeAndDelete) {
  ASSERT_EQ(Cli({"apply", "-f", "-"}, kTwoDocs).code, 0);
  auto d = Cli({"describe", "ad/echo"});
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_NE(d.out.find("Name:               echo\n"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("Labels:             app=echo\n"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("Spec:\n  environmentName: python\n"), std::string::npos) << d.out;

  auto del = Cli({"delete", "ad", "echo", "ghost"});
  EXPECT_EQ(del.code, 3);
  EXPECT_EQ(del.out, "agentdeployment.tuna.ai/echo deleted\n");
  EXPECT_EQ(del.err, "error: agentdeployment \"ghost\" not found in namespace \"default\"\n");
  EXPECT_EQ(Cli({"delete", "ad", "ghost", "--ignore-not-found"}).code, 0);
  auto by_file = Cli({"delete", "-f", "-"}, kTwoDocs);
  EXPECT_EQ(by_file.code, 3);  // echo is already gone
  EXPECT_EQ(by_file.out, "agentenvironment.tuna.ai/python deleted\n");
  EXPECT_TRUE(api_.objects.empty());
}

TEST_F(CliCommands, WrongTokenIsExitFiveWithHint) {
  auto r = Cli({"get", "ad"}, "", {{"TUNA_TOKEN", "wrong"}});
  EXPECT_EQ(r.code, 5);
  EXPECT_EQ(r.err.rfind("error: invalid bearer token (request id rid-42)\n  hint: check the token (from TUNA_TOKEN)", 0), 0u)
      << r.err;
  // --token beats TUNA_TOKEN.
  EXPECT_EQ(Cli({"get", "ad", "--token", std::string(kToken)}, "", {{"TUNA_TOKEN", "wrong"}}).code, 0);
}

TEST_F(CliCommands, ServerDownIsExitSeven) {
  server_.Stop();
  auto r = Cli({"get", "ad"});
  EXPECT_EQ(r.code, 7);
  EXPECT_EQ(r.err.rfind("error: cannot reach tuna server at " + server_.url(), 0), 0u) << r.err;
  EXPECT_NE(r.err.find("is `tuna server` running?"), std::string::npos);
  EXPECT_NE(r.err.find("hint: the server URL comes from TUNA_SERVER"), std::string::npos) << r.err;
  auto v = Cli({"version"});
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out.rfind("Client Version: ", 0), 0u);
  EXPECT_NE(v.err.find("warning: no server version"), std::string::npos);
}

TEST_F(CliCommands, ConfigFileSuppliesServerAndToken) {
  Write(".config/tuna/admin.token", std::string(kToken) + "\n");
  Write(".config/tuna/config.yaml", "server: " + server_.url() + "\ntoken-file: admin.token\n");
  std::ostringstream out, err;
  std::istringstream in;
  Io io{out, err, in, [this](std::string_view name) -> std::optional<std::string> {
          if (name == "HOME") return home_.path();
          return std::nullopt;
        }};
  EXPECT_EQ(cli::Run({"get", "ad"}, io), 0) << err.str();
}

TEST_F(CliCommands, WatchPrintsRowsUntilCancelled) {
  ASSERT_EQ(Cli({"apply", "-f", "-"}, kTwoDocs).code, 0);
  // After the list, the watch stream sends one change and stays open until cancelled.
  CancelToken cancel;
  cancel_ = &cancel;
  server_.SetHandler([this](const CannedHttpServer::Request& r) {
    if (r.target.find("watch=true") == std::string::npos) return api_.Handle(r);
    CannedHttpServer::Response s;
    json::value obj = api_.objects.at("default/agentdeployments/echo");
    obj.as_object()["status"] = json::object{{"phase", "StagingDeployed"}};
    obj.at("metadata").as_object()["resourceVersion"] = "99";
    s.chunks = {json::serialize(json::object{{"type", "MODIFIED"}, {"object", obj}}) + "\n"};
    s.hold_open = true;
    return s;
  });
  std::size_t before = server_.requests().size();
  std::thread stopper([&] {
    server_.WaitForRequests(before + 2);  // the list and the watch
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel.Cancel();
  });
  auto r = Cli({"get", "ad", "-w"});
  stopper.join();
  EXPECT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string header, initial, changed;
  std::getline(lines, header);
  std::getline(lines, initial);
  std::getline(lines, changed);
  EXPECT_EQ(header.rfind("NAME", 0), 0u);
  EXPECT_NE(initial.find("<none>"), std::string::npos) << r.out;
  EXPECT_NE(changed.find("StagingDeployed"), std::string::npos) << r.out;
  auto reqs = server_.requests();
  EXPECT_NE(reqs.back().target.find("watch=true&resourceVersion=2"), std::string::npos) << reqs.back().target;
}

}  // namespace
}  // namespace tuna::cli
