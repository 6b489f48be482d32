// JSON-RPC 2.0 messages and dispatch. Every rule of the specification that decides between
// "request", "notification", "response" and "invalid" lives in ParseValue.

#include "tuna/jsonrpc.hpp"

#include <exception>
#include <utility>

#include <boost/json.hpp>

namespace tuna::jsonrpc {
namespace json = boost::json;

namespace {

ParseResult Invalid(std::string message, json::value id = nullptr) {
  ParseResult r;
  r.error = Error{kInvalidRequest, std::move(message), nullptr};
  r.id = std::move(id);
  return r;
}

}  // namespace

bool IsValidId(const json::value& id) { return id.is_string() || id.is_int64() || id.is_uint64(); }

ParseResult ParseValue(const json::value& value) {
  if (value.is_array()) {
    return Invalid("batch requests are not supported (JSON-RPC batching was removed in MCP 2025-06-18)");
  }
  if (!value.is_object()) return Invalid("a JSON-RPC message must be a JSON object");
  const json::object& obj = value.get_object();

  // The id is read first so that errors about the rest can still name the request.
  const json::value* id = obj.if_contains("id");
  json::value usable_id = (id && IsValidId(*id)) ? *id : json::value(nullptr);

  const json::value* version = obj.if_contains("jsonrpc");
  if (!version || !version->is_string() || version->get_string() != "2.0") {
    return Invalid("\"jsonrpc\" must be exactly \"2.0\"", usable_id);
  }

  const json::value* method = obj.if_contains("method");
  const json::value* result = obj.if_contains("result");
  const json::value* error = obj.if_contains("error");

  Message m;
  if (method) {
    if (!method->is_string()) return Invalid("\"method\" must be a string", usable_id);
    if (result || error) return Invalid("a request cannot carry \"result\" or \"error\"", usable_id);
    m.method = std::string(method->get_string());
    if (const json::value* params = obj.if_contains("params")) {
      if (!params->is_object() && !params->is_array()) {
        return Invalid("\"params\" must be an object or an array", usable_id);
      }
      m.params = *params;
    }
    if (id) {
      // MCP (and good practice) forbids null ids; JSON-RPC discourages fractional ones.
      if (!IsValidId(*id)) return Invalid("\"id\" must be a string or an integer");
      m.kind = MessageKind::kRequest;
      m.id = *id;
    } else {
      m.kind = MessageKind::kNotification;
    }
  } else if (result || error) {
    if (result && error) return Invalid("a response cannot carry both \"result\" and \"error\"", usable_id);
    if (result) {
      if (!id || !IsValidId(*id)) return Invalid("a response needs a string or integer \"id\"");
      m.kind = MessageKind::kResponse;
      m.id = *id;
      m.result = *result;
    } else {
      // An error response may have a null id (the request could not be identified).
      if (!id || !(id->is_null() || IsValidId(*id))) {
        return Invalid("an error response needs an \"id\" (string, integer or null)");
      }
      if (!error->is_object()) return Invalid("\"error\" must be an object", usable_id);
      const json::object& e = error->get_object();
      const json::value* code = e.if_contains("code");
      const json::value* message = e.if_contains("message");
      if (!code || !(code->is_int64() || code->is_uint64())) return Invalid("\"error.code\" must be an integer", usable_id);
      if (!message || !message->is_string()) return Invalid("\"error.message\" must be a string", usable_id);
      m.kind = MessageKind::kErrorResponse;
      m.id = *id;
      m.error.code = static_cast<int>(code->to_number<std::int64_t>());
      m.error.message = std::string(message->get_string());
      if (const json::value* data = e.if_contains("data")) m.error.data = *data;
    }
  } else {
    return Invalid("not a JSON-RPC message: no \"method\", \"result\" or \"error\"", usable_id);
  }

  ParseResult r;
  r.message = std::move(m);
  return r;
}

ParseResult ParseMessage(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) {
    ParseResult r;
    r.error = Error{kParseError, "parse error: " + ec.message(), nullptr};
    return r;
  }
  return ParseValue(value);
}

json::value MakeResponse(const json::value& id, json::value result) {
  return json::object{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json::value MakeErrorResponse(const json::value& id, const Error& error) {
  json::object e{{"code", error.code}, {"message", error.message}};
  if (!error.data.is_null()) e["data"] = error.data;
  return json::object{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(e)}};
}

json::value MakeRequest(const json::value& id, std::string_view method, json::value params) {
  json::object o{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) o["params"] = std::move(params);
  return o;
}

json::value MakeNotification(std::string_view method, json::value params) {
  json::object o{{"jsonrpc", "2.0"}, {"method", method}};
  if (!params.is_null()) o["params"] = std::move(params);
  return o;
}

Error ErrorFromStatus(const Status& status) {
  Error e;
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:  // a name in the params (a tool, a prompt) that does not exist
      e.code = kInvalidParams;
      break;
    case StatusCode::kUnimplemented:
      e.code = kMethodNotFound;
      break;
    default:
      e.code = kInternalError;
      break;
  }
  e.message = status.message().empty() ? std::string(StatusCodeName(status.code())) : status.message();
  json::object data{{"status", StatusCodeName(status.code())}};
  if (!status.field().empty()) data["field"] = status.field();
  e.data = std::move(data);
  return e;
}

Status Dispatcher::Register(std::string method, Handler handler) {
  if (method.empty()) return InvalidArgument("empty JSON-RPC method name");
  if (!handler) return InvalidArgument("null handler for JSON-RPC method " + method);
  auto [it, inserted] = handlers_.emplace(std::move(method), std::move(handler));
  if (!inserted) return AlreadyExists("JSON-RPC method already registered: " + it->first);
  return Status::Ok();
}

bool Dispatcher::Has(std::string_view method) const { return handlers_.find(method) != handlers_.end(); }

std::optional<json::value> Dispatcher::Dispatch(const Message& message) const {
  if (message.IsResponse()) return std::nullopt;
  auto it = handlers_.find(message.method);
  if (it == handlers_.end()) {
    if (message.IsNotification()) return std::nullopt;  // unknown notifications are ignored
    return MakeErrorResponse(message.id, Error{kMethodNotFound, "method not found: " + message.method, nullptr});
  }
  Result<json::value> result = Status(StatusCode::kInternal, "handler did not run");
  try {
    result = it->second(message.params, message);
  } catch (const std::exception& ex) {
    result = Internal(std::string("handler failed: ") + ex.what());
  } catch (...) {
    result = Internal("handler failed");
  }
  if (message.IsNotification()) return std::nullopt;
  if (!result.ok()) return MakeErrorResponse(message.id, ErrorFromStatus(result.status()));
  return MakeResponse(message.id, std::move(result).value());
}

}  // namespace tuna::jsonrpc
