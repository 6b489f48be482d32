#pragma once
// Private: "did you mean" suggestions for unknown field and kind names.

#include <string>
#include <string_view>
#include <vector>

namespace tuna::internal {

/// Edit distance (Damerau-Levenshtein, adjacent transpositions count as one), case-insensitive.
std::size_t EditDistance(std::string_view a, std::string_view b);

/// The closest candidate within a distance proportional to the name's length, or "".
std::string Suggest(std::string_view name, const std::vector<std::string_view>& candidates);

/// "unknown field" plus " (did you mean X?)" when a close candidate exists.
std::string UnknownFieldMessage(std::string_view name, const std::vector<std::string_view>& candidates);

/// Joins a path: JoinPath("spec", "source") == "spec.source"; JoinIndex("spec.x", 2) == "spec.x[2]".
std::string JoinPath(std::string_view base, std::string_view field);
std::string JoinIndex(std::string_view base, std::size_t index);

/// "string", "number", "object", ... for messages.
std::string_view JsonKindName(int boost_json_kind);

}  // namespace tuna::internal
