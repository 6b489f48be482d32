#include "gitops/git_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/ids.hpp"
#include "sandbox/process.hpp"

namespace tuna::gitops {
namespace {

namespace fs = std::filesystem;

// A write to a pipe whose reader exited raises SIGPIPE in the writing thread: block it here and
// take the pending signal back, so EPIPE is an error code and never kills the server.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~ScopedSigpipeBlock() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    timespec zero{0, 0};
    while (sigtimedwait(&set, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
};

std::string ReadFile(const fs::path& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > limit) text = text.substr(text.size() - limit);
  return text;
}

}  // namespace

Result<ChildResult> RunChild(const ChildSpec& spec) {
  if (spec.argv.empty()) return InvalidArgument("no program to run");
  ScopedSigpipeBlock sigpipe;
  fs::path err_file = fs::temp_directory_path() / ("tuna-git-" + core::RandomHex(8) + ".err");
  sandbox::ProcessSpec ps;
  ps.argv = spec.argv;
  ps.env = spec.env;
  ps.cwd = spec.cwd;
  ps.log_file = err_file;
  ps.pipe_stdio = true;
  auto spawned = sandbox::Process::Spawn(ps);
  if (!spawned.ok()) return spawned.status().WithContext("start " + spec.argv[0]);
  auto& child = **spawned;
  struct Cleanup {
    fs::path file;
    ~Cleanup() {
      std::error_code ec;
      fs::remove(file, ec);
    }
  } cleanup{err_file};

  const auto deadline = std::chrono::steady_clock::now() + spec.timeout;
  int in_fd = child.stdin_fd();
  int out_fd = child.stdout_fd();
  ::fcntl(in_fd, F_SETFL, ::fcntl(in_fd, F_GETFL) | O_NONBLOCK);
  ::fcntl(out_fd, F_SETFL, ::fcntl(out_fd, F_GETFL) | O_NONBLOCK);
  std::size_t written = 0;
  bool in_open = true;
  if (spec.input.empty()) {
    child.CloseStdin();
    in_open = false;
  }
  ChildResult result;
  bool out_open = true;
  char buf[65536];
  while (out_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (spec.cancel != nullptr && spec.cancel->load()) {
      child.KillGroup(SIGKILL);
      child.Wait(std::chrono::milliseconds(5000));
      return Status(StatusCode::kCancelled, spec.argv[0] + " was cancelled");
    }
    if (left.count() <= 0) {
      child.KillGroup(SIGKILL);
      child.Wait(std::chrono::milliseconds(5000));
      return DeadlineExceeded(spec.argv[0] + " did not finish within " + std::to_string(spec.timeout.count()) + " ms");
    }
    pollfd fds[2];
    int n = 0;
    fds[n++] = {out_fd, POLLIN, 0};
    if (in_open) fds[n++] = {in_fd, POLLOUT, 0};
    int rc = ::poll(fds, n, static_cast<int>(std::min<long long>(left.count(), 200)));
    if (rc < 0 && errno != EINTR) return Internal(std::string("poll: ") + std::strerror(errno));
    if (rc <= 0) continue;
    if (in_open && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(in_fd, spec.input.data() + written, std::min<std::size_t>(spec.input.size() - written, 65536));
      if (w > 0) written += static_cast<std::size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == spec.input.size()) {
        child.CloseStdin();  // done, or the child stopped reading (it answers anyway)
        in_open = false;
      }
    }
    if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) {
      ssize_t r = ::read(out_fd, buf, sizeof buf);
      if (r > 0 && spec.on_stdout) {
        spec.on_stdout(std::string(buf, static_cast<std::size_t>(r)));
      } else if (r > 0) {
        result.out.append(buf, static_cast<std::size_t>(r));
        if (result.out.size() > spec.max_output) {
          child.KillGroup(SIGKILL);
          child.Wait(std::chrono::milliseconds(5000));
          return ResourceExhausted(spec.argv[0] + " wrote more than " + std::to_string(spec.max_output) + " bytes");
        }
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        out_open = false;
      }
    }
  }
  if (in_open) child.CloseStdin();
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  auto exit = child.Wait(std::max(left, std::chrono::milliseconds(1)));
  if (!exit) {
    child.KillGroup(SIGKILL);
    child.Wait(std::chrono::milliseconds(5000));
    return DeadlineExceeded(spec.argv[0] + " did not exit within " + std::to_string(spec.timeout.count()) + " ms");
  }
  result.exit_code = exit->signal == 0 ? exit->exit_code : -1;
  result.err = ReadFile(err_file, 64 << 10);
  return result;
}

}  // namespace tuna::gitops
