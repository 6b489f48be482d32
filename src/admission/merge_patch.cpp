#include "admission/merge_patch.hpp"

#include <boost/json.hpp>

namespace tuna::internal {

void MergePatchInPlace(boost::json::value& target, const boost::json::value& patch) {
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
      MergePatchInPlace(obj[kv.key()], kv.value());
    }
  }
}

}  // namespace tuna::internal
