// Push size limits with tuna::Server embedded in the test: git routes accept bodies up to
// max_git_push_bytes, every other route still answers 413 beyond max_body_bytes, and a push over
// the git limit is refused with 413 before anything changes.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "cli/process.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"
#include "tuna/server.hpp"

namespace tuna {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class GitLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.store = std::shared_ptr<Store>(MakeMemoryStore());
    o.run_controllers = false;
    o.admin_token = "t0k3n";
    o.listen = "127.0.0.1:0";
    o.data_dir = dir_.path() + "/data";
    o.max_body_bytes = 64 << 10;
    o.max_git_push_bytes = 512 << 10;
    o.git_hook_binary = TUNA_BINARY;
    auto made = Server::Make(std::move(o));
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    server_ = std::move(*made);
    ASSERT_TRUE(server_->Start().ok());
    api_ = std::make_unique<testing::ApiClient>(server_->port(), "t0k3n");
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  testing::ProcessResult Git(const fs::path& cwd, std::vector<std::string> args) {
    testing::ProcessOptions po;
    po.args = {"-C", cwd.string(), "-c", "credential.helper=", "-c", "user.name=T", "-c", "user.email=t@tuna.ai"};
    po.args.insert(po.args.end(), args.begin(), args.end());
    po.env = {{"HOME", dir_.path()}, {"PATH", std::getenv("PATH")}, {"GIT_TERMINAL_PROMPT", "0"},
              {"GIT_CONFIG_NOSYSTEM", "1"}, {"LC_ALL", "C"}};
    return testing::RunProcess("/usr/bin/git", po, 60s);
  }

  // A work tree holding `bytes` of incompressible data, committed.
  fs::path WorkTree(const std::string& name, std::size_t bytes) {
    fs::path work = fs::path(dir_.path()) / name;
    fs::create_directories(work);
    EXPECT_EQ(Git(work, {"init", "-q"}).exit_code, 0);
    std::mt19937 rng(42);
    std::string data(bytes, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    std::ofstream(work / "blob.bin", std::ios::binary) << data;
    EXPECT_EQ(Git(work, {"add", "-A"}).exit_code, 0);
    EXPECT_EQ(Git(work, {"commit", "-q", "-m", "data"}).exit_code, 0);
    return work;
  }

  std::string Remote() const {
    return "http://u:t0k3n@127.0.0.1:" + std::to_string(server_->port()) + "/git/default/big.git";
  }

  testing::TempDir dir_;
  ServerPtr server_;
  std::unique_ptr<testing::ApiClient> api_;
};

TEST_F(GitLimits, GitRoutesTakeLargerBodiesOtherRoutesDoNot) {
  ASSERT_EQ(api_->Post("/apis/tuna.ai/v1alpha1/namespaces/default/repositories", R"({"name":"big"})").status, 201);

  // Another route: 413 beyond max_body_bytes although the transport admits more.
  auto big = api_->Post("/apis/tuna.ai/v1alpha1/namespaces/default/agentmemories", std::string(100 << 10, ' '));
  EXPECT_EQ(big.status, 413) << big.body;

  // 128 KiB reaches git (and its pre-receive hook, which refuses the missing tuna.yaml).
  fs::path mid = WorkTree("mid", 128 << 10);
  auto pushed = Git(mid, {"push", Remote(), "HEAD:refs/heads/main"});
  EXPECT_NE(pushed.exit_code, 0);
  EXPECT_NE(pushed.err.find("tuna.yaml: missing at the repository root"), std::string::npos) << pushed.err;

  // 1 MiB is over max_git_push_bytes: 413, nothing changes.
  fs::path large = WorkTree("large", 1 << 20);
  auto refused = Git(large, {"push", Remote(), "HEAD:refs/heads/main"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("413"), std::string::npos) << refused.err;
  auto refs = Git(large, {"ls-remote", Remote()});
  EXPECT_EQ(refs.exit_code, 0) << refs.err;
  EXPECT_EQ(refs.out, "");
}

}  // namespace
}  // namespace tuna
