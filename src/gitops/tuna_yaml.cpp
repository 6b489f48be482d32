#include "gitops/tuna_yaml.hpp"

#include <fnmatch.h>

#include <set>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace tuna::gitops {
namespace {

struct Problems {
  std::vector<std::string> lines;
  void Add(int line, const std::string& path, const std::string& message) {
    lines.push_back(std::string(kTunaYamlFile) + ":" + std::to_string(line) + ": " + path + ": " + message);
  }
};

int LineOf(const YAML::Node& n, int fallback = 1) {
  if (!n.IsDefined() || n.Mark().line < 0) return fallback;
  return n.Mark().line + 1;
}

// Reads a scalar field; records what is wrong. `key_line` is where the mapping holding it begins.
std::string Scalar(const YAML::Node& map, const std::string& key, const std::string& path, bool required,
                   int parent_line, Problems& problems) {
  YAML::Node v = map[key];
  if (!v.IsDefined() || v.IsNull()) {
    if (required) problems.Add(parent_line, path, "required field is missing");
    return "";
  }
  if (!v.IsScalar()) {
    problems.Add(LineOf(v, parent_line), path, "expected a string");
    return "";
  }
  std::string s = v.Scalar();
  if (required && s.empty()) problems.Add(LineOf(v, parent_line), path, "must not be empty");
  return s;
}

}  // namespace

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return s.front() != '-' && s.back() != '-';
}

bool TagMatches(std::string_view pattern, std::string_view tag) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(tag).c_str(), 0) == 0;
}

Result<TunaYaml> ParseTunaYaml(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string(kTunaYamlFile) + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(kTunaYamlFile) + ": " + e.what());
  }
  if (!root.IsMap()) return InvalidArgument(std::string(kTunaYamlFile) + ":1: expected a mapping (kind, name, spec)");
  Problems problems;
  TunaYaml out;
  try {
    int spec_line = 1;
    for (const auto& kv : root) {
      std::string key = kv.first.Scalar();
      if (key == "spec") spec_line = LineOf(kv.first);
      else if (key != "kind" && key != "name" && key != "apiVersion")
        problems.Add(LineOf(kv.first), key, "unknown field (known: kind, name, spec)");
    }
    out.kind = Scalar(root, "kind", "kind", true, 1, problems);
    if (!out.kind.empty() && out.kind != "agent") {
      int line = LineOf(root["kind"]);
      if (out.kind == "mcp-server") problems.Add(line, "kind", "mcp-server is not supported by git push yet (supported: agent)");
      else problems.Add(line, "kind", "unknown kind \"" + out.kind + "\" (supported: agent)");
    }
    out.name = Scalar(root, "name", "name", true, 1, problems);
    if (!out.name.empty() && !IsDnsLabel(out.name)) {
      problems.Add(LineOf(root["name"]), "name",
                   "invalid name \"" + out.name + "\": lower-case letters, digits and '-', at most 63");
    }
    YAML::Node spec = root["spec"];
    if (!spec.IsDefined() || spec.IsNull()) {
      problems.Add(spec_line, "spec", "required field is missing");
    } else if (!spec.IsMap()) {
      problems.Add(spec_line, "spec", "expected a mapping");
    } else {
      static const std::set<std::string> known = {"environment", "entrypoint", "branch", "tagPattern", "env"};
      for (const auto& kv : spec) {
        if (!known.count(kv.first.Scalar())) {
          problems.Add(LineOf(kv.first), "spec." + kv.first.Scalar(),
                       "unknown field (known: environment, entrypoint, branch, tagPattern, env)");
        }
      }
      out.environment = Scalar(spec, "environment", "spec.environment", true, spec_line, problems);
      if (!out.environment.empty() && !IsDnsLabel(out.environment)) {
        problems.Add(LineOf(spec["environment"]), "spec.environment", "invalid name \"" + out.environment + "\"");
      }
      out.entrypoint = Scalar(spec, "entrypoint", "spec.entrypoint", true, spec_line, problems);
      out.branch = Scalar(spec, "branch", "spec.branch", false, spec_line, problems);
      if (spec["tagPattern"].IsDefined()) {
        out.tag_pattern = Scalar(spec, "tagPattern", "spec.tagPattern", true, spec_line, problems);
      }
      YAML::Node env = spec["env"];
      if (env.IsDefined() && !env.IsNull()) {
        if (!env.IsMap()) {
          problems.Add(LineOf(env, spec_line), "spec.env", "expected a mapping of names to strings");
        } else {
          for (const auto& kv : env) {
            if (!kv.second.IsScalar()) {
              problems.Add(LineOf(kv.second), "spec.env." + kv.first.Scalar(), "expected a string");
              continue;
            }
            out.env[kv.first.Scalar()] = kv.second.Scalar();
          }
        }
      }
    }
  } catch (const std::exception& e) {
    problems.lines.push_back(std::string(kTunaYamlFile) + ": " + e.what());
  }
  if (!problems.lines.empty()) {
    std::string msg;
    for (const auto& l : problems.lines) msg += (msg.empty() ? "" : "\n") + l;
    return InvalidArgument(msg);
  }
  return out;
}

}  // namespace tuna::gitops
