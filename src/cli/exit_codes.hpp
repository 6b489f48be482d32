#pragma once
// Private: the `tuna` CLI's exit codes (documented in docs/cli.md; scripts depend on them).

#include "tuna/status.hpp"

namespace tuna::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,        // anything else
  kExitUsage = 2,        // bad flags or arguments
  kExitNotFound = 3,
  kExitConflict = 4,     // already exists or stale resourceVersion
  kExitAuth = 5,         // 401 / 403
  kExitInvalid = 6,      // validation or decoding error
  kExitUnreachable = 7,  // server unreachable or timed out
};

/// The exit code scripts see for a failed call.
int ExitCodeFor(const Status& status);

}  // namespace tuna::cli
