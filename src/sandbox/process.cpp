#include "sandbox/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

namespace tuna::sandbox {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

// Resolves argv[0] against `path_list` like execvp would, in the parent (execvpe would read the
// parent's PATH, not the child's).
std::string ResolveExecutable(const std::string& name, const std::string& path_list) {
  if (name.find('/') != std::string::npos) return name;
  std::size_t start = 0;
  while (start <= path_list.size()) {
    std::size_t end = path_list.find(':', start);
    if (end == std::string::npos) end = path_list.size();
    std::string dir = path_list.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;  // execve fails with ENOENT and the error names it
}

// Everything the child needs, prepared before fork: after fork only async-signal-safe calls.
struct ChildPlan {
  std::string exec_path;
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string cwd;
  std::vector<std::pair<int, rlim_t>> rlimits;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int error_pipe = -1;
  pid_t parent = 0;
};

[[noreturn]] void ChildFail(int error_pipe, const char* step) {
  int err = errno;
  // "<errno> <step>" for the parent; nothing else is safe to do here.
  char buffer[96];
  int n = 0;
  int value = err;
  char digits[12];
  int d = 0;
  do {
    digits[d++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && d < 11);
  while (d > 0) buffer[n++] = digits[--d];
  buffer[n++] = ' ';
  for (const char* p = step; *p && n < static_cast<int>(sizeof buffer) - 1; ++p) buffer[n++] = *p;
  ssize_t ignored = ::write(error_pipe, buffer, static_cast<size_t>(n));
  (void)ignored;
  ::_exit(127);
}

[[noreturn]] void RunChild(const ChildPlan& plan) {
  if (::setsid() < 0) ChildFail(plan.error_pipe, "setsid");
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(plan.error_pipe, "prctl(PR_SET_PDEATHSIG)");
  if (::getppid() != plan.parent) ::_exit(127);  // the parent died before prctl took effect
  // Dispositions set to "ignore" and blocked signals survive exec: reset both.
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &action, nullptr);
  }
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  for (const auto& [resource, value] : plan.rlimits) {
    // CPU: the soft limit sends SIGXCPU (a named cause); the hard one a second later, SIGKILL.
    struct rlimit limit = {value, resource == RLIMIT_CPU ? value + 1 : value};
    if (::setrlimit(resource, &limit) != 0) ChildFail(plan.error_pipe, "setrlimit");
  }
  if (::chdir(plan.cwd.c_str()) != 0) ChildFail(plan.error_pipe, "chdir");
  if (::dup2(plan.stdin_fd, 0) < 0 || ::dup2(plan.stdout_fd, 1) < 0 || ::dup2(plan.stderr_fd, 2) < 0) {
    ChildFail(plan.error_pipe, "dup2");
  }
  // Everything else, including descriptors other threads opened without O_CLOEXEC.
  int error_pipe = plan.error_pipe;
  if (error_pipe != 3) {
    if (::dup3(error_pipe, 3, O_CLOEXEC) < 0) ChildFail(error_pipe, "dup3");
    error_pipe = 3;
  }
  ::syscall(SYS_close_range, 4u, ~0u, 0u);
  ::execve(plan.exec_path.c_str(), plan.argv.data(), plan.envp.data());
  ChildFail(error_pipe, "exec");
}

// An fd >= 3 with O_CLOEXEC, so the dup2() calls in the child never clobber each other.
int HighFd(int fd) {
  if (fd < 0 || fd >= 3) return fd;
  int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return high;
}

struct Fds {
  std::vector<int> fds;
  ~Fds() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
  int Add(int fd) {
    fds.push_back(fd);
    return fd;
  }
};

}  // namespace

std::string ExitStatus::ToString() const {
  if (signal != 0) {
    const char* name = ::strsignal(signal);
    return "killed by signal " + std::to_string(signal) + (name ? std::string(" (") + name + ")" : "");
  }
  return "exit code " + std::to_string(exit_code);
}

bool BwrapAvailable(const fs::path& path) { return ::access(path.c_str(), X_OK) == 0; }

std::vector<std::string> BwrapArgv(const ProcessSpec& spec) {
  const BwrapOptions& b = spec.bwrap;
  std::vector<std::string> argv = {b.bwrap.string(), "--die-with-parent", "--new-session", "--unshare-pid",
                                   "--unshare-ipc", "--unshare-uts", "--cap-drop", "ALL"};
  if (!b.share_network) argv.push_back("--unshare-net");
  for (const char* arg : {"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"}) {
    argv.emplace_back(arg);
  }
  for (const auto& p : b.hidden) argv.insert(argv.end(), {"--tmpfs", p.string()});
  for (const auto& p : b.read_only) argv.insert(argv.end(), {"--ro-bind", p.string(), p.string()});
  for (const auto& p : b.writable) argv.insert(argv.end(), {"--bind", p.string(), p.string()});
  argv.insert(argv.end(), {"--chdir", spec.cwd.string(), "--"});
  argv.insert(argv.end(), spec.argv.begin(), spec.argv.end());
  return argv;
}

Result<std::unique_ptr<Process>> Process::Spawn(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) return InvalidArgument("process has no command", "argv");
  if (spec.cwd.empty()) return InvalidArgument("process has no working directory", "cwd");
  if (spec.bwrap.enabled && !BwrapAvailable(spec.bwrap.bwrap)) {
    return FailedPrecondition("bubblewrap not found at " + spec.bwrap.bwrap.string());
  }

  ChildPlan plan;
  plan.argv_storage = spec.bwrap.enabled ? BwrapArgv(spec) : spec.argv;
  auto path_it = spec.env.find("PATH");
  std::string path_list = path_it == spec.env.end() ? kDefaultPath : path_it->second;
  plan.exec_path = spec.bwrap.enabled ? spec.bwrap.bwrap.string() : ResolveExecutable(spec.argv[0], path_list);
  for (auto& arg : plan.argv_storage) plan.argv.push_back(arg.data());
  plan.argv.push_back(nullptr);
  for (const auto& [key, value] : spec.env) plan.env_storage.push_back(key + "=" + value);
  if (path_it == spec.env.end()) plan.env_storage.push_back(std::string("PATH=") + kDefaultPath);
  for (auto& entry : plan.env_storage) plan.envp.push_back(entry.data());
  plan.envp.push_back(nullptr);
  plan.cwd = spec.cwd.string();
  auto add_limit = [&](int resource, std::int64_t value) {
    if (value > 0) plan.rlimits.emplace_back(resource, static_cast<rlim_t>(value));
  };
  add_limit(RLIMIT_CPU, spec.limits.cpu_seconds);
  add_limit(RLIMIT_DATA, spec.limits.memory_bytes);
  add_limit(RLIMIT_FSIZE, spec.limits.file_size_bytes);
  add_limit(RLIMIT_NPROC, spec.limits.max_processes);
  add_limit(RLIMIT_NOFILE, spec.limits.open_files);

  Fds child_side;   // closed in the parent once the child has them
  Fds parent_side;  // handed to the Process on success
  int log_fd = -1;
  if (spec.log_file.empty()) {
    log_fd = HighFd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  } else {
    log_fd = HighFd(::open(spec.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  }
  if (log_fd < 0) return Internal("open log " + spec.log_file.string() + ": " + std::strerror(errno));
  child_side.Add(log_fd);
  plan.stderr_fd = log_fd;
  int stdin_parent = -1;
  int stdout_parent = -1;
  if (spec.pipe_stdio) {
    int in_pipe[2];
    int out_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0) return Internal(std::string("pipe: ") + std::strerror(errno));
    plan.stdin_fd = child_side.Add(HighFd(in_pipe[0]));
    stdin_parent = parent_side.Add(in_pipe[1]);
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Internal(std::string("pipe: ") + std::strerror(errno));
    stdout_parent = parent_side.Add(out_pipe[0]);
    plan.stdout_fd = child_side.Add(HighFd(out_pipe[1]));
  } else {
    plan.stdin_fd = child_side.Add(HighFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
    plan.stdout_fd = log_fd;
  }
  if (plan.stdin_fd < 0 || plan.stdout_fd < 0) return Internal(std::string("open stdio: ") + std::strerror(errno));
  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) return Internal(std::string("pipe: ") + std::strerror(errno));
  int error_read = parent_side.Add(error_pipe[0]);
  plan.error_pipe = child_side.Add(HighFd(error_pipe[1]));
  plan.parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) return Internal(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) RunChild(plan);

  for (int& fd : child_side.fds) {
    ::close(fd);
    fd = -1;
  }
  auto process = std::unique_ptr<Process>(new Process());
  process->pid_ = pid;
  process->pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  // The error pipe closes on exec (EOF) or carries "<errno> <step>" if the child failed first.
  std::string error;
  char buffer[128];
  for (;;) {
    ssize_t n = ::read(error_read, buffer, sizeof buffer);
    if (n > 0) {
      error.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  if (!error.empty()) {
    process->Wait(std::chrono::milliseconds(-1));  // reap the failed child
    int err = std::atoi(error.c_str());
    std::string step = error.substr(error.find(' ') + 1);
    std::string what = step == "exec" ? "exec " + plan.exec_path : step;
    return Status(err == ENOENT || err == EACCES ? StatusCode::kFailedPrecondition : StatusCode::kInternal,
                  "start " + spec.argv[0] + ": " + what + ": " + std::strerror(err));
  }
  process->stdin_fd_ = stdin_parent;
  process->stdout_fd_ = stdout_parent;
  for (int& fd : parent_side.fds) {
    if (fd == stdin_parent || fd == stdout_parent) fd = -1;
  }
  return process;
}

Result<std::unique_ptr<Process>> Process::Adopt(pid_t pid, std::filesystem::path exit_file) {
  if (pid <= 0) return InvalidArgument("adopt: no such pid " + std::to_string(pid), "pid");
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return FailedPrecondition("adopt pid " + std::to_string(pid) + ": pidfd_open: " + std::strerror(errno));
  std::unique_ptr<Process> process(new Process());
  process->pid_ = pid;
  process->pidfd_ = fd;
  process->adopted_ = true;
  process->exit_file_ = std::move(exit_file);
  return process;
}

namespace {

// "exit code 3" / "killed by signal 9" as a fork-server writes them.
std::optional<ExitStatus> ParseExitFile(const std::filesystem::path& file) {
  std::FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) return std::nullopt;
  char line[64] = {0};
  bool read = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  if (!read) return std::nullopt;
  ExitStatus exit;
  int value = 0;
  if (std::sscanf(line, "exit code %d", &value) == 1) {
    exit.exit_code = value;
    return exit;
  }
  if (std::sscanf(line, "killed by signal %d", &value) == 1) {
    exit.signal = value;
    return exit;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ExitStatus> Process::AdoptedExit(std::chrono::milliseconds timeout) {
  struct pollfd pfd = {pidfd_, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&pfd, 1, static_cast<int>(timeout.count() < 0 ? -1 : timeout.count()));
  } while (rc < 0 && errno == EINTR);
  if (rc == 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  if (exit_) return exit_;
  // Ended. Its parent reaps it and writes how it ended; give it a moment to do so.
  std::optional<ExitStatus> exit;
  for (int i = 0; i < 50 && !(exit = ParseExitFile(exit_file_)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  exit_ = exit.value_or(ExitStatus{});
  // What is left of its group goes too (the id stays taken while the group has members).
  ::killpg(pid_, SIGKILL);
  return exit_;
}

std::optional<ExitStatus> Process::Wait(std::chrono::milliseconds timeout) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (exit_) return exit_;
  }
  if (adopted_) return AdoptedExit(timeout);
  if (timeout.count() != 0 && pidfd_ >= 0) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int wait_ms = -1;
      if (timeout.count() > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        wait_ms = static_cast<int>(std::max<std::int64_t>(0, left.count()));
      }
      struct pollfd pfd = {pidfd_, POLLIN, 0};
      int rc = ::poll(&pfd, 1, wait_ms);
      if (rc < 0 && errno == EINTR) continue;
      if (rc == 0) return std::nullopt;
      break;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (exit_) return exit_;
  int status = 0;
  pid_t rc;
  int flags = (timeout.count() < 0 && pidfd_ < 0) ? 0 : WNOHANG;
  do {
    rc = ::waitpid(pid_, &status, flags);
  } while (rc < 0 && errno == EINTR);
  if (rc == 0) return std::nullopt;
  ExitStatus exit;
  if (rc < 0) {
    exit.exit_code = -1;  // reaped elsewhere (someone called waitpid(-1)): treat as gone
  } else if (WIFEXITED(status)) {
    exit.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit.signal = WTERMSIG(status);
  }
  exit_ = exit;
  // Take what is left of the group now, while its id cannot have been reused yet.
  ::killpg(pid_, SIGKILL);
  return exit_;
}

void Process::KillGroup(int signal) {
  std::lock_guard<std::mutex> lock(mu_);
  // Once reaped, the group was killed then (see Wait) and its id may belong to someone else.
  if (exit_) return;
  ::killpg(pid_, signal);
  if (pidfd_ >= 0) {
    ::syscall(SYS_pidfd_send_signal, pidfd_, signal, nullptr, 0);
  } else {
    ::kill(pid_, signal);
  }
}

void Process::CloseStdin() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

Process::~Process() {
  KillGroup(SIGKILL);
  Wait(std::chrono::milliseconds(-1));  // also kills stragglers that outlived the leader
  if (pidfd_ >= 0) ::close(pidfd_);
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

}  // namespace tuna::sandbox
