#pragma once
/// Per-session MCP servers. A transport (tuna/mcp/streamable_http.hpp) asks a SessionFactory for
/// a SessionHandler when a client initializes, hands it every later message of that session, and
/// Close()s it when the session ends (DELETE, idle TTL, server stop). Each session gets a
/// Notifier that pushes server-initiated messages (notifications/tools/list_changed, requests)
/// to the client at any time. The static mcp::Server is one implementation
/// (MakeServerSessionFactory); the gateway's federated sessions are another.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "tuna/jsonrpc.hpp"
#include "tuna/mcp/server.hpp"

namespace tuna::mcp {

/// Pushes server-initiated messages to one session's client, from any thread, at any time.
/// Messages go to the session's standalone SSE stream (the client's GET); while none is open
/// they wait in a bounded buffer and are delivered when the client opens one.
class Notifier {
 public:
  virtual ~Notifier() = default;
  /// Queues one JSON-RPC notification or request for the client. False when the session has
  /// ended (the message is dropped). When the buffer is full the oldest undelivered message is
  /// dropped (and logged) so that memory stays bounded.
  virtual bool Notify(boost::json::value message) = 0;
  /// True while the session lives.
  virtual bool alive() const = 0;
};
using NotifierPtr = std::shared_ptr<Notifier>;

/// The MCP logic of one client session. Implementations must be thread-safe: a client may have
/// several requests in flight at once, and Close() may run while some are.
class SessionHandler {
 public:
  virtual ~SessionHandler() = default;
  /// Handles one client message after initialize: a request gets its response (a JSON-RPC result
  /// or error object), a notification or a response (to a server-initiated request) gets
  /// nullopt. `sink` carries messages related to this request that must reach the client before
  /// the response (notifications/progress, notifications/message); it is valid only during the
  /// call. May block. Must not throw.
  virtual std::optional<boost::json::value> Handle(const jsonrpc::Message& message, const MessageSink& sink) = 0;
  /// The session ended (DELETE, idle expiry or server stop). Called exactly once, from a
  /// transport thread; release upstream sessions here. Calls still in flight should finish
  /// promptly. Must not throw or block for long.
  virtual void Close() = 0;
};
using SessionHandlerPtr = std::shared_ptr<SessionHandler>;  // shared: in-flight calls hold it

/// What a factory learns about a new session.
struct SessionContext {
  std::string session_id;  // the Mcp-Session-Id the client will be given
  NotifierPtr notifier;    // server-initiated messages; the session keeps it alive (holding it weakly is fine)
  /// The HTTP headers of the initialize request (as received), e.g. Authorization.
  std::vector<std::pair<std::string, std::string>> headers;
};

/// The outcome of an initialize request.
struct SessionStart {
  /// The JSON-RPC response to send: the initialize result, or an error.
  boost::json::value response;
  /// The session's handler; null when initialize failed (no session is created and `response`
  /// carries the error).
  SessionHandlerPtr handler;
  /// The negotiated protocol revision (checked against each request's MCP-Protocol-Version).
  std::string protocol_version;
};

/// Creates a SessionHandler per initialize. Thread-safe.
class SessionFactory {
 public:
  virtual ~SessionFactory() = default;
  /// Answers `initialize` (a request, method "initialize") for a new session. May block (a
  /// federated session initializes its upstream sessions here). Must not throw.
  virtual SessionStart Open(const jsonrpc::Message& initialize, const SessionContext& context) = 0;
};
using SessionFactoryPtr = std::shared_ptr<SessionFactory>;

/// A factory whose sessions all serve the same static `server` (which must outlive it): each
/// session keeps its own SessionState; Close() just forgets it.
SessionFactoryPtr MakeServerSessionFactory(const Server& server);

/// Helpers to build server-initiated notifications.
/// notifications/tools/list_changed (also resources/ and prompts/: pass "resources" or "prompts").
boost::json::value ListChangedNotification(std::string_view list = "tools");
/// notifications/resources/updated for `uri`.
boost::json::value ResourceUpdatedNotification(std::string_view uri);

}  // namespace tuna::mcp
