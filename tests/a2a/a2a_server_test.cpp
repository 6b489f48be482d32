// a2a::Server core: every JSON-RPC method and error code in both versions, multi-turn, cancel
// delivered to a running handler, subscribe, stream order, persistence through the store.

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "a2a/test_store.hpp"
#include "a2a/test_agent.hpp"
#include "tuna/a2a/server.hpp"

namespace tuna::a2a {
namespace {

// Collects the responses of one stream.
struct StreamCollector {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<json::value> events;
  bool ended = false;

  void Attach(const EventStreamPtr& s) {
    s->Attach(
        [this](const json::value& r) {
          std::lock_guard<std::mutex> lock(mu);
          events.push_back(r);
          cv.notify_all();
          return true;
        },
        [this] {
          std::lock_guard<std::mutex> lock(mu);
          ended = true;
          cv.notify_all();
        });
  }
  bool WaitEnded() {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return ended; });
  }
  bool WaitEvents(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return events.size() >= n; });
  }
};

class A2aServerTest : public ::testing::Test {
 protected:
  void SetUp() override { server_ = MakeServer(); }

  ServerPtr MakeServer(ServerOptions options = {}) {
    options.card = A2aTestCard();
    auto s = Server::Make(agent_, *store_, std::move(options));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  static std::string UserMessage(const std::string& text, Version v, const std::string& extra = {}) {
    json::object m = ToJson(Message::Text(Role::kUser, text), v).as_object();
    if (!extra.empty()) {
      json::value parsed = json::parse(extra);
      for (auto& [k, val] : parsed.as_object()) m[k] = val;
    }
    return json::serialize(m);
  }

  json::value Call(const std::string& method, const std::string& params, std::optional<std::string> header = std::nullopt,
                   Server* server = nullptr) {
    CallContext ctx;
    ctx.version_header = std::move(header);
    Reply r = (server ? server : server_.get())
                  ->CallText(R"({"jsonrpc":"2.0","id":7,"method":")" + method + R"(","params":)" + params + "}", ctx);
    EXPECT_FALSE(r.stream);
    return r.response;
  }

  static int Code(const json::value& response) {
    const auto* e = response.as_object().if_contains("error");
    return e ? static_cast<int>(e->at("code").as_int64()) : 0;
  }

  json::value Send(const std::string& text, Version v = Version::kV1_0, const std::string& extra_message = {},
                   const std::string& configuration = {}) {
    std::string params = R"({"message":)" + UserMessage(text, v, extra_message);
    if (!configuration.empty()) params += R"(,"configuration":)" + configuration;
    params += "}";
    return Call(v == Version::kV1_0 ? "SendMessage" : "message/send", params);
  }

  // A "slow" task started without waiting for it, on a new server that writes with
  // `persist_interval` (ServerOptions); returns its id once the handler runs.
  std::string StartSlowTask(std::chrono::milliseconds persist_interval) {
    ServerOptions options;
    options.persist_interval = persist_interval;
    server_ = MakeServer(options);
    json::value r = Send("slow", Version::kV1_0, {}, R"({"returnImmediately":true})");
    EXPECT_EQ(Code(r), 0) << r;
    EXPECT_TRUE(agent_.WaitStarted(1));
    return std::string(r.at("result").at("task").at("id").as_string());
  }

  Reply Stream(const std::string& method, const std::string& params, std::optional<std::string> header = std::nullopt) {
    CallContext ctx;
    ctx.version_header = std::move(header);
    return server_->CallText(R"({"jsonrpc":"2.0","id":"s1","method":")" + method + R"(","params":)" + params + "}", ctx);
  }

  A2aTestStore store_;
  A2aTestAgent agent_;
  ServerPtr server_;
};

TEST_F(A2aServerTest, SendMessageBlocksUntilCompletedV1) {
  json::value r = Send("echo hi");
  ASSERT_EQ(Code(r), 0) << r;
  EXPECT_EQ(r.at("id"), 7);
  const json::value& task = r.at("result").at("task");
  EXPECT_EQ(task.at("status").at("state"), "TASK_STATE_COMPLETED");
  EXPECT_EQ(task.at("status").at("message").at("parts").as_array()[0].at("text"), "echo: hi");
  EXPECT_EQ(task.at("status").at("message").at("role"), "ROLE_AGENT");
  EXPECT_EQ(task.at("artifacts").as_array()[0].at("parts").as_array()[0].at("text"), "echo: hi");
  // History: the user's message, then the agent's final message.
  const json::array& history = task.at("history").as_array();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].at("role"), "ROLE_USER");
  EXPECT_EQ(history[1].at("role"), "ROLE_AGENT");
  EXPECT_FALSE(task.as_object().contains("kind"));
}

TEST_F(A2aServerTest, MessageSendAnswersIn0_3Shapes) {
  json::value r = Send("echo hi", Version::kV0_3);
  ASSERT_EQ(Code(r), 0) << r;
  const json::value& task = r.at("result");
  EXPECT_EQ(task.at("kind"), "task");
  EXPECT_EQ(task.at("status").at("state"), "completed");
  EXPECT_EQ(task.at("history").as_array()[0].at("role"), "user");
  EXPECT_EQ(task.at("history").as_array()[0].at("parts").as_array()[0].at("kind"), "text");
}

TEST_F(A2aServerTest, DirectMessageAnswerCreatesNoTask) {
  json::value r = Send("direct just this");
  ASSERT_EQ(Code(r), 0) << r;
  const json::value& m = r.at("result").at("message");
  EXPECT_EQ(m.at("parts").as_array()[0].at("text"), "just this");
  EXPECT_EQ(m.at("role"), "ROLE_AGENT");
  EXPECT_TRUE(m.as_object().contains("contextId"));
  EXPECT_EQ(*store_->Count(), 0u);
  json::value r3 = Send("direct old", Version::kV0_3);
  EXPECT_EQ(r3.at("result").at("kind"), "message");
}

TEST_F(A2aServerTest, FailuresBecomeFailedTasks) {
  for (const char* word : {"fail", "throw"}) {
    json::value r = Send(word);
    ASSERT_EQ(Code(r), 0) << r;
    const json::value& task = r.at("result").at("task");
    EXPECT_EQ(task.at("status").at("state"), "TASK_STATE_FAILED") << word;
    std::string text(task.at("status").at("message").at("parts").as_array()[0].at("text").as_string());
    EXPECT_NE(text.find(std::string(word) == "fail" ? "boom" : "kaboom"), std::string::npos) << text;
  }
  json::value rejected = Send("reject");
  EXPECT_EQ(rejected.at("result").at("task").at("status").at("state"), "TASK_STATE_REJECTED");
}

TEST_F(A2aServerTest, MultiTurnContinuesAnInputRequiredTask) {
  json::value first = Send("ask");
  ASSERT_EQ(Code(first), 0) << first;
  const json::value& task = first.at("result").at("task");
  EXPECT_EQ(task.at("status").at("state"), "TASK_STATE_INPUT_REQUIRED");
  std::string task_id(task.at("id").as_string());
  std::string context_id(task.at("contextId").as_string());

  json::value second = Send("Ada", Version::kV1_0, R"({"taskId":")" + task_id + R"("})");
  ASSERT_EQ(Code(second), 0) << second;
  const json::value& done = second.at("result").at("task");
  EXPECT_EQ(done.at("id"), task_id.c_str());
  EXPECT_EQ(done.at("contextId"), context_id.c_str());
  EXPECT_EQ(done.at("status").at("state"), "TASK_STATE_COMPLETED");
  EXPECT_EQ(done.at("status").at("message").at("parts").as_array()[0].at("text"), "hello Ada");
  EXPECT_EQ(agent_.last_history_size.load(), 2u);  // "ask" and the question
  EXPECT_EQ(done.at("history").as_array().size(), 4u);

  // A finished task takes no more messages; an unknown one is -32001; a wrong context -32602.
  EXPECT_EQ(Code(Send("again", Version::kV1_0, R"({"taskId":")" + task_id + R"("})")), kUnsupportedOperation);
  EXPECT_EQ(Code(Send("x", Version::kV1_0, R"({"taskId":"nope"})")), kTaskNotFound);
  json::value ask2 = Send("ask");
  std::string id2(ask2.at("result").at("task").at("id").as_string());
  EXPECT_EQ(Code(Send("x", Version::kV1_0, R"({"taskId":")" + id2 + R"(","contextId":"other"})")), jsonrpc::kInvalidParams);
}

TEST_F(A2aServerTest, ContextIdGroupsTasksAndListTasksFilters) {
  json::value a = Send("echo a", Version::kV1_0, R"({"contextId":"conv-1"})");
  json::value b = Send("echo b", Version::kV1_0, R"({"contextId":"conv-1"})");
  json::value c = Send("echo c");
  EXPECT_EQ(a.at("result").at("task").at("contextId"), "conv-1");
  EXPECT_EQ(b.at("result").at("task").at("contextId"), "conv-1");
  EXPECT_NE(c.at("result").at("task").at("contextId"), "conv-1");

  json::value list = Call("ListTasks", R"({"contextId":"conv-1"})");
  ASSERT_EQ(Code(list), 0) << list;
  EXPECT_EQ(list.at("result").at("tasks").as_array().size(), 2u);
  EXPECT_EQ(list.at("result").at("totalSize"), 2);
  EXPECT_EQ(list.at("result").at("nextPageToken"), "");
  // Artifacts only on request.
  EXPECT_FALSE(list.at("result").at("tasks").as_array()[0].as_object().contains("artifacts"));

  // Paging over all three tasks, one per page.
  std::set<std::string> seen;
  std::string token;
  for (int page = 0; page < 5; ++page) {
    std::string params = R"({"pageSize":1)" + (token.empty() ? std::string() : R"(,"pageToken":")" + token + "\"") + "}";
    json::value r = Call("ListTasks", params);
    ASSERT_EQ(Code(r), 0) << r;
    for (const auto& t : r.at("result").at("tasks").as_array()) seen.insert(std::string(t.at("id").as_string()));
    token = std::string(r.at("result").at("nextPageToken").as_string());
    if (token.empty()) break;
  }
  EXPECT_EQ(seen.size(), 3u);
  json::value completed = Call("ListTasks", R"({"status":"TASK_STATE_COMPLETED","includeArtifacts":true})");
  EXPECT_EQ(completed.at("result").at("tasks").as_array().size(), 3u);
  EXPECT_TRUE(completed.at("result").at("tasks").as_array()[0].as_object().contains("artifacts"));
  EXPECT_EQ(Code(Call("ListTasks", R"({"pageSize":0})")), jsonrpc::kInvalidParams);
  EXPECT_EQ(Code(Call("ListTasks", R"({"status":"DONE"})")), jsonrpc::kInvalidParams);
}

TEST_F(A2aServerTest, GetTaskWithHistoryLengthAndFromASecondServer) {
  json::value r = Send("echo persisted");
  std::string id(r.at("result").at("task").at("id").as_string());
  json::value got = Call("GetTask", R"({"id":")" + id + R"(","historyLength":1})");
  ASSERT_EQ(Code(got), 0) << got;
  EXPECT_EQ(got.at("result").at("history").as_array().size(), 1u);
  EXPECT_EQ(got.at("result").at("status").at("state"), "TASK_STATE_COMPLETED");

  // Another server over the same store sees the task (0.3 shapes through tasks/get).
  ServerPtr other = MakeServer();
  json::value old = Call("tasks/get", R"({"id":")" + id + R"("})", std::nullopt, other.get());
  ASSERT_EQ(Code(old), 0) << old;
  EXPECT_EQ(old.at("result").at("kind"), "task");
  EXPECT_EQ(old.at("result").at("status").at("state"), "completed");
  EXPECT_EQ(old.at("result").at("artifacts").as_array()[0].at("parts").as_array()[0].at("text"), "echo: persisted");
  auto typed = other->GetTask(id);
  ASSERT_TRUE(typed.ok());
  EXPECT_EQ(typed->history.size(), 2u);

  // A server in another scope does not.
  ServerOptions scoped;
  scoped.scope = "other";
  ServerPtr third = MakeServer(scoped);
  EXPECT_EQ(Code(Call("GetTask", R"({"id":")" + id + R"("})", std::nullopt, third.get())), kTaskNotFound);

  EXPECT_EQ(Code(Call("GetTask", R"({"id":"missing"})")), kTaskNotFound);
  EXPECT_EQ(Code(Call("GetTask", R"({})")), jsonrpc::kInvalidParams);
  EXPECT_EQ(Code(Call("GetTask", R"({"id":5})")), jsonrpc::kInvalidParams);
}

TEST_F(A2aServerTest, TasksExpireAfterTheirTtl) {
  ServerOptions options;
  options.task_ttl = std::chrono::minutes(5);
  server_ = MakeServer(options);
  json::value r = Send("echo short-lived");
  std::string id(r.at("result").at("task").at("id").as_string());
  EXPECT_EQ(Code(Call("GetTask", R"({"id":")" + id + R"("})")), 0);
  store_.Advance(std::chrono::minutes(6));
  EXPECT_EQ(Code(Call("GetTask", R"({"id":")" + id + R"("})")), kTaskNotFound);
}

TEST_F(A2aServerTest, CancelReachesTheRunningHandler) {
  json::value r = Send("wait", Version::kV1_0, {}, R"({"returnImmediately":true})");
  ASSERT_EQ(Code(r), 0) << r;
  const json::value& task = r.at("result").at("task");
  std::string id(task.at("id").as_string());
  ASSERT_TRUE(agent_.WaitStarted(1));
  json::value c = Call("CancelTask", R"({"id":")" + id + R"("})");
  ASSERT_EQ(Code(c), 0) << c;
  EXPECT_EQ(c.at("result").at("status").at("state"), "TASK_STATE_CANCELED");
  EXPECT_EQ(agent_.cancel_calls.load(), 1);
  // The handler sees its token and returns; the task stays canceled.
  for (int i = 0; i < 500 && server_->ActiveTasks() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(server_->ActiveTasks(), 0u);
  EXPECT_TRUE(agent_.saw_cancel.load());
  EXPECT_EQ(Call("GetTask", R"({"id":")" + id + R"("})").at("result").at("status").at("state"), "TASK_STATE_CANCELED");
  // Canceling again, or a finished task: -32002; unknown: -32001.
  EXPECT_EQ(Code(Call("CancelTask", R"({"id":")" + id + R"("})")), kTaskNotCancelable);
  json::value done = Send("echo x");
  EXPECT_EQ(Code(Call("tasks/cancel", R"({"id":")" + std::string(done.at("result").at("task").at("id").as_string()) + R"("})")),
            kTaskNotCancelable);
  EXPECT_EQ(Code(Call("CancelTask", R"({"id":"nope"})")), kTaskNotFound);
}

TEST_F(A2aServerTest, CancelAnInputRequiredTaskNotRunning) {
  json::value r = Send("ask");
  std::string id(r.at("result").at("task").at("id").as_string());
  ServerPtr other = MakeServer();  // not the one that ran it
  json::value c = Call("tasks/cancel", R"({"id":")" + id + R"("})", std::nullopt, other.get());
  ASSERT_EQ(Code(c), 0) << c;
  EXPECT_EQ(c.at("result").at("status").at("state"), "canceled");
}

TEST_F(A2aServerTest, NonBlockingSendReturnsBeforeTheEnd) {
  json::value r = Send("slow", Version::kV0_3, {}, R"({"blocking":false})");
  ASSERT_EQ(Code(r), 0) << r;
  std::string state(r.at("result").at("status").at("state").as_string());
  EXPECT_TRUE(state == "submitted" || state == "working") << state;
  agent_.Release();
  std::string id(r.at("result").at("id").as_string());
  for (int i = 0; i < 500 && server_->ActiveTasks() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(Call("tasks/get", R"({"id":")" + id + R"("})").at("result").at("status").at("state"), "completed");
}

TEST_F(A2aServerTest, StreamingOrderV1) {
  Reply r = Stream("SendStreamingMessage", R"({"message":)" + UserMessage("chunks", Version::kV1_0) + "}");
  ASSERT_TRUE(r.stream) << r.response;
  StreamCollector c;
  c.Attach(r.stream);
  ASSERT_TRUE(c.WaitEnded());
  std::vector<std::string> kinds;
  for (const auto& e : c.events) {
    EXPECT_EQ(e.at("id"), "s1");
    const json::object& result = e.at("result").as_object();
    kinds.push_back(std::string(result.begin()->key()));
  }
  std::vector<std::string> want = {"task", "statusUpdate", "artifactUpdate", "artifactUpdate", "artifactUpdate", "statusUpdate"};
  EXPECT_EQ(kinds, want);
  EXPECT_EQ(c.events[0].at("result").at("task").at("status").at("state"), "TASK_STATE_SUBMITTED");
  EXPECT_EQ(c.events[1].at("result").at("statusUpdate").at("status").at("state"), "TASK_STATE_WORKING");
  EXPECT_FALSE(c.events[2].at("result").at("artifactUpdate").as_object().contains("append"));
  EXPECT_EQ(c.events[3].at("result").at("artifactUpdate").at("append"), true);
  EXPECT_EQ(c.events[4].at("result").at("artifactUpdate").at("lastChunk"), true);
  EXPECT_EQ(c.events[5].at("result").at("statusUpdate").at("status").at("state"), "TASK_STATE_COMPLETED");
  // The stored task has the three chunks in one artifact.
  std::string id(c.events[0].at("result").at("task").at("id").as_string());
  auto task = server_->GetTask(id);
  ASSERT_TRUE(task.ok());
  ASSERT_EQ(task->artifacts.size(), 1u);
  EXPECT_EQ(task->artifacts[0].parts.size(), 3u);
}

TEST_F(A2aServerTest, StreamingIn0_3HasKindsAndFinal) {
  Reply r = Stream("message/stream", R"({"message":)" + UserMessage("echo s", Version::kV0_3) + "}");
  ASSERT_TRUE(r.stream);
  StreamCollector c;
  c.Attach(r.stream);
  ASSERT_TRUE(c.WaitEnded());
  ASSERT_GE(c.events.size(), 3u);
  EXPECT_EQ(c.events.front().at("result").at("kind"), "task");
  EXPECT_EQ(c.events.back().at("result").at("kind"), "status-update");
  EXPECT_EQ(c.events.back().at("result").at("final"), true);
  EXPECT_EQ(c.events.back().at("result").at("status").at("state"), "completed");
  // A direct message is a one-event stream.
  Reply m = Stream("message/stream", R"({"message":)" + UserMessage("direct hi", Version::kV0_3) + "}");
  StreamCollector cm;
  cm.Attach(m.stream);
  ASSERT_TRUE(cm.WaitEnded());
  ASSERT_EQ(cm.events.size(), 1u);
  EXPECT_EQ(cm.events[0].at("result").at("kind"), "message");
}

TEST_F(A2aServerTest, AConsumerThatStopsIsDetached) {
  Reply r = Stream("SendStreamingMessage", R"({"message":)" + UserMessage("chunks", Version::kV1_0) + "}");
  ASSERT_TRUE(r.stream);
  std::mutex mu;
  std::condition_variable cv;
  int delivered = 0;
  int ended = 0;
  r.stream->Attach(
      [&](const json::value&) {
        std::lock_guard<std::mutex> lock(mu);
        ++delivered;
        return false;  // e.g. the client's buffer is full
      },
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        ++ended;
        cv.notify_all();
      });
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return ended > 0; }));
  EXPECT_EQ(delivered, 1);
  EXPECT_EQ(ended, 1);
}

TEST_F(A2aServerTest, ABacklogBeyondItsBoundEndsTheStreamWithAnError) {
  ServerOptions options;
  options.max_stream_backlog = 2;
  server_ = MakeServer(options);
  Reply r = Stream("SendStreamingMessage", R"({"message":)" + UserMessage("chunks", Version::kV1_0) + "}");
  ASSERT_TRUE(r.stream);
  // Nobody attaches until the task is done: the stream keeps two events and an error.
  for (int i = 0; i < 500 && server_->ActiveTasks() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  StreamCollector c;
  c.Attach(r.stream);
  ASSERT_TRUE(c.WaitEnded());
  ASSERT_EQ(c.events.size(), 3u);
  EXPECT_EQ(c.events[2].at("error").at("code"), jsonrpc::kInternalError);
  EXPECT_EQ(c.events[2].at("id"), "s1");
}

TEST_F(A2aServerTest, SubscribeToARunningTask) {
  json::value r = Send("slow", Version::kV1_0, {}, R"({"returnImmediately":true})");
  std::string id(r.at("result").at("task").at("id").as_string());
  ASSERT_TRUE(agent_.WaitStarted(1));
  Reply sub = Stream("SubscribeToTask", R"({"id":")" + id + R"("})");
  ASSERT_TRUE(sub.stream) << sub.response;
  StreamCollector c;
  c.Attach(sub.stream);
  ASSERT_TRUE(c.WaitEvents(1));
  EXPECT_EQ(c.events[0].at("result").at("task").at("status").at("state"), "TASK_STATE_WORKING");
  agent_.Release();
  ASSERT_TRUE(c.WaitEnded());
  ASSERT_EQ(c.events.size(), 3u);
  EXPECT_EQ(c.events[1].at("result").at("artifactUpdate").at("artifact").at("artifactId"), "slow-result");
  EXPECT_EQ(c.events[2].at("result").at("statusUpdate").at("status").at("state"), "TASK_STATE_COMPLETED");

  // A finished task: -32004 (UnsupportedOperationError), both versions; unknown: -32001.
  EXPECT_EQ(Code(Stream("SubscribeToTask", R"({"id":")" + id + R"("})").response), kUnsupportedOperation);
  EXPECT_EQ(Code(Stream("tasks/resubscribe", R"({"id":")" + id + R"("})").response), kUnsupportedOperation);
  EXPECT_EQ(Code(Stream("SubscribeToTask", R"({"id":"nope"})").response), kTaskNotFound);
}

TEST_F(A2aServerTest, SubscribeToAnInterruptedTaskGivesItsStateAndEnds) {
  json::value r = Send("ask");
  std::string id(r.at("result").at("task").at("id").as_string());
  Reply sub = Stream("tasks/resubscribe", R"({"id":")" + id + R"("})");
  ASSERT_TRUE(sub.stream);
  StreamCollector c;
  c.Attach(sub.stream);
  ASSERT_TRUE(c.WaitEnded());
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].at("result").at("status").at("state"), "input-required");
}

TEST_F(A2aServerTest, UnsupportedFeaturesAndErrors) {
  EXPECT_EQ(Code(Call("CreateTaskPushNotificationConfig", R"({"taskId":"x"})")), kPushNotificationNotSupported);
  EXPECT_EQ(Code(Call("GetTaskPushNotificationConfig", R"({"taskId":"x","id":"y"})")), kPushNotificationNotSupported);
  EXPECT_EQ(Code(Call("ListTaskPushNotificationConfigs", R"({"taskId":"x"})")), kPushNotificationNotSupported);
  EXPECT_EQ(Code(Call("DeleteTaskPushNotificationConfig", R"({"taskId":"x","id":"y"})")), kPushNotificationNotSupported);
  EXPECT_EQ(Code(Call("tasks/pushNotificationConfig/set", R"({"taskId":"x"})")), kPushNotificationNotSupported);
  EXPECT_EQ(Code(Call("GetExtendedAgentCard", "{}")), kExtendedAgentCardNotConfigured);
  EXPECT_EQ(Code(Call("agent/getAuthenticatedExtendedCard", "{}")), kExtendedAgentCardNotConfigured);
  EXPECT_EQ(Code(Call("NoSuchMethod", "{}")), jsonrpc::kMethodNotFound);
  // A push config inside SendMessage: -32003 too.
  EXPECT_EQ(Code(Send("echo x", Version::kV1_0, {}, R"({"taskPushNotificationConfig":{"url":"http://x"}})")),
            kPushNotificationNotSupported);
  // Bad params name the field.
  json::value bad = Call("SendMessage", R"({"message":{"messageId":"m","role":"ROLE_USER","parts":[{"text":3}]}})");
  EXPECT_EQ(Code(bad), jsonrpc::kInvalidParams);
  EXPECT_NE(std::string(bad.at("error").at("message").as_string()).find("params.message.parts[0].text"), std::string::npos) << bad;
  EXPECT_EQ(Code(Call("SendMessage", R"({"message":{"messageId":"m","role":"ROLE_AGENT","parts":[{"text":"x"}]}})")),
            jsonrpc::kInvalidParams);
  EXPECT_EQ(Code(Call("SendMessage", R"({})")), jsonrpc::kInvalidParams);
  // Garbage.
  EXPECT_EQ(Code(server_->CallText("{nope").response), jsonrpc::kParseError);
  EXPECT_EQ(Code(server_->CallText(R"({"jsonrpc":"1.0","id":1,"method":"GetTask"})").response), jsonrpc::kInvalidRequest);
  // Notifications are not answered.
  EXPECT_TRUE(server_->CallText(R"({"jsonrpc":"2.0","method":"GetTask","params":{"id":"x"}})").response.is_null());
}

TEST_F(A2aServerTest, VersionHeaderSelectsShapes) {
  // 1.0 header with a 1.0 method: 1.0 shapes; 0.3 header: 0.3 shapes even for a 1.0 name.
  json::value v1 = Call("SendMessage", R"({"message":)" + UserMessage("echo v", Version::kV1_0) + "}", "1.0");
  EXPECT_TRUE(v1.at("result").as_object().contains("task")) << v1;
  json::value v03 = Call("SendMessage", R"({"message":)" + UserMessage("echo v", Version::kV0_3) + "}", "0.3");
  EXPECT_EQ(v03.at("result").at("kind"), "task") << v03;
  // Unsupported versions: -32009.
  json::value bad = Call("SendMessage", R"({"message":)" + UserMessage("echo v", Version::kV1_0) + "}", "2.0");
  EXPECT_EQ(Code(bad), kVersionNotSupported);
  EXPECT_EQ(Code(Call("GetTask", R"({"id":"x"})", "0.2")), kVersionNotSupported);
}

TEST_F(A2aServerTest, BusyServerRefusesBeyondItsLimits) {
  ServerOptions options;
  options.max_concurrent_tasks = 1;
  options.max_queued_tasks = 0;
  server_ = MakeServer(options);
  json::value first = Send("wait", Version::kV1_0, {}, R"({"returnImmediately":true})");
  ASSERT_EQ(Code(first), 0) << first;
  ASSERT_TRUE(agent_.WaitStarted(1));
  json::value second = Send("echo x");
  EXPECT_EQ(Code(second), jsonrpc::kInternalError) << second;
  agent_.Release();
}

TEST_F(A2aServerTest, ShutdownCancelsRunningHandlers) {
  json::value r = Send("wait", Version::kV1_0, {}, R"({"returnImmediately":true})");
  std::string id(r.at("result").at("task").at("id").as_string());
  ASSERT_TRUE(agent_.WaitStarted(1));
  server_->Shutdown();
  EXPECT_TRUE(agent_.saw_cancel.load());
  EXPECT_EQ(server_->ActiveTasks(), 0u);
}

TEST(A2aServerOptions, InvalidOptionsAreRefused) {
  A2aTestStore store;
  A2aTestAgent agent;
  EXPECT_FALSE(Server::Make(agent, *store, {}).ok());  // no card name
  ServerOptions options;
  options.card = A2aTestCard();
  options.scope = "a/b";
  EXPECT_FALSE(Server::Make(agent, *store, options).ok());
  options.scope = "ok";
  options.max_concurrent_tasks = 0;
  EXPECT_FALSE(Server::Make(agent, *store, options).ok());
}


// Polls `f` every 10 ms for up to 10 s (generous: not a timing assertion).
template <typename F>
bool Within10s(F f) {
  for (int i = 0; i < 1000; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// ServerOptions::persist_interval (docs/a2a.md, "Write-behind"): a running task's changes reach
// the store late and coalesced; this server never answers from a stale copy; ends are written at
// once; a task that goes quiet is written by the flusher.
TEST_F(A2aServerTest, WriteBehindKeepsThisServerCurrentAndTheStoreEventuallyRight) {
  std::string id = StartSlowTask(std::chrono::hours(1));  // nothing deferred is written until the end
  ServerPtr other = MakeServer();  // another process over the same store
  // This server: the running task as it is now, history included.
  json::value here = Call("GetTask", R"({"id":")" + id + R"("})");
  ASSERT_EQ(Code(here), 0) << here;
  EXPECT_EQ(here.at("result").at("status").at("state"), "TASK_STATE_WORKING");
  EXPECT_EQ(here.at("result").at("history").as_array().size(), 2u);  // the user's message, "waiting"
  json::value listed = Call("ListTasks", "{}");
  ASSERT_EQ(Code(listed), 0) << listed;
  EXPECT_EQ(listed.at("result").at("totalSize"), 1);
  // The store has not been written yet: another server does not know the task.
  EXPECT_EQ(Code(Call("GetTask", R"({"id":")" + id + R"("})", std::nullopt, other.get())), kTaskNotFound);
  // Its end is written at once, with everything before it.
  agent_.Release();
  ASSERT_TRUE(Within10s([&] { return server_->ActiveTasks() == 0; }));
  json::value there = Call("GetTask", R"({"id":")" + id + R"("})", std::nullopt, other.get());
  ASSERT_EQ(Code(there), 0) << there;
  EXPECT_EQ(there.at("result").at("status").at("state"), "TASK_STATE_COMPLETED");
  EXPECT_EQ(there.at("result").at("artifacts").as_array().size(), 1u);
  EXPECT_EQ(there.at("result").at("history").as_array().size(), 3u);  // the user's message, "waiting", "released"
  // ListTasks by context finds it elsewhere too (the index was written).
  std::string ctx(there.at("result").at("contextId").as_string());
  json::value by_context = Call("ListTasks", R"({"contextId":")" + ctx + R"("})", std::nullopt, other.get());
  EXPECT_EQ(by_context.at("result").at("totalSize"), 1);
}

TEST_F(A2aServerTest, AQuietRunningTaskIsWrittenByTheFlusher) {
  std::string id = StartSlowTask(std::chrono::milliseconds(50));
  ServerPtr other = MakeServer();
  // The handler said "working" and went quiet: the flusher writes it.
  EXPECT_TRUE(Within10s([&] {
    json::value there = Call("GetTask", R"({"id":")" + id + R"("})", std::nullopt, other.get());
    return Code(there) == 0 && there.at("result").at("status").at("state") == "TASK_STATE_WORKING";
  }));
  agent_.Release();
  ASSERT_TRUE(Within10s([&] { return server_->ActiveTasks() == 0; }));
}

TEST_F(A2aServerTest, InputRequiredIsWrittenAtOnceSoAnotherServerCanContinue) {
  ServerOptions options;
  options.persist_interval = std::chrono::hours(1);
  server_ = MakeServer(options);
  json::value r = Send("ask");
  ASSERT_EQ(Code(r), 0) << r;
  std::string id(r.at("result").at("task").at("id").as_string());
  ServerPtr other = MakeServer();
  json::value next = Call("SendMessage", R"({"message":)" + UserMessage("Ada", Version::kV1_0, R"({"taskId":")" + id + R"("})") + "}",
                          std::nullopt, other.get());
  ASSERT_EQ(Code(next), 0) << next;
  EXPECT_EQ(next.at("result").at("task").at("status").at("state"), "TASK_STATE_COMPLETED");
}

TEST_F(A2aServerTest, PersistIntervalZeroWritesEveryChange) {
  std::string id = StartSlowTask(std::chrono::milliseconds(0));
  ServerPtr other = MakeServer();
  json::value there = Call("GetTask", R"({"id":")" + id + R"("})", std::nullopt, other.get());
  ASSERT_EQ(Code(there), 0) << there;
  EXPECT_EQ(there.at("result").at("status").at("state"), "TASK_STATE_WORKING");
  agent_.Release();
  ASSERT_TRUE(Within10s([&] { return server_->ActiveTasks() == 0; }));
}

}  // namespace
}  // namespace tuna::a2a
