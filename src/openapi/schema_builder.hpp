#pragma once
// Private: converts one OpenAPI schema into self-contained JSON Schema (see schema.cpp).

#include <cstddef>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "tuna/openapi.hpp"

namespace tuna::openapi::internal {

class SchemaBuilder {
 public:
  /// `max_ref_depth`: nested `$ref` expansions before a permissive `{}`.
  SchemaBuilder(const Document& document, const ConvertOptions& options, int max_ref_depth);
  /// The converted schema (an object or a boolean). Errors: broken or external `$ref`s.
  Result<boost::json::value> Build(const boost::json::value& schema);
  /// True when a depth or node budget cut something (cycles are cut without setting it).
  bool truncated() const { return truncated_; }

 private:
  const Document& document_;
  const ConvertOptions& options_;
  int max_ref_depth_;
  std::size_t budget_;  // schema objects left to emit: bounds work on deeply shared documents
  bool truncated_ = false;
  std::vector<std::string> stack_;  // refs being expanded
};

}  // namespace tuna::openapi::internal
