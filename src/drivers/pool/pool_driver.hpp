#pragma once
// The pool driver as a Driver: a thin shell over PoolCore. Private; tests and benchmarks reach
// the core (worker pids, warm pool) through `core()`.

#include <memory>

#include "drivers/pool/pool_core.hpp"
#include "tuna/driver.hpp"

namespace tuna::pool {

class PoolDriver final : public Driver {
 public:
  explicit PoolDriver(std::shared_ptr<PoolCore> core) : core_(std::move(core)) {}
  ~PoolDriver() override { core_->Shutdown(); }

  std::string_view name() const override { return "pool"; }
  Status EnsureEnvironment(const EnvironmentSpec& environment) override { return core_->EnsureEnvironment(environment); }
  Status RemoveEnvironment(std::string_view name) override { return core_->RemoveEnvironment(name); }
  Result<BuildPtr> StartBuild(const BuildRequest& request) override { return core_->StartBuild(request); }
  Result<BuildPtr> FindBuild(const std::string& id) override { return core_->FindBuild(id); }
  Result<DeploymentPtr> Deploy(const DeployRequest& request) override { return core_->Deploy(request); }
  Result<DeploymentPtr> FindDeployment(const std::string& id) override { return core_->FindDeployment(id); }
  Result<ExecutorPtr> ExecutorFor(const std::string& deployment_id) override {
    return core_->ExecutorFor(deployment_id);
  }
  void Shutdown() override { core_->Shutdown(); }

  PoolCore& core() { return *core_; }

 private:
  std::shared_ptr<PoolCore> core_;
};

}  // namespace tuna::pool
