#pragma once
/// OpenAPI 3.0 / 3.1 documents as MCP tools: load and validate a document, list its operations,
/// build `$ref`-free input schemas, map tool arguments to the HTTP request an operation describes,
/// and run it (libcurl, kept out of this header). See docs/openapi.md for the mapping rules.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "tuna/mcp/server.hpp"
#include "tuna/resources/kinds.hpp"
#include "tuna/status.hpp"

namespace tuna::openapi {

/// A parsed, version-checked OpenAPI 3.0.x / 3.1.x document.
struct Document {
  boost::json::value root;  // the whole document (an object)
  std::string version;      // the `openapi` field ("3.0.3", "3.1.0")
  std::string source;       // name used in error messages ("petstore.yaml", a URL)
  std::string url;          // where the document was fetched from; resolves relative server URLs
  /// True for 3.0.x (nullable, boolean exclusiveMinimum, $ref siblings ignored).
  bool is_30() const { return version.rfind("3.0", 0) == 0; }
};

/// Parses JSON or YAML text (YAML 1.2 core schema; syntax errors name source:line:col) and checks
/// it is OpenAPI 3.0.x or 3.1.x with `info` and `paths` (Swagger 2.0 is refused by name).
Result<Document> LoadDocument(std::string_view text, std::string_view source_name = "",
                              std::string_view document_url = "");
/// The same checks for a document that is already a JSON value (HTTPToolDeployment's `inline`).
Result<Document> DocumentFromJson(boost::json::value root, std::string_view source_name = "",
                                  std::string_view document_url = "");

/// Limits of the conversion. Defaults suit MCP clients (small schemas, short descriptions).
struct ConvertOptions {
  /// Allowlist of operationIds or "METHOD /path" (method case-insensitive, path as in the
  /// document). Empty: every operation. An entry matching nothing is an InvalidArgument.
  std::vector<std::string> operations;
  std::size_t max_description_chars = 1024;   // tool description bound (cut with "…")
  std::size_t max_schema_bytes = 64 * 1024;   // serialized input schema bound
  int max_ref_depth = 8;                      // nested `$ref` expansions before `{}`
  bool drop_read_only = true;                 // readOnly properties are not input
};

/// How one parameter is sent.
struct Parameter {
  std::string name;      // as in the document
  std::string in;        // "path", "query", "header", "cookie"
  std::string argument;  // property name in the tool's input schema (usually == name)
  bool required = false;
  std::string style;     // resolved default: simple (path, header), form (query, cookie)
  bool explode = false;  // resolved default: true for form, else false
  bool allow_reserved = false;
  bool json_content = false;  // described by `content` (sent as JSON text) instead of `schema`
  boost::json::object schema;  // resolved, `$ref`-free
};

/// The request body of an operation, in the media type tuna sends.
struct RequestBody {
  std::string content_type;  // chosen: application/json (or +json), form-urlencoded, multipart, text/plain, other
  bool required = false;
  /// true: the body object's properties are top-level arguments (`properties` lists them);
  /// false: the whole body is the argument named `argument` ("body").
  bool flattened = false;
  std::string argument = "body";
  std::vector<std::string> properties;
  boost::json::object schema;  // resolved
};

/// One operation of the document and the MCP tool made from it.
struct Operation {
  std::string method;        // upper case: "GET"
  std::string path;          // the `paths` key as written ("/cookies#formExploded")
  std::string operation_id;  // may be empty
  std::string tool_name;     // unique within the list, [A-Za-z0-9_.-]{1,128}
  std::string title;         // summary, when present
  std::string description;   // bounded
  std::vector<Parameter> parameters;  // path-item parameters merged with the operation's
  std::optional<RequestBody> body;
  boost::json::object input_schema;  // {"type":"object","properties":...,"required":[...]}
  bool schema_truncated = false;     // the schema was cut to fit max_schema_bytes (said in description)
  /// Security requirement alternatives (scheme names; AND inside one entry). nullopt: the
  /// document's global requirement applies; an empty list: explicitly none.
  std::optional<std::vector<std::vector<std::string>>> security;
};

/// Every operation (get, put, post, delete, options, head, patch, trace) in document order,
/// filtered by the allowlist, with unique tool names and resolved schemas. Webhooks and
/// callbacks are not operations. Broken or external `$ref`s are InvalidArgument naming them.
Result<std::vector<Operation>> ListOperations(const Document& document, const ConvertOptions& options = {});

/// A standalone schema (as found in the document) made self-contained: local `$ref`s inlined,
/// cycles and depth beyond `max_ref_depth` cut to `{}`, 3.0 `nullable` turned into type arrays,
/// OpenAPI-only keywords removed. Sets `*truncated` when something was cut.
Result<boost::json::object> ResolveSchema(const Document& document, const boost::json::value& schema,
                                          const ConvertOptions& options = {}, bool* truncated = nullptr);

/// A credential: the secret's value and how to send it.
struct Credential {
  CredentialType type = CredentialType::kBearer;
  std::string secret;       // bearer token; "user:password" for basic; the key for apiKey
  std::string header_name;  // apiKey: overrides the document's securityScheme placement
  std::string security_scheme;  // the document's securityScheme this satisfies (optional)
};

/// Reads a secret's value (HTTPToolDeployment credentials.secretRef). Called on every tool call,
/// so rotated secrets apply without rebuilding the tools.
using SecretResolver = std::function<Result<std::string>(const SecretKeyRef& ref)>;

/// The HTTP request an operation call becomes.
struct HttpRequest {
  std::string method;
  std::string url;  // absolute, query included
  std::vector<std::pair<std::string, std::string>> headers;  // in send order
  std::string body;
  /// First header with this name (case-insensitive); empty when absent.
  std::string Header(std::string_view name) const;
};

/// What the request mapper needs besides the arguments.
struct RequestOptions {
  std::string base_url;  // absolute; the operation path is appended
  std::map<std::string, std::string> headers;  // static headers (before parameters)
  std::optional<Credential> credential;
};

/// The base URL: `override_url` when set, else the document's server number `server_index`
/// (variables replaced by their defaults, a relative URL resolved against the document URL; no
/// `servers` means "/"). FailedPrecondition when it stays relative; no trailing slash.
Result<std::string> ResolveBaseUrl(const Document& document, std::string_view override_url = "",
                                   std::size_t server_index = 0);

/// Arguments -> the HTTP request (no network). InvalidArgument for a missing required argument
/// or a value the parameter style cannot carry.
Result<HttpRequest> BuildRequest(const Document& document, const Operation& operation,
                                 const boost::json::object& arguments, const RequestOptions& options);

/// What a sent request produced.
struct HttpResult {
  int status = 0;
  std::string reason;        // "Not Found" (from the status line when sent, else standard)
  std::string content_type;
  std::string body;          // at most max_response_bytes
  bool truncated = false;    // the body was longer and was cut
};

struct CallerOptions {
  std::chrono::milliseconds timeout{30000};       // whole request
  std::chrono::milliseconds connect_timeout{10000};
  std::size_t max_response_bytes = 1 << 20;       // body beyond this is cut (and the transfer stopped)
  std::size_t max_idle_connections = 8;           // kept for reuse
};

/// Sends requests with libcurl, reusing connections. Thread-safe.
class HttpCaller {
 public:
  virtual ~HttpCaller() = default;
  /// DeadlineExceeded on timeout, Unavailable on connection errors; any HTTP status is a result.
  virtual Result<HttpResult> Send(const HttpRequest& request) = 0;
};
using HttpCallerPtr = std::shared_ptr<HttpCaller>;
HttpCallerPtr MakeHttpCaller(CallerOptions options = {});

/// A response as a tool result: 2xx -> text (a JSON object body also as structuredContent);
/// other statuses -> is_error with the status line and a body excerpt.
mcp::ToolResult ToToolResult(const HttpResult& result);

/// Everything the tools need: how to convert, where to send, how to authenticate.
struct ToolsetOptions {
  ConvertOptions convert;
  std::string base_url;  // overrides the document's servers
  std::map<std::string, std::string> headers;
  std::optional<HttpCredentials> credentials;  // resolved through `secrets` on each call
  SecretResolver secrets;
  CallerOptions caller;
  HttpCallerPtr http;  // shared caller; null: one is made from `caller`
};

/// One mcp::Tool per operation, ready for mcp::Server::AddTool. Handlers map arguments with
/// BuildRequest, send with the caller and answer ToToolResult; transport errors (timeout,
/// refused connection, secret not found) are is_error results.
Result<std::vector<mcp::Tool>> MakeTools(const Document& document, const ToolsetOptions& options);

/// Fetches a document over http(s) and loads it (its URL resolves relative server URLs).
/// Documents longer than `max_bytes` are refused (ResourceExhausted); non-2xx is Unavailable.
Result<Document> FetchDocument(const std::string& url, CallerOptions options = {},
                               std::size_t max_bytes = 32u << 20);

/// Loads an HTTPToolDeployment's `openapi` source: `inline` as is, `file` relative to `base_dir`
/// (absolute paths and ".." are refused), `url` with FetchDocument.
Result<Document> LoadSource(const OpenApiSource& source, const std::string& base_dir = ".",
                            CallerOptions options = {});

/// Options from an HTTPToolDeployment's spec (base URL, allowlist, headers, credentials,
/// timeoutSeconds); the caller adds the secret resolver.
ToolsetOptions OptionsFromSpec(const HTTPToolDeploymentSpec& spec, SecretResolver secrets);

}  // namespace tuna::openapi
