#pragma once
// Private helpers of the A2A codecs: typed field reads that name the failing path, and base64.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "tuna/status.hpp"

namespace tuna::a2a::internal {

/// Reads fields of one JSON object; errors carry "<path>.<field>". Absent and null are the same.
class Field {
 public:
  Field(const boost::json::object& o, std::string_view path) : o_(o), path_(path) {}

  std::string PathOf(std::string_view key) const {
    std::string out = path_;
    if (!out.empty()) out += '.';
    out += key;
    return out;
  }
  const boost::json::value* Get(std::string_view key) const {
    const boost::json::value* v = o_.if_contains(key);
    return v && !v->is_null() ? v : nullptr;
  }
  Status ReqString(std::string_view key, std::string& out) const {
    const boost::json::value* v = Get(key);
    if (!v) return InvalidArgument("required", PathOf(key));
    if (!v->is_string()) return InvalidArgument("must be a string", PathOf(key));
    out = std::string(v->as_string());
    return Status::Ok();
  }
  Status OptString(std::string_view key, std::string& out) const {
    return Get(key) ? ReqString(key, out) : Status::Ok();
  }
  Status OptBool(std::string_view key, bool& out) const {
    const boost::json::value* v = Get(key);
    if (!v) return Status::Ok();
    if (!v->is_bool()) return InvalidArgument("must be a boolean", PathOf(key));
    out = v->as_bool();
    return Status::Ok();
  }
  /// A non-negative integer (also accepts an integral double, and a decimal string as ProtoJSON
  /// writes 64-bit integers).
  Status OptCount(std::string_view key, std::optional<std::size_t>& out) const {
    const boost::json::value* v = Get(key);
    if (!v) return Status::Ok();
    if (v->is_int64() && v->as_int64() >= 0) {
      out = static_cast<std::size_t>(v->as_int64());
    } else if (v->is_uint64()) {
      out = static_cast<std::size_t>(v->as_uint64());
    } else if (v->is_double() && v->as_double() >= 0 && v->as_double() == static_cast<double>(static_cast<long long>(v->as_double()))) {
      out = static_cast<std::size_t>(v->as_double());
    } else {
      return InvalidArgument("must be a non-negative integer", PathOf(key));
    }
    return Status::Ok();
  }
  Status OptObject(std::string_view key, boost::json::object& out) const {
    const boost::json::value* v = Get(key);
    if (!v) return Status::Ok();
    if (!v->is_object()) return InvalidArgument("must be an object", PathOf(key));
    out = v->as_object();
    return Status::Ok();
  }
  Status OptStrings(std::string_view key, std::vector<std::string>& out) const {
    const boost::json::value* v = Get(key);
    if (!v) return Status::Ok();
    if (!v->is_array()) return InvalidArgument("must be an array of strings", PathOf(key));
    out.clear();
    const auto& a = v->as_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_string()) return InvalidArgument("must be a string", PathOf(key) + "[" + std::to_string(i) + "]");
      out.emplace_back(a[i].as_string());
    }
    return Status::Ok();
  }

 private:
  const boost::json::object& o_;
  std::string path_;
};

/// Standard base64 with padding.
std::string Base64Encode(std::string_view bytes);
/// Standard or URL-safe alphabet, padding optional; nullopt when malformed.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace tuna::a2a::internal
