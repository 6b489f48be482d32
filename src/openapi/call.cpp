// Sending operation requests with libcurl and turning responses into MCP tool results.

#include <curl/curl.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <mutex>
#include <string>
#include <vector>

#include "openapi/internal.hpp"
#include "tuna/openapi.hpp"

namespace json = boost::json;

namespace tuna::openapi {
namespace {

using internal::Lower;
using internal::Truncate;

constexpr std::size_t kErrorExcerpt = 2048;  // body bytes shown with a non-2xx status

std::string StandardReason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

// The URL without its query (which may carry an apiKey): safe for messages.
std::string Redacted(const std::string& url) { return url.substr(0, url.find('?')); }

struct Transfer {
  HttpResult* result = nullptr;
  std::size_t max_bytes = 0;
  bool overflow = false;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {  // a status line (again after 100 Continue)
    t->result->reason.clear();
    auto sp1 = line.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 != std::string_view::npos) {
      std::string reason(line.substr(sp2 + 1));
      while (!reason.empty() && (reason.back() == '\r' || reason.back() == '\n')) reason.pop_back();
      t->result->reason = std::move(reason);
    }
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  std::size_t room = t->max_bytes - t->result->body.size();
  if (n > room) {
    t->result->body.append(data, room);
    t->overflow = true;
    return 0;  // stop reading: the rest is not wanted (curl answers CURLE_WRITE_ERROR)
  }
  t->result->body.append(data, n);
  return n;
}

class CurlCaller final : public HttpCaller {
 public:
  explicit CurlCaller(CallerOptions options) : options_(options) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }
  ~CurlCaller() override {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }

  Result<HttpResult> Send(const HttpRequest& request) override {
    CURL* curl = Acquire();
    if (curl == nullptr) return Internal("curl_easy_init failed");
    HttpResult result;
    Transfer t{&result, options_.max_response_bytes, false};
    char error_buffer[CURL_ERROR_SIZE] = {0};
    curl_slist* headers = nullptr;
    for (const auto& [name, value] : request.headers) {
      headers = curl_slist_append(headers, (name + ": " + value).c_str());
    }
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "tuna-openapi");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // credentials never follow a redirect elsewhere
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // gzip/deflate when the server offers
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    if (request.method == "GET") {
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
      if (!request.body.empty() || request.method == "POST" || request.method == "PUT" || request.method == "PATCH") {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      }
    }
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    result.status = static_cast<int>(code);
    char* ct = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != nullptr) result.content_type = ct;
    if (result.reason.empty()) result.reason = StandardReason(result.status);

    if (rc == CURLE_WRITE_ERROR && t.overflow) {
      curl_easy_cleanup(curl);  // the connection still holds the unread rest
      result.truncated = true;
      return result;
    }
    if (rc != CURLE_OK) {
      curl_easy_cleanup(curl);
      std::string what = error_buffer[0] != '\0' ? std::string(error_buffer) : std::string(curl_easy_strerror(rc));
      std::string target = request.method + " " + Redacted(request.url);
      if (rc == CURLE_OPERATION_TIMEDOUT) {
        return DeadlineExceeded(target + " timed out after " + std::to_string(options_.timeout.count()) + " ms (" + what + ")");
      }
      if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) return InvalidArgument(target + ": " + what);
      return Unavailable(target + " failed: " + what);
    }
    Release(curl);
    return result;
  }

 private:
  CURL* Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        curl_easy_reset(h);  // options only: the connection cache stays
        return h;
      }
    }
    return curl_easy_init();
  }
  void Release(CURL* h) {
    {
      std::lock_guard lock(mu_);
      if (idle_.size() < options_.max_idle_connections) {
        idle_.push_back(h);
        return;
      }
    }
    curl_easy_cleanup(h);
  }

  CallerOptions options_;
  std::mutex mu_;
  std::vector<CURL*> idle_;
};

bool IsTextual(std::string_view content_type) {
  std::string t = Lower(content_type);
  return t.empty() || t.rfind("text/", 0) == 0 || t.find("json") != std::string::npos ||
         t.find("xml") != std::string::npos || t.find("javascript") != std::string::npos ||
         t.find("x-www-form-urlencoded") != std::string::npos || t.find("yaml") != std::string::npos;
}

}  // namespace

HttpCallerPtr MakeHttpCaller(CallerOptions options) { return std::make_shared<CurlCaller>(options); }

mcp::ToolResult ToToolResult(const HttpResult& r) {
  std::string status_line = "HTTP " + std::to_string(r.status) + (r.reason.empty() ? "" : " " + r.reason);
  std::string cut_note = r.truncated ? "\n[response truncated after " + std::to_string(r.body.size()) + " bytes]" : "";
  if (r.status < 200 || r.status >= 300) {
    std::string text = status_line;
    if (!r.body.empty()) {
      text += "\n" + (IsTextual(r.content_type) ? Truncate(r.body, kErrorExcerpt)
                                                  : std::to_string(r.body.size()) + " bytes of " + r.content_type);
    }
    return mcp::ToolResult::Failure(text);
  }
  if (r.body.empty()) return mcp::ToolResult::Text(status_line + " (empty body)");
  if (!IsTextual(r.content_type)) {
    return mcp::ToolResult::Text(status_line + ": " + std::to_string(r.body.size()) + (r.truncated ? "+" : "") +
                                 " bytes of " + r.content_type + " (binary content is not shown)");
  }
  if (!r.truncated && Lower(r.content_type).find("json") != std::string::npos) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (!ec && v.is_object()) return mcp::ToolResult::Structured(std::move(v.as_object()));
  }
  return mcp::ToolResult::Text(r.body + cut_note);
}

Result<Document> FetchDocument(const std::string& url, CallerOptions options, std::size_t max_bytes) {
  options.max_response_bytes = max_bytes;
  HttpRequest request{"GET", url, {{"Accept", "application/json, application/yaml, text/yaml, */*;q=0.8"}}, ""};
  TUNA_ASSIGN_OR_RETURN(HttpResult got, MakeHttpCaller(options)->Send(request));
  if (got.truncated) {
    return ResourceExhausted("OpenAPI document " + Redacted(url) + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  if (got.status < 200 || got.status >= 300) {
    return Unavailable("fetching OpenAPI document " + Redacted(url) + ": HTTP " + std::to_string(got.status) + " " +
                       got.reason);
  }
  return LoadDocument(got.body, Redacted(url), url);
}

Result<Document> LoadSource(const OpenApiSource& source, const std::string& base_dir, CallerOptions options) {
  int given = !source.inline_document.is_null() + !source.file.empty() + !source.url.empty();
  if (given != 1) return InvalidArgument("exactly one of inline, file or url is needed", "spec.openapi");
  if (!source.inline_document.is_null()) return DocumentFromJson(source.inline_document, "spec.openapi.inline");
  if (!source.url.empty()) return FetchDocument(source.url, options);
  std::filesystem::path rel(source.file);
  if (rel.is_absolute()) return InvalidArgument("openapi.file must be relative", "spec.openapi.file");
  for (const auto& part : rel) {
    if (part == "..") return InvalidArgument("openapi.file must not leave its directory (\"..\")", "spec.openapi.file");
  }
  std::ifstream in(std::filesystem::path(base_dir) / rel, std::ios::binary);
  if (!in) return NotFound("cannot read OpenAPI document " + source.file);
  std::ostringstream text;
  text << in.rdbuf();
  return LoadDocument(text.str(), source.file);
}

ToolsetOptions OptionsFromSpec(const HTTPToolDeploymentSpec& spec, SecretResolver secrets) {
  ToolsetOptions options;
  options.convert.operations = spec.operations;
  options.base_url = spec.base_url;
  options.headers = spec.headers;
  options.credentials = spec.credentials;
  options.secrets = std::move(secrets);
  options.caller.timeout = std::chrono::seconds(spec.timeout_seconds.value_or(30));
  return options;
}

Result<std::vector<mcp::Tool>> MakeTools(const Document& document, const ToolsetOptions& options) {
  TUNA_ASSIGN_OR_RETURN(std::string base_url, ResolveBaseUrl(document, options.base_url));
  TUNA_ASSIGN_OR_RETURN(std::vector<Operation> operations, ListOperations(document, options.convert));
  if (options.credentials && !options.secrets) {
    return InvalidArgument("credentials are configured but no secret resolver was given", "spec.credentials");
  }
  struct Shared {
    Document document;
    RequestOptions request;
    std::optional<HttpCredentials> credentials;
    SecretResolver secrets;
    HttpCallerPtr http;
  };
  auto shared = std::make_shared<Shared>();
  shared->document = document;
  shared->request.base_url = base_url;
  shared->request.headers = options.headers;
  shared->credentials = options.credentials;
  shared->secrets = options.secrets;
  shared->http = options.http ? options.http : MakeHttpCaller(options.caller);

  std::vector<mcp::Tool> tools;
  tools.reserve(operations.size());
  for (auto& op : operations) {
    mcp::Tool tool;
    tool.name = op.tool_name;
    tool.title = op.title;
    tool.description = op.description;
    tool.input_schema = op.input_schema;
    auto operation = std::make_shared<const Operation>(std::move(op));
    tool.handler = [shared, operation](const json::object& arguments, const mcp::ToolContext&) -> Result<mcp::ToolResult> {
      RequestOptions request = shared->request;
      if (shared->credentials) {
        const HttpCredentials& c = *shared->credentials;
        auto secret = shared->secrets(c.secret_ref);
        if (!secret.ok()) {
          return mcp::ToolResult::Failure("credentials unavailable (secret " + c.secret_ref.name + "/" +
                                          c.secret_ref.key + "): " + secret.status().message());
        }
        request.credential = Credential{c.type, std::move(secret).value(), c.header_name, c.security_scheme};
      }
      auto built = BuildRequest(shared->document, *operation, arguments, request);
      if (!built.ok()) return mcp::ToolResult::Failure("invalid arguments: " + built.status().message());
      auto sent = shared->http->Send(*built);
      if (!sent.ok()) {
        std::string prefix = sent.status().code() == StatusCode::kDeadlineExceeded ? "timeout: " : "request failed: ";
        return mcp::ToolResult::Failure(prefix + sent.status().message());
      }
      return ToToolResult(*sent);
    };
    tools.push_back(std::move(tool));
  }
  return tools;
}

}  // namespace tuna::openapi
