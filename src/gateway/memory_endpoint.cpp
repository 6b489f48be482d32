#include "gateway/memory_endpoint.hpp"

#include <boost/json.hpp>

#include "net/status_response.hpp"
#include "tuna/resources/kinds.hpp"

namespace tuna::gateway {
namespace {

namespace json = boost::json;

net::HttpResponse Fail(const Status& st, const net::HttpRequest& req) { return net::StatusResponse(st, req.request_id); }

net::HttpResponse Json(int status, json::value v) {
  net::HttpResponse r;
  r.status = status;
  r.body = json::serialize(v);
  return r;
}

json::object EntryJson(const memory::ConversationEntry& e) {
  json::object o = e.entry;
  o["seq"] = e.seq;
  return o;
}

}  // namespace

net::HttpResponse MemoryEndpoints::Handle(net::HttpRequest& req, const Target& t, const auth::Principal& principal,
                                          const std::string&) {
  const bool write = req.method != "GET";
  if (write && !principal.Allows(t.namespace_, auth::Scope::kInvoke)) {
    return Fail(PermissionDenied("this key cannot write memory in namespace " + t.namespace_), req);
  }
  // The memory must exist and the agent's binding must list it.
  auto got = store_.Get({"AgentMemory", t.namespace_, t.memory});
  if (!got.ok()) {
    return Fail(got.status().code() == StatusCode::kNotFound
                    ? NotFound("AgentMemory " + t.namespace_ + "/" + t.memory + " not found")
                    : got.status(),
                req);
  }
  auto mem = AgentMemory::FromResource(*got);
  if (!mem.ok()) return Fail(mem.status(), req);
  ListOptions lo;
  lo.kind = "AgentResourceBinding";
  lo.namespace_ = t.namespace_;
  auto bindings = store_.List(lo);
  if (!bindings.ok()) return Fail(bindings.status(), req);
  bool listed = false, read_only = true;
  for (const auto& item : bindings->items) {
    auto b = AgentResourceBinding::FromResource(item);
    if (!b.ok() || b->spec.agent_name != t.name) continue;
    for (const auto& m : b->spec.memories) {
      if (m.name != t.memory) continue;
      listed = true;
      read_only = read_only && m.read_only;
    }
  }
  if (!listed) {
    return Fail(PermissionDenied("agent " + t.name + " has no AgentResourceBinding that lists memory " + t.memory), req);
  }
  if (write && read_only) return Fail(PermissionDenied("agent " + t.name + " may only read memory " + t.memory), req);
  const memory::MemoryRef ref = memory::MemoryRef::From(*mem);
  const bool conversation = mem->spec.type == MemoryType::kConversation;

  if (t.rest.empty()) {
    if (req.method == "GET") {
      if (conversation) {
        std::int64_t after = std::atoll(req.QueryOr("after", "0").c_str());
        std::size_t limit = static_cast<std::size_t>(std::max(1, std::atoi(req.QueryOr("limit", "100").c_str())));
        auto page = memory_.List(ref, t.context, after, limit);
        if (!page.ok()) return Fail(page.status(), req);
        json::array entries;
        for (const auto& e : page->entries) entries.push_back(EntryJson(e));
        json::object o{{"entries", std::move(entries)}};
        if (page->next_after != 0) o["nextAfter"] = page->next_after;
        return Json(200, std::move(o));
      }
      auto keys = memory_.ListKeys(ref, t.context, req.QueryOr("after"));
      if (!keys.ok()) return Fail(keys.status(), req);
      json::array names;
      for (const auto& k : keys->keys) names.emplace_back(k);
      json::object o{{"keys", std::move(names)}};
      if (!keys->next_after.empty()) o["nextAfter"] = keys->next_after;
      return Json(200, std::move(o));
    }
    if (req.method == "POST") {
      if (!conversation) return Fail(InvalidArgument("memory " + t.memory + " is key-value: PUT .../{key} instead"), req);
      boost::system::error_code ec;
      json::value body = json::parse(req.body, ec);
      if (ec || !body.is_object()) return Fail(InvalidArgument("body: a JSON object {role, content|parts, metadata?}"), req);
      auto stored = memory_.Append(ref, t.context, std::move(body.as_object()));
      if (!stored.ok()) return Fail(stored.status(), req);
      return Json(201, EntryJson(*stored));
    }
    if (req.method == "DELETE") {
      auto cleared = memory_.Clear(ref, t.context);
      if (!cleared.ok()) return Fail(cleared.status(), req);
      return Json(200, json::object{{"cleared", *cleared}});
    }
  } else {
    if (conversation) return Fail(InvalidArgument("memory " + t.memory + " is a conversation: it has no keys"), req);
    if (req.method == "GET") {
      auto v = memory_.Get(ref, t.context, t.rest);
      if (!v.ok()) return Fail(v.status(), req);
      net::HttpResponse r;
      r.content_type = "application/octet-stream";
      r.headers.emplace_back("ETag", "\"" + std::to_string(v->version) + "\"");
      r.body = std::move(v->value);
      return r;
    }
    if (req.method == "PUT") {
      auto version = memory_.Put(ref, t.context, t.rest, req.body);
      if (!version.ok()) return Fail(version.status(), req);
      return Json(200, json::object{{"key", t.rest}, {"version", *version}});
    }
    if (req.method == "DELETE") {
      Status st = memory_.Delete(ref, t.context, t.rest);
      if (!st.ok()) return Fail(st, req);
      return Json(200, json::object{{"key", t.rest}, {"deleted", true}});
    }
  }
  auto r = Fail(InvalidArgument("method " + req.method + " is not allowed here"), req);
  r.status = 405;
  return r;
}

}  // namespace tuna::gateway
