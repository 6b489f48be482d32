// `tuna server`: runs tuna::Server until SIGINT/SIGTERM.

#include <pthread.h>
#include <signal.h>

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <thread>

#include "cli/command.hpp"
#include "cli/exit_codes.hpp"
#include "tuna/server.hpp"

namespace tuna::cli {
namespace fs = std::filesystem;

int RunServer(CommandContext& ctx) {
  if (!ctx.args.positionals.empty()) {
    return ctx.UsageError("unexpected argument \"" + ctx.args.positionals.front() + "\"");
  }
  ServerOptions options;
  if (ctx.args.Has("data-dir")) options.data_dir = ctx.args.Value("data-dir");
  if (ctx.args.Has("listen")) options.listen = ctx.args.Value("listen");
  if (ctx.args.Has("api-only")) options.run_controllers = false;
  if (ctx.args.Has("no-bubblewrap")) options.use_bubblewrap = false;
  options.gateway_allowed_hosts = ctx.args.Values("allowed-host");
  options.gateway_allowed_origins = ctx.args.Values("allowed-origin");
  options.public_url = ctx.args.Value("public-url");
  if (ctx.args.Has("rate-limit")) {
    std::string rate = ctx.args.Value("rate-limit");
    char* end = nullptr;
    double n = std::strtod(rate.c_str(), &end);
    if (rate.empty() || end == nullptr || *end != '\0' || n < 0) {
      return ctx.UsageError("--rate-limit takes a non-negative number of requests per second, got \"" + rate + "\"");
    }
    options.gateway_default_rate_limit.per_second = n;
  }
  for (auto [flag, field] : {std::pair{"io-threads", &options.io_threads}, std::pair{"worker-threads", &options.worker_threads}}) {
    if (!ctx.args.Has(flag)) continue;
    std::string text = ctx.args.Value(flag);
    char* end = nullptr;
    long n = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || end == nullptr || *end != '\0' || n < 1 || n > 256) {
      return ctx.UsageError(std::string("--") + flag + " takes a number of threads from 1 to 256, got \"" + text + "\"");
    }
    *field = static_cast<std::size_t>(n);
  }
  if (ctx.args.Has("artifacts")) {
    std::string where = ctx.args.Value("artifacts");
    if (where.rfind("s3://", 0) != 0 || where.size() <= 5) {
      return ctx.UsageError("--artifacts takes s3://BUCKET[/PREFIX], got \"" + where + "\"");
    }
    std::string rest = where.substr(5);
    S3ArtifactStoreOptions s3;
    auto slash = rest.find('/');
    s3.bucket = rest.substr(0, slash);
    if (slash != std::string::npos) {
      s3.prefix = rest.substr(slash + 1);
      if (!s3.prefix.empty() && s3.prefix.back() != '/') s3.prefix += '/';
    }
    auto env = [&](const char* name) { return ctx.io.env ? ctx.io.env(name).value_or("") : std::string(); };
    s3.region = ctx.args.Value("s3-region", env("AWS_REGION").empty() ? "us-east-1" : env("AWS_REGION"));
    s3.endpoint = ctx.args.Value("s3-endpoint", "https://s3." + s3.region + ".amazonaws.com");
    s3.access_key = env("AWS_ACCESS_KEY_ID");
    s3.secret_key = env("AWS_SECRET_ACCESS_KEY");
    s3.session_token = env("AWS_SESSION_TOKEN");
    options.artifacts_s3 = std::move(s3);
  }
  std::string level = ctx.args.Value("log-level", "info");
  auto parsed_level = spdlog::level::from_str(level);
  if (parsed_level == spdlog::level::off && level != "off") {
    return ctx.UsageError("unknown log level \"" + level + "\" (trace, debug, info, warn, error, critical, off)");
  }
  spdlog::set_level(parsed_level);

  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  if (ec) return ctx.Fail(Internal("cannot create data directory " + options.data_dir + ": " + ec.message()));
  std::string token_file = fs::absolute(fs::path(options.data_dir) / "admin.token", ec).lexically_normal().string();

  // Block the stop signals before any server thread starts, so they all inherit the mask and one
  // waiter thread receives them with sigwait (no async-signal-safety concerns in Stop()).
  sigset_t signals, old_mask;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);  // internal: wakes the waiter when the server stops by itself
  pthread_sigmask(SIG_BLOCK, &signals, &old_mask);
  struct RestoreMask {
    sigset_t mask;
    ~RestoreMask() { pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
  } restore{old_mask};

  auto server = Server::Make(options);
  if (!server.ok()) return ctx.Fail(server.status(), "cannot start the server");
  Status started = (*server)->Start();
  if (!started.ok()) return ctx.Fail(started, "cannot start the server on " + options.listen);

  std::string url = (*server)->url();
  ctx.io.out << "tuna server listening on " << url << "\n";
  ctx.io.out << "admin token file: " << token_file << "\n";
  std::string config_path = DefaultConfigPath(ctx.io.env);
  auto wrote = WriteConfigIfMissing(config_path, url, token_file);
  if (!wrote.ok()) {
    ctx.io.err << "warning: could not write the client config: " << wrote.status().message() << "\n";
  } else if (*wrote) {
    ctx.io.out << "client config written to " << config_path << "\n";
  } else if (!config_path.empty()) {
    ctx.io.out << "client config " << config_path << " exists; left unchanged\n";
  }
  ctx.io.out << "press Ctrl-C to stop\n";
  ctx.io.out.flush();

  Server* s = server->get();
  int received = 0;
  std::thread waiter([&] {
    int sig = 0;
    if (sigwait(&signals, &sig) == 0) received = sig;
    if (sig != SIGUSR1) s->Stop();
  });
  s->Wait();
  if (received == 0) pthread_kill(waiter.native_handle(), SIGUSR1);
  waiter.join();
  s->Stop();
  ctx.io.out << "tuna server stopped\n";
  ctx.io.out.flush();
  return kExitOk;
}

}  // namespace tuna::cli
