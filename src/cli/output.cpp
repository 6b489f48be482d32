#include "cli/output.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>

#include "tuna/resources/codec.hpp"

namespace tuna::cli {
namespace json = boost::json;
namespace {

constexpr std::string_view kNone = "<none>";

const json::value* At(const json::value& root, std::string_view dotted) {
  const json::value* v = &root;
  while (!dotted.empty()) {
    auto dot = dotted.find('.');
    std::string_view key = dotted.substr(0, dot);
    if (!v->is_object()) return nullptr;
    v = v->get_object().if_contains(key);
    if (v == nullptr) return nullptr;
    dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
  }
  return v;
}

std::string Cell(const json::value* v) {
  if (v == nullptr || v->is_null()) return std::string(kNone);
  switch (v->kind()) {
    case json::kind::string: return v->get_string().empty() ? std::string(kNone) : std::string(v->get_string());
    case json::kind::bool_: return v->get_bool() ? "true" : "false";
    case json::kind::array: {
      std::string out;
      for (const auto& item : v->get_array()) {
        if (!out.empty()) out += ',';
        out += item.is_string() ? std::string(item.get_string()) : json::serialize(item);
      }
      return out.empty() ? std::string(kNone) : out;
    }
    default: return json::serialize(*v);
  }
}

std::string SpecCell(const Resource& r, std::string_view path) { return Cell(At(r.spec, path)); }
std::string StatusCell(const Resource& r, std::string_view path) { return Cell(At(r.status, path)); }

std::string Count(const json::value* v) {
  if (v == nullptr || !v->is_array()) return "0";
  return std::to_string(v->get_array().size());
}

// Commit ids are long; tables show the first 12 characters like `git log --abbrev`.
std::string ShortRevision(std::string s) {
  bool hex = s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  return hex ? s.substr(0, 12) : s;
}

std::string OwnerName(const Resource& r, std::string_view kind_suffix) {
  for (const auto& o : r.metadata.owner_references) {
    if (o.controller || std::string_view(o.kind).ends_with(kind_suffix)) return o.name;
  }
  return std::string(kNone);
}

std::string BuildPhase(const Resource& r) {
  const json::value* p = At(r.status, "phase");
  return p != nullptr && p->is_string() && !p->get_string().empty() ? std::string(p->get_string()) : "Pending";
}

struct Column {
  std::string_view header;
  bool wide_only;
  std::function<std::string(const Resource&)> value;
};

const std::vector<Column>& KindColumns(std::string_view kind) {
  static const std::vector<Column> kEnvironment = {
      {"RUNTIME", false, [](const Resource& r) { return SpecCell(r, "runtime"); }},
      {"DRIVER", false, [](const Resource& r) { auto d = SpecCell(r, "driver"); return d == kNone ? std::string("pool") : d; }},
      {"POOL", false, [](const Resource& r) { return SpecCell(r, "poolSize"); }},
      {"IMAGE", true, [](const Resource& r) { return SpecCell(r, "image"); }},
      {"IDLE-TIMEOUT", true, [](const Resource& r) { return SpecCell(r, "idleTimeoutSeconds"); }},
  };
  static const std::vector<Column> kDeployment = {
      {"ENV", false, [](const Resource& r) { return SpecCell(r, "environmentName"); }},
      {"PHASE", false, [](const Resource& r) { return StatusCell(r, "phase"); }},
      {"STAGING", false, [](const Resource& r) { return ShortRevision(StatusCell(r, "revisions.staging.revision")); }},
      {"PRODUCTION", false, [](const Resource& r) { return ShortRevision(StatusCell(r, "revisions.production.revision")); }},
      {"STAGING-REF", true, [](const Resource& r) { return SpecCell(r, "stages.staging.source.ref"); }},
      {"PRODUCTION-REF", true, [](const Resource& r) { return SpecCell(r, "stages.production.source.ref"); }},
      {"CANARY", true, [](const Resource& r) { return SpecCell(r, "rollout.canaryPercent"); }},
  };
  static const std::vector<Column> kBuild = {
      {"DEPLOYMENT", false, [](const Resource& r) { return OwnerName(r, "Deployment"); }},
      {"TARGET", false, [](const Resource& r) { return SpecCell(r, "buildTarget"); }},
      {"PHASE", false, [](const Resource& r) { return BuildPhase(r); }},
      {"COMMIT", true, [](const Resource& r) { return ShortRevision(SpecCell(r, "source.commit")); }},
      {"STARTED", true, [](const Resource& r) { return StatusCell(r, "startTime"); }},
      {"COMPLETED", true, [](const Resource& r) { return StatusCell(r, "completionTime"); }},
  };
  static const std::vector<Column> kHttpTool = {
      {"BASE-URL", false, [](const Resource& r) { return SpecCell(r, "baseUrl"); }},
      {"TOOLS", false, [](const Resource& r) { return StatusCell(r, "toolCount"); }},
      {"OPENAPI", true, [](const Resource& r) {
         auto url = SpecCell(r, "openapi.url");
         return url != kNone ? url : SpecCell(r, "openapi.file");
       }},
  };
  static const std::vector<Column> kBinding = {
      {"AGENT", false, [](const Resource& r) { return SpecCell(r, "agentName"); }},
      {"TOOLS", false, [](const Resource& r) { return Count(At(r.spec, "tools")); }},
      {"MEMORIES", false, [](const Resource& r) { return Count(At(r.spec, "memories")); }},
      {"PEERS", false, [](const Resource& r) { return Count(At(r.spec, "peers")); }},
  };
  static const std::vector<Column> kMemory = {
      {"TYPE", false, [](const Resource& r) { return SpecCell(r, "type"); }},
      {"TTL", false, [](const Resource& r) { return SpecCell(r, "ttlSeconds"); }},
      {"MAX-ENTRIES", true, [](const Resource& r) { return SpecCell(r, "maxEntries"); }},
  };
  static const std::vector<Column> kCatalogue = {
      {"AGENT", false, [](const Resource& r) { return SpecCell(r, "agentName"); }},
      {"DISPLAY-NAME", false, [](const Resource& r) { return SpecCell(r, "displayName"); }},
      {"VERSION", true, [](const Resource& r) { return SpecCell(r, "version"); }},
      {"TAGS", true, [](const Resource& r) { return SpecCell(r, "tags"); }},
  };
  static const std::vector<Column> kNoColumns;
  if (kind == "AgentEnvironment") return kEnvironment;
  if (kind == "AgentDeployment" || kind == "MCPServerDeployment") return kDeployment;
  if (kind == "AgentBuild" || kind == "MCPServerBuild") return kBuild;
  if (kind == "HTTPToolDeployment") return kHttpTool;
  if (kind == "AgentResourceBinding") return kBinding;
  if (kind == "AgentMemory") return kMemory;
  if (kind == "AgentCatalogue") return kCatalogue;
  return kNoColumns;
}

void Indent(std::string& out, std::string_view text, std::string_view pad) {
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!line.empty()) {
      out += pad;
      out += line;
    }
    out += '\n';
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
}

std::string MapLines(const std::map<std::string, std::string>& m, std::size_t indent) {
  if (m.empty()) return std::string(kNone) + "\n";
  std::string out;
  bool first = true;
  for (const auto& [k, v] : m) {
    if (!first) out.append(indent, ' ');
    out += k + "=" + v + "\n";
    first = false;
  }
  return out;
}

}  // namespace

Result<OutputFormat> ParseOutputFormat(std::string_view text) {
  if (text.empty()) return OutputFormat::kTable;
  if (text == "wide") return OutputFormat::kWide;
  if (text == "yaml") return OutputFormat::kYaml;
  if (text == "json") return OutputFormat::kJson;
  if (text == "name") return OutputFormat::kName;
  return InvalidArgument("unknown output format \"" + std::string(text) + "\" (use yaml, json, wide or name)");
}

std::string HumanDuration(std::chrono::seconds d) {
  long long seconds = d.count();
  char buf[32];
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) {
    std::snprintf(buf, sizeof buf, "%llds", seconds);
    return buf;
  }
  long long minutes = seconds / 60;
  if (minutes < 10) {
    long long s = seconds % 60;
    if (s == 0) std::snprintf(buf, sizeof buf, "%lldm", minutes);
    else std::snprintf(buf, sizeof buf, "%lldm%llds", minutes, s);
    return buf;
  }
  if (minutes < 180) {
    std::snprintf(buf, sizeof buf, "%lldm", minutes);
    return buf;
  }
  long long hours = minutes / 60;
  if (hours < 8) {
    long long m = minutes % 60;
    if (m == 0) std::snprintf(buf, sizeof buf, "%lldh", hours);
    else std::snprintf(buf, sizeof buf, "%lldh%lldm", hours, m);
  } else if (hours < 48) {
    std::snprintf(buf, sizeof buf, "%lldh", hours);
  } else if (hours < 24 * 8) {
    long long h = hours % 24;
    if (h == 0) std::snprintf(buf, sizeof buf, "%lldd", hours / 24);
    else std::snprintf(buf, sizeof buf, "%lldd%lldh", hours / 24, h);
  } else if (hours < 24 * 365 * 2) {
    std::snprintf(buf, sizeof buf, "%lldd", hours / 24);
  } else if (hours < 24 * 365 * 8) {
    long long dy = (hours / 24) % 365;
    if (dy == 0) std::snprintf(buf, sizeof buf, "%lldy", hours / 24 / 365);
    else std::snprintf(buf, sizeof buf, "%lldy%lldd", hours / 24 / 365, dy);
  } else {
    std::snprintf(buf, sizeof buf, "%lldy", hours / 24 / 365);
  }
  return buf;
}

bool ParseRfc3339(std::string_view text, TimePoint& out) {
  std::string s(text);
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return false;
  }
  std::string_view rest = std::string_view(s).substr(static_cast<std::size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  }
  long offset = 0;
  if (rest == "Z" || rest == "z") {
    offset = 0;
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int h = 0, m = 0;
    if (std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &h, &m) != 2) return false;
    offset = (h * 3600L + m * 60L) * (rest[0] == '-' ? -1 : 1);
  } else {
    return false;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return false;
  out = std::chrono::system_clock::from_time_t(t - offset);
  return true;
}

std::string Age(std::string_view rfc3339, TimePoint now) {
  TimePoint t;
  if (!ParseRfc3339(rfc3339, t)) return "<unknown>";
  return HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - t));
}

std::string QualifiedName(const Resource& r) {
  const KindInfo* info = FindKind(r.kind);
  std::string out = info ? std::string(info->singular) : r.kind;
  out += '.';
  out += kGroup;
  out += '/';
  out += r.metadata.name;
  return out;
}

std::vector<std::string> TableHeaders(const KindInfo& kind, bool wide, bool with_namespace) {
  std::vector<std::string> h;
  if (with_namespace) h.emplace_back("NAMESPACE");
  h.emplace_back("NAME");
  for (const auto& c : KindColumns(kind.kind)) {
    if (!c.wide_only || wide) h.emplace_back(c.header);
  }
  h.emplace_back("AGE");
  return h;
}

std::vector<std::string> TableRow(const Resource& r, const KindInfo& kind, bool wide, bool with_namespace,
                                  TimePoint now) {
  std::vector<std::string> row;
  if (with_namespace) row.push_back(r.metadata.namespace_);
  row.push_back(r.metadata.name);
  for (const auto& c : KindColumns(kind.kind)) {
    if (!c.wide_only || wide) row.push_back(c.value(r));
  }
  row.push_back(Age(r.metadata.creation_timestamp, now));
  return row;
}

std::vector<std::size_t> ColumnWidths(const Table& table) {
  std::size_t columns = table.headers.size();
  for (const auto& row : table.rows) columns = std::max(columns, row.size());
  std::vector<std::size_t> w(columns, 0);
  for (std::size_t i = 0; i < table.headers.size(); ++i) w[i] = table.headers[i].size();
  for (const auto& row : table.rows) {
    for (std::size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
  }
  return w;
}

std::string RenderTable(const Table& table, const std::vector<std::size_t>& min_widths) {
  std::vector<std::size_t> w = ColumnWidths(table);
  for (std::size_t i = 0; i < w.size() && i < min_widths.size(); ++i) w[i] = std::max(w[i], min_widths[i]);
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      l += cells[i];
      if (i + 1 < cells.size()) l.append(w[i] - cells[i].size() + 3, ' ');
    }
    out += l;
    out += '\n';
  };
  if (!table.headers.empty()) line(table.headers);
  for (const auto& row : table.rows) line(row);
  return out;
}

std::string FormatYaml(const std::vector<Resource>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += "---\n";
    out += EncodeYaml(items[i]);
  }
  return out;
}

std::string FormatJson(const std::vector<Resource>& items, bool as_list) {
  if (!as_list && items.size() == 1) return EncodeJsonPretty(ResourceToJson(items.front()));
  json::object list;
  list["apiVersion"] = "v1";
  list["kind"] = "List";
  json::array a;
  for (const auto& r : items) a.push_back(ResourceToJson(r));
  list["items"] = std::move(a);
  return EncodeJsonPretty(list);
}

std::string Describe(const Resource& r, TimePoint now, const std::vector<ObjectEvent>* events) {
  constexpr std::size_t kLabelWidth = 20;
  std::string out;
  auto field = [&](std::string_view label, const std::string& value) {
    std::string l = std::string(label) + ":";
    l.append(kLabelWidth > l.size() ? kLabelWidth - l.size() : 1, ' ');
    out += l + value + "\n";
  };
  const auto& m = r.metadata;
  field("Name", m.name);
  field("Namespace", m.namespace_);
  field("Kind", r.kind);
  field("API Version", r.api_version);
  std::string labels = MapLines(m.labels, kLabelWidth);
  labels.pop_back();
  field("Labels", labels);
  std::string annotations = MapLines(m.annotations, kLabelWidth);
  annotations.pop_back();
  field("Annotations", annotations);
  field("UID", m.uid.empty() ? std::string(kNone) : m.uid);
  field("Resource Version", m.resource_version.empty() ? std::string(kNone) : m.resource_version);
  field("Generation", std::to_string(m.generation));
  field("Created", m.creation_timestamp.empty()
                       ? std::string(kNone)
                       : m.creation_timestamp + " (" + Age(m.creation_timestamp, now) + " ago)");
  if (!m.deletion_timestamp.empty()) field("Deleting Since", m.deletion_timestamp);
  if (m.owner_references.empty()) {
    field("Owned By", std::string(kNone));
  } else {
    std::string owners;
    for (const auto& o : m.owner_references) {
      if (!owners.empty()) owners += "\n" + std::string(kLabelWidth, ' ');
      owners += o.kind + "/" + o.name + (o.controller ? " (controller)" : "");
    }
    field("Owned By", owners);
  }

  if (r.spec.is_null() || (r.spec.is_object() && r.spec.get_object().empty())) {
    field("Spec", std::string(kNone));
  } else {
    out += "Spec:\n";
    Indent(out, EncodeYamlValue(r.spec), "  ");
  }

  json::value status = r.status;
  json::value conditions;
  if (status.is_object()) {
    if (auto* c = status.get_object().if_contains("conditions")) {
      conditions = *c;
      status.get_object().erase("conditions");
    }
  }
  if (status.is_null() || (status.is_object() && status.get_object().empty())) {
    field("Status", std::string(kNone));
  } else {
    out += "Status:\n";
    Indent(out, EncodeYamlValue(status), "  ");
  }
  if (!conditions.is_array() || conditions.get_array().empty()) {
    field("Conditions", std::string(kNone));
  } else {
    out += "Conditions:\n";
    Table t;
    t.headers = {"TYPE", "STATUS", "REASON", "AGE", "MESSAGE"};
    for (const auto& c : conditions.get_array()) {
      const json::value* ts = At(c, "lastTransitionTime");
      std::string age = ts != nullptr && ts->is_string() ? Age(ts->get_string(), now) : std::string(kNone);
      t.rows.push_back({Cell(At(c, "type")), Cell(At(c, "status")), Cell(At(c, "reason")), age,
                        Cell(At(c, "message"))});
    }
    Indent(out, RenderTable(t), "  ");
  }
  if (events != nullptr) {
    if (events->empty()) {
      field("Events", std::string(kNone));
    } else {
      out += "Events:\n";
      Table t;
      t.headers = {"TYPE", "REASON", "AGE", "COUNT", "MESSAGE"};
      for (const auto& e : *events) {
        t.rows.push_back({e.type, e.reason, Age(e.last_timestamp, now), std::to_string(e.count), e.message});
      }
      Indent(out, RenderTable(t), "  ");
    }
  }
  return out;
}

}  // namespace tuna::cli
