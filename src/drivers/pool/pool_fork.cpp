// Fork-servers (docs/drivers.md, "The fork-server protocol"): an environment with `fork_server`
// starts its run command once, with TUNA_FORK_SERVER_SOCKET; every worker is then a fork of that
// process, asked for over the socket. The child listens on its own worker socket, where the
// kernel tells the driver its pid (SO_PEERCRED, translated into the driver's pid namespace), so
// the driver watches it through a pidfd and kills its process group like any other worker.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/unique_fd.hpp"
#include "drivers/pool/pool_core.hpp"

namespace tuna::pool {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::milliseconds;


// Connects to a Unix socket; -1 with errno set when nobody listens (yet).
int ConnectUnix(const fs::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.native().size() >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.native().size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

// The pid (in our namespace) of the process that listens on `path`; 0 when nobody listens yet.
pid_t ListenerPid(const fs::path& path) {
  core::UniqueFd fd(ConnectUnix(path));
  if (fd.get() < 0) return 0;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return 0;
  return cred.pid;
}

// One request line to the fork-server, one answer line back.
Result<json::object> Ask(const fs::path& socket, const json::object& request, Clock::time_point deadline) {
  core::UniqueFd fd(ConnectUnix(socket));
  if (fd.get() < 0) return Unavailable("connect to " + socket.string() + ": " + std::strerror(errno));
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  if (left.count() <= 0) return DeadlineExceeded("no time left to ask the fork-server");
  timeval tv{.tv_sec = static_cast<time_t>(left.count() / 1000000), .tv_usec = static_cast<suseconds_t>(left.count() % 1000000)};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string line = json::serialize(request) + "\n";
  for (std::size_t sent = 0; sent < line.size();) {
    ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Unavailable("write to " + socket.string() + ": " + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buffer[4096];
  while (answer.find('\n') == std::string::npos) {
    ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return DeadlineExceeded("the fork-server did not answer in time");
    if (n < 0) return Unavailable("read from " + socket.string() + ": " + std::strerror(errno));
    if (n == 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
    if (answer.size() > (64u << 10)) return Internal("the fork-server's answer is longer than 64 KiB");
  }
  if (answer.empty()) return Unavailable("the fork-server closed the connection without answering");
  boost::system::error_code ec;
  json::value value = json::parse(answer.substr(0, answer.find('\n')), ec);
  if (ec || !value.is_object()) return Internal("the fork-server answered something that is not a JSON object: " + answer.substr(0, 200));
  return value.as_object();
}

// The last pid of "NSpid:" in /proc/<pid>/status: the pid the process has in its own namespace.
pid_t InnermostPid(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("NSpid:", 0) != 0) continue;
    auto pos = line.find_last_of(" \t");
    return static_cast<pid_t>(std::atoi(line.c_str() + pos + 1));
  }
  return 0;
}

}  // namespace

ForkServer::~ForkServer() {
  process.reset();
  std::error_code ec;
  if (!dir.empty()) fs::remove_all(dir, ec);
}

Result<ForkServerPtr> PoolCore::ForkServerFor(const EnvironmentSpec& spec) {
  std::lock_guard<std::mutex> lock(fork_mu_);
  const std::string fingerprint = Fingerprint(spec);
  if (auto it = fork_servers_.find(spec.name); it != fork_servers_.end()) {
    if (it->second->fingerprint == fingerprint && !(*it->second->process)->TryWait()) return it->second;
  }
  if (stopping_) return Unavailable("pool driver is shutting down");
  auto server = std::make_shared<ForkServer>();
  server->environment = spec.name;
  server->fingerprint = fingerprint;
  server->dir = options_.work_dir / "workers" / ("f" + std::to_string(next_fork_server_id_++));
  server->socket = server->dir / "fork.sock";
  server->log = server->dir / "fork-server.log";
  std::error_code ec;
  fs::create_directories(server->dir, ec);
  if (ec) return Internal("create " + server->dir.string() + ": " + ec.message());
  sandbox::ProcessSpec process_spec = WorkerProcessSpec(spec, server->dir, server->log);
  process_spec.env["TUNA_FORK_SERVER_SOCKET"] = server->socket.string();
  TUNA_ASSIGN_OR_RETURN(server->process, SpawnTracked(process_spec));

  auto deadline = Clock::now() + options_.worker_start_timeout;
  TUNA_RETURN_IF_ERROR(PollUntil(
      deadline, std::chrono::microseconds(500), std::chrono::microseconds(5000),
      [&]() -> Result<bool> {
        if (auto exit = (*server->process)->TryWait()) {
          return FailedPrecondition("fork-server of environment " + spec.name + " exited while starting (" +
                                    exit->ToString() + ")" + WithLogTail(LogTail(server->log, 10)));
        }
        struct stat st;
        if (::stat(server->socket.c_str(), &st) != 0) return false;
        auto answer = Ask(server->socket, {{"op", "ping"}}, std::min(deadline, Clock::now() + milliseconds(2000)));
        return answer.ok() && answer->contains("ok");
      },
      [&] {
        return DeadlineExceeded("fork-server of environment " + spec.name + " did not answer on " +
                                server->socket.string() + " within " +
                                std::to_string(options_.worker_start_timeout.count()) + " ms" +
                                WithLogTail(LogTail(server->log, 10)));
      }));
  fork_servers_[spec.name] = server;  // a replaced one lives on while its workers do
  return server;
}

Status PoolCore::ForkWorker(const EnvironmentSpec& spec, Worker& worker, Clock::time_point deadline) {
  ForkServer& server = *worker.fork_server;
  sandbox::ProcessSpec process_spec = WorkerProcessSpec(spec, worker.dir, worker.log);
  process_spec.env["TUNA_WORKER_SOCKET"] = worker.socket.string();
  process_spec.env["TUNA_WORKER_ID"] = std::to_string(worker.id);
  json::object env;
  for (const auto& [k, v] : process_spec.env) env[k] = v;
  json::object request{{"op", "fork"},
                       {"id", std::to_string(worker.id)},
                       {"cwd", worker.dir.string()},
                       {"log", worker.log.string()},
                       {"exitFile", worker.exit_file.string()},
                       {"env", std::move(env)}};
  auto answer = Ask(server.socket, request, deadline);
  if (!answer.ok()) {
    return Status(answer.status().code(), "fork-server of environment " + spec.name + ": " + answer.status().message() +
                                              WithLogTail(LogTail(server.log, 10)));
  }
  const json::value* child = answer->if_contains("pid");
  if (child == nullptr || !child->is_int64()) {
    const json::value* error = answer->if_contains("error");
    return FailedPrecondition("fork-server of environment " + spec.name + " refused a worker: " +
                              (error && error->is_string() ? std::string(error->as_string()) : json::serialize(*answer)));
  }
  const auto inner_pid = static_cast<pid_t>(child->as_int64());
  server.forks++;

  // The child listens on its socket once it runs; the kernel gives its pid in our namespace.
  return PollUntil(
      deadline, std::chrono::microseconds(100), std::chrono::microseconds(2000),
      [&]() -> Result<bool> {
        if (fs::exists(worker.exit_file)) {
          std::ifstream in(worker.exit_file);
          std::string how;
          std::getline(in, how);
          return FailedPrecondition("worker of environment " + spec.name + " exited while starting (" + how + ")" +
                                    WithLogTail(LogTail(worker.log, 10)));
        }
        if (auto exit = (*server.process)->TryWait()) {
          return FailedPrecondition("fork-server of environment " + spec.name + " exited (" + exit->ToString() +
                                    ") while forking a worker" + WithLogTail(LogTail(server.log, 10)));
        }
        pid_t pid = ListenerPid(worker.socket);
        if (pid <= 0) return false;
        if (InnermostPid(pid) != inner_pid) {
          return Internal("the process listening on " + worker.socket.string() + " (pid " + std::to_string(pid) +
                          ") is not the worker the fork-server started (pid " + std::to_string(inner_pid) +
                          " in its namespace)");
        }
        TUNA_ASSIGN_OR_RETURN(sandbox::ProcessPtr process, sandbox::Process::Adopt(pid, worker.exit_file));
        worker.process = std::make_unique<TrackedProcess>(std::move(process), registry_);
        return true;
      },
      [&] {
        return DeadlineExceeded("worker " + std::to_string(worker.id) + " forked for environment " + spec.name +
                                " did not listen on its socket within " +
                                std::to_string(options_.worker_start_timeout.count()) + " ms" +
                                WithLogTail(LogTail(worker.log, 10)));
      });
}

pid_t PoolCore::ForkServerPid(const std::string& environment) {
  std::lock_guard<std::mutex> lock(fork_mu_);
  auto it = fork_servers_.find(environment);
  if (it == fork_servers_.end() || (*it->second->process)->TryWait()) return 0;
  return it->second->process->pid();
}

void PoolCore::DropForkServer(std::string_view environment) {
  ForkServerPtr dropped;
  std::lock_guard<std::mutex> lock(fork_mu_);
  if (auto it = fork_servers_.find(std::string(environment)); it != fork_servers_.end()) {
    dropped = std::move(it->second);
    fork_servers_.erase(it);
  }
}

}  // namespace tuna::pool
