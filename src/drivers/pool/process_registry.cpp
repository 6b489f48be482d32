#include "drivers/pool/process_registry.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "artifacts/file_util.hpp"

namespace tuna::pool {
namespace {

namespace fs = std::filesystem;

// Start time (field 22 of /proc/<pid>/stat) and process group; false if gone or a zombie.
bool ReadStat(pid_t pid, unsigned long long* start_time, pid_t* pgid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto paren = line.rfind(')');
  if (paren == std::string::npos) return false;
  std::istringstream rest(line.substr(paren + 2));
  std::vector<std::string> fields;
  std::string field;
  while (rest >> field) fields.push_back(field);
  // fields[0] is field 3 (state); start time is field 22 -> index 19; pgrp is field 5 -> index 2.
  if (fields.size() < 20 || fields[0] == "Z") return false;
  *pgid = static_cast<pid_t>(std::stol(fields[2]));
  *start_time = std::stoull(fields[19]);
  return true;
}

bool HasEnvEntry(pid_t pid, const std::string& entry) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string env = ss.str();
  std::size_t start = 0;
  while (start < env.size()) {
    std::size_t end = env.find('\0', start);
    if (end == std::string::npos) end = env.size();
    if (env.compare(start, end - start, entry) == 0) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

Result<std::shared_ptr<ProcessRegistry>> ProcessRegistry::Open(const fs::path& work_dir) {
  auto registry = std::shared_ptr<ProcessRegistry>(new ProcessRegistry());
  registry->file_ = work_dir / "pool.pids";
  registry->marker_value_ = work_dir.string();
  fs::path lock_path = work_dir / "pool.lock";
  registry->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (registry->lock_fd_ < 0) return artifacts::ErrnoStatus("open", lock_path, errno);
  if (::flock(registry->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return FailedPrecondition("work dir " + work_dir.string() + " is in use by another pool driver (" +
                              lock_path.string() + " is locked)");
  }

  pid_t self = ::getpid();
  pid_t self_group = ::getpgrp();
  std::set<pid_t> killed;
  auto kill_one = [&](pid_t pid, pid_t pgid) {
    if (pid == self) return;
    // A group other than ours was started by the driver (setsid): take all of it.
    if (pgid > 1 && pgid != self_group) ::killpg(pgid, SIGKILL);
    ::kill(pid, SIGKILL);
    killed.insert(pid);
  };
  // 1. The registry file: pids checked against their start time (pids get reused).
  if (auto content = artifacts::ReadWholeFile(registry->file_); content.ok()) {
    std::istringstream lines(*content);
    long long pid = 0;
    unsigned long long recorded = 0;
    while (lines >> pid >> recorded) {
      unsigned long long start = 0;
      pid_t pgid = 0;
      if (pid > 1 && ReadStat(static_cast<pid_t>(pid), &start, &pgid) && start == recorded) {
        kill_one(static_cast<pid_t>(pid), pgid);
      }
    }
  }
  // 2. The sweep: anything still carrying this work dir's marker (grandchildren that left the group).
  registry->leftovers_killed_ = static_cast<int>(killed.size()) + registry->SweepMarked();
  std::lock_guard<std::mutex> lock(registry->mu_);
  registry->PersistLocked();
  return registry;
}

int ProcessRegistry::SweepMarked() {
  pid_t self = ::getpid();
  pid_t self_group = ::getpgrp();
  std::string entry = marker_key_ + "=" + marker_value_;
  int count = 0;
  std::error_code ec;
  for (const auto& dirent : fs::directory_iterator("/proc", ec)) {
    std::string name = dirent.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == self) continue;
    unsigned long long start = 0;
    pid_t pgid = 0;
    if (!ReadStat(pid, &start, &pgid) || !HasEnvEntry(pid, entry)) continue;
    if (pgid > 1 && pgid != self_group) ::killpg(pgid, SIGKILL);
    ::kill(pid, SIGKILL);
    ++count;
  }
  return count;
}

ProcessRegistry::~ProcessRegistry() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pids_.clear();
    PersistLocked();
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void ProcessRegistry::Add(pid_t pid) {
  unsigned long long start = 0;
  pid_t pgid = 0;
  if (!ReadStat(pid, &start, &pgid)) return;  // already gone
  std::lock_guard<std::mutex> lock(mu_);
  pids_[pid] = start;
  PersistLocked();
}

void ProcessRegistry::Remove(pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pids_.erase(pid) > 0) PersistLocked();
}

void ProcessRegistry::PersistLocked() {
  // Not fsync'd: it sits on the worker start path, and the marker sweep covers a lost update.
  std::string content;
  for (const auto& [pid, start] : pids_) content += std::to_string(pid) + " " + std::to_string(start) + "\n";
  fs::path temp = artifacts::TempPathFor(file_);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ssize_t written = ::write(fd, content.data(), content.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(content.size()) || ::rename(temp.c_str(), file_.c_str()) != 0) {
    ::unlink(temp.c_str());
  }
}

}  // namespace tuna::pool
