#include "cli/exit_codes.hpp"

namespace tuna::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kNotFound: return kExitNotFound;
    case StatusCode::kAlreadyExists:
    case StatusCode::kConflict: return kExitConflict;
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied: return kExitAuth;
    case StatusCode::kInvalidArgument: return kExitInvalid;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded: return kExitUnreachable;
    default: return kExitError;
  }
}

}  // namespace tuna::cli
