// `tuna key create|list|delete`: API keys of a namespace (docs/auth.md).

#include <iomanip>
#include <sstream>

#include "cli/command.hpp"
#include "cli/exit_codes.hpp"
#include "tuna/resources/object.hpp"

namespace tuna::cli {
namespace {

// "90s", "15m", "24h", "30d" or plain seconds.
Result<std::chrono::seconds> ParseDuration(const std::string& text) {
  if (text.empty()) return InvalidArgument("--ttl: empty duration");
  std::size_t end = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &end);
  } catch (...) {
    return InvalidArgument("--ttl: \"" + text + "\" is not a duration (e.g. 3600, 90m, 24h, 30d)");
  }
  std::string unit = text.substr(end);
  long long scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 0;
  if (scale == 0 || n <= 0) return InvalidArgument("--ttl: \"" + text + "\" is not a positive duration (e.g. 3600, 90m, 24h, 30d)");
  return std::chrono::seconds(n * scale);
}

Result<double> ParseRate(const std::string& flag, const std::string& text) {
  try {
    std::size_t end = 0;
    double d = std::stod(text, &end);
    if (end == text.size() && d >= 0) return d;
  } catch (...) {
  }
  return InvalidArgument("--" + flag + ": \"" + text + "\" is not a non-negative number");
}

std::string Age(std::chrono::system_clock::time_point t) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - t).count();
  if (s < 120) return std::to_string(std::max<long long>(s, 0)) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

}  // namespace

int RunKey(CommandContext& ctx) {
  const auto& p = ctx.args.positionals;
  if (p.empty()) return ctx.UsageError("key needs a subcommand: create, list or delete");
  const std::string& sub = p[0];
  const std::string& ns = ctx.config.namespace_;
  if (sub == "list") {
    if (p.size() != 1) return ctx.UsageError("tuna key list takes no names");
    auto keys = ctx.client->ListApiKeys(ns);
    if (!keys.ok()) return ctx.Fail(keys.status());
    if (keys->empty()) {
      ctx.io.err << "No API keys in namespace " << ns << ".\n";
      return kExitOk;
    }
    std::size_t width = 4;
    for (const auto& k : *keys) width = std::max(width, k.name.size());
    ctx.io.out << std::left << std::setw(static_cast<int>(width + 3)) << "NAME" << std::setw(15) << "ID" << std::setw(9)
               << "SCOPE" << std::setw(14) << "RATE" << "AGE\n";
    for (const auto& k : *keys) {
      std::ostringstream rate;
      if (k.rate_limit.per_second > 0) {
        rate << k.rate_limit.per_second << "/s";
      } else {
        rate << "-";
      }
      ctx.io.out << std::left << std::setw(static_cast<int>(width + 3)) << k.name << std::setw(15) << k.id << std::setw(9)
                 << auth::ScopeName(k.scope) << std::setw(14) << rate.str() << Age(k.created) << "\n";
    }
    return kExitOk;
  }
  if (sub == "create") {
    if (p.size() != 2) return ctx.UsageError("tuna key create NAME [--scope invoke|write|admin] [--rate N] [--burst N] [--ttl 24h]");
    auth::CreateKeyRequest request;
    request.namespace_ = ns;
    request.name = p[1];
    auto scope = auth::ParseScope(ctx.args.Value("scope", "invoke"));
    if (!scope.ok()) return ctx.Fail(InvalidArgument("--" + scope.status().message()));
    request.scope = *scope;
    if (ctx.args.Has("rate")) {
      std::string rate = ctx.args.Value("rate");
      auto r = ParseRate("rate", rate);
      if (!r.ok()) return ctx.Fail(r.status());
      request.rate_limit.per_second = *r;
    }
    if (ctx.args.Has("burst")) {
      std::string burst = ctx.args.Value("burst");
      auto b = ParseRate("burst", burst);
      if (!b.ok()) return ctx.Fail(b.status());
      request.rate_limit.burst = *b;
    }
    if (ctx.args.Has("ttl")) {
      std::string ttl = ctx.args.Value("ttl");
      auto d = ParseDuration(ttl);
      if (!d.ok()) return ctx.Fail(d.status());
      request.ttl = *d;
    }
    auto made = ctx.client->CreateApiKey(request);
    if (!made.ok()) return ctx.Fail(made.status(), "API key " + request.name);
    ctx.io.err << "API key " << made->info.name << " created in namespace " << made->info.namespace_ << " (scope "
               << auth::ScopeName(made->info.scope) << "). It is shown only now:\n";
    ctx.io.out << made->token << "\n";
    return kExitOk;
  }
  if (sub == "delete") {
    if (p.size() < 2) return ctx.UsageError("tuna key delete NAME...");
    int code = kExitOk;
    for (std::size_t i = 1; i < p.size(); ++i) {
      Status st = ctx.client->DeleteApiKey(ns, p[i]);
      if (!st.ok()) {
        code = ctx.Fail(st, "API key " + p[i]);
        continue;
      }
      ctx.io.out << "API key " << p[i] << " deleted\n";
    }
    return code;
  }
  return ctx.UsageError("unknown key subcommand \"" + sub + "\": create, list or delete");
}

}  // namespace tuna::cli
