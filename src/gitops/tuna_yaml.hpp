#pragma once
// Private: tuna.yaml, the file at a repository's root that says what a push deploys (the full
// schema with examples is in docs/gitops.md; templates in examples/repos/).
//
//   kind: agent | mcp-server | http-tool    # required
//   name: echo                               # required; the deployment's name (DNS label)
//   spec:
//     # agent:      environment*, entrypoint*, env, branch, tagPattern, catalogue, bindings
//     # mcp-server: environment*, command* ([python3, server.py]), env, branch, tagPattern
//     # http-tool:  openapi.file*, baseUrl, operations, credentials, headers, timeoutSeconds, branch
//
// Errors name the file, line and field path: "tuna.yaml:3: spec.environment: required field is missing".

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "tuna/status.hpp"

namespace tuna::gitops {

inline constexpr std::string_view kKindAgent = "agent";
inline constexpr std::string_view kKindMcpServer = "mcp-server";
inline constexpr std::string_view kKindHttpTool = "http-tool";

struct TunaYaml {
  std::string kind;  // kKindAgent, kKindMcpServer or kKindHttpTool
  std::string name;
  std::string branch;  // agent/mcp-server: empty = every branch; http-tool: default "main"
  std::string tag_pattern = "v*";
  std::string environment;                  // agent, mcp-server
  std::map<std::string, std::string> env;   // agent, mcp-server
  // agent
  std::string entrypoint;
  std::optional<boost::json::object> catalogue;  // an AgentCatalogue spec (agentName set)
  std::optional<boost::json::object> bindings;   // an AgentResourceBinding spec (agentName set)
  // mcp-server: command[0] is the program, the rest its arguments
  std::vector<std::string> command;
  // http-tool
  std::string openapi_file;   // path inside the repository
  boost::json::object tool;   // the HTTPToolDeployment spec without openapi
  /// Line of each field ("spec.openapi.file") for problems found after parsing.
  std::map<std::string, int> lines;

  /// True for the kinds with staging and production (agent, mcp-server).
  bool staged() const { return kind != kKindHttpTool; }
  /// "AgentDeployment", "MCPServerDeployment" or "HTTPToolDeployment".
  std::string DeploymentKind() const;
  /// "tuna.yaml:LINE: path: message", LINE being the line of `path` (or its nearest parent).
  std::string Problem(const std::string& path, const std::string& message) const;
};

inline constexpr std::string_view kTunaYamlFile = "tuna.yaml";
/// OpenAPI documents larger than this are refused (they are stored inline in the object).
inline constexpr std::size_t kMaxOpenApiBytes = 1 << 20;

/// Parses and validates the file's text. InvalidArgument with every problem found, one per line.
Result<TunaYaml> ParseTunaYaml(std::string_view text);

/// Parses the OpenAPI document `text` (JSON or YAML) that spec.openapi.file names and checks it:
/// one OpenAPI 3 object, every allowlisted operation present. Problems name the document's own
/// lines ("openapi.yaml:3: ...") or tuna.yaml's ("tuna.yaml:9: spec.operations[1]: ...").
Result<boost::json::object> ParseOpenApiDocument(const TunaYaml& yaml, std::string_view text);

/// fnmatch-style glob ('*', '?', '[...]') of a tag name against tagPattern.
bool TagMatches(std::string_view pattern, std::string_view tag);

/// [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool IsDnsLabel(std::string_view s);

}  // namespace tuna::gitops
