#pragma once
// A test fixture running the real `tuna server` binary on 127.0.0.1:0 with a private data dir and
// HOME, plus helpers to call it (REST client, the `tuna` CLI) and read its JSON.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <initializer_list>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "cli/process.hpp"
#include "support/http_client.hpp"
#include "support/python.hpp"
#include "support/temp_dir.hpp"

namespace tuna::testing {

/// The string at `path` in a JSON document, or "" when absent or not a string.
inline std::string JsonStr(const boost::json::value& v, std::initializer_list<std::string_view> path) {
  const boost::json::value* cur = &v;
  for (auto key : path) {
    if (!cur->is_object()) return "";
    cur = cur->get_object().if_contains(key);
    if (cur == nullptr) return "";
  }
  return cur->is_string() ? std::string(cur->get_string()) : "";
}

class TunaServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    python_ = RealPython();
    ASSERT_FALSE(python_.empty());
    StartServer();
  }

  void TearDown() override { StopServer(); }

  /// Starts (or, after a kill, restarts) the server on the same data dir.
  void StartServer() {
    ProcessOptions po;
    po.args = {"server", "--data-dir", dir_.path() + "/data", "--listen", "127.0.0.1:0"};
    po.args.insert(po.args.end(), server_args_.begin(), server_args_.end());
    po.env = {{"HOME", dir_.path()}, {"PATH", std::getenv("PATH")}};
    po.env.insert(server_env_.begin(), server_env_.end());
    server_ = Process::Spawn(TUNA_BINARY, po);
    ASSERT_TRUE(server_);
    const std::regex listening("tuna server listening on http://127\\.0\\.0\\.1:([0-9]+)\n");
    ASSERT_TRUE(server_->WaitForOutput(
        [&](const std::string& out, const std::string&) { return std::regex_search(out, listening); },
        std::chrono::seconds(30)))
        << server_->Stderr();
    std::smatch m;
    std::string out = server_->Stdout();
    ASSERT_TRUE(std::regex_search(out, m, listening));
    std::ifstream token_file(dir_.path() + "/data/admin.token");
    token_file >> token_;
    port_ = m[1];
    url_ = "http://127.0.0.1:" + port_;
    api_ = std::make_unique<ApiClient>(static_cast<std::uint16_t>(std::stoi(port_)), token_);
  }

  void StopServer() {
    if (!server_) return;
    server_->Kill(SIGTERM);
    server_->Wait(std::chrono::seconds(20));
  }

  /// Runs the `tuna` client against this server.
  ProcessResult Tuna(std::vector<std::string> args) {
    ProcessOptions po;
    po.args = std::move(args);
    po.env = {{"HOME", dir_.path()}, {"PATH", std::getenv("PATH")}, {"TUNA_SERVER", url_}, {"TUNA_TOKEN", token_}};
    return RunProcess(TUNA_BINARY, po, std::chrono::seconds(120));
  }

  /// The end of the server's output, for failure messages.
  std::string ServerLog(std::size_t max = 6000) const {
    std::string log = server_ ? server_->Stdout() + server_->Stderr() : std::string();
    return log.size() > max ? "..." + log.substr(log.size() - max) : log;
  }

  std::vector<std::string> server_args_;           // extra `tuna server` flags (set before SetUp)
  std::map<std::string, std::string> server_env_;  // extra environment of the server
  TempDir dir_;
  std::string python_;
  std::string token_;
  std::string port_;
  std::string url_;
  std::unique_ptr<Process> server_;
  std::unique_ptr<ApiClient> api_;
};

}  // namespace tuna::testing
