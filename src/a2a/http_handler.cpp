// A2A JSON-RPC over HTTP. Order of checks: Host and Origin (403) -> path (404) -> method (405)
// -> Content-Type (415, -32005) -> body size (413) -> JSON-RPC parse (400, -32700 / -32600)
// -> the call: a JSON answer, or an SSE stream of JSON-RPC responses ("data: <json>\n\n").

#include "net/host_policy.hpp"
#include "a2a/http_handler.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include <boost/json.hpp>

#include "tuna/jsonrpc.hpp"

namespace tuna::a2a {

namespace {

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

net::HttpResponse JsonResponse(int status, const json::value& body) {
  net::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = json::serialize(body);
  return r;
}

bool IsJsonContentType(std::string_view content_type) {
  std::string type = Lower(Trim(content_type.substr(0, content_type.find(';'))));
  return type == "application/json" || type == "application/a2a+json";
}

}  // namespace

HttpBinding::HttpBinding(Server& server, HttpOptions options) : server_(server), options_(std::move(options)) {
  if (options_.rpc_path.empty()) options_.rpc_path = "/";
}

net::HttpResponse HttpBinding::ErrorResponse(int http_status, int jsonrpc_code, std::string_view message) {
  return JsonResponse(http_status, jsonrpc::MakeErrorResponse(nullptr, jsonrpc::Error{jsonrpc_code, std::string(message), nullptr}));
}

bool HttpBinding::OriginAllowed(std::string_view origin) const { return net::OriginAllowed(origin, options_.allowed_origins); }

bool HttpBinding::HostAllowed(std::string_view host) const { return net::HostAllowed(host, options_.allowed_hosts); }

std::string HttpBinding::EndpointUrl(const net::HttpRequest& request) const {
  if (!options_.public_url.empty()) return options_.public_url;
  return "http://" + std::string(Trim(request.Header("Host"))) + options_.rpc_path;
}

net::HttpResponse HttpBinding::Handle(net::HttpRequest& request) { return HandleAt(request, request.path, {}); }

net::HttpResponse HttpBinding::HandleAt(net::HttpRequest& request, std::string_view path, std::string_view endpoint_url) {
  const bool is_card = path == kCardPath || path == kLegacyCardPath;
  const bool is_rpc = path == options_.rpc_path;
  net::HttpResponse response = [&] {
    // DNS rebinding defence: a rebound name arrives with its own Host header, and browsers
    // always send Origin on cross-origin requests.
    std::string_view host = request.Header("Host");
    if (!HostAllowed(host)) return ErrorResponse(403, jsonrpc::kInvalidRequest, "forbidden: host not allowed: " + std::string(host));
    std::string_view origin = request.Header("Origin");
    if (!origin.empty() && !OriginAllowed(origin)) {
      return ErrorResponse(403, jsonrpc::kInvalidRequest, "forbidden: origin not allowed: " + std::string(origin));
    }
    if (is_card) {
      if (request.method != "GET" && request.method != "HEAD") {
        net::HttpResponse r = ErrorResponse(405, jsonrpc::kInvalidRequest, "method not allowed: use GET");
        r.headers.emplace_back("Allow", "GET");
        return r;
      }
      return HandleCard(request, endpoint_url.empty() ? EndpointUrl(request) : std::string(endpoint_url));
    }
    if (!is_rpc) return ErrorResponse(404, jsonrpc::kInvalidRequest, "not found: the A2A endpoint is " + options_.rpc_path);
    if (request.method != "POST") {
      net::HttpResponse r = ErrorResponse(405, jsonrpc::kInvalidRequest, "method not allowed: use POST");
      r.headers.emplace_back("Allow", "POST");
      return r;
    }
    return HandleRpc(request);
  }();
  response.route = is_card ? std::string(kCardPath) : options_.rpc_path;
  return response;
}

net::HttpResponse HttpBinding::HandleCard(net::HttpRequest& request, std::string_view endpoint_url) {
  (void)request;
  net::HttpResponse r = JsonResponse(200, server_.CardJson(endpoint_url));
  r.headers.emplace_back("Cache-Control", "public, max-age=60");
  return r;
}

CallContext HttpBinding::ContextFor(const net::HttpRequest& request) {
  CallContext context;
  context.request_id = request.request_id;
  context.headers.emplace_back("X-Request-Id", request.request_id);
  if (std::string_view tp = request.Header("traceparent"); !tp.empty()) context.headers.emplace_back("traceparent", std::string(tp));
  std::string_view version = request.Header(kVersionHeader);
  if (!version.empty()) context.version_header = std::string(version);
  return context;
}

net::HttpResponse HttpBinding::JsonRpcResponse(const Reply& reply, const std::string& route) {
  if (reply.response.is_null()) {  // a notification
    net::HttpResponse r;
    r.status = 202;
    r.content_type.clear();
    r.route = route;
    return r;
  }
  net::HttpResponse r = JsonResponse(200, reply.response);
  r.headers.emplace_back(std::string(kVersionHeader), std::string(VersionName(reply.version)));
  r.route = route;
  return r;
}

bool HttpBinding::HandleInline(const std::shared_ptr<net::HttpRequest>& request, const net::ResponderPtr& responder) {
  const net::HttpRequest& req = *request;
  if (req.path != options_.rpc_path || req.method != "POST") return false;
  if (!HostAllowed(req.Header("Host"))) return false;
  if (std::string_view origin = req.Header("Origin"); !origin.empty() && !OriginAllowed(origin)) return false;
  if (!IsJsonContentType(req.Header("Content-Type")) || req.body.size() > options_.max_body_bytes) return false;
  jsonrpc::ParseResult parsed = jsonrpc::ParseMessage(req.body);
  if (!parsed.ok() || !parsed.message->IsRequest()) return false;
  const jsonrpc::Message& message = *parsed.message;
  if (message.method != "SendMessage" && message.method != "message/send") return false;
  // A continued task is read from the store first: not on an I/O thread.
  if (!message.params.is_object()) return false;
  const json::value* m = message.params.as_object().if_contains("message");
  if (m == nullptr || !m->is_object()) return false;
  if (const json::value* task = m->as_object().if_contains("taskId"); task && !(task->is_string() && task->as_string().empty())) {
    return false;
  }
  // The answer may come after this binding is gone (the Server outlives its HTTP server): the
  // callback holds only the responder and a copy of the route.
  server_.CallAsync(message, ContextFor(req), [responder, route = options_.rpc_path](Reply reply) {
    responder->Respond(JsonRpcResponse(reply, route));
  });
  return true;
}

net::HttpResponse HttpBinding::HandleRpc(net::HttpRequest& request) {
  if (!IsJsonContentType(request.Header("Content-Type"))) {
    return ErrorResponse(415, kContentTypeNotSupported,
                         "content type not supported: send application/json (got \"" + std::string(request.Header("Content-Type")) + "\")");
  }
  if (request.body.size() > options_.max_body_bytes) {
    return ErrorResponse(413, jsonrpc::kInvalidRequest, "request body larger than " + std::to_string(options_.max_body_bytes) + " bytes");
  }
  jsonrpc::ParseResult parsed = jsonrpc::ParseMessage(request.body);
  if (!parsed.ok()) return JsonResponse(400, jsonrpc::MakeErrorResponse(parsed.id, parsed.error));
  Reply reply = server_.Call(*parsed.message, ContextFor(request));
  if (!reply.stream) return JsonRpcResponse(reply, options_.rpc_path);
  net::HttpResponse r;
  r.status = 200;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Accel-Buffering", "no");  // proxies must not hold events back
  r.headers.emplace_back(std::string(kVersionHeader), std::string(VersionName(reply.version)));
  r.stream_timeout = options_.stream_timeout;
  EventStreamPtr stream = reply.stream;
  // Runs on the connection's I/O thread: only wiring, no blocking. A slow client makes Send
  // fail, which detaches the stream (the writer then ends after what it buffered).
  r.stream = [stream](net::StreamWriterPtr writer) {
    writer->OnClose([stream] { stream->Detach(); });
    stream->Attach([writer](const json::value& response) { return writer->Send("data: " + json::serialize(response) + "\n\n"); },
                   [writer] { writer->Close(); });
  };
  return r;
}

}  // namespace tuna::a2a
