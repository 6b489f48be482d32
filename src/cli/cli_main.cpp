#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "cli/command.hpp"
#include "cli/exit_codes.hpp"
#include "resources/suggest.hpp"
#include "tuna/cli.hpp"
#include "tuna/version.hpp"

namespace tuna::cli {
namespace {

const std::vector<FlagSpec>& ConnectionFlags() {
  static const std::vector<FlagSpec> flags = {
      {"server", 0, true, "URL", "tuna server URL (env TUNA_SERVER; default http://127.0.0.1:7070)"},
      {"token", 0, true, "TOKEN", "bearer token (env TUNA_TOKEN)"},
      {"token-file", 0, true, "FILE", "file holding the bearer token (env TUNA_TOKEN_FILE)"},
      {"namespace", 'n', true, "NS", "namespace (env TUNA_NAMESPACE; default \"default\")"},
      {"config", 0, true, "FILE", "config file (env TUNA_CONFIG; default ~/.config/tuna/config.yaml)"},
  };
  return flags;
}

const FlagSpec kHelpFlag{"help", 'h', false, "", "show this help"};

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"server", "Run the tuna server until Ctrl-C (SIGINT) or SIGTERM",
       "tuna server [--data-dir DIR] [--listen HOST:PORT] [--log-level LEVEL] [--api-only] [--no-bubblewrap]",
       "Serves the REST API with a SQLite store in DIR and runs the build/deploy controllers on the\n"
       "local pool driver (builds and workers under DIR/pool, archives in DIR/artifacts). On start it prints\n"
       "  tuna server listening on http://HOST:PORT\n"
       "and the path of the admin token file. When no client config exists yet, it writes\n"
       "~/.config/tuna/config.yaml (server and token-file) so `tuna` commands on this machine work\n"
       "right away; an existing config is never changed.\n",
       {{"data-dir", 0, true, "DIR", "data directory: database, admin token (default ./tuna-data)"},
        {"listen", 0, true, "HOST:PORT", "address to listen on; port 0 picks a free port (default 127.0.0.1:7070)"},
        {"log-level", 0, true, "LEVEL", "trace, debug, info, warn, error, critical or off (default info)"},
        {"api-only", 0, false, "", "serve the API only: no controllers, no pool driver"},
        {"no-bubblewrap", 0, false, "", "do not sandbox builds and workers with bubblewrap (rlimits still apply)"},
        {"artifacts", 0, true, "s3://BUCKET/PREFIX", "keep artifacts in S3 (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)"},
        {"s3-endpoint", 0, true, "URL", "S3 endpoint (default https://s3.REGION.amazonaws.com)"},
        {"s3-region", 0, true, "REGION", "S3 region (default $AWS_REGION or us-east-1)"},
        {"allowed-host", 0, true, "NAME", "a Host name the gateway accepts besides localhost (repeatable; * any)"},
        {"allowed-origin", 0, true, "URL", "a browser Origin the gateway accepts besides localhost (repeatable; * any)"},
        {"public-url", 0, true, "URL", "the URL clients reach this server under, written into agent cards"},
        {"rate-limit", 0, true, "N", "gateway requests per second for API keys without a limit of their own"},
        {"io-threads", 0, true, "N", "threads serving connections (default 2; 1 on a single core)"},
        {"worker-threads", 0, true, "N", "threads running handlers that may block (default 4)"},
        {"gateway-threads", 0, true, "N", "threads on which gateway calls wait for agents and tools (default 64)"}},
       false, &RunServer},
      {"apply", "Create or update objects from manifests", "tuna apply -f FILE|DIR|- [-n NS] [--dry-run]",
       "Each document is created, or updated when it exists (printed as created, configured or\n"
       "unchanged). A directory applies every .yaml, .yml and .json file in it, sorted by name.\n"
       "A bad document is reported (file, document, line, field) and the rest still applied; the\n"
       "exit code is then that of the first failure.\n\n"
       "Examples:\n  tuna apply -f examples/manifests/\n  tuna get ad echo -o yaml | tuna apply -f -\n",
       {{"filename", 'f', true, "PATH", "manifest file, directory or - for stdin (repeatable)"},
        {"dry-run", 0, false, "", "run admission on the server without writing"}},
       true, &RunApply},
      {"get", "List objects of a kind, or show some by name",
       "tuna get KIND [NAME...] [-n NS | -A] [-o yaml|json|wide|name] [-l SELECTOR] [-w]",
       "KIND is a kind, plural, singular or short name (agentdeployment, agentdeployments, ad).\n\n"
       "Examples:\n  tuna get agents\n  tuna get ad echo -o yaml\n  tuna get builds -A -l app=echo -w\n",
       {{"all-namespaces", 'A', false, "", "list across all namespaces"},
        {"output", 'o', true, "FORMAT", "yaml, json, wide or name (default: a table)"},
        {"selector", 'l', true, "SELECTOR", "label selector, e.g. app=echo,tier!=web"},
        {"watch", 'w', false, "", "after listing, print changes as they happen (Ctrl-C ends)"}},
       true, &RunGet},
      {"describe", "Show objects in detail", "tuna describe KIND [NAME...] [-n NS]",
       "Prints metadata, the spec, the status and its conditions. Without NAME, every object of\n"
       "the kind in the namespace.\n",
       {}, true, &RunDescribe},
      {"delete", "Delete objects (and the objects they own)",
       "tuna delete KIND NAME... [-n NS] | tuna delete -f FILE|DIR|- [-n NS]", "",
       {{"filename", 'f', true, "PATH", "delete the objects named in these manifests (repeatable)"},
        {"ignore-not-found", 0, false, "", "treat a missing object as deleted"}},
       true, &RunDelete},
      {"version", "Print the client version and, if reachable, the server's", "tuna version [--client]", "",
       {{"client", 0, false, "", "only the client version; do not contact the server"}}, true, &RunVersion},
      {"api-resources", "List the kinds the server serves", "tuna api-resources", "", {}, true, &RunApiResources},
      {"logs", "Print a build's log, or what a deployment's workers wrote",
       "tuna logs build/NAME|mcpbuild/NAME [-f] | agentdeployment/NAME|mcpserverdeployment/NAME [--stage S] [-n NS]",
       "A build: its log so far; with -f, keeps printing until the build succeeds or fails. After a\n"
       "server restart only the tail kept in the build's status remains.\n"
       "A deployment: the output of each worker of the stage's running revision (stdout and stderr;\n"
       "tuna.a2a agents write one JSON object per ctx.log line), the last --tail-bytes of each.\n",
       {{"follow", 'f', false, "", "follow the log until the build ends"},
        {"stage", 0, true, "STAGE", "staging or production (deployments; default production)"},
        {"tail-bytes", 0, true, "N", "at most this much of each worker's output (deployments; default 65536)"}},
       true, &RunLogs},
      {"repo", "Create, list and delete git repositories (git push deploys; docs/gitops.md)",
       "tuna repo create|delete NAME... | tuna repo list [-n NS]",
       "A branch push deploys the agent named in the repository's tuna.yaml to staging, a tag matching\n"
       "its tagPattern (default v*) to production:\n"
       "  tuna repo create echo\n"
       "  git remote add tuna http://tuna:$(cat tuna-data/admin.token)@127.0.0.1:7070/git/default/echo.git\n"
       "  git push tuna main            # waits for the build and prints the staging URL\n"
       "  git push -o nowait tuna v1    # production, without waiting\n",
       {}, true, &RunRepo},
      {"key", "Create, list and delete API keys of a namespace (docs/auth.md)",
       "tuna key create NAME [--scope invoke|write|admin] [--rate N] [--burst N] [--ttl 24h] | tuna key list | tuna key delete NAME...",
       "A key belongs to one namespace. Scopes nest: invoke calls agents and tools through the gateway,\n"
       "reads resources and clones repositories; write also changes resources and pushes; admin also\n"
       "manages the namespace's keys. The token is printed once, on stdout:\n"
       "  TOKEN=$(tuna key create ci --scope write -n team-a)\n"
       "  git push http://ci:$TOKEN@127.0.0.1:7070/git/team-a/echo.git main\n",
       {{"scope", 0, true, "SCOPE", "invoke (default), write or admin"},
        {"rate", 0, true, "N", "requests per second the gateway allows the key (default: unlimited)"},
        {"burst", 0, true, "N", "requests allowed at once above the rate (default: the rate)"},
        {"ttl", 0, true, "DURATION", "the key expires after this long (3600, 90m, 24h, 30d)"}},
       true, &RunKey},
  };
  return commands;
}

std::vector<FlagSpec> FlagsOf(const Command& c) {
  std::vector<FlagSpec> flags = c.flags;
  if (c.uses_client) flags.insert(flags.end(), ConnectionFlags().begin(), ConnectionFlags().end());
  flags.push_back(kHelpFlag);
  return flags;
}

std::string CommandHelp(const Command& c) {
  std::string out = std::string(c.summary) + ".\n\nUsage:\n  " + std::string(c.usage) + "\n";
  if (!c.details.empty()) out += "\n" + std::string(c.details);
  if (!c.flags.empty()) out += "\nFlags:\n" + FlagsHelp(c.flags);
  if (c.uses_client) out += "\nConnection flags:\n" + FlagsHelp(ConnectionFlags());
  out += "\nExit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict, 5 auth, 6 invalid input, "
         "7 server unreachable.\n";
  return out;
}

std::string MainHelp() {
  std::string out =
      "tuna builds, deploys and serves AI agents; objects are managed like kubectl manages Kubernetes.\n\n"
      "Usage:\n  tuna COMMAND [ARGS] [flags]\n\nCommands:\n";
  std::size_t width = 4;
  for (const auto& c : Commands()) width = std::max(width, c.name.size());
  for (const auto& c : Commands()) {
    out += "  " + std::string(c.name) + std::string(width - c.name.size() + 3, ' ') + std::string(c.summary) + "\n";
  }
  out += "  help" + std::string(width - 4 + 3, ' ') + "Help about a command\n";
  out += "\nConnection flags (client commands):\n" + FlagsHelp(ConnectionFlags());
  out += "\nRun 'tuna help COMMAND' or 'tuna COMMAND --help' for a command's flags. See docs/cli.md.\n";
  return out;
}

const Command* FindCommand(std::string_view name) {
  for (const auto& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

int UnknownCommand(Io& io, std::string_view name) {
  std::vector<std::string_view> names;
  for (const auto& c : Commands()) names.push_back(c.name);
  names.push_back("help");
  io.err << "error: unknown command \"" << name << "\"";
  if (std::string s = internal::Suggest(name, names); !s.empty()) io.err << " (did you mean " << s << "?)";
  io.err << "; run 'tuna help' for the list of commands\n";
  return kExitUsage;
}

std::optional<std::string> Flag(const ParsedArgs& args, std::string_view name) {
  if (!args.Has(name)) return std::nullopt;
  return args.Value(name);
}

}  // namespace

int CommandContext::UsageError(std::string_view message) const {
  io.err << "error: " << message << "\nRun 'tuna " << command.name << " --help' for usage.\n";
  return kExitUsage;
}

std::string FormatStatus(const Status& status) {
  const std::string& field = status.field();
  const std::string& msg = status.message();
  if (field.empty() || msg.find(field) != std::string::npos) return msg;
  return field + ": " + msg;
}

std::string HintFor(const Status& status, const CliConfig& config) {
  switch (status.code()) {
    case StatusCode::kUnauthenticated:
      return "check the token (" +
             (config.token.empty() ? std::string("none is configured") : "from " + config.token_source) +
             "): pass --token or --token-file, set TUNA_TOKEN or TUNA_TOKEN_FILE, or use the token file "
             "`tuna server` prints on start";
    case StatusCode::kPermissionDenied:
      return "the token (from " + config.token_source + ") is not allowed to do this";
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return "the server URL comes from " + config.server_source +
             "; start it with `tuna server` or pass --server / set TUNA_SERVER";
    default:
      return {};
  }
}

int CommandContext::Fail(const Status& status, std::string_view context) const {
  io.err << "error: ";
  if (!context.empty()) io.err << context << ": ";
  io.err << FormatStatus(status) << "\n";
  if (command.uses_client) {
    if (std::string hint = HintFor(status, config); !hint.empty()) io.err << "  hint: " << hint << "\n";
  }
  return ExitCodeFor(status);
}

Result<const KindInfo*> ResolveKind(std::string_view name) {
  if (const KindInfo* k = FindKind(name)) return k;
  std::vector<std::string_view> candidates;
  for (const auto& k : AllKinds()) {
    candidates.push_back(k.kind);
    candidates.push_back(k.plural);
    candidates.push_back(k.singular);
    for (auto s : k.short_names) candidates.push_back(s);
  }
  std::string msg = "unknown kind \"" + std::string(name) + "\"";
  if (std::string s = internal::Suggest(name, candidates); !s.empty()) {
    const KindInfo* k = FindKind(s);
    msg += " (did you mean " + std::string(k ? k->singular : std::string_view(s)) + "?)";
  }
  msg += "; run 'tuna api-resources' to list the kinds";
  return InvalidArgument(msg);
}

Result<const KindInfo*> KindAndNames(const std::vector<std::string>& positionals, std::vector<std::string>& names) {
  if (positionals.empty()) return InvalidArgument("missing KIND");
  const KindInfo* kind = nullptr;
  std::size_t first_name = 1;
  const std::string& head = positionals.front();
  if (auto slash = head.find('/'); slash != std::string::npos) {
    // KIND/NAME form (every argument must then use it).
    for (const auto& p : positionals) {
      auto s = p.find('/');
      if (s == std::string::npos || s == 0 || s + 1 == p.size()) {
        return InvalidArgument("\"" + p + "\": mix of KIND/NAME and plain arguments; use KIND NAME... or KIND/NAME...");
      }
      TUNA_ASSIGN_OR_RETURN(const KindInfo* k, ResolveKind(std::string_view(p).substr(0, s)));
      if (kind != nullptr && k != kind) return InvalidArgument("KIND/NAME arguments must all have the same kind");
      kind = k;
      names.push_back(p.substr(s + 1));
    }
    return kind;
  }
  TUNA_ASSIGN_OR_RETURN(kind, ResolveKind(head));
  for (std::size_t i = first_name; i < positionals.size(); ++i) names.push_back(positionals[i]);
  return kind;
}

int Run(const std::vector<std::string>& args, Io& io) {
  if (args.empty()) {
    io.err << MainHelp();
    return kExitUsage;
  }
  const std::string& name = args.front();
  if (name == "help" || name == "--help" || name == "-h") {
    if (args.size() > 1) {
      const Command* c = FindCommand(args[1]);
      if (c == nullptr) return UnknownCommand(io, args[1]);
      io.out << CommandHelp(*c);
      return kExitOk;
    }
    io.out << MainHelp();
    return kExitOk;
  }
  if (name == "--version") {
    io.out << "tuna " << TUNA_VERSION << "\n";
    return kExitOk;
  }
  const Command* command = FindCommand(name);
  if (command == nullptr) return UnknownCommand(io, name);

  CommandContext ctx{io, *command, {}, {}, nullptr};
  auto parsed = ParseArgs(std::vector<std::string>(args.begin() + 1, args.end()), FlagsOf(*command));
  if (!parsed.ok()) return ctx.UsageError(parsed.status().message());
  ctx.args = std::move(parsed).value();
  if (ctx.args.Has("help")) {
    io.out << CommandHelp(*command);
    return kExitOk;
  }
  if (command->uses_client) {
    ConfigFlags flags{Flag(ctx.args, "server"), Flag(ctx.args, "token"), Flag(ctx.args, "token-file"),
                      Flag(ctx.args, "namespace"), Flag(ctx.args, "config")};
    auto config = ResolveConfig(flags, io.env);
    if (!config.ok()) return ctx.Fail(config.status());
    ctx.config = std::move(config).value();
    ClientOptions options;
    options.server = ctx.config.server;
    options.token = ctx.config.token;
    options.user_agent = std::string("tuna-cli/") + TUNA_VERSION;
    auto client = Client::Make(options);
    if (!client.ok()) return ctx.Fail(client.status(), "server URL from " + ctx.config.server_source);
    ctx.client = std::move(client).value();
  }
  return command->run(ctx);
}

namespace {
CancelToken* g_cancel = nullptr;
extern "C" void OnInterrupt(int) {
  if (g_cancel != nullptr) g_cancel->Cancel();  // an atomic store: async-signal-safe
}
}  // namespace

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Io io{std::cout, std::cerr, std::cin, [](std::string_view name) -> std::optional<std::string> {
          const char* v = std::getenv(std::string(name).c_str());
          return v ? std::optional<std::string>(v) : std::nullopt;
        }};
  // `get -w` ends cleanly on Ctrl-C; `server` handles its signals itself (cmd_server.cpp).
  static CancelToken cancel;
  io.cancel = &cancel;
  if (!args.empty() && args.front() == "get") {
    g_cancel = &cancel;
    std::signal(SIGINT, &OnInterrupt);
    std::signal(SIGTERM, &OnInterrupt);
  }
  int code = Run(args, io);
  std::cout.flush();
  return code;
}

}  // namespace tuna::cli
