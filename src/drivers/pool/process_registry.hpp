#pragma once
// Remembers every process the pool driver started, in <work_dir>/pool.pids, so a driver started
// after a crash (or SIGKILL) of the previous one kills what it left behind. Every child also
// carries TUNA_POOL_WORKDIR=<work_dir> in its environment; the start-up sweep finds processes
// that escaped their group (setsid) by that marker. A lock file keeps two drivers off one work dir.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "tuna/status.hpp"

namespace tuna::pool {

class ProcessRegistry {
 public:
  /// Locks the work dir, kills leftovers of an earlier driver, and starts an empty registry.
  static Result<std::shared_ptr<ProcessRegistry>> Open(const std::filesystem::path& work_dir);
  ~ProcessRegistry();

  /// The environment entry every child carries ("TUNA_POOL_WORKDIR=<work_dir>").
  const std::string& marker_key() const { return marker_key_; }
  const std::string& marker_value() const { return marker_value_; }
  /// How many leftover processes Open() killed.
  int leftovers_killed() const { return leftovers_killed_; }

  /// Kills every process carrying the marker (except this one); returns how many.
  int SweepMarked();

  void Add(pid_t pid);
  void Remove(pid_t pid);

 private:
  ProcessRegistry() = default;
  void PersistLocked();

  std::filesystem::path file_;
  std::string marker_key_ = "TUNA_POOL_WORKDIR";
  std::string marker_value_;
  int lock_fd_ = -1;
  int leftovers_killed_ = 0;
  std::mutex mu_;
  std::map<pid_t, unsigned long long> pids_;  // pid -> start time (clock ticks since boot)
};

}  // namespace tuna::pool
