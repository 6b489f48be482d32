// RFC 7386 JSON merge patch.

#include <boost/json.hpp>

#include "tuna/resources/codec.hpp"
#include "tuna/store.hpp"

namespace tuna {
namespace {

void MergeInto(boost::json::value& target, const boost::json::value& patch) {
  if (!patch.is_object()) {
    target = patch;  // scalars and arrays replace wholesale (RFC 7386 section 2)
    return;
  }
  if (!target.is_object()) target = boost::json::object();
  auto& obj = target.get_object();
  for (const auto& kv : patch.get_object()) {
    if (kv.value().is_null()) {
      obj.erase(kv.key());
    } else {
      MergeInto(obj[kv.key()], kv.value());
    }
  }
}

}  // namespace

Status ApplyMergePatch(boost::json::value& target, std::string_view patch_json) {
  auto patch = ParseJson(patch_json, "merge patch");
  if (!patch.ok()) return patch.status();
  MergeInto(target, *patch);
  return {};
}

}  // namespace tuna
