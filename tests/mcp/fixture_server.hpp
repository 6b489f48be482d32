#pragma once
// A small MCP server used as a test fixture by the transport and interop tests: three tools
// (echo, add with structured output, fail, count with progress), one resource, one prompt, and an optional number of
// filler tools for paging.

#include <string>

#include <boost/json.hpp>

#include "tuna/mcp/server.hpp"

namespace tuna::mcp::testing {

inline ServerPtr MakeFixtureServer(std::size_t page_size = 100, int filler_tools = 0) {
  namespace json = boost::json;
  ServerOptions options;
  options.name = "tuna-fixture";
  options.version = "1.2.3";
  options.page_size = page_size;
  ServerPtr server = Server::Make(options);
  Status s = server->AddTool(Tool{
      .name = "echo",
      .title = "Echo",
      .description = "Returns its text argument.",
      .input_schema = json::parse(R"({"type":"object","properties":{"text":{"type":"string"}},"required":["text"]})").as_object(),
      .handler = [](const json::object& args, const ToolContext&) -> Result<ToolResult> {
        return ToolResult::Text(std::string(args.at("text").as_string()));
      }});
  if (s.ok()) {
    s = server->AddTool(Tool{
        .name = "add",
        .description = "Adds two numbers.",
        .input_schema = json::parse(R"({"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]})").as_object(),
        .output_schema = json::parse(R"({"type":"object","properties":{"sum":{"type":"number"}},"required":["sum"]})").as_object(),
        .handler = [](const json::object& args, const ToolContext&) -> Result<ToolResult> {
          double sum = args.at("a").to_number<double>() + args.at("b").to_number<double>();
          return ToolResult::Structured(json::object{{"sum", sum}});
        }});
  }
  if (s.ok()) {
    s = server->AddTool(Tool{
        .name = "fail",
        .description = "Always fails, as a tool whose upstream is down.",
        .handler = [](const json::object&, const ToolContext&) -> Result<ToolResult> { return Unavailable("upstream is down"); }});
  }
  if (s.ok()) {
    s = server->AddTool(Tool{
        .name = "count",
        .description = "Counts to n, reporting progress at each step.",
        .input_schema = json::parse(R"({"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]})").as_object(),
        .handler = [](const json::object& args, const ToolContext& context) -> Result<ToolResult> {
          std::int64_t n = args.at("n").to_number<std::int64_t>();
          for (std::int64_t i = 1; i <= n; ++i) context.Progress(static_cast<double>(i), static_cast<double>(n), "step " + std::to_string(i));
          return ToolResult::Text("counted " + std::to_string(n) + (context.wants_progress() ? " with progress" : ""));
        }});
  }
  if (s.ok()) {
    s = server->AddResource(Resource{
        .uri = "tuna://fixture/readme",
        .name = "readme",
        .description = "A fixed text.",
        .mime_type = "text/plain",
        .reader = [](const std::string& uri) -> Result<std::vector<ResourceContents>> {
          return std::vector<ResourceContents>{{.uri = uri, .mime_type = "text/plain", .text = "hello resource"}};
        }});
  }
  if (s.ok()) {
    s = server->AddPrompt(Prompt{
        .name = "greet",
        .description = "Greets someone.",
        .arguments = {{.name = "name", .description = "Who to greet", .required = true}},
        .handler = [](const std::map<std::string, std::string>& args) -> Result<std::vector<PromptMessage>> {
          return std::vector<PromptMessage>{PromptMessage::UserText("Say hello to " + args.at("name"))};
        }});
  }
  for (int i = 0; s.ok() && i < filler_tools; ++i) {
    s = server->AddTool(Tool{.name = "filler_" + std::to_string(i),
                             .handler = [](const json::object&, const ToolContext&) -> Result<ToolResult> { return ToolResult::Text("ok"); }});
  }
  if (!s.ok()) return nullptr;
  return server;
}

}  // namespace tuna::mcp::testing
