#pragma once
// Private: the API-key routes beside the REST API (docs/auth.md):
//   POST   /apis/tuna.ai/v1alpha1/namespaces/{ns}/apikeys         create; the token is in the answer, once
//   GET    /apis/tuna.ai/v1alpha1/namespaces/{ns}/apikeys         list (never tokens)
//   GET    /apis/tuna.ai/v1alpha1/namespaces/{ns}/apikeys/{name}  one key
//   DELETE /apis/tuna.ai/v1alpha1/namespaces/{ns}/apikeys/{name}  revoke at once
// Each needs the admin scope in {ns}.

#include <optional>

#include "net/http_types.hpp"
#include "tuna/auth.hpp"

namespace tuna::server {

class KeyRoutes {
 public:
  explicit KeyRoutes(auth::KeyStore& keys) : keys_(keys) {}
  /// Answers the request if it is one of these routes; `principal` is the caller.
  std::optional<net::HttpResponse> Handle(const net::HttpRequest& req, const auth::Principal& principal);

 private:
  auth::KeyStore& keys_;
};

}  // namespace tuna::server
