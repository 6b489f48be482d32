#pragma once
// Private: RFC 7386 JSON merge patch on boost::json values. Admission applies patches itself so
// that it does not depend on a particular Store implementation.

#include <boost/json/value.hpp>

namespace tuna::internal {

/// Applies `patch` to `target` in place (RFC 7386: null deletes, objects merge, anything else replaces).
void MergePatchInPlace(boost::json::value& target, const boost::json::value& patch);

}  // namespace tuna::internal
