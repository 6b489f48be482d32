// tuna::Server: data directory, admin token, store, REST API and the HTTP server in one object.

#include "tuna/server.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "api/api_handler.hpp"
#include "auth/agent_keys.hpp"
#include "core/ids.hpp"
#include "core/logging.hpp"
#include "core/metrics.hpp"
#include "net/http_server.hpp"
#include "net/status_response.hpp"
#include "gateway/a2a_endpoint.hpp"
#include "gateway/gateway.hpp"
#include "gateway/mcp_endpoint.hpp"
#include "gateway/memory_endpoint.hpp"
#include "server/key_routes.hpp"
#include "server/workload_routes.hpp"
#include "controllers/workloads.hpp"
#include "gitops/git_service.hpp"
#include "tuna/version.hpp"

namespace tuna {
namespace {

namespace fs = std::filesystem;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

Result<std::string> ReadToken(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Unavailable(Errno("read " + path.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) token.erase(0, 1);
  if (token.empty()) return FailedPrecondition(path.string() + " is empty; delete it to have a new token created");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    core::Logger()->warn("{} is readable by other users (mode {:o}); chmod 600 it", path.string(), st.st_mode & 0777);
  }
  return token;
}

// Loads <dir>/admin.token or creates it atomically: written to a private temp file (0600) and
// link()ed into place, so a concurrent starter either wins or reads the winner's token, and no
// reader ever sees a half-written file.
Result<std::string> LoadOrCreateToken(const fs::path& dir) {
  fs::path path = dir / "admin.token";
  if (fs::exists(path)) return ReadToken(path);
  std::string token = core::RandomHex(32);
  if (token.empty()) return Internal("could not read random bytes for the admin token");
  fs::path tmp = dir / (".admin.token." + core::RandomHex(8));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable(Errno("create " + tmp.string()));
  std::string text = token + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return Unavailable(Errno("write " + tmp.string()));
  }
  int rc = ::link(tmp.c_str(), path.c_str());
  int link_errno = errno;
  ::unlink(tmp.c_str());
  if (rc != 0) {
    if (link_errno == EEXIST) return ReadToken(path);
    errno = link_errno;
    return Unavailable(Errno("create " + path.string()));
  }
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);  // the new directory entry survives a crash
    ::close(dfd);
  }
  return token;
}

// The data dir holds the admin token and the database: private (0700) when we create it, and
// when it exists but is still empty (a caller such as `tuna server` may have just made it). A
// directory that already holds other files keeps the permissions its owner chose.
Status EnsureDataDir(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    if (!fs::is_empty(dir, ec) || ec) return {};
  } else {
    fs::create_directories(dir, ec);
    if (ec) return Unavailable("create data dir " + dir.string() + ": " + ec.message());
  }
  if (::chmod(dir.c_str(), 0700) != 0) return Unavailable(Errno("chmod 700 " + dir.string()));
  return {};
}

// tuna's runtimes: installed beside the binary, or the source tree's runtimes/ in a build tree.
std::string FindRuntimesDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  for (fs::path candidate : {exe.parent_path() / "../share/tuna/runtimes", exe.parent_path() / "../runtimes",
                             exe.parent_path() / "../../runtimes"}) {
    if (fs::exists(candidate / "python/worker.py", ec)) return fs::weakly_canonical(candidate, ec).string();
  }
  return "";
}

// The interpreter itself, never a pyenv shim: a shim costs ~100 ms on every worker start.
std::string FindPython() {
  FILE* p = ::popen("python3 -c 'import sys; print(sys.executable)' 2>/dev/null", "r");
  if (p == nullptr) return "";
  char buf[4096] = {0};
  std::string out;
  if (std::fgets(buf, sizeof buf, p) != nullptr) out = buf;
  ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// SIGINT/SIGTERM -> a byte on a pipe -> a thread that wakes Wait(). Only async-signal-safe work
// happens in the handler itself.
std::atomic<int> g_signal_pipe{-1};
extern "C" void OnStopSignal(int) {
  int fd = g_signal_pipe.load();
  if (fd >= 0) {
    char c = 's';
    [[maybe_unused]] auto n = ::write(fd, &c, 1);
  }
}

class TunaServer final : public Server {
 public:
  TunaServer(ServerOptions options, std::shared_ptr<Store> store, std::string token, net::ListenAddress listen,
             ArtifactStorePtr artifacts, std::unique_ptr<auth::AgentKeyStore> keys, session::SessionStorePtr sessions)
      : options_(std::move(options)), store_(std::move(store)), token_(std::move(token)), listen_(std::move(listen)),
        artifacts_(std::move(artifacts)), agent_keys_(keys.get()), keys_(std::move(keys)), key_routes_(*keys_),
        sessions_(std::move(sessions)) {
    registry_.AddGaugeCallback("tuna_store_objects", "Objects in the store.",
                               [s = store_] { return static_cast<double>(s->Stats().objects); });
    registry_.AddGaugeCallback("tuna_store_revision", "The store's current revision.",
                               [s = store_] { return static_cast<double>(s->Stats().revision); });
    registry_.AddGaugeCallback("tuna_store_watchers", "Open store watchers (API watches and controllers).",
                               [s = store_] { return static_cast<double>(s->Stats().watchers); });
    api::ApiOptions api_options;
    api_options.admin_token = token_;
    api_options.keys = keys_.get();
    api_options.max_watches = options_.max_watches;
    api_options.max_watch_duration = options_.max_watch_duration;
    api_options.metrics = &registry_;
    api_ = std::make_unique<api::ApiHandler>(*store_, std::move(api_options));

    net::HttpServerOptions http;
    http.io_threads = options_.io_threads;
    http.worker_threads = options_.worker_threads;
    http.max_body_bytes = std::max(options_.max_body_bytes, options_.max_git_push_bytes);
    http.max_header_bytes = options_.max_header_bytes;
    http.max_connections = options_.max_connections;
    http.read_timeout = options_.read_timeout;
    http.idle_timeout = options_.idle_timeout;
    http.handler_timeout = options_.request_timeout;
    http.max_stream_duration = std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_watch_duration);
    http.metrics = &registry_;
    // The gateway's MCP relay answers on the I/O threads; everything else goes to Handle().
    http.inline_handler = [this](const std::shared_ptr<net::HttpRequest>& req, const net::ResponderPtr& responder) {
      if (!gateway_ || req->body.size() > options_.max_body_bytes) return false;
      return gateway_->HandleInline(req, responder);
    };
    http_ = std::make_unique<net::HttpServer>(std::move(http), [this](net::HttpRequest& req) { return Handle(req); });
  }

  ~TunaServer() override { Stop(); }

  // The build/deploy pipeline: pool driver + controllers (separate from the constructor: fallible).
  Status MakePipeline() {
    if (!options_.run_controllers) return {};
    fs::path data(options_.data_dir);
    PoolDriverOptions pool;
    pool.work_dir = options_.pool_dir.empty() ? data / "pool" : fs::path(options_.pool_dir);
    pool.artifacts = artifacts_.get();
    pool.use_bubblewrap = options_.use_bubblewrap;
    pool.hidden_paths = {data};
    auto driver = MakePoolDriver(std::move(pool));
    if (!driver.ok()) return driver.status().WithContext("start the pool driver");
    TUNA_RETURN_IF_ERROR(drivers_.Register(std::move(*driver)));
    controllers::ControllerContext ctx;
    ctx.store = store_.get();
    ctx.drivers = &drivers_;
    ctx.events = &events_;
    ctx.runtimes_dir = options_.runtimes_dir.empty() ? FindRuntimesDir() : options_.runtimes_dir;
    ctx.python = options_.python.empty() ? FindPython() : options_.python;
    if (options_.serve_gateway) {
      // Deployed agents call the gateway as themselves: its URL and an invoke key of their
      // namespace per revision (src/auth/agent_keys.hpp, docs/auth.md "Agent keys").
      ctx.issue_agent_credentials = [this](const controllers::AgentRevision& r) -> Result<std::map<std::string, std::string>> {
        std::string url = WorkerGatewayUrl();
        if (url.empty()) return Unavailable("the server is not listening yet, so its URL for agents is unknown");
        TUNA_ASSIGN_OR_RETURN(auth::CreatedKey key, agent_keys_->Issue({r.namespace_, r.name, r.stage, r.revision}));
        return std::map<std::string, std::string>{{"TUNA_GATEWAY_URL", std::move(url)}, {"TUNA_API_KEY", std::move(key.token)}};
      };
      ctx.revoke_agent_credentials = [this](const controllers::AgentRevision& r) {
        agent_keys_->Revoke({r.namespace_, r.name, r.stage, r.revision});
      };
    }
    core::Logger()->info("runtimes: {} (python: {})", ctx.runtimes_dir.empty() ? "<none>" : ctx.runtimes_dir,
                         ctx.python.empty() ? "<none>" : ctx.python);
    TUNA_ASSIGN_OR_RETURN(controllers_, controllers::WorkloadControllers::Make(ctx));
    routes_ = std::make_unique<server::WorkloadRoutes>(*store_, *artifacts_, drivers_, controllers_.get(), &events_);
    return {};
  }

  // The git endpoint (src/gitops): repositories under <data_dir>/git, hooks calling back here.
  Status MakeGit() {
    if (!options_.serve_git) return {};
    gitops::GitServiceOptions git;
    git.root = options_.git_dir.empty() ? fs::path(options_.data_dir) / "git" : fs::path(options_.git_dir);
    git.store = store_.get();
    git.artifacts = artifacts_.get();
    git.server_url = [this] { return url(); };
    git.authenticate = [this](const net::HttpRequest& req) { return api_->Identify(req); };
    git.hook_binary = options_.git_hook_binary;
    if (const char* path = std::getenv("PATH"); path != nullptr && *path != '\0') git.path = path;
    git.max_push_bytes = std::max(options_.max_body_bytes, options_.max_git_push_bytes);
    git.request_timeout = options_.request_timeout;
    TUNA_ASSIGN_OR_RETURN(git_, gitops::GitService::Make(std::move(git)));
    return {};
  }

  // The gateway (src/gateway): A2A endpoints for agents, MCP endpoints for servers and tools.
  Status MakeGateway() {
    if (!options_.serve_gateway) return {};
    gateway::AgentEndpointOptions ao;
    ao.store = store_.get();
    ao.controllers = controllers_.get();
    ao.sessions = sessions_.get();
    ao.call_timeout = options_.agent_call_timeout;
    agents_ = std::make_unique<gateway::AgentEndpoints>(std::move(ao));
    gateway::McpEndpointOptions mo;
    mo.store = store_.get();
    mo.controllers = controllers_.get();
    // Secrets of HTTP tools: <data_dir>/secrets/<namespace>/<name>/<key>, read on every call.
    mo.secrets = [dir = fs::path(options_.data_dir) / "secrets"](const std::string& ns, const SecretKeyRef& ref) -> Result<std::string> {
      auto safe = [](const std::string& s) { return !s.empty() && s.size() <= 253 && s.find('/') == std::string::npos && s != "." && s != ".."; };
      if (!safe(ns) || !safe(ref.name) || !safe(ref.key)) return InvalidArgument("invalid secret reference " + ref.name + "/" + ref.key);
      fs::path file = dir / ns / ref.name / ref.key;
      std::ifstream in(file);
      if (!in) return NotFound("secret " + ref.name + " has no key " + ref.key + " in namespace " + ns + " (file " + file.string() + ")");
      std::stringstream ss;
      ss << in.rdbuf();
      std::string value = ss.str();
      while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
      return value;
    };
    mo.upstream = http_->upstream_client();
    mo.metrics = &registry_;
    mcps_ = std::make_unique<gateway::McpEndpoints>(std::move(mo));
    TUNA_RETURN_IF_ERROR(mcps_->Start());
    gateway::GatewayOptions go;
    go.keys = keys_.get();
    go.metrics = &registry_;
    go.allowed_hosts = options_.gateway_allowed_hosts;
    go.allowed_origins = options_.gateway_allowed_origins;
    go.default_rate_limit = options_.gateway_default_rate_limit;
    if (!options_.public_url.empty()) go.public_url = [url = options_.public_url] { return url; };
    go.a2a = agents_.get();
    go.mcp = mcps_.get();
    memories_ = std::make_unique<gateway::MemoryEndpoints>(*store_, *sessions_);
    go.memory = memories_.get();
    gateway_ = std::make_unique<gateway::Gateway>(std::move(go));
    registry_.AddGaugeCallback("tuna_gateway_agents", "Agent stages with a live A2A server in the gateway.",
                               [a = agents_.get()] { return static_cast<double>(a->size()); });
    registry_.AddGaugeCallback("tuna_gateway_mcp_sessions", "Open MCP client sessions on the gateway.",
                               [m = mcps_.get()] { return static_cast<double>(m->SessionCount()); });
    return {};
  }

  Status Start() override {
    std::lock_guard lock(mu_);
    if (started_) return FailedPrecondition("server already started");
    if (stopped_) return FailedPrecondition("server was stopped");
    if (controllers_) TUNA_RETURN_IF_ERROR(controllers_->Start());
    TUNA_RETURN_IF_ERROR(http_->Start(listen_.host, listen_.port));
    started_ = true;
    {
      std::lock_guard listen_lock(listen_mu_);
      listen_url_ = UrlLocked();
    }
    listen_cv_.notify_all();
    if (options_.install_signal_handlers) InstallSignals();
    ready_ = true;  // the store opened in Make(); the listener is up now
    core::Logger()->info("tuna server listening on {}", UrlLocked());
    return {};
  }

  void Wait() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return stopped_ || stop_requested_; });
    if (stopped_) return;
    lock.unlock();
    Stop();  // woken by a signal
  }

  void Stop() override {
    ready_ = false;
    // Concurrent callers wait inside call_once for the first, so Stop() returning means stopped.
    {
      std::lock_guard listen_lock(listen_mu_);
      listen_stopped_ = true;  // a controller waiting for the URL gives up now
    }
    listen_cv_.notify_all();
    std::call_once(stop_once_, [this] {
      http_->Stop();
      if (agents_) agents_->Shutdown();
      if (mcps_) mcps_->Shutdown();
      if (controllers_) controllers_->Stop();
      drivers_.ShutdownAll();
      RemoveSignals();
      std::lock_guard lock(mu_);
      stopped_ = true;
    });
    cv_.notify_all();
  }

  std::uint16_t port() const override { return http_->port(); }

  std::string url() const override {
    std::lock_guard lock(mu_);
    return UrlLocked();
  }

  const std::string& admin_token() const override { return token_; }
  Store& store() override { return *store_; }
  auth::KeyStore& keys() override { return *keys_; }

 private:
  // The gateway's URL as deployed agents reach it: --public-url when set, else the bound address.
  // The controllers start before the listener does, so a revision placed at startup waits here
  // (briefly) for the port; "" when the server stops first or never listens.
  std::string WorkerGatewayUrl() {
    if (!options_.public_url.empty()) {
      std::string url = options_.public_url;
      while (!url.empty() && url.back() == '/') url.pop_back();
      return url;
    }
    std::unique_lock lock(listen_mu_);
    listen_cv_.wait_for(lock, std::chrono::seconds(30), [this] { return !listen_url_.empty() || listen_stopped_; });
    return listen_url_;
  }

  std::string UrlLocked() const {
    std::string host = listen_.host;
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return "http://" + host + ":" + std::to_string(http_->port());
  }

  net::HttpResponse Handle(net::HttpRequest& req) {
    const std::string& path = req.path;
    auto text = [](int code, std::string body, std::string route) {
      net::HttpResponse r;
      r.status = code;
      r.content_type = "text/plain; charset=utf-8";
      r.body = std::move(body);
      r.route = std::move(route);
      return r;
    };
    if (path == "/healthz") return text(200, "ok\n", "/healthz");
    if (path == "/readyz") return ready_ ? text(200, "ok\n", "/readyz") : text(503, "not ready\n", "/readyz");
    if (path == "/metrics") {
      auto r = text(200, registry_.Expose(), "/metrics");
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      return r;
    }
    if (path == "/version") {
      Status auth = api_->Authenticate(req);
      net::HttpResponse r;
      if (!auth.ok()) {
        r = net::StatusResponse(auth, req.request_id);
      } else {
        boost::json::object o;
        o["version"] = TUNA_VERSION;
        r.body = boost::json::serialize(o);
      }
      r.route = "/version";
      return r;
    }
    // The transport admits bodies up to max_git_push_bytes; only git routes may use more than max_body_bytes.
    if (req.body.size() > options_.max_body_bytes && path.rfind("/git/", 0) != 0) {
      return net::StatusResponse(413, ResourceExhausted("request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes"),
                                 req.request_id);
    }
    if (gateway_) {
      if (auto r = gateway_->Handle(req)) return std::move(*r);
    }
    if (git_) {
      if (auto r = git_->Handle(req)) return std::move(*r);
    }
    if (path.rfind("/artifacts", 0) == 0 || path.rfind("/apis/", 0) == 0) {
      auto principal = api_->Identify(req);
      if (!principal.ok()) return net::StatusResponse(principal.status(), req.request_id);
      if (auto r = key_routes_.Handle(req, *principal)) return std::move(*r);
      if (routes_) {
        // Artifacts are content-addressed and shared: uploading needs write in some namespace,
        // downloading invoke. Namespaced sub-resources (logs, events, proxy) need invoke there.
        const auto& seg = req.segments;
        Status allowed;
        if (!seg.empty() && seg[0] == "artifacts") {
          if (static_cast<int>(principal->scope) < static_cast<int>(req.method == "POST" ? auth::Scope::kWrite : auth::Scope::kInvoke)) {
            allowed = PermissionDenied("API key \"" + principal->name + "\" has scope " + std::string(auth::ScopeName(principal->scope)) +
                                       "; uploading sources needs write");
          }
        } else if (seg.size() >= 8 && seg[3] == "namespaces") {
          allowed = principal->Check(seg[4], auth::Scope::kInvoke);
        }
        if (!allowed.ok()) return net::StatusResponse(allowed, req.request_id);
        if (auto r = routes_->Handle(req)) return std::move(*r);
      }
    }
    if (path == "/apis" || path.rfind("/apis/", 0) == 0) return api_->Handle(req);
    auto r = net::StatusResponse(NotFound("no such path " + path.substr(0, 200)), req.request_id);
    r.route = "other";
    return r;
  }

  void InstallSignals() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
      core::Logger()->warn("{}", Errno("signal pipe"));
      return;
    }
    int expected = -1;
    if (!g_signal_pipe.compare_exchange_strong(expected, fds[1])) {
      core::Logger()->warn("another tuna server in this process already handles SIGINT/SIGTERM");
      ::close(fds[0]);
      ::close(fds[1]);
      return;
    }
    // The handler's end stays non-blocking; the reader blocks.
    ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) & ~O_NONBLOCK);
    signal_read_fd_ = fds[0];
    signal_write_fd_ = fds[1];
    struct sigaction sa {};
    sa.sa_handler = OnStopSignal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
    signal_thread_ = std::thread([this] {
      for (;;) {
        char c = 0;
        ssize_t n = ::read(signal_read_fd_, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (c == 'q' || n <= 0) return;  // RemoveSignals() asks the thread to exit
        core::Logger()->info("tuna server: stop signal received");
        {
          std::lock_guard lock(mu_);
          stop_requested_ = true;
        }
        cv_.notify_all();
        return;
      }
    });
  }

  void RemoveSignals() {
    if (signal_write_fd_ < 0) return;
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    g_signal_pipe.store(-1);
    char q = 'q';
    [[maybe_unused]] auto n = ::write(signal_write_fd_, &q, 1);
    if (signal_thread_.joinable()) signal_thread_.join();
    ::close(signal_read_fd_);
    ::close(signal_write_fd_);
    signal_read_fd_ = signal_write_fd_ = -1;
  }

  ServerOptions options_;
  std::shared_ptr<Store> store_;
  std::string token_;
  net::ListenAddress listen_;
  metrics::Registry registry_;
  std::unique_ptr<api::ApiHandler> api_;
  ArtifactStorePtr artifacts_;
  auth::AgentKeyStore* agent_keys_;  // keys_, with the agent keys
  auth::KeyStorePtr keys_;
  server::KeyRoutes key_routes_;
  session::SessionStorePtr sessions_;
  std::unique_ptr<gateway::AgentEndpoints> agents_;
  std::unique_ptr<gateway::McpEndpoints> mcps_;
  std::unique_ptr<gateway::MemoryEndpoints> memories_;
  std::unique_ptr<gateway::Gateway> gateway_;
  DriverRegistry drivers_;
  EventRecorder events_;
  std::unique_ptr<controllers::WorkloadControllers> controllers_;
  std::unique_ptr<server::WorkloadRoutes> routes_;
  std::unique_ptr<gitops::GitService> git_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool stopped_ = false;
  bool stop_requested_ = false;
  std::once_flag stop_once_;
  std::mutex listen_mu_;
  std::condition_variable listen_cv_;
  std::string listen_url_;  // set once listening
  bool listen_stopped_ = false;
  std::atomic<bool> ready_{false};
  int signal_read_fd_ = -1;
  int signal_write_fd_ = -1;
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
  std::thread signal_thread_;
  // Last: stopped and destroyed first, while the API and store it calls are still alive.
  std::unique_ptr<net::HttpServer> http_;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::Make(ServerOptions options) {
  try {
    TUNA_ASSIGN_OR_RETURN(auto listen, net::ParseListenAddress(options.listen));
    std::shared_ptr<Store> store = options.store;
    std::string token = options.admin_token;
    fs::path dir(options.data_dir);
    if (!store || token.empty()) TUNA_RETURN_IF_ERROR(EnsureDataDir(dir));
    if (token.empty()) {
      TUNA_ASSIGN_OR_RETURN(token, LoadOrCreateToken(dir));
    }
    if (!store) {
      SqliteStoreOptions so;
      so.path = (dir / "tuna.db").string();
      auto opened = MakeSqliteStore(so);
      if (!opened.ok()) return opened.status().WithContext("open store " + so.path);
      store = std::shared_ptr<Store>(std::move(*opened));
    }
    ArtifactStorePtr artifacts;
    if (options.run_controllers) {
      if (options.artifacts_s3) {
        auto made = MakeS3ArtifactStore(*options.artifacts_s3);
        if (!made.ok()) return made.status().WithContext("S3 artifact store");
        artifacts = std::move(*made);
      } else {
        fs::path adir = options.artifacts_dir.empty() ? dir / "artifacts" : fs::path(options.artifacts_dir);
        auto made = MakeLocalArtifactStore({adir});
        if (!made.ok()) return made.status().WithContext("open artifact store " + adir.string());
        artifacts = std::move(*made);
      }
    }
    auth::KeyStoreOptions key_options;
    key_options.admin_token = token;
    if (!options.keys_path.empty()) {
      key_options.path = options.keys_path;
    } else if (!options.store || options.admin_token.empty()) {
      key_options.path = dir / "keys.db";
    }
    auto user_keys = auth::MakeKeyStore(std::move(key_options));
    if (!user_keys.ok()) return user_keys.status();
    auto keys = std::make_unique<auth::AgentKeyStore>(std::move(*user_keys));
    Result<session::SessionStorePtr> sessions = Unavailable("no session store");
    if (!options.sessions_path.empty() || !options.store || options.admin_token.empty()) {
      session::SqliteSessionStoreOptions so;
      so.path = options.sessions_path.empty() ? dir / "sessions.db" : fs::path(options.sessions_path);
      sessions = session::MakeSqliteSessionStore(std::move(so));
      if (!sessions.ok()) return sessions.status().WithContext("open session store " + so.path.string());
    } else {
      sessions = session::MakeMemorySessionStore();
      if (!sessions.ok()) return sessions.status();
    }
    auto server = std::make_unique<TunaServer>(std::move(options), std::move(store), std::move(token), std::move(listen),
                                               std::move(artifacts), std::move(keys), std::move(*sessions));
    TUNA_RETURN_IF_ERROR(server->MakePipeline());
    TUNA_RETURN_IF_ERROR(server->MakeGit());
    TUNA_RETURN_IF_ERROR(server->MakeGateway());
    return std::unique_ptr<Server>(std::move(server));
  } catch (const std::exception& e) {
    return Internal(std::string("server: ") + e.what());
  }
}

}  // namespace tuna
