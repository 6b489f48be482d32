// The canary rollout in the deployment controller, over a memory store and an in-process driver
// double (builds succeed at once, revisions answer with their deployment id): a new revision runs
// beside the previous one while canaryPercent < 100, a third replaces the canary, setting the
// source back rolls back, 100 promotes, a restart places both again, deletion retires everything.
// The real pool driver and the real binary are exercised in tests/server/canary_test.cpp.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "controllers/workloads.hpp"
#include "tuna/admission.hpp"
#include "tuna/resources/codec.hpp"

namespace tuna::controllers {
namespace {

using namespace std::chrono_literals;

std::string Digest(char c) { return "sha256:" + std::string(64, c); }

// A build that has already succeeded; its artifact is its source (enough to tell revisions apart).
class DoneBuild final : public Build {
 public:
  DoneBuild(std::string id, std::string artifact) : id_(std::move(id)), artifact_(std::move(artifact)) {}
  const std::string& id() const override { return id_; }
  BuildState State() override {
    BuildState s;
    s.phase = BuildJobPhase::kSucceeded;
    s.artifact = artifact_;
    return s;
  }
  Result<std::string> ReadLog(std::size_t) override { return std::string(); }
  Status Cancel() override { return Status::Ok(); }

 private:
  std::string id_;
  std::string artifact_;
};

// Follows the Driver contract of include/tuna/driver.hpp in memory: Deploy places, Undeploy
// removes, FindDeployment/ExecutorFor answer NotFound for what is not placed.
class MemoryDriver final : public Driver {
 public:
  std::string_view name() const override { return "memory"; }
  // Idempotent per id, as the pool driver's: a controller working from a cache that has not seen
  // its own "Scheduled" status yet may ask again for the same build, which starts nothing new.
  Result<BuildPtr> StartBuild(const BuildRequest& request) override {
    std::lock_guard lock(mu_);
    if (auto it = builds_.find(request.id); it != builds_.end()) return BuildPtr(it->second);
    auto b = std::make_shared<DoneBuild>(request.id, request.source);
    builds_[request.id] = b;
    ++builds_started;
    return BuildPtr(b);
  }
  Result<BuildPtr> FindBuild(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto it = builds_.find(id);
    if (it == builds_.end()) return NotFound("build " + id);
    return BuildPtr(it->second);
  }
  Result<DeploymentPtr> Deploy(const DeployRequest& request) override {
    std::lock_guard lock(mu_);
    placed_[request.id] = request.artifact;
    return DeploymentPtr(std::make_shared<PlacedRevision>(this, request.id));
  }
  Result<DeploymentPtr> FindDeployment(const std::string& id) override {
    std::lock_guard lock(mu_);
    if (!placed_.count(id)) return NotFound("deployment " + id);
    return DeploymentPtr(std::make_shared<PlacedRevision>(this, id));
  }
  Result<ExecutorPtr> ExecutorFor(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto it = placed_.find(id);
    if (it == placed_.end()) return NotFound("deployment " + id);
    return ExecutorPtr(std::make_shared<Answer>(it->second));
  }
  void Shutdown() override {}

  /// Artifacts of the placed revisions.
  std::multiset<std::string> PlacedArtifacts() {
    std::lock_guard lock(mu_);
    std::multiset<std::string> out;
    for (const auto& [id, artifact] : placed_) out.insert(artifact);
    return out;
  }
  void Forget() {  // what a restart does to the pool driver
    std::lock_guard lock(mu_);
    placed_.clear();
  }
  std::atomic<int> builds_started{0};  // distinct builds (ids) started

 private:
  class PlacedRevision final : public Deployment {
   public:
    PlacedRevision(MemoryDriver* d, std::string id) : driver_(d), id_(std::move(id)) {}
    const std::string& id() const override { return id_; }
    DeploymentState State() override { return {.ready = true, .replicas = 1}; }
    Status Undeploy() override {
      std::lock_guard lock(driver_->mu_);
      driver_->placed_.erase(id_);
      return Status::Ok();
    }

   private:
    MemoryDriver* driver_;
    std::string id_;
  };
  // Answers every call with the artifact of its revision.
  class Answer final : public Executor {
   public:
    explicit Answer(std::string artifact) : artifact_(std::move(artifact)) {}
    Result<InvokeResponse> Invoke(const InvokeRequest&) override {
      InvokeResponse r;
      r.status = 200;
      r.body = artifact_;
      return r;
    }

   private:
    std::string artifact_;
  };

  std::mutex mu_;
  std::map<std::string, BuildPtr> builds_;
  std::map<std::string, std::string> placed_;
};

class CanaryController : public ::testing::Test {
 protected:
  void SetUp() override {
    auto driver = std::make_unique<MemoryDriver>();
    driver_ = driver.get();
    ASSERT_TRUE(drivers_.Register(std::move(driver)).ok());
    StartControllers();
    auto env = AdmittedCreate(*store_, Parse(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentEnvironment","metadata":{"name":"env","namespace":"default"},
        "spec":{"runtime":"process","workerCommand":"true"}})"));
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    auto dep = AdmittedCreate(*store_, Parse(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment","metadata":{"name":"echo","namespace":"default"},
        "spec":{"environmentName":"env","stages":{"production":{"source":{"archive":")" + Digest('a') + R"("}}}}})"));
    ASSERT_TRUE(dep.ok()) << dep.status().ToString();
  }

  void TearDown() override {
    if (controllers_) controllers_->Stop();
  }

  void StartControllers() {
    ControllerContext ctx;
    ctx.store = store_.get();
    ctx.drivers = &drivers_;
    ctx.events = &events_;
    ctx.default_driver = "memory";
    ctx.build_poll = 10ms;
    auto made = WorkloadControllers::Make(ctx);
    ASSERT_TRUE(made.ok());
    controllers_ = std::move(*made);
    ASSERT_TRUE(controllers_->Start().ok());
  }

  static Resource Parse(const std::string& text) {
    auto r = DecodeJson(text);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Resource{};
  }

  void Patch(const std::string& patch) {
    auto r = AdmittedPatch(*store_, kKey, patch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  void SetSource(char c) { Patch(R"({"spec":{"stages":{"production":{"source":{"archive":")" + Digest(c) + R"("}}}}})"); }

  AgentDeployment Get() {
    auto r = store_->Get(kKey);
    EXPECT_TRUE(r.ok());
    auto d = AgentDeployment::FromResource(*r);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return *d;
  }

  // Waits until the production revision serves `newest` (and `previous`, or none) and the driver
  // places exactly those.
  AgentDeployment WaitForProduction(char newest, std::optional<char> previous) {
    std::multiset<std::string> want = {Digest(newest)};
    if (previous) want.insert(Digest(*previous));
    auto deadline = std::chrono::steady_clock::now() + 10s;
    AgentDeployment d;
    while (std::chrono::steady_clock::now() < deadline) {
      d = Get();
      const auto& rev = d.status.revisions.production;
      bool prev_ok = previous ? rev.previous && rev.previous->archive == Digest(*previous) : !rev.previous;
      if (rev.archive == Digest(newest) && prev_ok && driver_->PlacedArtifacts() == want) return d;
      std::this_thread::sleep_for(5ms);
    }
    ADD_FAILURE() << "production never served " << newest << " / " << (previous ? *previous : '-') << "; status: "
                  << boost::json::serialize(d.ToResource().status);
    return d;
  }

  // Calls the production stage `n` times through fresh executors; counts answers by artifact.
  std::map<std::string, int> Spray(int n, std::string_view affinity = {}) {
    std::map<std::string, int> seen;
    for (int i = 0; i < n; ++i) {
      auto e = controllers_->ExecutorForStage("AgentDeployment", "default", "echo", "production", affinity);
      EXPECT_TRUE(e.ok()) << e.status().ToString();
      if (!e.ok()) continue;
      auto r = (*e)->Invoke({});
      EXPECT_TRUE(r.ok());
      if (r.ok()) ++seen[r->body];
    }
    return seen;
  }

  const Condition* Find(const AgentDeployment& d, std::string_view type) {
    for (const auto& c : d.status.conditions) {
      if (c.type == type) {
        found_ = c;
        return &found_;
      }
    }
    return nullptr;
  }

  bool HasEvent(std::string_view reason) {
    for (const auto& e : events_.List(kKey)) {
      if (e.reason == reason) return true;
    }
    return false;
  }

  const ObjectKey kKey{"AgentDeployment", "default", "echo"};
  StorePtr store_ = MakeMemoryStore();
  DriverRegistry drivers_;
  MemoryDriver* driver_ = nullptr;
  EventRecorder events_;
  std::unique_ptr<WorkloadControllers> controllers_;
  Condition found_;
};

TEST_F(CanaryController, CanaryReplaceRollbackPromoteRestartDelete) {
  auto d = WaitForProduction('a', std::nullopt);
  EXPECT_EQ(Find(d, "Canary"), nullptr);  // no canary ever: no condition

  // A new source with a 20% canary: a stays and gets 80%.
  Patch(R"({"spec":{"rollout":{"canaryPercent":20},"stages":{"production":{"source":{"archive":")" + Digest('b') +
        R"("}}}}})");
  d = WaitForProduction('b', 'a');
  const std::string rev_a = d.status.revisions.production.previous->revision;
  const std::string rev_b = d.status.revisions.production.revision;
  ASSERT_NE(Find(d, "Canary"), nullptr);
  EXPECT_EQ(found_.status, ConditionStatus::kTrue);
  EXPECT_EQ(found_.message, "revision " + rev_b + " gets 20% of production, " + rev_a + " the rest");
  EXPECT_FALSE(d.status.revisions.production.previous->build.empty());
  EXPECT_TRUE(HasEvent("Canary"));
  auto seen = Spray(1000);
  EXPECT_EQ(seen[Digest('a')] + seen[Digest('b')], 1000);
  EXPECT_NEAR(seen[Digest('b')], 200, 65);  // 5 sd of binomial(1000, 0.2)
  // An affinity key sticks to one revision.
  auto pinned = Spray(50, "task-42");
  EXPECT_EQ(pinned.size(), 1u);

  // A restart with an empty driver places both revisions again.
  controllers_->Stop();
  controllers_.reset();
  driver_->Forget();
  StartControllers();
  WaitForProduction('b', 'a');

  // A third revision replaces the canary; a stays the stable one.
  const int builds_before = driver_->builds_started;
  SetSource('c');
  d = WaitForProduction('c', 'a');
  EXPECT_TRUE(HasEvent("CanaryReplaced"));

  // The source back to a: the canary is retired, a serves alone, nothing is rebuilt.
  SetSource('a');
  d = WaitForProduction('a', std::nullopt);
  ASSERT_NE(Find(d, "Canary"), nullptr);
  EXPECT_EQ(found_.status, ConditionStatus::kFalse);
  EXPECT_EQ(found_.reason, "RolledBack");
  EXPECT_TRUE(HasEvent("RolledBack"));
  EXPECT_EQ(driver_->builds_started.load(), builds_before + 1);  // only c was built
  EXPECT_EQ(Spray(20)[Digest('a')], 20);

  // b again (its build is reused), then 0%: everything to a; then 100%: b is promoted.
  SetSource('b');
  WaitForProduction('b', 'a');
  Patch(R"({"spec":{"rollout":{"canaryPercent":0}}})");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    const Condition* c = Find(Get(), "Canary");
    if (c != nullptr && c->message.find("gets 0%") != std::string::npos) break;
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(found_.message, "revision " + rev_b + " gets 0% of production, " + rev_a + " the rest");
  EXPECT_EQ(Spray(50)[Digest('a')], 50);
  Patch(R"({"spec":{"rollout":{"canaryPercent":100}}})");
  d = WaitForProduction('b', std::nullopt);
  ASSERT_NE(Find(d, "Canary"), nullptr);
  EXPECT_EQ(found_.status, ConditionStatus::kFalse);
  EXPECT_EQ(found_.reason, "Promoted");
  EXPECT_TRUE(HasEvent("Promoted"));
  EXPECT_EQ(Spray(20)[Digest('b')], 20);

  // 100% means no canary: a new revision replaces b at once.
  SetSource('c');
  WaitForProduction('c', std::nullopt);

  // Removing the rollout promotes a running canary.
  Patch(R"({"spec":{"rollout":{"canaryPercent":50}}})");
  SetSource('a');
  WaitForProduction('a', 'c');
  Patch(R"({"spec":{"rollout":null}})");
  WaitForProduction('a', std::nullopt);

  // Deleting the deployment while a canary runs retires both revisions.
  Patch(R"({"spec":{"rollout":{"canaryPercent":50}}})");
  SetSource('b');
  WaitForProduction('b', 'a');
  ASSERT_TRUE(store_->Delete(kKey).ok());
  deadline = std::chrono::steady_clock::now() + 10s;
  while (!driver_->PlacedArtifacts().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(driver_->PlacedArtifacts().empty());
}

TEST_F(CanaryController, RemovingAStageRetiresBothRevisions) {
  WaitForProduction('a', std::nullopt);
  Patch(R"({"spec":{"rollout":{"canaryPercent":10},"stages":{"production":{"source":{"archive":")" + Digest('b') +
        R"("}}}}})");
  WaitForProduction('b', 'a');
  Patch(R"({"spec":{"stages":{"production":null,"staging":{"source":{"archive":")" + Digest('c') + R"("}}}}})");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (driver_->PlacedArtifacts() != std::multiset<std::string>{Digest('c')} && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(driver_->PlacedArtifacts(), std::multiset<std::string>{Digest('c')});
  auto d = Get();
  EXPECT_TRUE(d.status.revisions.production.revision.empty());
  EXPECT_FALSE(d.status.revisions.production.previous.has_value());
  ASSERT_NE(Find(d, "Canary"), nullptr);
  EXPECT_EQ(found_.status, ConditionStatus::kFalse);
  EXPECT_EQ(found_.reason, "StageRemoved");
}

// status.revisions.<stage>.previous is public API: strict decoding and exact round trip.
TEST(CanaryStatus, PreviousRevisionRoundTrips) {
  const std::string text = R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment",
      "metadata":{"name":"echo","namespace":"default"},
      "spec":{"environmentName":"env","rollout":{"canaryPercent":10}},
      "status":{"phase":"ProductionDeployed","revisions":{"production":{"revision":"r2","archive":")" +
                           Digest('b') + R"(","build":"b2","deployedAt":"2026-11-26T12:00:00Z",
        "previous":{"revision":"r1","archive":")" + Digest('a') + R"(","build":"b1","deployedAt":"2026-11-25T12:00:00Z"}}}}})";
  auto r = DecodeJson(text);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto d = AgentDeployment::FromResource(*r);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE(d->status.revisions.production.previous.has_value());
  EXPECT_EQ(d->status.revisions.production.previous->revision, "r1");
  EXPECT_EQ(d->status.revisions.production.previous->build, "b1");
  EXPECT_EQ(d->status.revisions.production.previous->deployed_at, "2026-11-25T12:00:00Z");
  EXPECT_FALSE(d->status.revisions.staging.previous.has_value());
  EXPECT_EQ(d->ToResource(), *r);

  auto bad = DecodeJson(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment",
      "metadata":{"name":"echo","namespace":"default"},"spec":{"environmentName":"env"},
      "status":{"revisions":{"staging":{"previous":{"revison":"r1"}}}}})");
  ASSERT_TRUE(bad.ok());
  auto err = AgentDeployment::FromResource(*bad);
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().field(), "status.revisions.staging.previous.revison");
}

}  // namespace
}  // namespace tuna::controllers
