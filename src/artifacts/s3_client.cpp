#include "artifacts/s3_client.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "artifacts/file_util.hpp"
#include "artifacts/sha256.hpp"

namespace tuna::artifacts {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Every body-less request carries the hash of the empty payload.
constexpr std::string_view kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string HexOf(const Digest& digest) { return digest.size() > 7 ? digest.substr(7) : std::string(); }

// State of one transfer shared with the curl callbacks.
struct Transfer {
  CURL* curl = nullptr;
  S3Response* response = nullptr;
  int file_fd = -1;           // the response file, for 2xx bodies
  Sha256Hasher* hasher = nullptr;
  int write_errno = 0;
};

size_t OnWrite(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  long code = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
  if (t->file_fd >= 0 && code >= 200 && code < 300) {
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::write(t->file_fd, data + done, n - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        t->write_errno = errno;
        return 0;  // ends the transfer with CURLE_WRITE_ERROR
      }
      done += static_cast<size_t>(w);
    }
    t->hasher->Update(std::string_view(data, n));
    return n;
  }
  // Error bodies are small XML documents; cap what is kept.
  if (t->response->body.size() < (1u << 20)) t->response->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (name == "etag") {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
      }
      t->response->etag = std::string(value);
    }
  }
  return n;
}

bool RetryableCurlCode(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool RetryableHttp(const S3Response& response) {
  if (response.http_status >= 500 || response.http_status == 429) return true;
  // S3 throttles with SlowDown (503) and can report an internal error inside a 200.
  return response.error_code == "SlowDown" || response.error_code == "InternalError";
}

std::string Unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out.push_back(text[i]);
      continue;
    }
    auto end = text.find(';', i);
    if (end == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    std::string_view entity = text.substr(i + 1, end - i - 1);
    if (entity == "amp") out.push_back('&');
    else if (entity == "lt") out.push_back('<');
    else if (entity == "gt") out.push_back('>');
    else if (entity == "quot") out.push_back('"');
    else if (entity == "apos") out.push_back('\'');
    else out.append(text.substr(i, end - i + 1));
    i = end;
  }
  return out;
}

}  // namespace

std::vector<std::string> XmlElementTexts(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  std::size_t pos = 0;
  for (;;) {
    auto start = xml.find(open, pos);
    if (start == std::string_view::npos) break;
    start += open.size();
    auto end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    out.push_back(Unescape(xml.substr(start, end - start)));
    pos = end + close.size();
  }
  return out;
}

std::string XmlElementText(std::string_view xml, std::string_view tag) {
  auto all = XmlElementTexts(xml, tag);
  return all.empty() ? std::string() : all.front();
}

std::string UriEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

S3Client::S3Client(S3ArtifactStoreOptions options) : options_(std::move(options)) {
  GlobalInit();
  std::string endpoint = options_.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  auto scheme_end = endpoint.find("://");
  std::string scheme = scheme_end == std::string::npos ? "https" : endpoint.substr(0, scheme_end);
  std::string rest = scheme_end == std::string::npos ? endpoint : endpoint.substr(scheme_end + 3);
  auto slash = rest.find('/');
  std::string host = rest.substr(0, slash);
  base_path_ = slash == std::string::npos ? std::string() : rest.substr(slash);
  scheme_host_ = scheme + "://" + (options_.path_style ? host : options_.bucket + "." + host);
  sigv4_ = "aws:amz:" + options_.region + ":s3";
  userpwd_ = options_.access_key + ":" + options_.secret_key;
}

S3Client::~S3Client() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* S3Client::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      curl_easy_reset(static_cast<CURL*>(h));  // keeps its live connections
      return h;
    }
  }
  return curl_easy_init();
}

void S3Client::Release(void* handle) {
  std::lock_guard lock(mu_);
  if (idle_.size() < 16) {
    idle_.push_back(handle);
    return;
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

std::string S3Client::Url(std::string_view key, std::string_view query) const {
  std::string url = scheme_host_ + base_path_;
  if (options_.path_style) url += "/" + UriEncode(options_.bucket, false);
  if (!key.empty()) url += "/" + UriEncode(key, true);
  else if (!options_.path_style) url += "/";
  if (!query.empty()) url += "?" + std::string(query);
  return url;
}

std::string S3Client::Describe(std::string_view key) const {
  return "s3://" + options_.bucket + "/" + std::string(key);
}

Result<S3Response> S3Client::SendOnce(const S3Request& request, bool* retryable) {
  *retryable = false;
  S3Response response;
  CURL* curl = static_cast<CURL*>(Acquire());
  if (curl == nullptr) return Internal("cannot create an HTTP handle (curl_easy_init failed)");

  int file_fd = -1;
  Sha256Hasher hasher;
  if (request.response_file != nullptr) {
    file_fd = ::open(request.response_file->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (file_fd < 0) {
      Release(curl);
      return ErrnoStatus("create", *request.response_file, errno);
    }
  }
  Transfer t;
  t.curl = curl;
  t.response = &response;
  t.file_fd = file_fd;
  t.hasher = &hasher;

  const bool has_body = request.method == "PUT" || request.method == "POST";
  std::string payload_hash = has_body ? HexOf(Sha256Bytes(request.body)) : std::string(kEmptySha256);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("x-amz-content-sha256: " + payload_hash).c_str());
  if (!options_.session_token.empty()) {
    headers = curl_slist_append(headers, ("x-amz-security-token: " + options_.session_token).c_str());
  }
  // No "Expect:" header to turn 100-continue off: libcurl 7.88 signs that empty header but does
  // not send it, and the signature no longer matches. 100-continue is useful anyway: S3 can
  // refuse a part before its body is sent.
  bool has_content_type = false;
  for (const auto& h : request.headers) {
    headers = curl_slist_append(headers, h.c_str());
    if (h.size() >= 13 && strncasecmp(h.c_str(), "content-type:", 13) == 0) has_content_type = true;
  }
  // Set explicitly so libcurl's POST default (form-urlencoded) never appears.
  if (has_body && !has_content_type) headers = curl_slist_append(headers, "Content-Type: application/octet-stream");

  std::string url = Url(request.key, request.query);
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "tuna-s3/0.1");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
  if (!options_.access_key.empty() || !options_.secret_key.empty()) {
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4_.c_str());
    curl_easy_setopt(curl, CURLOPT_USERPWD, userpwd_.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (has_body) {
    // POSTFIELDS (not an upload callback): libcurl's SigV4 then hashes exactly these bytes,
    // which match the x-amz-content-sha256 header we set.
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.empty() ? "" : request.body.data());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.http_status);
  curl_slist_free_all(headers);
  if (file_fd >= 0) ::close(file_fd);
  if (rc != CURLE_OK) {
    curl_easy_cleanup(curl);  // its connection may be broken: do not reuse
    std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
    if (t.write_errno != 0) {
      return ErrnoStatus("write", *request.response_file, t.write_errno);
    }
    *retryable = RetryableCurlCode(rc);
    std::string what = request.method + " " + Describe(request.key) + " at " + options_.endpoint + ": " + detail;
    if (rc == CURLE_OPERATION_TIMEDOUT) return DeadlineExceeded("S3 request timed out: " + what);
    if (*retryable) return Unavailable("cannot reach S3: " + what);
    return Internal("S3 request failed: " + what);
  }
  Release(curl);
  if (file_fd >= 0 && response.http_status >= 200 && response.http_status < 300) {
    response.file_digest = hasher.Finish();
  }
  if (response.body.find("<Error>") != std::string::npos) {
    response.error_code = XmlElementText(response.body, "Code");
    response.error_message = XmlElementText(response.body, "Message");
    if (response.error_code.empty()) response.error_code = "UnknownError";
  }
  *retryable = RetryableHttp(response);
  return response;
}

Result<S3Response> S3Client::Send(const S3Request& request) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const int attempts = std::max(0, options_.max_retries) + 1;
  for (int attempt = 1;; ++attempt) {
    bool retryable = false;
    Result<S3Response> result = SendOnce(request, &retryable);
    if (result.ok()) result->attempts = attempt;
    if (!retryable || attempt >= attempts) {
      if (!result.ok() && attempt > 1) {
        return Status(result.status().code(),
                      result.status().message() + " (after " + std::to_string(attempt) + " attempts)");
      }
      return result;
    }
    // Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))].
    auto cap = options_.retry_base_delay * (std::int64_t{1} << std::min(attempt - 1, 20));
    cap = std::min<std::chrono::milliseconds>(cap, options_.retry_max_delay);
    std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(0, cap.count()));
    std::this_thread::sleep_for(std::chrono::milliseconds(pick(rng)));
  }
}

Status S3Client::ErrorStatus(const S3Request& request, const S3Response& response) const {
  const std::string& code = response.error_code;
  std::string where = Describe(request.key);
  std::string s3_says = code.empty() ? "HTTP " + std::to_string(response.http_status)
                                     : code + (response.error_message.empty() ? "" : ": " + response.error_message);
  std::string op = request.method + " " + where;
  std::string attempts = response.attempts > 1 ? " (after " + std::to_string(response.attempts) + " attempts)" : "";
  if (code == "NoSuchBucket") {
    return FailedPrecondition("S3 bucket '" + options_.bucket + "' does not exist at " + options_.endpoint + " (" +
                              op + ": " + s3_says + ")");
  }
  if (code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId" || code == "InvalidToken" ||
      code == "ExpiredToken" || code == "TokenRefreshRequired" || code == "AuthorizationHeaderMalformed" ||
      code == "MissingSecurityHeader" || (code.empty() && response.http_status == 401)) {
    return PermissionDenied("S3 rejected the credentials (access key '" + options_.access_key + "', region '" +
                            options_.region + "') for bucket '" + options_.bucket + "': " + op + ": " + s3_says);
  }
  if (code == "AccessDenied" || code == "AllAccessDisabled" || response.http_status == 403) {
    return PermissionDenied("S3 denied access to " + where + " (access key '" + options_.access_key +
                            "'): " + op + ": " + s3_says +
                            (code.empty() ? " (the credentials are wrong or lack permission)" : ""));
  }
  if (code == "NoSuchKey" || code == "NoSuchUpload" || response.http_status == 404) {
    return NotFound("S3 has no " + where + ": " + op + ": " + s3_says);
  }
  if (code == "RequestTimeTooSkewed") {
    return FailedPrecondition("S3 refused " + op + ": the local clock is off: " + s3_says);
  }
  if (response.http_status == 429 || code == "SlowDown" || response.http_status == 503) {
    return Unavailable("S3 throttled " + op + ": " + s3_says + attempts);
  }
  if (response.http_status >= 500 || code == "InternalError") {
    return Unavailable("S3 failed " + op + ": " + s3_says + attempts);
  }
  if (response.http_status == 412) return FailedPrecondition("S3 refused " + op + ": " + s3_says);
  return Internal("S3 refused " + op + ": " + s3_says);
}

}  // namespace tuna::artifacts
