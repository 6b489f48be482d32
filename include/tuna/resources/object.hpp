#pragma once
/// The unstructured form of every tuna object: typed Kubernetes-style metadata plus spec and status
/// as JSON. The store, the API server and watches work on this form; the typed kinds in
/// tuna/resources/kinds.hpp convert to and from it with strict decoding.

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tuna/status.hpp"

namespace tuna {

inline constexpr std::string_view kGroup = "tuna.ai";
inline constexpr std::string_view kVersion = "v1alpha1";
inline constexpr std::string_view kApiVersion = "tuna.ai/v1alpha1";

struct OwnerReference {
  std::string api_version{kApiVersion};
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
  bool block_owner_deletion = false;
  bool operator==(const OwnerReference&) const = default;
};

struct ObjectMeta {
  std::string name;
  std::string namespace_;  // the tenant; "namespace" on the wire
  std::string uid;
  std::string resource_version;  // decimal store revision, opaque to clients
  std::int64_t generation = 0;   // bumped on spec change only
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<OwnerReference> owner_references;
  std::string creation_timestamp;  // RFC 3339, UTC
  std::string deletion_timestamp;  // RFC 3339, UTC; empty while alive
  bool operator==(const ObjectMeta&) const = default;
};

/// One stored object of any kind.
struct Resource {
  std::string api_version{kApiVersion};
  std::string kind;
  ObjectMeta metadata;
  boost::json::value spec;    // null when absent
  boost::json::value status;  // null when absent
  bool operator==(const Resource&) const = default;
};

/// Static facts about a kind.
struct KindInfo {
  std::string_view kind;       // "AgentDeployment"
  std::string_view plural;     // "agentdeployments"
  std::string_view singular;   // "agentdeployment"
  std::vector<std::string_view> short_names;  // {"ad", "deploy"}
  bool namespaced = true;
  bool has_status = true;
};

/// The nine kinds, in a stable order.
const std::vector<KindInfo>& AllKinds();

/// Finds a kind by kind name, plural, singular or short name (case-insensitive).
const KindInfo* FindKind(std::string_view name);

/// Identifies one object.
struct ObjectKey {
  std::string kind;  // canonical kind name, e.g. "AgentDeployment"
  std::string namespace_;
  std::string name;
  bool operator==(const ObjectKey&) const = default;
  auto operator<=>(const ObjectKey&) const = default;
};

inline ObjectKey KeyOf(const Resource& r) { return {r.kind, r.metadata.namespace_, r.metadata.name}; }

/// "AgentDeployment default/echo"
std::string ToString(const ObjectKey& key);

/// Current time as RFC 3339 UTC with seconds ("2026-11-26T11:00:00Z").
std::string NowRfc3339();
/// A time point as RFC 3339 UTC with seconds.
std::string ToRfc3339(std::chrono::system_clock::time_point tp);
/// Parses "YYYY-MM-DDTHH:MM:SS[.frac]Z" (UTC, as ToRfc3339 writes); InvalidArgument otherwise.
Result<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text);

}  // namespace tuna
