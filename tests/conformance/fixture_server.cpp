// The server the official MCP conformance suite (@modelcontextprotocol/conformance, `conformance
// server --url ...`) runs its server scenarios against: the tools, resources and prompts those
// scenarios call by name, built with tuna's own library and served over Streamable HTTP.
//
//   tuna_conformance_fixture [port] [--exit-on-stdin-close]   (port 0, the default: any free port)
//
// Prints "MCP endpoint: http://127.0.0.1:PORT/mcp" on stdout once it listens, then serves until
// SIGINT/SIGTERM (or, with --exit-on-stdin-close, until stdin closes: a test that dies takes
// its fixture along).

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <boost/json.hpp>

#include "tuna/mcp/server.hpp"
#include "tuna/mcp/streamable_http.hpp"

namespace {
namespace json = boost::json;
using namespace tuna;
using namespace tuna::mcp;

// 1x1 red PNG and a silent 8 kHz WAV with no samples.
constexpr const char* kPng = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
constexpr const char* kWav = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=";

json::object Obj(const char* text) { return json::parse(text).as_object(); }

ToolResult Content(json::array blocks) {
  ToolResult r;
  r.content = std::move(blocks);
  return r;
}

// A tool with no arguments whose result does not depend on the call.
Tool Fixed(std::string name, std::string description, json::array blocks) {
  return Tool{.name = std::move(name),
              .description = std::move(description),
              .handler = [blocks = std::move(blocks)](const json::object&, const ToolContext&) -> Result<ToolResult> {
                return Content(blocks);
              }};
}

std::string Summarize(const json::value& elicit_result) {
  std::string action = "unknown";
  json::value content = json::object{};
  if (const auto* o = elicit_result.if_object()) {
    if (const auto* a = o->if_contains("action"); a && a->is_string()) action = std::string(a->get_string());
    if (const auto* c = o->if_contains("content")) content = *c;
  }
  return "action=" + action + ", content=" + json::serialize(content);
}

Tool Elicits(std::string name, std::string description, json::object params, std::string prefix) {
  return Tool{.name = std::move(name),
              .description = std::move(description),
              .handler = [params = std::move(params), prefix = std::move(prefix)](const json::object& args,
                                                                                  const ToolContext& ctx) -> Result<ToolResult> {
                json::object p = params;
                if (const auto* m = args.if_contains("message"); m && m->is_string()) p["message"] = *m;
                Result<json::value> r = ctx.RequestClient("elicitation/create", p);
                if (!r.ok()) return ToolResult::Failure("elicitation failed: " + r.status().message());
                return ToolResult::Text(prefix + Summarize(*r));
              }};
}

Status Populate(Server& s) {
  TUNA_RETURN_IF_ERROR(s.AddTool(Fixed("test_simple_text", "Returns a simple text response.",
                                       json::array{Obj(R"({"type":"text","text":"This is a simple text response for testing."})")})));
  TUNA_RETURN_IF_ERROR(s.AddTool(Fixed("test_image_content", "Returns a 1x1 PNG image.",
                                       json::array{json::object{{"type", "image"}, {"data", kPng}, {"mimeType", "image/png"}}})));
  TUNA_RETURN_IF_ERROR(s.AddTool(Fixed("test_audio_content", "Returns a tiny WAV file.",
                                       json::array{json::object{{"type", "audio"}, {"data", kWav}, {"mimeType", "audio/wav"}}})));
  TUNA_RETURN_IF_ERROR(s.AddTool(Fixed(
      "test_embedded_resource", "Returns an embedded resource.",
      json::array{Obj(R"({"type":"resource","resource":{"uri":"test://embedded-resource","mimeType":"text/plain","text":"This is an embedded resource content."}})")})));
  TUNA_RETURN_IF_ERROR(s.AddTool(Fixed(
      "test_multiple_content_types", "Returns text, an image and an embedded resource.",
      json::array{Obj(R"({"type":"text","text":"Multiple content types test:"})"),
                  json::object{{"type", "image"}, {"data", kPng}, {"mimeType", "image/png"}},
                  Obj(R"({"type":"resource","resource":{"uri":"test://mixed-content-resource","mimeType":"application/json","text":"{\"test\":\"data\",\"value\":123}"}})")})));
  TUNA_RETURN_IF_ERROR(s.AddTool(Tool{
      .name = "test_tool_with_logging",
      .description = "Sends three log messages while it runs.",
      .handler = [](const json::object&, const ToolContext& ctx) -> Result<ToolResult> {
        ctx.Log("info", "Tool execution started");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ctx.Log("info", "Tool processing data");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ctx.Log("info", "Tool execution completed");
        return ToolResult::Text("Tool with logging executed successfully");
      }}));
  TUNA_RETURN_IF_ERROR(s.AddTool(Tool{
      .name = "test_error_handling",
      .description = "Always fails.",
      .handler = [](const json::object&, const ToolContext&) -> Result<ToolResult> {
        return Internal("This tool intentionally returns an error for testing");
      }}));
  TUNA_RETURN_IF_ERROR(s.AddTool(Tool{
      .name = "test_tool_with_progress",
      .description = "Reports progress 0, 50, 100 of 100.",
      .handler = [](const json::object&, const ToolContext& ctx) -> Result<ToolResult> {
        for (int p : {0, 50, 100}) {
          ctx.Progress(p, 100);
          if (p < 100) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return ToolResult::Text("Tool with progress executed successfully");
      }}));
  TUNA_RETURN_IF_ERROR(s.AddTool(Tool{
      .name = "test_sampling",
      .description = "Asks the client's LLM (sampling/createMessage).",
      .input_schema = Obj(R"({"type":"object","properties":{"prompt":{"type":"string","description":"The prompt to send to the LLM"}},"required":["prompt"]})"),
      .handler = [](const json::object& args, const ToolContext& ctx) -> Result<ToolResult> {
        json::object params{{"messages", json::array{json::object{{"role", "user"},
                                                                  {"content", json::object{{"type", "text"}, {"text", args.at("prompt")}}}}}},
                            {"maxTokens", 100}};
        Result<json::value> r = ctx.RequestClient("sampling/createMessage", params);
        if (!r.ok()) return ToolResult::Failure("sampling failed: " + r.status().message());
        std::string text;
        if (const auto* c = r->as_object().if_contains("content"); c && c->is_object()) {
          if (const auto* t = c->get_object().if_contains("text"); t && t->is_string()) text = std::string(t->get_string());
        }
        return ToolResult::Text("LLM response: " + text);
      }}));
  TUNA_RETURN_IF_ERROR(s.AddTool(Elicits(
      "test_elicitation", "Asks the user for a username and an email (elicitation/create).",
      Obj(R"({"message":"","requestedSchema":{"type":"object","properties":{"username":{"type":"string","description":"User's response"},"email":{"type":"string","description":"User's email address"}},"required":["username","email"]}})"),
      "User response: ")));
  TUNA_RETURN_IF_ERROR(s.AddTool(Elicits(
      "test_elicitation_sep1034_defaults", "Elicitation with defaults for every primitive type (SEP-1034).",
      Obj(R"({"message":"Please review and update the form fields with defaults","requestedSchema":{"type":"object","properties":{
            "name":{"type":"string","description":"User name","default":"John Doe"},
            "age":{"type":"integer","description":"User age","default":30},
            "score":{"type":"number","description":"User score","default":95.5},
            "status":{"type":"string","description":"User status","enum":["active","inactive","pending"],"default":"active"},
            "verified":{"type":"boolean","description":"Verification status","default":true}}}})"),
      "Elicitation completed: ")));
  TUNA_RETURN_IF_ERROR(s.AddTool(Elicits(
      "test_elicitation_sep1330_enums", "Elicitation with every enum schema variant (SEP-1330).",
      Obj(R"({"message":"Please select options from the enum fields","requestedSchema":{"type":"object","properties":{
            "untitledSingle":{"type":"string","description":"Untitled single-select","enum":["option1","option2","option3"]},
            "titledSingle":{"type":"string","description":"Titled single-select","oneOf":[{"const":"value1","title":"First Option"},{"const":"value2","title":"Second Option"},{"const":"value3","title":"Third Option"}]},
            "legacyEnum":{"type":"string","description":"Legacy titled enum","enum":["opt1","opt2","opt3"],"enumNames":["Option One","Option Two","Option Three"]},
            "untitledMulti":{"type":"array","description":"Untitled multi-select","items":{"type":"string","enum":["option1","option2","option3"]}},
            "titledMulti":{"type":"array","description":"Titled multi-select","items":{"anyOf":[{"const":"value1","title":"First Choice"},{"const":"value2","title":"Second Choice"},{"const":"value3","title":"Third Choice"}]}}}}})"),
      "Elicitation completed: ")));
  TUNA_RETURN_IF_ERROR(s.AddTool(Tool{
      .name = "json_schema_2020_12_tool",
      .description = "Tool with JSON Schema 2020-12 features",
      .input_schema = Obj(R"({"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
            "$defs":{"address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}}}},
            "properties":{"name":{"type":"string"},"address":{"$ref":"#/$defs/address"}},"additionalProperties":false})"),
      .handler = [](const json::object& args, const ToolContext&) -> Result<ToolResult> {
        return ToolResult::Text("received: " + json::serialize(args));
      }}));
  TUNA_RETURN_IF_ERROR(s.AddTool(Tool{
      .name = "test_reconnection",
      .description = "Answers after a short pause (SSE polling scenario).",
      .handler = [](const json::object&, const ToolContext&) -> Result<ToolResult> {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return ToolResult::Text("Reconnection test completed");
      }}));

  auto text = [](std::string uri, std::string mime, std::string body) {
    return [uri, mime, body](const std::string&) -> Result<std::vector<ResourceContents>> {
      return std::vector<ResourceContents>{ResourceContents{.uri = uri, .mime_type = mime, .text = body}};
    };
  };
  TUNA_RETURN_IF_ERROR(s.AddResource(Resource{.uri = "test://static-text",
                                              .name = "Static Text Resource",
                                              .description = "A static text resource for testing",
                                              .mime_type = "text/plain",
                                              .reader = text("test://static-text", "text/plain",
                                                             "This is the content of the static text resource.")}));
  TUNA_RETURN_IF_ERROR(s.AddResource(Resource{
      .uri = "test://static-binary",
      .name = "Static Binary Resource",
      .description = "A static binary resource (image) for testing",
      .mime_type = "image/png",
      .reader = [](const std::string&) -> Result<std::vector<ResourceContents>> {
        return std::vector<ResourceContents>{ResourceContents{.uri = "test://static-binary", .mime_type = "image/png", .blob = kPng}};
      }}));
  TUNA_RETURN_IF_ERROR(s.AddResource(Resource{.uri = "test://watched-resource",
                                              .name = "Watched Resource",
                                              .description = "A resource clients can subscribe to",
                                              .mime_type = "text/plain",
                                              .reader = text("test://watched-resource", "text/plain", "Watched resource content.")}));
  TUNA_RETURN_IF_ERROR(s.AddResourceTemplate(ResourceTemplate{
      .uri_template = "test://template/{id}/data",
      .name = "Resource Template",
      .description = "A resource template with an id parameter",
      .mime_type = "application/json",
      .reader = [](const std::string& uri) -> Result<std::vector<ResourceContents>> {
        auto vars = MatchUriTemplate("test://template/{id}/data", uri);
        if (!vars) return NotFound("no such resource: " + uri);
        std::string id = vars->at("id");
        json::object body{{"id", id}, {"templateTest", true}, {"data", "Data for ID: " + id}};
        return std::vector<ResourceContents>{ResourceContents{.uri = uri, .mime_type = "application/json", .text = json::serialize(body)}};
      }}));

  auto user = [](json::object content) { return PromptMessage{.role = "user", .content = std::move(content)}; };
  TUNA_RETURN_IF_ERROR(s.AddPrompt(Prompt{
      .name = "test_simple_prompt",
      .description = "A simple prompt without arguments",
      .handler = [](const std::map<std::string, std::string>&) -> Result<std::vector<PromptMessage>> {
        return std::vector<PromptMessage>{PromptMessage::UserText("This is a simple prompt for testing.")};
      }}));
  TUNA_RETURN_IF_ERROR(s.AddPrompt(Prompt{
      .name = "test_prompt_with_arguments",
      .description = "A prompt with two required arguments",
      .arguments = {{.name = "arg1", .description = "First test argument", .required = true},
                    {.name = "arg2", .description = "Second test argument", .required = true}},
      .handler = [](const std::map<std::string, std::string>& a) -> Result<std::vector<PromptMessage>> {
        return std::vector<PromptMessage>{
            PromptMessage::UserText("Prompt with arguments: arg1='" + a.at("arg1") + "', arg2='" + a.at("arg2") + "'")};
      }}));
  TUNA_RETURN_IF_ERROR(s.AddPrompt(Prompt{
      .name = "test_prompt_with_embedded_resource",
      .description = "A prompt that embeds a resource",
      .arguments = {{.name = "resourceUri", .description = "URI of the resource to embed", .required = true}},
      .handler = [user](const std::map<std::string, std::string>& a) -> Result<std::vector<PromptMessage>> {
        json::object resource{{"uri", a.at("resourceUri")}, {"mimeType", "text/plain"}, {"text", "Embedded resource content for testing."}};
        return std::vector<PromptMessage>{user(json::object{{"type", "resource"}, {"resource", std::move(resource)}}),
                                          PromptMessage::UserText("Please process the embedded resource above.")};
      }}));
  TUNA_RETURN_IF_ERROR(s.AddPrompt(Prompt{
      .name = "test_prompt_with_image",
      .description = "A prompt with an image",
      .handler = [user](const std::map<std::string, std::string>&) -> Result<std::vector<PromptMessage>> {
        return std::vector<PromptMessage>{user(json::object{{"type", "image"}, {"data", kPng}, {"mimeType", "image/png"}}),
                                          PromptMessage::UserText("Please analyze the image above.")};
      }}));
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  bool watch_stdin = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--exit-on-stdin-close") {
      watch_stdin = true;
    } else {
      port = std::atoi(argv[i]);
    }
  }
  // Block the stop signals before any thread starts, so that only sigtimedwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ServerPtr server = Server::Make({.name = "tuna-conformance-fixture", .version = "1.0.0"});
  if (Status st = Populate(*server); !st.ok()) {
    std::fprintf(stderr, "fixture: %s\n", st.ToString().c_str());
    return 1;
  }
  auto http = StreamableHttpServer::Make(*server, {}, {.io_threads = 2, .worker_threads = 8});
  if (!http.ok()) {
    std::fprintf(stderr, "fixture: %s\n", http.status().ToString().c_str());
    return 1;
  }
  if (Status st = (*http)->Start("127.0.0.1", static_cast<std::uint16_t>(port)); !st.ok()) {
    std::fprintf(stderr, "fixture: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("MCP endpoint: http://127.0.0.1:%u/mcp\n", static_cast<unsigned>((*http)->port()));
  std::fflush(stdout);

  for (;;) {
    timespec wait{0, 200'000'000};
    if (sigtimedwait(&signals, nullptr, &wait) > 0) break;
    if (!watch_stdin) continue;
    pollfd in{.fd = 0, .events = POLLIN, .revents = 0};
    if (poll(&in, 1, 0) > 0) {
      char buf[256];
      if (read(0, buf, sizeof buf) <= 0) break;
    }
  }
  (*http)->Stop();
  return 0;
}
