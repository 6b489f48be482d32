#pragma once
/// JSON-RPC 2.0 (https://www.jsonrpc.org/specification): message parsing, error codes, a method
/// dispatcher, and the one mapping from tuna::StatusCode to JSON-RPC error codes.
/// Used by the MCP server (tuna/mcp/server.hpp) and the A2A gateway. Never throws.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "tuna/status.hpp"

namespace tuna::jsonrpc {

/// Standard error codes of JSON-RPC 2.0.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;

/// An error object: {code, message, data?}. `data` is omitted when null.
struct Error {
  int code = kInternalError;
  std::string message;
  boost::json::value data;
};

enum class MessageKind { kRequest, kNotification, kResponse, kErrorResponse };

/// One parsed JSON-RPC message. `id` is a string or an integer exactly as sent (a request or
/// response); null for notifications and for error responses to unidentifiable requests.
struct Message {
  MessageKind kind = MessageKind::kRequest;
  boost::json::value id;
  std::string method;         // requests and notifications
  boost::json::value params;  // object, array, or null when absent
  boost::json::value result;  // responses
  Error error;                // error responses

  /// A request: has a method and an id, expects an answer.
  bool IsRequest() const { return kind == MessageKind::kRequest; }
  /// A notification: has a method, no id, is never answered.
  bool IsNotification() const { return kind == MessageKind::kNotification; }
  /// A response or an error response.
  bool IsResponse() const { return kind == MessageKind::kResponse || kind == MessageKind::kErrorResponse; }
};

/// Outcome of parsing: a message, or the error to answer with (and the request's id when it
/// could be read, so the error response can name it).
struct ParseResult {
  std::optional<Message> message;
  Error error;
  boost::json::value id;  // null unless the id could be read from an invalid request

  /// True when a message was parsed.
  bool ok() const { return message.has_value(); }
};

/// Parses one message from text. Not JSON: -32700. Not a valid request, notification or
/// response: -32600. A batch (JSON array) is refused with -32600 too: MCP removed batching in
/// 2025-06-18 and tuna serves no earlier revision.
ParseResult ParseMessage(std::string_view text);

/// Validates one already-parsed JSON value as a message (same rules as ParseMessage).
ParseResult ParseValue(const boost::json::value& value);

/// True when `id` is a valid request id: a string or an integer (JSON-RPC also allows
/// fractional numbers, which it discourages; tuna refuses them, as MCP does).
bool IsValidId(const boost::json::value& id);

/// {"jsonrpc":"2.0","id":...,"result":...}
boost::json::value MakeResponse(const boost::json::value& id, boost::json::value result);
/// {"jsonrpc":"2.0","id":...,"error":{code,message,data?}}; `id` may be null.
boost::json::value MakeErrorResponse(const boost::json::value& id, const Error& error);
/// {"jsonrpc":"2.0","id":...,"method":...,"params"?}; params omitted when null.
boost::json::value MakeRequest(const boost::json::value& id, std::string_view method, boost::json::value params = nullptr);
/// {"jsonrpc":"2.0","method":...,"params"?}
boost::json::value MakeNotification(std::string_view method, boost::json::value params = nullptr);

/// The one StatusCode -> JSON-RPC error mapping: kInvalidArgument and kNotFound -> -32602,
/// kUnimplemented -> -32601, everything else -> -32603. The message is the status message;
/// `data` carries {"status": StatusCodeName} so clients can tell the causes apart.
Error ErrorFromStatus(const Status& status);

/// Maps method names to handlers. Not thread-safe to register while dispatching; Dispatch is
/// safe from many threads once registration is done (handlers must be thread-safe themselves).
class Dispatcher {
 public:
  /// Gets the request's params (null when absent) and the whole message (for its id or method).
  using Handler = std::function<Result<boost::json::value>(const boost::json::value& params, const Message& message)>;

  /// Registers a handler; AlreadyExists for a duplicate name, InvalidArgument for an empty one.
  Status Register(std::string method, Handler handler);
  /// True when a handler is registered for `method`.
  bool Has(std::string_view method) const;
  /// Runs the handler of a request or notification. Requests get a response value (the result,
  /// or an error: -32601 for an unknown method, the mapped status for a failed handler, -32603
  /// for a handler that threw). Notifications and responses get nullopt (never answered).
  std::optional<boost::json::value> Dispatch(const Message& message) const;

 private:
  std::map<std::string, Handler, std::less<>> handlers_;
};

}  // namespace tuna::jsonrpc
