#pragma once
// Private: the gateway's A2A endpoints, one per AgentDeployment stage. The gateway runs tuna's
// A2A server (tasks, history, cancel, subscribe; in the session store) and calls the deployed
// agent with the agent handler protocol (docs/gateway.md):
//
//   POST /a2a/execute   {"taskId", "contextId", "message", "history", "metadata", "agent"}
//   200 application/x-ndjson: one A2A 1.0 stream event per line, as the agent produces them:
//     {"statusUpdate": {"status": {"state": "TASK_STATE_WORKING", "message"?}}}
//     {"artifactUpdate": {"artifact": {...}, "append"?, "lastChunk"?}}
//     {"message": {...}}            (a direct answer: no task)
//
// Cancellation closes the connection to the worker. The card is built from the agent's
// AgentCatalogue with its URL rewritten to the gateway.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "gateway/gateway.hpp"
#include "tuna/session.hpp"
#include "tuna/store.hpp"

namespace tuna::controllers {
class WorkloadControllers;
}

namespace tuna::gateway {

struct AgentEndpointOptions {
  Store* store = nullptr;                                // required
  controllers::WorkloadControllers* controllers = nullptr;  // null: agents answer "not running"
  session::SessionStore* sessions = nullptr;             // required: tasks and history
  /// How long one agent call (one message's handling) may take.
  std::chrono::milliseconds call_timeout{std::chrono::minutes(10)};
  std::chrono::hours task_ttl{24};
  std::size_t max_concurrent_tasks_per_agent = 64;
  std::size_t max_queued_tasks_per_agent = 256;
};

class AgentEndpoints final : public EndpointHandler {
 public:
  explicit AgentEndpoints(AgentEndpointOptions options);
  ~AgentEndpoints() override;
  net::HttpResponse Handle(net::HttpRequest& request, const Target& target, const auth::Principal& principal,
                           const std::string& public_base_url) override;
  /// Cancels running tasks of every agent and stops taking new ones.
  void Shutdown();
  /// Agents with a live A2A server in this process (metrics).
  std::size_t size() const;

  struct Agent;

 private:
  Result<std::shared_ptr<Agent>> AgentFor(const Target& target);
  net::HttpResponse Card(const net::HttpRequest& request, const Target& target, const std::string& base);

  AgentEndpointOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Agent>> agents_;  // "ns/name/stage"
  bool shut_down_ = false;
};

}  // namespace tuna::gateway
