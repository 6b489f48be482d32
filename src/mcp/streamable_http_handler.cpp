// Streamable HTTP (MCP 2025-06-18 / 2025-11-25, "Transports"): the order of checks is
// Host and Origin (403) -> method (405) -> Accept (406) -> Content-Type (415) -> JSON-RPC parse (400)
// -> session (400 missing / 404 unknown) -> MCP-Protocol-Version (400) -> the message: JSON,
// or SSE (progress notifications, then the response) for a tools/call with a progressToken.

#include "mcp/streamable_http_handler.hpp"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "core/ids.hpp"
#include "tuna/jsonrpc.hpp"

namespace tuna::mcp {
namespace json = boost::json;

namespace {

// Session-level errors have no JSON-RPC code of their own; these match the official SDKs.
constexpr int kSessionNotFound = -32001;
constexpr int kServerError = -32000;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Media ranges of an Accept header, lower-cased, without parameters.
std::vector<std::string> MediaRanges(std::string_view accept) {
  std::vector<std::string> out;
  while (!accept.empty()) {
    std::size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    item = Trim(item.substr(0, item.find(';')));
    if (!item.empty()) out.push_back(Lower(item));
  }
  return out;
}

bool Accepts(const std::vector<std::string>& ranges, std::string_view type, std::string_view main_wildcard) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const std::string& r) { return r == type || r == main_wildcard || r == "*/*"; });
}

// "http://localhost:3000" -> "localhost"; "http://[::1]:80" -> "[::1]"; empty when malformed.
std::string OriginHost(std::string_view origin) {
  std::size_t scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return {};
  std::string_view rest = origin.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find('/'));
  if (rest.starts_with("[")) {
    std::size_t close = rest.find(']');
    return close == std::string_view::npos ? std::string() : Lower(rest.substr(0, close + 1));
  }
  return Lower(rest.substr(0, rest.find(':')));
}

// "example.com:8080" -> "example.com"; "[::1]:80" -> "[::1]".
std::string HostName(std::string_view host) {
  host = Trim(host);
  if (host.starts_with("[")) {
    std::size_t close = host.find(']');
    return close == std::string_view::npos ? std::string() : Lower(host.substr(0, close + 1));
  }
  return Lower(host.substr(0, host.find(':')));
}

bool IsLocalHostName(std::string_view name) { return name == "localhost" || name == "127.0.0.1" || name == "[::1]"; }

net::HttpResponse JsonResponse(int status, const json::value& body) {
  net::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = json::serialize(body);
  return r;
}

// One SSE event carrying one JSON-RPC message (serialized JSON has no raw newlines).
std::string SseEvent(const json::value& message) { return "event: message\ndata: " + json::serialize(message) + "\n\n"; }

bool WantsProgress(const jsonrpc::Message& message) {
  if (!message.IsRequest() || message.method != "tools/call" || !message.params.is_object()) return false;
  const json::value* meta = message.params.get_object().if_contains("_meta");
  if (!meta || !meta->is_object()) return false;
  const json::value* token = meta->get_object().if_contains("progressToken");
  return token && jsonrpc::IsValidId(*token);
}

net::HttpResponse Accepted() {
  net::HttpResponse r;
  r.status = 202;
  r.content_type.clear();
  return r;
}

}  // namespace

StreamableHttpHandler::StreamableHttpHandler(const Server& server, StreamableHttpOptions options)
    : server_(server), options_(std::move(options)) {
  if (options_.max_sessions == 0) options_.max_sessions = 1;
  stream_pool_ = std::make_unique<net::WorkerPool>(std::max<std::size_t>(1, options_.stream_threads), options_.max_queued_streams);
}

net::HttpResponse StreamableHttpHandler::StreamResponse(const jsonrpc::Message& message, const SessionState& state) {
  net::HttpResponse r;
  r.status = 200;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-cache");
  auto msg = std::make_shared<jsonrpc::Message>(message);
  auto session_state = std::make_shared<SessionState>(state);
  // The stream callback runs on an I/O thread and must not block: the call goes to the pool.
  r.stream = [this, msg, session_state](net::StreamWriterPtr writer) {
    bool taken = stream_pool_->TrySubmit([this, msg, session_state, writer] {
      MessageSink sink = [writer](json::value m) { writer->Send(SseEvent(m)); };
      std::optional<json::value> answer = server_.Handle(*msg, *session_state, sink);
      if (answer) writer->Send(SseEvent(*answer));
      writer->Close();
    });
    if (!taken) {
      writer->Send(SseEvent(jsonrpc::MakeErrorResponse(msg->id, jsonrpc::Error{jsonrpc::kInternalError, "server busy: too many streaming calls", nullptr})));
      writer->Close();
    }
  };
  return r;
}

net::HttpResponse StreamableHttpHandler::ErrorResponse(int http_status, int jsonrpc_code, std::string_view message) {
  return JsonResponse(http_status, jsonrpc::MakeErrorResponse(nullptr, jsonrpc::Error{jsonrpc_code, std::string(message), nullptr}));
}

std::chrono::steady_clock::time_point StreamableHttpHandler::Now() const {
  return options_.clock ? options_.clock() : std::chrono::steady_clock::now();
}

bool StreamableHttpHandler::OriginAllowed(std::string_view origin) const {
  if (options_.allowed_origins.empty()) {
    return IsLocalHostName(OriginHost(origin));
  }
  std::string lower = Lower(origin);
  return std::any_of(options_.allowed_origins.begin(), options_.allowed_origins.end(),
                     [&](const std::string& allowed) { return allowed == "*" || Lower(allowed) == lower; });
}

bool StreamableHttpHandler::HostAllowed(std::string_view host) const {
  std::string name = HostName(host);
  if (name.empty()) return false;
  if (options_.allowed_hosts.empty()) return IsLocalHostName(name);
  return std::any_of(options_.allowed_hosts.begin(), options_.allowed_hosts.end(),
                     [&](const std::string& allowed) { return allowed == "*" || Lower(allowed) == name; });
}

void StreamableHttpHandler::SweepLocked(std::chrono::steady_clock::time_point now) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (now - it->second.last_used >= options_.session_idle_ttl) {
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

std::size_t StreamableHttpHandler::SessionCount() {
  std::lock_guard lock(mu_);
  SweepLocked(Now());
  return sessions_.size();
}

net::HttpResponse StreamableHttpHandler::Handle(net::HttpRequest& request) {
  net::HttpResponse response = [&] {
    if (request.path != options_.path) return ErrorResponse(404, kServerError, "not found: the MCP endpoint is " + options_.path);
    // DNS rebinding defence: a rebound name arrives with its own Host header, and browsers
    // always send Origin on cross-origin requests.
    std::string_view host = request.Header("Host");
    if (!HostAllowed(host)) return ErrorResponse(403, kServerError, "forbidden: host not allowed: " + std::string(host));
    std::string_view origin = request.Header("Origin");
    if (!origin.empty() && !OriginAllowed(origin)) {
      return ErrorResponse(403, kServerError, "forbidden: origin not allowed: " + std::string(origin));
    }
    if (request.method == "POST") return HandlePost(request);
    if (request.method == "DELETE") return HandleDelete(request);
    // No server-initiated stream yet: GET is answered 405, which clients accept.
    net::HttpResponse r = ErrorResponse(405, kServerError, "method not allowed: use POST (or DELETE to end a session)");
    r.headers.emplace_back("Allow", "POST, DELETE");
    return r;
  }();
  response.route = options_.path;
  return response;
}

net::HttpResponse StreamableHttpHandler::HandlePost(net::HttpRequest& request) {
  std::vector<std::string> ranges = MediaRanges(request.Header("Accept"));
  if (!Accepts(ranges, "application/json", "application/*") || !Accepts(ranges, "text/event-stream", "text/*")) {
    return ErrorResponse(406, kServerError, "not acceptable: Accept must list both application/json and text/event-stream");
  }
  std::string content_type = Lower(Trim(request.Header("Content-Type")));
  if (content_type.substr(0, content_type.find(';')) != "application/json") {
    return ErrorResponse(415, kServerError, "unsupported media type: Content-Type must be application/json");
  }

  jsonrpc::ParseResult parsed = jsonrpc::ParseMessage(request.body);
  if (!parsed.ok()) return JsonResponse(400, jsonrpc::MakeErrorResponse(parsed.id, parsed.error));
  const jsonrpc::Message& message = *parsed.message;

  if (message.IsRequest() && message.method == "initialize") {
    auto now = Now();
    {
      std::lock_guard lock(mu_);
      if (sessions_.size() >= options_.max_sessions) SweepLocked(now);
      if (sessions_.size() >= options_.max_sessions) {
        net::HttpResponse r = ErrorResponse(503, kServerError, "too many MCP sessions; try again later");
        r.headers.emplace_back("Retry-After", "1");
        return r;
      }
    }
    SessionState state;
    std::optional<json::value> answer = server_.Handle(message, state);
    if (!answer) return ErrorResponse(500, jsonrpc::kInternalError, "initialize produced no answer");
    if (answer->as_object().contains("error")) return JsonResponse(200, *answer);  // no session
    std::string id = core::RandomHex(16);
    if (id.empty()) return ErrorResponse(500, jsonrpc::kInternalError, "could not generate a session id");
    {
      std::lock_guard lock(mu_);
      if (sessions_.size() >= options_.max_sessions) {  // filled up while we answered
        return ErrorResponse(503, kServerError, "too many MCP sessions; try again later");
      }
      sessions_[id] = Session{std::move(state), Now()};
    }
    net::HttpResponse r = JsonResponse(200, *answer);
    r.headers.emplace_back(std::string(kSessionHeader), id);
    return r;
  }

  std::string session_id(request.Header(kSessionHeader));
  if (session_id.empty()) return ErrorResponse(400, kServerError, "bad request: missing Mcp-Session-Id header (initialize first)");
  SessionState state;
  {
    std::lock_guard lock(mu_);
    auto now = Now();
    auto it = sessions_.find(session_id);
    if (it != sessions_.end() && now - it->second.last_used >= options_.session_idle_ttl) {
      sessions_.erase(it);
      it = sessions_.end();
    }
    if (it == sessions_.end()) return ErrorResponse(404, kSessionNotFound, "session not found (expired or terminated): initialize again");
    it->second.last_used = now;
    state = it->second.state;  // a copy: calls of one session run concurrently
  }
  std::string_view version = request.Header(kProtocolVersionHeader);
  if (!version.empty() && (!IsSupportedProtocolVersion(version) || version != state.protocol_version)) {
    return ErrorResponse(400, kServerError,
                         "bad request: unsupported MCP-Protocol-Version " + std::string(version) +
                             " (this session negotiated " + state.protocol_version + ")");
  }

  if (WantsProgress(message)) return StreamResponse(message, state);
  std::optional<json::value> answer = server_.Handle(message, state);
  if (state.initialized) {
    std::lock_guard lock(mu_);
    if (auto it = sessions_.find(session_id); it != sessions_.end()) it->second.state.initialized = true;
  }
  if (!message.IsRequest()) return Accepted();
  if (!answer) return ErrorResponse(500, jsonrpc::kInternalError, "request produced no answer");
  return JsonResponse(200, *answer);
}

net::HttpResponse StreamableHttpHandler::HandleDelete(net::HttpRequest& request) {
  std::string session_id(request.Header(kSessionHeader));
  if (session_id.empty()) return ErrorResponse(400, kServerError, "bad request: missing Mcp-Session-Id header");
  std::lock_guard lock(mu_);
  if (sessions_.erase(session_id) == 0) return ErrorResponse(404, kSessionNotFound, "session not found");
  net::HttpResponse r;
  r.status = 200;
  r.content_type.clear();
  return r;
}

}  // namespace tuna::mcp
