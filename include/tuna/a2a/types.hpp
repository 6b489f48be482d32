#pragma once
/// The A2A (Agent2Agent) data model and its JSON encodings for both wire versions tuna speaks:
/// 1.0 (ProtoJSON: TASK_STATE_* / ROLE_* enums, parts {text}|{raw}|{url}|{data}, stream results
/// {task}|{message}|{statusUpdate}|{artifactUpdate}) and 0.3 (objects tagged with `kind`,
/// lower-case states, parts {kind: text|file|data}). See docs/a2a.md.
///
/// Decoding is strict about types and required fields and names the failing field path in the
/// Status ("params.message.parts[0]: ..."); unknown fields are ignored (forward compatibility).
/// Never throws.

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "tuna/status.hpp"

namespace tuna::a2a {

namespace json = boost::json;

/// The two wire versions. Values are ordered: newer compares greater.
enum class Version { kV0_3 = 3, kV1_0 = 10 };

/// "1.0" / "0.3".
std::string_view VersionName(Version version);
/// Parses an A2A-Version header or a card's protocolVersion: "1.0", "1", "1.0.x" -> 1.0;
/// "0.3", "0.3.x" -> 0.3; anything else: nullopt.
std::optional<Version> ParseVersion(std::string_view text);

/// One piece of content. Exactly one of text / raw bytes / url / data.
struct Part {
  enum class Kind { kText, kRaw, kUrl, kData };
  Kind kind = Kind::kText;
  std::string text;        // kText: the text; kRaw: the bytes (decoded, not base64); kUrl: the URL
  json::value data;        // kData: any JSON value (0.3 requires an object)
  std::string media_type;  // optional ("text/plain", "image/png"); 0.3 file.mimeType
  std::string filename;    // optional; 0.3 file.name
  json::object metadata;

  /// A text part.
  static Part Text(std::string text);
  /// Raw bytes (base64 on the wire).
  static Part Raw(std::string bytes, std::string media_type = {}, std::string filename = {});
  /// A file by URL.
  static Part Url(std::string url, std::string media_type = {}, std::string filename = {});
  /// Structured data.
  static Part Data(json::value data);
};

enum class Role { kUnspecified, kUser, kAgent };

struct Message {
  std::string message_id;
  Role role = Role::kUnspecified;
  std::vector<Part> parts;
  std::string context_id;  // optional
  std::string task_id;     // optional
  std::vector<std::string> reference_task_ids;
  std::vector<std::string> extensions;
  json::object metadata;

  /// A message with one text part and a fresh message id.
  static Message Text(Role role, std::string text);
  /// The concatenated text of the text parts.
  std::string AllText() const;
};

enum class TaskState {
  kUnspecified,
  kSubmitted,
  kWorking,
  kInputRequired,
  kAuthRequired,
  kCompleted,
  kFailed,
  kCanceled,
  kRejected,
};

/// completed, failed, canceled, rejected: the task never changes again.
bool IsTerminal(TaskState state);
/// input-required, auth-required: the task waits for the client.
bool IsInterrupted(TaskState state);
/// 1.0 enum name ("TASK_STATE_INPUT_REQUIRED") or 0.3 name ("input-required").
std::string_view TaskStateName(TaskState state, Version version);
/// Accepts the 1.0 and the 0.3 spellings; nullopt for anything else.
std::optional<TaskState> ParseTaskState(std::string_view text);

struct TaskStatus {
  TaskState state = TaskState::kUnspecified;
  std::optional<Message> message;
  std::string timestamp;  // RFC 3339 (UTC, "2026-01-02T03:04:05.678Z"); empty: absent
};

struct Artifact {
  std::string artifact_id;
  std::string name;
  std::string description;
  std::vector<Part> parts;
  std::vector<std::string> extensions;
  json::object metadata;
};

struct Task {
  std::string id;
  std::string context_id;
  TaskStatus status;
  std::vector<Artifact> artifacts;
  std::vector<Message> history;
  json::object metadata;
};

struct TaskStatusUpdateEvent {
  std::string task_id;
  std::string context_id;
  TaskStatus status;
  /// 0.3 only ("final"): the last event of the stream. 1.0 drops the field (the stream ends
  /// after a terminal or interrupted state).
  bool final = false;
  json::object metadata;
};

struct TaskArtifactUpdateEvent {
  std::string task_id;
  std::string context_id;
  Artifact artifact;
  bool append = false;      // add these parts to the artifact with the same id
  bool last_chunk = false;  // the artifact is complete
  json::object metadata;
};

/// One result of a streaming call (and of SendMessage: a Task or a Message).
using StreamEvent = std::variant<Task, Message, TaskStatusUpdateEvent, TaskArtifactUpdateEvent>;

struct AgentInterface {
  std::string url;
  std::string protocol_binding = "JSONRPC";  // JSONRPC | HTTP+JSON | GRPC
  std::string protocol_version = "1.0";
  std::string tenant;
};

struct AgentProvider {
  std::string organization;
  std::string url;
};

struct AgentCapabilities {
  bool streaming = true;
  bool push_notifications = false;
  bool extended_agent_card = false;
};

struct AgentSkill {
  std::string id;
  std::string name;
  std::string description;
  std::vector<std::string> tags;
  std::vector<std::string> examples;
  std::vector<std::string> input_modes;
  std::vector<std::string> output_modes;
};

struct AgentCard {
  std::string name;
  std::string description;
  std::string version;
  /// 1.0 interfaces. When the card is encoded, each interface whose url is empty gets the
  /// serving endpoint's url (see CardToJson).
  std::vector<AgentInterface> supported_interfaces;
  std::optional<AgentProvider> provider;
  AgentCapabilities capabilities;
  std::vector<std::string> default_input_modes{"text/plain"};
  std::vector<std::string> default_output_modes{"text/plain"};
  std::vector<AgentSkill> skills;
  std::string icon_url;
  std::string documentation_url;
};

// ---- JSON encoding -------------------------------------------------------------------------

json::value ToJson(const Part& part, Version version);
json::value ToJson(const Message& message, Version version);
json::value ToJson(const TaskStatus& status, Version version);
json::value ToJson(const Artifact& artifact, Version version);
/// The task; `history_length`: at most that many newest history messages (nullopt: all, 0: none).
json::value ToJson(const Task& task, Version version, std::optional<std::size_t> history_length = std::nullopt);
json::value ToJson(const TaskStatusUpdateEvent& event, Version version);
json::value ToJson(const TaskArtifactUpdateEvent& event, Version version);
/// A stream result: 1.0 wraps it ({"task": ...}, {"message": ...}, {"statusUpdate": ...},
/// {"artifactUpdate": ...}); 0.3 sends the `kind`-tagged object itself.
json::value StreamEventToJson(const StreamEvent& event, Version version);

/// The card as served at /.well-known/agent-card.json: the 1.0 fields plus the 0.3 ones (url,
/// preferredTransport, protocolVersion "0.3.0", additionalInterfaces) so clients of either
/// version read it. `endpoint_url` fills interfaces without a url and the 0.3 `url`; when the
/// card lists no interface, one JSONRPC 1.0 and one JSONRPC 0.3 interface at `endpoint_url` are
/// advertised.
json::value CardToJson(const AgentCard& card, std::string_view endpoint_url);

// ---- JSON decoding (strict; `path` prefixes error field paths) -------------------------------

Result<Part> PartFromJson(const json::value& value, Version version, std::string_view path = "part");
Result<Message> MessageFromJson(const json::value& value, Version version, std::string_view path = "message");
Result<TaskStatus> TaskStatusFromJson(const json::value& value, Version version, std::string_view path = "status");
Result<Artifact> ArtifactFromJson(const json::value& value, Version version, std::string_view path = "artifact");
Result<Task> TaskFromJson(const json::value& value, Version version, std::string_view path = "task");
Result<TaskStatusUpdateEvent> StatusUpdateFromJson(const json::value& value, Version version,
                                                   std::string_view path = "statusUpdate");
Result<TaskArtifactUpdateEvent> ArtifactUpdateFromJson(const json::value& value, Version version,
                                                       std::string_view path = "artifactUpdate");
/// A stream result or a SendMessage result (either wire shape of `version`).
Result<StreamEvent> StreamEventFromJson(const json::value& value, Version version, std::string_view path = "result");
/// Reads a 1.0 card, a 0.3 card, or the combined card CardToJson writes. A 0.3-only card becomes
/// supported_interfaces from its url/preferredTransport/protocolVersion/additionalInterfaces.
Result<AgentCard> CardFromJson(const json::value& value, std::string_view path = "agentCard");

/// The current time as RFC 3339 UTC with milliseconds.
std::string NowTimestamp();
/// A random UUID (version 4), for task, context, message and artifact ids.
std::string NewUuid();

}  // namespace tuna::a2a
