// TEMPORARY (branch `cli` only): Server::Make is implemented on branch `api` (src/server/**). This
// definition only lets the `tuna` binary link before that branch is merged; `tuna server` reports
// it as unimplemented. DELETE THIS FILE when main has the server.

#include "tuna/server.hpp"

namespace tuna {

Result<std::unique_ptr<Server>> Server::Make(ServerOptions) {
  return Unimplemented("this build has no API server yet (branch `api` is not merged)");
}

}  // namespace tuna
