// JSON-RPC 2.0 core: one test per rule of message parsing, the error mapping and dispatch.

#include <gtest/gtest.h>

#include <stdexcept>

#include <boost/json.hpp>

#include "tuna/jsonrpc.hpp"

namespace tuna::jsonrpc {
namespace {
namespace json = boost::json;

TEST(JsonRpcParse, RequestWithIntegerId) {
  auto r = ParseMessage(R"({"jsonrpc":"2.0","id":7,"method":"ping"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.message->kind, MessageKind::kRequest);
  EXPECT_EQ(r.message->method, "ping");
  EXPECT_TRUE(r.message->id.is_int64());
  EXPECT_EQ(r.message->id.as_int64(), 7);
  EXPECT_TRUE(r.message->params.is_null());
}

TEST(JsonRpcParse, StringAndLargeIdsArePreservedExactly) {
  auto s = ParseMessage(R"({"jsonrpc":"2.0","id":"abc-1","method":"m"})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(json::serialize(MakeResponse(s.message->id, nullptr)), R"({"jsonrpc":"2.0","id":"abc-1","result":null})");
  // "1" the string and 1 the number are different ids.
  auto one = ParseMessage(R"({"jsonrpc":"2.0","id":"1","method":"m"})");
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(one.message->id.is_string());
  auto big = ParseMessage(R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"m"})");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(json::serialize(big.message->id), "18446744073709551615");
  auto neg = ParseMessage(R"({"jsonrpc":"2.0","id":-9223372036854775808,"method":"m"})");
  ASSERT_TRUE(neg.ok());
  EXPECT_EQ(json::serialize(neg.message->id), "-9223372036854775808");
}

TEST(JsonRpcParse, Notification) {
  auto r = ParseMessage(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.message->kind, MessageKind::kNotification);
  EXPECT_TRUE(r.message->IsNotification());
}

TEST(JsonRpcParse, ParamsObjectOrArrayOnly) {
  EXPECT_TRUE(ParseMessage(R"({"jsonrpc":"2.0","id":1,"method":"m","params":{"a":1}})").ok());
  EXPECT_TRUE(ParseMessage(R"({"jsonrpc":"2.0","id":1,"method":"m","params":[1,2]})").ok());
  auto r = ParseMessage(R"({"jsonrpc":"2.0","id":1,"method":"m","params":3})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error.code, kInvalidRequest);
  EXPECT_EQ(r.id.as_int64(), 1);  // the error can still name the request
}

TEST(JsonRpcParse, ResponseAndErrorResponse) {
  auto r = ParseMessage(R"({"jsonrpc":"2.0","id":3,"result":{"ok":true}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.message->kind, MessageKind::kResponse);
  EXPECT_TRUE(r.message->result.as_object().at("ok").as_bool());

  auto e = ParseMessage(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"bad","data":[1]}})");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.message->kind, MessageKind::kErrorResponse);
  EXPECT_EQ(e.message->error.code, -32600);
  EXPECT_EQ(e.message->error.message, "bad");
  EXPECT_TRUE(e.message->error.data.is_array());
  EXPECT_TRUE(e.message->IsResponse());
}

TEST(JsonRpcParse, GarbageIsParseError) {
  for (const char* text : {"", "{", "not json", "{\"jsonrpc\":\"2.0\",}", "\xff\xfe"}) {
    auto r = ParseMessage(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error.code, kParseError) << text;
    EXPECT_TRUE(r.id.is_null());
  }
}

TEST(JsonRpcParse, BatchesAreRefused) {
  auto r = ParseMessage(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error.code, kInvalidRequest);
  EXPECT_NE(r.error.message.find("batch"), std::string::npos);
  EXPECT_EQ(ParseMessage("[]").error.code, kInvalidRequest);
}

TEST(JsonRpcParse, InvalidRequests) {
  const char* cases[] = {
      R"(1)",
      R"("x")",
      R"({"id":1,"method":"m"})",                          // no jsonrpc
      R"({"jsonrpc":"1.0","id":1,"method":"m"})",          // wrong version
      R"({"jsonrpc":2.0,"id":1,"method":"m"})",            // version not a string
      R"({"jsonrpc":"2.0","id":1,"method":5})",            // method not a string
      R"({"jsonrpc":"2.0","id":null,"method":"m"})",       // null id on a request
      R"({"jsonrpc":"2.0","id":1.5,"method":"m"})",        // fractional id
      R"({"jsonrpc":"2.0","id":{},"method":"m"})",         // object id
      R"({"jsonrpc":"2.0","id":1,"method":"m","result":1})",  // request with result
      R"({"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"x"}})",
      R"({"jsonrpc":"2.0","result":1})",                   // response without id
      R"({"jsonrpc":"2.0","id":1,"error":"x"})",           // error not an object
      R"({"jsonrpc":"2.0","id":1,"error":{"message":"x"}})",   // no code
      R"({"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"x"}})",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":1}})",    // no message
      R"({"jsonrpc":"2.0","id":1})",                       // nothing
  };
  for (const char* text : cases) {
    auto r = ParseMessage(text);
    EXPECT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error.code, kInvalidRequest) << text;
  }
}

TEST(JsonRpcBuild, MessagesSerialize) {
  EXPECT_EQ(json::serialize(MakeRequest(1, "tools/list")), R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  EXPECT_EQ(json::serialize(MakeNotification("n", json::object{{"a", 1}})), R"({"jsonrpc":"2.0","method":"n","params":{"a":1}})");
  EXPECT_EQ(json::serialize(MakeErrorResponse(nullptr, Error{kParseError, "bad", nullptr})),
            R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}})");
  // What we build parses back as the same kind.
  auto r = ParseValue(MakeErrorResponse("x", Error{kInternalError, "boom", json::object{{"k", 1}}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.message->kind, MessageKind::kErrorResponse);
  EXPECT_EQ(r.message->error.data.as_object().at("k").as_int64(), 1);
}

TEST(JsonRpcErrors, StatusMapping) {
  EXPECT_EQ(ErrorFromStatus(InvalidArgument("x")).code, kInvalidParams);
  EXPECT_EQ(ErrorFromStatus(NotFound("x")).code, kInvalidParams);
  EXPECT_EQ(ErrorFromStatus(Unimplemented("x")).code, kMethodNotFound);
  EXPECT_EQ(ErrorFromStatus(Internal("x")).code, kInternalError);
  EXPECT_EQ(ErrorFromStatus(Unavailable("x")).code, kInternalError);
  Error e = ErrorFromStatus(InvalidArgument("needs a name", "params.name"));
  EXPECT_EQ(e.message, "needs a name");
  EXPECT_EQ(e.data.as_object().at("status").as_string(), "invalid_argument");
  EXPECT_EQ(e.data.as_object().at("field").as_string(), "params.name");
}

TEST(JsonRpcDispatcher, DispatchesRequests) {
  Dispatcher d;
  ASSERT_TRUE(d.Register("add", [](const json::value& params, const Message&) -> Result<json::value> {
                 const auto& a = params.as_array();
                 return json::value(a.at(0).as_int64() + a.at(1).as_int64());
               }).ok());
  EXPECT_TRUE(d.Has("add"));
  EXPECT_FALSE(d.Has("sub"));
  auto msg = ParseMessage(R"({"jsonrpc":"2.0","id":"q","method":"add","params":[2,3]})");
  ASSERT_TRUE(msg.ok());
  auto resp = d.Dispatch(*msg.message);
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(json::serialize(*resp), R"({"jsonrpc":"2.0","id":"q","result":5})");
}

TEST(JsonRpcDispatcher, RegistrationRules) {
  Dispatcher d;
  auto h = [](const json::value&, const Message&) -> Result<json::value> { return json::value(nullptr); };
  EXPECT_TRUE(d.Register("m", h).ok());
  EXPECT_EQ(d.Register("m", h).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(d.Register("", h).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(d.Register("n", nullptr).code(), StatusCode::kInvalidArgument);
}

TEST(JsonRpcDispatcher, UnknownMethodAndFailures) {
  Dispatcher d;
  ASSERT_TRUE(d.Register("fail", [](const json::value&, const Message&) -> Result<json::value> {
                 return InvalidArgument("bad x");
               }).ok());
  ASSERT_TRUE(d.Register("throw", [](const json::value&, const Message&) -> Result<json::value> {
                 throw std::runtime_error("kaboom");
               }).ok());

  auto unknown = d.Dispatch(*ParseMessage(R"({"jsonrpc":"2.0","id":1,"method":"nope"})").message);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->at("error").at("code").as_int64(), kMethodNotFound);
  EXPECT_EQ(unknown->at("id").as_int64(), 1);

  auto fail = d.Dispatch(*ParseMessage(R"({"jsonrpc":"2.0","id":2,"method":"fail"})").message);
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->at("error").at("code").as_int64(), kInvalidParams);
  EXPECT_EQ(fail->at("error").at("message").as_string(), "bad x");

  auto thrown = d.Dispatch(*ParseMessage(R"({"jsonrpc":"2.0","id":3,"method":"throw"})").message);
  ASSERT_TRUE(thrown);
  EXPECT_EQ(thrown->at("error").at("code").as_int64(), kInternalError);
}

TEST(JsonRpcDispatcher, NotificationsAndResponsesGetNoAnswer) {
  Dispatcher d;
  int calls = 0;
  ASSERT_TRUE(d.Register("note", [&](const json::value&, const Message&) -> Result<json::value> {
                 ++calls;
                 return Internal("ignored for notifications");
               }).ok());
  EXPECT_FALSE(d.Dispatch(*ParseMessage(R"({"jsonrpc":"2.0","method":"note"})").message));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(d.Dispatch(*ParseMessage(R"({"jsonrpc":"2.0","method":"unknown"})").message));
  EXPECT_FALSE(d.Dispatch(*ParseMessage(R"({"jsonrpc":"2.0","id":1,"result":{}})").message));
}

}  // namespace
}  // namespace tuna::jsonrpc
