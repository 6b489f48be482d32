#pragma once
// Private: the field-descriptor machinery behind the typed kinds. Each struct has one table
// (Schema<S>::Fields()) of {jsonName, member pointer, required}; strict decoding, encoding and
// "did you mean" all come from that table, so adding a field is one line.

#include <boost/json.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "resources/suggest.hpp"
#include "tuna/status.hpp"

namespace tuna::internal {

namespace sjson = boost::json;

/// Specialize with `static const std::vector<FieldDesc<S>>& Fields();`.
template <class S>
struct Schema;

/// Specialize with `static const std::vector<std::pair<E, std::string_view>>& Values();`.
template <class E>
struct EnumTable;

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};
template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <class T>
struct IsStringMap : std::false_type {};
template <class T>
struct IsStringMap<std::map<std::string, T>> : std::true_type {};

inline Status TypeMismatch(const std::string& path, std::string_view want, const sjson::value& got) {
  return InvalidArgument(path + ": expected " + std::string(want) + ", got " +
                             std::string(JsonKindName(static_cast<int>(got.kind()))),
                         path);
}

template <class E>
std::string EnumChoices() {
  std::string out;
  for (const auto& [value, name] : EnumTable<E>::Values()) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

template <class E>
std::optional<E> EnumFromName(std::string_view name) {
  for (const auto& [value, n] : EnumTable<E>::Values()) {
    if (n == name) return value;
  }
  return std::nullopt;
}

template <class E>
std::string_view EnumName(E v) {
  for (const auto& [value, n] : EnumTable<E>::Values()) {
    if (value == v) return n;
  }
  return "";
}

template <class T>
Status DecodeValue(const sjson::value& v, const std::string& path, T& out);
template <class T>
sjson::value EncodeValue(const T& v);
template <class T>
bool IsEmptyValue(const T& v);

template <class S>
struct FieldDesc {
  std::string_view name;
  bool required = false;
  std::function<Status(const sjson::value&, const std::string&, S&)> decode;
  std::function<void(const S&, sjson::object&)> encode;
};

enum FieldFlag { kOptional = 0, kRequired = 1 };

/// One table row: JSON name, member, whether the field must be present.
template <class S, class M>
FieldDesc<S> Field(std::string_view name, M S::*member, FieldFlag flag = kOptional) {
  const bool required = flag == kRequired;
  return FieldDesc<S>{
      name, required,
      [member](const sjson::value& v, const std::string& path, S& s) { return DecodeValue(v, path, s.*member); },
      [member, name, required](const S& s, sjson::object& o) {
        if (!required && IsEmptyValue(s.*member)) return;
        o[name] = EncodeValue(s.*member);
      }};
}

template <class S>
Status DecodeStruct(const sjson::value& v, const std::string& path, S& out) {
  if (!v.is_object()) return TypeMismatch(path, "object", v);
  const auto& fields = Schema<S>::Fields();
  std::vector<bool> seen(fields.size(), false);
  for (const auto& kv : v.get_object()) {
    std::string p = JoinPath(path, kv.key());
    std::size_t i = 0;
    while (i < fields.size() && fields[i].name != kv.key()) ++i;
    if (i == fields.size()) {
      std::vector<std::string_view> names;
      names.reserve(fields.size());
      for (const auto& f : fields) names.push_back(f.name);
      return InvalidArgument(p + ": " + UnknownFieldMessage(kv.key(), names), p);
    }
    // null is "absent", as in Kubernetes.
    if (kv.value().is_null()) continue;
    seen[i] = true;
    TUNA_RETURN_IF_ERROR(fields[i].decode(kv.value(), p, out));
  }
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].required && !seen[i]) {
      std::string p = JoinPath(path, fields[i].name);
      return InvalidArgument(p + ": required field is missing", p);
    }
  }
  return {};
}

template <class S>
sjson::object EncodeStruct(const S& s) {
  sjson::object o;
  for (const auto& f : Schema<S>::Fields()) f.encode(s, o);
  return o;
}

template <class T>
Status DecodeValue(const sjson::value& v, const std::string& path, T& out) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) return TypeMismatch(path, "string", v);
    out = std::string(v.get_string());
    return {};
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_bool()) return TypeMismatch(path, "boolean", v);
    out = v.get_bool();
    return {};
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    if (v.is_int64()) {
      out = v.get_int64();
      return {};
    }
    if (v.is_uint64()) {
      if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return InvalidArgument(path + ": integer out of range", path);
      }
      out = static_cast<std::int64_t>(v.get_uint64());
      return {};
    }
    return TypeMismatch(path, "integer", v);
  } else if constexpr (std::is_same_v<T, sjson::value>) {
    out = v;
    return {};
  } else if constexpr (std::is_enum_v<T>) {
    if (!v.is_string()) return TypeMismatch(path, "string", v);
    auto e = EnumFromName<T>(v.get_string());
    if (!e) {
      return InvalidArgument(path + ": unknown value \"" + std::string(v.get_string()) + "\" (expected one of: " +
                                 EnumChoices<T>() + ")",
                             path);
    }
    out = *e;
    return {};
  } else if constexpr (IsOptional<T>::value) {
    typename T::value_type inner{};
    TUNA_RETURN_IF_ERROR(DecodeValue(v, path, inner));
    out = std::move(inner);
    return {};
  } else if constexpr (IsVector<T>::value) {
    if (!v.is_array()) return TypeMismatch(path, "array", v);
    out.clear();
    std::size_t i = 0;
    for (const auto& item : v.get_array()) {
      typename T::value_type inner{};
      TUNA_RETURN_IF_ERROR(DecodeValue(item, JoinIndex(path, i++), inner));
      out.push_back(std::move(inner));
    }
    return {};
  } else if constexpr (IsStringMap<T>::value) {
    if (!v.is_object()) return TypeMismatch(path, "object", v);
    out.clear();
    for (const auto& kv : v.get_object()) {
      typename T::mapped_type inner{};
      TUNA_RETURN_IF_ERROR(DecodeValue(kv.value(), JoinPath(path, kv.key()), inner));
      out.emplace(std::string(kv.key()), std::move(inner));
    }
    return {};
  } else {
    return DecodeStruct(v, path, out);
  }
}

template <class T>
sjson::value EncodeValue(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return sjson::value(v);
  } else if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::int64_t>) {
    return sjson::value(v);
  } else if constexpr (std::is_same_v<T, sjson::value>) {
    return v;
  } else if constexpr (std::is_enum_v<T>) {
    return sjson::value(EnumName(v));
  } else if constexpr (IsOptional<T>::value) {
    return v ? EncodeValue(*v) : sjson::value(nullptr);
  } else if constexpr (IsVector<T>::value) {
    sjson::array a;
    for (const auto& item : v) a.push_back(EncodeValue(item));
    return a;
  } else if constexpr (IsStringMap<T>::value) {
    sjson::object o;
    for (const auto& [k, item] : v) o[k] = EncodeValue(item);
    return o;
  } else {
    return EncodeStruct(v);
  }
}

template <class T>
bool IsEmptyValue(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return v.empty();
  } else if constexpr (std::is_same_v<T, bool>) {
    return !v;
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    return v == 0;
  } else if constexpr (std::is_same_v<T, sjson::value>) {
    return v.is_null();
  } else if constexpr (std::is_enum_v<T>) {
    return false;
  } else if constexpr (IsOptional<T>::value) {
    return !v.has_value();
  } else if constexpr (IsVector<T>::value || IsStringMap<T>::value) {
    return v.empty();
  } else {
    return EncodeStruct(v).empty();
  }
}

}  // namespace tuna::internal
