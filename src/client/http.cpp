#include "client/http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "tuna/version.hpp"

namespace tuna::internal {
namespace {

constexpr std::size_t kMaxIdleHandles = 8;
constexpr std::size_t kMaxErrorBody = 1 << 20;  // an error body beyond this is cut

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool IStartsWith(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// State shared with the curl callbacks of one transfer.
struct Transfer {
  CURL* curl = nullptr;
  HttpResponse* response = nullptr;
  const BodySink* sink = nullptr;  // null: buffer the whole body
  const CancelToken* cancel = nullptr;
  bool stopped = false;    // the sink asked to stop
  bool cancelled = false;  // the cancel token fired
  bool status_known = false;
  bool streaming = false;  // 2xx and a sink: pass the body on
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  constexpr std::string_view kRequestId = "x-request-id:";
  if (IStartsWith(line, kRequestId)) t->response->request_id = Trim(line.substr(kRequestId.size()));
  // A new status line (after a 100 Continue or a redirect) resets what we learned.
  if (IStartsWith(line, "HTTP/")) t->status_known = false;
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  if (!t->status_known) {
    long code = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
    t->response->status = static_cast<int>(code);
    t->status_known = true;
    t->streaming = t->sink != nullptr && code >= 200 && code < 300;
  }
  if (t->streaming) {
    if (!(*t->sink)(std::string_view(data, n))) {
      t->stopped = true;
      return 0;  // makes curl end the transfer with CURLE_WRITE_ERROR
    }
    return n;
  }
  if (t->sink != nullptr && t->response->body.size() + n > kMaxErrorBody) return n;
  t->response->body.append(data, n);
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->cancel != nullptr && t->cancel->cancelled()) {
    t->cancelled = true;
    return 1;
  }
  return 0;
}

}  // namespace

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

HttpTransport::HttpTransport(ClientOptions options) : options_(std::move(options)) {
  GlobalInit();
  if (options_.user_agent.empty()) options_.user_agent = std::string("tuna-client/") + TUNA_VERSION;
}

HttpTransport::~HttpTransport() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpTransport::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      curl_easy_reset(static_cast<CURL*>(h));  // keeps live connections
      return h;
    }
  }
  return curl_easy_init();
}

void HttpTransport::Release(void* handle) {
  if (handle == nullptr) return;
  {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdleHandles) {
      idle_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

Status HttpTransport::TransportError(int curl_code, const std::string& detail) const {
  auto code = static_cast<CURLcode>(curl_code);
  std::string what = detail.empty() ? std::string(curl_easy_strerror(code)) : detail;
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return DeadlineExceeded("request to tuna server at " + options_.server + " timed out (" + what +
                              "); is `tuna server` running and reachable?");
    case CURLE_ABORTED_BY_CALLBACK:
      return Status(StatusCode::kCancelled, "request to " + options_.server + " was cancelled");
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return InvalidArgument("invalid server URL \"" + options_.server + "\": " + what);
    default:
      return Unavailable("cannot reach tuna server at " + options_.server + ": " + what +
                         "; is `tuna server` running?");
  }
}

Result<HttpResponse> HttpTransport::Do(const HttpRequest& request) {
  bool stopped = false;
  return Stream(request, BodySink(), nullptr, stopped);
}

Result<HttpResponse> HttpTransport::Stream(const HttpRequest& request, const BodySink& sink,
                                           const CancelToken* cancel, bool& stopped) {
  CURL* curl = static_cast<CURL*>(Acquire());
  if (curl == nullptr) return Internal("cannot create an HTTP handle (curl_easy_init failed)");

  HttpResponse response;
  Transfer t;
  t.curl = curl;
  t.response = &response;
  t.sink = sink ? &sink : nullptr;
  t.cancel = cancel;

  std::string url = options_.server + request.target;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  if (!request.content_type.empty()) {
    headers = curl_slist_append(headers, ("Content-Type: " + request.content_type).c_str());
  }
  if (request.authorize && !options_.token.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + options_.token).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip for bodies

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  if (!sink) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  if (cancel != nullptr) {
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  }
  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty() || request.method != "DELETE") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
  }

  CURLcode rc = curl_easy_perform(curl);
  if (!t.status_known) {
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    response.status = static_cast<int>(code);
  }
  curl_slist_free_all(headers);
  stopped = t.stopped;

  if (rc == CURLE_WRITE_ERROR && t.stopped) {
    // The sink ended the stream: the connection is in an unknown state, drop it.
    curl_easy_cleanup(curl);
    return response;
  }
  if (rc != CURLE_OK) {
    curl_easy_cleanup(curl);
    if (t.cancelled) return Status(StatusCode::kCancelled, "watch on " + options_.server + " was cancelled");
    return TransportError(rc, error_buffer);
  }
  Release(curl);
  return response;
}

}  // namespace tuna::internal
