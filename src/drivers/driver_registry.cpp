#include "tuna/driver.hpp"

namespace tuna {

std::string_view BuildJobPhaseName(BuildJobPhase phase) {
  switch (phase) {
    case BuildJobPhase::kPending: return "Pending";
    case BuildJobPhase::kRunning: return "Running";
    case BuildJobPhase::kSucceeded: return "Succeeded";
    case BuildJobPhase::kFailed: return "Failed";
  }
  return "Unknown";
}

Status DriverRegistry::Register(DriverPtr driver) {
  if (!driver) return InvalidArgument("driver is null");
  if (Find(driver->name()) != nullptr) {
    return AlreadyExists("a driver named '" + std::string(driver->name()) + "' is already registered");
  }
  drivers_.push_back(std::move(driver));
  return Status::Ok();
}

Driver* DriverRegistry::Find(std::string_view name) const {
  for (const auto& d : drivers_) {
    if (d->name() == name) return d.get();
  }
  return nullptr;
}

std::vector<std::string> DriverRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& d : drivers_) names.emplace_back(d->name());
  return names;
}

void DriverRegistry::ShutdownAll() {
  for (const auto& d : drivers_) d->Shutdown();
}

}  // namespace tuna
