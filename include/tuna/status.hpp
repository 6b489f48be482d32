#pragma once
/// tuna's one error vocabulary: Status, Result<T>, StatusCode.
/// No exception crosses the library boundary; fallible public functions return these.

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tuna {

/// Error codes, deliberately close to gRPC/Kubernetes reasons so every layer maps them the same way.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,     // bad input: decode or validation error (HTTP 400/422)
  kNotFound,            // 404
  kAlreadyExists,       // 409 AlreadyExists
  kConflict,            // 409 Conflict: stale resourceVersion, concurrent claim
  kGone,                // 410: watch from a resourceVersion that is too old
  kUnauthenticated,     // 401
  kPermissionDenied,    // 403
  kResourceExhausted,   // 429 / 413: limits
  kFailedPrecondition,  // 412/409: state does not allow the operation
  kDeadlineExceeded,    // 504
  kUnavailable,         // 503
  kCancelled,           // 499
  kUnimplemented,       // 501
  kInternal,            // 500
};

/// Stable lower-case name of a code ("not_found"); used in error bodies.
std::string_view StatusCodeName(StatusCode code);

/// Kubernetes-style reason for a code ("NotFound", "Conflict", ...).
std::string_view StatusCodeReason(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  /// Field path the error is about ("spec.environmentName"), empty if none.
  const std::string& field() const { return field_; }

  /// "invalid_argument: spec.x: message"
  std::string ToString() const;

  /// Prefixes the message with context ("apply examples/a.yaml: ...").
  Status WithContext(std::string_view context) const;

  bool operator==(const Status& other) const = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
};

inline Status InvalidArgument(std::string msg, std::string field = {}) {
  return {StatusCode::kInvalidArgument, std::move(msg), std::move(field)};
}
inline Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
inline Status AlreadyExists(std::string msg) { return {StatusCode::kAlreadyExists, std::move(msg)}; }
inline Status Conflict(std::string msg) { return {StatusCode::kConflict, std::move(msg)}; }
inline Status Gone(std::string msg) { return {StatusCode::kGone, std::move(msg)}; }
inline Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
inline Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
inline Status FailedPrecondition(std::string msg) { return {StatusCode::kFailedPrecondition, std::move(msg)}; }
inline Status ResourceExhausted(std::string msg) { return {StatusCode::kResourceExhausted, std::move(msg)}; }
inline Status Unauthenticated(std::string msg) { return {StatusCode::kUnauthenticated, std::move(msg)}; }
inline Status PermissionDenied(std::string msg) { return {StatusCode::kPermissionDenied, std::move(msg)}; }
inline Status DeadlineExceeded(std::string msg) { return {StatusCode::kDeadlineExceeded, std::move(msg)}; }
inline Status Unimplemented(std::string msg) { return {StatusCode::kUnimplemented, std::move(msg)}; }

/// A value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(implicit)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(implicit)
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T value_or(T fallback) const { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tuna

#define TUNA_CONCAT_INNER_(a, b) a##b
#define TUNA_CONCAT_(a, b) TUNA_CONCAT_INNER_(a, b)

/// Returns the status from the enclosing function if it is not OK.
#define TUNA_RETURN_IF_ERROR(expr)                  \
  do {                                              \
    ::tuna::Status tuna_status_ = (expr);           \
    if (!tuna_status_.ok()) return tuna_status_;    \
  } while (0)

#define TUNA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

/// `TUNA_ASSIGN_OR_RETURN(auto x, MaybeX());`
#define TUNA_ASSIGN_OR_RETURN(lhs, rexpr) \
  TUNA_ASSIGN_OR_RETURN_IMPL_(TUNA_CONCAT_(tuna_result_, __LINE__), lhs, rexpr)
