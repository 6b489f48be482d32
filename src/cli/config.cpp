#include "cli/config.hpp"

#include <boost/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "resources/suggest.hpp"
#include "tuna/client.hpp"
#include "tuna/resources/codec.hpp"

namespace tuna::cli {
namespace fs = std::filesystem;
namespace {

std::optional<std::string> NonEmpty(const EnvFn& env, std::string_view name) {
  auto v = env(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> ReadToken(const std::string& path, const std::string& source) {
  auto text = ReadSmallFile(path);
  if (!text.ok()) {
    return FailedPrecondition("cannot read token file " + text.status().message() + " (from " + source +
                              "); fix the path or pass --token");
  }
  std::string token = *text;
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) token.erase(0, 1);
  if (token.empty()) return FailedPrecondition("token file " + path + " (from " + source + ") is empty");
  return token;
}

struct FileConfig {
  std::optional<std::string> server, token, token_file, namespace_;
};

Result<FileConfig> LoadConfigFile(const std::string& path) {
  TUNA_ASSIGN_OR_RETURN(auto text, ReadSmallFile(path));
  auto docs = ParseYamlDocuments(text, path);
  if (!docs.ok()) return FailedPrecondition("config file " + docs.status().message());
  FileConfig out;
  if (docs->empty()) return out;
  if (docs->size() > 1) return FailedPrecondition("config file " + path + ": expected one YAML document");
  const auto& v = docs->front().value;
  if (v.is_null()) return out;
  if (!v.is_object()) return FailedPrecondition("config file " + path + ": expected a mapping of settings");
  static const std::vector<std::string_view> kKeys = {"server", "token", "token-file", "namespace"};
  for (const auto& kv : v.get_object()) {
    std::string key(kv.key());
    if (!kv.value().is_string()) {
      return FailedPrecondition("config file " + path + ": " + key + ": expected a string");
    }
    std::string value(kv.value().get_string());
    if (key == "server") out.server = value;
    else if (key == "token") out.token = value;
    else if (key == "token-file") {
      // A relative token-file is relative to the config file's directory.
      fs::path p(value);
      out.token_file = p.is_relative() ? (fs::path(path).parent_path() / p).string() : value;
    } else if (key == "namespace") out.namespace_ = value;
    else {
      return FailedPrecondition("config file " + path + ": " + internal::UnknownFieldMessage(key, kKeys) +
                                ": " + key);
    }
  }
  return out;
}

}  // namespace

std::string DefaultConfigPath(const EnvFn& env) {
  if (auto p = NonEmpty(env, "TUNA_CONFIG")) return *p;
  if (auto p = NonEmpty(env, "XDG_CONFIG_HOME")) return (fs::path(*p) / "tuna" / "config.yaml").string();
  if (auto p = NonEmpty(env, "HOME")) return (fs::path(*p) / ".config" / "tuna" / "config.yaml").string();
  return {};
}

Result<CliConfig> ResolveConfig(const ConfigFlags& flags, const EnvFn& env) {
  CliConfig c;
  c.config_path = flags.config ? *flags.config : DefaultConfigPath(env);
  FileConfig file;
  if (!c.config_path.empty()) {
    std::error_code ec;
    bool exists = fs::exists(c.config_path, ec);
    if (exists) {
      TUNA_ASSIGN_OR_RETURN(file, LoadConfigFile(c.config_path));
      c.config_loaded = true;
    } else if (flags.config || NonEmpty(env, "TUNA_CONFIG")) {
      return FailedPrecondition("config file " + c.config_path + " does not exist");
    }
  }
  std::string file_source = "config file " + c.config_path;

  if (flags.server) {
    c.server = *flags.server, c.server_source = "--server";
  } else if (auto v = NonEmpty(env, "TUNA_SERVER")) {
    c.server = *v, c.server_source = "TUNA_SERVER";
  } else if (file.server) {
    c.server = *file.server, c.server_source = file_source;
  } else {
    c.server = std::string(kDefaultServerUrl), c.server_source = "the default";
  }

  // Per level a token beats a token file; a higher level beats a lower one.
  struct Candidate {
    std::optional<std::string> token, token_file;
    std::string token_source, file_source;
  };
  const Candidate levels[] = {
      {flags.token, flags.token_file, "--token", "--token-file"},
      {NonEmpty(env, "TUNA_TOKEN"), NonEmpty(env, "TUNA_TOKEN_FILE"), "TUNA_TOKEN", "TUNA_TOKEN_FILE"},
      {file.token, file.token_file, file_source, file_source},
  };
  for (const auto& level : levels) {
    if (level.token) {
      c.token = *level.token, c.token_source = level.token_source;
      break;
    }
    if (level.token_file) {
      TUNA_ASSIGN_OR_RETURN(c.token, ReadToken(*level.token_file, level.file_source));
      c.token_source = level.file_source + " (" + *level.token_file + ")";
      break;
    }
  }

  if (flags.namespace_) {
    c.namespace_ = *flags.namespace_, c.namespace_from_flag = true;
  } else if (auto v = NonEmpty(env, "TUNA_NAMESPACE")) {
    c.namespace_ = *v;
  } else if (file.namespace_) {
    c.namespace_ = *file.namespace_;
  } else {
    c.namespace_ = std::string(kDefaultNamespace);
  }
  if (c.namespace_.empty()) return FailedPrecondition("the namespace must not be empty");
  return c;
}

Result<bool> WriteConfigIfMissing(const std::string& path, const std::string& server, const std::string& token_file) {
  std::error_code ec;
  if (path.empty() || fs::exists(path, ec)) return false;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return Internal("cannot create " + fs::path(path).parent_path().string() + ": " + ec.message());
  std::string text = "# Written by `tuna server` on first start; see docs/cli.md.\n";
  // JSON strings are YAML double-quoted scalars.
  text += "server: " + boost::json::serialize(boost::json::value(server)) + "\n";
  text += "token-file: " + boost::json::serialize(boost::json::value(token_file)) + "\n";
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Internal("cannot write " + tmp + ": " + std::strerror(errno));
    out << text;
    if (!out.flush()) return Internal("cannot write " + tmp + ": " + std::strerror(errno));
  }
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
  fs::rename(tmp, path, ec);
  if (ec) return Internal("cannot write " + path + ": " + ec.message());
  return true;
}

}  // namespace tuna::cli
