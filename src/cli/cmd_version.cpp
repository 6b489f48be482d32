// `tuna version` and `tuna api-resources`.

#include <ostream>

#include "cli/command.hpp"
#include "cli/exit_codes.hpp"
#include "tuna/version.hpp"

namespace tuna::cli {

int RunVersion(CommandContext& ctx) {
  if (!ctx.args.positionals.empty()) return ctx.UsageError("version takes no arguments");
  ctx.io.out << "Client Version: " << TUNA_VERSION << "\n";
  if (ctx.args.Has("client")) return kExitOk;
  auto server = ctx.client->Version();
  if (server.ok()) {
    ctx.io.out << "Server Version: " << *server << " (" << ctx.client->server() << ")\n";
    return kExitOk;
  }
  // The client version is still useful: report the server as a warning, not a failure.
  ctx.io.err << "warning: no server version: " << FormatStatus(server.status()) << "\n";
  if (std::string hint = HintFor(server.status(), ctx.config); !hint.empty()) ctx.io.err << "  hint: " << hint << "\n";
  return kExitOk;
}

int RunApiResources(CommandContext& ctx) {
  if (!ctx.args.positionals.empty()) return ctx.UsageError("api-resources takes no arguments");
  auto resources = ctx.client->Discovery();
  if (!resources.ok()) return ctx.Fail(resources.status());
  Table t;
  t.headers = {"NAME", "SHORTNAMES", "NAMESPACED", "KIND"};
  for (const auto& r : *resources) {
    std::string shorts;
    for (const auto& s : r.short_names) shorts += (shorts.empty() ? "" : ",") + s;
    t.rows.push_back({r.name, shorts, r.namespaced ? "true" : "false", r.kind});
  }
  ctx.io.out << RenderTable(t);
  return kExitOk;
}

}  // namespace tuna::cli
