// The MCP stdio client transport: a child process (sandbox::Process) speaking newline-delimited
// JSON-RPC on stdin/stdout, stderr read line by line into a callback.
//
// One I/O thread per transport spawns the child (PR_SET_PDEATHSIG is tied to the thread that
// forked, so the child must come from a thread that lives as long as it does), then reads
// stdout and stderr, demultiplexes responses by id and routes the server's notifications and
// requests. When stdout ends (the child crashed or exited) every pending request fails with
// the exit status and the last stderr line; the child is reaped before the thread ends.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "sandbox/process.hpp"
#include "tuna/mcp/client.hpp"

extern char** environ;

namespace tuna::mcp {
namespace {
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxStderrLine = 8 << 10;
constexpr auto kReplyTimeout = std::chrono::seconds(5);

// Writes all of `data` to a non-blocking pipe before `deadline`. SIGPIPE is blocked on this
// thread meanwhile (a dead reader gives EPIPE, not a dead tuna) and a SIGPIPE we caused is
// consumed before unblocking.
Status WriteAll(int fd, std::string_view data, Deadline deadline, const std::atomic<bool>& stop) {
  sigset_t pipe_set;
  sigset_t old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  Status status;
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (stop) {
        status = Unavailable("the MCP server process is going away");
        break;
      }
      int wait_ms = -1;
      if (deadline != Deadline::max()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
          status = DeadlineExceeded("the MCP server process does not read its stdin");
          break;
        }
        wait_ms = static_cast<int>(std::min<long long>(left, 1000));
      } else {
        wait_ms = 1000;
      }
      struct pollfd pfd = {fd, POLLOUT, 0};
      ::poll(&pfd, 1, wait_ms);
      continue;
    }
    status = Unavailable(std::string("write to the MCP server process: ") + std::strerror(errno));
    if (errno == EPIPE && !was_pending) {
      struct timespec zero = {0, 0};
      while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    break;
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  return status;
}

class StdioTransport final : public ClientTransport {
 public:
  explicit StdioTransport(StdioTransportOptions options) : options_(std::move(options)) {
    name_ = options_.argv.empty() ? "?" : options_.argv[0];
  }

  ~StdioTransport() override { Close(); }

  Status Start(IncomingHandler incoming) override {
    {
      std::lock_guard lock(mu_);
      if (started_) return FailedPrecondition("MCP stdio transport already started");
      if (closed_) return Status(StatusCode::kCancelled, "MCP transport is closed");
      started_ = true;
      incoming_ = std::move(incoming);
    }
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return Internal(std::string("eventfd: ") + std::strerror(errno));
    std::promise<Status> spawned;
    std::future<Status> spawned_future = spawned.get_future();
    io_thread_ = std::thread([this, promise = std::move(spawned)]() mutable { Run(promise); });
    Status s = spawned_future.get();
    if (!s.ok()) {
      io_thread_.join();
      std::lock_guard lock(mu_);
      broken_ = s;
    }
    return s;
  }

  Result<jsonrpc::Message> Request(const json::value& request, const RequestContext& context) override {
    const json::value* id_ptr = request.is_object() ? request.get_object().if_contains("id") : nullptr;
    if (id_ptr == nullptr) return InvalidArgument("MCP request without an id");
    std::string key = json::serialize(*id_ptr);
    auto pending = std::make_shared<Pending>();
    {
      std::lock_guard lock(mu_);
      if (!broken_.ok()) return broken_;
      if (!running_) return FailedPrecondition("MCP stdio transport not started");
      if (!pending_.emplace(key, pending).second) return InvalidArgument("MCP request id " + key + " already in flight");
    }
    Status s = WriteLine(request, context.deadline);
    std::unique_lock lock(mu_);
    if (s.ok()) {
      cv_.wait_until(lock, context.deadline, [&] { return pending->response.has_value() || !broken_.ok(); });
    } else if (s.code() == StatusCode::kUnavailable) {
      // EPIPE: the child is dying; its exit status explains more than the pipe does.
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return !broken_.ok(); });
    }
    pending_.erase(key);
    if (pending->response) return std::move(*pending->response);
    if (!broken_.ok()) return broken_;
    if (!s.ok()) return s;
    return DeadlineExceeded("MCP server process " + name_ + " did not answer request " + key + " in time");
  }

  Status Send(const json::value& message, const RequestContext& context) override {
    {
      std::lock_guard lock(mu_);
      if (!broken_.ok()) return broken_;
      if (!running_) return FailedPrecondition("MCP stdio transport not started");
    }
    return WriteLine(message, context.deadline);
  }

  void Close() override {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      stopping_ = true;
      if (broken_.ok()) broken_ = Status(StatusCode::kCancelled, "MCP transport is closed");
      cv_.notify_all();
    }
    if (wake_fd_ >= 0) {
      std::uint64_t one = 1;
      ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
      (void)ignored;
    }
    if (io_thread_.joinable()) io_thread_.join();
    if (wake_fd_ >= 0) ::close(wake_fd_);
    wake_fd_ = -1;
  }

 private:
  struct Pending {
    std::optional<jsonrpc::Message> response;
  };

  Status WriteLine(const json::value& message, Deadline deadline) {
    std::string line = json::serialize(message);
    line += '\n';
    std::lock_guard lock(write_mu_);
    if (stdin_fd_ < 0) return Unavailable("MCP server process " + name_ + " is gone");
    Status s = WriteAll(stdin_fd_, line, deadline, stopping_);
    if (!s.ok()) return s.WithContext("MCP server process " + name_);
    return s;
  }

  // The I/O thread: spawn, read until stdout ends or Close, then take the child down.
  void Run(std::promise<Status>& spawned) {
    int err_pipe[2];
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
      spawned.set_value(Internal(std::string("pipe: ") + std::strerror(errno)));
      return;
    }
    sandbox::ProcessSpec spec;
    spec.argv = options_.argv;
    if (options_.inherit_environment) {
      for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string entry(*e);
        auto eq = entry.find('=');
        if (eq != std::string::npos) spec.env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
      }
    }
    for (const auto& [k, v] : options_.env) spec.env[k] = v;
    std::error_code ec;
    spec.cwd = options_.cwd.empty() ? std::filesystem::current_path(ec) : options_.cwd;
    // Process sends stderr to a file it opens; the pipe's write end, reopened through /proc,
    // makes that file our pipe.
    spec.log_file = "/proc/self/fd/" + std::to_string(err_pipe[1]);
    spec.pipe_stdio = true;
    auto process = sandbox::Process::Spawn(spec);
    ::close(err_pipe[1]);
    if (!process.ok()) {
      ::close(err_pipe[0]);
      spawned.set_value(process.status().WithContext("MCP stdio transport"));
      return;
    }
    sandbox::ProcessPtr child = std::move(*process);
    int out_fd = child->stdout_fd();
    int err_fd = err_pipe[0];
    ::fcntl(child->stdin_fd(), F_SETFL, ::fcntl(child->stdin_fd(), F_GETFL) | O_NONBLOCK);
    {
      std::lock_guard lock(write_mu_);
      stdin_fd_ = child->stdin_fd();
    }
    {
      std::lock_guard lock(mu_);
      running_ = true;
    }
    spdlog::debug("mcp client: started MCP server process {} (pid {})", name_, child->pid());
    spawned.set_value(Status::Ok());

    std::string out_buffer;
    std::string err_buffer;
    bool skipping = false;  // inside a line longer than max_message_bytes
    bool out_open = true;
    bool err_open = true;
    char chunk[65536];
    while (out_open) {
      struct pollfd fds[3] = {{out_fd, POLLIN, 0}, {err_open ? err_fd : -1, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      // A timeout, to notice a child that died while its own children keep stdout open.
      int rc = ::poll(fds, 3, 250);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) break;
      if (rc == 0) {
        if (child->TryWait()) break;
        continue;
      }
      if (fds[2].revents != 0) break;  // Close()
      if (fds[0].revents != 0) {
        ssize_t n = ::read(out_fd, chunk, sizeof chunk);
        if (n > 0) {
          out_buffer.append(chunk, static_cast<std::size_t>(n));
          ConsumeLines(out_buffer, skipping);
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          out_open = false;
        }
      }
      if (err_open && fds[1].revents != 0) {
        ssize_t n = ::read(err_fd, chunk, sizeof chunk);
        if (n > 0) {
          err_buffer.append(chunk, static_cast<std::size_t>(n));
          ConsumeStderr(err_buffer, false);
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          err_open = false;
        }
      }
    }

    if (out_open) {  // the child died first: keep what it wrote before that
      ::fcntl(out_fd, F_SETFL, ::fcntl(out_fd, F_GETFL) | O_NONBLOCK);
      for (;;) {
        ssize_t n = ::read(out_fd, chunk, sizeof chunk);
        if (n <= 0) break;
        out_buffer.append(chunk, static_cast<std::size_t>(n));
        ConsumeLines(out_buffer, skipping);
      }
    }
    stopping_ = true;
    bool closing;
    {
      std::lock_guard lock(mu_);
      closing = closed_;
    }
    {
      std::lock_guard lock(write_mu_);
      stdin_fd_ = -1;
    }
    child->CloseStdin();  // EOF: a well-behaved server exits now
    std::optional<sandbox::ExitStatus> exit = child->Wait(closing ? options_.shutdown_grace : std::chrono::milliseconds(500));
    if (!exit) {
      child->KillGroup(SIGTERM);
      exit = child->Wait(std::chrono::seconds(1));
    }
    if (!exit) {
      child->KillGroup(SIGKILL);
      exit = child->Wait(std::chrono::milliseconds(-1));
    }
    // Whatever the child wrote to stderr last explains its death; read what is left.
    if (err_open) {
      ::fcntl(err_fd, F_SETFL, ::fcntl(err_fd, F_GETFL) | O_NONBLOCK);
      for (;;) {
        ssize_t n = ::read(err_fd, chunk, sizeof chunk);
        if (n <= 0) break;
        err_buffer.append(chunk, static_cast<std::size_t>(n));
      }
    }
    ConsumeStderr(err_buffer, true);
    ::close(err_fd);
    std::string why = "MCP server process " + name_ + " exited (" + (exit ? exit->ToString() : std::string("unknown status")) + ")";
    {
      std::lock_guard lock(mu_);
      if (!last_stderr_.empty()) why += "; last stderr line: " + last_stderr_;
      if (broken_.ok()) broken_ = Unavailable(why);
      running_ = false;
      cv_.notify_all();
    }
    if (!closing) spdlog::warn("mcp client: {}", why);
    child.reset();  // reaps; kills what is left of its process group
  }

  void ConsumeLines(std::string& buffer, bool& skipping) {
    std::size_t start = 0;
    for (;;) {
      std::size_t nl = buffer.find('\n', start);
      if (nl == std::string::npos) break;
      std::string_view line(buffer.data() + start, nl - start);
      start = nl + 1;
      if (skipping) {
        skipping = false;
        continue;
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      HandleLine(line);
    }
    buffer.erase(0, start);
    if (buffer.size() > options_.max_message_bytes) {
      spdlog::warn("mcp client: MCP server process {} wrote a line longer than {} bytes; skipped", name_, options_.max_message_bytes);
      buffer.clear();
      skipping = true;
    }
  }

  void HandleLine(std::string_view line) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) return;
    jsonrpc::ParseResult parsed = jsonrpc::ParseMessage(line);
    if (!parsed.ok()) {
      // Skipped, not fatal (some servers print banners on stdout); logged loudly only at first.
      std::size_t n = ++garbage_lines_;
      auto level = n <= 10 || n % 1000 == 0 ? spdlog::level::warn : spdlog::level::debug;
      spdlog::log(level, "mcp client: MCP server process {} wrote a line that is not a JSON-RPC message ({}, {} so far): {}",
                  name_, parsed.error.message, n, line.substr(0, 200));
      return;
    }
    jsonrpc::Message& message = *parsed.message;
    if (message.IsResponse()) {
      std::lock_guard lock(mu_);
      auto it = pending_.find(json::serialize(message.id));
      if (it == pending_.end()) {
        spdlog::debug("mcp client: response from {} for request {} nobody waits for", name_, json::serialize(message.id));
        return;
      }
      it->second->response = std::move(message);
      cv_.notify_all();
      return;
    }
    IncomingHandler incoming;
    {
      std::lock_guard lock(mu_);
      incoming = incoming_;
    }
    std::optional<json::value> reply;
    if (incoming) {
      reply = incoming(message);
    } else if (message.IsRequest()) {
      reply = DefaultReply(message);
    }
    if (message.IsRequest() && reply) {
      Status s = WriteLine(*reply, Clock::now() + kReplyTimeout);
      if (!s.ok()) spdlog::debug("mcp client: reply to {} not sent: {}", message.method, s.ToString());
    }
  }

  void ConsumeStderr(std::string& buffer, bool flush) {
    std::size_t start = 0;
    for (;;) {
      std::size_t nl = buffer.find('\n', start);
      if (nl == std::string::npos) break;
      EmitStderr(std::string_view(buffer.data() + start, nl - start));
      start = nl + 1;
    }
    buffer.erase(0, start);
    if (buffer.size() > kMaxStderrLine || (flush && !buffer.empty())) {
      EmitStderr(buffer);
      buffer.clear();
    }
  }

  void EmitStderr(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxStderrLine) line = line.substr(0, kMaxStderrLine);
    if (line.empty()) return;
    {
      std::lock_guard lock(mu_);
      last_stderr_ = std::string(line.substr(0, 500));
    }
    if (options_.on_stderr) {
      try {
        options_.on_stderr(line);
      } catch (...) {
      }
    } else {
      spdlog::info("mcp server {}: {}", name_, line);
    }
  }

  StdioTransportOptions options_;
  std::string name_;
  int wake_fd_ = -1;
  std::thread io_thread_;

  std::atomic<bool> stopping_{false};  // writers blocked on a full pipe give up
  std::mutex write_mu_;
  int stdin_fd_ = -1;  // owned by the child Process; -1 once it is going away

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool running_ = false;
  bool closed_ = false;
  Status broken_;  // not OK once the child is gone or the transport closed
  IncomingHandler incoming_;
  std::map<std::string, std::shared_ptr<Pending>> pending_;
  std::string last_stderr_;
  std::size_t garbage_lines_ = 0;  // I/O thread only
};

}  // namespace

Result<ClientTransportPtr> MakeStdioTransport(StdioTransportOptions options) {
  if (options.argv.empty() || options.argv[0].empty()) return InvalidArgument("MCP stdio transport needs a command", "argv");
  return ClientTransportPtr(std::make_unique<StdioTransport>(std::move(options)));
}

}  // namespace tuna::mcp
