#pragma once
/// Server: the embeddable all-in-one (API server now; controllers, gateway and git endpoint as
/// they land), built straight from ServerOptions.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tuna/artifacts.hpp"
#include "tuna/auth.hpp"
#include "tuna/status.hpp"
#include "tuna/store.hpp"

namespace tuna {

struct ServerOptions {
  std::string data_dir = "./tuna-data";   // SQLite store, admin token, artifacts
  std::string listen = "127.0.0.1:7070";  // host:port; port 0 picks a free port
  /// When set, used instead of opening <data_dir>/tuna.db (tests, embedding).
  std::shared_ptr<Store> store;
  /// When non-empty, the admin token; otherwise read from or created in <data_dir>/admin.token.
  std::string admin_token;
  /// API keys (tuna/auth.hpp) live in this SQLite file; default <data_dir>/keys.db. When `store`
  /// and `admin_token` are both given and this is empty, keys live in memory.
  std::string keys_path;
  std::size_t io_threads = 2;
  std::size_t worker_threads = 4;          // handler threads (store I/O)
  /// Threads of the gateway's own lane: A2A and MCP calls wait for agents and tools here, never on
  /// the handler threads above. One endpoint gets at most 3/4 of them (503 beyond).
  std::size_t gateway_threads = 64;
  std::size_t max_body_bytes = 4 << 20;    // 413 beyond
  std::size_t max_header_bytes = 16 << 10; // 431 beyond
  std::size_t max_connections = 1024;      // 503 beyond
  std::size_t max_watches = 256;           // concurrent watch streams; 429 beyond
  std::chrono::milliseconds read_timeout{30000};     // whole request must arrive within this
  std::chrono::milliseconds idle_timeout{60000};     // keep-alive connection closed after this idle
  std::chrono::milliseconds request_timeout{60000};  // unary handler budget
  std::chrono::seconds max_watch_duration{1800};     // a watch stream ends after this
  /// Wait() also returns (after stopping the server) on SIGINT/SIGTERM. Off by default: an
  /// embedding program usually owns its signals.
  bool install_signal_handlers = false;
  /// Runs the build/deploy controllers with the local pool driver (off: API only).
  bool run_controllers = true;
  /// Artifact store directory; default <data_dir>/artifacts.
  std::string artifacts_dir;
  /// When set, artifacts (snapshots, build outputs) live in this S3 bucket instead.
  std::optional<S3ArtifactStoreOptions> artifacts_s3;
  /// Pool driver work directory; default <data_dir>/pool.
  std::string pool_dir;
  /// Sandbox builds and workers with bubblewrap when /usr/bin/bwrap exists.
  bool use_bubblewrap = true;
  /// Where tuna's runtimes live (runtimes/python/worker.py ...). Default: next to the binary
  /// (<bindir>/../share/tuna/runtimes when installed, <source>/runtimes in a build tree).
  std::string runtimes_dir;
  /// The Python interpreter for python* runtimes. Default: the real path behind `python3` on PATH.
  std::string python;
  /// Serves git smart HTTP at /git/{namespace}/{repo}.git and the repositories API (docs/gitops.md).
  bool serve_git = true;
  /// Bare repositories; default <data_dir>/git.
  std::string git_dir;
  /// Largest request body a git route accepts (a push's pack). 0: max_body_bytes. Raising it
  /// raises what the HTTP layer buffers for any request before it is authenticated; other routes
  /// still answer 413 beyond max_body_bytes.
  std::size_t max_git_push_bytes = 0;
  /// The `tuna` binary git hooks run; default: this process's executable (docs/gitops.md).
  std::string git_hook_binary;

  // ---- gateway (docs/gateway.md) ----
  /// Serves /a2a/... and /mcp/... (A2A and MCP for every deployed agent and tool).
  bool serve_gateway = true;
  /// Host names the gateway accepts (no port; "*": any). Empty: localhost names only.
  std::vector<std::string> gateway_allowed_hosts;
  /// Browser origins the gateway accepts ("https://app.example.com", "*"). Empty: localhost only.
  std::vector<std::string> gateway_allowed_origins;
  /// The URL clients reach this server under, for agent cards. Empty: from each request's Host.
  std::string public_url;
  /// Rate limit for API keys that carry none (per_second 0: unlimited).
  auth::RateLimit gateway_default_rate_limit;
  /// A2A tasks, MCP sessions and agent memory live in this SQLite file; default
  /// <data_dir>/sessions.db. When `store` and `admin_token` are given and this is empty: memory.
  std::string sessions_path;
  /// How long one call to a deployed agent (one message) may take.
  std::chrono::seconds agent_call_timeout{600};
};

class Server {
 public:
  virtual ~Server() = default;
  /// Builds a server (opens the store, loads or creates the admin token) without listening.
  static Result<std::unique_ptr<Server>> Make(ServerOptions options);
  /// Binds and starts serving in background threads; returns once the port is bound.
  virtual Status Start() = 0;
  /// Blocks until Stop() is called or SIGINT/SIGTERM arrives (when install_signal_handlers).
  virtual void Wait() = 0;
  /// Stops listening, ends watches and drains in-flight requests. Idempotent; safe from any
  /// thread except the server's own handler threads.
  virtual void Stop() = 0;
  /// The bound port (after Start).
  virtual std::uint16_t port() const = 0;
  /// "http://127.0.0.1:PORT"
  virtual std::string url() const = 0;
  virtual const std::string& admin_token() const = 0;
  virtual Store& store() = 0;
  /// The API keys (create keys for tenants programmatically).
  virtual auth::KeyStore& keys() = 0;
};
using ServerPtr = std::unique_ptr<Server>;

}  // namespace tuna
