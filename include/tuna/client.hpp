#pragma once
/// Client: the typed client of tuna's REST API (docs/api.md), used by the `tuna` command line,
/// C++ programs and the Python package. Every call returns Status/Result; no exception escapes.
///
/// Thread safety: a Client may be shared by many threads; each call uses its own HTTP handle
/// (idle handles are pooled, so connections are kept alive between calls).

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tuna/auth.hpp"
#include "tuna/resources/object.hpp"
#include "tuna/status.hpp"
#include "tuna/events.hpp"
#include "tuna/store.hpp"

namespace tuna {

inline constexpr std::string_view kDefaultServerUrl = "http://127.0.0.1:7070";

struct ClientOptions {
  std::string server{kDefaultServerUrl};  // "http://host:port", optionally with a path prefix
  std::string token;                       // bearer token; empty: no Authorization header
  std::chrono::milliseconds timeout{30000};          // whole unary request
  std::chrono::milliseconds connect_timeout{5000};   // TCP connect, also for watches
  std::string user_agent;                  // empty: "tuna-client/<version>"
};

/// Options of writes (create, update, patch).
struct WriteOptions {
  bool dry_run = false;  // ?dryRun=All: admission runs, nothing is written
};

/// One kind as the server's discovery document describes it.
struct ApiResourceInfo {
  std::string kind;           // "AgentDeployment"
  std::string name;           // plural, "agentdeployments"
  std::string singular_name;  // "agentdeployment"
  std::vector<std::string> short_names;
  bool namespaced = true;
  bool operator==(const ApiResourceInfo&) const = default;
};

/// Lets another thread end a running Watch (the call then returns kCancelled within ~1 s).
class CancelToken {
 public:
  /// Requests cancellation; safe from any thread, idempotent.
  void Cancel() { cancelled_.store(true); }
  /// True once Cancel() was called.
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::atomic<bool> cancelled_{false};
};

/// Options of one watch stream beyond what to watch (WatchOptions).
struct WatchStreamOptions {
  /// Server-side stream duration (timeoutSeconds); zero: the server's default.
  std::chrono::seconds timeout{0};
  /// When set, Cancel() ends the stream.
  const CancelToken* cancel = nullptr;
};

/// Called for every ADDED/MODIFIED/DELETED event, in order; return false to end the watch.
/// A piece of a build's log (GET .../{agentbuilds|mcpserverbuilds}/{name}/log).
struct BuildLogChunk {
  std::string text;
  std::size_t next_offset = 0;  // ask from here next time
  bool complete = false;        // the build is terminal and this is the end of its log
  std::string phase;            // the build's phase when read
};

using WatchCallback = std::function<bool(const WatchEvent&)>;

/// A git repository served by the server (docs/gitops.md).
struct RepositoryInfo {
  std::string name;
  std::string namespace_;
  std::string url;  // clone/push URL: {server}/git/{namespace}/{name}.git
  bool operator==(const RepositoryInfo&) const = default;
};

class Client {
 public:
  virtual ~Client() = default;

  /// Builds a client; checks the server URL (http or https) but does not connect.
  static Result<std::unique_ptr<Client>> Make(ClientOptions options);

  /// The server URL without a trailing slash.
  virtual const std::string& server() const = 0;

  /// Reads one object (kind: canonical kind name).
  virtual Result<Resource> Get(const ObjectKey& key) = 0;
  /// Lists one page of a kind; an empty namespace lists all namespaces.
  virtual Result<ResourceList> List(const ListOptions& options) = 0;
  /// Lists every page (following continue tokens); `options.limit` is the page size.
  virtual Result<ResourceList> ListAll(const ListOptions& options) = 0;
  /// Creates an object (POST); returns it as stored.
  virtual Result<Resource> Create(const Resource& object, WriteOptions options = {}) = 0;
  /// Replaces an object (PUT); a non-empty metadata.resourceVersion must match (else kConflict).
  virtual Result<Resource> Update(const Resource& object, WriteOptions options = {}) = 0;
  /// Replaces the status sub-resource (PUT .../status).
  virtual Result<Resource> UpdateStatus(const Resource& object, WriteOptions options = {}) = 0;
  /// Applies a JSON merge patch (RFC 7386) to the object or its status sub-resource.
  virtual Result<Resource> Patch(const ObjectKey& key, std::string_view merge_patch,
                                 Subresource subresource = Subresource::kMain,
                                 WriteOptions options = {}) = 0;
  /// Deletes an object (cascading to owned objects); returns the deleted object.
  virtual Result<Resource> Delete(const ObjectKey& key, DeleteOptions options = {}) = 0;
  /// Streams watch events to `on_event` until the server ends the stream (OK), the callback
  /// returns false (OK), `stream.cancel` fires (kCancelled), or an error: a transport error or
  /// an ERROR event (e.g. kGone: re-list, then watch again). WatchOptions.name filters locally.
  virtual Status Watch(const WatchOptions& options, const WatchCallback& on_event,
                       WatchStreamOptions stream = {}) = 0;
  /// Recent events of an object (GET .../{name}/events), oldest first.
  virtual Result<std::vector<ObjectEvent>> ListEvents(const ObjectKey& key) = 0;
  /// Reads a build's log from `offset` (key.kind: AgentBuild or MCPServerBuild).
  virtual Result<BuildLogChunk> ReadBuildLog(const ObjectKey& key, std::size_t offset) = 0;
  /// What a stage's running revision wrote (key.kind: AgentDeployment or MCPServerDeployment;
  /// stage "staging" or "production"): the last `tail_bytes` of each replica's output, each
  /// under a "==> worker N <==" heading (GET .../{name}/log?stage=&tailBytes=).
  virtual Result<std::string> ReadDeploymentLogs(const ObjectKey& key, std::string_view stage, std::size_t tail_bytes) = 0;
  /// Uploads an archive (a snapshot, tar.gz) to the server's artifact store (POST /artifacts);
  /// returns its digest ("sha256:...").
  virtual Result<std::string> UploadArtifact(std::string_view bytes) = 0;
  /// The kinds the server serves (GET /apis/tuna.ai/v1alpha1).
  virtual Result<std::vector<ApiResourceInfo>> Discovery() = 0;
  /// The server's version string (GET /version).
  virtual Result<std::string> Version() = 0;
  /// OK when GET /healthz answers "ok" (no token needed).
  virtual Status Health() = 0;
  /// Creates an empty git repository (POST .../namespaces/{ns}/repositories).
  virtual Result<RepositoryInfo> CreateRepository(std::string_view ns, std::string_view name) = 0;
  /// Lists a namespace's git repositories, by name.
  virtual Result<std::vector<RepositoryInfo>> ListRepositories(std::string_view ns) = 0;
  /// Deletes a git repository and its history (the deployments it made stay).
  virtual Status DeleteRepository(std::string_view ns, std::string_view name) = 0;
  /// Creates an API key (needs admin in its namespace); the token is in the answer, only there.
  virtual Result<auth::CreatedKey> CreateApiKey(const auth::CreateKeyRequest& request) = 0;
  /// A namespace's API keys (never their tokens).
  virtual Result<std::vector<auth::ApiKeyInfo>> ListApiKeys(std::string_view ns) = 0;
  /// Revokes an API key at once.
  virtual Status DeleteApiKey(std::string_view ns, std::string_view name) = 0;
};
using ClientPtr = std::unique_ptr<Client>;

/// Maps an HTTP error response (status code and Kubernetes Status body, possibly empty or not
/// JSON) to a Status: the server's code, message and field; the request id is appended to the
/// message as " (request id X)". `request_id_header` is used when the body has none.
Status StatusFromHttpError(int http_status, std::string_view body, std::string_view request_id_header = {});

}  // namespace tuna
