#include "mcp/client_requests.hpp"

namespace tuna::mcp::internal {

Result<boost::json::value> ClientRequests::Request(std::string_view method, boost::json::value params) {
  std::string id;
  {
    std::lock_guard lock(mu_);
    if (closed_ || !notifier_) return Unavailable("the MCP session has ended");
    if (pending_.size() >= max_pending_) return Unavailable("too many requests to the client in flight");
    id = "tuna-" + std::to_string(++next_id_);
    pending_.emplace(id, Pending{});
  }
  if (!notifier_->Notify(jsonrpc::MakeRequest(boost::json::value(id), method, std::move(params)))) {
    std::lock_guard lock(mu_);
    pending_.erase(id);
    return Unavailable("the MCP session has ended");
  }
  std::unique_lock lock(mu_);
  bool answered = cv_.wait_for(lock, timeout_, [&] { return closed_ || pending_.at(id).done; });
  Pending p = std::move(pending_.at(id));
  pending_.erase(id);
  if (p.done) return std::move(p.result);
  if (!answered) return DeadlineExceeded("the client did not answer " + std::string(method) + " in time");
  return Unavailable("the MCP session has ended");
}

bool ClientRequests::Resolve(const jsonrpc::Message& response) {
  if (!response.IsResponse() || !response.id.is_string()) return false;
  std::lock_guard lock(mu_);
  auto it = pending_.find(std::string(response.id.get_string()));
  if (it == pending_.end()) return false;  // answered too late, or never asked
  it->second.done = true;
  if (response.kind == jsonrpc::MessageKind::kResponse) {
    it->second.result = response.result;
  } else {
    it->second.result = Status(StatusCode::kFailedPrecondition, "the client answered with error " +
                                                                     std::to_string(response.error.code) + ": " + response.error.message);
  }
  cv_.notify_all();
  return true;
}

void ClientRequests::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

}  // namespace tuna::mcp::internal
