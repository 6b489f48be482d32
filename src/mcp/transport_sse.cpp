#include "mcp/transport_sse.hpp"

#include <cctype>

namespace tuna::mcp::internal {

bool SseParser::Feed(std::string_view bytes, const EventSink& sink) {
  for (char c : bytes) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      skip_lf_ = c == '\r';
      std::string line = std::move(line_);
      line_.clear();
      if (!Line(line, sink)) return false;
      continue;
    }
    line_ += c;
    if (line_.size() + data_.size() > max_event_bytes_) {
      too_large_ = true;
      return false;
    }
  }
  return true;
}

bool SseParser::Line(std::string_view line, const EventSink& sink) {
  if (line.empty()) {  // dispatch
    bool keep_going = true;
    if (has_data_) {
      SseEvent event{.type = type_.empty() ? "message" : type_, .data = std::move(data_), .id = last_event_id_};
      keep_going = sink(event);
    }
    type_.clear();
    data_.clear();
    has_data_ = false;
    return keep_going;
  }
  if (line.front() == ':') return true;  // comment (keep-alive)
  std::string_view field = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_ += value;
    has_data_ = true;
  } else if (field == "event") {
    type_ = std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_event_id_ = std::string(value);
  } else if (field == "retry") {
    bool digits = !value.empty();
    for (char c : value) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (digits && value.size() < 10) retry_ms_ = std::stol(std::string(value));
  }
  return true;
}

}  // namespace tuna::mcp::internal
