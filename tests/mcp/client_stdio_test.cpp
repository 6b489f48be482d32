// tuna's MCP client over stdio against misbehaving servers: small /bin/sh scripts that answer
// initialize and then crash, write garbage, hang, or ignore SIGTERM. Each checks for a clear
// error, no hang past the deadline, and no process left behind.

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "support/temp_dir.hpp"
#include "tuna/mcp/client.hpp"

namespace tuna::mcp {
namespace {
using namespace std::chrono_literals;

// Answers initialize and ping; what it does on tools/call depends on $MODE. Every line it reads
// goes to $LOG; its pid and its background child's pid go to stderr.
constexpr const char* kScript = R"SH(
echo "pid $$" >&2
sleep 300 &
echo "child $!" >&2
while IFS= read -r line; do
  [ -n "$LOG" ] && printf '%s\n' "$line" >> "$LOG"
  id=$(printf '%s\n' "$line" | sed -n 's/^{"jsonrpc":"2.0","id":\([0-9]*\),.*/\1/p')
  case "$line" in
    *'"method":"initialize"'*)
      [ "$MODE" = garbage ] && echo 'Server starting... (not JSON)'
      printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"sh","version":"1"}}}\n' "$id" ;;
    *'"method":"ping"'*)
      printf '{"jsonrpc":"2.0","id":%s,"result":{}}\n' "$id" ;;
    *'"method":"tools/call"'*)
      case "$MODE" in
        crash) echo "fatal: out of cheese" >&2; kill -9 $$ ;;
        garbage)
          echo 'this is not json'
          echo '{"truncated":'
          echo '[1,2,3]'
          printf '{"jsonrpc":"2.0","id":999999,"result":{}}\n'
          printf '{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"fine"}]}}\n' "$id" ;;
        stubborn) trap '' TERM; exec sleep 300 ;;
        *) ;;
      esac ;;
  esac
done
)SH";

struct Script {
  testing::TempDir dir;
  std::string log;
  std::mutex mu;
  std::vector<std::string> stderr_lines;

  StdioTransportOptions Options(const std::string& mode) {
    std::ofstream(dir / "server.sh") << kScript;
    log = (dir / "lines.log").string();
    StdioTransportOptions o;
    o.argv = {"/bin/sh", (dir / "server.sh").string()};
    o.env = {{"MODE", mode}, {"LOG", log}, {"PATH", "/usr/bin:/bin"}};
    o.cwd = dir.path();
    o.shutdown_grace = 300ms;
    o.on_stderr = [this](std::string_view line) {
      std::lock_guard lock(mu);
      stderr_lines.emplace_back(line);
    };
    return o;
  }

  // The pid a "pid N" / "child N" stderr line named (0 if none yet).
  pid_t Pid(const std::string& prefix) {
    for (int i = 0; i < 100; ++i) {
      {
        std::lock_guard lock(mu);
        for (const auto& line : stderr_lines) {
          if (line.rfind(prefix + " ", 0) == 0) return static_cast<pid_t>(std::stol(line.substr(prefix.size() + 1)));
        }
      }
      std::this_thread::sleep_for(50ms);
    }
    return 0;
  }

  std::string Log() {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
};

// Gone: no such process, or a zombie waiting for init (not ours to reap).
bool ProcessGone(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto paren = text.rfind(')');
    if (paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z') return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

Result<ClientPtr> ConnectStdio(StdioTransportOptions options, ClientOptions client = {}) {
  auto transport = MakeStdioTransport(std::move(options));
  if (!transport.ok()) return transport.status();
  return Client::Connect(std::move(*transport), std::move(client));
}

TEST(McpClientStdio, ChildCrashingMidCallIsAClearError) {
  Script script;
  auto client = ConnectStdio(script.Options("crash"));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  pid_t pid = script.Pid("pid");
  pid_t child = script.Pid("child");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE((*client)->Ping().ok());
  auto start = std::chrono::steady_clock::now();
  auto r = (*client)->CallTool("anything", {}, {.timeout = 60s});
  ASSERT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s) << "the call waited for its deadline instead of failing";
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("killed by signal 9"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("out of cheese"), std::string::npos) << r.status().message();
  // Later calls fail the same way at once; the process group is gone.
  EXPECT_EQ((*client)->Ping().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(ProcessGone(pid));
  EXPECT_TRUE(ProcessGone(child)) << "the server's own child outlived it";
}

TEST(McpClientStdio, GarbageLinesAreSkipped) {
  Script script;
  auto client = ConnectStdio(script.Options("garbage"));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto r = (*client)->CallTool("anything");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->content.at(0).at("text").as_string(), "fine");
  EXPECT_TRUE((*client)->Ping().ok());
}

TEST(McpClientStdio, HangingServerHitsTheDeadlineAndGetsCancelled) {
  Script script;
  auto client = ConnectStdio(script.Options("hang"));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto r = (*client)->CallTool("slow", {}, {.timeout = 300ms});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  // The server was told, and the session goes on.
  EXPECT_TRUE((*client)->Ping().ok());
  std::string log = script.Log();
  EXPECT_NE(log.find("\"method\":\"notifications/cancelled\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"method\":\"notifications/initialized\""), std::string::npos) << log;
}

TEST(McpClientStdio, CloseKillsAServerThatIgnoresEofAndSigterm) {
  Script script;
  auto client = ConnectStdio(script.Options("stubborn"));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  pid_t pid = script.Pid("pid");
  pid_t child = script.Pid("child");
  ASSERT_GT(pid, 0);
  auto r = (*client)->CallTool("x", {}, {.timeout = 200ms});
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  (*client)->Close();
  EXPECT_TRUE(ProcessGone(pid));
  EXPECT_TRUE(ProcessGone(child));
  EXPECT_EQ((*client)->Ping().code(), StatusCode::kCancelled);
}

TEST(McpClientStdio, StderrReachesTheCallback) {
  Script script;
  auto client = ConnectStdio(script.Options("hang"));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_GT(script.Pid("pid"), 0);
  (*client)->Close();
}

TEST(McpClientStdio, MissingCommandFailsToStart) {
  StdioTransportOptions options;
  options.argv = {"/nonexistent/mcp-server"};
  auto client = ConnectStdio(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kFailedPrecondition) << client.status().ToString();
  EXPECT_EQ(MakeStdioTransport({}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tuna::mcp
