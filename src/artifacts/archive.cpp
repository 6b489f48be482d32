#include "artifacts/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "artifacts/file_util.hpp"

namespace tuna::artifacts {
namespace {

namespace fs = std::filesystem;

struct ReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ReadArchive = std::unique_ptr<struct archive, ReadDeleter>;
using WriteArchive = std::unique_ptr<struct archive, WriteDeleter>;
using Entry = std::unique_ptr<archive_entry, EntryDeleter>;

std::string ArchiveError(struct archive* a) {
  const char* message = archive_error_string(a);
  return message ? message : "unknown libarchive error";
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    start = end + 1;
  }
  return parts;
}

std::string JoinPath(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out.push_back('/');
    out += p;
  }
  return out;
}

Status Unsafe(std::string_view name, std::string_view why) {
  return InvalidArgument("unsafe archive entry '" + std::string(name) + "': " + std::string(why));
}

// A relative path inside the extraction directory, or an error naming the entry.
Result<std::vector<std::string>> SafeRelativePath(std::string_view name, std::string_view what) {
  if (name.empty()) return Unsafe(name, std::string(what) + " is empty");
  if (name.front() == '/') return Unsafe(name, std::string(what) + " is an absolute path");
  if (name.find('\\') != std::string_view::npos && name.find("..") != std::string_view::npos) {
    return Unsafe(name, std::string(what) + " mixes backslashes and '..'");
  }
  std::vector<std::string> parts = SplitPath(name);
  for (const auto& part : parts) {
    if (part == "..") return Unsafe(name, std::string(what) + " has a '..' component (escapes the directory)");
  }
  if (parts.empty()) return Unsafe(name, std::string(what) + " names the extraction directory itself");
  return parts;
}

// A symlink may point up with leading ".." (no deeper than its own directory), then down.
// ".." after a normal component is refused: through another symlink it could climb out.
Status CheckSymlinkTarget(std::string_view name, const std::vector<std::string>& link_parts,
                          std::string_view target) {
  if (target.empty()) return Unsafe(name, "symlink with an empty target");
  if (target.front() == '/') return Unsafe(name, "symlink to an absolute path '" + std::string(target) + "'");
  std::vector<std::string> parts = SplitPath(target);
  std::size_t ups = 0;
  bool descended = false;
  for (const auto& part : parts) {
    if (part == "..") {
      if (descended) return Unsafe(name, "symlink target '" + std::string(target) + "' has '..' after a name");
      ++ups;
    } else {
      descended = true;
    }
  }
  std::size_t depth = link_parts.size() - 1;  // directories above the link inside the root
  if (ups > depth) return Unsafe(name, "symlink target '" + std::string(target) + "' escapes the directory");
  return Status::Ok();
}

// Refuses to write through an existing symlink (libarchive's SECURE_SYMLINKS checks too).
Status CheckNoSymlinkPrefix(const fs::path& root, const std::vector<std::string>& parts, std::string_view name,
                            bool include_last) {
  fs::path current = root;
  std::size_t n = include_last ? parts.size() : parts.size() - 1;
  for (std::size_t i = 0; i < n; ++i) {
    current /= parts[i];
    struct stat st;
    if (::lstat(current.c_str(), &st) != 0) return Status::Ok();  // nothing further exists yet
    if (S_ISLNK(st.st_mode)) return Unsafe(name, "path goes through the symlink '" + JoinPath({parts.begin(), parts.begin() + static_cast<long>(i) + 1}) + "'");
  }
  return Status::Ok();
}

}  // namespace

Status ExtractSafely(const fs::path& file, const fs::path& dir, const ExtractLimits& limits) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("create " + dir.string() + ": " + ec.message());
  // Canonical, so libarchive's symlink check never trips over a symlink above the root.
  fs::path root = fs::canonical(dir, ec);
  if (ec) return Internal("resolve " + dir.string() + ": " + ec.message());

  ReadArchive reader(archive_read_new());
  WriteArchive writer(archive_write_disk_new());
  if (!reader || !writer) return Internal("libarchive: out of memory");
  archive_read_support_filter_all(reader.get());
  archive_read_support_format_all(reader.get());
  archive_write_disk_set_options(writer.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                   ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  if (archive_read_open_filename(reader.get(), file.c_str(), 1 << 16) != ARCHIVE_OK) {
    return InvalidArgument("cannot read archive " + file.string() + ": " + ArchiveError(reader.get()));
  }

  std::uint64_t entries = 0;
  std::uint64_t total_bytes = 0;
  for (;;) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(reader.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return InvalidArgument("corrupt archive " + file.string() + ": " + ArchiveError(reader.get()));
    }
    if (++entries > limits.max_entries) {
      return ResourceExhausted("archive has more than " + std::to_string(limits.max_entries) + " entries");
    }
    const char* raw_name = archive_entry_pathname(entry);
    std::string name = raw_name ? raw_name : "";
    // "./" alone (tar's root entry) carries nothing.
    if (!name.empty() && SplitPath(name).empty() && name.front() != '/') continue;
    TUNA_ASSIGN_OR_RETURN(std::vector<std::string> parts, SafeRelativePath(name, "path"));

    const char* hardlink = archive_entry_hardlink(entry);
    mode_t type = archive_entry_filetype(entry);
    if (hardlink != nullptr) {
      TUNA_ASSIGN_OR_RETURN(std::vector<std::string> target, SafeRelativePath(hardlink, "hardlink target"));
      TUNA_RETURN_IF_ERROR(CheckNoSymlinkPrefix(root, target, name, /*include_last=*/true));
      fs::path target_path = root / JoinPath(target);
      struct stat st;
      if (::lstat(target_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return Unsafe(name, "hardlink to '" + std::string(hardlink) + "', which is not a file extracted before it");
      }
      archive_entry_copy_hardlink(entry, target_path.c_str());
    } else if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      TUNA_RETURN_IF_ERROR(CheckSymlinkTarget(name, parts, target ? target : ""));
    } else if (type != AE_IFREG && type != AE_IFDIR) {
      return Unsafe(name, "device, FIFO or socket entries are not allowed");
    }
    TUNA_RETURN_IF_ERROR(CheckNoSymlinkPrefix(root, parts, name, /*include_last=*/false));

    if (type == AE_IFREG && archive_entry_size_is_set(entry)) {
      auto size = static_cast<std::uint64_t>(std::max<la_int64_t>(0, archive_entry_size(entry)));
      if (total_bytes + size > limits.max_total_bytes) {
        return ResourceExhausted("archive content exceeds " + std::to_string(limits.max_total_bytes) + " bytes");
      }
    }
    fs::path destination = root / JoinPath(parts);
    archive_entry_copy_pathname(entry, destination.c_str());
    // Never restore setuid/setgid/sticky; keep what the owner needs to read and clean up.
    mode_t perm = archive_entry_perm(entry) & 0777;
    perm |= (type == AE_IFDIR) ? 0700 : 0600;
    archive_entry_set_perm(entry, perm);
    archive_entry_set_uid(entry, ::getuid());
    archive_entry_set_gid(entry, ::getgid());

    rc = archive_write_header(writer.get(), entry);
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return InvalidArgument("cannot extract '" + name + "': " + ArchiveError(writer.get()));
    }
    if (type == AE_IFREG && hardlink == nullptr) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      for (;;) {
        rc = archive_read_data_block(reader.get(), &block, &size, &offset);
        if (rc == ARCHIVE_EOF) break;
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
          return InvalidArgument("corrupt data for '" + name + "': " + ArchiveError(reader.get()));
        }
        total_bytes += size;
        if (total_bytes > limits.max_total_bytes) {
          return ResourceExhausted("archive content exceeds " + std::to_string(limits.max_total_bytes) + " bytes");
        }
        if (archive_write_data_block(writer.get(), block, size, offset) != ARCHIVE_OK) {
          return Internal("write '" + name + "': " + ArchiveError(writer.get()));
        }
      }
    }
    rc = archive_write_finish_entry(writer.get());
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return Internal("finish '" + name + "': " + ArchiveError(writer.get()));
    }
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) {
    return Internal("finish extraction: " + ArchiveError(writer.get()));
  }
  return Status::Ok();
}

Status CreateTarGz(const fs::path& dir, const fs::path& file) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound("not a directory: " + dir.string());
  std::vector<fs::path> paths;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    paths.push_back(it->path());
  }
  if (ec) return Internal("walk " + dir.string() + ": " + ec.message());
  std::vector<std::pair<std::string, fs::path>> sorted;
  sorted.reserve(paths.size());
  for (auto& p : paths) sorted.emplace_back(p.lexically_relative(dir).generic_string(), p);
  std::sort(sorted.begin(), sorted.end());

  fs::path temp = TempPathFor(file);
  WriteArchive writer(archive_write_new());
  if (!writer) return Internal("libarchive: out of memory");
  archive_write_add_filter_gzip(writer.get());
  archive_write_set_format_pax_restricted(writer.get());
  archive_write_set_options(writer.get(), "gzip:!timestamp");  // reproducible bytes; best effort
  if (archive_write_open_filename(writer.get(), temp.c_str()) != ARCHIVE_OK) {
    return Internal("create " + temp.string() + ": " + ArchiveError(writer.get()));
  }
  auto fail = [&](Status status) {
    writer.reset();
    ::unlink(temp.c_str());
    return status;
  };
  std::string buffer(1 << 16, '\0');
  for (const auto& [relative, path] : sorted) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return fail(ErrnoStatus("lstat", path, errno));
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) continue;  // sockets, FIFOs
    Entry entry(archive_entry_new());
    archive_entry_copy_stat(entry.get(), &st);
    archive_entry_copy_pathname(entry.get(), relative.c_str());
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    archive_entry_set_uname(entry.get(), "");
    archive_entry_set_gname(entry.get(), "");
    archive_entry_unset_atime(entry.get());
    archive_entry_unset_ctime(entry.get());
    archive_entry_set_nlink(entry.get(), 1);
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
      if (n < 0) return fail(ErrnoStatus("readlink", path, errno));
      target.resize(static_cast<std::size_t>(n));
      archive_entry_set_symlink(entry.get(), target.c_str());
    }
    if (archive_write_header(writer.get(), entry.get()) != ARCHIVE_OK) {
      return fail(Internal("archive '" + relative + "': " + ArchiveError(writer.get())));
    }
    if (S_ISREG(st.st_mode)) {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return fail(ErrnoStatus("open", path, errno));
      for (;;) {
        ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n == 0) break;
        if (n < 0) {
          if (errno == EINTR) continue;
          int err = errno;
          ::close(fd);
          return fail(ErrnoStatus("read", path, err));
        }
        if (archive_write_data(writer.get(), buffer.data(), static_cast<size_t>(n)) < 0) {
          ::close(fd);
          return fail(Internal("archive '" + relative + "': " + ArchiveError(writer.get())));
        }
      }
      ::close(fd);
    }
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) {
    return fail(Internal("finish " + temp.string() + ": " + ArchiveError(writer.get())));
  }
  writer.reset();
  if (::rename(temp.c_str(), file.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return ErrnoStatus("rename to", file, err);
  }
  return Status::Ok();
}

}  // namespace tuna::artifacts
