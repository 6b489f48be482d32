// `tuna logs`: a build's log, optionally followed until the build ends.

#include <chrono>
#include <cstdlib>
#include <thread>

#include "cli/command.hpp"
#include "cli/exit_codes.hpp"

namespace tuna::cli {

int RunLogs(CommandContext& ctx) {
  std::vector<std::string> names;
  auto kind = KindAndNames(ctx.args.positionals, names);
  if (!kind.ok()) return ctx.UsageError(kind.status().message());
  if ((*kind)->kind == "AgentDeployment" || (*kind)->kind == "MCPServerDeployment") {
    // What the stage's running revision wrote: its workers' output (a runtime's JSON log lines).
    if (names.size() != 1) return ctx.UsageError("logs takes one deployment: tuna logs agentdeployment/NAME [--stage S]");
    if (ctx.args.Has("follow")) return ctx.UsageError("-f follows builds; for a deployment, run tuna logs again");
    std::string stage = ctx.args.Value("stage", "production");
    std::size_t tail = 64 << 10;
    if (ctx.args.Has("tail-bytes")) {
      std::string text = ctx.args.Value("tail-bytes");
      char* end = nullptr;
      unsigned long long n = std::strtoull(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || n == 0) return ctx.UsageError("--tail-bytes takes a positive number, got \"" + text + "\"");
      tail = static_cast<std::size_t>(n);
    }
    ObjectKey key{std::string((*kind)->kind), ctx.config.namespace_, names.front()};
    auto logs = ctx.client->ReadDeploymentLogs(key, stage, tail);
    if (!logs.ok()) return ctx.Fail(logs.status(), std::string((*kind)->singular) + "/" + key.name);
    ctx.io.out << *logs;
    ctx.io.out.flush();
    return kExitOk;
  }
  if ((*kind)->kind != "AgentBuild" && (*kind)->kind != "MCPServerBuild") {
    return ctx.UsageError("logs are kept for builds and deployments: use build/NAME, mcpbuild/NAME or agentdeployment/NAME, not " +
                          std::string((*kind)->plural));
  }
  if (names.size() != 1) return ctx.UsageError("logs takes one build: tuna logs build/NAME [-f]");
  const bool follow = ctx.args.Has("follow");
  ObjectKey key{std::string((*kind)->kind), ctx.config.namespace_, names.front()};
  std::size_t offset = 0;
  for (;;) {
    auto chunk = ctx.client->ReadBuildLog(key, offset);
    if (!chunk.ok()) return ctx.Fail(chunk.status(), std::string((*kind)->singular) + "/" + key.name);
    ctx.io.out << chunk->text;
    ctx.io.out.flush();
    offset = chunk->next_offset;
    if (!follow || chunk->complete) break;
    if (chunk->text.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return kExitOk;
}

}  // namespace tuna::cli
