#pragma once
/// JSON and YAML codecs for the unstructured Resource form. Decoding is strict: an unknown or
/// mistyped field is an InvalidArgument naming its path; YAML errors name file, line and column.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tuna/resources/object.hpp"
#include "tuna/status.hpp"

namespace tuna {

/// Resource -> JSON object (Kubernetes wire form; empty metadata fields omitted).
boost::json::value ResourceToJson(const Resource& r);
/// JSON -> Resource. Checks apiVersion, kind (one of the nine), metadata field names and types.
/// spec/status are taken as JSON; typed checks happen in the kind codecs (kinds.hpp).
Result<Resource> ResourceFromJson(const boost::json::value& v);

/// Compact JSON text.
std::string EncodeJson(const Resource& r);
/// Indented JSON text (for humans).
std::string EncodeJsonPretty(const boost::json::value& v);
/// Parses JSON text into a Resource; syntax errors name line and column.
Result<Resource> DecodeJson(std::string_view text);
/// Parses JSON text; syntax errors name line and column.
Result<boost::json::value> ParseJson(std::string_view text, std::string_view source_name = "");

/// YAML text of a Resource.
std::string EncodeYaml(const Resource& r);
/// YAML text of any JSON value.
std::string EncodeYamlValue(const boost::json::value& v);

/// One document of a YAML stream, with where it came from (for error messages).
struct SourceDocument {
  boost::json::value value;
  std::string source;  // "file.yaml" or "file.yaml (document 2)"
  int line = 0;        // 1-based line where the document starts
  /// 1-based line of every field in the document, by path ("spec.poolSize", "spec.tools[0]"),
  /// so typed decode errors can name a line (see DecodeSourceDocument in kinds.hpp).
  std::map<std::string, int> field_lines;
};

/// Parses a YAML (or JSON, which is YAML) stream with one or more documents, skipping empty ones.
/// A syntax error names `source_name`, line and column.
Result<std::vector<SourceDocument>> ParseYamlDocuments(std::string_view text,
                                                       std::string_view source_name);

/// Parses and decodes every document of a YAML stream into Resources (with typed validation of
/// each kind's spec and status via ValidateSchema); errors are prefixed with "file.yaml:LINE: ".
Result<std::vector<Resource>> DecodeYamlResources(std::string_view text, std::string_view source_name);

}  // namespace tuna
