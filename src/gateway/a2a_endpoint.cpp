#include "gateway/a2a_endpoint.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "a2a/http_handler.hpp"
#include "controllers/workloads.hpp"
#include "core/logging.hpp"
#include "tuna/a2a/server.hpp"
#include "tuna/resources/kinds.hpp"

namespace tuna::gateway {
namespace {

namespace json = boost::json;
constexpr std::size_t kMaxEventLine = 8 << 20;
constexpr std::size_t kDiagnosticBytes = 2048;

// "2 s", "1.5 s", "10 min".
std::string FormatDuration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 60000 == 0 && ms >= 60000) return std::to_string(ms / 60000) + " min";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  std::string s = std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 + 1000).substr(1);
  while (s.back() == '0') s.pop_back();
  return s + " s";
}

// Calls the deployed agent for each message (the agent handler protocol) and turns the lines it
// streams back into task events.
class RemoteAgentExecutor final : public a2a::AgentExecutor {
 public:
  RemoteAgentExecutor(const AgentEndpointOptions& options, Target target) : options_(options), target_(std::move(target)) {}

  Status Execute(const a2a::RequestContext& ctx, a2a::EventQueue& events) override {
    if (options_.controllers == nullptr) return Unavailable("agents are not running in this server (started with --api-only)");
    // One conversation stays on one revision while a canary runs.
    auto executor =
        options_.controllers->ExecutorForStage("AgentDeployment", target_.namespace_, target_.name, target_.stage, ctx.context_id);
    if (!executor.ok()) return executor.status();

    json::array history;
    for (const auto& m : ctx.history) history.push_back(a2a::ToJson(m, a2a::Version::kV1_0));
    json::object body{{"taskId", ctx.task_id},
                      {"contextId", ctx.context_id},
                      {"message", a2a::ToJson(ctx.message, a2a::Version::kV1_0)},
                      {"history", std::move(history)},
                      {"metadata", ctx.metadata},
                      {"agent", json::object{{"namespace", target_.namespace_}, {"name", target_.name}, {"stage", target_.stage}}}};
    InvokeRequest call;
    call.method = "POST";
    call.path = "/a2a/execute";
    call.headers = {{"Content-Type", "application/json"}, {"Accept", "application/x-ndjson, application/json"},
                    {"X-Tuna-Task-Id", ctx.task_id}, {"X-Tuna-Context-Id", ctx.context_id}};
    std::string incoming_trace;
    for (const auto& [k, v] : ctx.call_headers) {
      if (k == "X-Request-Id") call.headers.emplace_back(k, v);
      if (k == "traceparent") incoming_trace = v;
    }
    call.headers.emplace_back("traceparent", ChildTraceparent(incoming_trace));
    call.body = json::serialize(body);
    call.timeout = options_.call_timeout;
    call.cancelled = [&ctx] { return ctx.cancelled(); };

    std::string pending;
    std::string diagnostic;
    Status event_error;
    auto handle_line = [&](std::string_view line) -> bool {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
      if (line.empty()) return true;
      event_error = Publish(line, ctx, events);
      return event_error.ok();
    };
    call.on_body = [&](std::string_view piece) -> bool {
      if (diagnostic.size() < kDiagnosticBytes) diagnostic.append(piece.substr(0, kDiagnosticBytes - diagnostic.size()));
      pending.append(piece);
      std::size_t start = 0;
      for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (!handle_line(std::string_view(pending).substr(start, nl - start))) return false;
      }
      pending.erase(0, start);
      if (pending.size() > kMaxEventLine) {
        event_error = InvalidArgument("an event line of the agent exceeds 8 MiB");
        return false;
      }
      return !ctx.cancelled();
    };
    // The task is working from the moment the agent is called (a non-blocking send returns now,
    // and the task can be cancelled while the agent runs).
    if (!ctx.task || !a2a::IsInterrupted(ctx.task->status.state)) (void)events.Working();
    auto answered = (*executor)->Invoke(call);
    if (ctx.cancelled()) return Status::Ok();  // the server records the cancellation
    if (!event_error.ok()) {
      return Status(event_error.code(), "agent " + target_.name + " sent an invalid event: " + event_error.message());
    }
    if (!answered.ok() && answered.status().code() == StatusCode::kDeadlineExceeded) {
      // Say which limit ended the call, not only where the driver was when it did.
      return DeadlineExceeded("agent " + target_.name + " did not finish within " + FormatDuration(options_.call_timeout) +
                              " (the agent call timeout): " + answered.status().message());
    }
    if (!answered.ok()) return answered.status();
    if (answered->status < 200 || answered->status >= 300) {
      return Unavailable("agent " + target_.name + " answered HTTP " + std::to_string(answered->status) +
                         (diagnostic.empty() ? std::string() : ": " + diagnostic.substr(0, 500)));
    }
    if (!pending.empty() && !handle_line(pending)) {
      return Status(event_error.code(), "agent " + target_.name + " sent an invalid event: " + event_error.message());
    }
    return Status::Ok();
  }

 private:
  // One line: an A2A 1.0 stream event without (or with) task and context ids.
  static Status Publish(std::string_view line, const a2a::RequestContext& ctx, a2a::EventQueue& events) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) return InvalidArgument("not a JSON object: " + std::string(line.substr(0, 200)));
    json::object& o = v.as_object();
    if (o.size() != 1) return InvalidArgument("an event has exactly one of statusUpdate, artifactUpdate, message");
    auto fill = [&](json::object& inner) {
      inner.erase("final");  // 0.3 habit; 1.0 ends the stream on a terminal state
      if (!inner.contains("taskId")) inner["taskId"] = ctx.task_id;
      if (!inner.contains("contextId")) inner["contextId"] = ctx.context_id;
    };
    auto fill_message = [&](json::value& m) {
      if (!m.is_object()) return;
      json::object& mo = m.as_object();
      if (!mo.contains("messageId")) mo["messageId"] = a2a::NewUuid();
      if (!mo.contains("role")) mo["role"] = "ROLE_AGENT";
    };
    if (auto* s = o.if_contains("statusUpdate"); s != nullptr && s->is_object()) {
      fill(s->as_object());
      if (auto* st = s->as_object().if_contains("status"); st && st->is_object()) {
        if (auto* m = st->as_object().if_contains("message")) fill_message(*m);
      }
      TUNA_ASSIGN_OR_RETURN(auto update, a2a::StatusUpdateFromJson(*s, a2a::Version::kV1_0, "statusUpdate"));
      return events.UpdateStatus(update.status.state, std::move(update.status.message), std::move(update.metadata));
    }
    if (auto* a = o.if_contains("artifactUpdate"); a != nullptr && a->is_object()) {
      fill(a->as_object());
      TUNA_ASSIGN_OR_RETURN(auto update, a2a::ArtifactUpdateFromJson(*a, a2a::Version::kV1_0, "artifactUpdate"));
      return events.UpdateArtifact(std::move(update.artifact), update.append, update.last_chunk);
    }
    if (auto* m = o.if_contains("message"); m != nullptr) {
      fill_message(*m);
      TUNA_ASSIGN_OR_RETURN(auto message, a2a::MessageFromJson(*m, a2a::Version::kV1_0, "message"));
      return events.PublishMessage(std::move(message));
    }
    return InvalidArgument("unknown event \"" + std::string(o.begin()->key()) + "\" (expected statusUpdate, artifactUpdate or message)");
  }

  const AgentEndpointOptions& options_;
  Target target_;
};

std::string Key(const Target& t) { return t.namespace_ + "/" + t.name + "/" + t.stage; }

net::HttpResponse JsonRpcError(int http, int code, const std::string& message) {
  return a2a::HttpBinding::ErrorResponse(http, code, message);
}

}  // namespace

struct AgentEndpoints::Agent {
  std::unique_ptr<RemoteAgentExecutor> executor;
  a2a::ServerPtr server;
  std::unique_ptr<a2a::HttpBinding> binding;
};

AgentEndpoints::AgentEndpoints(AgentEndpointOptions options) : options_(std::move(options)) {}

AgentEndpoints::~AgentEndpoints() { Shutdown(); }

void AgentEndpoints::Shutdown() {
  std::map<std::string, std::shared_ptr<Agent>> agents;
  {
    std::lock_guard lock(mu_);
    shut_down_ = true;
    agents.swap(agents_);
  }
  for (auto& [key, agent] : agents) agent->server->Shutdown();
}

std::size_t AgentEndpoints::size() const {
  std::lock_guard lock(mu_);
  return agents_.size();
}

Result<std::shared_ptr<AgentEndpoints::Agent>> AgentEndpoints::AgentFor(const Target& target) {
  const std::string key = Key(target);
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return Unavailable("the gateway is stopping");
    if (auto it = agents_.find(key); it != agents_.end()) return it->second;
  }
  // Only agents that exist get a server (and tasks in the store).
  auto got = options_.store->Get({"AgentDeployment", target.namespace_, target.name});
  if (!got.ok()) {
    if (got.status().code() == StatusCode::kNotFound) {
      return NotFound("agent " + target.namespace_ + "/" + target.name + " not found");
    }
    return got.status();
  }
  auto agent = std::make_shared<Agent>();
  agent->executor = std::make_unique<RemoteAgentExecutor>(options_, target);
  a2a::ServerOptions so;
  so.card.name = target.name;
  so.scope = target.namespace_ + "." + target.name + "." + target.stage;  // DNS labels have no '.'
  so.card.capabilities.streaming = true;
  so.task_ttl = options_.task_ttl;
  so.max_concurrent_tasks = options_.max_concurrent_tasks_per_agent;
  so.max_queued_tasks = options_.max_queued_tasks_per_agent;
  TUNA_ASSIGN_OR_RETURN(agent->server, a2a::Server::Make(*agent->executor, *options_.sessions, std::move(so)));
  a2a::HttpOptions ho;
  ho.allowed_hosts = {"*"};    // the gateway checked Host and Origin already
  ho.allowed_origins = {"*"};
  agent->binding = std::make_unique<a2a::HttpBinding>(*agent->server, std::move(ho));
  std::lock_guard lock(mu_);
  if (shut_down_) return Unavailable("the gateway is stopping");
  auto [it, inserted] = agents_.emplace(key, agent);
  return it->second;
}

net::HttpResponse AgentEndpoints::Card(const net::HttpRequest& request, const Target& target, const std::string& base) {
  auto got = options_.store->Get({"AgentDeployment", target.namespace_, target.name});
  if (!got.ok()) {
    return JsonRpcError(got.status().code() == StatusCode::kNotFound ? 404 : 503, a2a::kTaskNotFound,
                        got.status().code() == StatusCode::kNotFound
                            ? "agent " + target.namespace_ + "/" + target.name + " not found"
                            : got.status().message());
  }
  a2a::AgentCard card;
  card.name = target.name;
  card.description = "Agent " + target.name + " (" + target.stage + ")";
  card.version = "0.0.0";
  ListOptions lo;
  lo.kind = "AgentCatalogue";
  lo.namespace_ = target.namespace_;
  if (auto list = options_.store->List(lo); list.ok()) {
    for (const auto& item : list->items) {
      auto cat = AgentCatalogue::FromResource(item);
      if (!cat.ok() || cat->spec.agent_name != target.name) continue;
      const auto& s = cat->spec;
      card.name = s.display_name.empty() ? target.name : s.display_name;
      if (!s.description.empty()) card.description = s.description;
      if (!s.version.empty()) card.version = s.version;
      if (s.provider) card.provider = a2a::AgentProvider{s.provider->organization, s.provider->url};
      card.icon_url = s.icon_url;
      card.documentation_url = s.documentation_url;
      if (!s.default_input_modes.empty()) card.default_input_modes = s.default_input_modes;
      if (!s.default_output_modes.empty()) card.default_output_modes = s.default_output_modes;
      for (const auto& k : s.skills) {
        card.skills.push_back(a2a::AgentSkill{k.id, k.name, k.description, k.tags, k.examples, k.input_modes, k.output_modes});
      }
      break;
    }
  }
  if (card.skills.empty()) {
    card.skills.push_back(a2a::AgentSkill{target.name, target.name, card.description, {}, {}, {}, {}});
  }
  net::HttpResponse r;
  r.body = json::serialize(a2a::CardToJson(card, base + target.base_path));
  r.headers.emplace_back("Cache-Control", "no-cache");
  (void)request;
  return r;
}

net::HttpResponse AgentEndpoints::Handle(net::HttpRequest& request, const Target& target, const auth::Principal& principal,
                                         const std::string& base) {
  (void)principal;
  if (target.rest == ".well-known/agent-card.json" || target.rest == ".well-known/agent.json") {
    if (request.method != "GET") {
      auto r = JsonRpcError(405, -32600, "the agent card is read with GET");
      r.headers.emplace_back("Allow", "GET");
      return r;
    }
    return Card(request, target, base);
  }
  if (!target.rest.empty()) return JsonRpcError(404, -32600, "no such path under the agent's endpoint: " + target.rest.substr(0, 100));
  auto agent = AgentFor(target);
  if (!agent.ok()) {
    int http = agent.status().code() == StatusCode::kNotFound ? 404 : 503;
    return JsonRpcError(http, -32603, agent.status().message());
  }
  return (*agent)->binding->HandleAt(request, "/", base + target.base_path);
}

}  // namespace tuna::gateway
