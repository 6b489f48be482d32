#pragma once
// Requests a server sends to its client (sampling/createMessage, elicitation/create, roots/list)
// and the wait for their answers, for session handlers on the Streamable HTTP transport: the
// request goes out through the session's Notifier (the client's GET stream), the client's
// response arrives later as a message of its own (a POST) and is handed to Resolve(). Used by
// the static Server's sessions and by the gateway's pass-through sessions. Private.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "tuna/jsonrpc.hpp"
#include "tuna/mcp/session.hpp"
#include "tuna/status.hpp"

namespace tuna::mcp::internal {

class ClientRequests {
 public:
  explicit ClientRequests(NotifierPtr notifier, std::chrono::milliseconds timeout = std::chrono::seconds(60),
                          std::size_t max_pending = 64)
      : notifier_(std::move(notifier)), timeout_(timeout), max_pending_(max_pending) {}

  /// Sends the request and waits for the client's answer: its result, FailedPrecondition with the
  /// client's error, DeadlineExceeded, or Unavailable when the session ended.
  Result<boost::json::value> Request(std::string_view method, boost::json::value params);
  /// A response (or error response) from the client; ignored unless it answers a pending request.
  /// True when it did.
  bool Resolve(const jsonrpc::Message& response);
  /// Fails every waiting request (the session ended). Idempotent.
  void Close();

 private:
  struct Pending {
    bool done = false;
    Result<boost::json::value> result = Status(StatusCode::kInternal, "no answer");
  };

  NotifierPtr notifier_;
  const std::chrono::milliseconds timeout_;
  const std::size_t max_pending_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
  std::uint64_t next_id_ = 0;
  std::map<std::string, Pending> pending_;  // bounded by max_pending_
};

}  // namespace tuna::mcp::internal
