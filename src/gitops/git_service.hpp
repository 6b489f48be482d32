#pragma once
// Private: tuna's git endpoint.
//   ANY  /git/{ns}/{repo}.git/...                       git smart HTTP, served by `git http-backend` (CGI,
//                                                       its output streamed as it is produced)
//   GET  /apis/tuna.ai/v1alpha1/namespaces/{ns}/repositories          list
//   POST /apis/tuna.ai/v1alpha1/namespaces/{ns}/repositories          create ({"name": "..."})
//   GET|DELETE .../namespaces/{ns}/repositories/{name}                read, delete
//   POST /internal/git/hooks/{pre-receive|post-receive|status}        called by the repositories' hooks
// Bare repositories live in <root>/{ns}/{repo}.git. The hooks are tiny scripts that exec
// `tuna repo hook ...`, which posts the ref updates to the internal routes of the same server
// (URL and a per-server secret reach it through the CGI environment); see docs/gitops.md.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "net/http_types.hpp"
#include "tuna/artifacts.hpp"
#include "tuna/auth.hpp"
#include "tuna/status.hpp"
#include "tuna/store.hpp"

namespace tuna::gitops {

struct GitServiceOptions {
  std::filesystem::path root;  // <data-dir>/git; created if missing
  Store* store = nullptr;
  ArtifactStore* artifacts = nullptr;  // null: pushes are validated but deploy nothing
  /// The server's own URL (known once it listens): hooks call back to it; push output prints it.
  std::function<std::string()> server_url;
  /// Identifies a request's "Authorization: Bearer ..." (the API's authenticator). Clones and
  /// reads need the invoke scope in the repository's namespace, pushes and repository changes write.
  std::function<Result<auth::Principal>(const net::HttpRequest&)> authenticate;
  /// The `tuna` binary the hooks exec; empty: this process's executable.
  std::string hook_binary;
  /// PATH for git and its hooks.
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  std::size_t max_push_bytes = 4 << 20;               // GIT_HTTP_MAX_REQUEST_BUFFER
  /// The server's handler budget: bounds the wait for `git http-backend`'s header block only;
  /// the rest of its output is streamed.
  std::chrono::milliseconds request_timeout{60000};
  /// How long a push waits for its build and deploy; the whole push is then bounded by this plus
  /// 180 s (receiving the pack, the hooks' calls), after which `git http-backend` is killed.
  std::chrono::seconds wait_timeout{120};
  /// `git http-backend` children running at once (each has a thread); 503 beyond.
  std::size_t max_concurrent_git = 32;
};

class GitService {
 public:
  static Result<std::unique_ptr<GitService>> Make(GitServiceOptions options);
  ~GitService();

  /// Answers the request if it is one of the git routes (authenticates it itself).
  std::optional<net::HttpResponse> Handle(net::HttpRequest& req);

  class Impl;

 private:
  explicit GitService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tuna::gitops
