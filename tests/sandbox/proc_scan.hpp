#pragma once
// Finds live processes by an environment marker or process group, by reading /proc.

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace tuna::testing {

/// Pids (not zombies) with the environment entry `needle` (e.g. "TUNA_POOL_WORKDIR=/tmp/x").
inline std::vector<pid_t> ProcessesWithEnv(const std::string& needle) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    std::ifstream stat_file(entry.path() / "stat");
    std::string stat_line;
    std::getline(stat_file, stat_line);
    auto close_paren = stat_line.rfind(')');
    if (close_paren == std::string::npos || close_paren + 2 >= stat_line.size()) continue;
    if (stat_line[close_paren + 2] == 'Z') continue;  // zombies hold nothing
    std::ifstream env_file(entry.path() / "environ", std::ios::binary);
    std::stringstream ss;
    ss << env_file.rdbuf();
    std::string env = ss.str();
    std::size_t start = 0;
    while (start < env.size()) {
      std::size_t end = env.find('\0', start);
      if (end == std::string::npos) end = env.size();
      if (env.compare(start, end - start, needle) == 0) {
        pids.push_back(pid);
        break;
      }
      start = end + 1;
    }
  }
  return pids;
}

/// Live (non-zombie) pids in process group `pgid`.
inline std::vector<pid_t> ProcessesInGroup(pid_t pgid) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat_file(entry.path() / "stat");
    std::string line;
    std::getline(stat_file, line);
    auto close_paren = line.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(line.substr(close_paren + 2));
    char state;
    pid_t ppid, pgrp;
    if (!(rest >> state >> ppid >> pgrp)) continue;
    if (state != 'Z' && pgrp == pgid) pids.push_back(std::stoi(name));
  }
  return pids;
}

/// Polls `probe` until it returns an empty list or `limit` passes; returns the last list.
/// Killed processes vanish asynchronously (a pid namespace is torn down after its init dies).
template <typename Probe>
std::vector<pid_t> WaitUntilGone(Probe probe, std::chrono::seconds limit = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    std::vector<pid_t> left = probe();
    if (left.empty() || std::chrono::steady_clock::now() > deadline) return left;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace tuna::testing
