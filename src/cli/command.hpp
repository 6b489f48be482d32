#pragma once
// Private: what every `tuna` subcommand shares: its I/O, its parsed flags, the resolved config,
// the client, and how errors become "error: ..." lines and exit codes.

#include <chrono>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.hpp"
#include "cli/config.hpp"
#include "cli/output.hpp"
#include "tuna/client.hpp"
#include "tuna/resources/object.hpp"
#include "tuna/status.hpp"

namespace tuna::cli {

/// The process around a command (real streams in Main, string streams in tests).
struct Io {
  std::ostream& out;
  std::ostream& err;
  std::istream& in;
  EnvFn env;
  std::function<TimePoint()> now = [] { return std::chrono::system_clock::now(); };
  /// When set and cancelled, long-running commands (get -w) end cleanly; Main wires SIGINT to it.
  const CancelToken* cancel = nullptr;
};

struct CommandContext;

struct Command {
  std::string_view name;
  std::string_view summary;
  std::string_view usage;    // "tuna get KIND [NAME...] [flags]"
  std::string_view details;  // description and examples for --help
  std::vector<FlagSpec> flags;
  bool uses_client = true;   // adds the connection flags and resolves the config
  int (*run)(CommandContext&) = nullptr;
};

struct CommandContext {
  Io& io;
  const Command& command;
  ParsedArgs args;
  CliConfig config;  // resolved when command.uses_client
  ClientPtr client;  // built when command.uses_client

  /// Prints "error: <message>" plus the pointer to --help; returns kExitUsage.
  int UsageError(std::string_view message) const;
  /// Prints "error: [context: ]<status>" with a hint for what to do; returns its exit code.
  int Fail(const Status& status, std::string_view context = {}) const;
};

/// The message of a status for users: "field: message" (field only if the message lacks it).
std::string FormatStatus(const Status& status);

/// What to tell a user to do about a status ("" when nothing useful), given the config.
std::string HintFor(const Status& status, const CliConfig& config);

/// Resolves KIND as kind, plural, singular or short name; unknown: InvalidArgument with a
/// suggestion and a pointer to `tuna api-resources`.
Result<const KindInfo*> ResolveKind(std::string_view name);

/// Splits "KIND/NAME" arguments: returns the kind and appends names; plain "KIND NAME..." too.
Result<const KindInfo*> KindAndNames(const std::vector<std::string>& positionals, std::vector<std::string>& names);

// The subcommands.
int RunServer(CommandContext& ctx);
int RunApply(CommandContext& ctx);
int RunGet(CommandContext& ctx);
int RunDescribe(CommandContext& ctx);
int RunDelete(CommandContext& ctx);
int RunVersion(CommandContext& ctx);
int RunApiResources(CommandContext& ctx);
int RunLogs(CommandContext& ctx);
int RunRepo(CommandContext& ctx);
int RunKey(CommandContext& ctx);

/// Runs the command line `args` (without argv[0]); returns the exit code.
int Run(const std::vector<std::string>& args, Io& io);

}  // namespace tuna::cli
