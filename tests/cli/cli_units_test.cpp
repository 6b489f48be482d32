// Unit tests of the CLI's parts: flags, config resolution, output formatting, exit codes.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>

#include "support/files.hpp"
#include "cli/args.hpp"
#include "cli/config.hpp"
#include "cli/exit_codes.hpp"
#include "cli/manifests.hpp"
#include "cli/output.hpp"
#include "support/temp_dir.hpp"
#include "tuna/resources/codec.hpp"

namespace tuna::cli {
namespace {
using testing::WriteFile;

using tuna::testing::TempDir;

const std::vector<FlagSpec> kSpecs = {
    {"namespace", 'n', true, "NS", ""},
    {"filename", 'f', true, "PATH", ""},
    {"all-namespaces", 'A', false, "", ""},
    {"output", 'o', true, "FORMAT", ""},
};

TEST(CliArgs, LongShortInlineAndRepeated) {
  auto a = ParseArgs({"get", "ad", "-n", "x", "--output=yaml", "-A", "-fa.yaml", "--filename", "b.yaml", "-f", "-",
                      "--", "-notaflag"},
                     kSpecs);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->positionals, (std::vector<std::string>{"get", "ad", "-notaflag"}));
  EXPECT_EQ(a->Value("namespace"), "x");
  EXPECT_EQ(a->Value("output"), "yaml");
  EXPECT_TRUE(a->Has("all-namespaces"));
  EXPECT_EQ(a->Values("filename"), (std::vector<std::string>{"a.yaml", "b.yaml", "-"}));
  EXPECT_EQ(a->Value("missing", "dflt"), "dflt");
}

TEST(CliArgs, ErrorsAreClear) {
  auto unknown = ParseArgs({"--namepsace", "x"}, kSpecs);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), "unknown flag --namepsace (did you mean --namespace?)");
  auto missing = ParseArgs({"-n"}, kSpecs);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "flag -n needs a value (NS)");
  auto valued_bool = ParseArgs({"--all-namespaces=yes"}, kSpecs);
  ASSERT_FALSE(valued_bool.ok());
  EXPECT_EQ(valued_bool.status().message(), "flag --all-namespaces takes no value");
}

EnvFn EnvOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}


TEST(CliConfig, DefaultsWithoutAnything) {
  TempDir home;
  auto c = ResolveConfig({}, EnvOf({{"HOME", home.path()}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "http://127.0.0.1:7070");
  EXPECT_EQ(c->server_source, "the default");
  EXPECT_EQ(c->token, "");
  EXPECT_EQ(c->namespace_, "default");
  EXPECT_FALSE(c->config_loaded);
  EXPECT_EQ(c->config_path, home.path() + "/.config/tuna/config.yaml");
}

TEST(CliConfig, PrecedenceFlagsOverEnvOverFileOverDefaults) {
  TempDir home;
  WriteFile(home.path() + "/.config/tuna/config.yaml",
            "server: http://file:1\ntoken-file: file.token\nnamespace: file-ns\n");
  WriteFile(home.path() + "/.config/tuna/file.token", "file-token\n");
  WriteFile(home.path() + "/env.token", "  env-file-token \n");

  auto file_only = ResolveConfig({}, EnvOf({{"HOME", home.path()}}));
  ASSERT_TRUE(file_only.ok()) << file_only.status().ToString();
  EXPECT_EQ(file_only->server, "http://file:1");
  EXPECT_EQ(file_only->token, "file-token");  // token-file relative to the config file
  EXPECT_EQ(file_only->namespace_, "file-ns");

  auto env = EnvOf({{"HOME", home.path()}, {"TUNA_SERVER", "http://env:2"}, {"TUNA_TOKEN_FILE", home.path() + "/env.token"},
                    {"TUNA_NAMESPACE", "env-ns"}});
  auto from_env = ResolveConfig({}, env);
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->server, "http://env:2");
  EXPECT_EQ(from_env->server_source, "TUNA_SERVER");
  EXPECT_EQ(from_env->token, "env-file-token");
  EXPECT_EQ(from_env->namespace_, "env-ns");
  EXPECT_FALSE(from_env->namespace_from_flag);

  ConfigFlags flags;
  flags.server = "http://flag:3";
  flags.token = "flag-token";
  flags.namespace_ = "flag-ns";
  auto from_flags = ResolveConfig(flags, env);
  ASSERT_TRUE(from_flags.ok());
  EXPECT_EQ(from_flags->server, "http://flag:3");
  EXPECT_EQ(from_flags->token, "flag-token");
  EXPECT_EQ(from_flags->token_source, "--token");
  EXPECT_EQ(from_flags->namespace_, "flag-ns");
  EXPECT_TRUE(from_flags->namespace_from_flag);
}

TEST(CliConfig, XdgAndTunaConfigChooseTheFile) {
  TempDir dir;
  EXPECT_EQ(DefaultConfigPath(EnvOf({{"HOME", "/h"}, {"XDG_CONFIG_HOME", "/x"}})), "/x/tuna/config.yaml");
  EXPECT_EQ(DefaultConfigPath(EnvOf({{"HOME", "/h"}, {"XDG_CONFIG_HOME", "/x"}, {"TUNA_CONFIG", "/c.yaml"}})),
            "/c.yaml");
  auto missing = ResolveConfig({}, EnvOf({{"TUNA_CONFIG", dir.path() + "/nope.yaml"}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.yaml does not exist"), std::string::npos);
}

TEST(CliConfig, BadFilesAreNamed) {
  TempDir home;
  std::string path = home.path() + "/.config/tuna/config.yaml";
  WriteFile(path, "server: http://x\nsever: typo\n");
  auto typo = ResolveConfig({}, EnvOf({{"HOME", home.path()}}));
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find(path), std::string::npos) << typo.status().message();
  EXPECT_NE(typo.status().message().find("did you mean server?"), std::string::npos) << typo.status().message();

  WriteFile(path, "token-file: /does/not/exist\n");
  auto no_token = ResolveConfig({}, EnvOf({{"HOME", home.path()}}));
  ASSERT_FALSE(no_token.ok());
  EXPECT_NE(no_token.status().message().find("/does/not/exist"), std::string::npos) << no_token.status().message();
}

TEST(CliConfig, WriteConfigIfMissingNeverOverwrites) {
  TempDir home;
  std::string path = home.path() + "/.config/tuna/config.yaml";
  auto wrote = WriteConfigIfMissing(path, "http://127.0.0.1:7070", "/data/admin.token");
  ASSERT_TRUE(wrote.ok());
  EXPECT_TRUE(*wrote);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::ofstream(home.path() + "/admin.token") << "secret\n";
  auto again = WriteConfigIfMissing(path, "http://other:1", "/other");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  // What it wrote is a config the CLI reads back.
  auto c = ResolveConfig({}, EnvOf({{"HOME", home.path()}}));
  ASSERT_FALSE(c.ok());  // /data/admin.token does not exist here
  EXPECT_NE(c.status().message().find("/data/admin.token"), std::string::npos);
  ASSERT_TRUE(WriteConfigIfMissing(home.path() + "/c2.yaml", "http://h:9", home.path() + "/admin.token").ok());
  auto c2 = ResolveConfig({}, EnvOf({{"TUNA_CONFIG", home.path() + "/c2.yaml"}}));
  ASSERT_TRUE(c2.ok()) << c2.status().ToString();
  EXPECT_EQ(c2->server, "http://h:9");
  EXPECT_EQ(c2->token, "secret");
}

TEST(CliExitCodes, MapStatusCodes) {
  EXPECT_EQ(ExitCodeFor(Status::Ok()), 0);
  EXPECT_EQ(ExitCodeFor(Internal("x")), 1);
  EXPECT_EQ(ExitCodeFor(NotFound("x")), 3);
  EXPECT_EQ(ExitCodeFor(AlreadyExists("x")), 4);
  EXPECT_EQ(ExitCodeFor(Conflict("x")), 4);
  EXPECT_EQ(ExitCodeFor(Unauthenticated("x")), 5);
  EXPECT_EQ(ExitCodeFor(PermissionDenied("x")), 5);
  EXPECT_EQ(ExitCodeFor(InvalidArgument("x")), 6);
  EXPECT_EQ(ExitCodeFor(Unavailable("x")), 7);
  EXPECT_EQ(ExitCodeFor(DeadlineExceeded("x")), 7);
  EXPECT_EQ(ExitCodeFor(FailedPrecondition("x")), 1);
}

TEST(CliOutput, HumanDurationLikeKubectl) {
  using std::chrono::seconds;
  EXPECT_EQ(HumanDuration(seconds(-5)), "<invalid>");
  EXPECT_EQ(HumanDuration(seconds(0)), "0s");
  EXPECT_EQ(HumanDuration(seconds(119)), "119s");
  EXPECT_EQ(HumanDuration(seconds(200)), "3m20s");
  EXPECT_EQ(HumanDuration(seconds(600)), "10m");
  EXPECT_EQ(HumanDuration(seconds(3 * 3600 + 60)), "3h1m");
  EXPECT_EQ(HumanDuration(seconds(20 * 3600)), "20h");
  EXPECT_EQ(HumanDuration(seconds(3 * 86400 + 7200)), "3d2h");
  EXPECT_EQ(HumanDuration(seconds(90 * 86400)), "90d");
  EXPECT_EQ(HumanDuration(seconds(3LL * 365 * 86400)), "3y");
}

TEST(CliOutput, AgeParsesRfc3339) {
  TimePoint now;
  ASSERT_TRUE(ParseRfc3339("2026-01-02T03:04:05Z", now));
  EXPECT_EQ(Age("2026-01-02T03:03:00Z", now), "65s");
  EXPECT_EQ(Age("2026-01-02T03:03:00.123Z", now), "65s");
  EXPECT_EQ(Age("2026-01-02T04:03:00+01:00", now), "65s");
  EXPECT_EQ(Age("yesterday", now), "<unknown>");
}

Resource Deployment(std::string name, std::string phase) {
  Resource r;
  r.kind = "AgentDeployment";
  r.metadata.name = std::move(name);
  r.metadata.namespace_ = "default";
  r.metadata.creation_timestamp = "2026-01-02T03:00:00Z";
  r.spec = boost::json::object{{"environmentName", "python"},
                               {"stages", {{"staging", {{"source", {{"repo", "echo"}, {"ref", "refs/heads/main"}}}}}}}};
  r.status = boost::json::object{
      {"phase", phase},
      {"revisions", {{"staging", {{"revision", "0123456789abcdef0123456789abcdef01234567"}}}}},
      {"conditions", boost::json::array{{{"type", "Ready"}, {"status", "True"}, {"reason", "Deployed"},
                                         {"message", "staging serves rev 0123"},
                                         {"lastTransitionTime", "2026-01-02T03:01:00Z"}}}}};
  return r;
}

TEST(CliOutput, TablesHaveKindColumns) {
  TimePoint now;
  ASSERT_TRUE(ParseRfc3339("2026-01-02T03:05:00Z", now));
  const KindInfo& kind = *FindKind("ad");
  Table t;
  t.headers = TableHeaders(kind, false, false);
  t.rows.push_back(TableRow(Deployment("echo", "StagingDeployed"), kind, false, false, now));
  t.rows.push_back(TableRow(Deployment("a-much-longer-name", "PendingStaging"), kind, false, false, now));
  EXPECT_EQ(RenderTable(t),
            "NAME                 ENV      PHASE             STAGING        PRODUCTION   AGE\n"
            "echo                 python   StagingDeployed   0123456789ab   <none>       5m\n"
            "a-much-longer-name   python   PendingStaging    0123456789ab   <none>       5m\n");
  auto wide = TableHeaders(kind, true, true);
  EXPECT_EQ(wide, (std::vector<std::string>{"NAMESPACE", "NAME", "ENV", "PHASE", "STAGING", "PRODUCTION",
                                            "STAGING-REF", "PRODUCTION-REF", "CANARY", "AGE"}));
  auto row = TableRow(Deployment("echo", "X"), kind, true, true, now);
  EXPECT_EQ(row[0], "default");
  EXPECT_EQ(row[6], "refs/heads/main");
  EXPECT_EQ(row[7], "<none>");
}

TEST(CliOutput, BuildPhaseDefaultsToPendingAndOwnerIsTheDeployment) {
  Resource b;
  b.kind = "AgentBuild";
  b.metadata.name = "echo-1";
  b.metadata.owner_references.push_back({std::string(kApiVersion), "AgentDeployment", "echo", "u1", true, true});
  b.spec = boost::json::object{{"buildTarget", "staging"}};
  auto row = TableRow(b, *FindKind("builds"), false, false, TimePoint());
  EXPECT_EQ(row, (std::vector<std::string>{"echo-1", "echo", "staging", "Pending", "<unknown>"}));
}

TEST(CliOutput, NameYamlJson) {
  Resource r = Deployment("echo", "StagingDeployed");
  EXPECT_EQ(QualifiedName(r), "agentdeployment.tuna.ai/echo");
  std::string yaml = FormatYaml({r, Deployment("two", "X")});
  EXPECT_NE(yaml.find("\n---\n"), std::string::npos);
  auto docs = ParseYamlDocuments(yaml, "out.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 2u);
  auto back = ResourceFromJson((*docs)[0].value);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, r);

  auto one = boost::json::parse(FormatJson({r}, false));
  EXPECT_EQ(one.at("kind"), "AgentDeployment");
  auto list = boost::json::parse(FormatJson({r}, true));
  EXPECT_EQ(list.at("kind"), "List");
  EXPECT_EQ(list.at("items").as_array().size(), 1u);
}

TEST(CliOutput, DescribeShowsMetadataSpecStatusAndConditions) {
  TimePoint now;
  ASSERT_TRUE(ParseRfc3339("2026-01-02T03:05:00Z", now));
  Resource r = Deployment("echo", "StagingDeployed");
  r.metadata.labels = {{"app", "echo"}, {"tier", "web"}};
  r.metadata.uid = "u-1";
  r.metadata.resource_version = "12";
  r.metadata.generation = 2;
  std::string text = Describe(r, now);
  EXPECT_NE(text.find("Name:               echo\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Labels:             app=echo\n                    tier=web\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Created:            2026-01-02T03:00:00Z (5m ago)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Spec:\n  environmentName: python\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Status:\n  phase: StagingDeployed\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("conditions:"), std::string::npos) << "conditions are a table, not YAML";
  EXPECT_NE(text.find("Conditions:\n  TYPE    STATUS   REASON     AGE   MESSAGE\n"
                      "  Ready   True     Deployed   4m    staging serves rev 0123\n"),
            std::string::npos)
      << text;
}

TEST(CliManifests, DirectoriesListsAndNamespaces) {
  TempDir dir;
  WriteFile(dir.path() + "/b.yaml",
            "apiVersion: tuna.ai/v1alpha1\nkind: AgentMemory\nmetadata:\n  name: m\nspec:\n  type: kv\n");
  WriteFile(dir.path() + "/a.json",
            R"({"apiVersion":"v1","kind":"List","items":[{"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory",)"
            R"("metadata":{"name":"x","namespace":"other"},"spec":{"type":"conversation"}}]})");
  WriteFile(dir.path() + "/ignored.txt", "not a manifest");
  std::istringstream in;
  auto all = LoadManifests({dir.path()}, in, "team", false);
  ASSERT_EQ(all.size(), 2u);
  ASSERT_TRUE(all[0].resource) << all[0].error.ToString();
  EXPECT_EQ(all[0].resource->metadata.name, "x");  // a.json sorts first
  EXPECT_EQ(all[0].resource->metadata.namespace_, "other");
  EXPECT_EQ(all[0].location, dir.path() + "/a.json:1");
  EXPECT_EQ(all[1].location, dir.path() + "/b.yaml:1");
  ASSERT_TRUE(all[1].resource);
  EXPECT_EQ(all[1].resource->metadata.namespace_, "team");  // filled from -n / config

  auto clash = LoadManifests({dir.path()}, in, "team", true);
  ASSERT_FALSE(clash[0].resource);
  EXPECT_EQ(clash[0].error.field(), "metadata.namespace");

  WriteFile(dir.path() + "/c/bad.yaml",
            "apiVersion: tuna.ai/v1alpha1\nkind: AgentMemory\nmetadata:\n  name: m\nspec:\n  type: kv\n"
            "---\napiVersion: tuna.ai/v1alpha1\nkind: AgentMemory\nmetadata:\n  name: m\nspec:\n  type: kv\n"
            "  ttlSecond: 5\n");
  auto bad = LoadManifests({dir.path() + "/c"}, in, "default", false);
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_TRUE(bad[0].resource);
  ASSERT_FALSE(bad[1].resource);
  EXPECT_EQ(bad[1].location, dir.path() + "/c/bad.yaml:14 (document 2)");
  EXPECT_EQ(bad[1].error.field(), "spec.ttlSecond");
  EXPECT_EQ(bad[0].locate("spec.type"), dir.path() + "/c/bad.yaml:6 (document 1)");

  auto missing = LoadManifests({dir.path() + "/nope.yaml"}, in, "default", false);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].error.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing[0].location, dir.path() + "/nope.yaml");
}

}  // namespace
}  // namespace tuna::cli
