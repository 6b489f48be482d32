#pragma once
// Private: where the CLI finds its server, token and namespace.
// Precedence: flags > environment > config file > defaults (docs/cli.md).

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "tuna/status.hpp"

namespace tuna::cli {

/// Reads an environment variable (injectable for tests).
using EnvFn = std::function<std::optional<std::string>(std::string_view)>;

inline constexpr std::string_view kDefaultNamespace = "default";

/// What the command line said (unset: not given).
struct ConfigFlags {
  std::optional<std::string> server;
  std::optional<std::string> token;
  std::optional<std::string> token_file;
  std::optional<std::string> namespace_;
  std::optional<std::string> config;  // --config PATH
};

/// The settings a client command uses, with where each came from (for messages).
struct CliConfig {
  std::string server;
  std::string server_source;  // "--server", "TUNA_SERVER", "config file PATH", "the default"
  std::string token;          // empty: none configured
  std::string token_source;
  std::string namespace_;
  bool namespace_from_flag = false;  // -n was given (apply refuses a differing manifest namespace)
  std::string config_path;           // the file consulted (may not exist)
  bool config_loaded = false;
};

/// The config file path: $TUNA_CONFIG, else $XDG_CONFIG_HOME/tuna/config.yaml, else
/// $HOME/.config/tuna/config.yaml ("" when none of these variables is set).
std::string DefaultConfigPath(const EnvFn& env);

/// Resolves the configuration; errors name the offending file, key or variable.
Result<CliConfig> ResolveConfig(const ConfigFlags& flags, const EnvFn& env);

/// Writes a config file with `server` and `token-file` unless `path` exists (creating parent
/// directories, mode 0600). Returns true when it wrote the file.
Result<bool> WriteConfigIfMissing(const std::string& path, const std::string& server, const std::string& token_file);

}  // namespace tuna::cli
