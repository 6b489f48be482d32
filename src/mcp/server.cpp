// The MCP server core: lifecycle and tools over JSON-RPC messages, no transport.

#include "tuna/mcp/server.hpp"

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

}  // namespace

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
  json::object caps{{"tools", json::object{{"listChanged", false}}}};
  if (!resources_.empty()) caps["resources"] = json::object{{"listChanged", false}, {"subscribe", false}};
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
  if (it == resources_.end()) return not_found();
  Result<std::vector<ResourceContents>> r = Status(StatusCode::kInternal, "resource reader did not run");
  try {
    r = it->reader(it->uri);
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
  ToolContext context(std::move(progress_token), sink);
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

}  // namespace tuna::mcp
