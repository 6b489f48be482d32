// Stdio MCP servers on the pool driver: one process per revision, started in the sandbox and
// restarted on the next request after it exits. A request is one JSON-RPC message written as a
// line to stdin; the response is the line on stdout carrying the same id. Notifications written
// meanwhile go to InvokeRequest::on_notification; server-to-client requests are skipped.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>

#include "drivers/pool/pool_core.hpp"

namespace tuna::pool {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

constexpr std::size_t kMaxStdioLine = 16 << 20;

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<std::int64_t>(left, 0, 1 << 30));
}

}  // namespace

Status PoolCore::EnsureStdioStarted(const RevisionPtr& revision, StdioServer& server) {
  if (server.process) {
    auto exit = (*server.process)->TryWait();
    if (!exit) return Status::Ok();
    server.last_exit = exit->ToString();
    server.process.reset();
    server.pgid = 0;
  }
  server.pending.clear();
  const DeployRequest& request = revision->request;
  sandbox::ProcessSpec spec;
  spec.argv = request.command;
  spec.env = BaseEnv(revision->home);
  for (const auto& [k, v] : request.environment.env) spec.env[k] = v;
  for (const auto& [k, v] : request.env) spec.env[k] = v;
  spec.env[registry_->marker_key()] = registry_->marker_value();
  spec.cwd = revision->artifact_dir.empty() ? revision->home : revision->artifact_dir;
  spec.log_file = revision->home.parent_path() / "stderr.log";
  spec.pipe_stdio = true;
  spec.limits = WorkerLimits(request.environment.limits);
  if (use_bwrap_) {
    spec.bwrap = {.enabled = true, .bwrap = options_.bwrap_path, .share_network = true,
                  .hidden = HiddenPaths(), .read_only = {}, .writable = {revision->home}};
    if (!revision->artifact_dir.empty()) spec.bwrap.read_only.push_back(revision->artifact_dir);
    for (auto& file : CommandFiles(request.command)) spec.bwrap.read_only.push_back(std::move(file));
  }
  std::unique_ptr<TrackedProcess> started;
  // Forks happen on driver threads only (PR_SET_PDEATHSIG follows the forking thread).
  Status status = RunOnManager([&]() -> Status {
    auto process = SpawnTracked(spec);
    if (!process.ok()) return process.status();
    started = std::move(*process);
    return Status::Ok();
  });
  if (!status.ok()) return status.WithContext("start the MCP server of " + request.id);
  server.pgid = started->pid();
  server.process = std::move(started);
  return Status::Ok();
}

Result<InvokeResponse> PoolCore::InvokeStdio(const RevisionPtr& revision, const InvokeRequest& request) {
  auto deadline = Clock::now() + request.timeout;
  StdioServer& server = *revision->stdio;
  if (!server.call_gate.Enter(deadline)) {
    return DeadlineExceeded("the MCP server of " + revision->request.id + " stayed busy with another request");
  }
  GateGuard call_guard(server.call_gate);
  if (revision->undeployed || stopping_) return Unavailable("revision " + revision->request.id + " is not deployed");

  json::error_code ec;
  json::value message = json::parse(request.body, ec);
  if (ec || !message.is_object()) return InvalidArgument("MCP request body is not a JSON-RPC object", "body");
  const json::value* id = message.as_object().if_contains("id");
  std::string line = json::serialize(message) + "\n";  // one line, whatever the caller's formatting

  TUNA_RETURN_IF_ERROR(EnsureStdioStarted(revision, server));
  auto died = [&](const std::string& when) -> Status {
    auto exit = (**server.process).Wait(milliseconds(200));
    std::string what = exit ? "exited (" + exit->ToString() + ")" : "closed its pipes";
    server.last_exit = exit ? exit->ToString() : what;
    server.process.reset();
    server.pgid = 0;
    return Unavailable("the MCP server of " + revision->request.id + " " + what + " " + when +
                       "; the next request restarts it" +
                       WithLogTail(LogTail(revision->home.parent_path() / "stderr.log", 5)));
  };

  int in = (**server.process).stdin_fd();
  std::size_t sent = 0;
  while (sent < line.size()) {
    pollfd pfd = {in, POLLOUT, 0};
    int rc = ::poll(&pfd, 1, MillisLeft(deadline));
    if (rc == 0) return DeadlineExceeded("the MCP server of " + revision->request.id + " does not read its stdin");
    if (rc < 0 && errno == EINTR) continue;
    ssize_t n = ::write(in, line.data() + sent, line.size() - sent);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return died("before reading the request");
    sent += static_cast<std::size_t>(n);
  }
  if (id == nullptr) {
    InvokeResponse accepted;
    accepted.status = 202;
    return accepted;
  }  // a notification has no response

  int out = (**server.process).stdout_fd();
  for (;;) {
    std::size_t nl;
    while ((nl = server.pending.find('\n')) == std::string::npos) {
      if (server.pending.size() > kMaxStdioLine) {
        server.process.reset();
        server.pgid = 0;
        return Internal("the MCP server of " + revision->request.id + " wrote a line over 16 MiB; it was stopped");
      }
      pollfd pfd = {out, POLLIN, 0};
      int rc = ::poll(&pfd, 1, MillisLeft(deadline));
      if (rc == 0) return DeadlineExceeded("the MCP server of " + revision->request.id + " did not answer in time");
      if (rc < 0 && errno == EINTR) continue;
      char buffer[65536];
      ssize_t n = ::read(out, buffer, sizeof buffer);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return died("during the request");
      server.pending.append(buffer, static_cast<std::size_t>(n));
    }
    std::string response = server.pending.substr(0, nl);
    server.pending.erase(0, nl + 1);
    json::value parsed = json::parse(response, ec);
    if (ec || !parsed.is_object()) continue;  // not JSON-RPC (a stray print): skip
    const json::object& obj = parsed.as_object();
    const json::value* response_id = obj.if_contains("id");
    bool is_response = obj.contains("result") || obj.contains("error");
    if (is_response && response_id != nullptr && *response_id == *id) {
      return InvokeResponse{.status = 200, .headers = {{"Content-Type", "application/json"}}, .body = response};
    }
    if (!is_response && response_id == nullptr && obj.contains("method") && request.on_notification) {
      request.on_notification(response);
    }
  }
}

}  // namespace tuna::pool
