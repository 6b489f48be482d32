// A2A data model codecs: both wire versions, round trips, and strict decoding with field paths.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tuna/a2a/types.hpp"

namespace tuna::a2a {
namespace {

json::value Parse(std::string_view text) { return json::parse(text); }

Message SampleMessage() {
  Message m;
  m.message_id = "m-1";
  m.role = Role::kUser;
  m.context_id = "ctx-1";
  m.task_id = "task-1";
  m.reference_task_ids = {"task-0"};
  m.metadata["k"] = "v";
  m.parts.push_back(Part::Text("hello"));
  m.parts.push_back(Part::Raw(std::string("\x00\x01\xff bin", 7), "application/octet-stream", "a.bin"));
  m.parts.push_back(Part::Url("https://example.com/a.png", "image/png", "a.png"));
  m.parts.push_back(Part::Data(json::object{{"x", 1}}));
  m.parts.back().metadata["p"] = true;
  return m;
}

void ExpectSameMessage(const Message& a, const Message& b) {
  EXPECT_EQ(a.message_id, b.message_id);
  EXPECT_EQ(a.role, b.role);
  EXPECT_EQ(a.context_id, b.context_id);
  EXPECT_EQ(a.task_id, b.task_id);
  EXPECT_EQ(a.reference_task_ids, b.reference_task_ids);
  EXPECT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.parts.size(), b.parts.size());
  for (std::size_t i = 0; i < a.parts.size(); ++i) {
    EXPECT_EQ(a.parts[i].kind, b.parts[i].kind) << i;
    EXPECT_EQ(a.parts[i].text, b.parts[i].text) << i;
    EXPECT_EQ(a.parts[i].data, b.parts[i].data) << i;
    EXPECT_EQ(a.parts[i].media_type, b.parts[i].media_type) << i;
    EXPECT_EQ(a.parts[i].filename, b.parts[i].filename) << i;
    EXPECT_EQ(a.parts[i].metadata, b.parts[i].metadata) << i;
  }
}

TEST(A2aTypes, MessageRoundTripV1) {
  Message m = SampleMessage();
  json::value v = ToJson(m, Version::kV1_0);
  const json::object& o = v.as_object();
  EXPECT_FALSE(o.contains("kind"));
  EXPECT_EQ(o.at("role"), "ROLE_USER");
  const json::array& parts = o.at("parts").as_array();
  EXPECT_EQ(parts[0], Parse(R"({"text":"hello"})"));
  EXPECT_EQ(parts[1].at("raw"), "AAH/IGJpbg==");
  EXPECT_EQ(parts[1].at("mediaType"), "application/octet-stream");
  EXPECT_EQ(parts[1].at("filename"), "a.bin");
  EXPECT_EQ(parts[2].at("url"), "https://example.com/a.png");
  EXPECT_EQ(parts[3].at("data"), Parse(R"({"x":1})"));
  auto back = MessageFromJson(v, Version::kV1_0);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameMessage(m, *back);
}

TEST(A2aTypes, MessageRoundTripV03) {
  Message m = SampleMessage();
  json::value v = ToJson(m, Version::kV0_3);
  const json::object& o = v.as_object();
  EXPECT_EQ(o.at("kind"), "message");
  EXPECT_EQ(o.at("role"), "user");
  const json::array& parts = o.at("parts").as_array();
  EXPECT_EQ(parts[0], Parse(R"({"kind":"text","text":"hello"})"));
  EXPECT_EQ(parts[1], Parse(R"({"kind":"file","file":{"bytes":"AAH/IGJpbg==","mimeType":"application/octet-stream","name":"a.bin"}})"));
  EXPECT_EQ(parts[2], Parse(R"({"kind":"file","file":{"uri":"https://example.com/a.png","mimeType":"image/png","name":"a.png"}})"));
  EXPECT_EQ(parts[3], Parse(R"({"kind":"data","data":{"x":1},"metadata":{"p":true}})"));
  auto back = MessageFromJson(v, Version::kV0_3);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameMessage(m, *back);
}

TEST(A2aTypes, TaskStatesBothSpellings) {
  EXPECT_EQ(TaskStateName(TaskState::kInputRequired, Version::kV1_0), "TASK_STATE_INPUT_REQUIRED");
  EXPECT_EQ(TaskStateName(TaskState::kInputRequired, Version::kV0_3), "input-required");
  EXPECT_EQ(TaskStateName(TaskState::kAuthRequired, Version::kV0_3), "auth-required");
  EXPECT_EQ(ParseTaskState("TASK_STATE_CANCELED"), TaskState::kCanceled);
  EXPECT_EQ(ParseTaskState("rejected"), TaskState::kRejected);
  EXPECT_FALSE(ParseTaskState("done").has_value());
  for (TaskState s : {TaskState::kCompleted, TaskState::kFailed, TaskState::kCanceled, TaskState::kRejected}) {
    EXPECT_TRUE(IsTerminal(s));
    EXPECT_FALSE(IsInterrupted(s));
  }
  EXPECT_TRUE(IsInterrupted(TaskState::kInputRequired));
  EXPECT_TRUE(IsInterrupted(TaskState::kAuthRequired));
  EXPECT_FALSE(IsTerminal(TaskState::kWorking));
  EXPECT_FALSE(IsInterrupted(TaskState::kSubmitted));
}

TEST(A2aTypes, TaskRoundTripBothVersionsAndHistoryLength) {
  Task t;
  t.id = "t1";
  t.context_id = "c1";
  t.status.state = TaskState::kInputRequired;
  t.status.message = Message::Text(Role::kAgent, "name?");
  t.status.timestamp = "2026-01-02T03:04:05.678Z";
  Artifact a;
  a.artifact_id = "a1";
  a.name = "out";
  a.parts.push_back(Part::Text("x"));
  t.artifacts.push_back(a);
  for (int i = 0; i < 3; ++i) t.history.push_back(Message::Text(Role::kUser, "m" + std::to_string(i)));
  for (Version v : {Version::kV1_0, Version::kV0_3}) {
    json::value j = ToJson(t, v);
    EXPECT_EQ(j.at("status").at("state"), v == Version::kV1_0 ? "TASK_STATE_INPUT_REQUIRED" : "input-required");
    EXPECT_EQ(j.as_object().contains("kind"), v == Version::kV0_3);
    auto back = TaskFromJson(j, v);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->id, "t1");
    EXPECT_EQ(back->context_id, "c1");
    EXPECT_EQ(back->status.state, TaskState::kInputRequired);
    ASSERT_TRUE(back->status.message.has_value());
    EXPECT_EQ(back->status.message->AllText(), "name?");
    EXPECT_EQ(back->status.timestamp, t.status.timestamp);
    ASSERT_EQ(back->artifacts.size(), 1u);
    EXPECT_EQ(back->artifacts[0].name, "out");
    EXPECT_EQ(back->history.size(), 3u);
    // historyLength keeps the newest messages.
    json::value two = ToJson(t, v, 2);
    ASSERT_EQ(two.at("history").as_array().size(), 2u);
    EXPECT_EQ(two.at("history").as_array()[1].at("parts").as_array()[0].at("text"), "m2");
    EXPECT_FALSE(ToJson(t, v, 0).as_object().contains("history"));
  }
}

TEST(A2aTypes, StreamEventsWrappedIn1_0TaggedIn0_3) {
  TaskStatusUpdateEvent s{.task_id = "t", .context_id = "c", .status = {TaskState::kCompleted, std::nullopt, ""}, .final = true, .metadata = {}};
  TaskArtifactUpdateEvent a;
  a.task_id = "t";
  a.context_id = "c";
  a.artifact.artifact_id = "a";
  a.artifact.parts.push_back(Part::Text("x"));
  a.append = true;
  a.last_chunk = true;

  json::value s1 = StreamEventToJson(s, Version::kV1_0);
  EXPECT_EQ(s1.at("statusUpdate").at("status").at("state"), "TASK_STATE_COMPLETED");
  EXPECT_FALSE(s1.at("statusUpdate").as_object().contains("final"));
  json::value s3 = StreamEventToJson(s, Version::kV0_3);
  EXPECT_EQ(s3.at("kind"), "status-update");
  EXPECT_EQ(s3.at("final"), true);
  json::value a1 = StreamEventToJson(a, Version::kV1_0);
  EXPECT_EQ(a1.at("artifactUpdate").at("append"), true);
  EXPECT_EQ(a1.at("artifactUpdate").at("lastChunk"), true);
  json::value a3 = StreamEventToJson(a, Version::kV0_3);
  EXPECT_EQ(a3.at("kind"), "artifact-update");
  EXPECT_TRUE(StreamEventToJson(Message::Text(Role::kAgent, "x"), Version::kV1_0).as_object().contains("message"));

  for (Version v : {Version::kV1_0, Version::kV0_3}) {
    auto e1 = StreamEventFromJson(StreamEventToJson(s, v), v);
    ASSERT_TRUE(e1.ok()) << e1.status().ToString();
    ASSERT_TRUE(std::holds_alternative<TaskStatusUpdateEvent>(*e1));
    EXPECT_EQ(std::get<TaskStatusUpdateEvent>(*e1).status.state, TaskState::kCompleted);
    auto e2 = StreamEventFromJson(StreamEventToJson(a, v), v);
    ASSERT_TRUE(e2.ok()) << e2.status().ToString();
    ASSERT_TRUE(std::holds_alternative<TaskArtifactUpdateEvent>(*e2));
    EXPECT_TRUE(std::get<TaskArtifactUpdateEvent>(*e2).append);
    EXPECT_TRUE(std::get<TaskArtifactUpdateEvent>(*e2).last_chunk);
  }
}

TEST(A2aTypes, StrictDecodingNamesTheField) {
  auto bad_part = MessageFromJson(Parse(R"({"messageId":"m","role":"ROLE_USER","parts":[{"text":1}]})"), Version::kV1_0,
                                  "params.message");
  ASSERT_FALSE(bad_part.ok());
  EXPECT_EQ(bad_part.status().field(), "params.message.parts[0].text");
  auto two_members = MessageFromJson(Parse(R"({"messageId":"m","role":"ROLE_USER","parts":[{"text":"a","url":"b"}]})"),
                                     Version::kV1_0, "params.message");
  ASSERT_FALSE(two_members.ok());
  EXPECT_EQ(two_members.status().field(), "params.message.parts[0]");
  auto no_role = MessageFromJson(Parse(R"({"messageId":"m","parts":[]})"), Version::kV1_0, "params.message");
  ASSERT_FALSE(no_role.ok());
  EXPECT_EQ(no_role.status().field(), "params.message.role");
  auto bad_role = MessageFromJson(Parse(R"({"messageId":"m","role":"robot","parts":[]})"), Version::kV1_0, "m");
  ASSERT_FALSE(bad_role.ok());
  EXPECT_EQ(bad_role.status().field(), "m.role");
  auto bad_kind = MessageFromJson(Parse(R"({"messageId":"m","role":"user","parts":[{"kind":"video"}]})"), Version::kV0_3, "m");
  ASSERT_FALSE(bad_kind.ok());
  EXPECT_EQ(bad_kind.status().field(), "m.parts[0].kind");
  auto bad_b64 = PartFromJson(Parse(R"({"raw":"***"})"), Version::kV1_0, "p");
  ASSERT_FALSE(bad_b64.ok());
  EXPECT_EQ(bad_b64.status().field(), "p.raw");
  auto bad_state = TaskStatusFromJson(Parse(R"({"state":"TASK_STATE_DONE"})"), Version::kV1_0, "s");
  ASSERT_FALSE(bad_state.ok());
  EXPECT_EQ(bad_state.status().field(), "s.state");
  auto not_object = MessageFromJson(Parse("[1]"), Version::kV1_0, "params.message");
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.status().field(), "params.message");
  auto bad_0_3_data = PartFromJson(Parse(R"({"kind":"data","data":[1]})"), Version::kV0_3, "p");
  EXPECT_FALSE(bad_0_3_data.ok());
}

TEST(A2aTypes, CardCarriesBothVersions) {
  AgentCard card;
  card.name = "agent";
  card.description = "d";
  card.version = "1";
  card.skills.push_back({.id = "s", .name = "S", .description = "skill", .tags = {"t"}, .examples = {}, .input_modes = {}, .output_modes = {}});
  json::value v = CardToJson(card, "http://127.0.0.1:1/a2a");
  const json::object& o = v.as_object();
  const json::array& ifs = o.at("supportedInterfaces").as_array();
  ASSERT_EQ(ifs.size(), 2u);
  EXPECT_EQ(ifs[0], Parse(R"({"url":"http://127.0.0.1:1/a2a","protocolBinding":"JSONRPC","protocolVersion":"1.0"})"));
  EXPECT_EQ(ifs[1].at("protocolVersion"), "0.3");
  EXPECT_EQ(o.at("url"), "http://127.0.0.1:1/a2a");
  EXPECT_EQ(o.at("preferredTransport"), "JSONRPC");
  EXPECT_EQ(o.at("protocolVersion"), "0.3.0");
  EXPECT_EQ(o.at("capabilities").at("streaming"), true);
  EXPECT_EQ(o.at("skills").as_array()[0].at("tags"), Parse(R"(["t"])"));

  auto back = CardFromJson(v);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->name, "agent");
  ASSERT_EQ(back->supported_interfaces.size(), 2u);
  EXPECT_EQ(back->supported_interfaces[0].protocol_version, "1.0");
  EXPECT_EQ(back->skills.size(), 1u);

  // A 0.3-only card becomes interfaces.
  auto legacy = CardFromJson(Parse(R"({"name":"old","url":"http://x/rpc","preferredTransport":"JSONRPC","protocolVersion":"0.3.0",
      "capabilities":{"streaming":true},"defaultInputModes":["text/plain"],"defaultOutputModes":["text/plain"],"skills":[],
      "additionalInterfaces":[{"url":"http://x/rest","transport":"HTTP+JSON"}]})"));
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  ASSERT_EQ(legacy->supported_interfaces.size(), 2u);
  EXPECT_EQ(legacy->supported_interfaces[0].url, "http://x/rpc");
  EXPECT_EQ(legacy->supported_interfaces[0].protocol_version, "0.3.0");
  EXPECT_EQ(legacy->supported_interfaces[1].protocol_binding, "HTTP+JSON");
  auto no_name = CardFromJson(Parse(R"({"url":"http://x"})"));
  ASSERT_FALSE(no_name.ok());
  EXPECT_EQ(no_name.status().field(), "agentCard.name");
}

TEST(A2aTypes, VersionsAndIds) {
  EXPECT_EQ(ParseVersion("1.0"), Version::kV1_0);
  EXPECT_EQ(ParseVersion(" 1.0.2 "), Version::kV1_0);
  EXPECT_EQ(ParseVersion("0.3.0"), Version::kV0_3);
  EXPECT_EQ(ParseVersion("0.3"), Version::kV0_3);
  EXPECT_FALSE(ParseVersion("0.2.5").has_value());
  EXPECT_FALSE(ParseVersion("2.0").has_value());
  std::string id = NewUuid();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(NewUuid(), id);
  EXPECT_EQ(NowTimestamp().size(), 24u);
}

}  // namespace
}  // namespace tuna::a2a
