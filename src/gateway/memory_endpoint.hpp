#pragma once
// Private: the AgentMemory read/write API on the gateway, scoped to an agent and a context:
//   GET    /memory/{ns}/{agent}/{memory}/{context}         conversation entries (?after=SEQ&limit=N), or kv keys (?after=KEY)
//   POST   /memory/{ns}/{agent}/{memory}/{context}         append a conversation entry (a JSON object with role, content|parts)
//   DELETE /memory/{ns}/{agent}/{memory}/{context}         forget the context
//   GET|PUT|DELETE /memory/{ns}/{agent}/{memory}/{context}/{key}   one key-value entry
// The agent's AgentResourceBinding must list the memory; a `readOnly` listing refuses writes (403).

#include "gateway/gateway.hpp"
#include "tuna/memory.hpp"
#include "tuna/store.hpp"

namespace tuna::gateway {

class MemoryEndpoints final : public EndpointHandler {
 public:
  MemoryEndpoints(Store& store, session::SessionStore& sessions) : store_(store), memory_(sessions) {}
  net::HttpResponse Handle(net::HttpRequest& request, const Target& target, const auth::Principal& principal,
                           const std::string& public_base_url) override;

 private:
  Store& store_;
  memory::AgentMemoryStore memory_;
};

}  // namespace tuna::gateway
