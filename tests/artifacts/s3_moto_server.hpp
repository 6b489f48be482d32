#pragma once
// Test helper: one real moto_server (an AWS-API-compatible server) per test binary, on
// 127.0.0.1 and a free port, with SigV4 signature checking on. moto checks signatures only
// after INITIAL_NO_AUTH_ACTION_COUNT unauthenticated actions: the setup actions create an IAM
// user, its access key and an s3:* policy (and a role assumed through STS, for temporary
// credentials), then POST /moto-api/reset-auth 0 turns checking on: every request after that
// must be signed with those keys. Started on first use, killed when the test binary exits. If moto cannot be started the
// helper reports why and the tests FAIL (CI installs moto; a skip would hide a broken setup).
// Header-only because the test target compiles only tests/**/*_test.cpp and tests/support/*.cpp.

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "artifacts/s3_client.hpp"
#include "cli/process.hpp"
#include "tuna/artifacts.hpp"

extern char** environ;

namespace tuna::testing {

class MotoServer {
 public:
  /// The one moto_server of this test binary, started on first use.
  static MotoServer& Get() {
    static MotoServer server;
    return server;
  }

  /// Empty when the server runs with signature checking on; otherwise why it does not.
  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty(); }
  const std::string& endpoint() const { return endpoint_; }
  const std::string& access_key() const { return access_key_; }
  const std::string& secret_key() const { return secret_key_; }
  /// Temporary credentials of an assumed role allowed s3:* (key, secret, session token).
  const std::string& session_access_key() const { return session_access_key_; }
  const std::string& session_secret_key() const { return session_secret_key_; }
  const std::string& session_token() const { return session_token_; }

  /// Store options for `bucket` with the server's valid credentials and small test timeouts.
  S3ArtifactStoreOptions Options(const std::string& bucket) const {
    S3ArtifactStoreOptions options;
    options.endpoint = endpoint_;
    options.bucket = bucket;
    options.access_key = access_key_;
    options.secret_key = secret_key_;
    options.request_timeout = std::chrono::seconds(60);
    options.retry_base_delay = std::chrono::milliseconds(10);
    return options;
  }

  /// Creates a fresh bucket through the store's own signed client; its name, or "" on failure
  /// (with the reason in `why`).
  std::string NewBucket(std::string* why = nullptr) {
    static std::atomic<int> counter{0};
    std::string bucket = "tuna-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    artifacts::S3Client client(Options(bucket));
    artifacts::S3Request request{.method = "PUT"};
    auto response = client.Send(request);
    if (!response.ok() || !response->ok()) {
      if (why) {
        *why = !response.ok() ? response.status().ToString() : client.ErrorStatus(request, *response).ToString();
      }
      return "";
    }
    return bucket;
  }

  ~MotoServer() {
    if (process_) {
      process_->Kill(SIGKILL);
      process_->Wait(std::chrono::seconds(10));
    }
  }

 private:
  MotoServer() {
    error_ = Start();
    if (!error_.empty()) error_ = "moto_server is needed for the S3 tests and could not be started: " + error_;
  }

  static std::map<std::string, std::string> Environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
      std::string entry(*e);
      auto eq = entry.find('=');
      if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    return env;
  }

  // The interpreter that has moto: $TUNA_PYTHON, else python3 on PATH (a pyenv shim resolves
  // to the real interpreter through sys.executable).
  static std::string FindPython(std::string& error) {
    std::vector<std::string> candidates;
    if (const char* p = std::getenv("TUNA_PYTHON"); p && *p) candidates.push_back(p);
    if (const char* path = std::getenv("PATH")) {
      std::string all(path);
      std::size_t start = 0;
      while (start <= all.size()) {
        auto end = all.find(':', start);
        if (end == std::string::npos) end = all.size();
        std::string dir = all.substr(start, end - start);
        if (!dir.empty() && ::access((dir + "/python3").c_str(), X_OK) == 0) candidates.push_back(dir + "/python3");
        start = end + 1;
      }
    }
    for (const auto& candidate : candidates) {
      ProcessOptions options;
      options.args = {"-c", "import sys, moto.server; print(sys.executable)"};
      options.env = Environment();
      ProcessResult r = RunProcess(candidate, options, std::chrono::seconds(60));
      if (r.exit_code == 0) {
        std::string exe = r.out.substr(0, r.out.find('\n'));
        if (!exe.empty()) return exe;
      }
      error += candidate + ": " + (r.err.empty() ? "exit " + std::to_string(r.exit_code) : r.err.substr(0, 300)) + "; ";
    }
    if (candidates.empty()) error += "no python3 on PATH; ";
    return "";
  }

  static int FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    int port = -1;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

  static size_t Collect(char* data, size_t size, size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
  }

  // One request with curl; `service` non-empty: SigV4-signed for it (moto routes by the scope).
  static long Http(const std::string& method, const std::string& url, const std::string& body,
                   const std::string& service, std::string& out) {
    CURL* curl = curl_easy_init();
    if (!curl) return 0;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
    std::string sigv4 = "aws:amz:us-east-1:" + service;
    if (!service.empty()) {
      curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
      curl_easy_setopt(curl, CURLOPT_USERPWD, "AKIATUNASETUP:setup");
    }
    curl_slist* headers = nullptr;
    if (method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
      curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, body.c_str());
      // AWS query actions are forms; moto-api reads a raw body, which Flask hides for forms.
      if (service.empty()) headers = curl_slist_append(headers, "Content-Type: text/plain");
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    }
    long code = 0;
    if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    return code;
  }

  static std::string Escape(const std::string& text) { return artifacts::UriEncode(text, false); }

  std::string Start() {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    std::string error;
    std::string python = FindPython(error);
    if (python.empty()) {
      return "no Python interpreter with moto found (" + error +
             ") (install it with: pip install 'moto[server]'; scripts/test.sh does)";
    }
    for (int attempt = 0; attempt < 3; ++attempt) {  // another process may take the free port first
      int port = FreePort();
      if (port <= 0) return "cannot find a free port";
      ProcessOptions options;
      // `python -m moto.server -H 127.0.0.1 -p PORT`, after prctl(PR_SET_PDEATHSIG, SIGKILL):
      // a test that crashes must not leave a server behind.
      options.args = {"-c",
                      "import ctypes, os, runpy, sys\n"
                      "ctypes.CDLL(None).prctl(1, 9)\n"
                      "if os.getppid() != " + std::to_string(::getpid()) + ": sys.exit(1)\n"
                      "sys.argv = ['moto_server', '-H', '127.0.0.1', '-p', '" + std::to_string(port) + "']\n"
                      "runpy.run_module('moto.server', run_name='__main__', alter_sys=True)\n"};
      options.env = Environment();
      // Unsigned setup actions below are allowed; reset-auth then turns checking on for good.
      options.env["INITIAL_NO_AUTH_ACTION_COUNT"] = "1000";
      std::string spawn_error;
      process_ = Process::Spawn(python, options, &spawn_error);
      if (!process_) return "cannot start " + python + ": " + spawn_error;
      endpoint_ = "http://127.0.0.1:" + std::to_string(port);
      bool ready = false;
      for (int i = 0; i < 600 && !ready; ++i) {  // up to a minute on a loaded machine
        if (process_->Wait(std::chrono::milliseconds(0)).exit_code != -1) break;
        std::string body;
        // /moto-api/ requests are not AWS actions: they do not use up the no-auth count.
        ready = Http("GET", endpoint_ + "/moto-api/data.json", "", "", body) == 200;
        if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (ready) break;
      std::string err = process_->Stderr();
      process_->Kill(SIGKILL);
      process_->Wait(std::chrono::seconds(10));
      process_.reset();
      if (attempt == 2) return "moto_server did not answer on " + endpoint_ + ": " + err.substr(0, 2000);
    }
    std::string out;
    const std::string iam = endpoint_ + "/";
    if (Http("POST", iam, "Action=CreateUser&UserName=tuna&Version=2010-05-08", "iam", out) != 200) {
      return "IAM CreateUser failed: " + out;
    }
    out.clear();
    if (Http("POST", iam, "Action=CreateAccessKey&UserName=tuna&Version=2010-05-08", "iam", out) != 200) {
      return "IAM CreateAccessKey failed: " + out;
    }
    access_key_ = artifacts::XmlElementText(out, "AccessKeyId");
    secret_key_ = artifacts::XmlElementText(out, "SecretAccessKey");
    if (access_key_.empty() || secret_key_.empty()) return "IAM CreateAccessKey returned no key: " + out;
    out.clear();
    std::string policy = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]})";
    if (Http("POST", iam,
             "Action=PutUserPolicy&UserName=tuna&PolicyName=s3&Version=2010-05-08&PolicyDocument=" + Escape(policy),
             "iam", out) != 200) {
      return "IAM PutUserPolicy failed: " + out;
    }
    // Temporary credentials (for session_token): a role allowed s3:*, assumed through STS.
    out.clear();
    std::string trust =
        R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]})";
    if (Http("POST", iam,
             "Action=CreateRole&RoleName=tuna-role&Version=2010-05-08&AssumeRolePolicyDocument=" + Escape(trust), "iam",
             out) != 200) {
      return "IAM CreateRole failed: " + out;
    }
    std::string role_arn = artifacts::XmlElementText(out, "Arn");
    out.clear();
    if (Http("POST", iam,
             "Action=PutRolePolicy&RoleName=tuna-role&PolicyName=s3&Version=2010-05-08&PolicyDocument=" +
                 Escape(policy),
             "iam", out) != 200) {
      return "IAM PutRolePolicy failed: " + out;
    }
    out.clear();
    if (Http("POST", iam,
             "Action=AssumeRole&RoleSessionName=tuna&Version=2011-06-15&RoleArn=" + Escape(role_arn), "sts",
             out) != 200) {
      return "STS AssumeRole failed: " + out;
    }
    session_access_key_ = artifacts::XmlElementText(out, "AccessKeyId");
    session_secret_key_ = artifacts::XmlElementText(out, "SecretAccessKey");
    session_token_ = artifacts::XmlElementText(out, "SessionToken");
    if (session_token_.empty()) return "STS AssumeRole returned no credentials: " + out;
    // Setup done: from now on moto checks every signature (moto's documented switch for
    // server mode; it also resets the count of unauthenticated actions).
    out.clear();
    if (Http("POST", endpoint_ + "/moto-api/reset-auth", "0", "", out) != 200) {
      return "POST /moto-api/reset-auth failed: " + out;
    }
    return "";
  }

  std::unique_ptr<Process> process_;
  std::string error_;
  std::string endpoint_;
  std::string access_key_;
  std::string secret_key_;
  std::string session_access_key_;
  std::string session_secret_key_;
  std::string session_token_;
};

}  // namespace tuna::testing
