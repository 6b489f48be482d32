#pragma once
/// An A2A client over the JSON-RPC binding: fetches the agent card, picks the JSON-RPC interface
/// (1.0 preferred, 0.3 when that is all the agent speaks, or a forced version) and calls
/// SendMessage, SendStreamingMessage (SSE parsed incrementally, one callback per event),
/// GetTask, ListTasks, CancelTask and SubscribeToTask, in the shapes of the chosen version.
/// Thread-safe; each call is one HTTP request (libcurl, kept out of this header). Never throws.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tuna/a2a/server.hpp"
#include "tuna/a2a/types.hpp"
#include "tuna/status.hpp"

namespace tuna::a2a {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct ClientOptions {
  /// Force a wire version; nullopt: the card decides (1.0 when it offers a JSONRPC 1.0
  /// interface, else 0.3).
  std::optional<Version> version;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  /// Whole-request bound of unary calls (streams have none; cancel them instead).
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
  /// Sent on every request (Authorization, ...).
  Headers headers;
  /// A stream event larger than this ends the call with an error.
  std::size_t max_event_bytes = 8 << 20;
};

/// Per-call extras.
struct CallOptions {
  /// Extra headers for this call (X-Request-Id, traceparent, Authorization, ...).
  Headers headers;
  /// Cancels a streaming call (and a unary one) when it fires: the call returns kCancelled.
  std::shared_ptr<const CancellationToken> cancel;
};

struct SendOptions {
  /// false: return as soon as the task exists (1.0 returnImmediately, 0.3 blocking=false).
  bool blocking = true;
  std::optional<std::size_t> history_length;
  std::vector<std::string> accepted_output_modes;
  json::object metadata;
};

struct ListTasksRequest {
  std::string context_id;
  std::optional<TaskState> status;
  std::optional<std::size_t> page_size;
  std::string page_token;
  std::optional<std::size_t> history_length;
  bool include_artifacts = false;
};

struct ListTasksResult {
  std::vector<Task> tasks;
  std::string next_page_token;  // empty at the end
  std::size_t total_size = 0;
};

/// Return false to stop the stream (the call then returns OK).
using EventCallback = std::function<bool(const StreamEvent& event)>;

/// The JSON-RPC error code a failed call carried (-32001 task not found, ...); nullopt for
/// transport and decoding failures.
std::optional<int> RpcErrorCode(const Status& status);

class Client;
using ClientPtr = std::unique_ptr<Client>;

class Client {
 public:
  /// Fetches the card at `<base_url>/.well-known/agent-card.json` and picks its JSONRPC interface.
  static Result<ClientPtr> Connect(const std::string& base_url, ClientOptions options = {});
  /// Talks to a known JSON-RPC endpoint in `version` without fetching a card.
  static Result<ClientPtr> ForEndpoint(const std::string& endpoint_url, Version version, ClientOptions options = {});
  /// Fetches and decodes an agent card (`card_url` is the full URL of the card).
  static Result<AgentCard> FetchCard(const std::string& card_url, const ClientOptions& options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// The card (when connected through one).
  const std::optional<AgentCard>& card() const;
  /// The wire version in use.
  Version version() const;
  /// The JSON-RPC endpoint in use.
  const std::string& endpoint() const;

  /// SendMessage: a Task (in a terminal or interrupted state unless !blocking) or a Message.
  Result<StreamEvent> SendMessage(const Message& message, const SendOptions& send = {}, const CallOptions& call = {});
  /// SendStreamingMessage: `on_event` per event as it arrives; returns when the stream ends.
  Status SendStreamingMessage(const Message& message, const EventCallback& on_event, const SendOptions& send = {},
                              const CallOptions& call = {});
  Result<Task> GetTask(const std::string& task_id, std::optional<std::size_t> history_length = std::nullopt,
                       const CallOptions& call = {});
  /// ListTasks (1.0 only: Unimplemented with a 0.3 agent).
  Result<ListTasksResult> ListTasks(const ListTasksRequest& request, const CallOptions& call = {});
  Result<Task> CancelTask(const std::string& task_id, const CallOptions& call = {});
  /// SubscribeToTask (0.3: tasks/resubscribe): the task's current state, then its live events.
  Status SubscribeToTask(const std::string& task_id, const EventCallback& on_event, const CallOptions& call = {});

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tuna::a2a
