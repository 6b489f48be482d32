// The transport-agnostic MCP core: lifecycle, version negotiation, tools/list paging and
// tools/call outcomes, driven with JSON-RPC messages directly.

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include <boost/json.hpp>

#include "mcp/fixture_server.hpp"
#include "tuna/mcp/server.hpp"

namespace tuna::mcp {
namespace {
namespace json = boost::json;

json::value Call(const Server& server, SessionState& state, std::string_view text) {
  auto parsed = jsonrpc::ParseMessage(text);
  EXPECT_TRUE(parsed.ok()) << text;
  if (!parsed.ok()) return nullptr;
  auto answer = server.Handle(*parsed.message, state);
  return answer ? *answer : json::value(nullptr);
}

json::value Initialize(const Server& server, SessionState& state, std::string_view version) {
  json::object params{{"protocolVersion", version},
                      {"capabilities", json::object{}},
                      {"clientInfo", json::object{{"name", "test"}, {"version", "1"}}}};
  return Call(server, state, json::serialize(jsonrpc::MakeRequest(1, "initialize", params)));
}

TEST(McpVersions, Negotiation) {
  EXPECT_TRUE(IsSupportedProtocolVersion("2025-06-18"));
  EXPECT_TRUE(IsSupportedProtocolVersion("2025-11-25"));
  EXPECT_FALSE(IsSupportedProtocolVersion("2025-03-26"));
  EXPECT_FALSE(IsSupportedProtocolVersion(""));
  EXPECT_EQ(NegotiateProtocolVersion("2025-06-18"), "2025-06-18");
  EXPECT_EQ(NegotiateProtocolVersion("2025-11-25"), "2025-11-25");
  EXPECT_EQ(NegotiateProtocolVersion("2024-11-05"), "2025-11-25");
  EXPECT_EQ(NegotiateProtocolVersion("2099-01-01"), std::string(kLatestProtocolVersion));
}

TEST(McpServerCore, InitializeAnswersClientVersionWhenSupported) {
  auto server = testing::MakeFixtureServer();
  ASSERT_TRUE(server);
  for (std::string_view v : {"2025-06-18", "2025-11-25"}) {
    SessionState state;
    json::value r = Initialize(*server, state, v);
    ASSERT_TRUE(r.as_object().contains("result")) << json::serialize(r);
    const auto& result = r.at("result").as_object();
    EXPECT_EQ(result.at("protocolVersion").as_string(), v);
    EXPECT_EQ(result.at("serverInfo").at("name").as_string(), "tuna-fixture");
    EXPECT_EQ(result.at("serverInfo").at("version").as_string(), "1.2.3");
    EXPECT_TRUE(result.at("capabilities").as_object().contains("tools"));
    EXPECT_EQ(state.protocol_version, v);
    EXPECT_EQ(state.client_info.at("name").as_string(), "test");
    EXPECT_FALSE(state.initialized);
  }
}

TEST(McpServerCore, InitializeAnswersLatestForUnknownVersion) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  json::value r = Initialize(*server, state, "2024-11-05");
  EXPECT_EQ(r.at("result").at("protocolVersion").as_string(), "2025-11-25");
  EXPECT_EQ(state.protocol_version, "2025-11-25");
}

TEST(McpServerCore, InitializeWithoutVersionIsInvalidParams) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  json::value r = Call(*server, state, R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})");
  EXPECT_EQ(r.at("error").at("code").as_int64(), jsonrpc::kInvalidParams);
  EXPECT_TRUE(state.protocol_version.empty());
  r = Call(*server, state, R"({"jsonrpc":"2.0","id":2,"method":"initialize"})");
  EXPECT_EQ(r.at("error").at("code").as_int64(), jsonrpc::kInvalidParams);
}

TEST(McpServerCore, InitializedNotificationAndPing) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  Initialize(*server, state, "2025-06-18");
  json::value none = Call(*server, state, R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_TRUE(none.is_null());
  EXPECT_TRUE(state.initialized);
  json::value pong = Call(*server, state, R"({"jsonrpc":"2.0","id":"p","method":"ping"})");
  EXPECT_EQ(json::serialize(pong), R"({"jsonrpc":"2.0","id":"p","result":{}})");
}

TEST(McpServerCore, UnknownMethodIsMethodNotFound) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  json::value r = Call(*server, state, R"({"jsonrpc":"2.0","id":1,"method":"sampling/nothing"})");
  EXPECT_EQ(r.at("error").at("code").as_int64(), jsonrpc::kMethodNotFound);
}

TEST(McpServerCore, ToolsListDescribesTools) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  json::value r = Call(*server, state, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  const auto& tools = r.at("result").at("tools").as_array();
  ASSERT_EQ(tools.size(), 4u);
  EXPECT_EQ(tools[0].at("name").as_string(), "echo");
  EXPECT_EQ(tools[0].at("title").as_string(), "Echo");
  EXPECT_EQ(tools[0].at("inputSchema").at("required").as_array().at(0).as_string(), "text");
  EXPECT_EQ(tools[1].at("outputSchema").at("type").as_string(), "object");
  EXPECT_EQ(tools[2].at("inputSchema").at("type").as_string(), "object");  // defaulted
  EXPECT_EQ(tools[3].at("name").as_string(), "count");
  EXPECT_FALSE(tools[2].as_object().contains("outputSchema"));
  EXPECT_FALSE(r.at("result").as_object().contains("nextCursor"));
}

TEST(McpServerCore, ToolsListPagesWithCursor) {
  auto server = testing::MakeFixtureServer(/*page_size=*/2, /*filler_tools=*/3);  // 7 tools
  SessionState state;
  std::set<std::string> seen;
  json::value cursor = nullptr;
  int pages = 0;
  do {
    json::object params;
    if (!cursor.is_null()) params["cursor"] = cursor;
    json::value r = Call(*server, state, json::serialize(jsonrpc::MakeRequest(pages, "tools/list", params)));
    const auto& result = r.at("result").as_object();
    for (const auto& t : result.at("tools").as_array()) EXPECT_TRUE(seen.insert(std::string(t.at("name").as_string())).second);
    EXPECT_LE(result.at("tools").as_array().size(), 2u);
    cursor = result.contains("nextCursor") ? result.at("nextCursor") : json::value(nullptr);
    ++pages;
  } while (!cursor.is_null() && pages < 10);
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(seen.size(), 7u);
}

TEST(McpServerCore, ToolsListRejectsBadCursor) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  for (const char* c : {R"("garbage")", R"("tools:")", R"("tools:99")", R"("tools:1x")", "5"}) {
    json::value r = Call(*server, state, std::string(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":)") + c + "}}");
    EXPECT_EQ(r.at("error").at("code").as_int64(), jsonrpc::kInvalidParams) << c;
  }
}

TEST(McpServerCore, ToolsCallText) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  json::value r = Call(*server, state, R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}})");
  const auto& result = r.at("result").as_object();
  EXPECT_FALSE(result.at("isError").as_bool());
  EXPECT_EQ(result.at("content").at(0).at("type").as_string(), "text");
  EXPECT_EQ(result.at("content").at(0).at("text").as_string(), "hi");
  EXPECT_FALSE(result.contains("structuredContent"));
}

TEST(McpServerCore, ToolsCallStructured) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  json::value r = Call(*server, state, R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3.5}}})");
  const auto& result = r.at("result").as_object();
  EXPECT_EQ(result.at("structuredContent").at("sum").as_double(), 5.5);
  // The text block carries the same JSON for clients without structured output.
  EXPECT_EQ(json::parse(result.at("content").at(0).at("text").as_string()).at("sum").as_double(), 5.5);
}

TEST(McpServerCore, ProgressGoesToTheSinkWhenAskedFor) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  std::vector<json::value> sent;
  MessageSink sink = [&](json::value m) { sent.push_back(std::move(m)); };
  auto msg = jsonrpc::ParseMessage(
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"count","arguments":{"n":3},"_meta":{"progressToken":"tok"}}})");
  auto answer = server->Handle(*msg.message, state, sink);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->at("result").at("content").at(0).at("text").as_string(), "counted 3 with progress");
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].at("method").as_string(), "notifications/progress");
  EXPECT_EQ(sent[0].at("params").at("progressToken").as_string(), "tok");
  EXPECT_EQ(sent[2].at("params").at("progress").as_double(), 3.0);
  EXPECT_EQ(sent[2].at("params").at("total").as_double(), 3.0);
  // Without a token nothing is sent, even with a sink.
  sent.clear();
  auto plain = jsonrpc::ParseMessage(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"count","arguments":{"n":2}}})");
  answer = server->Handle(*plain.message, state, sink);
  EXPECT_EQ(answer->at("result").at("content").at(0).at("text").as_string(), "counted 2");
  EXPECT_TRUE(sent.empty());
}

TEST(McpServerCore, ToolFailureIsResultWithIsError) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  json::value r = Call(*server, state, R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fail"}})");
  ASSERT_TRUE(r.as_object().contains("result")) << json::serialize(r);
  EXPECT_TRUE(r.at("result").at("isError").as_bool());
  EXPECT_EQ(r.at("result").at("content").at(0).at("text").as_string(), "upstream is down");
}

TEST(McpServerCore, ThrowingToolIsResultWithIsError) {
  auto server = Server::Make({});
  ASSERT_TRUE(server->AddTool(Tool{.name = "boom", .handler = [](const json::object&, const ToolContext&) -> Result<ToolResult> {
                                     throw std::runtime_error("exploded");
                                   }}).ok());
  SessionState state;
  json::value r = Call(*server, state, R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"boom"}})");
  EXPECT_TRUE(r.at("result").at("isError").as_bool());
  EXPECT_NE(r.at("result").at("content").at(0).at("text").as_string().find("exploded"), std::string::npos);
}

TEST(McpServerCore, UnknownToolAndMalformedParamsAreInvalidParams) {
  auto server = testing::MakeFixtureServer();
  for (std::string_view version : {"2025-06-18", "2025-11-25"}) {
    SessionState state;
    state.protocol_version = std::string(version);
    const char* cases[] = {
        R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope"}})",
        R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}})",
        R"({"jsonrpc":"2.0","id":1,"method":"tools/call"})",
        R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}})",
        R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":[1]}})",
    };
    for (const char* c : cases) {
      json::value r = Call(*server, state, c);
      ASSERT_TRUE(r.as_object().contains("error")) << c << " -> " << json::serialize(r);
      EXPECT_EQ(r.at("error").at("code").as_int64(), jsonrpc::kInvalidParams) << c;
    }
  }
}

const char* kSchemaViolations[] = {
    R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}})",          // required
    R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":5}}})",  // type
    R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":"1","b":2}}})",
};

TEST(McpServerCore, SchemaViolationIsInvalidParamsIn20250618) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  state.protocol_version = "2025-06-18";
  for (const char* c : kSchemaViolations) {
    json::value r = Call(*server, state, c);
    ASSERT_TRUE(r.as_object().contains("error")) << c << " -> " << json::serialize(r);
    EXPECT_EQ(r.at("error").at("code").as_int64(), jsonrpc::kInvalidParams) << c;
  }
}

TEST(McpServerCore, SchemaViolationIsToolErrorIn20251125) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  state.protocol_version = "2025-11-25";
  for (const char* c : kSchemaViolations) {
    json::value r = Call(*server, state, c);
    ASSERT_TRUE(r.as_object().contains("result")) << c << " -> " << json::serialize(r);
    EXPECT_TRUE(r.at("result").at("isError").as_bool()) << c;
    EXPECT_NE(r.at("result").at("content").at(0).at("text").as_string().find("invalid arguments"), std::string::npos);
  }
}

TEST(McpServerCore, CapabilitiesFollowRegistrations) {
  SessionState state;
  auto full = testing::MakeFixtureServer();
  json::value caps = Initialize(*full, state, "2025-06-18").at("result").at("capabilities");
  EXPECT_TRUE(caps.as_object().contains("tools"));
  EXPECT_TRUE(caps.as_object().contains("resources"));
  EXPECT_TRUE(caps.as_object().contains("prompts"));
  auto bare = Server::Make({});
  caps = Initialize(*bare, state, "2025-06-18").at("result").at("capabilities");
  EXPECT_FALSE(caps.as_object().contains("resources"));
  EXPECT_FALSE(caps.as_object().contains("prompts"));
}

TEST(McpServerCore, ResourcesListAndRead) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  json::value list = Call(*server, state, R"({"jsonrpc":"2.0","id":1,"method":"resources/list"})");
  const auto& resources = list.at("result").at("resources").as_array();
  ASSERT_EQ(resources.size(), 1u);
  EXPECT_EQ(resources[0].at("uri").as_string(), "tuna://fixture/readme");
  EXPECT_EQ(resources[0].at("name").as_string(), "readme");
  EXPECT_EQ(resources[0].at("mimeType").as_string(), "text/plain");

  json::value read = Call(*server, state, R"({"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"tuna://fixture/readme"}})");
  const auto& contents = read.at("result").at("contents").as_array();
  ASSERT_EQ(contents.size(), 1u);
  EXPECT_EQ(contents[0].at("text").as_string(), "hello resource");
  EXPECT_EQ(contents[0].at("uri").as_string(), "tuna://fixture/readme");

  json::value missing = Call(*server, state, R"({"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"tuna://nope"}})");
  EXPECT_EQ(missing.at("error").at("code").as_int64(), kResourceNotFound);
  EXPECT_EQ(missing.at("id").as_int64(), 3);
  json::value bad = Call(*server, state, R"({"jsonrpc":"2.0","id":4,"method":"resources/read","params":{}})");
  EXPECT_EQ(bad.at("error").at("code").as_int64(), jsonrpc::kInvalidParams);
}

TEST(McpServerCore, PromptsListAndGet) {
  auto server = testing::MakeFixtureServer();
  SessionState state;
  json::value list = Call(*server, state, R"({"jsonrpc":"2.0","id":1,"method":"prompts/list"})");
  const auto& prompts = list.at("result").at("prompts").as_array();
  ASSERT_EQ(prompts.size(), 1u);
  EXPECT_EQ(prompts[0].at("name").as_string(), "greet");
  EXPECT_TRUE(prompts[0].at("arguments").at(0).at("required").as_bool());

  json::value got = Call(*server, state, R"({"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"greet","arguments":{"name":"Ada"}}})");
  const auto& messages = got.at("result").at("messages").as_array();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].at("role").as_string(), "user");
  EXPECT_EQ(messages[0].at("content").at("text").as_string(), "Say hello to Ada");

  for (const char* c : {R"({"jsonrpc":"2.0","id":3,"method":"prompts/get","params":{"name":"greet"}})",
                        R"({"jsonrpc":"2.0","id":3,"method":"prompts/get","params":{"name":"nope"}})",
                        R"({"jsonrpc":"2.0","id":3,"method":"prompts/get","params":{"name":"greet","arguments":{"name":1}}})"}) {
    json::value r = Call(*server, state, c);
    EXPECT_EQ(r.at("error").at("code").as_int64(), jsonrpc::kInvalidParams) << c;
  }
}

TEST(McpServerCore, AddResourceAndPromptRules) {
  auto server = Server::Make({});
  auto reader = [](const std::string&) -> Result<std::vector<ResourceContents>> { return std::vector<ResourceContents>{}; };
  EXPECT_TRUE(server->AddResource(Resource{.uri = "file:///a", .name = "a", .reader = reader}).ok());
  EXPECT_EQ(server->AddResource(Resource{.uri = "file:///a", .name = "a", .reader = reader}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(server->AddResource(Resource{.uri = "relative", .name = "a", .reader = reader}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server->AddResource(Resource{.uri = "file:///b", .reader = reader}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server->AddResource(Resource{.uri = "file:///c", .name = "c"}).code(), StatusCode::kInvalidArgument);
  auto handler = [](const std::map<std::string, std::string>&) -> Result<std::vector<PromptMessage>> { return std::vector<PromptMessage>{}; };
  EXPECT_TRUE(server->AddPrompt(Prompt{.name = "p", .handler = handler}).ok());
  EXPECT_EQ(server->AddPrompt(Prompt{.name = "p", .handler = handler}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(server->AddPrompt(Prompt{.name = "", .handler = handler}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server->AddPrompt(Prompt{.name = "q"}).code(), StatusCode::kInvalidArgument);
}

TEST(McpServerCore, AddToolRules) {
  auto server = Server::Make({});
  auto ok = [](const json::object&, const ToolContext&) -> Result<ToolResult> { return ToolResult::Text(""); };
  EXPECT_TRUE(server->AddTool(Tool{.name = "a.b-c_1", .handler = ok}).ok());
  EXPECT_EQ(server->AddTool(Tool{.name = "a.b-c_1", .handler = ok}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(server->AddTool(Tool{.name = "", .handler = ok}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server->AddTool(Tool{.name = "has space", .handler = ok}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server->AddTool(Tool{.name = std::string(129, 'x'), .handler = ok}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server->AddTool(Tool{.name = "nohandler"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server->AddTool(Tool{.name = "arr", .input_schema = json::object{{"type", "array"}}, .handler = ok}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(server->AddTool(Tool{.name = "out", .output_schema = json::object{{"type", "string"}}, .handler = ok}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(server->ToolNames(), std::vector<std::string>{"a.b-c_1"});
}

TEST(McpServerCore, ValidateArgumentsTypes) {
  json::object schema = json::parse(R"({"type":"object","properties":{
      "i":{"type":"integer"},"n":{"type":"number"},"b":{"type":"boolean"},"o":{"type":"object"},
      "a":{"type":"array"},"u":{"type":["string","null"]}}})").as_object();
  EXPECT_TRUE(ValidateArguments(schema, json::parse(R"({"i":1,"n":1.5,"b":true,"o":{},"a":[],"u":null})").as_object()).ok());
  EXPECT_TRUE(ValidateArguments(schema, json::parse(R"({"i":2.0,"u":"x"})").as_object()).ok());
  EXPECT_FALSE(ValidateArguments(schema, json::parse(R"({"i":1.5})").as_object()).ok());
  EXPECT_FALSE(ValidateArguments(schema, json::parse(R"({"b":"true"})").as_object()).ok());
  EXPECT_FALSE(ValidateArguments(schema, json::parse(R"({"u":3})").as_object()).ok());
  Status s = ValidateArguments(schema, json::parse(R"({"o":[]})").as_object());
  EXPECT_EQ(s.field(), "arguments.o");
}

}  // namespace
}  // namespace tuna::mcp
