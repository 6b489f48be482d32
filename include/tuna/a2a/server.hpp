#pragma once
/// The transport-independent A2A server core: an agent implements AgentExecutor; a2a::Server
/// answers the JSON-RPC methods of A2A 1.0 (SendMessage, SendStreamingMessage, GetTask,
/// ListTasks, CancelTask, SubscribeToTask, push-config methods, GetExtendedAgentCard) and their
/// 0.3 names (message/send, message/stream, tasks/get, tasks/cancel, tasks/resubscribe,
/// tasks/pushNotificationConfig/*) in the shapes of the version the client speaks. Tasks live in
/// a session::SessionStore, so another Server over the same store reads them; live event fan-out
/// (streams, resubscribe, blocking waits) is in memory. See docs/a2a.md.
///
/// HTTP: tuna/a2a/http_server.hpp. Never throws.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "tuna/a2a/types.hpp"
#include "tuna/jsonrpc.hpp"
#include "tuna/session.hpp"
#include "tuna/status.hpp"

namespace tuna::a2a {

/// A2A error codes (JSON-RPC binding).
inline constexpr int kTaskNotFound = -32001;
inline constexpr int kTaskNotCancelable = -32002;
inline constexpr int kPushNotificationNotSupported = -32003;
inline constexpr int kUnsupportedOperation = -32004;
inline constexpr int kContentTypeNotSupported = -32005;
inline constexpr int kInvalidAgentResponse = -32006;
inline constexpr int kExtendedAgentCardNotConfigured = -32007;
inline constexpr int kVersionNotSupported = -32009;

/// Set once by the server when the task is canceled (CancelTask) or the server stops; a running
/// handler polls it or waits on it. Thread-safe.
class CancellationToken {
 public:
  /// True once cancellation was requested.
  bool cancelled() const;
  /// Waits up to `timeout` for cancellation; true when cancelled.
  bool WaitFor(std::chrono::milliseconds timeout) const;
  /// Requests cancellation (idempotent); wakes every waiter.
  void Cancel();

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool cancelled_ = false;
};

/// What a handler gets for one incoming message.
struct RequestContext {
  std::string task_id;     // the task this message belongs to (new or continued)
  std::string context_id;  // the conversation (from the message, the task, or new)
  Message message;         // the incoming user message (task and context ids filled in)
  /// The continued task as it was before this message (nullopt for a new task).
  std::optional<Task> task;
  /// The task's prior history, oldest first, without `message` (empty for a new task).
  std::vector<Message> history;
  json::object metadata;   // the request's params.metadata
  Version version = Version::kV1_0;  // the client's wire version (informational)
  std::shared_ptr<const CancellationToken> cancellation;
  /// Transport facts of the call that brought the message (CallContext::headers): lets an
  /// executor that calls further (the gateway's remote agents) pass on X-Request-Id and
  /// traceparent.
  std::vector<std::pair<std::string, std::string>> call_headers;

  /// Shorthand for cancellation->cancelled().
  bool cancelled() const { return cancellation && cancellation->cancelled(); }
};

/// Where a handler publishes its results. Either one Message (a direct answer: no task is
/// created) or task events: status updates and artifact updates. Agent messages get their
/// message id, role (agent), task id and context id filled in when empty. After a terminal
/// state (completed, failed, canceled, rejected) every publish is FailedPrecondition.
/// Thread-safe.
class EventQueue {
 public:
  virtual ~EventQueue() = default;
  /// Answers with a message and no task; only allowed before any task event.
  virtual Status PublishMessage(Message message) = 0;
  /// Moves the task to `state`; `message` (role agent) goes into the status and the history.
  virtual Status UpdateStatus(TaskState state, std::optional<Message> message = std::nullopt,
                              json::object metadata = {}) = 0;
  /// Adds an artifact, or with `append` adds its parts to the artifact with the same id.
  virtual Status UpdateArtifact(Artifact artifact, bool append = false, bool last_chunk = false) = 0;
  virtual const std::string& task_id() const = 0;
  virtual const std::string& context_id() const = 0;

  /// UpdateStatus(kWorking) with an optional agent text.
  Status Working(std::string text = {});
  /// UpdateStatus(kCompleted) with an optional agent text.
  Status Complete(std::string text = {});
  /// UpdateStatus(kFailed) with an agent text saying why.
  Status Fail(std::string text);
  /// UpdateStatus(kInputRequired) with the question for the user.
  Status RequireInput(std::string text);
  /// PublishMessage of one agent text.
  Status Reply(std::string text);
};

/// The agent. Execute runs on the server's executor threads (it may block, and should return
/// soon after cancellation). Outcomes: a Message published -> the answer; a terminal or
/// interrupted state -> the task; returning OK with the task still submitted/working -> the
/// task is completed; a non-OK status or an exception -> the task fails with that message.
class AgentExecutor {
 public:
  virtual ~AgentExecutor() = default;
  /// Handles one incoming message.
  virtual Status Execute(const RequestContext& context, EventQueue& events) = 0;
  /// Called when CancelTask reaches a running task, after its token fired (on the caller's
  /// thread; must not block). Default: nothing (the token is enough for most handlers).
  virtual void Cancel(const std::string& task_id) { (void)task_id; }
};

struct ServerOptions {
  AgentCard card;
  /// Keys are "a2a/<scope>/task/<id>", "a2a/<scope>/history/<id>", "a2a/<scope>/context/<ctx>/<id>":
  /// servers sharing a store and a scope share tasks.
  std::string scope = "default";
  /// Tasks (and their history) expire this long after their last change.
  std::chrono::milliseconds task_ttl{std::chrono::hours(24)};
  /// Executions running at once (executor threads); beyond it plus `max_queued_tasks` waiting,
  /// SendMessage is refused (-32603, "busy").
  std::size_t max_concurrent_tasks = 16;
  std::size_t max_queued_tasks = 64;
  /// History messages kept per task (oldest dropped).
  std::size_t max_history = 100;
  /// A blocking SendMessage returns the task in its current state after this long.
  std::chrono::milliseconds blocking_timeout{std::chrono::seconds(50)};
  /// Events buffered per stream before its consumer attaches or while it is slow (beyond: the
  /// stream ends with an error event; the client can SubscribeToTask again).
  std::size_t max_stream_backlog = 1024;
  /// ListTasks: default and largest page size; at most `max_list_scan` tasks are considered.
  std::size_t default_page_size = 50;
  std::size_t max_page_size = 100;
  std::size_t max_list_scan = 10000;
  /// Write-behind of a running task: a change reaches the store at most this long after it is
  /// made while the task runs; creation and intermediate updates of a task that ends sooner are
  /// written once, with its end. The end of a task (terminal state) and input-required are
  /// written at once. Readers of this server (GetTask, ListTasks, SubscribeToTask, the
  /// SendMessage answer) see live tasks from memory, never stale; other processes sharing the
  /// store see a running task up to this late. 0: every change is written when it happens.
  std::chrono::milliseconds persist_interval{std::chrono::milliseconds(250)};
};

/// Per-call transport facts.
struct CallContext {
  /// The A2A-Version header as sent; nullopt when absent (then the method name decides).
  std::optional<std::string> version_header;
  std::string request_id;  // for logs
  /// Headers handed to the executor in RequestContext::call_headers (request id, trace context).
  std::vector<std::pair<std::string, std::string>> headers;
};

/// A live stream of JSON-RPC response objects (each carrying the request's id), for
/// SendStreamingMessage and SubscribeToTask.
class EventStream {
 public:
  virtual ~EventStream() = default;
  /// Starts delivery: `on_event` gets every response, the buffered ones first, then each as it
  /// is produced (on the producing thread; it must not block). Returning false stops delivery
  /// (consumer gone or full). `on_end` runs once after the last event. Call once.
  virtual void Attach(std::function<bool(const json::value& response)> on_event, std::function<void()> on_end) = 0;
  /// The consumer went away; nothing more is delivered. Idempotent.
  virtual void Detach() = 0;
};
using EventStreamPtr = std::shared_ptr<EventStream>;

/// The answer to one JSON-RPC message.
struct Reply {
  /// A response object (result or error); null when `stream` is set or for a notification.
  json::value response;
  /// Set for a streaming method that started a stream.
  EventStreamPtr stream;
  /// The wire version the call was answered in.
  Version version = Version::kV1_0;
};

class Server;
using ServerPtr = std::unique_ptr<Server>;

class Server {
 public:
  /// `executor` and `store` must outlive the server.
  static Result<ServerPtr> Make(AgentExecutor& executor, session::SessionStore& store, ServerOptions options);
  /// Cancels running tasks and joins the executor threads.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Answers one parsed JSON-RPC message. Thread-safe; a blocking SendMessage blocks the caller.
  Reply Call(const jsonrpc::Message& message, const CallContext& context = {});
  /// Parses `body` and answers it (-32700 / -32600 responses for garbage).
  Reply CallText(std::string_view body, const CallContext& context = {});
  /// Like Call, without holding the calling thread while a SendMessage (message/send) waits for
  /// its task: `done` gets the reply once, from the thread that settles the task (an executor
  /// thread, or the flusher at `blocking_timeout`), or at once from the calling thread. Other
  /// methods are answered at once. `done` must not block. For a server that must not park a
  /// thread per waiting call (a2a::HttpServer answers SendMessage from its I/O threads).
  void CallAsync(const jsonrpc::Message& message, const CallContext& context, std::function<void(Reply)> done);

  /// The card as configured.
  const AgentCard& card() const;
  /// The card JSON served at /.well-known/agent-card.json, with `endpoint_url` as the JSON-RPC url.
  json::value CardJson(std::string_view endpoint_url) const;

  /// Typed reads for embedders: the stored task (NotFound when absent or expired).
  Result<Task> GetTask(std::string_view task_id, std::optional<std::size_t> history_length = std::nullopt);
  /// Executions currently running or queued in this process.
  std::size_t ActiveTasks() const;
  /// Cancels every running task and stops taking new ones; idempotent.
  void Shutdown();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tuna::a2a
