#pragma once
// A sandboxed child process: own session and process group, PR_SET_PDEATHSIG, an environment
// built from scratch, rlimits, a working directory, stdout/stderr to a log file, and optionally
// bubblewrap around it. Private to the library.
//
// PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the process: spawn only from
// threads that live as long as the children (the pool driver's own threads), never from a
// caller's thread.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tuna/status.hpp"

namespace tuna::sandbox {

/// rlimits for the child; 0 leaves the inherited limit.
struct RLimits {
  std::int64_t cpu_seconds = 0;      // RLIMIT_CPU
  std::int64_t memory_bytes = 0;     // RLIMIT_DATA (heap + private mappings; not reserved address space)
  std::int64_t file_size_bytes = 0;  // RLIMIT_FSIZE
  std::int64_t max_processes = 0;    // RLIMIT_NPROC (per uid; the kernel does not apply it to root)
  std::int64_t open_files = 0;       // RLIMIT_NOFILE
};

/// bubblewrap around the child: read-only system, private /tmp and /dev, own pid/ipc/uts
/// namespaces, no capabilities, dies with its parent.
struct BwrapOptions {
  bool enabled = false;
  std::filesystem::path bwrap = "/usr/bin/bwrap";
  bool share_network = false;                  // false: --unshare-net (only loopback, down)
  std::vector<std::filesystem::path> hidden;     // covered by an empty tmpfs (first)
  std::vector<std::filesystem::path> read_only;  // then bound read-only at the same path
  std::vector<std::filesystem::path> writable;   // then bound read-write at the same path
};

struct ProcessSpec {
  std::vector<std::string> argv;                // argv[0] is looked up in env's PATH
  std::map<std::string, std::string> env;       // the whole environment; nothing is inherited
  std::filesystem::path cwd;                    // required
  std::filesystem::path log_file;               // stdout and stderr appended; empty: /dev/null
  bool pipe_stdio = false;                      // stdin and stdout become pipes to the parent
  RLimits limits;
  BwrapOptions bwrap;
};

struct ExitStatus {
  int exit_code = -1;  // when exited normally
  int signal = 0;      // when killed by a signal
  bool success() const { return signal == 0 && exit_code == 0; }
  /// "exit code 3" / "killed by signal 9 (Killed)"
  std::string ToString() const;
};

/// Whether bubblewrap is usable at `path` (exists and is executable).
bool BwrapAvailable(const std::filesystem::path& path = "/usr/bin/bwrap");

class Process {
 public:
  /// Starts the child; returns once it has exec'd (or fails with the exec error).
  static Result<std::unique_ptr<Process>> Spawn(const ProcessSpec& spec);

  /// Watches a process this one did not start: a fork-server's child (docs/drivers.md), `pid` in
  /// this process's pid namespace and leader of its own process group. Its end is seen through a
  /// pidfd; how it ended is read from `exit_file`, which its parent writes when it reaps it
  /// ("exit code N", "killed by signal N"), else reported as exit code -1.
  static Result<std::unique_ptr<Process>> Adopt(pid_t pid, std::filesystem::path exit_file);

  /// Kills the whole process group and reaps the child (an adopted one: waits for its end).
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  /// The child's pid, which is also its process group and session id.
  pid_t pid() const { return pid_; }

  /// Waits up to `timeout` (negative: forever) for the child to exit; nullopt if it is still
  /// running. Reaping the child also SIGKILLs whatever is left of its process group.
  std::optional<ExitStatus> Wait(std::chrono::milliseconds timeout);
  /// Reaps the child if it has exited, without blocking.
  std::optional<ExitStatus> TryWait() { return Wait(std::chrono::milliseconds(0)); }
  /// Sends `signal` to the whole process group (and the child); a no-op once reaped.
  void KillGroup(int signal);

  /// Pipe ends when spawned with pipe_stdio (-1 otherwise); owned by the Process.
  int stdin_fd() const { return stdin_fd_; }
  int stdout_fd() const { return stdout_fd_; }
  /// Closes the stdin pipe (EOF for the child).
  void CloseStdin();

 private:
  Process() = default;

  std::optional<ExitStatus> AdoptedExit(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool adopted_ = false;
  std::filesystem::path exit_file_;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::mutex mu_;
  std::optional<ExitStatus> exit_;
};

using ProcessPtr = std::unique_ptr<Process>;

/// The argv that runs `spec.argv` under bubblewrap with `spec.bwrap` (exposed for tests and logs).
std::vector<std::string> BwrapArgv(const ProcessSpec& spec);

}  // namespace tuna::sandbox
