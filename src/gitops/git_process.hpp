#pragma once
// Private: runs one git child (http-backend as CGI, archive, cat-file...) with an argv (never a
// shell string), a whole environment, bytes on stdin, stdout captured up to a bound, stderr
// captured, and a deadline after which its process group is killed.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tuna/status.hpp"

namespace tuna::gitops {

struct ChildSpec {
  std::vector<std::string> argv;             // argv[0] looked up in env's PATH
  std::map<std::string, std::string> env;    // the whole environment
  std::filesystem::path cwd = "/";
  std::string input;                         // written to stdin, then closed
  std::chrono::milliseconds timeout{60000};
  std::size_t max_output = std::size_t{1} << 30;  // stdout beyond this: ResourceExhausted
  /// When set, stdout goes here as it is produced (ChildResult::out stays empty, max_output does
  /// not apply). It may block (the child then blocks writing); it runs on the calling thread.
  std::function<void(std::string&&)> on_stdout;
  /// When set and it becomes true, the child is killed (Cancelled).
  const std::atomic<bool>* cancel = nullptr;
};

struct ChildResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
  bool ok() const { return exit_code == 0; }
};

/// Runs the child to completion. DeadlineExceeded past the timeout (the child is killed),
/// ResourceExhausted when stdout exceeds max_output, Cancelled when `cancel` was set; a non-zero
/// exit is a result, not an error.
Result<ChildResult> RunChild(const ChildSpec& spec);

}  // namespace tuna::gitops
