#include "gateway/gateway.hpp"

#include <algorithm>
#include <cctype>
#include <random>

#include <boost/json.hpp>

#include "core/ids.hpp"
#include "admission/rules.hpp"
#include "core/metrics.hpp"
#include "gateway/rate_limiter.hpp"
#include "net/host_policy.hpp"

namespace tuna::gateway {
namespace {

namespace json = boost::json;

constexpr int kServerError = -32000;
constexpr int kInvalidRequest = -32600;

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f'); });
}

std::string RandomHexFast(std::size_t chars) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(chars);
  while (out.size() < chars) {
    std::uint64_t v = rng();
    for (int i = 0; i < 16 && out.size() < chars; ++i, v >>= 4) out.push_back(kHex[v & 15]);
  }
  return out;
}

}  // namespace

std::string ChildTraceparent(std::string_view incoming) {
  // version-traceid-parentid-flags: 00-<32 hex>-<16 hex>-<2 hex>
  std::string trace_id;
  std::string flags = "01";
  if (incoming.size() == 55 && incoming[2] == '-' && incoming[35] == '-' && incoming[52] == '-' && IsHex(incoming.substr(0, 2)) &&
      IsHex(incoming.substr(3, 32)) && IsHex(incoming.substr(36, 16)) && IsHex(incoming.substr(53, 2)) &&
      incoming.substr(3, 32) != std::string(32, '0') && incoming.substr(0, 2) != "ff") {
    trace_id = std::string(incoming.substr(3, 32));
    flags = std::string(incoming.substr(53, 2));
  } else {
    trace_id = RandomHexFast(32);
  }
  return "00-" + trace_id + "-" + RandomHexFast(16) + "-" + flags;
}

std::optional<Result<Target>> ParseTarget(const std::vector<std::string>& s) {
  if (s.empty() || (s[0] != "a2a" && s[0] != "mcp" && s[0] != "memory")) return std::nullopt;
  Target t;
  // True (and the stage taken) when segment i names a stage.
  auto take_stage = [&](std::size_t i) {
    if (i < s.size() && (s[i] == "staging" || s[i] == "production")) {
      t.stage = s[i];
      return true;
    }
    return false;
  };
  if (s[0] == "memory") {
    t.protocol = Target::Protocol::kMemory;
    t.kind = Target::Kind::kAgent;
    t.stage.clear();
    if (s.size() < 5 || s.size() > 6) {
      return Result<Target>(NotFound("use /memory/{namespace}/{agent}/{memory}/{context}[/{key}]"));
    }
    t.namespace_ = s[1];
    t.name = s[2];
    t.memory = s[3];
    t.context = s[4];
    if (s.size() == 6) t.rest = s[5];
    t.base_path = "/memory/" + t.namespace_ + "/" + t.name + "/" + t.memory + "/" + t.context;
    t.route = std::string("/memory/{namespace}/{agent}/{memory}/{context}") + (s.size() == 6 ? "/{key}" : "");
  } else if (s[0] == "a2a") {
    t.protocol = Target::Protocol::kA2a;
    t.kind = Target::Kind::kAgent;
    if (s.size() < 3) return Result<Target>(NotFound("use /a2a/{namespace}/{agent}[/{stage}]"));
    t.namespace_ = s[1];
    t.name = s[2];
    std::size_t next = 3;
    if (take_stage(3)) next = 4;
    t.base_path = "/a2a/" + t.namespace_ + "/" + t.name + (next == 4 ? "/" + t.stage : "");
    t.route = next == 4 ? "/a2a/{namespace}/{agent}/{stage}" : "/a2a/{namespace}/{agent}";
    for (std::size_t i = next; i < s.size(); ++i) t.rest += (t.rest.empty() ? "" : "/") + s[i];
    if (!t.rest.empty()) t.route += "/" + (t.rest.rfind(".well-known/", 0) == 0 ? t.rest : std::string("{path}"));
  } else {
    t.protocol = Target::Protocol::kMcp;
    if (s.size() < 4) return Result<Target>(NotFound("use /mcp/{namespace}/servers|tools|agents/{name}[/{stage}]"));
    t.namespace_ = s[1];
    t.name = s[3];
    std::string kind = s[2];
    if (kind == "servers") {
      t.kind = Target::Kind::kMcpServer;
    } else if (kind == "tools") {
      t.kind = Target::Kind::kHttpTool;
    } else if (kind == "agents") {
      t.kind = Target::Kind::kFederated;
    } else {
      return Result<Target>(NotFound("unknown MCP endpoint kind \"" + kind.substr(0, 40) + "\" (use servers, tools or agents)"));
    }
    std::size_t next = 4;
    if (t.kind != Target::Kind::kHttpTool && take_stage(4)) next = 5;
    if (next < s.size()) return Result<Target>(NotFound("an MCP endpoint has no sub-paths"));
    t.base_path = "/mcp/" + t.namespace_ + "/" + kind + "/" + t.name + (next == 5 ? "/" + t.stage : "");
    t.route = "/mcp/{namespace}/" + kind + "/{name}" + (next == 5 ? "/{stage}" : "");
    if (t.kind == Target::Kind::kHttpTool) t.stage.clear();
  }
  if (!internal::IsDnsLabel(t.namespace_)) return Result<Target>(InvalidArgument("invalid namespace \"" + t.namespace_.substr(0, 80) + "\""));
  if (!internal::IsDnsLabel(t.name)) return Result<Target>(InvalidArgument("invalid name \"" + t.name.substr(0, 80) + "\""));
  return Result<Target>(std::move(t));
}

struct Gateway::Impl {
  GatewayOptions options;
  RateLimiter limiter;
  metrics::CounterFamily* requests = nullptr;
  metrics::CounterFamily* refusals = nullptr;

  void Count(const Target& target, int status);

  net::HttpResponse Refuse(int http, int code, std::string_view reason, std::string_view message, const net::HttpRequest& req,
                           const std::string& route) {
    if (refusals != nullptr) refusals->WithLabels({reason}).Inc();
    auto r = Gateway::Refusal(http, code, message, req.request_id);
    r.route = route;
    return r;
  }
};

Gateway::Gateway(GatewayOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (impl_->options.metrics != nullptr) {
    impl_->requests = &impl_->options.metrics->AddCounter("tuna_gateway_requests_total",
                                                          "Gateway requests that reached an endpoint, by protocol, kind and HTTP status.",
                                                          {"protocol", "kind", "code"});
    impl_->refusals = &impl_->options.metrics->AddCounter(
        "tuna_gateway_refusals_total", "Gateway requests refused before reaching an endpoint, by reason.", {"reason"});
  }
}

Gateway::~Gateway() = default;

net::HttpResponse Gateway::Refusal(int http_status, int jsonrpc_code, std::string_view message, std::string_view request_id) {
  net::HttpResponse r;
  r.status = http_status;
  r.content_type = "application/json";
  json::object error{{"code", jsonrpc_code}, {"message", message}};
  if (!request_id.empty()) error["data"] = json::object{{"requestId", request_id}};
  r.body = json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", nullptr}, {"error", std::move(error)}});
  return r;
}

// The checks every gateway request passes, in order; the refusal, or who is calling.
struct Admission {
  std::optional<net::HttpResponse> refusal;
  auth::Principal principal;
  EndpointHandler* handler = nullptr;
};

namespace {

std::string_view ProtocolLabel(const Target& t) {
  return t.protocol == Target::Protocol::kA2a ? "a2a" : t.protocol == Target::Protocol::kMcp ? "mcp" : "memory";
}

std::string_view KindLabel(const Target& t) {
  static constexpr std::string_view kKinds[] = {"agent", "server", "tool", "federated"};
  return kKinds[static_cast<int>(t.kind)];
}

}  // namespace

void Gateway::Impl::Count(const Target& target, int status) {
  if (requests != nullptr) requests->WithLabels({ProtocolLabel(target), KindLabel(target), std::to_string(status)}).Inc();
}

static Admission Admit(Gateway::Impl& im, net::HttpRequest& req, const Target& target) {
  Admission a;
  // Host and Origin first: a browser on another site never gets as far as the key check.
  std::string_view host = req.Header("Host");
  if (!net::HostAllowed(host, im.options.allowed_hosts)) {
    a.refusal = im.Refuse(403, kServerError, "host", "forbidden: host not allowed: " + std::string(host.substr(0, 200)), req, target.route);
    return a;
  }
  std::string_view origin = req.Header("Origin");
  if (!origin.empty() && !net::OriginAllowed(origin, im.options.allowed_origins)) {
    a.refusal = im.Refuse(403, kServerError, "origin", "forbidden: origin not allowed: " + std::string(origin.substr(0, 200)), req,
                          target.route);
    return a;
  }
  auto token = auth::BearerToken(req.Header("Authorization"));
  Result<auth::Principal> principal = token.ok() ? im.options.keys->Authenticate(*token) : Result<auth::Principal>(token.status());
  if (!principal.ok()) {
    a.refusal = im.Refuse(401, kServerError, "unauthenticated", principal.status().message(), req, target.route);
    a.refusal->headers.emplace_back("WWW-Authenticate", "Bearer realm=\"tuna\"");
    return a;
  }
  if (Status allowed = principal->Check(target.namespace_, auth::Scope::kInvoke); !allowed.ok()) {
    a.refusal = im.Refuse(403, kServerError, "forbidden", allowed.message(), req, target.route);
    return a;
  }
  const auth::RateLimit& limit = principal->rate_limit.per_second > 0 ? principal->rate_limit : im.options.default_rate_limit;
  if (limit.per_second > 0) {
    auto wait = im.limiter.Acquire(principal->key_id, limit);
    if (wait.count() > 0) {
      a.refusal = im.Refuse(429, kServerError, "rate_limited",
                            "rate limit of API key \"" + principal->name + "\" exceeded (" + std::to_string(limit.per_second) +
                                " requests per second); retry later",
                            req, target.route);
      a.refusal->headers.emplace_back("Retry-After", std::to_string(std::max<long long>(1, (wait.count() + 999) / 1000)));
      return a;
    }
  }
  a.handler = target.protocol == Target::Protocol::kA2a   ? im.options.a2a
              : target.protocol == Target::Protocol::kMcp ? im.options.mcp
                                                          : im.options.memory;
  if (a.handler == nullptr) {
    a.refusal = im.Refuse(501, kServerError, "unavailable", "this server does not serve this protocol", req, target.route);
    return a;
  }
  a.principal = std::move(*principal);
  return a;
}

std::optional<net::HttpResponse> Gateway::Handle(net::HttpRequest& req) {
  auto parsed = ParseTarget(req.segments);
  if (!parsed) return std::nullopt;
  Impl& im = *impl_;
  if (!parsed->ok()) {
    const Status& st = parsed->status();
    return im.Refuse(st.code() == StatusCode::kNotFound ? 404 : 400, kInvalidRequest, "route", st.message(), req, "/gateway/other");
  }
  Target& target = **parsed;
  Admission a = Admit(im, req, target);
  if (a.refusal) return std::move(*a.refusal);
  // Card URLs: the configured public URL, else how this client reached us (its Host passed the check).
  std::string base = im.options.public_url ? im.options.public_url() : std::string();
  if (base.empty()) base = "http://" + std::string(req.Header("Host"));
  net::HttpResponse r = a.handler->Handle(req, target, a.principal, base);
  if (r.route.empty()) r.route = target.route;
  im.Count(target, r.status);
  return r;
}

namespace {

// Counts what an inline relay answered, like Handle() does, and names the route for metrics.
class CountingResponder final : public net::Responder {
 public:
  CountingResponder(Gateway::Impl& im, Target target, net::ResponderPtr inner)
      : im_(im), target_(std::move(target)), inner_(std::move(inner)) {}

  void Respond(net::HttpResponse r) override {
    if (r.route.empty()) r.route = target_.route;
    im_.Count(target_, r.status);
    inner_->Respond(std::move(r));
  }

  void Defer(std::function<net::HttpResponse(net::HttpRequest&)> work) override {
    inner_->Defer([&im = im_, target = target_, work = std::move(work)](net::HttpRequest& req) {
      net::HttpResponse r = work(req);
      if (r.route.empty()) r.route = target.route;
      im.Count(target, r.status);
      return r;
    });
  }

 private:
  Gateway::Impl& im_;
  const Target target_;
  net::ResponderPtr inner_;
};

}  // namespace

bool Gateway::HandleInline(const std::shared_ptr<net::HttpRequest>& req, const net::ResponderPtr& responder) {
  Impl& im = *impl_;
  if (req->method != "POST" || im.options.mcp == nullptr) return false;
  auto parsed = ParseTarget(req->segments);
  if (!parsed || !parsed->ok() || (*parsed)->protocol != Target::Protocol::kMcp) return false;
  Target& target = **parsed;
  EndpointHandler::InlineRelay relay = im.options.mcp->PrepareInline(req, target);
  if (!relay) return false;
  Admission a = Admit(im, *req, target);
  if (a.refusal) {
    responder->Respond(std::move(*a.refusal));
    return true;
  }
  relay(a.principal, std::make_shared<CountingResponder>(im, std::move(target), responder));
  return true;
}

}  // namespace tuna::gateway
