#pragma once
// Test helper: runs a real program as a child process with given arguments and environment,
// captures stdout and stderr while it runs, waits with a deadline, and kills it.
// Header-only because the test target compiles only tests/**/*_test.cpp and tests/support/*.cpp.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tuna::testing {

struct ProcessOptions {
  std::vector<std::string> args;               // without argv[0]
  std::map<std::string, std::string> env;      // the child's whole environment (PATH added if absent)
  std::string stdin_text;                      // written to stdin, which is then closed
};

/// Exit status of a finished child: its exit code, or 128 + signal number.
struct ProcessResult {
  int exit_code = -1;  // -1: still running (a wait timed out)
  std::string out;
  std::string err;
};

class Process {
 public:
  /// Starts `binary`; nullptr (and a message in `error`) if it cannot be started.
  static std::unique_ptr<Process> Spawn(const std::string& binary, const ProcessOptions& options, std::string* error = nullptr) {
    auto p = std::unique_ptr<Process>(new Process());
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      if (error) *error = "pipe failed";
      return nullptr;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // The child gets default signal handling and an empty mask whatever the test process set.
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    std::vector<std::string> argv_storage = {binary};
    argv_storage.insert(argv_storage.end(), options.args.begin(), options.args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::map<std::string, std::string> env_map = options.env;
    env_map.emplace("PATH", "/usr/local/bin:/usr/bin:/bin");
    std::vector<std::string> env_storage;
    for (const auto& [k, v] : env_map) env_storage.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);

    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
      if (error) *error = "cannot start " + binary + ": " + std::strerror(rc);
      ::close(in[1]);
      ::close(out[0]);
      ::close(err[0]);
      return nullptr;
    }
    p->pid_ = pid;
    p->stdin_writer_ = std::thread([fd = in[1], text = options.stdin_text] {
      std::size_t sent = 0;
      ::signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill the test
      while (sent < text.size()) {
        ssize_t n = ::write(fd, text.data() + sent, text.size() - sent);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      ::close(fd);
    });
    p->reader_ = std::thread([raw = p.get(), o = out[0], e = err[0]] { raw->ReadLoop(o, e); });
    return p;
  }

  ~Process() {
    if (pid_ > 0) {
      Kill(SIGKILL);
      Wait(std::chrono::seconds(10));
    }
    if (reader_.joinable()) reader_.join();
    if (stdin_writer_.joinable()) stdin_writer_.join();
  }

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }

  /// Sends a signal (SIGTERM by default) if the child still runs.
  void Kill(int sig = SIGTERM) {
    if (pid_ > 0 && !exited_) ::kill(pid_, sig);  // never kill(-1, ...): that signals every process
  }

  /// Output captured so far.
  std::string Stdout() const {
    std::lock_guard lock(mu_);
    return out_;
  }
  std::string Stderr() const {
    std::lock_guard lock(mu_);
    return err_;
  }

  /// Waits until `ready(stdout, stderr)` holds, the streams close, or the timeout passes.
  bool WaitForOutput(const std::function<bool(const std::string&, const std::string&)>& ready,
                     std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return ready(out_, err_) || streams_closed_; }) && ready(out_, err_);
  }

  /// Waits for the child to exit; exit_code is -1 if it still runs after `timeout`.
  ProcessResult Wait(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return {-1, Stdout(), Stderr()};
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!exited_) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (r < 0) {
        exited_ = true;
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) return {-1, Stdout(), Stderr()};
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // The child is gone: its pipes close, so the reader finishes soon.
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(5), [&] { return streams_closed_; });
    }
    return {exit_code_, Stdout(), Stderr()};
  }

 private:
  Process() = default;

  void ReadLoop(int out_fd, int err_fd) {
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int open = 2;
    char buf[4096];
    while (open > 0) {
      if (::poll(fds, 2, 200) < 0) break;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open;
          continue;
        }
        std::lock_guard lock(mu_);
        (i == 0 ? out_ : err_).append(buf, static_cast<std::size_t>(n));
        cv_.notify_all();
      }
    }
    std::lock_guard lock(mu_);
    streams_closed_ = true;
    cv_.notify_all();
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  std::thread reader_;
  std::thread stdin_writer_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;
  std::string err_;
  bool streams_closed_ = false;
};

/// Runs a program to completion (killing it after `timeout`) and returns what it printed.
inline ProcessResult RunProcess(const std::string& binary, const ProcessOptions& options,
                                std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  std::string error;
  auto p = Process::Spawn(binary, options, &error);
  if (!p) return {-1, "", error};
  ProcessResult r = p->Wait(timeout);
  if (r.exit_code == -1) {
    p->Kill(SIGKILL);
    r = p->Wait(std::chrono::seconds(10));
    r.err += "\n[killed after timeout]";
    r.exit_code = -1;
  }
  return r;
}

}  // namespace tuna::testing
