// `tuna logs`: a build's log, optionally followed until the build ends.

#include <chrono>
#include <thread>

#include "cli/command.hpp"
#include "cli/exit_codes.hpp"

namespace tuna::cli {

int RunLogs(CommandContext& ctx) {
  std::vector<std::string> names;
  auto kind = KindAndNames(ctx.args.positionals, names);
  if (!kind.ok()) return ctx.UsageError(kind.status().message());
  if ((*kind)->kind != "AgentBuild" && (*kind)->kind != "MCPServerBuild") {
    return ctx.UsageError("logs are kept for builds: use build/NAME or mcpbuild/NAME, not " + std::string((*kind)->plural));
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
