// A2A data model codecs. 1.0 is the ProtoJSON form of the spec's a2a.proto (camelCase fields,
// enum names, oneof members as plain fields); 0.3 is the JSON-schema form with `kind` tags.

#include "tuna/a2a/types.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <boost/json.hpp>

#include "a2a/codec_util.hpp"
#include "core/ids.hpp"

namespace tuna::a2a {

using internal::Field;
using internal::Base64Decode;
using internal::Base64Encode;

std::string_view VersionName(Version version) { return version == Version::kV1_0 ? "1.0" : "0.3"; }

std::optional<Version> ParseVersion(std::string_view text) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  text = trim(text);
  if (text == "1" || text == "1.0" || text.starts_with("1.0.")) return Version::kV1_0;
  if (text == "0.3" || text.starts_with("0.3.")) return Version::kV0_3;
  return std::nullopt;
}

Part Part::Text(std::string text) {
  Part p;
  p.kind = Kind::kText;
  p.text = std::move(text);
  return p;
}
Part Part::Raw(std::string bytes, std::string media_type, std::string filename) {
  Part p;
  p.kind = Kind::kRaw;
  p.text = std::move(bytes);
  p.media_type = std::move(media_type);
  p.filename = std::move(filename);
  return p;
}
Part Part::Url(std::string url, std::string media_type, std::string filename) {
  Part p;
  p.kind = Kind::kUrl;
  p.text = std::move(url);
  p.media_type = std::move(media_type);
  p.filename = std::move(filename);
  return p;
}
Part Part::Data(json::value data) {
  Part p;
  p.kind = Kind::kData;
  p.data = std::move(data);
  return p;
}

Message Message::Text(Role role, std::string text) {
  Message m;
  m.message_id = NewUuid();
  m.role = role;
  m.parts.push_back(Part::Text(std::move(text)));
  return m;
}

std::string Message::AllText() const {
  std::string out;
  for (const Part& p : parts) {
    if (p.kind == Part::Kind::kText) out += p.text;
  }
  return out;
}

bool IsTerminal(TaskState state) {
  return state == TaskState::kCompleted || state == TaskState::kFailed || state == TaskState::kCanceled ||
         state == TaskState::kRejected;
}

bool IsInterrupted(TaskState state) { return state == TaskState::kInputRequired || state == TaskState::kAuthRequired; }

namespace {

struct StateNames {
  TaskState state;
  std::string_view v1;
  std::string_view v03;
};
constexpr StateNames kStates[] = {
    {TaskState::kUnspecified, "TASK_STATE_UNSPECIFIED", "unknown"},
    {TaskState::kSubmitted, "TASK_STATE_SUBMITTED", "submitted"},
    {TaskState::kWorking, "TASK_STATE_WORKING", "working"},
    {TaskState::kInputRequired, "TASK_STATE_INPUT_REQUIRED", "input-required"},
    {TaskState::kAuthRequired, "TASK_STATE_AUTH_REQUIRED", "auth-required"},
    {TaskState::kCompleted, "TASK_STATE_COMPLETED", "completed"},
    {TaskState::kFailed, "TASK_STATE_FAILED", "failed"},
    {TaskState::kCanceled, "TASK_STATE_CANCELED", "canceled"},
    {TaskState::kRejected, "TASK_STATE_REJECTED", "rejected"},
};

std::string Join(std::string_view path, std::string_view field) {
  std::string out(path);
  if (!out.empty()) out += '.';
  out += field;
  return out;
}

std::string Index(std::string_view path, std::size_t i) { return std::string(path) + "[" + std::to_string(i) + "]"; }

void PutIfNotEmpty(json::object& o, std::string_view key, const std::string& v) {
  if (!v.empty()) o[key] = v;
}

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

void PutStrings(json::object& o, std::string_view key, const std::vector<std::string>& v) {
  if (!v.empty()) o[key] = Strings(v);
}

}  // namespace

std::string_view TaskStateName(TaskState state, Version version) {
  for (const auto& s : kStates) {
    if (s.state == state) return version == Version::kV1_0 ? s.v1 : s.v03;
  }
  return version == Version::kV1_0 ? "TASK_STATE_UNSPECIFIED" : "unknown";
}

std::optional<TaskState> ParseTaskState(std::string_view text) {
  for (const auto& s : kStates) {
    if (text == s.v1 || text == s.v03) return s.state;
  }
  return std::nullopt;
}

// ---- encoding ------------------------------------------------------------------------------

json::value ToJson(const Part& part, Version version) {
  json::object o;
  if (version == Version::kV1_0) {
    switch (part.kind) {
      case Part::Kind::kText: o["text"] = part.text; break;
      case Part::Kind::kRaw: o["raw"] = Base64Encode(part.text); break;
      case Part::Kind::kUrl: o["url"] = part.text; break;
      case Part::Kind::kData: o["data"] = part.data; break;
    }
    PutIfNotEmpty(o, "filename", part.filename);
    PutIfNotEmpty(o, "mediaType", part.media_type);
  } else {
    switch (part.kind) {
      case Part::Kind::kText:
        o["kind"] = "text";
        o["text"] = part.text;
        break;
      case Part::Kind::kRaw:
      case Part::Kind::kUrl: {
        o["kind"] = "file";
        json::object file;
        if (part.kind == Part::Kind::kRaw) {
          file["bytes"] = Base64Encode(part.text);
        } else {
          file["uri"] = part.text;
        }
        PutIfNotEmpty(file, "mimeType", part.media_type);
        PutIfNotEmpty(file, "name", part.filename);
        o["file"] = std::move(file);
        break;
      }
      case Part::Kind::kData:
        o["kind"] = "data";
        // 0.3 data parts carry an object; anything else is wrapped so 0.3 clients can read it.
        if (part.data.is_object()) {
          o["data"] = part.data;
        } else {
          o["data"] = json::object{{"value", part.data}};
        }
        break;
    }
  }
  if (!part.metadata.empty()) o["metadata"] = part.metadata;
  return o;
}

json::value ToJson(const Message& message, Version version) {
  json::object o;
  if (version == Version::kV0_3) o["kind"] = "message";
  o["messageId"] = message.message_id;
  PutIfNotEmpty(o, "contextId", message.context_id);
  PutIfNotEmpty(o, "taskId", message.task_id);
  if (version == Version::kV1_0) {
    o["role"] = message.role == Role::kUser ? "ROLE_USER" : message.role == Role::kAgent ? "ROLE_AGENT" : "ROLE_UNSPECIFIED";
  } else {
    o["role"] = message.role == Role::kUser ? "user" : "agent";
  }
  json::array parts;
  for (const Part& p : message.parts) parts.push_back(ToJson(p, version));
  o["parts"] = std::move(parts);
  if (!message.metadata.empty()) o["metadata"] = message.metadata;
  PutStrings(o, "extensions", message.extensions);
  PutStrings(o, "referenceTaskIds", message.reference_task_ids);
  return o;
}

json::value ToJson(const TaskStatus& status, Version version) {
  json::object o;
  o["state"] = TaskStateName(status.state, version);
  if (status.message) o["message"] = ToJson(*status.message, version);
  PutIfNotEmpty(o, "timestamp", status.timestamp);
  return o;
}

json::value ToJson(const Artifact& artifact, Version version) {
  json::object o;
  o["artifactId"] = artifact.artifact_id;
  PutIfNotEmpty(o, "name", artifact.name);
  PutIfNotEmpty(o, "description", artifact.description);
  json::array parts;
  for (const Part& p : artifact.parts) parts.push_back(ToJson(p, version));
  o["parts"] = std::move(parts);
  if (!artifact.metadata.empty()) o["metadata"] = artifact.metadata;
  PutStrings(o, "extensions", artifact.extensions);
  return o;
}

json::value ToJson(const Task& task, Version version, std::optional<std::size_t> history_length) {
  json::object o;
  if (version == Version::kV0_3) o["kind"] = "task";
  o["id"] = task.id;
  o["contextId"] = task.context_id;
  o["status"] = ToJson(task.status, version);
  if (!task.artifacts.empty()) {
    json::array a;
    for (const Artifact& art : task.artifacts) a.push_back(ToJson(art, version));
    o["artifacts"] = std::move(a);
  }
  std::size_t n = task.history.size();
  std::size_t keep = history_length ? std::min(*history_length, n) : n;
  if (keep > 0) {
    json::array h;
    for (std::size_t i = n - keep; i < n; ++i) h.push_back(ToJson(task.history[i], version));
    o["history"] = std::move(h);
  }
  if (!task.metadata.empty()) o["metadata"] = task.metadata;
  return o;
}

json::value ToJson(const TaskStatusUpdateEvent& event, Version version) {
  json::object o;
  if (version == Version::kV0_3) o["kind"] = "status-update";
  o["taskId"] = event.task_id;
  o["contextId"] = event.context_id;
  o["status"] = ToJson(event.status, version);
  if (version == Version::kV0_3) o["final"] = event.final;
  if (!event.metadata.empty()) o["metadata"] = event.metadata;
  return o;
}

json::value ToJson(const TaskArtifactUpdateEvent& event, Version version) {
  json::object o;
  if (version == Version::kV0_3) o["kind"] = "artifact-update";
  o["taskId"] = event.task_id;
  o["contextId"] = event.context_id;
  o["artifact"] = ToJson(event.artifact, version);
  if (event.append || version == Version::kV0_3) o["append"] = event.append;
  if (event.last_chunk || version == Version::kV0_3) o["lastChunk"] = event.last_chunk;
  if (!event.metadata.empty()) o["metadata"] = event.metadata;
  return o;
}

json::value StreamEventToJson(const StreamEvent& event, Version version) {
  return std::visit(
      [&](const auto& e) -> json::value {
        using T = std::decay_t<decltype(e)>;
        json::value inner = ToJson(e, version);
        if (version == Version::kV0_3) return inner;
        json::object o;
        if constexpr (std::is_same_v<T, Task>) {
          o["task"] = std::move(inner);
        } else if constexpr (std::is_same_v<T, Message>) {
          o["message"] = std::move(inner);
        } else if constexpr (std::is_same_v<T, TaskStatusUpdateEvent>) {
          o["statusUpdate"] = std::move(inner);
        } else {
          o["artifactUpdate"] = std::move(inner);
        }
        return o;
      },
      event);
}

json::value CardToJson(const AgentCard& card, std::string_view endpoint_url) {
  std::vector<AgentInterface> interfaces = card.supported_interfaces;
  if (interfaces.empty()) {
    interfaces.push_back({.url = {}, .protocol_binding = "JSONRPC", .protocol_version = "1.0"});
    interfaces.push_back({.url = {}, .protocol_binding = "JSONRPC", .protocol_version = "0.3"});
  }
  for (auto& i : interfaces) {
    if (i.url.empty()) i.url = std::string(endpoint_url);
  }
  json::object o;
  o["name"] = card.name;
  o["description"] = card.description;
  o["version"] = card.version;
  json::array ifs;
  for (const auto& i : interfaces) {
    json::object io{{"url", i.url}, {"protocolBinding", i.protocol_binding}, {"protocolVersion", i.protocol_version}};
    PutIfNotEmpty(io, "tenant", i.tenant);
    ifs.push_back(std::move(io));
  }
  o["supportedInterfaces"] = std::move(ifs);
  if (card.provider) o["provider"] = json::object{{"organization", card.provider->organization}, {"url", card.provider->url}};
  o["capabilities"] = json::object{{"streaming", card.capabilities.streaming},
                                   {"pushNotifications", card.capabilities.push_notifications},
                                   {"extendedAgentCard", card.capabilities.extended_agent_card}};
  o["defaultInputModes"] = Strings(card.default_input_modes);
  o["defaultOutputModes"] = Strings(card.default_output_modes);
  json::array skills;
  for (const auto& s : card.skills) {
    json::object so{{"id", s.id}, {"name", s.name}, {"description", s.description}, {"tags", Strings(s.tags)}};
    PutStrings(so, "examples", s.examples);
    PutStrings(so, "inputModes", s.input_modes);
    PutStrings(so, "outputModes", s.output_modes);
    skills.push_back(std::move(so));
  }
  o["skills"] = std::move(skills);
  PutIfNotEmpty(o, "iconUrl", card.icon_url);
  PutIfNotEmpty(o, "documentationUrl", card.documentation_url);

  // The 0.3 view: the first interface of a 0.3 version (else the first) is the main url.
  const AgentInterface* main = &interfaces.front();
  for (const auto& i : interfaces) {
    if (ParseVersion(i.protocol_version) == Version::kV0_3) {
      main = &i;
      break;
    }
  }
  o["protocolVersion"] = "0.3.0";
  o["url"] = main->url;
  o["preferredTransport"] = main->protocol_binding;
  json::array additional;
  for (const auto& i : interfaces) {
    if (&i == main || ParseVersion(i.protocol_version) != Version::kV0_3) continue;
    additional.push_back(json::object{{"url", i.url}, {"transport", i.protocol_binding}});
  }
  if (!additional.empty()) o["additionalInterfaces"] = std::move(additional);
  o["supportsAuthenticatedExtendedCard"] = card.capabilities.extended_agent_card;
  return o;
}

// ---- decoding ------------------------------------------------------------------------------

namespace {

Result<std::vector<Part>> PartsFromJson(const json::object& o, Version version, std::string_view path, bool required) {
  std::string p = Join(path, "parts");
  const json::value* v = o.if_contains("parts");
  if (!v || v->is_null()) {
    if (required) return InvalidArgument("required", p);
    return std::vector<Part>{};
  }
  if (!v->is_array()) return InvalidArgument("must be an array", p);
  std::vector<Part> parts;
  const json::array& a = v->as_array();
  for (std::size_t i = 0; i < a.size(); ++i) {
    TUNA_ASSIGN_OR_RETURN(Part part, PartFromJson(a[i], version, Index(p, i)));
    parts.push_back(std::move(part));
  }
  return parts;
}

}  // namespace

Result<Part> PartFromJson(const json::value& value, Version version, std::string_view path) {
  if (!value.is_object()) return InvalidArgument("must be an object", std::string(path));
  const json::object& o = value.as_object();
  Field f(o, path);
  Part part;
  TUNA_RETURN_IF_ERROR(f.OptObject("metadata", part.metadata));
  // A 1.0 part has no `kind`; a 0.3 part has one. Accept the other shape too when it is
  // unambiguous, since clients of both versions share one endpoint.
  const json::value* kind = o.if_contains("kind");
  if (kind && !kind->is_null()) {
    if (!kind->is_string()) return InvalidArgument("must be a string", Join(path, "kind"));
    std::string_view k = kind->as_string();
    if (k == "text") {
      TUNA_RETURN_IF_ERROR(f.ReqString("text", part.text));
      part.kind = Part::Kind::kText;
      return part;
    }
    if (k == "data") {
      const json::value* d = o.if_contains("data");
      if (!d) return InvalidArgument("required", Join(path, "data"));
      if (!d->is_object()) return InvalidArgument("must be an object", Join(path, "data"));
      part.kind = Part::Kind::kData;
      part.data = *d;
      return part;
    }
    if (k == "file") {
      std::string fp = Join(path, "file");
      const json::value* fv = o.if_contains("file");
      if (!fv) return InvalidArgument("required", fp);
      if (!fv->is_object()) return InvalidArgument("must be an object", fp);
      Field ff(fv->as_object(), fp);
      TUNA_RETURN_IF_ERROR(ff.OptString("mimeType", part.media_type));
      TUNA_RETURN_IF_ERROR(ff.OptString("name", part.filename));
      std::string bytes, uri;
      TUNA_RETURN_IF_ERROR(ff.OptString("bytes", bytes));
      TUNA_RETURN_IF_ERROR(ff.OptString("uri", uri));
      bool has_bytes = fv->as_object().contains("bytes");
      bool has_uri = fv->as_object().contains("uri");
      if (has_bytes == has_uri) return InvalidArgument("needs exactly one of bytes and uri", fp);
      if (has_bytes) {
        auto decoded = Base64Decode(bytes);
        if (!decoded) return InvalidArgument("not valid base64", Join(fp, "bytes"));
        part.kind = Part::Kind::kRaw;
        part.text = std::move(*decoded);
      } else {
        part.kind = Part::Kind::kUrl;
        part.text = std::move(uri);
      }
      return part;
    }
    return InvalidArgument("unknown part kind \"" + std::string(k) + "\"", Join(path, "kind"));
  }
  (void)version;
  TUNA_RETURN_IF_ERROR(f.OptString("mediaType", part.media_type));
  TUNA_RETURN_IF_ERROR(f.OptString("filename", part.filename));
  int members = 0;
  for (std::string_view key : {"text", "raw", "url", "data"}) {
    const json::value* v = o.if_contains(key);
    if (v && !v->is_null()) ++members;
  }
  if (members != 1) return InvalidArgument("needs exactly one of text, raw, url and data", std::string(path));
  if (o.contains("text") && !o.at("text").is_null()) {
    part.kind = Part::Kind::kText;
    TUNA_RETURN_IF_ERROR(f.ReqString("text", part.text));
  } else if (o.contains("raw") && !o.at("raw").is_null()) {
    std::string b64;
    TUNA_RETURN_IF_ERROR(f.ReqString("raw", b64));
    auto decoded = Base64Decode(b64);
    if (!decoded) return InvalidArgument("not valid base64", Join(path, "raw"));
    part.kind = Part::Kind::kRaw;
    part.text = std::move(*decoded);
  } else if (o.contains("url") && !o.at("url").is_null()) {
    part.kind = Part::Kind::kUrl;
    TUNA_RETURN_IF_ERROR(f.ReqString("url", part.text));
  } else {
    part.kind = Part::Kind::kData;
    part.data = o.at("data");
  }
  return part;
}

Result<Message> MessageFromJson(const json::value& value, Version version, std::string_view path) {
  if (!value.is_object()) return InvalidArgument("must be an object", std::string(path));
  const json::object& o = value.as_object();
  Field f(o, path);
  Message m;
  TUNA_RETURN_IF_ERROR(f.ReqString("messageId", m.message_id));
  if (m.message_id.empty()) return InvalidArgument("must not be empty", Join(path, "messageId"));
  std::string role;
  TUNA_RETURN_IF_ERROR(f.ReqString("role", role));
  if (role == "ROLE_USER" || role == "user") {
    m.role = Role::kUser;
  } else if (role == "ROLE_AGENT" || role == "agent") {
    m.role = Role::kAgent;
  } else {
    return InvalidArgument("unknown role \"" + role + "\"", Join(path, "role"));
  }
  if (const json::value* kind = o.if_contains("kind"); kind && !(kind->is_string() && kind->as_string() == "message")) {
    return InvalidArgument("must be \"message\"", Join(path, "kind"));
  }
  TUNA_ASSIGN_OR_RETURN(m.parts, PartsFromJson(o, version, path, true));
  TUNA_RETURN_IF_ERROR(f.OptString("contextId", m.context_id));
  TUNA_RETURN_IF_ERROR(f.OptString("taskId", m.task_id));
  TUNA_RETURN_IF_ERROR(f.OptStrings("referenceTaskIds", m.reference_task_ids));
  TUNA_RETURN_IF_ERROR(f.OptStrings("extensions", m.extensions));
  TUNA_RETURN_IF_ERROR(f.OptObject("metadata", m.metadata));
  return m;
}

Result<TaskStatus> TaskStatusFromJson(const json::value& value, Version version, std::string_view path) {
  if (!value.is_object()) return InvalidArgument("must be an object", std::string(path));
  const json::object& o = value.as_object();
  Field f(o, path);
  TaskStatus s;
  std::string state;
  TUNA_RETURN_IF_ERROR(f.ReqString("state", state));
  auto parsed = ParseTaskState(state);
  if (!parsed) return InvalidArgument("unknown task state \"" + state + "\"", Join(path, "state"));
  s.state = *parsed;
  if (const json::value* m = o.if_contains("message"); m && !m->is_null()) {
    TUNA_ASSIGN_OR_RETURN(Message msg, MessageFromJson(*m, version, Join(path, "message")));
    s.message = std::move(msg);
  }
  TUNA_RETURN_IF_ERROR(f.OptString("timestamp", s.timestamp));
  return s;
}

Result<Artifact> ArtifactFromJson(const json::value& value, Version version, std::string_view path) {
  if (!value.is_object()) return InvalidArgument("must be an object", std::string(path));
  const json::object& o = value.as_object();
  Field f(o, path);
  Artifact a;
  TUNA_RETURN_IF_ERROR(f.ReqString("artifactId", a.artifact_id));
  TUNA_RETURN_IF_ERROR(f.OptString("name", a.name));
  TUNA_RETURN_IF_ERROR(f.OptString("description", a.description));
  TUNA_ASSIGN_OR_RETURN(a.parts, PartsFromJson(o, version, path, false));
  TUNA_RETURN_IF_ERROR(f.OptStrings("extensions", a.extensions));
  TUNA_RETURN_IF_ERROR(f.OptObject("metadata", a.metadata));
  return a;
}

Result<Task> TaskFromJson(const json::value& value, Version version, std::string_view path) {
  if (!value.is_object()) return InvalidArgument("must be an object", std::string(path));
  const json::object& o = value.as_object();
  Field f(o, path);
  Task t;
  TUNA_RETURN_IF_ERROR(f.ReqString("id", t.id));
  TUNA_RETURN_IF_ERROR(f.OptString("contextId", t.context_id));
  const json::value* status = o.if_contains("status");
  if (!status) return InvalidArgument("required", Join(path, "status"));
  TUNA_ASSIGN_OR_RETURN(t.status, TaskStatusFromJson(*status, version, Join(path, "status")));
  if (const json::value* arts = o.if_contains("artifacts"); arts && !arts->is_null()) {
    std::string p = Join(path, "artifacts");
    if (!arts->is_array()) return InvalidArgument("must be an array", p);
    for (std::size_t i = 0; i < arts->as_array().size(); ++i) {
      TUNA_ASSIGN_OR_RETURN(Artifact a, ArtifactFromJson(arts->as_array()[i], version, Index(p, i)));
      t.artifacts.push_back(std::move(a));
    }
  }
  if (const json::value* hist = o.if_contains("history"); hist && !hist->is_null()) {
    std::string p = Join(path, "history");
    if (!hist->is_array()) return InvalidArgument("must be an array", p);
    for (std::size_t i = 0; i < hist->as_array().size(); ++i) {
      TUNA_ASSIGN_OR_RETURN(Message m, MessageFromJson(hist->as_array()[i], version, Index(p, i)));
      t.history.push_back(std::move(m));
    }
  }
  TUNA_RETURN_IF_ERROR(f.OptObject("metadata", t.metadata));
  return t;
}

Result<TaskStatusUpdateEvent> StatusUpdateFromJson(const json::value& value, Version version, std::string_view path) {
  if (!value.is_object()) return InvalidArgument("must be an object", std::string(path));
  const json::object& o = value.as_object();
  Field f(o, path);
  TaskStatusUpdateEvent e;
  TUNA_RETURN_IF_ERROR(f.ReqString("taskId", e.task_id));
  TUNA_RETURN_IF_ERROR(f.OptString("contextId", e.context_id));
  const json::value* status = o.if_contains("status");
  if (!status) return InvalidArgument("required", Join(path, "status"));
  TUNA_ASSIGN_OR_RETURN(e.status, TaskStatusFromJson(*status, version, Join(path, "status")));
  TUNA_RETURN_IF_ERROR(f.OptBool("final", e.final));
  TUNA_RETURN_IF_ERROR(f.OptObject("metadata", e.metadata));
  return e;
}

Result<TaskArtifactUpdateEvent> ArtifactUpdateFromJson(const json::value& value, Version version, std::string_view path) {
  if (!value.is_object()) return InvalidArgument("must be an object", std::string(path));
  const json::object& o = value.as_object();
  Field f(o, path);
  TaskArtifactUpdateEvent e;
  TUNA_RETURN_IF_ERROR(f.ReqString("taskId", e.task_id));
  TUNA_RETURN_IF_ERROR(f.OptString("contextId", e.context_id));
  const json::value* art = o.if_contains("artifact");
  if (!art) return InvalidArgument("required", Join(path, "artifact"));
  TUNA_ASSIGN_OR_RETURN(e.artifact, ArtifactFromJson(*art, version, Join(path, "artifact")));
  TUNA_RETURN_IF_ERROR(f.OptBool("append", e.append));
  TUNA_RETURN_IF_ERROR(f.OptBool("lastChunk", e.last_chunk));
  TUNA_RETURN_IF_ERROR(f.OptObject("metadata", e.metadata));
  return e;
}

namespace {
template <typename T>
Result<StreamEvent> AsEvent(Result<T> r) {
  if (!r.ok()) return r.status();
  return StreamEvent(std::move(r).value());
}
}  // namespace

Result<StreamEvent> StreamEventFromJson(const json::value& value, Version version, std::string_view path) {
  if (!value.is_object()) return InvalidArgument("must be an object", std::string(path));
  const json::object& o = value.as_object();
  if (version == Version::kV1_0) {
    if (const auto* v = o.if_contains("task")) return AsEvent(TaskFromJson(*v, version, Join(path, "task")));
    if (const auto* v = o.if_contains("message")) {
      return AsEvent(MessageFromJson(*v, version, Join(path, "message")));
    }
    if (const auto* v = o.if_contains("statusUpdate")) {
      return AsEvent(StatusUpdateFromJson(*v, version, Join(path, "statusUpdate")));
    }
    if (const auto* v = o.if_contains("artifactUpdate")) {
      return AsEvent(ArtifactUpdateFromJson(*v, version, Join(path, "artifactUpdate")));
    }
    return InvalidArgument("needs one of task, message, statusUpdate and artifactUpdate", std::string(path));
  }
  const json::value* kind = o.if_contains("kind");
  if (!kind || !kind->is_string()) return InvalidArgument("required", Join(path, "kind"));
  std::string_view k = kind->as_string();
  if (k == "task") return AsEvent(TaskFromJson(value, version, path));
  if (k == "message") return AsEvent(MessageFromJson(value, version, path));
  if (k == "status-update") return AsEvent(StatusUpdateFromJson(value, version, path));
  if (k == "artifact-update") return AsEvent(ArtifactUpdateFromJson(value, version, path));
  return InvalidArgument("unknown kind \"" + std::string(k) + "\"", Join(path, "kind"));
}

Result<AgentCard> CardFromJson(const json::value& value, std::string_view path) {
  if (!value.is_object()) return InvalidArgument("must be an object", std::string(path));
  const json::object& o = value.as_object();
  Field f(o, path);
  AgentCard c;
  c.default_input_modes.clear();
  c.default_output_modes.clear();
  TUNA_RETURN_IF_ERROR(f.ReqString("name", c.name));
  TUNA_RETURN_IF_ERROR(f.OptString("description", c.description));
  TUNA_RETURN_IF_ERROR(f.OptString("version", c.version));
  TUNA_RETURN_IF_ERROR(f.OptString("iconUrl", c.icon_url));
  TUNA_RETURN_IF_ERROR(f.OptString("documentationUrl", c.documentation_url));
  TUNA_RETURN_IF_ERROR(f.OptStrings("defaultInputModes", c.default_input_modes));
  TUNA_RETURN_IF_ERROR(f.OptStrings("defaultOutputModes", c.default_output_modes));
  if (const json::value* ifs = o.if_contains("supportedInterfaces"); ifs && !ifs->is_null()) {
    std::string p = Join(path, "supportedInterfaces");
    if (!ifs->is_array()) return InvalidArgument("must be an array", p);
    for (std::size_t i = 0; i < ifs->as_array().size(); ++i) {
      const json::value& iv = ifs->as_array()[i];
      if (!iv.is_object()) return InvalidArgument("must be an object", Index(p, i));
      Field fi(iv.as_object(), Index(p, i));
      AgentInterface ai;
      TUNA_RETURN_IF_ERROR(fi.ReqString("url", ai.url));
      TUNA_RETURN_IF_ERROR(fi.ReqString("protocolBinding", ai.protocol_binding));
      ai.protocol_version.clear();
      TUNA_RETURN_IF_ERROR(fi.OptString("protocolVersion", ai.protocol_version));
      TUNA_RETURN_IF_ERROR(fi.OptString("tenant", ai.tenant));
      c.supported_interfaces.push_back(std::move(ai));
    }
  }
  if (c.supported_interfaces.empty()) {
    // A 0.3 card: url + preferredTransport (+ additionalInterfaces), all at protocolVersion.
    std::string url, transport = "JSONRPC", version = "0.3.0";
    TUNA_RETURN_IF_ERROR(f.ReqString("url", url));
    TUNA_RETURN_IF_ERROR(f.OptString("preferredTransport", transport));
    TUNA_RETURN_IF_ERROR(f.OptString("protocolVersion", version));
    c.supported_interfaces.push_back({.url = url, .protocol_binding = transport, .protocol_version = version});
    if (const json::value* add = o.if_contains("additionalInterfaces"); add && add->is_array()) {
      for (const json::value& iv : add->as_array()) {
        if (!iv.is_object()) continue;
        const auto* u = iv.as_object().if_contains("url");
        const auto* t = iv.as_object().if_contains("transport");
        if (!u || !u->is_string() || !t || !t->is_string()) continue;
        if (u->as_string() == url && t->as_string() == transport) continue;
        c.supported_interfaces.push_back(
            {.url = std::string(u->as_string()), .protocol_binding = std::string(t->as_string()), .protocol_version = version});
      }
    }
  }
  if (const json::value* prov = o.if_contains("provider"); prov && prov->is_object()) {
    Field fp(prov->as_object(), Join(path, "provider"));
    AgentProvider p;
    TUNA_RETURN_IF_ERROR(fp.OptString("organization", p.organization));
    TUNA_RETURN_IF_ERROR(fp.OptString("url", p.url));
    c.provider = p;
  }
  if (const json::value* caps = o.if_contains("capabilities"); caps && caps->is_object()) {
    Field fc(caps->as_object(), Join(path, "capabilities"));
    c.capabilities.streaming = false;
    TUNA_RETURN_IF_ERROR(fc.OptBool("streaming", c.capabilities.streaming));
    TUNA_RETURN_IF_ERROR(fc.OptBool("pushNotifications", c.capabilities.push_notifications));
    TUNA_RETURN_IF_ERROR(fc.OptBool("extendedAgentCard", c.capabilities.extended_agent_card));
  }
  if (const json::value* skills = o.if_contains("skills"); skills && !skills->is_null()) {
    std::string p = Join(path, "skills");
    if (!skills->is_array()) return InvalidArgument("must be an array", p);
    for (std::size_t i = 0; i < skills->as_array().size(); ++i) {
      const json::value& sv = skills->as_array()[i];
      if (!sv.is_object()) return InvalidArgument("must be an object", Index(p, i));
      Field fs(sv.as_object(), Index(p, i));
      AgentSkill s;
      TUNA_RETURN_IF_ERROR(fs.ReqString("id", s.id));
      TUNA_RETURN_IF_ERROR(fs.OptString("name", s.name));
      TUNA_RETURN_IF_ERROR(fs.OptString("description", s.description));
      TUNA_RETURN_IF_ERROR(fs.OptStrings("tags", s.tags));
      TUNA_RETURN_IF_ERROR(fs.OptStrings("examples", s.examples));
      TUNA_RETURN_IF_ERROR(fs.OptStrings("inputModes", s.input_modes));
      TUNA_RETURN_IF_ERROR(fs.OptStrings("outputModes", s.output_modes));
      c.skills.push_back(std::move(s));
    }
  }
  return c;
}

std::string NowTimestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - secs).count();
  std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];  // roomy: GCC cannot bound the %d fields
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string NewUuid() {
  std::string h = core::NewRequestId();  // 32 random hex digits
  h[12] = '4';                                                // version 4
  h[16] = "89ab"[std::stoi(std::string(1, h[16]), nullptr, 16) & 3];  // RFC 4122 variant
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

}  // namespace tuna::a2a
