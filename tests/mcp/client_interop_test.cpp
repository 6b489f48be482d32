// tuna's MCP client against the official reference server @modelcontextprotocol/server-everything
// (npm, pinned in tests/interop/mcp-everything), over stdio and over Streamable HTTP.
// scripts/test.sh installs it; a missing node_modules is a failure, a missing node a skip.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include "support/node.hpp"
#include "sandbox/process.hpp"
#include "support/temp_dir.hpp"
#include "tuna/mcp/client.hpp"

namespace tuna::mcp {
namespace {
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

fs::path EverythingScript() {
  return fs::path(TUNA_SOURCE_DIR) / "tests/interop/mcp-everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js";
}

#define REQUIRE_EVERYTHING(node)                                                                            \
  const std::string node = tuna::testing::FindNode();                                                               \
  if (node.empty()) GTEST_SKIP() << "node is not installed; the MCP reference server cannot run";         \
  ASSERT_TRUE(fs::exists(EverythingScript()))                                                               \
      << "npm dependencies missing: run `npm ci --prefix tests/interop/mcp-everything` (scripts/test.sh does)"

// What both transports must do against the reference server.
void ExerciseEverything(Client& client) {
  ServerInfo info = client.server_info();
  EXPECT_EQ(info.name, "example-servers/everything");
  EXPECT_EQ(info.protocol_version, "2025-11-25");
  EXPECT_FALSE(info.instructions.empty());
  EXPECT_TRUE(info.HasCapability("tools"));
  EXPECT_TRUE(info.HasCapability("resources"));
  EXPECT_TRUE(client.Ping().ok());

  auto tools = client.ListTools();
  ASSERT_TRUE(tools.ok()) << tools.status().ToString();
  bool has_echo = false;
  for (const auto& t : *tools) has_echo = has_echo || t.name == "echo";
  EXPECT_TRUE(has_echo);

  auto echo = client.CallTool("echo", {{"message", "hello everything"}});
  ASSERT_TRUE(echo.ok()) << echo.status().ToString();
  EXPECT_FALSE(echo->is_error);
  EXPECT_NE(std::string(echo->content.at(0).at("text").as_string()).find("hello everything"), std::string::npos);

  auto add = client.CallTool("add", {{"a", 2}, {"b", 40}});
  ASSERT_TRUE(add.ok()) << add.status().ToString();
  EXPECT_NE(std::string(add->content.at(0).at("text").as_string()).find("42"), std::string::npos);

  std::vector<Progress> progress;
  std::mutex mu;
  CallOptions with_progress;
  with_progress.on_progress = [&](const Progress& p) {
    std::lock_guard lock(mu);
    progress.push_back(p);
  };
  auto slow = client.CallTool("longRunningOperation", {{"duration", 0.3}, {"steps", 3}}, with_progress);
  ASSERT_TRUE(slow.ok()) << slow.status().ToString();
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(progress.size(), 3u);
    EXPECT_EQ(progress[2].progress, 3.0);
    EXPECT_EQ(progress[2].total, 3.0);
  }

  // sampleLLM asks the client for sampling/createMessage, which tuna answers -32601: the call
  // ends (with an error of some kind) instead of hanging.
  auto sample = client.CallTool("sampleLLM", {{"prompt", "hi"}, {"maxTokens", 10}}, {.timeout = 20s});
  EXPECT_TRUE(!sample.ok() || sample->is_error) << "sampling should have failed";
  if (!sample.ok()) {
    EXPECT_NE(sample.status().code(), StatusCode::kDeadlineExceeded) << sample.status().ToString();
  }

  // Unknown tool: a JSON-RPC error from the SDK server (not a hang, not a success).
  auto unknown = client.CallTool("no_such_tool");
  EXPECT_TRUE(!unknown.ok() || unknown->is_error);

  // 100 resources, 10 per page: the client follows every cursor.
  auto resources = client.ListResources();
  ASSERT_TRUE(resources.ok()) << resources.status().ToString();
  EXPECT_EQ(resources->size(), 100u);
  auto templates = client.ListResourceTemplates();
  ASSERT_TRUE(templates.ok()) << templates.status().ToString();
  ASSERT_FALSE(templates->empty());
  EXPECT_NE(templates->at(0).uri_template.find("{id}"), std::string::npos);
  auto text = client.ReadResource("test://static/resource/1");  // odd: text
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  ASSERT_EQ(text->size(), 1u);
  EXPECT_TRUE(text->at(0).text.has_value());
  auto blob = client.ReadResource("test://static/resource/2");  // even: base64 blob
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  ASSERT_EQ(blob->size(), 1u);
  EXPECT_TRUE(blob->at(0).blob.has_value());

  auto prompts = client.ListPrompts();
  ASSERT_TRUE(prompts.ok()) << prompts.status().ToString();
  EXPECT_GE(prompts->size(), 2u);
  auto simple = client.GetPrompt("simple_prompt");
  ASSERT_TRUE(simple.ok()) << simple.status().ToString();
  EXPECT_FALSE(simple->messages.empty());
  auto complex = client.GetPrompt("complex_prompt", {{"temperature", "0.5"}, {"style", "terse"}});
  ASSERT_TRUE(complex.ok()) << complex.status().ToString();
  EXPECT_GE(complex->messages.size(), 2u);

  // Several calls in flight over one session.
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        std::string text = "m" + std::to_string(t) + "-" + std::to_string(i);
        auto r = client.CallTool("echo", {{"message", text}});
        if (r.ok() && std::string(r->content.at(0).at("text").as_string()).find(text) != std::string::npos) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 30);
}

TEST(McpClientEverything, Stdio) {
  REQUIRE_EVERYTHING(node);
  StdioTransportOptions options;
  options.argv = {node, EverythingScript().string(), "stdio"};
  options.env = {{"PATH", std::getenv("PATH") ? std::getenv("PATH") : "/usr/local/bin:/usr/bin:/bin"},
                 {"HOME", std::getenv("HOME") ? std::getenv("HOME") : "/tmp"}};
  std::atomic<int> stderr_lines{0};
  options.on_stderr = [&](std::string_view) { ++stderr_lines; };
  auto transport = MakeStdioTransport(options);
  ASSERT_TRUE(transport.ok());
  auto client = Client::Connect(std::move(*transport));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ExerciseEverything(**client);
  (*client)->Close();
  EXPECT_GT(stderr_lines.load(), 0);  // it logs "Starting default (STDIO) server..." there
}

// A port that was free a moment ago (this server version reads PORT and has no "0" option
// that it reports back).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool Listening(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Starts `node index.js streamableHttp` on `port` and waits until it accepts connections.
Result<sandbox::ProcessPtr> StartHttpEverything(const std::string& node, int port, const testing::TempDir& dir) {
  sandbox::ProcessSpec spec;
  spec.argv = {node, EverythingScript().string(), "streamableHttp"};
  spec.env = {{"PATH", std::getenv("PATH") ? std::getenv("PATH") : "/usr/local/bin:/usr/bin:/bin"},
              {"HOME", std::getenv("HOME") ? std::getenv("HOME") : "/tmp"},
              {"PORT", std::to_string(port)}};
  spec.cwd = dir.path();
  spec.log_file = dir / "server.log";
  TUNA_ASSIGN_OR_RETURN(sandbox::ProcessPtr server, sandbox::Process::Spawn(spec));
  for (int i = 0; i < 300; ++i) {
    if (Listening(port)) return server;
    if (server->TryWait()) return Internal("server-everything exited at start; see " + (dir / "server.log").string());
    std::this_thread::sleep_for(100ms);
  }
  return DeadlineExceeded("server-everything did not listen on port " + std::to_string(port));
}

TEST(McpClientEverything, StreamableHttp) {
  REQUIRE_EVERYTHING(node);
  testing::TempDir dir;
  int port = FreePort();
  ASSERT_GT(port, 0);
  auto server = StartHttpEverything(node, port, dir);
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  HttpTransportOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
  options.headers = {{"X-Request-Id", "tuna-interop"}};
  options.reconnect_delay = 200ms;
  auto transport = MakeHttpTransport(options);
  ASSERT_TRUE(transport.ok());
  auto client = Client::Connect(std::move(*transport));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ExerciseEverything(**client);

  // A new session on demand: calls go on over it.
  std::uint64_t generation = (*client)->session_generation();
  ASSERT_TRUE((*client)->Reinitialize().ok());
  EXPECT_EQ((*client)->session_generation(), generation + 1);
  EXPECT_TRUE((*client)->Ping().ok());

  // The server restarts and forgets every session; it answers the old id with 400 "No valid
  // session ID provided" (not the spec's 404). The client initializes again by itself.
  (*server)->KillGroup(SIGTERM);
  ASSERT_TRUE((*server)->Wait(10s).has_value());
  server = StartHttpEverything(node, port, dir);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto echo = (*client)->CallTool("echo", {{"message", "after restart"}});
  ASSERT_TRUE(echo.ok()) << echo.status().ToString();
  EXPECT_NE(std::string(echo->content.at(0).at("text").as_string()).find("after restart"), std::string::npos);
  EXPECT_EQ((*client)->session_generation(), generation + 2);
  (*client)->Close();
  (*server)->KillGroup(SIGTERM);
  (*server)->Wait(5s);
}

}  // namespace
}  // namespace tuna::mcp
