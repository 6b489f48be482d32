#include "gitops/git_service.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "core/ids.hpp"
#include "core/logging.hpp"
#include "gitops/git_process.hpp"
#include "gitops/tuna_yaml.hpp"
#include "net/status_response.hpp"
#include "tuna/admission.hpp"
#include "tuna/resources/codec.hpp"

namespace tuna::gitops {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view kZeroId = "0000000000000000000000000000000000000000";
constexpr std::string_view kRepoLabel = "tuna.ai/repository";
const std::string kApiPrefix = "/apis/tuna.ai/v1alpha1/namespaces/";

// The hooks: fixed text (nothing from a request), exec'ing the tuna binary named by the
// environment the server gives `git http-backend`.
constexpr std::string_view kPreReceiveHook = R"HOOK(#!/bin/sh
# Installed by tuna: the tuna server that serves this repository validates the pushed tuna.yaml.
if [ -z "$TUNA_HOOK_BINARY" ]; then
  echo "tuna: push through the tuna server's git endpoint (/git/NAMESPACE/REPO.git)" >&2
  exit 1
fi
exec "$TUNA_HOOK_BINARY" repo hook pre-receive
)HOOK";
constexpr std::string_view kPostReceiveHook = R"HOOK(#!/bin/sh
# Installed by tuna: snapshots the pushed commits and deploys them (staging for branches,
# production for tags matching tuna.yaml's tagPattern).
if [ -z "$TUNA_HOOK_BINARY" ]; then
  exit 0
fi
exec "$TUNA_HOOK_BINARY" repo hook post-receive
)HOOK";
// receive.denyNonFastForwards stays false: a force push of an older commit is how a branch (and
// so staging) is rolled back. Concurrent plain pushes are still refused as non-fast-forward by
// the client ("fetch first") or by the ref lock on the server.
constexpr std::string_view kRepoConfig = R"([receive]
	denyNonFastForwards = false
	denyDeletes = false
	advertisePushOptions = true
	fsckObjects = true
[http]
	receivepack = true
	uploadpack = true
[gc]
	autoDetach = false
)";

// A malformed name or body is 400 here (the API's 422 is for objects that fail admission).
net::HttpResponse Error(const Status& st, const net::HttpRequest& req, std::string route) {
  auto r = st.code() == StatusCode::kInvalidArgument ? net::StatusResponse(400, st, req.request_id)
                                                     : net::StatusResponse(st, req.request_id);
  r.route = std::move(route);
  return r;
}

net::HttpResponse Json(int status, const json::value& v, std::string route) {
  net::HttpResponse r;
  r.status = status;
  r.body = json::serialize(v);
  r.route = std::move(route);
  return r;
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

bool IsHexId(std::string_view s) {
  if (s.size() != 40 && s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::optional<std::string> Base64Decode(std::string_view in) {
  static const std::string kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    if (c == '=') break;
    auto pos = kChars.find(c);
    if (pos == std::string::npos) return std::nullopt;
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

std::string StrAt(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto key : path) {
    if (!cur->is_object()) return "";
    cur = cur->get_object().if_contains(key);
    if (cur == nullptr) return "";
  }
  return cur->is_string() ? std::string(cur->get_string()) : "";
}

struct RefUpdate {
  std::string old_id;
  std::string new_id;
  std::string ref;
};

// What one accepted ref update deploys.
struct Plan {
  TunaYaml yaml;
  std::string stage;      // "staging" | "production"; empty for HTTP tools (no stages)
  std::string ref;        // as pushed ("refs/heads/main", "refs/tags/v1")
  std::string commit;     // the commit to snapshot
  json::object document;  // http-tool: the OpenAPI document read from the commit
};

// One object a plan writes, and whether it already exists.
struct Write {
  Resource obj;
  bool exists = false;
};

// Prefixes every line of `text` (multi-line problem lists keep their ref on each line).
std::string PrefixLines(const std::string& prefix, const std::string& text) {
  std::string out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) out += (out.empty() ? "" : "\n") + prefix + line;
  return out;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The dry run of a push: reads see the objects the push would write before it writes anything,
// so the admission of each write checks its references (a binding's agent, the deployment's
// environment) against the state the whole push leads to. Writes are refused.
class OverlayStore final : public Store {
 public:
  explicit OverlayStore(Store& base) : base_(base) {}
  void Put(const Resource& r) { planned_[{r.kind, r.metadata.namespace_, r.metadata.name}] = r; }

  Result<Resource> Get(const ObjectKey& key) override {
    auto it = planned_.find({key.kind, key.namespace_, key.name});
    if (it != planned_.end()) return it->second;
    return base_.Get(key);
  }
  Result<ResourceList> List(const ListOptions& options) override { return base_.List(options); }
  Result<Resource> Create(Resource) override { return Internal("dry run: no writes"); }
  Result<Resource> Update(Resource, UpdateOptions) override { return Internal("dry run: no writes"); }
  Result<Resource> Patch(const ObjectKey&, std::string_view, UpdateOptions) override {
    return Internal("dry run: no writes");
  }
  Result<Resource> Delete(const ObjectKey&, DeleteOptions) override { return Internal("dry run: no writes"); }
  Result<WatchPtr> Watch(const WatchOptions&) override { return Unimplemented("dry run: no watches"); }
  StoreStats Stats() override { return base_.Stats(); }

 private:
  Store& base_;
  std::map<std::tuple<std::string, std::string, std::string>, Resource> planned_;
};

// One `git http-backend` run whose stdout is streamed to the client while it is produced. The
// child runs on its own thread (RunCgi); the handler waits only for the CGI header block, answers
// with a streamed response, and the thread hands the body to the StreamWriter within its bound
// (waiting for OnWritable when full). Memory per run: at most kMaxPending bytes here plus the
// writer's own bound.
struct CgiRun {
  static constexpr std::size_t kMaxHeaderBytes = 64 << 10;
  static constexpr std::size_t kMaxPending = 256 << 10;
  static constexpr std::chrono::seconds kWriterWait{30};

  std::mutex mu;
  std::condition_variable cv;
  std::atomic<bool> cancel{false};
  std::atomic<bool> done{false};
  std::chrono::steady_clock::time_point deadline;
  // Until the header block is complete.
  std::string head_buf;
  bool headers_ready = false;
  bool bad_headers = false;  // no blank line within kMaxHeaderBytes
  std::string head;
  std::chrono::steady_clock::time_point headers_at;
  // The body not yet handed to the writer.
  std::string pending;
  net::StreamWriterPtr writer;
  bool abandoned = false;  // no one reads any more (error answered, client gone): discard output
  // The child's end.
  bool finished = false;
  Status error;
  int exit_code = -1;
  std::string err_text;

  bool Stopping() const { return cancel.load() || std::chrono::steady_clock::now() >= deadline; }

  // stdout of the child, on the run's thread.
  void Consume(std::string&& bytes) {
    std::unique_lock lk(mu);
    if (!headers_ready && !bad_headers) {
      head_buf += bytes;
      std::size_t end = head_buf.find("\r\n\r\n");
      std::size_t skip = 4;
      if (std::size_t lf = head_buf.find("\n\n"); lf != std::string::npos && (end == std::string::npos || lf < end)) {
        end = lf;
        skip = 2;
      }
      if (end == std::string::npos) {
        if (head_buf.size() > kMaxHeaderBytes) {
          bad_headers = true;
          abandoned = true;
          head_buf.clear();
          cv.notify_all();
        }
        return;
      }
      head = head_buf.substr(0, end);
      pending = head_buf.substr(end + skip);
      head_buf.clear();
      headers_ready = true;
      headers_at = std::chrono::steady_clock::now();
      cv.notify_all();
    } else if (abandoned) {
      return;
    } else {
      pending += bytes;
    }
    Drain(lk, /*all=*/false);
  }

  // Hands pending bytes to the writer, never more than its free room. Blocks (releasing the
  // lock) while the writer is missing or full and either `all` is set or pending is over its bound.
  void Drain(std::unique_lock<std::mutex>& lk, bool all) {
    while (!pending.empty() && !abandoned) {
      if (Stopping()) {
        abandoned = true;
        break;
      }
      if (!writer) {
        if (!all && pending.size() < kMaxPending) return;
        if (headers_ready && std::chrono::steady_clock::now() - headers_at > kWriterWait) {
          abandoned = true;  // the response never started (connection gone before its headers)
          break;
        }
        cv.wait_for(lk, std::chrono::milliseconds(100));
        continue;
      }
      if (writer->closed()) {
        abandoned = true;  // the client went away: keep the child running to its end, discard
        break;
      }
      const std::size_t used = writer->buffered();
      const std::size_t cap = writer->capacity();
      const std::size_t room = used < cap ? cap - used : 0;
      if (room == 0 || (room < pending.size() && room < cap / 4)) {
        if (!all && pending.size() < kMaxPending) return;
        cv.wait_for(lk, std::chrono::milliseconds(100));  // OnWritable / OnClose notify
        continue;
      }
      const std::size_t n = std::min(room, pending.size());
      std::string chunk = pending.substr(0, n);
      pending.erase(0, n);
      // Sent under the lock (Send never blocks), so chunks keep their order with TrySend's.
      if (!writer->Send(std::move(chunk))) abandoned = true;
    }
    if (abandoned) pending.clear();
  }

  // Non-blocking: sends what fits now. Called when the stream starts and when the writer drained
  // (on the I/O thread), so bytes that arrived before do not wait for the child's next output.
  void TrySend() {
    std::unique_lock lk(mu);
    while (writer && !abandoned && !pending.empty() && !writer->closed()) {
      const std::size_t used = writer->buffered();
      const std::size_t cap = writer->capacity();
      if (used >= cap) break;
      const std::size_t n = std::min(cap - used, pending.size());
      std::string chunk = pending.substr(0, n);
      pending.erase(0, n);
      if (!writer->Send(std::move(chunk))) abandoned = true;
    }
    cv.notify_all();
  }

  // After the child ended: the rest of the body, then the end of the stream.
  void Finish() {
    std::unique_lock lk(mu);
    if (headers_ready && !abandoned) {
      Drain(lk, /*all=*/true);
      // A body-less answer still needs the writer to end the response.
      while (!writer && !abandoned && !Stopping() && std::chrono::steady_clock::now() - headers_at < kWriterWait) {
        cv.wait_for(lk, std::chrono::milliseconds(100));
      }
    }
    net::StreamWriterPtr w = std::move(writer);
    writer.reset();
    lk.unlock();
    if (w) w->Close();
  }
};

}  // namespace

class GitService::Impl {
 public:
  explicit Impl(GitServiceOptions o) : options_(std::move(o)), secret_(core::RandomHex(32)) {}

  // Running children are killed (their streams end) and their threads joined.
  ~Impl() {
    std::list<std::pair<std::thread, std::shared_ptr<CgiRun>>> runs;
    {
      std::lock_guard lock(runs_mu_);
      stopping_ = true;
      runs.swap(runs_);
    }
    for (auto& [thread, run] : runs) {
      run->cancel = true;
      run->cv.notify_all();
    }
    for (auto& [thread, run] : runs) {
      if (thread.joinable()) thread.join();
    }
  }

  Status Init() {
    // Created with the first repository: an API-only embedding leaves no git directory behind.
    std::error_code ec;
    options_.root = fs::weakly_canonical(fs::absolute(options_.root, ec), ec);
    if (ec) return Unavailable("resolve " + options_.root.string() + ": " + ec.message());
    if (secret_.empty()) return Internal("could not read random bytes for the git hook secret");
    if (options_.hook_binary.empty()) options_.hook_binary = fs::read_symlink("/proc/self/exe", ec).string();
    return {};
  }

  std::optional<net::HttpResponse> Handle(net::HttpRequest& req) {
    const auto& s = req.segments;
    if (!s.empty() && s[0] == "git") return GitHttp(req);
    if (s.size() >= 3 && s[0] == "internal" && s[1] == "git") return Hook(req);
    if (s.size() >= 6 && s.size() <= 7 && s[0] == "apis" && s[1] == "tuna.ai" && s[2] == "v1alpha1" &&
        s[3] == "namespaces" && s[5] == "repositories") {
      return Repositories(req);
    }
    return std::nullopt;
  }

 private:
  // ---- paths -----------------------------------------------------------------------------------

  // The repository directory; InvalidArgument unless both names are DNS labels (so no '.', '/',
  // ".." or NUL can reach the filesystem).
  Result<fs::path> RepoDir(const std::string& ns, const std::string& name) const {
    if (!IsDnsLabel(ns)) return InvalidArgument("invalid namespace \"" + ns.substr(0, 80) + "\": lower-case letters, digits and '-'");
    if (!IsDnsLabel(name)) {
      return InvalidArgument("invalid repository name \"" + name.substr(0, 80) +
                             "\": lower-case letters, digits and '-', at most 63, no dots or slashes");
    }
    return options_.root / ns / (name + ".git");
  }

  std::map<std::string, std::string> GitEnv(const fs::path& git_dir) const {
    std::map<std::string, std::string> env = {{"PATH", options_.path},
                                              {"HOME", options_.root.string()},
                                              {"GIT_CONFIG_NOSYSTEM", "1"},
                                              {"LC_ALL", "C"}};
    if (!git_dir.empty()) env["GIT_DIR"] = git_dir.string();
    return env;
  }

  Result<ChildResult> Git(const fs::path& git_dir, std::vector<std::string> args,
                          const std::map<std::string, std::string>& extra_env = {}) const {
    ChildSpec spec;
    spec.argv = {"git"};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = GitEnv(git_dir);
    for (const auto& [k, v] : extra_env) spec.env[k] = v;
    spec.cwd = git_dir.empty() ? options_.root : git_dir;
    spec.timeout = std::chrono::seconds(30);
    return RunChild(spec);
  }

  // ---- authentication ----------------------------------------------------------------------------

  // git sends Basic credentials (after a 401); the password is a tuna token. Bearer works too.
  Result<auth::Principal> AuthenticateGit(const net::HttpRequest& req, std::string& user) const {
    std::string_view auth = req.Header("Authorization");
    constexpr std::string_view kBasic = "basic ";
    if (auth.size() > kBasic.size() && std::equal(kBasic.begin(), kBasic.end(), auth.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      auto decoded = Base64Decode(Trim(std::string(auth.substr(kBasic.size()))));
      if (!decoded) return Unauthenticated("malformed Basic credentials");
      auto colon = decoded->find(':');
      if (colon == std::string::npos) return Unauthenticated("malformed Basic credentials");
      for (char c : decoded->substr(0, colon)) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '@') user.push_back(c);
      }
      net::HttpRequest bearer;
      bearer.headers.emplace_back("Authorization", "Bearer " + decoded->substr(colon + 1));
      return options_.authenticate(bearer);
    }
    user = "tuna";
    return options_.authenticate(req);
  }

  // ---- git smart HTTP ------------------------------------------------------------------------------

  net::HttpResponse GitHttp(net::HttpRequest& req) {
    const std::string route = "/git/{namespace}/{repo}.git";
    const auto& s = req.segments;
    std::string user;
    auto principal = AuthenticateGit(req, user);
    if (!principal.ok()) {
      net::HttpResponse r;
      r.status = 401;
      r.content_type = "text/plain; charset=utf-8";
      r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"tuna\"");
      r.body = principal.status().message() + "\n(use any user name and a tuna API key as the password)\n";
      r.route = route;
      return r;
    }
    if (user.empty()) user = "tuna";
    if (s.size() < 4) return Error(NotFound("use /git/{namespace}/{repo}.git"), req, route);
    const std::string& ns = s[1];
    std::string repo = s[2];
    if (repo.size() <= 4 || repo.compare(repo.size() - 4, 4, ".git") != 0) {
      return Error(NotFound("use /git/{namespace}/{repo}.git"), req, route);
    }
    repo.resize(repo.size() - 4);
    auto dir = RepoDir(ns, repo);
    if (!dir.ok()) return Error(dir.status(), req, route);
    std::string rest;
    for (std::size_t i = 3; i < s.size(); ++i) rest += (rest.empty() ? "" : "/") + s[i];
    // A push (its refs advertisement included) needs write; a clone or fetch needs invoke.
    bool push = rest == "git-receive-pack" || req.QueryOr("service") == "git-receive-pack";
    if (Status allowed = principal->Check(ns, push ? auth::Scope::kWrite : auth::Scope::kInvoke); !allowed.ok()) {
      net::HttpResponse r;
      r.status = 403;
      r.content_type = "text/plain; charset=utf-8";
      r.body = allowed.message() + (push ? " (pushing needs an API key with write scope)\n" : "\n");
      r.route = route;
      return r;
    }
    // Only the smart protocol: refs advertisement and the two services.
    if (rest != "info/refs" && rest != "git-upload-pack" && rest != "git-receive-pack" && rest != "HEAD") {
      return Error(NotFound("no such git path: " + rest.substr(0, 100)), req, route);
    }
    std::error_code ec;
    if (!fs::is_directory(*dir, ec)) {
      return Error(NotFound("repository " + ns + "/" + repo + " not found (create it: tuna repo create " + repo +
                            " -n " + ns + ")"),
                   req, route);
    }
    ChildSpec spec;
    spec.argv = {"git", "http-backend"};
    spec.env = GitEnv({});
    spec.cwd = options_.root;
    spec.env["GIT_PROJECT_ROOT"] = options_.root.string();
    spec.env["GIT_HTTP_EXPORT_ALL"] = "1";
    spec.env["GIT_HTTP_MAX_REQUEST_BUFFER"] = std::to_string(options_.max_push_bytes);
    spec.env["REQUEST_METHOD"] = req.method;
    spec.env["PATH_INFO"] = "/" + ns + "/" + repo + ".git/" + rest;
    auto q = req.target.find('?');
    spec.env["QUERY_STRING"] = q == std::string::npos ? "" : req.target.substr(q + 1);
    spec.env["CONTENT_TYPE"] = std::string(req.Header("Content-Type"));
    spec.env["CONTENT_LENGTH"] = std::to_string(req.body.size());
    spec.env["REMOTE_USER"] = user;
    spec.env["REMOTE_ADDR"] = req.remote_address;
    if (auto enc = req.Header("Content-Encoding"); !enc.empty()) spec.env["HTTP_CONTENT_ENCODING"] = std::string(enc);
    if (auto proto = req.Header("Git-Protocol"); !proto.empty()) spec.env["GIT_PROTOCOL"] = std::string(proto);
    // What the hooks need to reach this server.
    spec.env["TUNA_HOOK_URL"] = options_.server_url ? options_.server_url() : "";
    spec.env["TUNA_HOOK_SECRET"] = secret_;
    spec.env["TUNA_HOOK_BINARY"] = options_.hook_binary;
    spec.env["TUNA_GIT_NAMESPACE"] = ns;
    spec.env["TUNA_GIT_REPO"] = repo;
    spec.env["TUNA_HOOK_WAIT_SECONDS"] = std::to_string(WaitSeconds());
    spec.input = std::move(req.body);
    // The push runs past the handler (its output is streamed): bounded by the wait for the build
    // plus a margin for receiving the pack and the hooks' calls.
    spec.timeout = PushTimeout();
    return StartCgi(std::move(spec), req, route);
  }

  int WaitSeconds() const { return static_cast<int>(std::max<std::int64_t>(0, options_.wait_timeout.count())); }

  std::chrono::milliseconds PushTimeout() const {
    return std::chrono::seconds(WaitSeconds()) + std::chrono::seconds(180);
  }

  // Starts `git http-backend` on its own thread, waits for its header block, and answers with a
  // response that streams the rest of its stdout.
  net::HttpResponse StartCgi(ChildSpec spec, const net::HttpRequest& req, const std::string& route) {
    auto run = std::make_shared<CgiRun>();
    run->deadline = std::chrono::steady_clock::now() + spec.timeout;
    {
      std::lock_guard lock(runs_mu_);
      ReapLocked();
      if (stopping_) return Error(Unavailable("the git endpoint is shutting down"), req, route);
      if (runs_.size() >= options_.max_concurrent_git) {
        auto r = Error(Unavailable("too many git requests at once (" + std::to_string(runs_.size()) + "); retry"), req, route);
        r.status = 503;
        r.headers.emplace_back("Retry-After", "2");
        return r;
      }
      spec.cancel = &run->cancel;
      spec.on_stdout = [raw = run.get()](std::string&& bytes) { raw->Consume(std::move(bytes)); };
      runs_.emplace_back(std::thread([run, spec = std::move(spec)]() mutable {
        auto ran = RunChild(spec);
        {
          std::lock_guard lock(run->mu);
          run->finished = true;
          if (!ran.ok()) {
            run->error = ran.status();
          } else {
            run->exit_code = ran->exit_code;
            run->err_text = std::move(ran->err);
          }
        }
        run->cv.notify_all();
        run->Finish();
        run->done = true;
      }), run);
    }
    // The header block comes first and at once (before git reads the pack); wait for it within
    // the handler's budget.
    const auto header_deadline =
        std::chrono::steady_clock::now() +
        std::max(options_.request_timeout - std::chrono::milliseconds(2000), std::chrono::milliseconds(5000));
    std::unique_lock lk(run->mu);
    run->cv.wait_until(lk, header_deadline, [&] { return run->headers_ready || run->bad_headers || run->finished; });
    if (!run->headers_ready) {
      run->abandoned = true;
      Status st = !run->finished          ? DeadlineExceeded("git http-backend sent no headers in time")
                  : !run->error.ok()      ? run->error.WithContext("git http-backend")
                                          : Internal("git http-backend answered without headers: " +
                                                     Trim(run->err_text).substr(0, 500));
      if (!run->finished) run->cancel = true;
      core::Logger()->warn("git http-backend {}: {}", req.path.substr(0, 200), st.message());
      lk.unlock();
      run->cv.notify_all();
      return Error(st, req, route);
    }
    net::HttpResponse r = ParseCgiHeaders(run->head, route);
    lk.unlock();
    std::weak_ptr<CgiRun> weak = run;
    r.stream = [weak](net::StreamWriterPtr w) {
      auto run = weak.lock();
      if (!run) {
        w->Close();
        return;
      }
      {
        std::lock_guard lock(run->mu);
        run->writer = w;
      }
      // Callbacks run on the I/O thread: they only hand over what fits and wake the run's thread.
      w->OnWritable([weak] {
        if (auto r = weak.lock()) r->TrySend();
      });
      w->OnClose([weak] {
        if (auto r = weak.lock()) r->cv.notify_all();
      });
      run->TrySend();
    };
    r.stream_timeout = PushTimeout() + std::chrono::seconds(10);
    return r;
  }

  void ReapLocked() {
    for (auto it = runs_.begin(); it != runs_.end();) {
      if (it->second->done) {
        if (it->first.joinable()) it->first.join();
        auto& run = *it->second;
        if (!run.error.ok() || (run.exit_code != 0 && run.finished)) {
          core::Logger()->info("git http-backend ended ({}): {} {}", run.exit_code, run.error.message(),
                               Trim(run.err_text).substr(0, 1000));
        }
        it = runs_.erase(it);
      } else {
        ++it;
      }
    }
  }

  static net::HttpResponse ParseCgiHeaders(const std::string& head, const std::string& route) {
    net::HttpResponse r;
    r.route = route;
    r.content_type.clear();
    std::istringstream headers(head);
    std::string line;
    while (std::getline(headers, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::string value = Trim(line.substr(colon + 1));
      std::string lower = Lower(name);
      if (lower == "status") {
        try {
          r.status = std::stoi(value);
        } catch (...) {
          r.status = 500;
        }
        if (r.status < 100 || r.status > 599) r.status = 500;
      } else if (lower == "content-type") {
        r.content_type = value;
      } else if (lower != "content-length" && lower != "connection" && lower != "transfer-encoding") {
        r.headers.emplace_back(name, value);
      }
    }
    if (r.content_type.empty()) r.content_type = "text/plain; charset=utf-8";
    return r;
  }

  // ---- repositories --------------------------------------------------------------------------------

  json::object RepoJson(const std::string& ns, const std::string& name) const {
    json::object o;
    o["name"] = name;
    o["namespace"] = ns;
    o["url"] = (options_.server_url ? options_.server_url() : std::string()) + "/git/" + ns + "/" + name + ".git";
    return o;
  }

  net::HttpResponse Repositories(net::HttpRequest& req) {
    const std::string route = "/apis/tuna.ai/v1alpha1/namespaces/{namespace}/repositories";
    auto principal = options_.authenticate(req);
    if (!principal.ok()) return Error(principal.status(), req, route);
    const auto& s = req.segments;
    const std::string& ns = s[4];
    if (!IsDnsLabel(ns)) return Error(InvalidArgument("invalid namespace \"" + ns.substr(0, 80) + "\""), req, route);
    if (Status allowed = principal->Check(ns, req.method == "GET" ? auth::Scope::kInvoke : auth::Scope::kWrite); !allowed.ok()) {
      return Error(allowed, req, route);
    }
    if (s.size() == 6) {
      if (req.method == "GET") return ListRepos(req, ns, route);
      if (req.method == "POST") return CreateRepo(req, ns, route);
    } else {
      auto dir = RepoDir(ns, s[6]);
      if (!dir.ok()) return Error(dir.status(), req, route + "/{name}");
      std::error_code ec;
      if (!fs::is_directory(*dir, ec)) return Error(NotFound("repository " + ns + "/" + s[6] + " not found"), req, route + "/{name}");
      if (req.method == "GET") return Json(200, RepoJson(ns, s[6]), route + "/{name}");
      if (req.method == "DELETE") {
        fs::path trash = options_.root / ns / (".trash-" + core::RandomHex(8));
        if (::rename(dir->c_str(), trash.c_str()) != 0) {
          return Error(Unavailable("delete repository: " + std::string(std::strerror(errno))), req, route + "/{name}");
        }
        fs::remove_all(trash, ec);
        return Json(200, RepoJson(ns, s[6]), route + "/{name}");
      }
    }
    auto r = Error(InvalidArgument("use GET/POST .../repositories or GET/DELETE .../repositories/{name}"), req, route);
    r.status = 405;
    return r;
  }

  net::HttpResponse ListRepos(const net::HttpRequest&, const std::string& ns, const std::string& route) {
    json::array items;
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(options_.root / ns, ec)) {
      std::string f = e.path().filename().string();
      if (f.size() > 4 && f.compare(f.size() - 4, 4, ".git") == 0 && IsDnsLabel(f.substr(0, f.size() - 4))) {
        names.push_back(f.substr(0, f.size() - 4));
      }
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) items.push_back(RepoJson(ns, n));
    json::object o;
    o["kind"] = "RepositoryList";
    o["items"] = std::move(items);
    return Json(200, o, route);
  }

  net::HttpResponse CreateRepo(const net::HttpRequest& req, const std::string& ns, const std::string& route) {
    boost::system::error_code jec;
    json::value body = json::parse(req.body, jec);
    if (jec || !body.is_object()) return Error(InvalidArgument("expected a JSON object {\"name\": \"...\"}"), req, route);
    std::string name = StrAt(body, {"name"});
    if (name.empty()) name = StrAt(body, {"metadata", "name"});
    if (name.empty()) return Error(InvalidArgument("name: required field is missing", "name"), req, route);
    auto dir = RepoDir(ns, name);
    if (!dir.ok()) return Error(dir.status(), req, route);
    std::error_code ec;
    if (fs::exists(*dir, ec)) return Error(AlreadyExists("repository " + ns + "/" + name + " already exists"), req, route);
    fs::create_directories(options_.root / ns, ec);
    // Built aside and renamed into place: a concurrent create of the same name loses cleanly.
    fs::path tmp = options_.root / ns / (".tmp-" + core::RandomHex(8));
    auto cleanup = [&] { fs::remove_all(tmp, ec); };
    auto init = Git({}, {"init", "--quiet", "--bare", "--initial-branch=main", tmp.string()});
    if (!init.ok() || !init->ok()) {
      cleanup();
      return Error(Internal("git init: " + (init.ok() ? Trim(init->err) : init.status().message())), req, route);
    }
    Status written = WriteRepoFiles(tmp);
    if (!written.ok()) {
      cleanup();
      return Error(written, req, route);
    }
    if (::rename(tmp.c_str(), dir->c_str()) != 0) {
      int err = errno;
      cleanup();
      if (err == EEXIST || err == ENOTEMPTY) return Error(AlreadyExists("repository " + ns + "/" + name + " already exists"), req, route);
      return Error(Unavailable("create repository: " + std::string(std::strerror(err))), req, route);
    }
    return Json(201, RepoJson(ns, name), route);
  }

  static Status WriteFile(const fs::path& path, std::string_view text, bool append, mode_t mode) {
    std::ofstream out(path, append ? std::ios::app : std::ios::trunc);
    out << text;
    out.close();
    if (!out) return Unavailable("write " + path.string());
    if (::chmod(path.c_str(), mode) != 0) return Unavailable("chmod " + path.string());
    return {};
  }

  static Status WriteRepoFiles(const fs::path& dir) {
    TUNA_RETURN_IF_ERROR(WriteFile(dir / "config", kRepoConfig, true, 0644));
    std::error_code ec;
    fs::create_directories(dir / "hooks", ec);
    TUNA_RETURN_IF_ERROR(WriteFile(dir / "hooks" / "pre-receive", kPreReceiveHook, false, 0755));
    TUNA_RETURN_IF_ERROR(WriteFile(dir / "hooks" / "post-receive", kPostReceiveHook, false, 0755));
    return {};
  }

  // ---- hooks ---------------------------------------------------------------------------------------

  std::optional<net::HttpResponse> Hook(net::HttpRequest& req) {
    const std::string route = "/internal/git/hooks";
    std::string_view auth = req.Header("Authorization");
    const std::string want = "Bearer " + secret_;
    if (!core::ConstantTimeEquals(auth, want)) return Error(Unauthenticated("invalid hook secret"), req, route);
    const auto& s = req.segments;
    if (s.size() != 4 || s[2] != "hooks" || req.method != "POST") return Error(NotFound("no such hook route"), req, route);
    boost::system::error_code jec;
    json::value body = json::parse(req.body, jec);
    if (jec || !body.is_object()) return Error(InvalidArgument("expected a JSON object"), req, route);
    if (s[3] == "status") return Json(200, StageStatus(body), route);
    const std::string ns = StrAt(body, {"namespace"});
    const std::string repo = StrAt(body, {"repo"});
    auto dir = RepoDir(ns, repo);
    if (!dir.ok()) return Error(dir.status(), req, route);
    std::vector<RefUpdate> updates;
    if (auto* u = body.get_object().if_contains("updates"); u && u->is_array()) {
      for (const auto& item : u->get_array()) {
        RefUpdate ru{StrAt(item, {"old"}), StrAt(item, {"new"}), StrAt(item, {"ref"})};
        if (!IsHexId(ru.old_id) || !IsHexId(ru.new_id) || ru.ref.rfind("refs/", 0) != 0) {
          return Error(InvalidArgument("malformed ref update"), req, route);
        }
        updates.push_back(std::move(ru));
      }
    }
    if (s[3] == "pre-receive") {
      // The pushed objects are still in quarantine: read them through the directories git named,
      // accepted only inside this repository.
      std::map<std::string, std::string> env;
      for (auto [field, var] : {std::pair{"objectDirectory", "GIT_OBJECT_DIRECTORY"},
                                std::pair{"alternateObjectDirectories", "GIT_ALTERNATE_OBJECT_DIRECTORIES"}}) {
        std::string value = StrAt(body, {field});
        if (value.empty()) continue;
        std::stringstream parts(value);
        std::string part;
        while (std::getline(parts, part, ':')) {
          std::error_code ec;
          fs::path p = fs::weakly_canonical(part, ec);
          auto rel = p.lexically_relative(fs::weakly_canonical(*dir, ec));
          if (ec || rel.empty() || *rel.begin() == "..") {
            return Error(InvalidArgument(std::string(field) + " is outside the repository"), req, route);
          }
        }
        env[var] = value;
      }
      return Json(200, PreReceive(ns, repo, *dir, updates, env), route);
    }
    if (s[3] == "post-receive") return Json(200, PostReceive(ns, repo, *dir, updates), route);
    return Error(NotFound("no such hook " + s[3].substr(0, 40)), req, route);
  }

  // A file of `commit` (quarantined objects included through `env`); NotFound when it is not a
  // file there, ResourceExhausted beyond `limit` bytes.
  Result<std::string> ReadBlob(const fs::path& dir, const std::string& commit, const std::string& path,
                               const std::map<std::string, std::string>& env, std::size_t limit) const {
    ChildSpec spec;
    spec.argv = {"git", "cat-file", "blob", commit + ":" + path};
    spec.env = GitEnv(dir);
    for (const auto& [k, v] : env) spec.env[k] = v;
    spec.cwd = dir;
    spec.timeout = std::chrono::seconds(30);
    spec.max_output = limit;
    TUNA_ASSIGN_OR_RETURN(auto r, RunChild(spec));
    if (!r.ok()) return NotFound(path + " is not a file in commit " + commit.substr(0, 12));
    return std::move(r.out);
  }

  // Reads and validates tuna.yaml at `commit`.
  Result<TunaYaml> ReadTunaYaml(const fs::path& dir, const std::string& commit,
                                const std::map<std::string, std::string>& env) const {
    auto text = ReadBlob(dir, commit, std::string(kTunaYamlFile), env, 1 << 20);
    if (!text.ok() && text.status().code() == StatusCode::kNotFound) {
      return InvalidArgument(std::string(kTunaYamlFile) + ": missing at the repository root of " + commit.substr(0, 12) +
                             " (it says what the repository deploys; see docs/gitops.md)");
    }
    if (!text.ok()) return InvalidArgument(std::string(kTunaYamlFile) + ": " + text.status().message());
    return ParseTunaYaml(*text);
  }

  Result<std::string> PeelToCommit(const fs::path& dir, const std::string& id,
                                   const std::map<std::string, std::string>& env) const {
    TUNA_ASSIGN_OR_RETURN(auto r, Git(dir, {"rev-parse", "--verify", "--quiet", id + "^{commit}"}, env));
    std::string out = Trim(r.out);
    if (!r.ok() || !IsHexId(out)) return InvalidArgument(id.substr(0, 12) + " does not point at a commit");
    return out;
  }

  // What an update deploys: nullopt for refs that deploy nothing (with a note in `notes`).
  Result<std::optional<Plan>> PlanFor(const fs::path& dir, const RefUpdate& u, const std::map<std::string, std::string>& env,
                                      std::string& notes) const {
    const bool is_branch = u.ref.rfind("refs/heads/", 0) == 0;
    const bool is_tag = u.ref.rfind("refs/tags/", 0) == 0;
    if (!is_branch && !is_tag) return std::optional<Plan>();
    if (u.new_id == kZeroId) return std::optional<Plan>();  // deletions: post-receive decides
    TUNA_ASSIGN_OR_RETURN(std::string commit, PeelToCommit(dir, u.new_id, env));
    auto yaml = ReadTunaYaml(dir, commit, env);
    if (!yaml.ok()) return Status(yaml.status().code(), PrefixLines(u.ref + ": ", yaml.status().message()));
    Plan plan{std::move(*yaml), is_branch ? "staging" : "production", u.ref, commit, {}};
    const std::string what = plan.yaml.kind + " " + plan.yaml.name;
    if (!plan.yaml.staged()) {
      // HTTP tools have no stages: pushes to their branch update them, tags deploy nothing.
      plan.stage.clear();
      if (is_tag) {
        notes += u.ref + ": not deployed (" + what + " has no stages: pushes to branch " + plan.yaml.branch +
                 " update it)\n";
        return std::optional<Plan>();
      }
      if (u.ref.substr(11) != plan.yaml.branch) {
        notes += u.ref + ": not deployed (tuna.yaml updates " + what + " from branch " + plan.yaml.branch + ")\n";
        return std::optional<Plan>();
      }
      auto text = ReadBlob(dir, commit, plan.yaml.openapi_file, env, kMaxOpenApiBytes + 1);
      if (!text.ok()) {
        return InvalidArgument(u.ref + ": " + plan.yaml.Problem("spec.openapi.file", text.status().message()));
      }
      auto doc = ParseOpenApiDocument(plan.yaml, *text);
      if (!doc.ok()) return InvalidArgument(PrefixLines(u.ref + ": ", doc.status().message()));
      plan.document = std::move(*doc);
      return std::optional<Plan>(std::move(plan));
    }
    if (is_branch) {
      std::string branch = u.ref.substr(11);
      if (!plan.yaml.branch.empty() && plan.yaml.branch != branch) {
        notes += u.ref + ": not deployed (tuna.yaml deploys branch " + plan.yaml.branch + ")\n";
        return std::optional<Plan>();
      }
    } else {
      std::string tag = u.ref.substr(10);
      if (!TagMatches(plan.yaml.tag_pattern, tag)) {
        notes += u.ref + ": not deployed (does not match tagPattern " + plan.yaml.tag_pattern + ")\n";
        return std::optional<Plan>();
      }
    }
    return std::optional<Plan>(std::move(plan));
  }

  // The object `kind`/`name` as it stands (to be updated) or a new one, labelled with the
  // repository. An object labelled with another repository is refused.
  static Result<Write> Existing(Store& store, const std::string& kind, const std::string& ns, const std::string& name,
                                const std::string& repo) {
    auto existing = store.Get({kind, ns, name});
    Write w;
    w.exists = existing.ok();
    if (w.exists) {
      w.obj = std::move(*existing);
      auto it = w.obj.metadata.labels.find(std::string(kRepoLabel));
      if (it != w.obj.metadata.labels.end() && it->second != repo) {
        return FailedPrecondition(Lower(kind) + " " + name + " is deployed from repository " + it->second + ", not " + repo);
      }
    } else if (existing.status().code() != StatusCode::kNotFound) {
      return existing.status();
    } else {
      w.obj.kind = kind;
      w.obj.metadata.name = name;
      w.obj.metadata.namespace_ = ns;
    }
    w.obj.metadata.labels[std::string(kRepoLabel)] = repo;
    if (!w.obj.spec.is_object()) w.obj.spec = json::object();
    return w;
  }

  // Every object a plan writes, in order: the deployment, then (agents) its catalogue entry and
  // its bindings. Reads go to `store` (the dry run's overlay, or the real store).
  Result<std::vector<Write>> DesiredObjects(Store& store, const std::string& ns, const std::string& repo,
                                            const Plan& plan, const std::string& archive) const {
    const TunaYaml& y = plan.yaml;
    std::vector<Write> out;
    TUNA_ASSIGN_OR_RETURN(Write dep, Existing(store, y.DeploymentKind(), ns, y.name, repo));
    auto& spec = dep.obj.spec.get_object();
    json::object env;
    for (const auto& [k, v] : y.env) env[k] = v;
    const json::object source{{"repo", repo}, {"ref", plan.ref}, {"commit", plan.commit}, {"archive", archive}};
    auto set_stage = [&](bool mcp) {
      if (!spec.contains("stages") || !spec["stages"].is_object()) spec["stages"] = json::object();
      auto& stages = spec["stages"].get_object();
      json::object stage = stages.contains(plan.stage) && stages[plan.stage].is_object() ? stages[plan.stage].get_object()
                                                                                        : json::object();
      if (mcp) stage.erase("package");  // exactly one of source or package
      stage["source"] = source;
      stages[plan.stage] = std::move(stage);
    };
    if (y.kind == kKindAgent) {
      spec["environmentName"] = y.environment;
      spec["entrypoint"] = y.entrypoint;
      if (env.empty()) spec.erase("env");
      else spec["env"] = std::move(env);
      set_stage(false);
    } else if (y.kind == kKindMcpServer) {
      spec["environmentName"] = y.environment;
      json::object stdio{{"command", y.command.front()}};
      if (y.command.size() > 1) {
        json::array args;
        for (std::size_t i = 1; i < y.command.size(); ++i) args.emplace_back(y.command[i]);
        stdio["args"] = std::move(args);
      }
      if (!env.empty()) stdio["env"] = std::move(env);
      spec["server"] = json::object{{"stdio", std::move(stdio)}};
      set_stage(true);
    } else {
      json::object tool = y.tool;
      tool["openapi"] = json::object{{"inline", plan.document}};
      dep.obj.spec = std::move(tool);
      dep.obj.metadata.annotations["tuna.ai/source-ref"] = plan.ref;
      dep.obj.metadata.annotations["tuna.ai/source-commit"] = plan.commit;
    }
    out.push_back(std::move(dep));
    if (y.catalogue) {
      TUNA_ASSIGN_OR_RETURN(Write cat, Existing(store, "AgentCatalogue", ns, y.name, repo));
      cat.obj.spec = *y.catalogue;
      out.push_back(std::move(cat));
    }
    if (y.bindings) {
      TUNA_ASSIGN_OR_RETURN(Write bind, Existing(store, "AgentResourceBinding", ns, y.name, repo));
      bind.obj.spec = *y.bindings;
      out.push_back(std::move(bind));
    }
    return out;
  }

  // The dry run of every write the plans make, in order, each admitted against the state the
  // earlier ones lead to. Returns the problems, one line each ("" when all would be admitted).
  std::string DryRun(const std::string& ns, const std::string& repo, const std::vector<Plan>& plans,
                     const std::vector<std::string>& archives) const {
    OverlayStore overlay(*options_.store);
    std::string errors;
    for (std::size_t i = 0; i < plans.size(); ++i) {
      const Plan& p = plans[i];
      auto writes = DesiredObjects(overlay, ns, repo, p, archives[i]);
      if (!writes.ok()) {
        errors += p.ref + ": " + Lower(p.yaml.DeploymentKind()) + " " + p.yaml.name + ": " + writes.status().message() + "\n";
        continue;
      }
      for (const auto& w : *writes) {
        Status st = AdmitObject(overlay, w.obj, w.exists ? AdmissionOperation::kUpdate : AdmissionOperation::kCreate);
        if (!st.ok()) {
          errors += p.ref + ": " + Lower(w.obj.kind) + " " + w.obj.metadata.name + ": " + st.message() + "\n";
          break;
        }
        overlay.Put(w.obj);
      }
    }
    return errors;
  }

  // Where a deployment answers: the gateway's A2A or MCP endpoint.
  std::string ServeUrl(const std::string& kind, const std::string& ns, const std::string& name,
                       const std::string& stage) const {
    const std::string base = options_.server_url ? options_.server_url() : std::string();
    if (kind == "MCPServerDeployment") return base + "/mcp/" + ns + "/servers/" + name + "/" + stage;
    if (kind == "HTTPToolDeployment") return base + "/mcp/" + ns + "/tools/" + name;
    // A trailing slash: A2A SDKs resolve the card (".well-known/agent-card.json") relative to the
    // URL they are given, and without it they would reach the parent path's card instead.
    return base + "/a2a/" + ns + "/" + name + "/" + stage + "/";
  }

  static std::string Arrow(const Plan& p) { return p.yaml.staged() ? p.stage : std::string("updated"); }

  json::object PreReceive(const std::string& ns, const std::string& repo, const fs::path& dir,
                          const std::vector<RefUpdate>& updates, const std::map<std::string, std::string>& env) {
    std::string errors, notes;
    std::vector<Plan> plans;
    for (const auto& u : updates) {
      auto plan = PlanFor(dir, u, env, notes);
      if (!plan.ok()) {
        errors += plan.status().message() + "\n";
        continue;
      }
      if (!*plan) continue;
      notes += u.ref + ": tuna.yaml ok: " + (*plan)->yaml.kind + " " + (*plan)->yaml.name + " -> " + Arrow(**plan) + "\n";
      plans.push_back(std::move(**plan));
    }
    // Admission as a dry run of every write of the push: a push any of whose writes would be
    // refused is refused itself, before any ref moves.
    if (errors.empty()) {
      std::vector<std::string> archives(plans.size(), "sha256:" + std::string(64, '0'));
      errors = DryRun(ns, repo, plans, archives);
    }
    json::object o;
    o["ok"] = errors.empty();
    o["message"] = errors.empty() ? notes : errors + "push rejected: nothing was changed\n";
    return o;
  }

  // Snapshot `commit` into the artifact store (a deterministic tar: same commit, same digest).
  Result<std::string> Snapshot(const fs::path& dir, const std::string& commit) const {
    if (options_.artifacts == nullptr) return FailedPrecondition("this server has no artifact store (controllers off)");
    ChildSpec spec;
    spec.argv = {"git", "archive", "--format=tar", commit};
    spec.env = GitEnv(dir);
    spec.cwd = dir;
    spec.timeout = std::chrono::seconds(60);
    TUNA_ASSIGN_OR_RETURN(auto r, RunChild(spec));
    if (!r.ok()) return Internal("git archive " + commit.substr(0, 12) + ": " + Trim(r.err));
    return options_.artifacts->PutBytes(r.out);
  }

  // Writes one object of a plan (created, or updated with its resourceVersion and retried on a
  // concurrent write).
  Status ApplyOne(const std::string& ns, const std::string& repo, const Plan& plan, const std::string& archive,
                  std::size_t index) {
    auto desired = [&]() -> Result<Write> {
      TUNA_ASSIGN_OR_RETURN(auto writes, DesiredObjects(*options_.store, ns, repo, plan, archive));
      if (index >= writes.size()) return Internal("plan changed while applying");
      return std::move(writes[index]);
    };
    TUNA_ASSIGN_OR_RETURN(Write w, desired());
    if (!w.exists) {
      auto created = AdmittedCreate(*options_.store, w.obj);
      if (created.ok() || created.status().code() != StatusCode::kAlreadyExists) return created.status();
      TUNA_ASSIGN_OR_RETURN(w, desired());  // lost a race: update
    }
    for (int attempt = 0;; ++attempt) {
      auto updated = AdmittedUpdate(*options_.store, w.obj);
      if (updated.ok()) return {};
      if (updated.status().code() != StatusCode::kConflict || attempt >= 5) return updated.status();
      TUNA_ASSIGN_OR_RETURN(w, desired());
    }
  }

  json::object PostReceive(const std::string& ns, const std::string& repo, const fs::path& dir,
                           const std::vector<RefUpdate>& updates) {
    std::string message;
    std::vector<Plan> plans;
    std::vector<std::string> archives;
    for (const auto& u : updates) {
      std::string notes;
      std::optional<Plan> plan;
      if (u.new_id == kZeroId) {
        auto rollback = RollbackForDeletedTag(dir, u, notes);
        if (rollback) plan = std::move(rollback);
        else if (notes.empty()) notes = u.ref + ": deleted; the stages keep serving what they serve\n";
      } else {
        auto p = PlanFor(dir, u, {}, notes);
        if (!p.ok()) {
          message += p.status().message() + "\n";
          continue;
        }
        plan = std::move(*p);
      }
      message += notes;
      if (!plan) continue;
      std::string archive;
      if (plan->yaml.staged()) {
        auto digest = Snapshot(dir, plan->commit);
        if (!digest.ok()) {
          message += u.ref + ": snapshot failed: " + digest.status().message() + "\n";
          continue;
        }
        message += u.ref + ": snapshot " + *digest + " (commit " + plan->commit.substr(0, 12) + ")\n";
        archive = *digest;
      }
      plans.push_back(std::move(*plan));
      archives.push_back(std::move(archive));
    }
    json::object o;
    json::array watch;
    // Everything is checked again before the first write (the store may have changed since
    // pre-receive): either every object of the push is written or none.
    if (std::string errors = DryRun(ns, repo, plans, archives); !errors.empty()) {
      o["message"] = message + errors + "nothing was deployed\n";
      o["watch"] = std::move(watch);
      return o;
    }
    std::string urls;
    for (std::size_t i = 0; i < plans.size(); ++i) {
      const Plan& plan = plans[i];
      const std::string kind = plan.yaml.DeploymentKind();
      auto writes = DesiredObjects(*options_.store, ns, repo, plan, archives[i]);
      const std::size_t count = writes.ok() ? writes->size() : 1;
      bool ok = true;
      for (std::size_t j = 0; j < count && ok; ++j) {
        const std::string what = writes.ok() ? Lower((*writes)[j].obj.kind) + " " + plan.yaml.name : Lower(kind);
        Status st = writes.ok() ? ApplyOne(ns, repo, plan, archives[i], j) : writes.status();
        if (!st.ok()) {
          message += plan.ref + ": " + what + ": " + st.message() + "\n";
          ok = false;
        } else if (j == 0) {
          message += plan.ref + ": " + what + " " + Arrow(plan) + " <- " + plan.commit.substr(0, 12) + "\n";
        } else {
          message += plan.ref + ": " + what + " written\n";
        }
      }
      if (!ok) continue;
      if (plan.yaml.staged()) {
        watch.push_back(json::object{{"namespace", ns},
                                     {"kind", kind},
                                     {"deployment", plan.yaml.name},
                                     {"stage", plan.stage},
                                     {"archive", archives[i]},
                                     {"ref", plan.ref}});
      } else {
        // Nothing to build: the tool serves the new document as soon as it is written.
        urls += plan.yaml.name + " updated: " + ServeUrl(kind, ns, plan.yaml.name, "") + "\n";
      }
    }
    o["message"] = message + urls;
    o["watch"] = std::move(watch);
    return o;
  }

  // A deleted tag that matched its tagPattern: production goes back to the newest remaining
  // matching tag of the same deployment.
  std::optional<Plan> RollbackForDeletedTag(const fs::path& dir, const RefUpdate& u, std::string& notes) const {
    if (u.ref.rfind("refs/tags/", 0) != 0) return std::nullopt;
    auto old_commit = PeelToCommit(dir, u.old_id, {});
    if (!old_commit.ok()) return std::nullopt;
    auto old_yaml = ReadTunaYaml(dir, *old_commit, {});
    if (!old_yaml.ok() || !old_yaml->staged() || !TagMatches(old_yaml->tag_pattern, u.ref.substr(10))) return std::nullopt;
    auto tags = Git(dir, {"for-each-ref", "--sort=-creatordate", "--format=%(refname)", "refs/tags"});
    if (tags.ok() && tags->ok()) {
      std::istringstream lines(tags->out);
      std::string ref;
      while (std::getline(lines, ref)) {
        auto commit = PeelToCommit(dir, ref, {});
        if (!commit.ok()) continue;
        auto yaml = ReadTunaYaml(dir, *commit, {});
        if (!yaml.ok() || yaml->name != old_yaml->name || yaml->kind != old_yaml->kind ||
            !TagMatches(yaml->tag_pattern, ref.substr(10))) {
          continue;
        }
        notes += u.ref + ": deleted; production of " + yaml->name + " rolls back to " + ref + "\n";
        return Plan{std::move(*yaml), "production", ref, *commit, {}};
      }
    }
    notes += u.ref + ": deleted; no other tag matches " + old_yaml->tag_pattern + ", production keeps serving\n";
    return std::nullopt;
  }

  // Where a stage stands for the pushed snapshot: the build of that source and whether it serves.
  json::object StageStatus(const json::value& body) const {
    json::object o;
    const std::string ns = StrAt(body, {"namespace"});
    const std::string name = StrAt(body, {"deployment"});
    const std::string stage = StrAt(body, {"stage"});
    const std::string archive = StrAt(body, {"archive"});
    std::string kind = StrAt(body, {"kind"});
    if (kind.empty()) kind = "AgentDeployment";
    if (!IsDnsLabel(ns) || !IsDnsLabel(name) || (stage != "staging" && stage != "production") ||
        (kind != "AgentDeployment" && kind != "MCPServerDeployment")) {
      o["error"] = "bad status request";
      return o;
    }
    const std::string build_kind = kind == "AgentDeployment" ? "AgentBuild" : "MCPServerBuild";
    o["url"] = ServeUrl(kind, ns, name, stage);
    auto dep = options_.store->Get({kind, ns, name});
    if (!dep.ok()) {
      o["error"] = dep.status().message();
      return o;
    }
    json::value status = dep->status;
    o["phase"] = StrAt(status, {"phase"});
    if (const auto* conds = status.is_object() ? status.get_object().if_contains("conditions") : nullptr;
        conds && conds->is_array()) {
      for (const auto& c : conds->get_array()) {
        if (StrAt(c, {"type"}) == "Ready" && StrAt(c, {"status"}) == "False") {
          o["readyReason"] = StrAt(c, {"reason"});
          o["readyMessage"] = StrAt(c, {"message"});
        }
      }
    }
    ListOptions lo;
    lo.kind = build_kind;
    lo.namespace_ = ns;
    lo.label_selector = "tuna.ai/deployment=" + name;
    auto builds = options_.store->List(lo);
    if (builds.ok()) {
      const Resource* latest = nullptr;
      for (const auto& b : builds->items) {
        if (StrAt(b.spec, {"buildTarget"}) != stage || StrAt(b.spec, {"source", "archive"}) != archive) continue;
        if (latest == nullptr || b.metadata.creation_timestamp > latest->metadata.creation_timestamp ||
            (b.metadata.creation_timestamp == latest->metadata.creation_timestamp && b.metadata.name > latest->metadata.name)) {
          latest = &b;
        }
      }
      // The stage serves the push once its revision is that build (revisions.*.archive is the
      // build's output, not the source snapshot).
      o["deployed"] = latest != nullptr && StrAt(status, {"revisions", stage, "build"}) == latest->metadata.name;
      if (latest != nullptr) {
        o["build"] = latest->metadata.name;
        std::string phase = StrAt(latest->status, {"phase"});
        o["buildPhase"] = phase.empty() ? "Pending" : phase;
        if (phase == "Failed") {
          o["buildReason"] = StrAt(latest->status, {"reason"});
          o["buildMessage"] = StrAt(latest->status, {"message"});
          o["logTail"] = StrAt(latest->status, {"logTail"});
        }
      }
    }
    return o;
  }

  GitServiceOptions options_;
  std::string secret_;
  std::mutex runs_mu_;
  std::list<std::pair<std::thread, std::shared_ptr<CgiRun>>> runs_;  // running `git http-backend`s
  bool stopping_ = false;
};

GitService::GitService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GitService::~GitService() = default;

Result<std::unique_ptr<GitService>> GitService::Make(GitServiceOptions options) {
  try {
    if (options.store == nullptr) return InvalidArgument("git service: a store is required");
    if (!options.authenticate) return InvalidArgument("git service: an authenticator is required");
    auto impl = std::make_unique<Impl>(std::move(options));
    TUNA_RETURN_IF_ERROR(impl->Init());
    return std::unique_ptr<GitService>(new GitService(std::move(impl)));
  } catch (const std::exception& e) {
    return Internal(std::string("git service: ") + e.what());
  }
}

std::optional<net::HttpResponse> GitService::Handle(net::HttpRequest& req) { return impl_->Handle(req); }

}  // namespace tuna::gitops
