#pragma once
// The REST API (docs/api.md) over a Store and the admission functions: routing, auth, body
// codecs, Kubernetes Status errors, lists and watches. Transport-free: it answers
// net::HttpRequest with net::HttpResponse and runs on the HTTP server's worker threads.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "net/http_types.hpp"
#include "tuna/auth.hpp"
#include "tuna/status.hpp"
#include "tuna/store.hpp"

namespace tuna::metrics {
class Registry;
class Gauge;
}  // namespace tuna::metrics

namespace tuna::api {

struct ApiOptions {
  std::string admin_token;  // the server's admin token (every namespace); used when `keys` is null
  const auth::KeyStore* keys = nullptr;  // API keys (and the admin token); not owned
  std::size_t max_watches = 256;
  std::chrono::seconds max_watch_duration{1800};
  metrics::Registry* metrics = nullptr;  // tuna_api_* metrics; may be null
};

class ApiHandler {
 public:
  ApiHandler(Store& store, ApiOptions options);
  ~ApiHandler();

  /// Handles every path under /apis.
  net::HttpResponse Handle(net::HttpRequest& req);
  /// Checks the Bearer token (constant time). OK or Unauthenticated.
  Status Authenticate(const net::HttpRequest& req) const;
  /// Who the request is (the Bearer token's principal); Unauthenticated otherwise.
  Result<auth::Principal> Identify(const net::HttpRequest& req) const;
  std::size_t open_watches() const;

  struct Shared;  // counters that outlive the handler while watch streams drain

 private:
  Store& store_;
  ApiOptions options_;
  std::shared_ptr<Shared> shared_;
};

/// Kubernetes watch-event type name ("ADDED", ...).
std::string_view WatchEventName(WatchEventType type);

}  // namespace tuna::api
