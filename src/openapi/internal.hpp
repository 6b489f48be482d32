#pragma once
// Private helpers shared by the OpenAPI translation units (src/openapi/*.cpp).

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "tuna/openapi.hpp"

namespace tuna::openapi::internal {

/// The value a local `$ref` ("#/components/schemas/Pet", JSON pointer with ~0 ~1 and percent
/// escapes) points to. InvalidArgument naming the pointer when it is broken or not local.
Result<const boost::json::value*> ResolveRef(const Document& document, std::string_view ref);

/// Follows `$ref` chains of a non-schema object (parameter, requestBody, response, header).
Result<const boost::json::value*> Deref(const Document& document, const boost::json::value& value);

/// Cuts `text` to at most `max_chars` bytes on a UTF-8 boundary, ending with "…" when cut.
std::string Truncate(std::string_view text, std::size_t max_chars);

/// Lower-case copy (ASCII).
std::string Lower(std::string_view text);

}  // namespace tuna::openapi::internal
