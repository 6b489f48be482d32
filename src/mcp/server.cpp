// The MCP server core: lifecycle and tools over JSON-RPC messages, no transport.

#include "tuna/mcp/server.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "tuna/mcp/session.hpp"
#include "mcp/client_requests.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <utility>

#include <boost/json.hpp>

namespace tuna::mcp {
namespace json = boost::json;

namespace {

struct PageRange {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// Cursors are opaque to clients; ours are "<list>:<index of the next item>".
Result<PageRange> ReadCursor(const json::value& params, std::string_view prefix, std::size_t size, std::size_t page_size) {
  std::size_t start = 0;
  if (params.is_object()) {
    if (const json::value* cursor = params.get_object().if_contains("cursor"); cursor && !cursor->is_null()) {
      if (!cursor->is_string() || !cursor->get_string().starts_with(prefix)) {
        return InvalidArgument("invalid cursor", "params.cursor");
      }
      std::string_view digits = std::string_view(cursor->get_string()).substr(prefix.size());
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), start);
      if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || start > size) {
        return InvalidArgument("invalid cursor", "params.cursor");
      }
    }
  }
  return PageRange{start, std::min(size, start + page_size)};
}

bool IsValidToolName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  });
}

bool MatchesType(const json::value& v, std::string_view type) {
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") {
    if (v.is_int64() || v.is_uint64()) return true;
    if (v.is_double()) {
      double d = v.get_double();
      return d == static_cast<double>(static_cast<long long>(d));
    }
    return false;
  }
  if (type == "boolean") return v.is_bool();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "null") return v.is_null();
  return true;  // an unknown type keyword is not ours to enforce
}

// "type" may be a string or an array of strings.
bool MatchesTypeKeyword(const json::value& v, const json::value& type) {
  if (type.is_string()) return MatchesType(v, type.get_string());
  if (type.is_array()) {
    for (const auto& t : type.get_array()) {
      if (t.is_string() && MatchesType(v, t.get_string())) return true;
    }
    return false;
  }
  return true;
}

constexpr std::size_t kMaxSubscriptions = 1024;  // per session

}  // namespace

int LogLevelRank(std::string_view level) {
  static constexpr std::string_view kLevels[] = {"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"};
  for (int i = 0; i < 8; ++i) {
    if (kLevels[i] == level) return i;
  }
  return -1;
}

void ToolContext::Log(std::string_view level, json::value data, std::string_view logger) const {
  if (!sink_) return;
  int rank = LogLevelRank(level);
  int threshold = LogLevelRank(log_level_.empty() ? std::string_view("info") : std::string_view(log_level_));
  if (rank < 0 || rank < threshold) return;
  json::object params{{"level", level}, {"data", std::move(data)}};
  if (!logger.empty()) params["logger"] = logger;
  sink_(jsonrpc::MakeNotification("notifications/message", std::move(params)));
}

Result<json::value> ToolContext::RequestClient(std::string_view method, json::value params) const {
  if (!requester_) return Status(StatusCode::kUnavailable, "this session cannot send requests to the client");
  std::string_view needs = method.starts_with("sampling/") ? "sampling"
                           : method.starts_with("elicitation/") ? "elicitation"
                           : method.starts_with("roots/") ? "roots"
                                                            : "";
  if (!needs.empty() && !ClientSupports(needs)) {
    return Status(StatusCode::kFailedPrecondition, "the client did not declare the " + std::string(needs) + " capability");
  }
  return requester_(method, std::move(params));
}

std::optional<std::map<std::string, std::string>> MatchUriTemplate(std::string_view tmpl, std::string_view uri) {
  std::map<std::string, std::string> vars;
  while (!tmpl.empty()) {
    std::size_t open = tmpl.find('{');
    std::string_view literal = tmpl.substr(0, open);
    if (!uri.starts_with(literal)) return std::nullopt;
    uri.remove_prefix(literal.size());
    if (open == std::string_view::npos) {
      tmpl = {};
      break;
    }
    std::size_t close = tmpl.find('}', open);
    if (close == std::string_view::npos) return std::nullopt;
    std::string name(tmpl.substr(open + 1, close - open - 1));
    tmpl.remove_prefix(close + 1);
    // A variable runs up to the next literal character of the template (or '/', or the end).
    std::size_t next_open = tmpl.find('{');
    std::string_view next_literal = tmpl.substr(0, next_open);
    std::size_t end = next_literal.empty() ? uri.find('/') : uri.find(next_literal.front());
    if (end == std::string_view::npos) end = uri.size();
    std::string_view value = uri.substr(0, end);
    if (value.empty() || value.find('/') != std::string_view::npos) return std::nullopt;
    vars[name] = std::string(value);
    uri.remove_prefix(value.size());
  }
  if (!uri.empty()) return std::nullopt;
  return vars;
}

const std::vector<std::string>& SupportedProtocolVersions() {
  static const std::vector<std::string> kVersions{std::string(kProtocol20251125), std::string(kProtocol20250618)};
  return kVersions;
}

bool IsSupportedProtocolVersion(std::string_view version) {
  const auto& v = SupportedProtocolVersions();
  return std::find(v.begin(), v.end(), version) != v.end();
}

std::string NegotiateProtocolVersion(std::string_view requested) {
  return IsSupportedProtocolVersion(requested) ? std::string(requested) : std::string(kLatestProtocolVersion);
}

ToolResult ToolResult::Text(std::string text) {
  ToolResult r;
  r.content.push_back(json::object{{"type", "text"}, {"text", std::move(text)}});
  return r;
}

ToolResult ToolResult::Failure(std::string text) {
  ToolResult r = Text(std::move(text));
  r.is_error = true;
  return r;
}

ToolResult ToolResult::Structured(json::object value) {
  // The spec asks tools with structured output to also serialize it in a text block.
  ToolResult r = Text(json::serialize(value));
  r.structured_content = std::move(value);
  return r;
}

json::object ToolResult::ToJson() const {
  json::object o{{"content", content}, {"isError", is_error}};
  if (structured_content) o["structuredContent"] = *structured_content;
  return o;
}

json::object ResourceContents::ToJson() const {
  json::object o{{"uri", uri}};
  if (!mime_type.empty()) o["mimeType"] = mime_type;
  if (text) o["text"] = *text;
  if (blob) o["blob"] = *blob;
  return o;
}

PromptMessage PromptMessage::UserText(std::string text) {
  PromptMessage m;
  m.role = "user";
  m.content = json::object{{"type", "text"}, {"text", std::move(text)}};
  return m;
}

Status ValidateArguments(const json::object& schema, const json::object& arguments) {
  if (const json::value* required = schema.if_contains("required"); required && required->is_array()) {
    for (const auto& name : required->get_array()) {
      if (name.is_string() && !arguments.contains(name.get_string())) {
        return InvalidArgument("missing required argument \"" + std::string(name.get_string()) + "\"",
                               "arguments." + std::string(name.get_string()));
      }
    }
  }
  if (const json::value* props = schema.if_contains("properties"); props && props->is_object()) {
    for (const auto& [key, sub] : props->get_object()) {
      const json::value* value = arguments.if_contains(key);
      if (!value || !sub.is_object()) continue;
      const json::value* type = sub.get_object().if_contains("type");
      if (type && !MatchesTypeKeyword(*value, *type)) {
        return InvalidArgument("argument \"" + std::string(key) + "\" must be of type " + json::serialize(*type),
                               "arguments." + std::string(key));
      }
    }
  }
  return Status::Ok();
}

ServerPtr Server::Make(ServerOptions options) { return ServerPtr(new Server(std::move(options))); }

Server::Server(ServerOptions options) : options_(std::move(options)) {
  if (options_.page_size == 0) options_.page_size = 100;
  // Registration into a fresh dispatcher cannot collide; the statuses are checked anyway.
  Status s = dispatcher_.Register("ping", [](const json::value&, const jsonrpc::Message&) -> Result<json::value> {
    return json::value(json::object{});
  });
  if (s.ok()) {
    s = dispatcher_.Register("tools/list", [this](const json::value& params, const jsonrpc::Message&) {
      return ListTools(params);
    });
  }
  if (s.ok()) {
    s = dispatcher_.Register("resources/list", [this](const json::value& params, const jsonrpc::Message&) {
      return ListResources(params);
    });
  }
  if (s.ok()) {
    s = dispatcher_.Register("resources/templates/list", [this](const json::value& params, const jsonrpc::Message&) {
      return ListResourceTemplates(params);
    });
  }
  if (s.ok()) {
    // No completion providers yet: an empty list of suggestions is a valid answer.
    s = dispatcher_.Register("completion/complete", [](const json::value& params, const jsonrpc::Message&) -> Result<json::value> {
      const json::object* p = params.if_object();
      if (!p || !p->contains("ref") || !p->at("ref").is_object()) return InvalidArgument("completion/complete needs a ref", "params.ref");
      if (!p->contains("argument") || !p->at("argument").is_object()) {
        return InvalidArgument("completion/complete needs an argument", "params.argument");
      }
      return json::value(json::object{{"completion", json::object{{"values", json::array{}}, {"total", 0}, {"hasMore", false}}}});
    });
  }
  if (s.ok()) {
    s = dispatcher_.Register("prompts/list", [this](const json::value& params, const jsonrpc::Message&) {
      return ListPrompts(params);
    });
  }
  if (s.ok()) {
    s = dispatcher_.Register("prompts/get", [this](const json::value& params, const jsonrpc::Message&) {
      return GetPrompt(params);
    });
  }
  assert(s.ok());
}

Server::~Server() = default;

Status Server::AddTool(Tool tool) {
  if (!IsValidToolName(tool.name)) {
    return InvalidArgument("tool name must be 1..128 characters of [A-Za-z0-9_.-]: \"" + tool.name + "\"", "name");
  }
  if (!tool.handler) return InvalidArgument("tool " + tool.name + " has no handler", "handler");
  if (tool.input_schema.empty()) tool.input_schema = json::object{{"type", "object"}};
  const json::value* type = tool.input_schema.if_contains("type");
  if (!type || !type->is_string() || type->get_string() != "object") {
    return InvalidArgument("tool " + tool.name + ": inputSchema must have \"type\": \"object\"", "inputSchema");
  }
  if (tool.output_schema) {
    const json::value* out_type = tool.output_schema->if_contains("type");
    if (!out_type || !out_type->is_string() || out_type->get_string() != "object") {
      return InvalidArgument("tool " + tool.name + ": outputSchema must have \"type\": \"object\"", "outputSchema");
    }
  }
  for (const auto& t : tools_) {
    if (t.name == tool.name) return AlreadyExists("tool already registered: " + tool.name);
  }
  tools_.push_back(std::move(tool));
  return Status::Ok();
}

Status Server::AddResource(Resource resource) {
  if (resource.uri.empty() || resource.uri.find(':') == std::string::npos) {
    return InvalidArgument("resource uri must be an absolute URI: \"" + resource.uri + "\"", "uri");
  }
  if (resource.name.empty()) return InvalidArgument("resource " + resource.uri + " has no name", "name");
  if (!resource.reader) return InvalidArgument("resource " + resource.uri + " has no reader", "reader");
  for (const auto& r : resources_) {
    if (r.uri == resource.uri) return AlreadyExists("resource already registered: " + resource.uri);
  }
  resources_.push_back(std::move(resource));
  return Status::Ok();
}

Status Server::AddResourceTemplate(ResourceTemplate t) {
  if (t.uri_template.empty() || t.uri_template.find(':') == std::string::npos) {
    return InvalidArgument("resource template must be an absolute URI template: \"" + t.uri_template + "\"", "uriTemplate");
  }
  if (t.name.empty()) return InvalidArgument("resource template " + t.uri_template + " has no name", "name");
  if (!t.reader) return InvalidArgument("resource template " + t.uri_template + " has no reader", "reader");
  for (const auto& r : resource_templates_) {
    if (r.uri_template == t.uri_template) return AlreadyExists("resource template already registered: " + t.uri_template);
  }
  resource_templates_.push_back(std::move(t));
  return Status::Ok();
}

Status Server::AddPrompt(Prompt prompt) {
  if (prompt.name.empty()) return InvalidArgument("prompt has no name", "name");
  if (!prompt.handler) return InvalidArgument("prompt " + prompt.name + " has no handler", "handler");
  for (const auto& p : prompts_) {
    if (p.name == prompt.name) return AlreadyExists("prompt already registered: " + prompt.name);
  }
  prompts_.push_back(std::move(prompt));
  return Status::Ok();
}

json::object Server::Capabilities() const {
  // Lists are fixed once serving starts, so no listChanged notifications are promised.
  // Subscriptions are accepted and kept; registered resources never announce changes.
  json::object caps{{"tools", json::object{{"listChanged", false}}},
                    {"logging", json::object{}},
                    {"completions", json::object{}}};
  if (!resources_.empty() || !resource_templates_.empty()) {
    caps["resources"] = json::object{{"listChanged", false}, {"subscribe", true}};
  }
  if (!prompts_.empty()) caps["prompts"] = json::object{{"listChanged", false}};
  return caps;
}

std::vector<std::string> Server::ToolNames() const {
  std::vector<std::string> names;
  for (const auto& t : tools_) names.push_back(t.name);
  return names;
}

void ToolContext::Progress(double progress, double total, std::string message) const {
  if (!wants_progress()) return;
  json::object params{{"progressToken", progress_token_}, {"progress", progress}};
  if (total > 0) params["total"] = total;
  if (!message.empty()) params["message"] = std::move(message);
  sink_(jsonrpc::MakeNotification("notifications/progress", std::move(params)));
}

std::optional<json::value> Server::Handle(const jsonrpc::Message& message, SessionState& state, const MessageSink& sink) const {
  if (message.IsResponse()) return std::nullopt;  // tuna sends no server-to-client requests yet
  if (message.method == "initialize") {
    if (message.IsNotification()) return std::nullopt;
    Result<json::value> r = Initialize(message.params, state);
    if (!r.ok()) return jsonrpc::MakeErrorResponse(message.id, jsonrpc::ErrorFromStatus(r.status()));
    return jsonrpc::MakeResponse(message.id, std::move(r).value());
  }
  if (message.IsRequest() && message.method == "tools/call") {
    Result<json::value> r = CallTool(message.params, state, sink);
    if (!r.ok()) return jsonrpc::MakeErrorResponse(message.id, jsonrpc::ErrorFromStatus(r.status()));
    return jsonrpc::MakeResponse(message.id, std::move(r).value());
  }
  if (message.IsRequest() && message.method == "resources/read") return ReadResource(message);
  if (message.IsRequest() && (message.method == "resources/subscribe" || message.method == "resources/unsubscribe")) {
    Result<json::value> r = Subscribe(message, state);
    if (!r.ok()) return jsonrpc::MakeErrorResponse(message.id, jsonrpc::ErrorFromStatus(r.status()));
    return jsonrpc::MakeResponse(message.id, std::move(r).value());
  }
  if (message.IsRequest() && message.method == "logging/setLevel") {
    const json::value* level = message.params.is_object() ? message.params.get_object().if_contains("level") : nullptr;
    if (!level || !level->is_string() || LogLevelRank(level->get_string()) < 0) {
      return jsonrpc::MakeErrorResponse(message.id, jsonrpc::ErrorFromStatus(InvalidArgument("logging/setLevel needs a known level", "params.level")));
    }
    state.log_level = std::string(level->get_string());
    return jsonrpc::MakeResponse(message.id, json::object{});
  }
  if (message.IsNotification() && message.method == "notifications/initialized") {
    state.initialized = true;
    return std::nullopt;
  }
  return dispatcher_.Dispatch(message);
}

Result<json::value> Server::Initialize(const json::value& params, SessionState& state) const {
  if (!params.is_object()) return InvalidArgument("initialize needs params", "params");
  const json::object& p = params.get_object();
  const json::value* requested = p.if_contains("protocolVersion");
  if (!requested || !requested->is_string()) {
    return InvalidArgument("initialize needs a string protocolVersion", "params.protocolVersion");
  }
  if (const json::value* info = p.if_contains("clientInfo"); info && info->is_object()) {
    state.client_info = info->get_object();
  }
  if (const json::value* caps = p.if_contains("capabilities"); caps && caps->is_object()) {
    state.client_capabilities = caps->get_object();
  }
  state.protocol_version = NegotiateProtocolVersion(requested->get_string());

  json::object server_info{{"name", options_.name}, {"version", options_.version}};
  if (!options_.title.empty()) server_info["title"] = options_.title;
  json::object result{
      {"protocolVersion", state.protocol_version},
      {"capabilities", Capabilities()},
      {"serverInfo", std::move(server_info)},
  };
  if (!options_.instructions.empty()) result["instructions"] = options_.instructions;
  return json::value(std::move(result));
}

Result<json::value> Server::ListTools(const json::value& params) const {
  TUNA_ASSIGN_OR_RETURN(PageRange page, ReadCursor(params, "tools:", tools_.size(), options_.page_size));
  json::array list;
  for (std::size_t i = page.begin; i < page.end; ++i) {
    const Tool& t = tools_[i];
    json::object o{{"name", t.name}, {"inputSchema", t.input_schema}};
    if (!t.title.empty()) o["title"] = t.title;
    if (!t.description.empty()) o["description"] = t.description;
    if (t.output_schema) o["outputSchema"] = *t.output_schema;
    list.push_back(std::move(o));
  }
  json::object result{{"tools", std::move(list)}};
  if (page.end < tools_.size()) result["nextCursor"] = "tools:" + std::to_string(page.end);
  return json::value(std::move(result));
}

Result<json::value> Server::ListResourceTemplates(const json::value& params) const {
  TUNA_ASSIGN_OR_RETURN(PageRange page, ReadCursor(params, "templates:", resource_templates_.size(), options_.page_size));
  json::array list;
  for (std::size_t i = page.begin; i < page.end; ++i) {
    const ResourceTemplate& t = resource_templates_[i];
    json::object o{{"uriTemplate", t.uri_template}, {"name", t.name}};
    if (!t.title.empty()) o["title"] = t.title;
    if (!t.description.empty()) o["description"] = t.description;
    if (!t.mime_type.empty()) o["mimeType"] = t.mime_type;
    list.push_back(std::move(o));
  }
  json::object result{{"resourceTemplates", std::move(list)}};
  if (page.end < resource_templates_.size()) result["nextCursor"] = "templates:" + std::to_string(page.end);
  return json::value(std::move(result));
}

Result<json::value> Server::Subscribe(const jsonrpc::Message& message, SessionState& state) const {
  const json::value* uri = message.params.is_object() ? message.params.get_object().if_contains("uri") : nullptr;
  if (!uri || !uri->is_string() || uri->get_string().empty()) return InvalidArgument(message.method + " needs a string uri", "params.uri");
  std::string u(uri->get_string());
  auto it = std::find(state.subscriptions.begin(), state.subscriptions.end(), u);
  if (message.method == "resources/subscribe") {
    if (it == state.subscriptions.end()) {
      if (state.subscriptions.size() >= kMaxSubscriptions) return InvalidArgument("too many resource subscriptions", "params.uri");
      state.subscriptions.push_back(std::move(u));
    }
  } else if (it != state.subscriptions.end()) {
    state.subscriptions.erase(it);
  }
  return json::value(json::object{});
}

Result<json::value> Server::ListResources(const json::value& params) const {
  TUNA_ASSIGN_OR_RETURN(PageRange page, ReadCursor(params, "resources:", resources_.size(), options_.page_size));
  json::array list;
  for (std::size_t i = page.begin; i < page.end; ++i) {
    const Resource& r = resources_[i];
    json::object o{{"uri", r.uri}, {"name", r.name}};
    if (!r.title.empty()) o["title"] = r.title;
    if (!r.description.empty()) o["description"] = r.description;
    if (!r.mime_type.empty()) o["mimeType"] = r.mime_type;
    list.push_back(std::move(o));
  }
  json::object result{{"resources", std::move(list)}};
  if (page.end < resources_.size()) result["nextCursor"] = "resources:" + std::to_string(page.end);
  return json::value(std::move(result));
}

std::optional<json::value> Server::ReadResource(const jsonrpc::Message& message) const {
  const json::value& params = message.params;
  const json::value* uri = params.is_object() ? params.get_object().if_contains("uri") : nullptr;
  if (!uri || !uri->is_string()) {
    return jsonrpc::MakeErrorResponse(message.id, jsonrpc::ErrorFromStatus(InvalidArgument("resources/read needs a string uri", "params.uri")));
  }
  auto it = std::find_if(resources_.begin(), resources_.end(), [&](const Resource& r) { return r.uri == uri->get_string(); });
  // MCP gives an unknown resource its own code rather than -32602.
  auto not_found = [&] {
    return jsonrpc::MakeErrorResponse(message.id, jsonrpc::Error{kResourceNotFound, "resource not found", json::object{{"uri", *uri}}});
  };
  const ResourceReader* reader = it != resources_.end() ? &it->reader : nullptr;
  if (!reader) {
    for (const auto& t : resource_templates_) {
      if (MatchUriTemplate(t.uri_template, uri->get_string())) {
        reader = &t.reader;
        break;
      }
    }
  }
  if (!reader) return not_found();
  Result<std::vector<ResourceContents>> r = Status(StatusCode::kInternal, "resource reader did not run");
  try {
    r = (*reader)(std::string(uri->get_string()));
  } catch (const std::exception& ex) {
    r = Internal(std::string("resource reader failed: ") + ex.what());
  } catch (...) {
    r = Internal("resource reader failed");
  }
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kNotFound) return not_found();
    return jsonrpc::MakeErrorResponse(message.id, jsonrpc::ErrorFromStatus(r.status()));
  }
  json::array contents;
  for (const auto& c : *r) contents.push_back(c.ToJson());
  return jsonrpc::MakeResponse(message.id, json::object{{"contents", std::move(contents)}});
}

Result<json::value> Server::ListPrompts(const json::value& params) const {
  TUNA_ASSIGN_OR_RETURN(PageRange page, ReadCursor(params, "prompts:", prompts_.size(), options_.page_size));
  json::array list;
  for (std::size_t i = page.begin; i < page.end; ++i) {
    const Prompt& p = prompts_[i];
    json::object o{{"name", p.name}};
    if (!p.title.empty()) o["title"] = p.title;
    if (!p.description.empty()) o["description"] = p.description;
    json::array args;
    for (const auto& a : p.arguments) {
      json::object ao{{"name", a.name}, {"required", a.required}};
      if (!a.description.empty()) ao["description"] = a.description;
      args.push_back(std::move(ao));
    }
    if (!args.empty()) o["arguments"] = std::move(args);
    list.push_back(std::move(o));
  }
  json::object result{{"prompts", std::move(list)}};
  if (page.end < prompts_.size()) result["nextCursor"] = "prompts:" + std::to_string(page.end);
  return json::value(std::move(result));
}

Result<json::value> Server::GetPrompt(const json::value& params) const {
  const json::value* name = params.is_object() ? params.get_object().if_contains("name") : nullptr;
  if (!name || !name->is_string()) return InvalidArgument("prompts/get needs a string name", "params.name");
  auto it = std::find_if(prompts_.begin(), prompts_.end(), [&](const Prompt& p) { return p.name == name->get_string(); });
  if (it == prompts_.end()) return InvalidArgument("unknown prompt: " + std::string(name->get_string()), "params.name");
  std::map<std::string, std::string> arguments;
  if (const json::value* args = params.get_object().if_contains("arguments"); args && !args->is_null()) {
    if (!args->is_object()) return InvalidArgument("prompts/get arguments must be an object", "params.arguments");
    for (const auto& [k, v] : args->get_object()) {
      if (!v.is_string()) return InvalidArgument("prompt argument \"" + std::string(k) + "\" must be a string", "params.arguments." + std::string(k));
      arguments.emplace(std::string(k), std::string(v.get_string()));
    }
  }
  for (const auto& a : it->arguments) {
    if (a.required && !arguments.contains(a.name)) {
      return InvalidArgument("missing required prompt argument \"" + a.name + "\"", "params.arguments." + a.name);
    }
  }
  Result<std::vector<PromptMessage>> r = Status(StatusCode::kInternal, "prompt handler did not run");
  try {
    r = it->handler(arguments);
  } catch (const std::exception& ex) {
    r = Internal(std::string("prompt failed: ") + ex.what());
  } catch (...) {
    r = Internal("prompt failed");
  }
  if (!r.ok()) return r.status();
  json::array messages;
  for (const auto& m : *r) messages.push_back(json::object{{"role", m.role}, {"content", m.content}});
  json::object result{{"messages", std::move(messages)}};
  if (!it->description.empty()) result["description"] = it->description;
  return json::value(std::move(result));
}

Result<json::value> Server::CallTool(const json::value& params, const SessionState& state, const MessageSink& sink) const {
  if (!params.is_object()) return InvalidArgument("tools/call needs params with a name", "params");
  const json::object& p = params.get_object();
  const json::value* name = p.if_contains("name");
  if (!name || !name->is_string()) return InvalidArgument("tools/call needs a string name", "params.name");
  auto it = std::find_if(tools_.begin(), tools_.end(), [&](const Tool& t) { return t.name == name->get_string(); });
  if (it == tools_.end()) return InvalidArgument("unknown tool: " + std::string(name->get_string()), "params.name");

  json::object arguments;
  if (const json::value* args = p.if_contains("arguments"); args && !args->is_null()) {
    if (!args->is_object()) return InvalidArgument("tools/call arguments must be an object", "params.arguments");
    arguments = args->get_object();
  }
  if (Status valid = ValidateArguments(it->input_schema, arguments); !valid.ok()) {
    if (state.protocol_version == kProtocol20250618) return valid;
    return json::value(ToolResult::Failure("invalid arguments for tool " + it->name + ": " + valid.message()).ToJson());
  }

  json::value progress_token = nullptr;
  if (const json::value* meta = p.if_contains("_meta"); meta && meta->is_object()) {
    if (const json::value* token = meta->get_object().if_contains("progressToken"); token && jsonrpc::IsValidId(*token)) {
      progress_token = *token;
    }
  }
  ToolContext context(std::move(progress_token), sink, state.log_level, state.requester, state.client_capabilities);
  Result<ToolResult> r = Status(StatusCode::kInternal, "tool handler did not run");
  try {
    r = it->handler(arguments, context);
  } catch (const std::exception& ex) {
    r = Internal(std::string("tool failed: ") + ex.what());
  } catch (...) {
    r = Internal("tool failed");
  }
  // A failing tool is a result the model can read, not a protocol error.
  if (!r.ok()) return json::value(ToolResult::Failure(r.status().message()).ToJson());
  return json::value(r->ToJson());
}

namespace {

// A session of the static Server: its own SessionState, the shared tool registry. Requests to
// the client (sampling, elicitation) go out through the session's Notifier and wait here for
// the client's response, which arrives as a message of its own.
class ServerSessionHandler final : public SessionHandler, public std::enable_shared_from_this<ServerSessionHandler> {
 public:
  ServerSessionHandler(const Server& server, SessionState state, NotifierPtr notifier)
      : server_(server), state_(std::move(state)), requests_(notifier), has_notifier_(notifier != nullptr) {}

  std::optional<json::value> Handle(const jsonrpc::Message& message, const MessageSink& sink) override {
    if (message.IsResponse()) {
      requests_.Resolve(message);
      return std::nullopt;
    }
    SessionState state;
    {
      std::lock_guard lock(mu_);
      state = state_;  // a copy: calls of one session run concurrently
    }
    if (has_notifier_) {
      std::weak_ptr<ServerSessionHandler> weak = weak_from_this();
      state.requester = [weak](std::string_view method, json::value params) -> Result<json::value> {
        auto self = weak.lock();
        if (!self) return Unavailable("the MCP session has ended");
        return self->requests_.Request(method, std::move(params));
      };
    }
    std::optional<json::value> answer = server_.Handle(message, state, sink);
    // Only these messages change the session's state; write back what they changed.
    const std::string& m = message.method;
    if (m == "notifications/initialized" || m == "logging/setLevel" || m == "resources/subscribe" || m == "resources/unsubscribe") {
      std::lock_guard lock(mu_);
      state_.initialized = state_.initialized || state.initialized;
      if (m == "logging/setLevel") state_.log_level = state.log_level;
      if (m == "resources/subscribe" || m == "resources/unsubscribe") state_.subscriptions = state.subscriptions;
    }
    return answer;
  }

  void Close() override { requests_.Close(); }

 private:
  const Server& server_;
  std::mutex mu_;
  SessionState state_;
  internal::ClientRequests requests_;  // sampling, elicitation and roots requests to the client
  const bool has_notifier_;
};

class ServerSessionFactory final : public SessionFactory {
 public:
  explicit ServerSessionFactory(const Server& server) : server_(server) {}

  SessionStart Open(const jsonrpc::Message& initialize, const SessionContext& context) override {
    SessionState state;
    std::optional<json::value> answer = server_.Handle(initialize, state);
    SessionStart start;
    if (!answer) {
      start.response = jsonrpc::MakeErrorResponse(initialize.id, jsonrpc::Error{jsonrpc::kInternalError, "initialize produced no answer", nullptr});
      return start;
    }
    start.response = std::move(*answer);
    if (start.response.as_object().contains("error")) return start;
    start.protocol_version = state.protocol_version;
    start.handler = std::make_shared<ServerSessionHandler>(server_, std::move(state), context.notifier);
    return start;
  }

 private:
  const Server& server_;
};

}  // namespace

SessionFactoryPtr MakeServerSessionFactory(const Server& server) { return std::make_shared<ServerSessionFactory>(server); }

json::value ListChangedNotification(std::string_view list) {
  return jsonrpc::MakeNotification("notifications/" + std::string(list) + "/list_changed", json::object{});
}

json::value ResourceUpdatedNotification(std::string_view uri) {
  return jsonrpc::MakeNotification("notifications/resources/updated", json::object{{"uri", uri}});
}

}  // namespace tuna::mcp
