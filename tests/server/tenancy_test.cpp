// API keys through the real `tuna server`: keys are managed per namespace, a key of one tenant
// never reaches another tenant's resources, scopes gate reads, writes and key management, a
// revoked key stops working at once, and git follows the same rules (clone with invoke, push
// needs write).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "support/files.hpp"
#include "support/tuna_server_fixture.hpp"

namespace tuna::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

const std::string kApi = "/apis/tuna.ai/v1alpha1/namespaces/";

std::string Memory(const std::string& ns, const std::string& name) {
  return R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentMemory","metadata":{"name":")" + name +
         R"(","namespace":")" + ns + R"("},"spec":{"type":"conversation"}})";
}

class Tenancy : public TunaServerTest {
 protected:
  void SetUp() override {
    server_args_ = {"--api-only"};
    TunaServerTest::SetUp();
  }

  // Creates a key with the admin token and returns its token.
  std::string Key(const std::string& ns, const std::string& name, const std::string& scope) {
    auto r = api_->Post(kApi + ns + "/apikeys",
                        R"({"metadata":{"name":")" + name + R"("},"spec":{"scope":")" + scope + R"("}})");
    EXPECT_EQ(r.status, 201) << r.body;
    auto doc = json::parse(r.body);
    EXPECT_EQ(JsonStr(doc, {"spec", "scope"}), scope);
    return JsonStr(doc, {"token"});
  }

  ApiClient As(const std::string& token) { return ApiClient(static_cast<std::uint16_t>(std::stoi(port_)), token); }
};

TEST_F(Tenancy, KeysOfOneTenantNeverReachAnother) {
  ApiClient a_write = As(Key("team-a", "writer", "write"));
  ApiClient a_invoke = As(Key("team-a", "reader", "invoke"));
  ApiClient b_write = As(Key("team-b", "writer", "write"));

  EXPECT_EQ(a_write.Post(kApi + "team-a/agentmemories", Memory("team-a", "notes")).status, 201);
  EXPECT_EQ(b_write.Post(kApi + "team-b/agentmemories", Memory("team-b", "notes")).status, 201);

  // Reads: own namespace yes, the other no (403 naming why), all namespaces only for the admin.
  EXPECT_EQ(a_invoke.Get(kApi + "team-a/agentmemories/notes").status, 200);
  auto cross = a_invoke.Get(kApi + "team-b/agentmemories/notes");
  EXPECT_EQ(cross.status, 403) << cross.body;
  EXPECT_NE(cross.body.find("belongs to namespace team-a and cannot reach namespace team-b"), std::string::npos) << cross.body;
  EXPECT_EQ(a_write.Get(kApi + "team-b/agentmemories").status, 403);
  auto all = a_write.Get("/apis/tuna.ai/v1alpha1/agentmemories");
  EXPECT_EQ(all.status, 403) << all.body;
  EXPECT_NE(all.body.find("namespaces/team-a/agentmemories"), std::string::npos) << all.body;
  EXPECT_EQ(api_->Get("/apis/tuna.ai/v1alpha1/agentmemories").status, 200);
  // A watch of the other namespace is refused before it starts.
  EXPECT_EQ(a_invoke.Get(kApi + "team-b/agentmemories?watch=true").status, 403);

  // Writes: need write, and only in the key's namespace; nothing changes on refusal.
  auto invoke_write = a_invoke.Post(kApi + "team-a/agentmemories", Memory("team-a", "other"));
  EXPECT_EQ(invoke_write.status, 403) << invoke_write.body;
  EXPECT_NE(invoke_write.body.find("has scope invoke; this needs write"), std::string::npos) << invoke_write.body;
  EXPECT_EQ(a_write.Post(kApi + "team-b/agentmemories", Memory("team-b", "planted")).status, 403);
  EXPECT_EQ(a_write.Delete(kApi + "team-b/agentmemories/notes").status, 403);
  EXPECT_EQ(api_->Get(kApi + "team-b/agentmemories/notes").status, 200);
  EXPECT_EQ(api_->Get(kApi + "team-b/agentmemories/planted").status, 404);
  EXPECT_EQ(api_->Get(kApi + "team-a/agentmemories/other").status, 404);
  // Status belongs to the controllers: a tenant's write key cannot set it.
  EXPECT_EQ(a_write.Patch(kApi + "team-a/agentmemories/notes/status", R"({"status":{}})").status, 403);
}

TEST_F(Tenancy, KeyManagementNeedsAdminOfThatNamespaceAndRevocationIsImmediate) {
  ApiClient a_admin = As(Key("team-a", "owner", "admin"));
  ApiClient a_write = As(Key("team-a", "writer", "write"));

  // An admin key of team-a manages team-a's keys, not team-b's; a write key manages none.
  auto made = a_admin.Post(kApi + "team-a/apikeys", R"({"metadata":{"name":"bot"},"spec":{"scope":"invoke","rateLimit":{"requestsPerSecond":5,"burst":10}}})");
  ASSERT_EQ(made.status, 201) << made.body;
  std::string bot_token = JsonStr(json::parse(made.body), {"token"});
  EXPECT_EQ(a_admin.Post(kApi + "team-b/apikeys", R"({"metadata":{"name":"x"}})").status, 403);
  EXPECT_EQ(a_write.Post(kApi + "team-a/apikeys", R"({"metadata":{"name":"x"}})").status, 403);
  EXPECT_EQ(a_write.Get(kApi + "team-a/apikeys").status, 403);

  // Listing never shows tokens.
  auto listed = a_admin.Get(kApi + "team-a/apikeys");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.body.find("token"), std::string::npos) << listed.body;
  EXPECT_EQ(json::parse(listed.body).at("items").as_array().size(), 3u);

  // Bad input names the field.
  auto bad = a_admin.Post(kApi + "team-a/apikeys", R"({"metadata":{"name":"y"},"spec":{"scope":"root"}})");
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_NE(bad.body.find("spec.scope"), std::string::npos) << bad.body;
  bad = a_admin.Post(kApi + "team-a/apikeys", R"({"metadata":{"name":"y"},"spec":{"rateLimit":{"rps":1}}})");
  EXPECT_NE(bad.body.find("spec.rateLimit.rps: unknown field"), std::string::npos) << bad.body;
  EXPECT_EQ(a_admin.Post(kApi + "team-a/apikeys", R"({"metadata":{"name":"bot"}})").status, 409);

  // Revoked: the next request is refused.
  ApiClient bot = As(bot_token);
  EXPECT_EQ(bot.Get(kApi + "team-a/agentmemories").status, 200);
  EXPECT_EQ(a_admin.Delete(kApi + "team-a/apikeys/bot").status, 200);
  EXPECT_EQ(bot.Get(kApi + "team-a/agentmemories").status, 401);

  // Keys persist across a restart.
  StopServer();
  StartServer();
  EXPECT_EQ(As(a_admin.token()).Get(kApi + "team-a/apikeys").status, 200);
  EXPECT_EQ(As(bot_token).Get(kApi + "team-a/agentmemories").status, 401);
}

TEST_F(Tenancy, GitCloneNeedsInvokePushNeedsWrite) {
  ASSERT_EQ(api_->Post(kApi + "team-a/repositories", R"({"name":"agent"})").status, 201);
  std::string reader = Key("team-a", "reader", "invoke");
  std::string writer = Key("team-a", "writer", "write");
  std::string other = Key("team-b", "writer", "write");
  auto remote = [&](const std::string& token) { return "http://git:" + token + "@127.0.0.1:" + port_ + "/git/team-a/agent.git"; };
  auto git = [&](const fs::path& cwd, std::vector<std::string> args) {
    ProcessOptions po;
    po.args = {"-C", cwd.string(), "-c", "credential.helper=", "-c", "user.name=Tuna Test", "-c", "user.email=test@tuna.ai",
               "-c", "init.defaultBranch=main"};
    po.args.insert(po.args.end(), args.begin(), args.end());
    po.env = {{"HOME", dir_.path()}, {"PATH", std::getenv("PATH")}, {"GIT_TERMINAL_PROMPT", "0"},
              {"GIT_CONFIG_NOSYSTEM", "1"}, {"LC_ALL", "C"}};
    return RunProcess("/usr/bin/git", po, std::chrono::seconds(60));
  };
  fs::path work = fs::path(dir_.path()) / "work";
  fs::create_directories(work);
  ASSERT_EQ(git(work, {"init", "-q"}).exit_code, 0);
  WriteFile(work / "README.md", "hello\n");
  ASSERT_EQ(git(work, {"add", "-A"}).exit_code, 0);
  ASSERT_EQ(git(work, {"commit", "-q", "-m", "one"}).exit_code, 0);

  // The invoke key reads but cannot push.
  EXPECT_EQ(git(work, {"ls-remote", remote(reader)}).exit_code, 0);
  auto refused = git(work, {"push", remote(reader), "HEAD:refs/heads/docs"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("403"), std::string::npos) << refused.err;
  // Another tenant's key cannot even read.
  EXPECT_NE(git(work, {"ls-remote", remote(other)}).exit_code, 0);
  // The write key's push gets through to the repository's own checks (here: a commit without a
  // tuna.yaml is refused by the pre-receive hook, not by authorization).
  auto pushed = git(work, {"push", remote(writer), "HEAD:refs/heads/docs"});
  EXPECT_NE(pushed.err.find("remote: refs/heads/docs: tuna.yaml: missing"), std::string::npos) << pushed.err;
  EXPECT_EQ(pushed.err.find("403"), std::string::npos) << pushed.err;
  // Repository management: reading with invoke, creating needs write.
  EXPECT_EQ(As(reader).Get(kApi + "team-a/repositories").status, 200);
  EXPECT_EQ(As(reader).Post(kApi + "team-a/repositories", R"({"name":"more"})").status, 403);
  EXPECT_EQ(As(other).Get(kApi + "team-a/repositories").status, 403);
}

}  // namespace
}  // namespace tuna::testing
