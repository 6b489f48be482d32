// `tuna server --artifacts s3://...`: snapshots and build outputs live in S3 (a real moto_server
// with signature checking on), and the examples still build, deploy and answer.

#include <gtest/gtest.h>

#include <thread>

#include "artifacts/s3_moto_server.hpp"
#include "support/tuna_server_fixture.hpp"

namespace tuna {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kNs = "/apis/tuna.ai/v1alpha1/namespaces/default";

class S3ArtifactsServer : public testing::TunaServerTest {
 protected:
  void SetUp() override {
    auto& moto = testing::MotoServer::Get();
    ASSERT_TRUE(moto.ok()) << "moto_server is needed (scripts/test.sh installs it): " << moto.error();
    std::string why;
    bucket_ = moto.NewBucket(&why);
    ASSERT_FALSE(bucket_.empty()) << why;
    server_args_ = {"--artifacts", "s3://" + bucket_ + "/artifacts", "--s3-endpoint", moto.endpoint()};
    server_env_ = {{"AWS_ACCESS_KEY_ID", moto.access_key()}, {"AWS_SECRET_ACCESS_KEY", moto.secret_key()}};
    TunaServerTest::SetUp();
  }

  std::string bucket_;
};

TEST_F(S3ArtifactsServer, ExamplesBuildFromAndDeployOutOfS3) {
  auto applied = Tuna({"apply", "-f", std::string(TUNA_SOURCE_DIR) + "/examples/manifests/agent-environment.yaml",
                       "-f", std::string(TUNA_SOURCE_DIR) + "/examples/manifests/agent-deployment.yaml"});
  ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;

  json::value dep;
  auto deadline = std::chrono::steady_clock::now() + 90s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = api_->Get(kNs + "/agentdeployments/echo");
    if (r.status == 200) {
      dep = json::parse(r.body);
      if (testing::JsonStr(dep, {"status", "phase"}) == "ProductionDeployed") break;
    }
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(testing::JsonStr(dep, {"status", "phase"}), "ProductionDeployed") << json::serialize(dep) << ServerLog();

  // The uploaded snapshot and the build output are objects in the bucket, not local files.
  S3ArtifactStoreOptions where = testing::MotoServer::Get().Options(bucket_);
  where.prefix = "artifacts/";  // as --artifacts s3://BUCKET/artifacts says
  auto store = MakeS3ArtifactStore(where);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::string snapshot = testing::JsonStr(dep, {"spec", "stages", "staging", "source", "archive"});
  std::string output = testing::JsonStr(dep, {"status", "revisions", "staging", "archive"});
  ASSERT_FALSE(snapshot.empty());
  ASSERT_FALSE(output.empty());
  for (const auto& digest : {snapshot, output}) {
    auto s3 = (*store)->Contains(digest);
    ASSERT_TRUE(s3.ok()) << s3.status().ToString();
    EXPECT_TRUE(*s3) << digest;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/data/artifacts"));

  auto reply = api_->Post(kNs + "/agentdeployments/echo/proxy/staging/", "from s3");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(testing::JsonStr(json::parse(reply.body), {"echo"}), "from s3");
}

TEST_F(S3ArtifactsServer, BadArtifactsFlagIsAUsageError) {
  auto r = testing::RunProcess(TUNA_BINARY, {{"server", "--artifacts", "gs://nope"}, {{"PATH", std::getenv("PATH")}}}, 30s);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--artifacts takes s3://BUCKET[/PREFIX]"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tuna
