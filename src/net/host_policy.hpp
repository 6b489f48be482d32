#pragma once
// Host and Origin validation for the protocol endpoints (A2A, MCP, the gateway): stops DNS
// rebinding and cross-site browser calls. An empty allow-list means localhost only
// (localhost, 127.0.0.1, [::1]); "*" allows any; entries compare case-insensitively.

#include <string>
#include <string_view>
#include <vector>

namespace tuna::net {

/// True when the Host header names an allowed host (the port is ignored; an empty or malformed
/// Host is refused).
bool HostAllowed(std::string_view host_header, const std::vector<std::string>& allowed_hosts);
/// True when a browser's Origin ("scheme://host[:port]") is allowed: an exact entry, or a
/// localhost origin when the list is empty.
bool OriginAllowed(std::string_view origin, const std::vector<std::string>& allowed_origins);

}  // namespace tuna::net
