#pragma once
// A small S3 REST client over libcurl, private to the library: one request at a time per call,
// SigV4 signing by libcurl (CURLOPT_AWS_SIGV4), a signed x-amz-content-sha256 on every request
// (body-less ones too: S3 and moto with signature checking require it), bounded time per
// request, and retries with exponential backoff and full jitter on connection errors, 5xx and
// 429, never on other 4xx. curl stays inside s3_client.cpp.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tuna/artifacts.hpp"
#include "tuna/status.hpp"

namespace tuna::artifacts {

struct S3Request {
  std::string method = "GET";        // GET, HEAD, PUT, POST, DELETE
  std::string key;                   // object key, not encoded; empty: the bucket itself
  std::string query;                 // canonical query (sorted, encoded, "name=value"), no '?'
  std::string_view body;             // for PUT and POST; must outlive Send()
  std::vector<std::string> headers;  // extra "Name: value" headers (signed)
  // When set, a 2xx body goes to this file (truncated before each attempt) and is hashed.
  const std::filesystem::path* response_file = nullptr;
};

struct S3Response {
  long http_status = 0;
  std::string body;           // the body, unless a 2xx body went to the response file
  std::string etag;           // ETag header, quotes included
  std::string error_code;     // <Code> of an XML error body ("NoSuchBucket")
  std::string error_message;  // <Message> of an XML error body
  Digest file_digest;         // sha256 of what went to the response file
  int attempts = 0;
  /// 2xx without an <Error> body (CompleteMultipartUpload can fail with a 200).
  bool ok() const { return http_status >= 200 && http_status < 300 && error_code.empty(); }
};

class S3Client {
 public:
  explicit S3Client(S3ArtifactStoreOptions options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  /// Sends `request`, retrying transient failures. An HTTP error is a response, not a Status;
  /// the Status is for failures to get any answer (after the retries).
  Result<S3Response> Send(const S3Request& request);

  /// A Status for a failed response, naming the operation, bucket/key and S3's Code/Message.
  Status ErrorStatus(const S3Request& request, const S3Response& response) const;

  /// "s3://bucket/key" (for messages).
  std::string Describe(std::string_view key) const;

  /// The request URL for `key` and `query`.
  std::string Url(std::string_view key, std::string_view query) const;

  const S3ArtifactStoreOptions& options() const { return options_; }

 private:
  Result<S3Response> SendOnce(const S3Request& request, bool* retryable);
  void* Acquire();
  void Release(void* handle);

  S3ArtifactStoreOptions options_;
  std::string scheme_host_;  // "http://127.0.0.1:9000" (virtual-hosted: with the bucket)
  std::string base_path_;    // path of the endpoint, without a trailing '/'
  std::string sigv4_;        // "aws:amz:REGION:s3"
  std::string userpwd_;      // "access:secret"
  std::mutex mu_;
  std::vector<void*> idle_;  // curl handles with live connections
};

/// The text of the first <tag>...</tag> element in `xml`, entities decoded; empty if absent.
std::string XmlElementText(std::string_view xml, std::string_view tag);

/// Every <tag>...</tag> element's text, in order.
std::vector<std::string> XmlElementTexts(std::string_view xml, std::string_view tag);

/// Percent-encodes all but RFC 3986 unreserved characters (and '/' when `keep_slash`), upper-case hex.
std::string UriEncode(std::string_view text, bool keep_slash);

/// Escapes &, <, >, " and ' for XML text.
std::string XmlEscape(std::string_view text);

}  // namespace tuna::artifacts
