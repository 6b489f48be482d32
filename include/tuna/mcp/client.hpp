#pragma once
/// tuna's MCP (Model Context Protocol) client: a `Client` that speaks revisions 2025-11-25 and
/// 2025-06-18 over a `ClientTransport` (Streamable HTTP, stdio child process, or a function the
/// embedding program supplies). Thread-safe: several calls may be in flight over one session.
/// See docs/mcp.md ("Client").

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "tuna/jsonrpc.hpp"
#include "tuna/mcp/server.hpp"  // protocol versions, ToolResult, ResourceContents, PromptMessage
#include "tuna/status.hpp"

namespace tuna::mcp {

/// A point in time after which a call gives up with kDeadlineExceeded.
using Deadline = std::chrono::steady_clock::time_point;

/// HTTP header name and value.
using Header = std::pair<std::string, std::string>;

/// Handles a message the server sent on its own (not the response to a request): a
/// notification (the return value is ignored) or a server-to-client request, for which it
/// returns the whole JSON-RPC response to send back. Runs on a transport thread; must not wait
/// for a response from the same transport.
using IncomingHandler = std::function<std::optional<boost::json::value>(const jsonrpc::Message& message)>;

/// The answer tuna gives a server-to-client request nobody handles: `ping` gets an empty
/// result, anything else (sampling, roots, elicitation) -32601.
boost::json::value DefaultReply(const jsonrpc::Message& request);

/// Per-request context handed to a transport.
struct RequestContext {
  Deadline deadline = Deadline::max();
  /// Extra HTTP headers for this request only (traceparent, X-Request-Id); other transports
  /// ignore them.
  std::vector<Header> headers;
};

/// Carries JSON-RPC messages between a Client and one MCP server. An extension point: the
/// gateway may implement its own. All methods are thread-safe.
///
/// Status codes a transport returns, and what the Client does with them:
///   kNotFound          the session is gone (HTTP 404 after initialize); the Client initializes again
///   kDeadlineExceeded  no answer before the deadline; the Client sends notifications/cancelled
///   kUnavailable       the server cannot be reached or the process died; the message says why
///   kCancelled         the transport was closed
class ClientTransport {
 public:
  virtual ~ClientTransport() = default;
  /// Starts the transport (spawns the process, ...). `incoming` receives server-initiated
  /// messages; null answers requests with DefaultReply.
  virtual Status Start(IncomingHandler incoming) = 0;
  /// Sends a request and waits for its response or error response. Notifications and requests
  /// the server sends while answering (progress) go to the incoming handler first.
  virtual Result<jsonrpc::Message> Request(const boost::json::value& request, const RequestContext& context) = 0;
  /// Sends a notification, or a response to a server request; waits for no answer.
  virtual Status Send(const boost::json::value& message, const RequestContext& context) = 0;
  /// The initialize handshake finished (HTTP opens its GET stream for server messages now).
  virtual void SessionReady() {}
  /// Forgets the session before the Client initializes again (HTTP drops Mcp-Session-Id).
  virtual void ResetSession() {}
  /// The session's id as the server named it (HTTP: Mcp-Session-Id); empty when there is none.
  virtual std::string SessionId() { return {}; }
  /// Ends the session (HTTP: DELETE; stdio: close stdin, then SIGTERM, then SIGKILL) and fails
  /// requests in flight with kCancelled. Idempotent.
  virtual void Close() = 0;
};
using ClientTransportPtr = std::unique_ptr<ClientTransport>;

/// Streamable HTTP (MCP 2025-06-18 / 2025-11-25) over libcurl.
struct HttpTransportOptions {
  /// The MCP endpoint, e.g. "http://127.0.0.1:8080/mcp".
  std::string url;
  /// Sent with every HTTP request of this client (Authorization, ...).
  std::vector<Header> headers;
  /// Called before every HTTP request for headers that change (a refreshed token); optional.
  std::function<std::vector<Header>()> header_source;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  /// After initialize, keep a GET SSE stream open for server-initiated messages (a server that
  /// answers 405 has none; that is fine).
  bool open_event_stream = true;
  /// Wait before reconnecting an SSE stream when the server sent no `retry`; doubled on each
  /// failed attempt up to `max_reconnect_delay`.
  std::chrono::milliseconds reconnect_delay{std::chrono::seconds(1)};
  std::chrono::milliseconds max_reconnect_delay{std::chrono::seconds(30)};
  /// Attempts in a row that bring no new event when resuming a POST's SSE stream (GET with
  /// Last-Event-ID) that ended before its response.
  int max_resume_attempts = 3;
  /// Largest JSON body or SSE event accepted.
  std::size_t max_message_bytes = 16 << 20;
  /// Send DELETE for the session on Close().
  bool delete_session_on_close = true;
};
/// Builds a Streamable HTTP transport. InvalidArgument for a URL that is not http(s).
Result<ClientTransportPtr> MakeHttpTransport(HttpTransportOptions options);

/// stdio: a child process speaking newline-delimited JSON-RPC on stdin/stdout.
struct StdioTransportOptions {
  /// The command; argv[0] is looked up in env's PATH.
  std::vector<std::string> argv;
  /// The child's environment. Nothing else is passed unless `inherit_environment`.
  std::map<std::string, std::string> env;
  /// Start from this process's environment (then apply `env`).
  bool inherit_environment = false;
  /// Working directory; empty: this process's.
  std::filesystem::path cwd;
  /// Each line the child writes to stderr; null: logged at info level.
  std::function<void(std::string_view line)> on_stderr;
  /// Largest message line accepted; longer lines are skipped.
  std::size_t max_message_bytes = 16 << 20;
  /// On Close: wait this long after closing stdin, then SIGTERM, wait again, then SIGKILL.
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(2)};
};
/// Builds a stdio transport; the child starts in Start(). InvalidArgument without argv.
Result<ClientTransportPtr> MakeStdioTransport(StdioTransportOptions options);

/// What a TransportFunction gets besides the message.
struct FunctionContext {
  Deadline deadline = Deadline::max();
  std::vector<Header> headers;
  /// Delivers a message the server sent while answering (a progress notification, a server
  /// request); call it before returning the reply.
  std::function<void(const boost::json::value& message)> emit;
};
/// Answers one message: a request's response (or error response), or null for a notification
/// or response. A non-OK status is a transport failure (kNotFound: the session is gone).
using TransportFunction =
    std::function<Result<boost::json::value>(const boost::json::value& message, const FunctionContext& context)>;
/// A transport that hands each message to `function` (the gateway tunnels MCP over its
/// executors with it; tests call a Server directly).
ClientTransportPtr MakeFunctionTransport(TransportFunction function);

/// What the server said about itself in initialize.
struct ServerInfo {
  std::string protocol_version;       // negotiated revision
  boost::json::object capabilities;   // {"tools":{...},"resources":{...},...}
  boost::json::object server_info;    // {"name","version","title"?,...} as sent
  std::string name;
  std::string version;
  std::string instructions;
  /// True when `capabilities` has `name` ("tools", "resources", "prompts", "logging", ...).
  bool HasCapability(std::string_view capability) const;
};

/// One notifications/progress for a call.
struct Progress {
  double progress = 0;
  std::optional<double> total;
  std::string message;
};
using ProgressCallback = std::function<void(const Progress& progress)>;

/// Per-call options.
struct CallOptions {
  /// 0: ClientOptions::request_timeout. On expiry the call fails with kDeadlineExceeded and
  /// the server gets notifications/cancelled.
  std::chrono::milliseconds timeout{0};
  /// Set: the request carries a progressToken and each notifications/progress arrives here
  /// (on a transport thread, before the call returns).
  ProgressCallback on_progress;
  /// Extra HTTP headers for this call (Streamable HTTP only).
  std::vector<Header> headers;
};

struct ClientOptions {
  std::string name = "tuna";  // clientInfo
  std::string version = "0.1.0";
  std::string title;
  /// Client capabilities announced in initialize (tuna handles none of sampling, roots or
  /// elicitation itself; announce them only with an on_request that does).
  boost::json::object capabilities;
  /// The revision offered in initialize; the server may answer 2025-06-18 instead.
  std::string protocol_version = std::string(kLatestProtocolVersion);
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  /// At most this many requests in flight; more wait for a slot until their deadline.
  std::size_t max_in_flight = 64;
  /// Initialize again, once, when the transport reports the session gone, and retry the call.
  bool auto_reinitialize = true;
  /// Server notifications other than progress (notifications/tools/list_changed, message,
  /// resources/updated, ...), delivered in order on the client's own thread.
  std::function<void(const std::string& method, const boost::json::value& params)> on_notification;
  /// At most this many notifications waiting for on_notification; beyond, new ones are dropped
  /// (and logged).
  std::size_t max_queued_notifications = 1024;
  /// Server-to-client requests other than ping (sampling/createMessage, roots/list,
  /// elicitation/create). Null: -32601. An error status becomes a JSON-RPC error.
  std::function<Result<boost::json::value>(const std::string& method, const boost::json::value& params)> on_request;
};

/// A tool as listed by tools/list.
struct ToolInfo {
  std::string name;
  std::string title;
  std::string description;
  boost::json::object input_schema;
  std::optional<boost::json::object> output_schema;
  boost::json::object raw;  // the whole object as sent (annotations, icons, _meta)
};

struct ResourceInfo {
  std::string uri;
  std::string name;
  std::string title;
  std::string description;
  std::string mime_type;
  boost::json::object raw;
};

struct ResourceTemplateInfo {
  std::string uri_template;
  std::string name;
  std::string title;
  std::string description;
  std::string mime_type;
  boost::json::object raw;
};

struct PromptInfo {
  std::string name;
  std::string title;
  std::string description;
  std::vector<PromptArgument> arguments;
  boost::json::object raw;
};

struct PromptResult {
  std::string description;
  std::vector<PromptMessage> messages;
};

/// The Status for a JSON-RPC error response to `method`: -32602 → kInvalidArgument, -32601 →
/// kUnimplemented, -32002 (resource not found) → kNotFound, others → kInternal. The message
/// names the method, the server's message and the code.
Status StatusFromJsonRpcError(std::string_view method, const jsonrpc::Error& error);

class Client;
using ClientPtr = std::unique_ptr<Client>;

/// An MCP client over one transport. Call Initialize() first (Connect() does both). Every
/// method is thread-safe; calls made while the session is being initialized again wait for it
/// (until their deadline) and never go out on a half-initialized session.
class Client {
 public:
  /// Builds a client; does not start the transport.
  static ClientPtr Make(ClientTransportPtr transport, ClientOptions options = {});
  /// Make() + Initialize().
  static Result<ClientPtr> Connect(ClientTransportPtr transport, ClientOptions options = {});
  ~Client();  // Close()s
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Starts the transport (first time) and performs the initialize handshake. FailedPrecondition
  /// when the server answers a revision tuna does not speak.
  Status Initialize(const CallOptions& options = {});
  /// Forgets the session and initializes a new one (calls in flight on the old one fail or retry).
  Status Reinitialize(const CallOptions& options = {});
  /// What the server announced in the last successful initialize.
  ServerInfo server_info() const;
  /// How many times a session was initialized (1 after Initialize, +1 per re-initialize).
  std::uint64_t session_generation() const;
  /// The live session for relays that send messages on it themselves (the gateway's MCP relay):
  /// the transport's session id (Streamable HTTP: Mcp-Session-Id) and the negotiated protocol
  /// version. nullopt while the session is not ready (initializing again, closed) or the
  /// transport names no session (stdio, function transports).
  struct SessionRef {
    std::string id;
    std::string protocol_version;
  };
  std::optional<SessionRef> session_ref() const;

  /// ping.
  Status Ping(const CallOptions& options = {});
  /// tools/list, following nextCursor through every page.
  Result<std::vector<ToolInfo>> ListTools(const CallOptions& options = {});
  /// tools/call. A tool that failed is a ToolResult with is_error (the model should see it);
  /// a JSON-RPC error (unknown tool, bad arguments: -32602) is a non-OK status (kInvalidArgument).
  Result<ToolResult> CallTool(std::string_view name, boost::json::object arguments = {}, const CallOptions& options = {});
  /// resources/list, every page.
  Result<std::vector<ResourceInfo>> ListResources(const CallOptions& options = {});
  /// resources/templates/list, every page.
  Result<std::vector<ResourceTemplateInfo>> ListResourceTemplates(const CallOptions& options = {});
  /// resources/read.
  Result<std::vector<ResourceContents>> ReadResource(std::string_view uri, const CallOptions& options = {});
  /// prompts/list, every page.
  Result<std::vector<PromptInfo>> ListPrompts(const CallOptions& options = {});
  /// prompts/get.
  Result<PromptResult> GetPrompt(std::string_view name, const std::map<std::string, std::string>& arguments = {},
                                 const CallOptions& options = {});

  /// Any request; the result value, or a JSON-RPC error as a status (StatusFromJsonRpcError).
  Result<boost::json::value> Call(std::string_view method, boost::json::object params = {}, const CallOptions& options = {});
  /// Any request; the response message as received, error responses included (for forwarding
  /// them unchanged). Transport failures are statuses.
  Result<jsonrpc::Message> CallRaw(std::string_view method, boost::json::object params = {}, const CallOptions& options = {});
  /// Sends a notification.
  Status Notify(std::string_view method, boost::json::object params = {});

  /// Ends the session and closes the transport; later calls fail with kCancelled. Idempotent.
  void Close();

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tuna::mcp
