#pragma once
/// Agent memory: what an agent remembers between requests, per AgentMemory (a namespace and a
/// memory name) and per context id (an A2A contextId, a user, a thread):
///   - conversation memory: entries appended in order, listed oldest first, cleared per context;
///   - key-value memory: small named values.
/// Built on a session::SessionStore (memory or SQLite backend). Every key it writes starts with
/// "mem/<namespace>/<memory>/<context>/", so tenants, memories and contexts never collide, and
/// the names are validated before they become part of a key.
///
/// The AgentMemory spec is honoured: `ttlSeconds` hides a conversation entry (or a key-value
/// key) that long after it was written, and the backend purges a context once everything in it
/// expired; `maxEntries` keeps only the newest conversation entries. Conversation operations on
/// a `kv` memory (and key-value operations on a `conversation` memory) are FailedPrecondition.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "tuna/resources/kinds.hpp"
#include "tuna/session.hpp"
#include "tuna/status.hpp"

namespace tuna::memory {

/// Which memory: the AgentMemory's namespace (the tenant), name and spec.
struct MemoryRef {
  std::string namespace_;
  std::string name;
  AgentMemorySpec spec;
  /// The ref of a stored AgentMemory object.
  static MemoryRef From(const AgentMemory& memory);
};

/// One conversation entry as stored and returned: a JSON object with
///   "role"      (required, non-empty string, e.g. "user", "agent", "tool"),
///   "content"   (string) and/or "parts" (array): at least one of them,
///   "metadata"  (optional object),
///   "timestamp" (RFC 3339 UTC; set by the store on Append when absent).
/// No other fields.
struct ConversationEntry {
  std::int64_t seq = 0;  // 1, 2, ... per context; never reused, also after evictions
  boost::json::object entry;
};

/// A page of conversation entries, oldest first; `next_after` is the seq to pass as `after_seq`
/// for the next page, 0 at the end.
struct ConversationPage {
  std::vector<ConversationEntry> entries;
  std::int64_t next_after = 0;
};

/// A key-value memory value.
struct KvValue {
  std::string value;    // opaque bytes (JSON by convention)
  std::int64_t version = 0;
  std::optional<session::Clock::time_point> expires_at;
};

/// A page of key names in byte order; `next_after` is the last key when more remain, else empty.
struct KeyPage {
  std::vector<std::string> keys;
  std::string next_after;
};

struct AgentMemoryStoreOptions {
  /// Largest key-value value (bytes).
  std::size_t max_value_bytes = 64 * 1024;
  /// Largest conversation entry, serialized (bytes).
  std::size_t max_entry_bytes = 256 * 1024;
  /// Largest page a List call returns (larger limits are clamped).
  std::size_t max_page = 1000;
  /// Timestamps and entry expiry; should be the clock the session store uses. Null: system clock.
  std::function<session::Clock::time_point()> clock;
};

/// Limits on the names that become part of a key.
inline constexpr std::size_t kMaxNamespaceBytes = 63;   // a DNS label, like Kubernetes namespaces
inline constexpr std::size_t kMaxMemoryNameBytes = 253; // a DNS subdomain, like object names
inline constexpr std::size_t kMaxContextIdBytes = 128;
inline constexpr std::size_t kMaxKeyBytes = 256;

/// Thread-safe (as the session store is). Holds a reference: the store must outlive it.
class AgentMemoryStore {
 public:
  explicit AgentMemoryStore(session::SessionStore& store, AgentMemoryStoreOptions options = {});

  // ---- conversation memory (spec.type conversation) ----

  /// Appends `entry` to the context's conversation; evicts beyond spec.maxEntries. Returns the
  /// stored entry (with its seq and timestamp).
  Result<ConversationEntry> Append(const MemoryRef& memory, std::string_view context_id, boost::json::object entry);
  /// Entries with seq > `after_seq`, oldest first, at most `limit` (clamped to max_page).
  Result<ConversationPage> List(const MemoryRef& memory, std::string_view context_id, std::int64_t after_seq = 0,
                                std::size_t limit = 100);
  /// The newest `count` entries, oldest first (what goes into a model's context window).
  Result<std::vector<ConversationEntry>> Recent(const MemoryRef& memory, std::string_view context_id,
                                                std::size_t count);

  // ---- key-value memory (spec.type kv) ----

  /// Creates or replaces `key` (expiring after spec.ttlSeconds). InvalidArgument naming the key
  /// when the value is larger than max_value_bytes. Returns the version.
  Result<std::int64_t> Put(const MemoryRef& memory, std::string_view context_id, std::string_view key,
                           std::string_view value);
  /// NotFound when absent or expired.
  Result<KvValue> Get(const MemoryRef& memory, std::string_view context_id, std::string_view key);
  /// Deleting a missing key is OK.
  Status Delete(const MemoryRef& memory, std::string_view context_id, std::string_view key);
  /// Keys of the context in byte order, after `after`, at most `limit` (clamped to max_page).
  Result<KeyPage> ListKeys(const MemoryRef& memory, std::string_view context_id, std::string_view after = {},
                           std::size_t limit = 100);

  // ---- both ----

  /// Forgets one context (its conversation or its keys); returns how many keys went.
  Result<std::size_t> Clear(const MemoryRef& memory, std::string_view context_id);
  /// Forgets every context of the memory (when the AgentMemory is deleted).
  Result<std::size_t> ClearAll(const MemoryRef& memory);

  /// "mem/<ns>/<memory>/<context>/": the prefix of every key of one context (validated).
  static Result<std::string> ContextPrefix(const MemoryRef& memory, std::string_view context_id);

 private:
  session::SessionStore& store_;
  AgentMemoryStoreOptions options_;
};

/// Name checks with messages that name the offending value (InvalidArgument).
/// Namespace: a DNS label (lower-case letters, digits, '-', 1..63, alphanumeric at both ends).
Status ValidateNamespace(std::string_view ns);
/// Memory name: a DNS subdomain (lower-case letters, digits, '-', '.', 1..253).
Status ValidateMemoryName(std::string_view name);
/// Context id: 1..128 of letters, digits and "-_.:@", not "." or "..".
Status ValidateContextId(std::string_view context_id);
/// Key-value key: 1..256 bytes, no '/', no control characters, not "." or "..".
Status ValidateKey(std::string_view key);

}  // namespace tuna::memory
