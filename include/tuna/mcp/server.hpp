#pragma once
/// tuna's MCP (Model Context Protocol) server core, independent of any transport: lifecycle
/// (initialize with version negotiation, notifications/initialized, ping) and tools
/// (tools/list with cursor paging, tools/call), resources (list, read, templates, subscribe),
/// prompts (list, get), logging/setLevel and completion/complete.
/// Serves revisions 2025-06-18 and 2025-11-25.
/// Transports (tuna/mcp/streamable_http.hpp) parse JSON-RPC and hand messages to Server.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "tuna/jsonrpc.hpp"
#include "tuna/status.hpp"

namespace tuna::mcp {

inline constexpr std::string_view kProtocol20250618 = "2025-06-18";
inline constexpr std::string_view kProtocol20251125 = "2025-11-25";
/// The newest revision tuna serves (answered when a client asks for one it does not know).
inline constexpr std::string_view kLatestProtocolVersion = kProtocol20251125;

/// The revisions tuna serves, newest first.
const std::vector<std::string>& SupportedProtocolVersions();
/// True when tuna serves this revision.
bool IsSupportedProtocolVersion(std::string_view version);
/// The version to answer an initialize with: the client's if supported, else the latest.
std::string NegotiateProtocolVersion(std::string_view requested);

/// What a tool call produced. A failure the model should see (bad input, an upstream error) is
/// a result with is_error = true, not a JSON-RPC error.
struct ToolResult {
  boost::json::array content;  // content blocks: {"type":"text","text":...}, images, ...
  bool is_error = false;
  /// Structured output (2025-06-18+); must match the tool's outputSchema when it has one.
  std::optional<boost::json::object> structured_content;

  /// One text block.
  static ToolResult Text(std::string text);
  /// One text block with is_error = true.
  static ToolResult Failure(std::string text);
  /// Structured output plus its JSON serialization as a text block (for older clients).
  static ToolResult Structured(boost::json::object value);
  /// The result object of tools/call.
  boost::json::object ToJson() const;
};

/// Sends one server-to-client message (a notification) while a request is being handled.
/// Thread-safe when the transport provides it.
using MessageSink = std::function<void(boost::json::value message)>;

/// Sends a request to the client (sampling/createMessage, elicitation/create, roots/list) and
/// waits for its answer: the result object, or a status (the client's error, timeout, session
/// gone). Provided by the session (see MakeServerSessionFactory); may be empty.
using ClientRequester = std::function<Result<boost::json::value>(std::string_view method, boost::json::value params)>;

/// What a running tool can do besides returning: report progress when the client asked for it
/// (params._meta.progressToken) and the transport can carry it (an SSE response).
class ToolContext {
 public:
  ToolContext() = default;
  /// `log_level`: the session's logging/setLevel level (empty: "info").
  ToolContext(boost::json::value progress_token, MessageSink sink, std::string log_level = {},
              ClientRequester requester = nullptr, boost::json::object client_capabilities = {})
      : progress_token_(std::move(progress_token)),
        sink_(std::move(sink)),
        log_level_(std::move(log_level)),
        requester_(std::move(requester)),
        client_capabilities_(std::move(client_capabilities)) {}
  /// True when Progress() reaches the client.
  bool wants_progress() const { return sink_ && !progress_token_.is_null(); }
  /// Sends notifications/progress; `progress` must grow with each call. `total` <= 0: unknown.
  void Progress(double progress, double total = 0, std::string message = {}) const;
  /// Sends notifications/message (MCP logging) at `level` ("debug" ... "emergency") when the
  /// session's level lets it through and the transport can carry it; otherwise does nothing.
  void Log(std::string_view level, boost::json::value data, std::string_view logger = {}) const;
  /// True when the client declared `capability` ("sampling", "elicitation", "roots") in initialize.
  bool ClientSupports(std::string_view capability) const { return client_capabilities_.contains(capability); }
  /// Sends a request to the client and waits for its result. Unavailable when the session
  /// cannot reach the client; FailedPrecondition when the client lacks the capability the
  /// method needs; the client's JSON-RPC error as a status (message kept).
  Result<boost::json::value> RequestClient(std::string_view method, boost::json::value params) const;

 private:
  boost::json::value progress_token_;
  MessageSink sink_;
  std::string log_level_;
  ClientRequester requester_;
  boost::json::object client_capabilities_;
};

/// The severity rank of an MCP log level ("debug" 0 ... "emergency" 7); -1 when unknown.
int LogLevelRank(std::string_view level);

/// Runs a tool with its `arguments` (an object; empty when the client sent none). A non-OK
/// status becomes a result with is_error = true carrying the status message. May block; may be
/// called from several threads at once.
using ToolHandler = std::function<Result<ToolResult>(const boost::json::object& arguments, const ToolContext& context)>;

struct Tool {
  std::string name;  // unique; 1..128 of [A-Za-z0-9_.-]
  std::string title;        // optional display name
  std::string description;
  /// JSON Schema of the arguments; must be {"type":"object",...}. Empty: {"type":"object"}.
  boost::json::object input_schema;
  /// JSON Schema of structured_content, when the tool returns structured output.
  std::optional<boost::json::object> output_schema;
  ToolHandler handler;
};

/// One item of a resources/read answer: text or base64 blob.
struct ResourceContents {
  std::string uri;
  std::string mime_type;
  std::optional<std::string> text;
  std::optional<std::string> blob;  // base64
  boost::json::object ToJson() const;
};

/// Reads a resource by its URI. May block; may be called from several threads at once.
using ResourceReader = std::function<Result<std::vector<ResourceContents>>(const std::string& uri)>;

struct Resource {
  std::string uri;   // unique, absolute ("file:///a.txt", "tuna://agents/x")
  std::string name;  // required by the spec
  std::string title;
  std::string description;
  std::string mime_type;
  ResourceReader reader;
};

/// A family of resources addressed by an RFC 6570 level-1 URI template ("test://items/{id}"):
/// listed by resources/templates/list; resources/read of a URI that matches (each {var} a
/// non-empty run without '/') calls the reader with that URI.
struct ResourceTemplate {
  std::string uri_template;
  std::string name;
  std::string title;
  std::string description;
  std::string mime_type;
  ResourceReader reader;
};

/// Matches `uri` against a level-1 URI template; the variables by name, or nullopt.
std::optional<std::map<std::string, std::string>> MatchUriTemplate(std::string_view uri_template, std::string_view uri);

struct PromptArgument {
  std::string name;
  std::string description;
  bool required = false;
};

/// One message of a prompt: role "user" or "assistant" and a content block.
struct PromptMessage {
  std::string role = "user";
  boost::json::object content;  // {"type":"text","text":...}
  /// A user message with one text block.
  static PromptMessage UserText(std::string text);
};

/// Renders a prompt from its (string) arguments; required ones are checked before it runs.
using PromptHandler = std::function<Result<std::vector<PromptMessage>>(const std::map<std::string, std::string>& arguments)>;

struct Prompt {
  std::string name;  // unique
  std::string title;
  std::string description;
  std::vector<PromptArgument> arguments;
  PromptHandler handler;
};

/// MCP's own error code for resources/read of an unknown URI.
inline constexpr int kResourceNotFound = -32002;

struct ServerOptions {
  std::string name = "tuna";
  std::string version = "0.1.0";
  std::string title;
  std::string instructions;  // sent in the initialize result when not empty
  std::size_t page_size = 100;  // items per tools/list, resources/list, prompts/list page
};

/// Per-session protocol state a transport keeps for each client and passes back in.
struct SessionState {
  std::string protocol_version;  // negotiated in initialize; empty before
  bool initialized = false;      // notifications/initialized received
  boost::json::object client_info;
  boost::json::object client_capabilities;
  std::string log_level;                   // logging/setLevel; empty: "info"
  std::vector<std::string> subscriptions;  // resources/subscribe URIs (bounded)
  ClientRequester requester;               // server-to-client requests; empty: none
};

class Server;
using ServerPtr = std::unique_ptr<Server>;

/// An MCP server. Register tools before serving; Handle is thread-safe afterwards (calls run
/// concurrently, each session's state belongs to the caller).
class Server {
 public:
  /// Builds a server from its options.
  static ServerPtr Make(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Adds a tool. InvalidArgument for a bad name, schema or missing handler; AlreadyExists for
  /// a duplicate name.
  Status AddTool(Tool tool);
  /// Adds a resource. InvalidArgument without uri, name or reader; AlreadyExists for a
  /// duplicate URI.
  Status AddResource(Resource resource);
  /// Adds a resource template. InvalidArgument without uri_template, name or reader;
  /// AlreadyExists for a duplicate template.
  Status AddResourceTemplate(ResourceTemplate resource_template);
  /// Adds a prompt. InvalidArgument without name or handler; AlreadyExists for a duplicate.
  Status AddPrompt(Prompt prompt);
  /// Names of the registered tools, in registration order.
  std::vector<std::string> ToolNames() const;
  /// The options the server was built with.
  const ServerOptions& options() const { return options_; }

  /// Handles one message for a session: a request gets its response (a JSON-RPC result or
  /// error), a notification or response gets nullopt. `initialize` fills `state`.
  /// `sink`, when set, carries notifications sent while the request runs (tool progress).
  std::optional<boost::json::value> Handle(const jsonrpc::Message& message, SessionState& state,
                                           const MessageSink& sink = nullptr) const;

 private:
  explicit Server(ServerOptions options);
  boost::json::object Capabilities() const;
  Result<boost::json::value> Initialize(const boost::json::value& params, SessionState& state) const;
  Result<boost::json::value> ListTools(const boost::json::value& params) const;
  Result<boost::json::value> CallTool(const boost::json::value& params, const SessionState& state,
                                      const MessageSink& sink) const;
  Result<boost::json::value> ListResources(const boost::json::value& params) const;
  Result<boost::json::value> ListResourceTemplates(const boost::json::value& params) const;
  Result<boost::json::value> Subscribe(const jsonrpc::Message& message, SessionState& state) const;
  std::optional<boost::json::value> ReadResource(const jsonrpc::Message& message) const;
  Result<boost::json::value> ListPrompts(const boost::json::value& params) const;
  Result<boost::json::value> GetPrompt(const boost::json::value& params) const;

  ServerOptions options_;
  std::vector<Tool> tools_;
  std::vector<Resource> resources_;
  std::vector<ResourceTemplate> resource_templates_;
  std::vector<Prompt> prompts_;
  jsonrpc::Dispatcher dispatcher_;  // methods that do not depend on the session
};

/// Checks `arguments` against the parts of a JSON Schema that tools/call enforces before a
/// handler runs: "required" properties and the "type" of each listed property. InvalidArgument
/// names the first offending field. A violation is a -32602 error in 2025-06-18 and a result
/// with isError in 2025-11-25 (SEP-1303: the model sees the message and can correct itself).
Status ValidateArguments(const boost::json::object& schema, const boost::json::object& arguments);

}  // namespace tuna::mcp
