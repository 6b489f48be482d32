#pragma once
// Private: the value rules admission applies (names, labels, URLs, quantities, digests, ranges).
// Each returns an InvalidArgument whose message starts with `path` and whose field is `path`.

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include "tuna/status.hpp"

namespace tuna::internal {

/// DNS-1123 label: at most 63 of [a-z0-9-], starting and ending with [a-z0-9].
bool IsDnsLabel(std::string_view s);
/// DNS-1123 subdomain: at most 253 characters, dot-separated labels.
bool IsDnsSubdomain(std::string_view s);

/// `path: invalid name "X": must be a DNS-1123 label (...)`; empty: `path: required field is missing`.
Status CheckName(std::string_view value, const std::string& path);
/// Kubernetes label keys and values (keys also used for annotations).
Status CheckLabels(const std::map<std::string, std::string>& labels, const std::string& path);
Status CheckAnnotationKeys(const std::map<std::string, std::string>& annotations, const std::string& path);
/// An absolute URL whose scheme is one of `schemes`, with a host for http(s).
Status CheckUrl(std::string_view value, const std::string& path, std::initializer_list<std::string_view> schemes);
/// Kubernetes quantity: "500m", "1.5", "512Mi", "1e3".
Status CheckQuantity(std::string_view value, const std::string& path);
/// "sha256:" followed by 64 lowercase hex digits.
bool IsSha256Digest(std::string_view s);
/// lo <= v <= hi.
Status CheckRange(std::int64_t v, std::int64_t lo, std::int64_t hi, const std::string& path);
/// Environment variable names: [A-Za-z_][A-Za-z0-9_]*.
Status CheckEnvNames(const std::map<std::string, std::string>& env, const std::string& path);
/// HTTP header field names (RFC 9110 tokens).
bool IsHttpToken(std::string_view s);
/// Not empty.
Status CheckNotEmpty(std::string_view value, const std::string& path);

}  // namespace tuna::internal
