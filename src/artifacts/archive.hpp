#pragma once
// Archive creation and safe extraction with libarchive. Private to the library.
//
// ExtractSafely refuses, with InvalidArgument and the entry's name in the message:
//   - absolute paths and any ".." component ("zip-slip");
//   - symlinks with an absolute target or one that leaves the extraction directory
//     (".." is allowed only as a leading prefix, and only as far up as the link's own depth);
//   - hardlinks whose target is absolute, has "..", or is not already extracted;
//   - entries written through a symlink (even one pointing inside);
//   - devices, FIFOs and sockets.
// Limits give ResourceExhausted. setuid/setgid/sticky bits and owners are never restored.
// On error the directory may hold a partial extraction: extract into a fresh directory and
// remove it on failure.

#include <cstdint>
#include <filesystem>

#include "tuna/status.hpp"

namespace tuna::artifacts {

struct ExtractLimits {
  std::uint64_t max_total_bytes = std::uint64_t{4} << 30;  // sum of file sizes
  std::uint64_t max_entries = 200000;
};

/// Writes `dir`'s content (files, directories, symlinks; sorted, owners cleared) as a gzip'd
/// pax tar to `file`, atomically.
Status CreateTarGz(const std::filesystem::path& dir, const std::filesystem::path& file);

/// Extracts `file` (tar, tar.gz, zip, ... anything libarchive reads) into `dir` (created).
Status ExtractSafely(const std::filesystem::path& file, const std::filesystem::path& dir,
                     const ExtractLimits& limits = {});

}  // namespace tuna::artifacts
