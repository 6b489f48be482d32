#include "net/host_policy.hpp"

#include <algorithm>
#include <cctype>

namespace tuna::net {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "example.com:8080" -> "example.com"; "[::1]:80" -> "[::1]"; empty when malformed.
std::string HostName(std::string_view host) {
  while (!host.empty() && (host.front() == ' ' || host.front() == '\t')) host.remove_prefix(1);
  while (!host.empty() && (host.back() == ' ' || host.back() == '\t')) host.remove_suffix(1);
  if (host.starts_with("[")) {
    std::size_t close = host.find(']');
    return close == std::string_view::npos ? std::string() : Lower(host.substr(0, close + 1));
  }
  return Lower(host.substr(0, host.find(':')));
}

// "http://localhost:3000" -> "localhost"; "http://[::1]:80" -> "[::1]"; empty when malformed.
std::string OriginHost(std::string_view origin) {
  std::size_t scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return {};
  std::string_view rest = origin.substr(scheme_end + 3);
  return HostName(rest.substr(0, rest.find('/')));
}

bool IsLocalHostName(std::string_view name) { return name == "localhost" || name == "127.0.0.1" || name == "[::1]"; }

}  // namespace

bool HostAllowed(std::string_view host_header, const std::vector<std::string>& allowed_hosts) {
  std::string name = HostName(host_header);
  if (name.empty()) return false;
  if (allowed_hosts.empty()) return IsLocalHostName(name);
  return std::any_of(allowed_hosts.begin(), allowed_hosts.end(),
                     [&](const std::string& allowed) { return allowed == "*" || Lower(allowed) == name; });
}

bool OriginAllowed(std::string_view origin, const std::vector<std::string>& allowed_origins) {
  if (allowed_origins.empty()) return IsLocalHostName(OriginHost(origin));
  std::string lower = Lower(origin);
  return std::any_of(allowed_origins.begin(), allowed_origins.end(),
                     [&](const std::string& allowed) { return allowed == "*" || Lower(allowed) == lower; });
}

}  // namespace tuna::net
