#include "gitops/git_service.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

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
  std::string stage;   // "staging" | "production"
  std::string ref;     // as pushed ("refs/heads/main", "refs/tags/v1")
  std::string commit;  // the commit to snapshot
};

}  // namespace

class GitService::Impl {
 public:
  explicit Impl(GitServiceOptions o) : options_(std::move(o)), secret_(core::RandomHex(32)) {}

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
    // The whole push (hooks and their wait included) must end before the handler's budget.
    spec.timeout = std::max(options_.request_timeout - std::chrono::milliseconds(2000), std::chrono::milliseconds(5000));
    spec.max_output = std::size_t{2} << 30;
    auto ran = RunChild(spec);
    if (!ran.ok()) return Error(ran.status().WithContext("git http-backend"), req, route);
    return CgiResponse(*ran, req, route);
  }

  int WaitSeconds() const {
    auto budget = std::chrono::duration_cast<std::chrono::seconds>(options_.request_timeout) - std::chrono::seconds(10);
    return static_cast<int>(std::max<std::int64_t>(0, std::min(budget.count(), options_.wait_timeout.count())));
  }

  net::HttpResponse CgiResponse(ChildResult& ran, const net::HttpRequest& req, const std::string& route) {
    std::size_t end = ran.out.find("\r\n\r\n");
    std::size_t skip = 4;
    if (std::size_t lf = ran.out.find("\n\n"); lf != std::string::npos && (end == std::string::npos || lf < end)) {
      end = lf;
      skip = 2;
    }
    if (end == std::string::npos) {
      core::Logger()->warn("git http-backend ({}): {}", ran.exit_code, ran.err.substr(0, 2000));
      return Error(Internal("git http-backend answered without headers: " + Trim(ran.err).substr(0, 500)), req, route);
    }
    net::HttpResponse r;
    r.route = route;
    r.content_type.clear();
    std::istringstream headers(ran.out.substr(0, end));
    std::string line;
    while (std::getline(headers, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::string value = Trim(line.substr(colon + 1));
      std::string lower = name;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "status") {
        try {
          r.status = std::stoi(value);
        } catch (...) {
          r.status = 500;
        }
      } else if (lower == "content-type") {
        r.content_type = value;
      } else if (lower != "content-length" && lower != "connection" && lower != "transfer-encoding") {
        r.headers.emplace_back(name, value);
      }
    }
    if (r.content_type.empty()) r.content_type = "text/plain; charset=utf-8";
    r.body = ran.out.substr(end + skip);
    if (r.status >= 400 || !ran.err.empty()) {
      core::Logger()->info("git http-backend {} {}: {}", r.status, req.path.substr(0, 200), Trim(ran.err).substr(0, 1000));
    }
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

  // Reads and validates tuna.yaml at `commit`.
  Result<TunaYaml> ReadTunaYaml(const fs::path& dir, const std::string& commit,
                                const std::map<std::string, std::string>& env) const {
    TUNA_ASSIGN_OR_RETURN(auto r, Git(dir, {"cat-file", "blob", commit + ":" + std::string(kTunaYamlFile)}, env));
    if (!r.ok()) {
      return InvalidArgument(std::string(kTunaYamlFile) + ": missing at the repository root of " + commit.substr(0, 12) +
                             " (it says what the repository deploys; see docs/gitops.md)");
    }
    return ParseTunaYaml(r.out);
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
    if (!yaml.ok()) return Status(yaml.status().code(), u.ref + ": " + yaml.status().message());
    Plan plan{std::move(*yaml), is_branch ? "staging" : "production", u.ref, commit};
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

  // The AgentDeployment a plan produces (existing object updated, or a new one).
  Result<std::pair<Resource, bool>> DesiredDeployment(const std::string& ns, const std::string& repo, const Plan& plan,
                                                       const std::string& archive) const {
    ObjectKey key{"AgentDeployment", ns, plan.yaml.name};
    auto existing = options_.store->Get(key);
    Resource obj;
    bool exists = existing.ok();
    if (exists) {
      obj = std::move(*existing);
      auto it = obj.metadata.labels.find(std::string(kRepoLabel));
      if (it != obj.metadata.labels.end() && it->second != repo) {
        return FailedPrecondition("agentdeployment " + plan.yaml.name + " is deployed from repository " + it->second +
                                  ", not " + repo);
      }
    } else if (existing.status().code() != StatusCode::kNotFound) {
      return existing.status();
    } else {
      obj.kind = "AgentDeployment";
      obj.metadata.name = plan.yaml.name;
      obj.metadata.namespace_ = ns;
    }
    obj.metadata.labels[std::string(kRepoLabel)] = repo;
    if (!obj.spec.is_object()) obj.spec = json::object();
    auto& spec = obj.spec.get_object();
    spec["environmentName"] = plan.yaml.environment;
    spec["entrypoint"] = plan.yaml.entrypoint;
    json::object env;
    for (const auto& [k, v] : plan.yaml.env) env[k] = v;
    if (env.empty()) spec.erase("env");
    else spec["env"] = std::move(env);
    if (!spec.contains("stages") || !spec["stages"].is_object()) spec["stages"] = json::object();
    auto& stages = spec["stages"].get_object();
    json::object stage = stages.contains(plan.stage) && stages[plan.stage].is_object() ? stages[plan.stage].get_object()
                                                                                      : json::object();
    stage["source"] = json::object{{"repo", repo}, {"ref", plan.ref}, {"commit", plan.commit}, {"archive", archive}};
    stages[plan.stage] = std::move(stage);
    return std::make_pair(std::move(obj), exists);
  }

  json::object PreReceive(const std::string& ns, const std::string& repo, const fs::path& dir,
                          const std::vector<RefUpdate>& updates, const std::map<std::string, std::string>& env) {
    std::string errors, notes;
    for (const auto& u : updates) {
      auto plan = PlanFor(dir, u, env, notes);
      if (!plan.ok()) {
        errors += plan.status().message() + "\n";
        continue;
      }
      if (!*plan) continue;
      // Admission as a dry run: a push whose deployment would be refused is refused itself.
      auto desired = DesiredDeployment(ns, repo, **plan, "sha256:" + std::string(64, '0'));
      Status st = desired.ok() ? AdmitObject(*options_.store, desired->first,
                                             desired->second ? AdmissionOperation::kUpdate : AdmissionOperation::kCreate)
                               : desired.status();
      if (!st.ok()) errors += u.ref + ": agentdeployment " + (*plan)->yaml.name + ": " + st.message() + "\n";
      else notes += u.ref + ": tuna.yaml ok: agent " + (*plan)->yaml.name + " -> " + (*plan)->stage + "\n";
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

  Status Apply(const std::string& ns, const std::string& repo, const Plan& plan, const std::string& archive) {
    TUNA_ASSIGN_OR_RETURN(auto desired, DesiredDeployment(ns, repo, plan, archive));
    if (!desired.second) {
      auto created = AdmittedCreate(*options_.store, desired.first);
      if (created.ok() || created.status().code() != StatusCode::kAlreadyExists) return created.status();
      TUNA_ASSIGN_OR_RETURN(desired, DesiredDeployment(ns, repo, plan, archive));  // lost a race: update
    }
    // Update with the read resourceVersion; retried on a concurrent write (e.g. a controller).
    for (int attempt = 0;; ++attempt) {
      auto updated = AdmittedUpdate(*options_.store, desired.first);
      if (updated.ok()) return {};
      if (updated.status().code() != StatusCode::kConflict || attempt >= 5) return updated.status();
      TUNA_ASSIGN_OR_RETURN(desired, DesiredDeployment(ns, repo, plan, archive));
    }
  }

  json::object PostReceive(const std::string& ns, const std::string& repo, const fs::path& dir,
                           const std::vector<RefUpdate>& updates) {
    std::string message;
    json::array watch;
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
      auto digest = Snapshot(dir, plan->commit);
      if (!digest.ok()) {
        message += u.ref + ": snapshot failed: " + digest.status().message() + "\n";
        continue;
      }
      message += u.ref + ": snapshot " + *digest + " (commit " + plan->commit.substr(0, 12) + ")\n";
      Status st = Apply(ns, repo, *plan, *digest);
      if (!st.ok()) {
        message += u.ref + ": agentdeployment " + plan->yaml.name + ": " + st.message() + "\n";
        continue;
      }
      message += u.ref + ": agentdeployment " + plan->yaml.name + " " + plan->stage + " <- " + plan->commit.substr(0, 12) + "\n";
      watch.push_back(json::object{{"namespace", ns},
                                   {"deployment", plan->yaml.name},
                                   {"stage", plan->stage},
                                   {"archive", *digest},
                                   {"ref", plan->ref}});
    }
    json::object o;
    o["message"] = message;
    o["watch"] = std::move(watch);
    return o;
  }

  // A deleted tag that matched its tagPattern: production goes back to the newest remaining
  // matching tag of the same agent.
  std::optional<Plan> RollbackForDeletedTag(const fs::path& dir, const RefUpdate& u, std::string& notes) const {
    if (u.ref.rfind("refs/tags/", 0) != 0) return std::nullopt;
    auto old_commit = PeelToCommit(dir, u.old_id, {});
    if (!old_commit.ok()) return std::nullopt;
    auto old_yaml = ReadTunaYaml(dir, *old_commit, {});
    if (!old_yaml.ok() || !TagMatches(old_yaml->tag_pattern, u.ref.substr(10))) return std::nullopt;
    auto tags = Git(dir, {"for-each-ref", "--sort=-creatordate", "--format=%(refname)", "refs/tags"});
    if (tags.ok() && tags->ok()) {
      std::istringstream lines(tags->out);
      std::string ref;
      while (std::getline(lines, ref)) {
        auto commit = PeelToCommit(dir, ref, {});
        if (!commit.ok()) continue;
        auto yaml = ReadTunaYaml(dir, *commit, {});
        if (!yaml.ok() || yaml->name != old_yaml->name || !TagMatches(yaml->tag_pattern, ref.substr(10))) continue;
        notes += u.ref + ": deleted; production of " + yaml->name + " rolls back to " + ref + "\n";
        return Plan{std::move(*yaml), "production", ref, *commit};
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
    if (!IsDnsLabel(ns) || !IsDnsLabel(name) || (stage != "staging" && stage != "production")) {
      o["error"] = "bad status request";
      return o;
    }
    o["url"] = (options_.server_url ? options_.server_url() : std::string()) + kApiPrefix + ns + "/agentdeployments/" +
               name + "/proxy/" + stage + "/";
    auto dep = options_.store->Get({"AgentDeployment", ns, name});
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
    lo.kind = "AgentBuild";
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
