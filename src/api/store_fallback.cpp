// TEMPORARY (branch api): weak stand-ins for functions of tuna/store.hpp until branch `store`
// lands on main. Delete this file when main has the store implementations.

#include <boost/json.hpp>

#include "tuna/resources/codec.hpp"
#include "tuna/store.hpp"

namespace tuna {
namespace {

void MergePatch(boost::json::value& target, const boost::json::value& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = boost::json::object();
  auto& obj = target.get_object();
  for (const auto& kv : patch.get_object()) {
    if (kv.value().is_null()) {
      obj.erase(kv.key());
    } else {
      MergePatch(obj[kv.key()], kv.value());
    }
  }
}

}  // namespace

__attribute__((weak)) Status ApplyMergePatch(boost::json::value& target, std::string_view patch_json) {
  auto patch = ParseJson(patch_json, "merge patch");
  if (!patch.ok()) return patch.status();
  MergePatch(target, *patch);
  return {};
}

__attribute__((weak)) Result<StorePtr> MakeSqliteStore(SqliteStoreOptions) {
  return Unimplemented("the SQLite store is not on this branch yet (pass ServerOptions::store)");
}

}  // namespace tuna
