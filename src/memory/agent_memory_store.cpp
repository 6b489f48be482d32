// AgentMemoryStore: conversation and key-value memory as prefixed keys in a SessionStore.
//
// Key layout (every name validated first, so none can contain '/'):
//   mem/<ns>/<memory>/<context>/conversation   a session list; one item per entry
//   mem/<ns>/<memory>/<context>/kv/<key>       a session value per key
// A conversation item is {"at": <append time, ms since the epoch>, "entry": {...}}: "at" gives
// each entry its own ttlSeconds even though the session list has a single expiry (which is
// pushed to the newest entry's expiry on every append, so the list goes when all entries did).

#include "tuna/memory.hpp"

#include <time.h>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace tuna::memory {
namespace {

constexpr std::string_view kConversationKey = "conversation";
constexpr std::string_view kKvInfix = "kv/";
constexpr std::size_t kMaxRoleBytes = 64;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

std::string Quote(std::string_view s) {
  // Names in messages are shown escaped and cut, so a bad value cannot garble a log line.
  std::string out = "\"";
  for (char c : s.substr(0, 80)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '"' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  if (s.size() > 80) out += "...";
  return out + "\"";
}

Status LengthError(std::string_view what, std::string_view value, std::size_t max) {
  if (value.empty()) return InvalidArgument(std::string(what) + " must not be empty");
  return InvalidArgument(std::string(what) + " " + Quote(value) + " is " + std::to_string(value.size()) +
                         " bytes; the limit is " + std::to_string(max));
}

std::string FormatRfc3339Millis(session::Clock::time_point t) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const time_t secs = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int millis = static_cast<int>(ms - static_cast<std::int64_t>(secs) * 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[96];  // room for any int the compiler can imagine
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::string MemoryName(const MemoryRef& m) { return "AgentMemory " + m.namespace_ + "/" + m.name; }

Status CheckType(const MemoryRef& m, MemoryType want) {
  if (m.spec.type == want) return {};
  return FailedPrecondition(MemoryName(m) + " is of type " + std::string(ToString(m.spec.type)) + "; " +
                            (want == MemoryType::kConversation ? "conversation" : "key-value") +
                            " operations need type " + std::string(ToString(want)));
}

Status CheckSpec(const MemoryRef& m) {
  if (m.spec.ttl_seconds && *m.spec.ttl_seconds < 0) {
    return InvalidArgument(MemoryName(m) + ": spec.ttlSeconds must not be negative", "spec.ttlSeconds");
  }
  if (m.spec.max_entries && *m.spec.max_entries < 0) {
    return InvalidArgument(MemoryName(m) + ": spec.maxEntries must not be negative", "spec.maxEntries");
  }
  return {};
}

std::chrono::milliseconds TtlOf(const MemoryRef& m) {
  if (!m.spec.ttl_seconds || *m.spec.ttl_seconds <= 0) return session::kNoTtl;
  // Clamp absurd values (years) rather than overflow the millisecond arithmetic.
  const std::int64_t secs = std::min<std::int64_t>(*m.spec.ttl_seconds, std::int64_t{100} * 365 * 24 * 3600);
  return std::chrono::seconds(secs);
}

Status ValidateEntry(const boost::json::object& entry) {
  auto field_error = [](std::string_view field, std::string msg) {
    return InvalidArgument("conversation entry: " + std::string(field) + ": " + msg, std::string(field));
  };
  for (const auto& [name, value] : entry) {
    if (name == "role") {
      if (!value.is_string() || value.get_string().empty()) return field_error("role", "expected a non-empty string");
      if (value.get_string().size() > kMaxRoleBytes) {
        return field_error("role", "longer than " + std::to_string(kMaxRoleBytes) + " bytes");
      }
    } else if (name == "content") {
      if (!value.is_string()) return field_error("content", "expected a string");
    } else if (name == "parts") {
      if (!value.is_array()) return field_error("parts", "expected an array");
    } else if (name == "metadata") {
      if (!value.is_object()) return field_error("metadata", "expected an object");
    } else if (name == "timestamp") {
      if (!value.is_string()) return field_error("timestamp", "expected an RFC 3339 string");
    } else {
      return InvalidArgument("conversation entry: unknown field " + Quote(name) +
                                 " (allowed: role, content, parts, metadata, timestamp)",
                             std::string(name));
    }
  }
  if (!entry.contains("role")) return field_error("role", "required field is missing");
  if (!entry.contains("content") && !entry.contains("parts")) {
    return InvalidArgument("conversation entry: needs content or parts", "content");
  }
  return {};
}

}  // namespace

MemoryRef MemoryRef::From(const AgentMemory& memory) {
  return MemoryRef{memory.metadata.namespace_, memory.metadata.name, memory.spec};
}

Status ValidateNamespace(std::string_view ns) {
  if (ns.empty() || ns.size() > kMaxNamespaceBytes) return LengthError("memory namespace", ns, kMaxNamespaceBytes);
  for (char c : ns) {
    if (!IsLowerAlnum(c) && c != '-') {
      return InvalidArgument("memory namespace " + Quote(ns) +
                             " must be a DNS label: lower-case letters, digits and '-'");
    }
  }
  if (ns.front() == '-' || ns.back() == '-') {
    return InvalidArgument("memory namespace " + Quote(ns) + " must start and end with a letter or digit");
  }
  return {};
}

Status ValidateMemoryName(std::string_view name) {
  if (name.empty() || name.size() > kMaxMemoryNameBytes) return LengthError("memory name", name, kMaxMemoryNameBytes);
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '-' && c != '.') {
      return InvalidArgument("memory name " + Quote(name) +
                             " must be a DNS subdomain: lower-case letters, digits, '-' and '.'");
    }
  }
  if (!IsLowerAlnum(name.front()) || !IsLowerAlnum(name.back())) {
    return InvalidArgument("memory name " + Quote(name) + " must start and end with a letter or digit");
  }
  return {};
}

Status ValidateContextId(std::string_view context_id) {
  if (context_id.empty() || context_id.size() > kMaxContextIdBytes) {
    return LengthError("memory context id", context_id, kMaxContextIdBytes);
  }
  for (char c : context_id) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.' && c != ':' && c != '@') {
      return InvalidArgument("memory context id " + Quote(context_id) +
                             " may only contain letters, digits and \"-_.:@\"");
    }
  }
  if (context_id == "." || context_id == "..") {
    return InvalidArgument("memory context id " + Quote(context_id) + " is not allowed");
  }
  return {};
}

Status ValidateKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) return LengthError("memory key", key, kMaxKeyBytes);
  for (char c : key) {
    auto u = static_cast<unsigned char>(c);
    if (c == '/') return InvalidArgument("memory key " + Quote(key) + " must not contain '/'");
    if (u < 0x20 || u == 0x7f) return InvalidArgument("memory key " + Quote(key) + " must not contain control characters");
  }
  if (key == "." || key == "..") return InvalidArgument("memory key " + Quote(key) + " is not allowed");
  return {};
}

AgentMemoryStore::AgentMemoryStore(session::SessionStore& store, AgentMemoryStoreOptions options)
    : store_(store), options_(std::move(options)) {
  if (!options_.clock) options_.clock = [] { return session::Clock::now(); };
  if (options_.max_page == 0) options_.max_page = 1;
}

Result<std::string> AgentMemoryStore::ContextPrefix(const MemoryRef& memory, std::string_view context_id) {
  TUNA_RETURN_IF_ERROR(ValidateNamespace(memory.namespace_));
  TUNA_RETURN_IF_ERROR(ValidateMemoryName(memory.name));
  TUNA_RETURN_IF_ERROR(ValidateContextId(context_id));
  std::string prefix;
  prefix.reserve(8 + memory.namespace_.size() + memory.name.size() + context_id.size());
  prefix.append("mem/").append(memory.namespace_).append("/").append(memory.name).append("/");
  prefix.append(context_id).append("/");
  return prefix;
}

// ---- conversation ------------------------------------------------------------------------------

namespace {

// Decodes a stored item; nullopt when its entry has expired.
Result<std::optional<ConversationEntry>> DecodeItem(std::string_view list_key, std::int64_t seq, std::string_view item,
                                                    std::int64_t now_ms, std::chrono::milliseconds ttl) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(item, ec);
  const boost::json::object* obj = !ec && v.is_object() ? &v.get_object() : nullptr;
  const boost::json::value* at = obj ? obj->if_contains("at") : nullptr;
  const boost::json::value* entry = obj ? obj->if_contains("entry") : nullptr;
  if (!at || !at->is_int64() || !entry || !entry->is_object()) {
    spdlog::error("agent memory: corrupt conversation entry {} #{}", list_key, seq);
    return Internal("agent memory: corrupt conversation entry " + std::string(list_key) + " #" + std::to_string(seq));
  }
  if (ttl.count() > 0 && at->get_int64() + ttl.count() <= now_ms) return std::optional<ConversationEntry>();
  return std::optional<ConversationEntry>(ConversationEntry{seq, entry->get_object()});
}

std::int64_t NowMs(const std::function<session::Clock::time_point()>& clock) {
  return std::chrono::floor<std::chrono::milliseconds>(clock().time_since_epoch()).count();
}

}  // namespace

Result<ConversationEntry> AgentMemoryStore::Append(const MemoryRef& memory, std::string_view context_id,
                                                   boost::json::object entry) {
  TUNA_ASSIGN_OR_RETURN(std::string prefix, ContextPrefix(memory, context_id));
  TUNA_RETURN_IF_ERROR(CheckSpec(memory));
  TUNA_RETURN_IF_ERROR(CheckType(memory, MemoryType::kConversation));
  TUNA_RETURN_IF_ERROR(ValidateEntry(entry));
  const auto now = options_.clock();
  if (!entry.contains("timestamp")) entry["timestamp"] = FormatRfc3339Millis(now);
  boost::json::object item;
  item["at"] = std::chrono::floor<std::chrono::milliseconds>(now.time_since_epoch()).count();
  item["entry"] = entry;
  const std::string text = boost::json::serialize(item);
  if (text.size() > options_.max_entry_bytes) {
    return InvalidArgument("conversation entry for context " + Quote(context_id) + " is " +
                           std::to_string(text.size()) + " bytes; the limit is " +
                           std::to_string(options_.max_entry_bytes));
  }
  const std::size_t max_items = memory.spec.max_entries ? static_cast<std::size_t>(*memory.spec.max_entries) : 0;
  TUNA_ASSIGN_OR_RETURN(std::int64_t seq,
                        store_.Append(prefix + std::string(kConversationKey), text, max_items, TtlOf(memory)));
  return ConversationEntry{seq, std::move(entry)};
}

Result<ConversationPage> AgentMemoryStore::List(const MemoryRef& memory, std::string_view context_id,
                                                std::int64_t after_seq, std::size_t limit) {
  TUNA_ASSIGN_OR_RETURN(std::string prefix, ContextPrefix(memory, context_id));
  TUNA_RETURN_IF_ERROR(CheckSpec(memory));
  TUNA_RETURN_IF_ERROR(CheckType(memory, MemoryType::kConversation));
  if (limit == 0) return InvalidArgument("memory list limit must be greater than 0");
  if (after_seq < 0) return InvalidArgument("memory list after_seq must not be negative");
  limit = std::min(limit, options_.max_page);
  const std::string key = prefix + std::string(kConversationKey);
  const auto ttl = TtlOf(memory);
  const std::int64_t now_ms = NowMs(options_.clock);
  ConversationPage page;
  std::int64_t cursor = after_seq;
  while (true) {
    // One more than needed tells whether another page follows; expired entries are skipped.
    const std::size_t want = limit + 1 - page.entries.size();
    TUNA_ASSIGN_OR_RETURN(auto items, store_.Range(key, cursor, want));
    for (auto& [seq, text] : items) {
      cursor = seq;
      TUNA_ASSIGN_OR_RETURN(auto decoded, DecodeItem(key, seq, text, now_ms, ttl));
      if (!decoded) continue;
      if (page.entries.size() == limit) {
        page.next_after = page.entries.back().seq;
        return page;
      }
      page.entries.push_back(std::move(*decoded));
    }
    if (items.size() < want) return page;
  }
}

Result<std::vector<ConversationEntry>> AgentMemoryStore::Recent(const MemoryRef& memory, std::string_view context_id,
                                                                std::size_t count) {
  TUNA_ASSIGN_OR_RETURN(std::string prefix, ContextPrefix(memory, context_id));
  TUNA_RETURN_IF_ERROR(CheckSpec(memory));
  TUNA_RETURN_IF_ERROR(CheckType(memory, MemoryType::kConversation));
  count = std::min(count, options_.max_page);
  std::vector<ConversationEntry> out;
  if (count == 0) return out;
  const std::string key = prefix + std::string(kConversationKey);
  const auto ttl = TtlOf(memory);
  const std::int64_t now_ms = NowMs(options_.clock);
  TUNA_ASSIGN_OR_RETURN(auto items, store_.Tail(key, count));
  for (auto& [seq, text] : items) {
    TUNA_ASSIGN_OR_RETURN(auto decoded, DecodeItem(key, seq, text, now_ms, ttl));
    if (decoded) out.push_back(std::move(*decoded));
  }
  return out;
}

// ---- key-value -----------------------------------------------------------------------------------

Result<std::int64_t> AgentMemoryStore::Put(const MemoryRef& memory, std::string_view context_id, std::string_view key,
                                           std::string_view value) {
  TUNA_ASSIGN_OR_RETURN(std::string prefix, ContextPrefix(memory, context_id));
  TUNA_RETURN_IF_ERROR(ValidateKey(key));
  TUNA_RETURN_IF_ERROR(CheckSpec(memory));
  TUNA_RETURN_IF_ERROR(CheckType(memory, MemoryType::kKv));
  if (value.size() > options_.max_value_bytes) {
    return InvalidArgument("memory value for key " + Quote(key) + " is " + std::to_string(value.size()) +
                           " bytes; the limit is " + std::to_string(options_.max_value_bytes));
  }
  return store_.Put(prefix.append(kKvInfix).append(key), value, TtlOf(memory));
}

Result<KvValue> AgentMemoryStore::Get(const MemoryRef& memory, std::string_view context_id, std::string_view key) {
  TUNA_ASSIGN_OR_RETURN(std::string prefix, ContextPrefix(memory, context_id));
  TUNA_RETURN_IF_ERROR(ValidateKey(key));
  TUNA_RETURN_IF_ERROR(CheckType(memory, MemoryType::kKv));
  auto e = store_.Get(prefix.append(kKvInfix).append(key));
  if (!e.ok()) {
    if (e.status().code() == StatusCode::kNotFound) {
      return NotFound("memory key " + Quote(key) + " not found in " + MemoryName(memory) + " context " +
                      Quote(context_id));
    }
    return e.status();
  }
  return KvValue{std::move(e->value), e->version, e->expires_at};
}

Status AgentMemoryStore::Delete(const MemoryRef& memory, std::string_view context_id, std::string_view key) {
  TUNA_ASSIGN_OR_RETURN(std::string prefix, ContextPrefix(memory, context_id));
  TUNA_RETURN_IF_ERROR(ValidateKey(key));
  TUNA_RETURN_IF_ERROR(CheckType(memory, MemoryType::kKv));
  return store_.Delete(prefix.append(kKvInfix).append(key));
}

Result<KeyPage> AgentMemoryStore::ListKeys(const MemoryRef& memory, std::string_view context_id,
                                           std::string_view after, std::size_t limit) {
  TUNA_ASSIGN_OR_RETURN(std::string prefix, ContextPrefix(memory, context_id));
  TUNA_RETURN_IF_ERROR(CheckType(memory, MemoryType::kKv));
  if (!after.empty()) TUNA_RETURN_IF_ERROR(ValidateKey(after));
  if (limit == 0) return InvalidArgument("memory list limit must be greater than 0");
  limit = std::min(limit, options_.max_page);
  prefix.append(kKvInfix);
  const std::string after_key = after.empty() ? std::string() : prefix + std::string(after);
  TUNA_ASSIGN_OR_RETURN(session::ListPage page, store_.List(prefix, after_key, limit));
  KeyPage out;
  out.keys.reserve(page.entries.size());
  for (const auto& e : page.entries) out.keys.push_back(e.key.substr(prefix.size()));
  if (!page.next_after.empty()) out.next_after = page.next_after.substr(prefix.size());
  return out;
}

// ---- both ----------------------------------------------------------------------------------------

Result<std::size_t> AgentMemoryStore::Clear(const MemoryRef& memory, std::string_view context_id) {
  TUNA_ASSIGN_OR_RETURN(std::string prefix, ContextPrefix(memory, context_id));
  return store_.DeletePrefix(prefix);
}

Result<std::size_t> AgentMemoryStore::ClearAll(const MemoryRef& memory) {
  TUNA_RETURN_IF_ERROR(ValidateNamespace(memory.namespace_));
  TUNA_RETURN_IF_ERROR(ValidateMemoryName(memory.name));
  return store_.DeletePrefix("mem/" + memory.namespace_ + "/" + memory.name + "/");
}

}  // namespace tuna::memory
