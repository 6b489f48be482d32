// S3ArtifactStore: objects named {prefix}{sha256 hex} in one bucket.
// Content addressing makes writes idempotent: a HEAD first skips uploading content that is
// already there, and concurrent writers of the same digest write the same bytes. Archives above
// the multipart threshold go up in parts (memory use: one part); a failed multipart upload is
// aborted so no invisible parts are left to bill. Fetch streams to a temp file next to the
// destination, checks the digest, and renames.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <functional>
#include <system_error>

#include "artifacts/file_util.hpp"
#include "artifacts/s3_client.hpp"
#include "artifacts/sha256.hpp"
#include "tuna/artifacts.hpp"

namespace tuna {
namespace {

namespace fs = std::filesystem;
using artifacts::ErrnoStatus;
using artifacts::S3Client;
using artifacts::S3Request;
using artifacts::S3Response;

constexpr std::uint64_t kMinPartSize = std::uint64_t{5} << 20;  // S3's minimum (all parts but the last)
constexpr std::uint64_t kMaxParts = 10000;                      // S3's maximum part count

Status InvalidDigest(std::string_view digest) {
  return InvalidArgument("not a sha256 digest: '" + std::string(digest) + "'");
}

// Reads `length` bytes at `offset` of an open file.
Status ReadAt(int fd, const fs::path& path, std::uint64_t offset, std::size_t length, std::string& out) {
  out.resize(length);
  std::size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", path, errno);
    }
    if (n == 0) return FailedPrecondition(path.string() + " shrank while it was being stored");
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

class S3ArtifactStore final : public ArtifactStore {
 public:
  explicit S3ArtifactStore(S3ArtifactStoreOptions options) : client_(std::move(options)) {}

  Result<Digest> Put(const fs::path& file) override {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open", file, errno);
    Result<Digest> result = PutFd(fd, file);
    ::close(fd);
    return result;
  }

  Result<Digest> PutBytes(std::string_view bytes) override {
    Digest digest = Sha256Bytes(bytes);
    if (digest.empty()) return Internal("sha256 failed");
    std::string key = Key(digest);
    TUNA_ASSIGN_OR_RETURN(bool exists, ObjectExists(key));
    if (exists) return digest;
    if (bytes.size() > client_.options().multipart_threshold) {
      auto read_part = [&](std::uint64_t offset, std::size_t length, std::string&) -> Result<std::string_view> {
        return bytes.substr(offset, length);
      };
      TUNA_RETURN_IF_ERROR(UploadMultipart(key, digest, bytes.size(), read_part));
      return digest;
    }
    TUNA_RETURN_IF_ERROR(PutObject(key, bytes));
    return digest;
  }

  Status Fetch(std::string_view digest, const fs::path& destination) override {
    if (!IsValidDigest(digest)) return InvalidDigest(digest);
    std::string key = Key(digest);
    std::error_code ec;
    if (destination.has_parent_path()) fs::create_directories(destination.parent_path(), ec);
    fs::path temp = artifacts::TempPathFor(destination);
    S3Request request{.method = "GET", .key = key, .response_file = &temp};
    Result<S3Response> response = client_.Send(request);
    if (!response.ok() || !response->ok()) {
      ::unlink(temp.c_str());
      if (!response.ok()) return response.status();
      if (response->error_code == "NoSuchKey" ||
          (response->http_status == 404 && response->error_code != "NoSuchBucket")) {
        return NotFound("artifact " + std::string(digest) + " not found (" + client_.Describe(key) + ")");
      }
      return client_.ErrorStatus(request, *response);
    }
    if (response->file_digest != digest) {
      ::unlink(temp.c_str());
      return Internal("artifact " + std::string(digest) + " is corrupted: " + client_.Describe(key) +
                      " hashes to " + (response->file_digest.empty() ? "nothing (sha256 failed)" : response->file_digest));
    }
    if (::rename(temp.c_str(), destination.c_str()) != 0) {
      int err = errno;
      ::unlink(temp.c_str());
      return ErrnoStatus("rename to", destination, err);
    }
    return Status::Ok();
  }

  Result<bool> Contains(std::string_view digest) override {
    if (!IsValidDigest(digest)) return InvalidDigest(digest);
    return ObjectExists(Key(digest));
  }

  Status Remove(std::string_view digest) override {
    if (!IsValidDigest(digest)) return InvalidDigest(digest);
    S3Request request{.method = "DELETE", .key = Key(digest)};
    TUNA_ASSIGN_OR_RETURN(S3Response response, client_.Send(request));
    // S3 answers 204 whether or not the key existed; some compatible servers answer 404.
    if (response.ok() || response.error_code == "NoSuchKey") return Status::Ok();
    return client_.ErrorStatus(request, response);
  }

 private:
  std::string Key(std::string_view digest) const { return client_.options().prefix + std::string(digest.substr(7)); }

  Result<Digest> PutFd(int fd, const fs::path& file) {
    struct stat st;
    if (::fstat(fd, &st) != 0) return ErrnoStatus("stat", file, errno);
    auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > client_.options().multipart_threshold) {
      TUNA_ASSIGN_OR_RETURN(Digest digest, Sha256File(file));
      std::string key = Key(digest);
      TUNA_ASSIGN_OR_RETURN(bool exists, ObjectExists(key));
      if (exists) return digest;
      auto read_part = [&](std::uint64_t offset, std::size_t length, std::string& buffer) -> Result<std::string_view> {
        TUNA_RETURN_IF_ERROR(ReadAt(fd, file, offset, length, buffer));
        return std::string_view(buffer);
      };
      TUNA_RETURN_IF_ERROR(UploadMultipart(key, digest, size, read_part));
      return digest;
    }
    // Small: read it once, so the digest is of exactly the bytes uploaded.
    std::string bytes;
    TUNA_RETURN_IF_ERROR(ReadAt(fd, file, 0, static_cast<std::size_t>(size), bytes));
    return PutBytes(bytes);
  }

  Status PutObject(const std::string& key, std::string_view bytes) {
    S3Request request{.method = "PUT", .key = key, .body = bytes};
    TUNA_ASSIGN_OR_RETURN(S3Response response, client_.Send(request));
    if (!response.ok()) return client_.ErrorStatus(request, response);
    return Status::Ok();
  }

  using PartReader = std::function<Result<std::string_view>(std::uint64_t, std::size_t, std::string&)>;

  Status UploadMultipart(const std::string& key, const Digest& digest, std::uint64_t size, const PartReader& read) {
    std::uint64_t part_size = std::max(client_.options().part_size, kMinPartSize);
    if ((size + part_size - 1) / part_size > kMaxParts) part_size = (size + kMaxParts - 1) / kMaxParts;

    S3Request create{.method = "POST", .key = key, .query = "uploads="};
    TUNA_ASSIGN_OR_RETURN(S3Response created, client_.Send(create));
    if (!created.ok()) return client_.ErrorStatus(create, created);
    std::string upload_id = artifacts::XmlElementText(created.body, "UploadId");
    if (upload_id.empty()) {
      return Internal("S3 CreateMultipartUpload for " + client_.Describe(key) + " returned no UploadId");
    }
    std::string id_query = "uploadId=" + artifacts::UriEncode(upload_id, false);

    Status status = UploadParts(key, digest, size, part_size, upload_id, read);
    if (!status.ok()) {
      // Best effort: an abandoned upload keeps its parts (and their cost) until aborted.
      S3Request abort{.method = "DELETE", .key = key, .query = id_query};
      (void)client_.Send(abort);
    }
    return status;
  }

  Status UploadParts(const std::string& key, const Digest& digest, std::uint64_t size, std::uint64_t part_size,
                     const std::string& upload_id, const PartReader& read) {
    std::string id_query = "uploadId=" + artifacts::UriEncode(upload_id, false);
    artifacts::Sha256Hasher whole;  // the parts must add up to the digest the key names
    std::string complete = "<CompleteMultipartUpload>";
    std::string buffer;
    int part_number = 0;
    for (std::uint64_t offset = 0; offset < size; offset += part_size) {
      ++part_number;
      auto length = static_cast<std::size_t>(std::min(part_size, size - offset));
      TUNA_ASSIGN_OR_RETURN(std::string_view part, read(offset, length, buffer));
      whole.Update(part);
      // Query parameters in canonical (sorted) order: libcurl 7.88 signs the query as given.
      S3Request upload{.method = "PUT",
                       .key = key,
                       .query = "partNumber=" + std::to_string(part_number) + "&" + id_query,
                       .body = part};
      TUNA_ASSIGN_OR_RETURN(S3Response uploaded, client_.Send(upload));
      if (!uploaded.ok()) return client_.ErrorStatus(upload, uploaded).WithContext("multipart upload part " + std::to_string(part_number));
      if (uploaded.etag.empty()) {
        return Internal("S3 UploadPart " + std::to_string(part_number) + " of " + client_.Describe(key) +
                        " returned no ETag");
      }
      complete += "<Part><PartNumber>" + std::to_string(part_number) + "</PartNumber><ETag>" +
                  artifacts::XmlEscape(uploaded.etag) + "</ETag></Part>";
    }
    complete += "</CompleteMultipartUpload>";
    if (whole.Finish() != digest) {
      return FailedPrecondition("the content changed while it was being stored as " + digest);
    }
    S3Request finish{.method = "POST",
                     .key = key,
                     .query = id_query,
                     .body = complete,
                     .headers = {"Content-Type: application/xml"}};
    TUNA_ASSIGN_OR_RETURN(S3Response finished, client_.Send(finish));
    // ok() also checks for an <Error> inside a 200, which CompleteMultipartUpload can return.
    if (!finished.ok()) return client_.ErrorStatus(finish, finished).WithContext("complete multipart upload");
    return Status::Ok();
  }

  // HEAD the object. A 404 to HEAD has no body, so it cannot tell a missing key from a missing
  // bucket: the bucket is checked (once) before "absent" is believed.
  Result<bool> ObjectExists(const std::string& key) {
    S3Request head{.method = "HEAD", .key = key};
    TUNA_ASSIGN_OR_RETURN(S3Response response, client_.Send(head));
    if (response.ok()) return true;
    if (response.http_status == 404) {
      TUNA_RETURN_IF_ERROR(CheckBucket());
      return false;
    }
    return HeadError(head, response);
  }

  Status CheckBucket() {
    if (bucket_exists_.load()) return Status::Ok();
    S3Request head{.method = "HEAD"};
    TUNA_ASSIGN_OR_RETURN(S3Response response, client_.Send(head));
    if (response.ok()) {
      bucket_exists_.store(true);
      return Status::Ok();
    }
    if (response.http_status == 404) {
      return FailedPrecondition("S3 bucket '" + client_.options().bucket + "' does not exist at " +
                                client_.options().endpoint);
    }
    return HeadError(head, response);
  }

  // HEAD errors have no body: repeat as a 1-byte ranged GET to learn S3's error Code/Message.
  Status HeadError(const S3Request& head, const S3Response& response) {
    S3Request probe{.method = "GET", .key = head.key, .headers = {"Range: bytes=0-0"}};
    Result<S3Response> probed = client_.Send(probe);
    if (probed.ok() && !probed->ok() && !probed->error_code.empty()) {
      S3Response explained = *probed;
      return client_.ErrorStatus(head, explained);
    }
    return client_.ErrorStatus(head, response);
  }

  S3Client client_;
  std::atomic<bool> bucket_exists_{false};
};

bool ValidPrefix(std::string_view prefix) {
  for (char c : prefix) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '.' ||
          c == '_' || c == '-')) {
      return false;
    }
  }
  return !prefix.starts_with('/') && prefix.find("//") == std::string_view::npos;
}

}  // namespace

Result<ArtifactStorePtr> MakeS3ArtifactStore(S3ArtifactStoreOptions options) {
  if (options.endpoint.empty()) return InvalidArgument("S3 endpoint is empty", "endpoint");
  if (!options.endpoint.starts_with("http://") && !options.endpoint.starts_with("https://")) {
    return InvalidArgument("S3 endpoint must start with http:// or https://: '" + options.endpoint + "'", "endpoint");
  }
  if (options.bucket.empty()) return InvalidArgument("S3 bucket is empty", "bucket");
  for (char c : options.bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
      return InvalidArgument("not an S3 bucket name: '" + options.bucket + "'", "bucket");
    }
  }
  if (options.region.empty()) return InvalidArgument("S3 region is empty (SigV4 needs it)", "region");
  if (!ValidPrefix(options.prefix)) {
    return InvalidArgument("S3 key prefix may hold letters, digits and '/._-' only, and must not start with '/': '" +
                               options.prefix + "'",
                           "prefix");
  }
  if (options.access_key.empty() != options.secret_key.empty()) {
    return InvalidArgument("S3 access_key and secret_key must be given together", "secret_key");
  }
  if (options.part_size < kMinPartSize) {
    return InvalidArgument("S3 part_size must be at least 5 MiB (S3's minimum part size)", "part_size");
  }
  if (options.max_retries < 0) return InvalidArgument("S3 max_retries must not be negative", "max_retries");
  if (options.connect_timeout.count() <= 0 || options.request_timeout.count() <= 0 ||
      options.stall_timeout.count() <= 0) {
    return InvalidArgument("S3 timeouts must be positive", "request_timeout");
  }
  return ArtifactStorePtr(std::make_unique<S3ArtifactStore>(std::move(options)));
}

}  // namespace tuna
