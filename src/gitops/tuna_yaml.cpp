#include "gitops/tuna_yaml.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <set>

#include <boost/json.hpp>

#include "tuna/admission.hpp"
#include "tuna/openapi.hpp"
#include "tuna/resources/codec.hpp"
#include "tuna/resources/object.hpp"

namespace tuna::gitops {
namespace {

namespace json = boost::json;

using Known = std::vector<std::string_view>;

std::string JoinPath(const std::string& base, std::string_view key) {
  return base.empty() ? std::string(key) : base + "." + std::string(key);
}

std::string List(const Known& known) {
  std::string out;
  for (auto k : known) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

std::string TypeName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::object: return "a mapping";
    case json::kind::array: return "a list";
    case json::kind::string: return "a string";
    case json::kind::bool_: return "a boolean";
    case json::kind::null: return "null";
    default: return "a number";
  }
}

// Collects problems, each with the line of its field (or of the nearest parent that has one).
class Reader {
 public:
  Reader(std::string file, std::map<std::string, int> lines) : file_(std::move(file)), lines_(std::move(lines)) {}

  int Line(std::string path) const {
    while (!path.empty()) {
      auto it = lines_.find(path);
      if (it != lines_.end()) return it->second;
      std::size_t cut = path.find_last_of(".[");
      if (cut == std::string::npos) break;
      path.resize(cut);
    }
    return 1;
  }
  // `at` is where the line is looked up (a missing field: its parent).
  void Add(const std::string& path, const std::string& message, const std::string& at) {
    problems_.push_back(file_ + ":" + std::to_string(Line(at)) + ": " + path + ": " + message);
  }
  void Add(const std::string& path, const std::string& message) { Add(path, message, path); }

  void CheckKnown(const json::object& o, const std::string& path, const Known& known) {
    for (const auto& kv : o) {
      if (std::find(known.begin(), known.end(), kv.key()) == known.end()) {
        Add(JoinPath(path, kv.key()), "unknown field (known: " + List(known) + ")");
      }
    }
  }

  // The string at o[key]; "" (and a problem when required) when absent.
  std::string Str(const json::object& o, const std::string& parent, std::string_view key, bool required) {
    const std::string path = JoinPath(parent, key);
    const json::value* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) Add(path, "required field is missing", parent);
      return "";
    }
    if (!v->is_string()) {
      Add(path, "expected a string, got " + TypeName(*v));
      return "";
    }
    std::string s(v->get_string());
    if (required && s.empty()) Add(path, "must not be empty");
    return s;
  }

  const json::object* Obj(const json::object& o, const std::string& parent, std::string_view key, bool required) {
    const std::string path = JoinPath(parent, key);
    const json::value* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) Add(path, "required field is missing", parent);
      return nullptr;
    }
    if (!v->is_object()) {
      Add(path, "expected a mapping, got " + TypeName(*v));
      return nullptr;
    }
    return &v->get_object();
  }

  std::map<std::string, std::string> Env(const json::object& o, const std::string& parent) {
    std::map<std::string, std::string> out;
    const json::object* env = Obj(o, parent, "env", false);
    if (env == nullptr) return out;
    const std::string path = JoinPath(parent, "env");
    for (const auto& kv : *env) {
      if (!kv.value().is_string()) {
        Add(path + "." + std::string(kv.key()), "expected a string, got " + TypeName(kv.value()) + " (quote the value)");
        continue;
      }
      out[std::string(kv.key())] = std::string(kv.value().get_string());
    }
    return out;
  }

  // Strict validation of a sub-object through the kind's own decoder and admission rules
  // (ValidateObject); its "spec.X" paths are reported as "<as>.X".
  void ValidateAs(Resource r, const std::string& as) {
    Status st = ValidateObject(r);
    if (st.ok()) return;
    std::string field = st.field();
    std::string message = st.message();
    if (!field.empty() && message.rfind(field + ": ", 0) == 0) message = message.substr(field.size() + 2);
    std::string path = field.rfind("spec", 0) == 0 ? as + field.substr(4) : (field.empty() ? as : as + "." + field);
    Add(path, message);
  }

  std::vector<std::string> problems_;

 private:
  std::string file_;
  std::map<std::string, int> lines_;
};

Resource MakeResource(std::string_view kind, const std::string& name, json::object spec) {
  Resource r;
  r.kind = std::string(kind);
  r.metadata.name = IsDnsLabel(name) ? name : "x";
  r.metadata.namespace_ = "default";
  r.spec = std::move(spec);
  return r;
}

void ParseAgent(const json::object& spec, TunaYaml& out, Reader& rd) {
  rd.CheckKnown(spec, "spec",
                {"environment", "entrypoint", "branch", "tagPattern", "env", "catalogue", "bindings", "buildScript"});
  out.environment = rd.Str(spec, "spec", "environment", true);
  out.entrypoint = rd.Str(spec, "spec", "entrypoint", true);
  out.env = rd.Env(spec, "spec");
  if (spec.contains("buildScript")) {
    // AgentDeployment has no build script of its own: builds run the environment's.
    rd.Add("spec.buildScript",
           "not supported: an agent is built by its AgentEnvironment's spec.buildScript (environment \"" +
               out.environment +
               "\"); give the environment a buildScript that runs a script from the source (e.g. ./build.sh)");
  }
  if (const json::object* cat = rd.Obj(spec, "spec", "catalogue", false)) {
    if (cat->contains("agentName")) {
      rd.Add("spec.catalogue.agentName", "not allowed: the catalogue entry always lists this agent (" + out.name + ")");
    } else {
      json::object c = *cat;
      c["agentName"] = out.name;
      std::size_t before = rd.problems_.size();
      rd.ValidateAs(MakeResource("AgentCatalogue", out.name, c), "spec.catalogue");
      if (rd.problems_.size() == before) out.catalogue = std::move(c);
    }
  }
  if (const json::object* bind = rd.Obj(spec, "spec", "bindings", false)) {
    if (bind->contains("agentName")) {
      rd.Add("spec.bindings.agentName", "not allowed: the bindings always grant to this agent (" + out.name + ")");
    } else {
      json::object b = *bind;
      // Friendlier tool kinds: the tuna.yaml kind names stand for the deployment kinds.
      if (auto* tools = b.if_contains("tools"); tools && tools->is_array()) {
        for (auto& t : tools->get_array()) {
          auto* kind = t.is_object() ? t.get_object().if_contains("kind") : nullptr;
          if (kind == nullptr || !kind->is_string()) continue;
          if (kind->get_string() == kKindMcpServer) *kind = "MCPServerDeployment";
          else if (kind->get_string() == kKindHttpTool) *kind = "HTTPToolDeployment";
        }
      }
      b["agentName"] = out.name;
      std::size_t before = rd.problems_.size();
      rd.ValidateAs(MakeResource("AgentResourceBinding", out.name, b), "spec.bindings");
      if (rd.problems_.size() == before) out.bindings = std::move(b);
    }
  }
}

void ParseMcpServer(const json::object& spec, TunaYaml& out, Reader& rd) {
  rd.CheckKnown(spec, "spec", {"environment", "command", "env", "branch", "tagPattern"});
  out.environment = rd.Str(spec, "spec", "environment", true);
  out.env = rd.Env(spec, "spec");
  const json::value* cmd = spec.if_contains("command");
  if (cmd == nullptr || cmd->is_null()) {
    rd.Add("spec.command", "required field is missing (e.g. [python3, server.py])", "spec");
  } else if (cmd->is_string()) {
    // One word: the program alone (no shell splitting; use a list for arguments).
    out.command = {std::string(cmd->get_string())};
    if (out.command[0].empty()) rd.Add("spec.command", "must not be empty");
  } else if (!cmd->is_array() || cmd->get_array().empty()) {
    rd.Add("spec.command", "expected a non-empty list: the program and its arguments, e.g. [python3, server.py]");
  } else {
    const auto& a = cmd->get_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      std::string p = "spec.command[" + std::to_string(i) + "]";
      if (!a[i].is_string()) rd.Add(p, "expected a string, got " + TypeName(a[i]));
      else if (a[i].get_string().empty() && i == 0) rd.Add(p, "the program must not be empty");
      else out.command.emplace_back(a[i].get_string());
    }
  }
}

void ParseHttpTool(const json::object& spec, TunaYaml& out, Reader& rd) {
  const Known known = {"openapi", "baseUrl", "operations", "credentials", "headers", "timeoutSeconds", "branch"};
  Known with_tag = known;
  with_tag.push_back("tagPattern");
  rd.CheckKnown(spec, "spec", with_tag);
  if (spec.contains("tagPattern")) {
    rd.Add("spec.tagPattern", "not supported: HTTP tools have no stages; pushes to spec.branch update them, tags deploy nothing");
  }
  if (const json::object* openapi = rd.Obj(spec, "spec", "openapi", true)) {
    rd.CheckKnown(*openapi, "spec.openapi", {"file"});
    out.openapi_file = rd.Str(*openapi, "spec.openapi", "file", true);
  }
  json::object tool;
  for (const auto& kv : spec) {
    if (kv.key() == "openapi" || kv.key() == "branch" || std::find(known.begin(), known.end(), kv.key()) == known.end()) continue;
    tool.emplace(kv.key(), kv.value());
  }
  json::object check = tool;
  check["openapi"] = json::object{{"file", out.openapi_file.empty() ? std::string("openapi.yaml") : out.openapi_file}};
  rd.ValidateAs(MakeResource("HTTPToolDeployment", out.name, check), "spec");
  out.tool = std::move(tool);
}

// Finds an operation by operationId or "METHOD /path".
bool HasOperation(const json::object& doc, const std::string& op) {
  const auto* paths = doc.if_contains("paths");
  if (paths == nullptr || !paths->is_object()) return false;
  for (const auto& p : paths->get_object()) {
    if (!p.value().is_object()) continue;
    for (const auto& m : p.value().get_object()) {
      std::string method(m.key());
      std::string upper = method;
      std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      if (op == upper + " " + std::string(p.key())) return true;
      if (!m.value().is_object()) continue;
      const auto* id = m.value().get_object().if_contains("operationId");
      if (id && id->is_string() && id->get_string() == op) return true;
    }
  }
  return false;
}

}  // namespace

std::string TunaYaml::DeploymentKind() const {
  if (kind == kKindMcpServer) return "MCPServerDeployment";
  if (kind == kKindHttpTool) return "HTTPToolDeployment";
  return "AgentDeployment";
}

std::string TunaYaml::Problem(const std::string& path, const std::string& message) const {
  Reader rd(std::string(kTunaYamlFile), lines);
  rd.Add(path, message);
  return rd.problems_.front();
}

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
  const std::string file(kTunaYamlFile);
  try {
    auto docs = ParseYamlDocuments(text, file);
    if (!docs.ok()) return InvalidArgument(docs.status().message());
    if (docs->empty()) return InvalidArgument(file + ":1: the file is empty (expected a mapping: kind, name, spec)");
    if (docs->size() > 1) return InvalidArgument(file + ":" + std::to_string((*docs)[1].line) + ": one document only");
    const SourceDocument& doc = docs->front();
    if (!doc.value.is_object()) return InvalidArgument(file + ":1: expected a mapping (kind, name, spec)");
    const json::object& root = doc.value.get_object();
    Reader rd(file, doc.field_lines);
    TunaYaml out;
    out.lines = doc.field_lines;
    rd.CheckKnown(root, "", {"kind", "name", "spec", "apiVersion"});
    out.kind = rd.Str(root, "", "kind", true);
    const bool known_kind = out.kind == kKindAgent || out.kind == kKindMcpServer || out.kind == kKindHttpTool;
    if (!out.kind.empty() && !known_kind) rd.Add("kind", "unknown kind \"" + out.kind + "\" (supported: agent, mcp-server, http-tool)");
    out.name = rd.Str(root, "", "name", true);
    if (!out.name.empty() && !IsDnsLabel(out.name)) {
      rd.Add("name", "invalid name \"" + out.name + "\": lower-case letters, digits and '-', at most 63");
    }
    if (const json::object* spec = rd.Obj(root, "", "spec", true); spec != nullptr) {
      // An unknown or missing kind: the spec is still checked, as an agent's.
      const std::string& as = known_kind ? out.kind : std::string(kKindAgent);
      out.branch = rd.Str(*spec, "spec", "branch", false);
      if (spec->contains("tagPattern") && as != kKindHttpTool) out.tag_pattern = rd.Str(*spec, "spec", "tagPattern", true);
      if (as == kKindAgent) ParseAgent(*spec, out, rd);
      else if (as == kKindMcpServer) ParseMcpServer(*spec, out, rd);
      else ParseHttpTool(*spec, out, rd);
      if (out.kind == kKindHttpTool && out.branch.empty()) out.branch = "main";
    }
    if (!rd.problems_.empty()) {
      std::string msg;
      for (const auto& l : rd.problems_) msg += (msg.empty() ? "" : "\n") + l;
      return InvalidArgument(msg);
    }
    return out;
  } catch (const std::exception& e) {
    return InvalidArgument(file + ": " + e.what());
  }
}

Result<json::object> ParseOpenApiDocument(const TunaYaml& yaml, std::string_view text) {
  const std::string& name = yaml.openapi_file;
  if (text.size() > kMaxOpenApiBytes) {
    return InvalidArgument(yaml.Problem("spec.openapi.file", name + " is " + std::to_string(text.size()) +
                                                                 " bytes, over the " + std::to_string(kMaxOpenApiBytes) +
                                                                 "-byte limit of inline documents"));
  }
  try {
    auto docs = ParseYamlDocuments(text, name);
    if (!docs.ok()) return InvalidArgument(docs.status().message());
    if (docs->size() != 1 || !docs->front().value.is_object()) {
      return InvalidArgument(name + ":1: expected one OpenAPI 3 document (a mapping with \"openapi: 3.x.y\")");
    }
    const SourceDocument& doc = docs->front();
    const json::object& o = doc.value.get_object();
    const json::value* version = o.if_contains("openapi");
    if (version == nullptr || !version->is_string() || !version->get_string().starts_with("3.")) {
      auto it = doc.field_lines.find("openapi");
      int line = it == doc.field_lines.end() ? doc.line : it->second;
      return InvalidArgument(name + ":" + std::to_string(line) +
                             ": openapi: must be an OpenAPI 3 document (\"openapi: 3.x.y\"; Swagger 2 is not supported)");
    }
    const json::value* paths = o.if_contains("paths");
    if (paths == nullptr || !paths->is_object() || paths->get_object().empty()) {
      auto it = doc.field_lines.find("paths");
      int line = it == doc.field_lines.end() ? doc.line : it->second;
      return InvalidArgument(name + ":" + std::to_string(line) + ": paths: the document has no operations");
    }
    std::string problems;
    if (const auto* ops = yaml.tool.if_contains("operations"); ops && ops->is_array()) {
      for (std::size_t i = 0; i < ops->get_array().size(); ++i) {
        const auto& op = ops->get_array()[i];
        if (!op.is_string() || HasOperation(o, std::string(op.get_string()))) continue;
        problems += (problems.empty() ? "" : "\n") +
                    yaml.Problem("spec.operations[" + std::to_string(i) + "]",
                                 "operation \"" + std::string(op.get_string()) + "\" is not in " + name +
                                     " (an operationId or \"METHOD /path\")");
      }
    }
    if (!problems.empty()) return InvalidArgument(problems);
    // What the gateway will do with it: version and `info` checks, every operation listed with
    // its `$ref`s resolved, the allowlist applied. Refused here rather than when first served.
    auto named = [&](const Status& st) {
      const std::string& m = st.message();
      return InvalidArgument(m.rfind(name, 0) == 0 ? m : name + ": " + m);
    };
    auto loaded = openapi::DocumentFromJson(doc.value, name);
    if (!loaded.ok()) return named(loaded.status());
    openapi::ConvertOptions convert;
    if (const auto* ops = yaml.tool.if_contains("operations"); ops && ops->is_array()) {
      for (const auto& op : ops->get_array()) {
        if (op.is_string()) convert.operations.emplace_back(op.get_string());
      }
    }
    auto listed = openapi::ListOperations(*loaded, convert);
    if (!listed.ok()) return named(listed.status());
    if (listed->empty()) return InvalidArgument(name + ": the document has no operations");
    return o;
  } catch (const std::exception& e) {
    return InvalidArgument(name + ": " + e.what());
  }
}

}  // namespace tuna::gitops
