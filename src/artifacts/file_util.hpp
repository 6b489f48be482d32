#pragma once
// Small POSIX file helpers shared by the artifact store and the pool driver. Private.

#include <filesystem>
#include <string>
#include <string_view>

#include "tuna/status.hpp"

namespace tuna::artifacts {

/// "<what> <path>: <strerror(err)>" as an Internal (or NotFound for ENOENT) status.
Status ErrnoStatus(std::string_view what, const std::filesystem::path& path, int err);

/// fsync()s a directory so a rename inside it survives a crash.
Status FsyncDirectory(const std::filesystem::path& dir);

/// Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename, fsync dir.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes);

/// Reads a whole file.
Result<std::string> ReadWholeFile(const std::filesystem::path& path);

/// A unique temp name next to `path` ("<path>.tmp.<pid>.<counter>").
std::filesystem::path TempPathFor(const std::filesystem::path& path);

}  // namespace tuna::artifacts
