#pragma once
// An incremental text/event-stream parser (the WHATWG "server-sent events" rules) for the MCP
// client's Streamable HTTP transport. Private to the library.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tuna::mcp::internal {

struct SseEvent {
  std::string type;  // "message" when the stream named none
  std::string data;  // data lines joined with '\n'
  std::string id;    // the last event id in effect after this event
};

class SseParser {
 public:
  /// Returns false to stop parsing (the rest of the chunk is dropped).
  using EventSink = std::function<bool(const SseEvent& event)>;
  explicit SseParser(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

  /// Feeds bytes; calls `sink` for each complete event with data. False when the sink stopped
  /// or an event grew beyond the limit (see too_large()).
  bool Feed(std::string_view bytes, const EventSink& sink);

  /// The last event id seen ("" if none); survives events without an id.
  const std::string& last_event_id() const { return last_event_id_; }
  /// The reconnection delay the server asked for with `retry:`, in milliseconds.
  std::optional<long> retry_ms() const { return retry_ms_; }
  bool too_large() const { return too_large_; }

 private:
  bool Line(std::string_view line, const EventSink& sink);

  std::size_t max_event_bytes_;
  std::string line_;
  bool skip_lf_ = false;  // the previous chunk ended in '\r'
  std::string type_;
  std::string data_;
  bool has_data_ = false;
  std::string last_event_id_;
  std::optional<long> retry_ms_;
  bool too_large_ = false;
};

}  // namespace tuna::mcp::internal
