#pragma once
// Shared setup for the pool driver tests: a temp work dir, a local artifact store, a driver,
// archives made from in-memory files, the real Python interpreter and the test workloads.

#include <gtest/gtest.h>
#include <stdio.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "support/files.hpp"
#include "artifacts/archive.hpp"
#include "support/python.hpp"
#include "support/temp_dir.hpp"
#include "drivers/pool/pool_driver.hpp"
#include "sandbox/proc_scan.hpp"
#include "tuna/artifacts.hpp"
#include "tuna/driver.hpp"

namespace tuna::testing {


inline std::string WorkloadPath(const std::string& name) {
  return std::string(TUNA_SOURCE_DIR) + "/tests/workloads/" + name;
}


/// tuna's basic Python runtime: the generic worker the pool specializes.
inline std::string PythonWorkerPath() { return std::string(TUNA_SOURCE_DIR) + "/runtimes/python/worker.py"; }

/// An environment whose workers run runtimes/python/worker.py.
inline EnvironmentSpec PythonEnvironment(int pool_size = 1, std::chrono::seconds idle_timeout = std::chrono::seconds(300)) {
  EnvironmentSpec env;
  env.name = "python-test";
  env.runtime = "process";
  env.run_command = RealPython() + " " + PythonWorkerPath();
  env.pool_size = pool_size;
  env.idle_timeout = idle_timeout;
  env.env = {{"PYTHONDONTWRITEBYTECODE", "1"}};
  return env;
}

inline bool IsTerminal(BuildJobPhase phase) { return phase == BuildJobPhase::kSucceeded || phase == BuildJobPhase::kFailed; }

/// Polls `condition` every 10 ms until true or `limit` (generous: not a timing assertion).
template <typename Condition>
bool Eventually(Condition condition, std::chrono::seconds limit = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

/// The JSON object a workload answered with (expects a 200 with a JSON body).
inline boost::json::object JsonBody(const Result<InvokeResponse>& response) {
  EXPECT_TRUE(response.ok()) << response.status().ToString();
  if (!response.ok()) return {};
  EXPECT_EQ(response->status, 200) << response->body;
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(response->body, ec);
  EXPECT_FALSE(ec) << response->body;
  return v.is_object() ? v.as_object() : boost::json::object{};
}

class PoolFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = MakeLocalArtifactStore({dir_ / "store"});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    options_.work_dir = dir_ / "pool";
    options_.artifacts = store_.get();
    options_.maintenance_interval = std::chrono::milliseconds(50);
  }

  void TearDown() override {
    driver_.reset();
    // Every process the driver started carries its marker; none may survive it.
    auto left = WaitUntilGone([&] { return ProcessesWithEnv("TUNA_POOL_WORKDIR=" + work_dir().string()); });
    EXPECT_TRUE(left.empty()) << left.size() << " processes of the driver survived it";
  }

  std::filesystem::path work_dir() const { return std::filesystem::weakly_canonical(dir_ / "pool"); }

  void MakeDriver() {
    auto driver = MakePoolDriver(options_);
    ASSERT_TRUE(driver.ok()) << driver.status().ToString();
    driver_ = std::move(*driver);
  }

  pool::PoolCore& core() { return static_cast<pool::PoolDriver&>(*driver_).core(); }

  /// Stores a tar.gz of `files` (name -> content) and returns its digest.
  Digest PutArchive(const std::map<std::string, std::string>& files) {
    static int counter = 0;
    std::filesystem::path src = dir_ / ("archive-src-" + std::to_string(counter++));
    for (const auto& [name, content] : files) {
      std::filesystem::create_directories((src / name).parent_path());
      std::ofstream(src / name, std::ios::binary) << content;
    }
    std::filesystem::path file = src.string() + ".tar.gz";
    Status status = artifacts::CreateTarGz(src, file);
    EXPECT_TRUE(status.ok()) << status.ToString();
    auto digest = store_->Put(file);
    EXPECT_TRUE(digest.ok()) << digest.status().ToString();
    return digest.value_or("");
  }

  /// An artifact holding the echo test app.
  Digest EchoAppArtifact(const std::string& version = "v1") {
    std::string app = ReadFile(WorkloadPath("echo_app.py"));
    if (version != "v1") app += "\nVERSION = \"" + version + "\"\n";
    return PutArchive({{"echo_app.py", app}});
  }

  DeployRequest AgentRequest(const std::string& id, const Digest& artifact) {
    DeployRequest request;
    request.id = id;
    request.kind = WorkloadKind::kAgent;
    request.artifact = artifact;
    request.environment = PythonEnvironment();
    request.entrypoint = "echo_app.py:handle";
    return request;
  }

  BuildState WaitForBuild(const BuildPtr& build) {
    BuildState state;
    EXPECT_TRUE(Eventually([&] { return IsTerminal((state = build->State()).phase); }, std::chrono::seconds(120)))
        << "build never finished; log:\n" << state.log_tail;
    return state;
  }

  TempDir dir_;
  ArtifactStorePtr store_;
  PoolDriverOptions options_;
  DriverPtr driver_;
};

}  // namespace tuna::testing
