#pragma once
// The agent the A2A tests talk to: its behaviour is chosen by the first word of the user's text.
//   echo <x>     working, an artifact "echo: <x>", completed with "echo: <x>"  (the default)
//   direct <x>   a direct Message "<x>" (no task)
//   ask          input-required "what is your name?"; the next message completes "hello <name>"
//   wait         working, then waits for cancellation (at most 30 s), then completes
//   slow         working, waits for Release() (or cancellation), then artifact chunks, completed
//   chunks       three artifact chunks (append, lastChunk on the last), completed
//   fail         returns a non-OK status
//   throw        throws std::runtime_error
//   reject       rejected with a reason
// Anonymous namespace: one copy per test file.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>

#include "tuna/a2a/server.hpp"

namespace {

namespace a2a = tuna::a2a;

class A2aTestAgent final : public a2a::AgentExecutor {
 public:
  tuna::Status Execute(const a2a::RequestContext& ctx, a2a::EventQueue& events) override {
    ++executions;
    std::string text = ctx.message.AllText();
    if (ctx.task && ctx.task->status.state == a2a::TaskState::kInputRequired) {
      last_history_size = ctx.history.size();
      return events.Complete("hello " + text);
    }
    std::string word = text.substr(0, text.find(' '));
    std::string rest = text.find(' ') == std::string::npos ? "" : text.substr(text.find(' ') + 1);
    if (word == "direct") return events.Reply(rest);
    if (word == "ask") return events.RequireInput("what is your name?");
    if (word == "fail") return tuna::Internal("boom");
    if (word == "throw") throw std::runtime_error("kaboom");
    if (word == "reject") return events.UpdateStatus(a2a::TaskState::kRejected, a2a::Message::Text(a2a::Role::kAgent, "not my job"));
    if (word == "wait" || word == "slow") {
      TUNA_RETURN_IF_ERROR(events.Working("waiting"));
      {
        std::lock_guard<std::mutex> lock(mu_);
        started_.fetch_add(1);
      }
      started_cv_.notify_all();
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!ctx.cancelled() && std::chrono::steady_clock::now() < deadline) {
        if (word == "wait") {
          ctx.cancellation->WaitFor(std::chrono::milliseconds(50));
          continue;
        }
        std::unique_lock<std::mutex> lock(mu_);
        if (cv_.wait_for(lock, std::chrono::milliseconds(20), [&] { return released_; })) break;
      }
      if (ctx.cancelled()) {
        saw_cancel = true;
        return tuna::Status::Ok();
      }
      if (word == "slow") {
        a2a::Artifact a;
        a.artifact_id = "slow-result";
        a.parts.push_back(a2a::Part::Text("done"));
        TUNA_RETURN_IF_ERROR(events.UpdateArtifact(a, false, true));
      }
      return events.Complete("released");
    }
    if (word == "chunks") {
      TUNA_RETURN_IF_ERROR(events.Working());
      for (int i = 0; i < 3; ++i) {
        a2a::Artifact a;
        a.artifact_id = "stream";
        a.name = "numbers";
        a.parts.push_back(a2a::Part::Text(std::to_string(i)));
        TUNA_RETURN_IF_ERROR(events.UpdateArtifact(a, i > 0, i == 2));
      }
      return events.Complete("counted");
    }
    std::string echo = word == "echo" ? rest : text;
    TUNA_RETURN_IF_ERROR(events.Working());
    a2a::Artifact a;
    a.artifact_id = "echo";
    a.name = "echo";
    a.parts.push_back(a2a::Part::Text("echo: " + echo));
    TUNA_RETURN_IF_ERROR(events.UpdateArtifact(a, false, true));
    return events.Complete("echo: " + echo);
  }

  void Cancel(const std::string& task_id) override { cancel_calls.fetch_add(1); }

  /// Lets "wait" / "slow" handlers finish.
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  /// Waits until `n` wait/slow handlers have started.
  bool WaitStarted(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return started_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return started_.load() >= n; });
  }

  std::atomic<int> executions{0};
  std::atomic<int> cancel_calls{0};
  std::atomic<bool> saw_cancel{false};
  std::atomic<std::size_t> last_history_size{0};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable started_cv_;
  std::atomic<int> started_{0};
  bool released_ = false;
};

inline a2a::AgentCard A2aTestCard() {
  a2a::AgentCard card;
  card.name = "test-agent";
  card.description = "Echoes, asks, waits.";
  card.version = "1.2.3";
  card.provider = a2a::AgentProvider{"tuna", "https://example.com"};
  card.skills.push_back({.id = "echo", .name = "Echo", .description = "Echoes text", .tags = {"echo"},
                         .examples = {"echo hi"}, .input_modes = {}, .output_modes = {}});
  return card;
}

}  // namespace
