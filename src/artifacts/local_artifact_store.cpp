// LocalArtifactStore: files named by digest under <directory>/sha256/<2 hex>/<64 hex>.
// Writes go to <directory>/tmp first, are fsync()ed and renamed into place, so a reader never
// sees a partial object and a crash leaves at most a stray temp file (removed on open).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "artifacts/file_util.hpp"
#include "artifacts/sha256.hpp"
#include "core/unique_fd.hpp"
#include "tuna/artifacts.hpp"

namespace tuna {
namespace {

namespace fs = std::filesystem;
using artifacts::ErrnoStatus;


Status WriteAll(int fd, const char* data, std::size_t size, const fs::path& path) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", path, errno);
    }
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

// Copies `in` to `out` while hashing; returns the digest of what was copied.
Result<Digest> CopyAndHash(int in, const fs::path& in_path, int out, const fs::path& out_path) {
  artifacts::Sha256Hasher hasher;
  std::string buffer(1 << 16, '\0');
  for (;;) {
    ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", in_path, errno);
    }
    hasher.Update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    TUNA_RETURN_IF_ERROR(WriteAll(out, buffer.data(), static_cast<std::size_t>(n), out_path));
  }
  Digest digest = hasher.Finish();
  if (digest.empty()) return Internal("sha256 failed while copying " + in_path.string());
  return digest;
}

class LocalArtifactStore final : public ArtifactStore {
 public:
  explicit LocalArtifactStore(fs::path directory) : directory_(std::move(directory)) {}

  Status Open() {
    std::error_code ec;
    fs::create_directories(directory_ / "sha256", ec);
    if (ec) return Internal("create " + (directory_ / "sha256").string() + ": " + ec.message());
    fs::create_directories(TempDir(), ec);
    if (ec) return Internal("create " + TempDir().string() + ": " + ec.message());
    // Temp files left by a crashed writer are garbage: nothing refers to them.
    for (const auto& entry : fs::directory_iterator(TempDir(), ec)) fs::remove(entry.path(), ec);
    return Status::Ok();
  }

  Result<Digest> Put(const fs::path& file) override {
    core::UniqueFd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) return ErrnoStatus("open", file, errno);
    return Store([&](int out, const fs::path& temp) { return CopyAndHash(in.get(), file, out, temp); });
  }

  Result<Digest> PutBytes(std::string_view bytes) override {
    return Store([&](int out, const fs::path& temp) -> Result<Digest> {
      TUNA_RETURN_IF_ERROR(WriteAll(out, bytes.data(), bytes.size(), temp));
      return Sha256Bytes(bytes);
    });
  }

  Status Fetch(std::string_view digest, const fs::path& destination) override {
    if (!IsValidDigest(digest)) return InvalidArgument("not a sha256 digest: '" + std::string(digest) + "'");
    fs::path object = ObjectPath(digest);
    core::UniqueFd in(::open(object.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) {
      if (errno == ENOENT) return NotFound("artifact " + std::string(digest) + " not found");
      return ErrnoStatus("open", object, errno);
    }
    std::error_code ec;
    if (destination.has_parent_path()) fs::create_directories(destination.parent_path(), ec);
    fs::path temp = artifacts::TempPathFor(destination);
    core::UniqueFd out(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (out.get() < 0) return ErrnoStatus("create", temp, errno);
    auto copied = CopyAndHash(in.get(), object, out.get(), temp);
    ::close(out.release());
    if (!copied.ok() || *copied != digest) {
      ::unlink(temp.c_str());
      if (!copied.ok()) return copied.status();
      return Internal("artifact " + std::string(digest) + " is corrupted: its content hashes to " + *copied);
    }
    if (::rename(temp.c_str(), destination.c_str()) != 0) {
      int err = errno;
      ::unlink(temp.c_str());
      return ErrnoStatus("rename to", destination, err);
    }
    return Status::Ok();
  }

  Result<bool> Contains(std::string_view digest) override {
    if (!IsValidDigest(digest)) return InvalidArgument("not a sha256 digest: '" + std::string(digest) + "'");
    struct stat st;
    if (::stat(ObjectPath(digest).c_str(), &st) == 0) return true;
    if (errno == ENOENT) return false;
    return ErrnoStatus("stat", ObjectPath(digest), errno);
  }

  Status Remove(std::string_view digest) override {
    if (!IsValidDigest(digest)) return InvalidArgument("not a sha256 digest: '" + std::string(digest) + "'");
    if (::unlink(ObjectPath(digest).c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus("unlink", ObjectPath(digest), errno);
    }
    return Status::Ok();
  }

 private:
  fs::path TempDir() const { return directory_ / "tmp"; }

  fs::path ObjectPath(std::string_view digest) const {
    std::string_view hex = digest.substr(7);
    return directory_ / "sha256" / std::string(hex.substr(0, 2)) / std::string(hex);
  }

  template <typename Writer>
  Result<Digest> Store(Writer&& write) {
    fs::path temp = artifacts::TempPathFor(TempDir() / "put");
    core::UniqueFd out(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
    if (out.get() < 0) return ErrnoStatus("create", temp, errno);
    Result<Digest> digest = write(out.get(), temp);
    if (digest.ok() && ::fsync(out.get()) != 0) digest = ErrnoStatus("fsync", temp, errno);
    ::close(out.release());
    if (!digest.ok()) {
      ::unlink(temp.c_str());
      return digest.status();
    }
    fs::path object = ObjectPath(*digest);
    struct stat st;
    if (::stat(object.c_str(), &st) == 0) {  // same content stored before: keep one copy
      ::unlink(temp.c_str());
      return digest;
    }
    std::error_code ec;
    fs::create_directories(object.parent_path(), ec);
    if (ec) {
      ::unlink(temp.c_str());
      return Internal("create " + object.parent_path().string() + ": " + ec.message());
    }
    // rename() over a concurrently stored identical object is harmless: same bytes.
    if (::rename(temp.c_str(), object.c_str()) != 0) {
      int err = errno;
      ::unlink(temp.c_str());
      return ErrnoStatus("rename to", object, err);
    }
    TUNA_RETURN_IF_ERROR(artifacts::FsyncDirectory(object.parent_path()));
    return digest;
  }

  fs::path directory_;
};

}  // namespace

Result<ArtifactStorePtr> MakeLocalArtifactStore(LocalArtifactStoreOptions options) {
  if (options.directory.empty()) return InvalidArgument("artifact store directory is empty", "directory");
  auto store = std::make_unique<LocalArtifactStore>(fs::absolute(options.directory));
  TUNA_RETURN_IF_ERROR(store->Open());
  return ArtifactStorePtr(std::move(store));
}

}  // namespace tuna
