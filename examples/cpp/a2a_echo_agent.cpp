// An A2A agent served with tuna's library alone: echoes the user's text back as an artifact and a
// final status message; "ask" first asks for a name (a multi-turn task).
// Usage: a2a_echo_agent [PORT]   (then: curl http://127.0.0.1:PORT/.well-known/agent-card.json)
#include <tuna/a2a/http_server.hpp>
#include <tuna/a2a/server.hpp>
#include <tuna/session.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace a2a = tuna::a2a;

class EchoAgent final : public a2a::AgentExecutor {
 public:
  tuna::Status Execute(const a2a::RequestContext& ctx, a2a::EventQueue& events) override {
    std::string text = ctx.message.AllText();
    if (ctx.task && ctx.task->status.state == a2a::TaskState::kInputRequired) return events.Complete("hello " + text);
    if (text == "ask") return events.RequireInput("what is your name?");
    if (auto st = events.Working(); !st.ok()) return st;
    a2a::Artifact artifact;
    artifact.artifact_id = "echo";
    artifact.parts.push_back(a2a::Part::Text(text));
    if (auto st = events.UpdateArtifact(artifact, false, true); !st.ok()) return st;
    return events.Complete("echo: " + text);
  }
};

namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  auto store = tuna::session::MakeMemorySessionStore();
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s\n", store.status().ToString().c_str());
    return 1;
  }
  a2a::ServerOptions options;
  options.card.name = "echo";
  options.card.description = "Echoes what you say.";
  options.card.version = "1.0.0";
  options.card.skills.push_back({.id = "echo", .name = "Echo", .description = "Repeats the text", .tags = {"echo"},
                                 .examples = {"hello"}, .input_modes = {}, .output_modes = {}});
  EchoAgent agent;
  auto server = a2a::Server::Make(agent, **store, options);
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", server.status().ToString().c_str());
    return 1;
  }
  auto http = a2a::HttpServer::Make(**server);
  if (!http.ok()) {
    std::fprintf(stderr, "error: %s\n", http.status().ToString().c_str());
    return 1;
  }
  if (auto st = (*http)->Start("127.0.0.1", static_cast<std::uint16_t>(port)); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("A2A agent on http://127.0.0.1:%u/ (card: /.well-known/agent-card.json)\n", (*http)->port());
  std::fflush(stdout);
  if (argc > 2 && std::string(argv[2]) == "--once") return 0;  // smoke test: start and stop
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  (*http)->Stop();
  return 0;
}
