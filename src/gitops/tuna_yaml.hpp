#pragma once
// Private: tuna.yaml, the file at a repository's root that says what a push deploys.
//
//   kind: agent                    # required; agent (mcp-server: not yet)
//   name: echo                     # required; the AgentDeployment's name (DNS label)
//   spec:
//     environment: python311       # required; an AgentEnvironment in the repository's namespace
//     entrypoint: agent.py:handle  # required
//     branch: main                 # optional; only this branch deploys staging (default: every branch)
//     tagPattern: "v*"             # optional; tags matching it deploy production (default "v*")
//     env: {KEY: value}            # optional; environment of the agent
//
// Errors name the file, line and field path: "tuna.yaml:3: spec.environment: required field is missing".

#include <map>
#include <string>
#include <string_view>

#include "tuna/status.hpp"

namespace tuna::gitops {

struct TunaYaml {
  std::string kind;  // "agent"
  std::string name;
  std::string environment;
  std::string entrypoint;
  std::string branch;  // empty: every branch
  std::string tag_pattern = "v*";
  std::map<std::string, std::string> env;
};

inline constexpr std::string_view kTunaYamlFile = "tuna.yaml";

/// Parses and validates the file's text. InvalidArgument with every problem found, one per line.
Result<TunaYaml> ParseTunaYaml(std::string_view text);

/// fnmatch-style glob ('*', '?', '[...]') of a tag name against tagPattern.
bool TagMatches(std::string_view pattern, std::string_view tag);

/// [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool IsDnsLabel(std::string_view s);

}  // namespace tuna::gitops
