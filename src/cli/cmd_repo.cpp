// `tuna repo create|list|delete NAME`: the server's git repositories; and `tuna repo hook
// pre-receive|post-receive`, what the repositories' hooks exec (docs/gitops.md): it hands the ref
// updates git gives the hook to the server that runs `git http-backend`, prints the server's
// answer (git shows it to the pusher as "remote: ..."), and after an accepted push follows the
// build and deploy until the stage serves the pushed revision.

#include <chrono>
#include <cstdlib>
#include <istream>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "cli/command.hpp"
#include "cli/exit_codes.hpp"
#include "client/http.hpp"

namespace tuna::cli {
namespace {

namespace json = boost::json;

std::string Env(const Io& io, std::string_view name) { return io.env(name).value_or(""); }

std::string Str(const json::value& v, std::string_view key) {
  if (!v.is_object()) return "";
  const auto* f = v.get_object().if_contains(key);
  return f && f->is_string() ? std::string(f->get_string()) : "";
}

// Prints each line of `text` (the pusher sees "remote: <line>").
void PrintLines(const Io& io, const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) io.err << line << "\n";
  io.err.flush();
}

struct HookCall {
  internal::HttpTransport& transport;
  Result<json::value> Post(const std::string& route, const json::value& body) {
    internal::HttpRequest req;
    req.method = "POST";
    req.target = "/internal/git/hooks/" + route;
    req.body = json::serialize(body);
    req.content_type = "application/json";
    TUNA_ASSIGN_OR_RETURN(auto r, transport.Do(req));
    if (r.status != 200) return StatusFromHttpError(r.status, r.body, r.request_id);
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec) return Internal("the tuna server sent an unreadable hook answer");
    return v;
  }
};

// Follows one stage until it serves the pushed snapshot, its build fails, or time runs out.
void Follow(const Io& io, HookCall& call, const json::value& item, std::chrono::seconds wait) {
  const std::string name = Str(item, "deployment");
  const std::string stage = Str(item, "stage");
  io.err << "waiting for " << name << " " << stage << " to build and deploy (git push -o nowait skips this)\n";
  io.err.flush();
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::string last_build, last_phase, last_ready;
  while (std::chrono::steady_clock::now() < deadline) {
    auto st = call.Post("status", item);
    if (!st.ok()) {
      io.err << "cannot follow " << name << ": " << st.status().message() << "\n";
      return;
    }
    if (!Str(*st, "error").empty()) {
      io.err << "cannot follow " << name << ": " << Str(*st, "error") << "\n";
      return;
    }
    std::string build = Str(*st, "build"), phase = Str(*st, "buildPhase");
    if (!build.empty() && (build != last_build || phase != last_phase)) {
      io.err << "build " << build << ": " << phase << "\n";
      io.err.flush();
      last_build = build;
      last_phase = phase;
    }
    std::string ready = Str(*st, "readyReason");
    if (!ready.empty() && ready != last_ready && ready != "Progressing" && ready != "BuildFailed") {
      io.err << name << ": " << ready << ": " << Str(*st, "readyMessage") << "\n";
      io.err.flush();
    }
    last_ready = ready;
    const auto* deployed = st->as_object().if_contains("deployed");
    if (deployed && deployed->is_bool() && deployed->get_bool()) {
      io.err << name << " " << stage << " deployed: " << Str(*st, "url") << "\n";
      io.err.flush();
      return;
    }
    if (phase == "Failed") {
      io.err << "build " << build << " failed: " << Str(*st, "buildReason") << ": " << Str(*st, "buildMessage") << "\n";
      std::string tail = Str(*st, "logTail");
      if (!tail.empty()) {
        io.err << "--- build log (tail) ---\n";
        PrintLines(io, tail);
        io.err << "---\n";
      }
      io.err << name << " " << stage << " keeps serving its last good revision\n";
      io.err.flush();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  io.err << name << " " << stage << " is still in progress after " << wait.count()
         << " s; follow it with: tuna get agentdeployment " << name << " -w\n";
  io.err.flush();
}

int RunHook(CommandContext& ctx, const std::string& phase) {
  Io& io = ctx.io;
  const std::string url = Env(io, "TUNA_HOOK_URL");
  const std::string secret = Env(io, "TUNA_HOOK_SECRET");
  if (url.empty() || secret.empty()) {
    io.err << "tuna repo hook: run by the tuna server's git endpoint only (TUNA_HOOK_URL is not set)\n";
    return kExitUsage;
  }
  json::array updates;
  std::string line;
  while (std::getline(io.in, line)) {
    std::istringstream fields(line);
    std::string old_id, new_id, ref;
    if (!(fields >> old_id >> new_id >> ref)) continue;
    updates.push_back(json::object{{"old", old_id}, {"new", new_id}, {"ref", ref}});
  }
  json::array options;
  int count = std::atoi(Env(io, "GIT_PUSH_OPTION_COUNT").c_str());
  for (int i = 0; i < count && i < 100; ++i) options.push_back(json::string(Env(io, "GIT_PUSH_OPTION_" + std::to_string(i))));
  json::object body{{"namespace", Env(io, "TUNA_GIT_NAMESPACE")},
                    {"repo", Env(io, "TUNA_GIT_REPO")},
                    {"updates", updates},
                    {"pushOptions", options},
                    {"objectDirectory", Env(io, "GIT_OBJECT_DIRECTORY")},
                    {"alternateObjectDirectories", Env(io, "GIT_ALTERNATE_OBJECT_DIRECTORIES")}};
  ClientOptions co;
  co.server = url;
  co.token = secret;
  co.timeout = std::chrono::seconds(60);
  internal::HttpTransport transport(co);
  HookCall call{transport};
  auto answer = call.Post(phase, body);
  if (!answer.ok()) {
    io.err << "tuna: " << phase << ": " << answer.status().message() << "\n";
    return phase == "pre-receive" ? kExitError : kExitOk;
  }
  PrintLines(io, Str(*answer, "message"));
  if (phase == "pre-receive") {
    const auto* ok = answer->as_object().if_contains("ok");
    return ok && ok->is_bool() && ok->get_bool() ? kExitOk : kExitError;
  }
  bool nowait = false;
  for (const auto& o : options) nowait = nowait || o.as_string() == "nowait";
  const auto* watch = answer->as_object().if_contains("watch");
  if (watch == nullptr || !watch->is_array() || watch->get_array().empty()) return kExitOk;
  if (nowait) {
    io.err << "not waiting for the deploy (push option nowait)\n";
    return kExitOk;
  }
  const auto wait = std::chrono::seconds(std::max(0, std::atoi(Env(io, "TUNA_HOOK_WAIT_SECONDS").c_str())));
  for (const auto& item : watch->get_array()) Follow(io, call, item, wait);
  return kExitOk;
}

}  // namespace

int RunRepo(CommandContext& ctx) {
  const auto& p = ctx.args.positionals;
  if (p.empty()) return ctx.UsageError("repo needs a subcommand: create, list or delete");
  const std::string& sub = p[0];
  if (sub == "hook") {
    if (p.size() != 2 || (p[1] != "pre-receive" && p[1] != "post-receive")) {
      return ctx.UsageError("tuna repo hook pre-receive|post-receive");
    }
    return RunHook(ctx, p[1]);
  }
  const std::string& ns = ctx.config.namespace_;
  if (sub == "list") {
    if (p.size() != 1) return ctx.UsageError("tuna repo list takes no names");
    auto repos = ctx.client->ListRepositories(ns);
    if (!repos.ok()) return ctx.Fail(repos.status());
    if (repos->empty()) {
      ctx.io.err << "No repositories in namespace " << ns << ".\n";
      return kExitOk;
    }
    std::size_t width = 4;
    for (const auto& r : *repos) width = std::max(width, r.name.size());
    ctx.io.out << "NAME" << std::string(width - 4 + 3, ' ') << "URL\n";
    for (const auto& r : *repos) ctx.io.out << r.name << std::string(width - r.name.size() + 3, ' ') << r.url << "\n";
    return kExitOk;
  }
  if (sub != "create" && sub != "delete") return ctx.UsageError("unknown repo subcommand \"" + sub + "\": create, list or delete");
  if (p.size() < 2) return ctx.UsageError("tuna repo " + sub + " NAME...");
  int code = kExitOk;
  for (std::size_t i = 1; i < p.size(); ++i) {
    if (sub == "create") {
      auto made = ctx.client->CreateRepository(ns, p[i]);
      if (!made.ok()) {
        code = ctx.Fail(made.status(), "repository " + p[i]);
        continue;
      }
      ctx.io.out << "repository " << made->name << " created: " << made->url << "\n";
    } else {
      Status st = ctx.client->DeleteRepository(ns, p[i]);
      if (!st.ok()) {
        code = ctx.Fail(st, "repository " + p[i]);
        continue;
      }
      ctx.io.out << "repository " << p[i] << " deleted\n";
    }
  }
  return code;
}

}  // namespace tuna::cli
