// S3ArtifactStore against a real moto_server with signature checking on (see s3_moto_server.hpp);
// the behaviour shared with the local store is in artifact_store_test.cpp. Retry policy is
// checked against a scripted HTTP peer that answers like S3 does (XML error bodies), because
// moto cannot be made to fail on demand.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "support/files.hpp"
#include "artifacts/s3_client.hpp"
#include "artifacts/s3_moto_server.hpp"
#include "support/temp_dir.hpp"
#include "tuna/artifacts.hpp"

namespace tuna {
namespace {
using testing::ReadFile;
using testing::WriteFile;

namespace fs = std::filesystem;
using testing::MotoServer;
using testing::TempDir;



// Content that does not repeat at part boundaries, so a misordered part changes the digest.
std::string Pattern(std::size_t size) {
  std::string out(size, '\0');
  std::uint32_t x = 2463534242u;
  for (std::size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<char>(x);
  }
  return out;
}

class S3ArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(moto().ok()) << moto().error();
    std::string why;
    bucket_ = moto().NewBucket(&why);
    ASSERT_FALSE(bucket_.empty()) << why;
  }
  static MotoServer& moto() { return MotoServer::Get(); }
  S3ArtifactStoreOptions Options() const { return moto().Options(bucket_); }
  ArtifactStorePtr Make(const S3ArtifactStoreOptions& options) {
    auto store = MakeS3ArtifactStore(options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  TempDir dir_;
  std::string bucket_;
};

TEST_F(S3ArtifactStoreTest, ServerChecksSignatures) {
  // Proves the fixture is meaningful: this moto_server refuses unsigned requests. (moto answers
  // them with a 500, a KeyError on the missing Authorization header, so no retries here.)
  S3ArtifactStoreOptions anonymous = Options();
  anonymous.access_key.clear();
  anonymous.secret_key.clear();
  anonymous.max_retries = 0;
  auto store = Make(anonymous);
  ASSERT_NE(store, nullptr);
  auto contains = store->Contains(Sha256Bytes("x"));
  EXPECT_FALSE(contains.ok());
  auto put = store->PutBytes("unsigned");
  EXPECT_FALSE(put.ok());
  // The same request signed with the right key is accepted.
  auto signed_store = Make(Options());
  ASSERT_NE(signed_store, nullptr);
  auto signed_contains = signed_store->Contains(Sha256Bytes("x"));
  ASSERT_TRUE(signed_contains.ok()) << signed_contains.status().ToString();
  EXPECT_FALSE(*signed_contains);
}

TEST_F(S3ArtifactStoreTest, WrongSecretIsPermissionDenied) {
  S3ArtifactStoreOptions options = Options();
  options.secret_key = "not-the-secret";
  auto store = Make(options);
  ASSERT_NE(store, nullptr);
  auto put = store->PutBytes("some bytes");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), StatusCode::kPermissionDenied) << put.status().ToString();
  EXPECT_NE(put.status().message().find("S3 rejected the credentials"), std::string::npos) << put.status().ToString();
  EXPECT_NE(put.status().message().find("SignatureDoesNotMatch"), std::string::npos) << put.status().ToString();
  EXPECT_NE(put.status().message().find(bucket_), std::string::npos) << put.status().ToString();

  Status fetch = store->Fetch(Sha256Bytes("some bytes"), dir_ / "out");
  EXPECT_EQ(fetch.code(), StatusCode::kPermissionDenied) << fetch.ToString();
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  EXPECT_EQ(store->Remove(Sha256Bytes("x")).code(), StatusCode::kPermissionDenied);

  options.access_key = "AKIANOSUCHKEY0000000";
  auto unknown_key = Make(options);
  ASSERT_NE(unknown_key, nullptr);
  auto contains = unknown_key->Contains(Sha256Bytes("x"));
  EXPECT_EQ(contains.status().code(), StatusCode::kPermissionDenied) << contains.status().ToString();
  EXPECT_NE(contains.status().message().find("InvalidAccessKeyId"), std::string::npos)
      << contains.status().ToString();
}

TEST_F(S3ArtifactStoreTest, TemporaryCredentialsNeedTheSessionToken) {
  S3ArtifactStoreOptions options = Options();
  options.access_key = moto().session_access_key();
  options.secret_key = moto().session_secret_key();
  options.session_token = moto().session_token();
  auto store = Make(options);
  ASSERT_NE(store, nullptr);
  auto digest = store->PutBytes("with a session token");
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  ASSERT_TRUE(store->Fetch(*digest, dir_ / "out").ok());
  EXPECT_EQ(ReadFile(dir_ / "out"), "with a session token");

  options.session_token.clear();
  auto without = Make(options);
  ASSERT_NE(without, nullptr);
  auto contains = without->Contains(*digest);
  EXPECT_EQ(contains.status().code(), StatusCode::kPermissionDenied) << contains.status().ToString();
}

TEST_F(S3ArtifactStoreTest, MissingBucketIsAClearError) {
  S3ArtifactStoreOptions options = Options();
  options.bucket = "no-such-bucket-" + bucket_;
  auto store = Make(options);
  ASSERT_NE(store, nullptr);
  const std::string expected = "bucket '" + options.bucket + "' does not exist";

  auto put = store->PutBytes("bytes");
  EXPECT_EQ(put.status().code(), StatusCode::kFailedPrecondition) << put.status().ToString();
  EXPECT_NE(put.status().message().find(expected), std::string::npos) << put.status().ToString();

  auto contains = store->Contains(Sha256Bytes("bytes"));
  EXPECT_EQ(contains.status().code(), StatusCode::kFailedPrecondition) << contains.status().ToString();
  EXPECT_NE(contains.status().message().find(expected), std::string::npos) << contains.status().ToString();

  Status fetch = store->Fetch(Sha256Bytes("bytes"), dir_ / "out");
  EXPECT_EQ(fetch.code(), StatusCode::kFailedPrecondition) << fetch.ToString();
  EXPECT_NE(fetch.message().find(expected), std::string::npos) << fetch.ToString();
  EXPECT_FALSE(fs::exists(dir_ / "out"));

  Status remove = store->Remove(Sha256Bytes("bytes"));
  EXPECT_EQ(remove.code(), StatusCode::kFailedPrecondition) << remove.ToString();
}

TEST_F(S3ArtifactStoreTest, KeysAreUnderThePrefix) {
  S3ArtifactStoreOptions options = Options();
  options.prefix = "tuna/artifacts/";
  auto store = Make(options);
  ASSERT_NE(store, nullptr);
  auto digest = store->PutBytes("prefixed");
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  artifacts::S3Client client(options);
  artifacts::S3Request list{.method = "GET", .query = "list-type=2"};
  auto listed = client.Send(list);
  ASSERT_TRUE(listed.ok() && listed->ok());
  auto keys = artifacts::XmlElementTexts(listed->body, "Key");
  ASSERT_EQ(keys.size(), 1u) << listed->body;
  EXPECT_EQ(keys[0], "tuna/artifacts/" + digest->substr(7));
}

TEST_F(S3ArtifactStoreTest, PutSkipsUploadWhenObjectExists) {
  auto store = Make(Options());
  ASSERT_NE(store, nullptr);
  auto digest = store->PutBytes("content");
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  // Overwrite the object behind the store's back: a second Put must see the object (HEAD) and
  // not upload again, so the foreign bytes stay, and Fetch catches them.
  artifacts::S3Client client(Options());
  artifacts::S3Request put{.method = "PUT", .key = digest->substr(7), .body = "foreign"};
  auto response = client.Send(put);
  ASSERT_TRUE(response.ok() && response->ok());
  auto again = store->PutBytes("content");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *digest);
  Status fetch = store->Fetch(*digest, dir_ / "out");
  EXPECT_EQ(fetch.code(), StatusCode::kInternal) << fetch.ToString();
}

TEST_F(S3ArtifactStoreTest, LargeArchiveUsesMultipartAndVerifiesOnFetch) {
  S3ArtifactStoreOptions options = Options();
  options.multipart_threshold = std::uint64_t{5} << 20;
  options.part_size = std::uint64_t{5} << 20;
  auto store = Make(options);
  ASSERT_NE(store, nullptr);
  std::string content = Pattern(std::size_t{12} << 20);  // 3 parts: 5 + 5 + 2 MiB
  WriteFile(dir_ / "archive.tar.gz", content);

  auto digest = store->Put(dir_ / "archive.tar.gz");
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, Sha256Bytes(content));

  // A multipart object's ETag is "<md5 of the part md5s>-<part count>".
  artifacts::S3Client client(options);
  artifacts::S3Request head{.method = "HEAD", .key = digest->substr(7)};
  auto headed = client.Send(head);
  ASSERT_TRUE(headed.ok() && headed->ok());
  EXPECT_TRUE(headed->etag.ends_with("-3\"")) << headed->etag;
  // Completed uploads leave nothing behind.
  artifacts::S3Request uploads{.method = "GET", .query = "uploads="};
  auto listed = client.Send(uploads);
  ASSERT_TRUE(listed.ok() && listed->ok());
  EXPECT_TRUE(artifacts::XmlElementTexts(listed->body, "UploadId").empty()) << listed->body;

  ASSERT_TRUE(store->Fetch(*digest, dir_ / "fetched").ok());
  EXPECT_TRUE(ReadFile(dir_ / "fetched") == content);

  // The in-memory path takes the multipart route too.
  std::string other = Pattern((std::size_t{11} << 20) + 7);
  auto bytes_digest = store->PutBytes(other);
  ASSERT_TRUE(bytes_digest.ok()) << bytes_digest.status().ToString();
  ASSERT_TRUE(store->Fetch(*bytes_digest, dir_ / "fetched2").ok());
  EXPECT_TRUE(ReadFile(dir_ / "fetched2") == other);

  // A tampered multipart object is caught on fetch like any other.
  artifacts::S3Request tamper{.method = "PUT", .key = digest->substr(7), .body = "x"};
  auto tampered = client.Send(tamper);
  ASSERT_TRUE(tampered.ok() && tampered->ok());
  Status bad = store->Fetch(*digest, dir_ / "bad");
  EXPECT_EQ(bad.code(), StatusCode::kInternal) << bad.ToString();
  EXPECT_FALSE(fs::exists(dir_ / "bad"));
}

TEST(S3ArtifactStoreOptionsTest, RejectsBadOptions) {
  S3ArtifactStoreOptions good;
  good.endpoint = "http://127.0.0.1:9";
  good.bucket = "bucket";
  ASSERT_TRUE(MakeS3ArtifactStore(good).ok());
  auto with = [&](auto change) {
    S3ArtifactStoreOptions o = good;
    change(o);
    return MakeS3ArtifactStore(o).status().code();
  };
  EXPECT_EQ(with([](auto& o) { o.endpoint.clear(); }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& o) { o.endpoint = "ftp://x"; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& o) { o.bucket.clear(); }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& o) { o.bucket = "Bad/Bucket"; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& o) { o.prefix = "a b/"; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& o) { o.prefix = "/abs"; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& o) { o.access_key = "only-key"; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& o) { o.part_size = 1 << 20; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& o) { o.max_retries = -1; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& o) { o.region.clear(); }), StatusCode::kInvalidArgument);
}

// A scripted HTTP peer: answers each request ("METHOD /path?query") with what `respond`
// returns (a whole HTTP response), one request per connection, and records the request lines.
class ScriptedPeer {
 public:
  using Responder = std::function<std::string(const std::string& request_line)>;
  explicit ScriptedPeer(std::string response) : ScriptedPeer([response](const std::string&) { return response; }) {}
  explicit ScriptedPeer(Responder respond) : respond_(std::move(respond)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedPeer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(lines_.size());
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  void Serve() {
    for (;;) {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      std::string request;
      char buf[1 << 16];
      std::size_t head_end = std::string::npos;
      while ((head_end = request.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::read(client, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      // Read the body too, so the client is not cut off while sending it.
      std::size_t body_length = 0;
      std::string lower = request.substr(0, head_end);
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      if (auto at = lower.find("content-length:"); at != std::string::npos) {
        body_length = std::strtoull(lower.c_str() + at + 15, nullptr, 10);
      }
      std::size_t have = head_end == std::string::npos ? 0 : request.size() - head_end - 4;
      while (have < body_length) {
        ssize_t n = ::read(client, buf, sizeof buf);
        if (n <= 0) break;
        have += static_cast<std::size_t>(n);
      }
      std::string line = request.substr(0, request.find(" HTTP/"));
      {
        std::lock_guard lock(mu_);
        lines_.push_back(line);
      }
      std::string response = respond_(line);
      (void)!::write(client, response.data(), response.size());
      ::close(client);
    }
  }
  Responder respond_;
  int fd_ = -1;
  int port_ = 0;
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
  std::thread thread_;
};

std::string HttpResponse(int status, const std::string& reason, const std::string& body,
                         const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

std::string S3ErrorResponse(int status, const std::string& reason, const std::string& code) {
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" + code +
                     " message</Message></Error>";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: application/xml\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

S3ArtifactStoreOptions PeerOptions(const std::string& endpoint) {
  S3ArtifactStoreOptions options;
  options.endpoint = endpoint;
  options.bucket = "bucket";
  options.access_key = "AKIATEST";
  options.secret_key = "secret";
  options.max_retries = 2;
  options.retry_base_delay = std::chrono::milliseconds(1);
  options.retry_max_delay = std::chrono::milliseconds(5);
  return options;
}

TEST(S3ArtifactStoreRetryTest, RetriesSlowDownThenGivesUp) {
  ScriptedPeer peer(S3ErrorResponse(503, "Slow Down", "SlowDown"));
  auto store = MakeS3ArtifactStore(PeerOptions(peer.endpoint()));
  ASSERT_TRUE(store.ok());
  TempDir dir;
  Status status = (*store)->Fetch(Sha256Bytes("x"), dir / "out");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_NE(status.message().find("SlowDown"), std::string::npos) << status.ToString();
  EXPECT_EQ(peer.requests(), 3);  // the first attempt and max_retries = 2 more
}

TEST(S3ArtifactStoreRetryTest, RetriesServerErrorsAndThrottling) {
  for (auto [status, reason] : {std::pair{500, "Internal Server Error"}, std::pair{429, "Too Many Requests"}}) {
    ScriptedPeer peer(S3ErrorResponse(status, reason, status == 500 ? "InternalError" : "TooManyRequests"));
    auto store = MakeS3ArtifactStore(PeerOptions(peer.endpoint()));
    ASSERT_TRUE(store.ok());
    Status removed = (*store)->Remove(Sha256Bytes("x"));
    EXPECT_EQ(removed.code(), StatusCode::kUnavailable) << removed.ToString();
    EXPECT_EQ(peer.requests(), 3) << status;
  }
}

TEST(S3ArtifactStoreRetryTest, NeverRetriesClientErrors) {
  ScriptedPeer peer(S3ErrorResponse(403, "Forbidden", "AccessDenied"));
  auto store = MakeS3ArtifactStore(PeerOptions(peer.endpoint()));
  ASSERT_TRUE(store.ok());
  Status removed = (*store)->Remove(Sha256Bytes("x"));
  EXPECT_EQ(removed.code(), StatusCode::kPermissionDenied) << removed.ToString();
  EXPECT_NE(removed.message().find("AccessDenied"), std::string::npos) << removed.ToString();
  EXPECT_EQ(peer.requests(), 1);
}

TEST(S3ArtifactStoreAddressingTest, PathStyleAndVirtualHostedUrls) {
  S3ArtifactStoreOptions options;
  options.endpoint = "https://s3.eu-west-1.amazonaws.com/";
  options.bucket = "acme";
  artifacts::S3Client path_style(options);
  EXPECT_EQ(path_style.Url("p/abc", ""), "https://s3.eu-west-1.amazonaws.com/acme/p/abc");
  EXPECT_EQ(path_style.Url("", "uploads="), "https://s3.eu-west-1.amazonaws.com/acme?uploads=");
  options.path_style = false;
  artifacts::S3Client virtual_hosted(options);
  EXPECT_EQ(virtual_hosted.Url("p/abc", ""), "https://acme.s3.eu-west-1.amazonaws.com/p/abc");
  EXPECT_EQ(virtual_hosted.Url("", "list-type=2"), "https://acme.s3.eu-west-1.amazonaws.com/?list-type=2");

  // A real request in virtual-hosted form: curl resolves *.localhost to the loopback address.
  ScriptedPeer peer(HttpResponse(204, "No Content", ""));
  S3ArtifactStoreOptions peer_options = PeerOptions("http://localhost:" + peer.endpoint().substr(peer.endpoint().rfind(':') + 1));
  peer_options.path_style = false;
  peer_options.prefix = "a/";
  auto store = MakeS3ArtifactStore(peer_options);
  ASSERT_TRUE(store.ok());
  Digest digest = Sha256Bytes("x");
  Status removed = (*store)->Remove(digest);
  EXPECT_TRUE(removed.ok()) << removed.ToString();
  ASSERT_EQ(peer.lines().size(), 1u);
  EXPECT_EQ(peer.lines()[0], "DELETE /a/" + digest.substr(7));
}

TEST(S3ArtifactStoreRetryTest, RetriesConnectionErrors) {
  int port = 0;
  {
    ScriptedPeer closed("");  // bind a free port, then close it: connections are refused
    port = std::stoi(closed.endpoint().substr(closed.endpoint().rfind(':') + 1));
  }
  auto store = MakeS3ArtifactStore(PeerOptions("http://127.0.0.1:" + std::to_string(port)));
  ASSERT_TRUE(store.ok());
  auto contains = (*store)->Contains(Sha256Bytes("x"));
  EXPECT_EQ(contains.status().code(), StatusCode::kUnavailable) << contains.status().ToString();
  EXPECT_NE(contains.status().message().find("after 3 attempts"), std::string::npos) << contains.status().ToString();
}

// An S3 peer for one multipart upload whose part 2 or completion fails: the upload is aborted.
std::string MultipartPeer(const std::string& line, bool fail_part) {
  const std::string ok_xml = "<InitiateMultipartUploadResult><UploadId>up/1+x</UploadId></InitiateMultipartUploadResult>";
  if (line.starts_with("HEAD /bucket/")) return HttpResponse(404, "Not Found", "");
  if (line == "HEAD /bucket") return HttpResponse(200, "OK", "");
  if (line.starts_with("POST") && line.ends_with("?uploads=")) return HttpResponse(200, "OK", ok_xml);
  if (line.starts_with("PUT") && line.find("partNumber=2&") != std::string::npos && fail_part) {
    return HttpResponse(400, "Bad Request", "<Error><Code>InvalidArgument</Code><Message>bad part</Message></Error>");
  }
  if (line.starts_with("PUT")) return HttpResponse(200, "OK", "", "ETag: \"e\"\r\n");
  // CompleteMultipartUpload may fail inside a 200 (documented S3 behaviour).
  if (line.starts_with("POST")) {
    return HttpResponse(200, "OK", "<Error><Code>InternalError</Code><Message>try again</Message></Error>");
  }
  if (line.starts_with("DELETE")) return HttpResponse(204, "No Content", "");
  return HttpResponse(500, "Unexpected", "");
}

TEST(S3ArtifactStoreRetryTest, FailedMultipartUploadIsAborted) {
  for (bool fail_part : {true, false}) {
    ScriptedPeer peer([fail_part](const std::string& line) { return MultipartPeer(line, fail_part); });
    S3ArtifactStoreOptions options = PeerOptions(peer.endpoint());
    options.multipart_threshold = options.part_size = std::uint64_t{5} << 20;
    auto store = MakeS3ArtifactStore(options);
    ASSERT_TRUE(store.ok());
    auto put = (*store)->PutBytes(Pattern(std::size_t{11} << 20));
    ASSERT_FALSE(put.ok());
    auto lines = peer.lines();
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    if (fail_part) {
      EXPECT_EQ(put.status().code(), StatusCode::kInternal) << put.status().ToString();
      EXPECT_NE(put.status().message().find("InvalidArgument: bad part"), std::string::npos) << put.status().ToString();
      EXPECT_NE(put.status().message().find("part 2"), std::string::npos) << put.status().ToString();
    } else {
      EXPECT_EQ(put.status().code(), StatusCode::kUnavailable) << put.status().ToString();
      EXPECT_NE(put.status().message().find("InternalError"), std::string::npos) << put.status().ToString();
    }
    ASSERT_FALSE(lines.empty());
    // The upload id is sent encoded ("up/1+x" -> "up%2F1%2Bx"), and the last request aborts it.
    EXPECT_TRUE(lines.back().starts_with("DELETE /bucket/")) << all;
    EXPECT_TRUE(lines.back().ends_with("?uploadId=up%2F1%2Bx")) << all;
  }
}

}  // namespace
}  // namespace tuna
