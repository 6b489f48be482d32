// Builds on the pool driver: fetch the snapshot, extract it safely, run the environment's build
// script with bash in the sandbox under the time limit, archive the output, store it.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "artifacts/archive.hpp"
#include "drivers/pool/pool_core.hpp"

namespace tuna::pool {
namespace {

namespace fs = std::filesystem;

// Defaults when the environment leaves a limit at 0.
constexpr std::int64_t kBuildCpuSeconds = 1800;
constexpr std::int64_t kBuildMemoryBytes = std::int64_t{4} << 30;
constexpr std::int64_t kBuildFileSizeBytes = std::int64_t{2} << 30;
constexpr std::int64_t kBuildMaxProcesses = 1024;
constexpr std::size_t kMaxLogRead = 1 << 20;

std::int64_t Or(std::int64_t value, std::int64_t fallback) { return value > 0 ? value : fallback; }

std::string FormatSeconds(std::chrono::seconds s) { return std::to_string(s.count()) + "s"; }

bool IsEmptyDir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_empty(dir, ec) || ec;
}

}  // namespace

// ---- PoolBuild -----------------------------------------------------------------------------

PoolBuild::PoolBuild(std::weak_ptr<PoolCore> core, BuildRequest request, fs::path dir, std::size_t tail_lines)
    : core_(std::move(core)), request_(std::move(request)), dir_(std::move(dir)), log_(dir_ / "build.log"),
      tail_lines_(tail_lines) {}

BuildState PoolBuild::State() {
  BuildState state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state = state_;
  }
  state.log_tail = LogTail(log_, tail_lines_);
  return state;
}

Result<std::string> PoolBuild::ReadLog(std::size_t offset) {
  int fd = ::open(log_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::string();
    return Internal("open build log: " + std::string(std::strerror(errno)));
  }
  std::string out(kMaxLogRead, '\0');
  ssize_t n = ::pread(fd, out.data(), out.size(), static_cast<off_t>(offset));
  int err = errno;
  ::close(fd);
  if (n < 0) return Internal("read build log: " + std::string(std::strerror(err)));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Status PoolBuild::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_.phase == BuildJobPhase::kSucceeded || state_.phase == BuildJobPhase::kFailed) return Status::Ok();
  cancel_requested_ = true;
  if (state_.phase == BuildJobPhase::kPending) {
    state_.phase = BuildJobPhase::kFailed;
    state_.reason = "Cancelled";
    state_.message = "build cancelled before it started";
    state_.completion_time = std::chrono::system_clock::now();
  } else if (process_ != nullptr) {
    process_->KillGroup(SIGKILL);
  }
  return Status::Ok();
}

void PoolBuild::Log(const std::string& line) {
  int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  std::string text = "tuna: " + line + "\n";
  ssize_t ignored = ::write(fd, text.data(), text.size());
  (void)ignored;
  ::close(fd);
}

bool PoolBuild::MarkRunning() {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancel_requested_ || state_.phase != BuildJobPhase::kPending) return false;
  state_.phase = BuildJobPhase::kRunning;
  state_.start_time = std::chrono::system_clock::now();
  return true;
}

void PoolBuild::Finish(BuildJobPhase phase, std::string reason, std::string message, Digest artifact) {
  Log(phase == BuildJobPhase::kSucceeded ? "build succeeded: " + message : "build failed (" + reason + "): " + message);
  std::lock_guard<std::mutex> lock(mu_);
  if (state_.phase == BuildJobPhase::kSucceeded || state_.phase == BuildJobPhase::kFailed) return;
  state_.phase = phase;
  state_.reason = std::move(reason);
  state_.message = std::move(message);
  state_.artifact = std::move(artifact);
  state_.completion_time = std::chrono::system_clock::now();
}

void PoolBuild::SetProcess(sandbox::Process* process) {
  std::lock_guard<std::mutex> lock(mu_);
  process_ = process;
  if (process_ != nullptr && cancel_requested_) process_->KillGroup(SIGKILL);
}

bool PoolBuild::cancelled() {
  std::lock_guard<std::mutex> lock(mu_);
  return cancel_requested_;
}

// ---- PoolCore: builds ----------------------------------------------------------------------

Result<BuildPtr> PoolCore::StartBuild(const BuildRequest& request) {
  if (request.id.empty()) return InvalidArgument("build id is empty", "id");
  if (!IsValidDigest(request.source)) {
    return InvalidArgument("source is not a sha256 digest: '" + request.source + "'", "source");
  }
  if (request.time_limit.count() <= 0) return InvalidArgument("time limit must be positive", "time_limit");
  if (stopping_) return Unavailable("pool driver is shut down");
  std::shared_ptr<PoolBuild> build;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = builds_.find(request.id); it != builds_.end()) return BuildPtr(it->second);
    fs::path dir = options_.work_dir / "builds" / SafeKey(request.id);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Internal("create " + dir.string() + ": " + ec.message());
    build = std::make_shared<PoolBuild>(weak_from_this(), request, dir, options_.log_tail_lines);
    builds_[request.id] = build;
  }
  build->Log("build " + request.id + " queued");
  if (!build_tasks_->Post([this, build] { RunBuild(build); })) {
    build->Finish(BuildJobPhase::kFailed, "Cancelled", "pool driver is shutting down");
  }
  return BuildPtr(build);
}

Result<BuildPtr> PoolCore::FindBuild(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = builds_.find(id);
  if (it == builds_.end()) return NotFound("build " + id + " not found on the pool driver");
  return BuildPtr(it->second);
}

void PoolCore::RunBuild(const std::shared_ptr<PoolBuild>& build) {
  if (!build->MarkRunning()) return;
  if (stopping_) {
    build->Finish(BuildJobPhase::kFailed, "Cancelled", "pool driver is shutting down");
    return;
  }
  const BuildRequest& request = build->request();
  const EnvironmentSpec& env = request.environment;
  fs::path sandbox_dir = build->dir() / "sandbox";
  fs::path src = sandbox_dir / "src";
  fs::path out = sandbox_dir / "out";
  fs::path home = sandbox_dir / "home";
  fs::path archive = build->dir() / "source.archive";
  fs::path output = build->dir() / "output.tar.gz";
  auto cleanup = [&] {
    std::error_code ec;
    fs::remove_all(sandbox_dir, ec);
    fs::remove(archive, ec);
    fs::remove(output, ec);
  };
  std::error_code ec;
  for (const auto& d : {src, out, home}) fs::create_directories(d, ec);
  if (ec) {
    build->Finish(BuildJobPhase::kFailed, "InternalError", "create build directories: " + ec.message());
    return;
  }

  build->Log("fetching source " + request.source);
  if (Status s = options_.artifacts->Fetch(request.source, archive); !s.ok()) {
    build->Finish(BuildJobPhase::kFailed, "SourceUnavailable", s.ToString());
    cleanup();
    return;
  }
  if (Status s = artifacts::ExtractSafely(archive, src); !s.ok()) {
    build->Finish(BuildJobPhase::kFailed, "InvalidSource", "source archive refused: " + s.message());
    cleanup();
    return;
  }
  fs::remove(archive, ec);

  if (env.build_script.empty()) {
    build->Log("environment " + env.name + " has no build script; packaging the source as is");
  } else {
    sandbox::ProcessSpec spec;
    spec.argv = {"/bin/bash", "-c", env.build_script, "tuna-build"};
    spec.env = BaseEnv(home);
    for (const auto& [k, v] : env.env) spec.env[k] = v;
    spec.env["TUNA_BUILD_ID"] = request.id;
    spec.env["TUNA_SOURCE_DIR"] = src.string();
    spec.env["TUNA_OUTPUT_DIR"] = out.string();
    spec.env[registry_->marker_key()] = registry_->marker_value();
    spec.cwd = src;
    spec.log_file = build->log_path();
    spec.limits = {.cpu_seconds = Or(env.limits.cpu_seconds, kBuildCpuSeconds),
                   .memory_bytes = Or(env.limits.memory_bytes, kBuildMemoryBytes),
                   .file_size_bytes = Or(env.limits.file_size_bytes, kBuildFileSizeBytes),
                   .max_processes = Or(env.limits.max_processes, kBuildMaxProcesses)};
    if (use_bwrap_) {
      // The work dir (other builds, workers, the log) is hidden; only this build's sandbox is writable.
      spec.bwrap = {.enabled = true, .bwrap = options_.bwrap_path, .share_network = options_.build_network,
                    .hidden = HiddenPaths(), .read_only = {}, .writable = {sandbox_dir}};
    }
    build->Log("running the build script of environment " + env.name + " (time limit " +
               FormatSeconds(request.time_limit) + (use_bwrap_ ? ", bubblewrap" : ", no bubblewrap") + ")");
    auto process = SpawnTracked(spec);
    if (!process.ok()) {
      build->Finish(BuildJobPhase::kFailed, "StartError", "cannot start the build script: " + process.status().message());
      cleanup();
      return;
    }
    sandbox::Process& running = ***process;
    build->SetProcess(&running);
    auto exit = running.Wait(std::chrono::duration_cast<std::chrono::milliseconds>(request.time_limit));
    bool timed_out = !exit.has_value();
    if (timed_out) {
      running.KillGroup(SIGKILL);
      exit = running.Wait(std::chrono::milliseconds(-1));
    }
    build->SetProcess(nullptr);
    process->reset();  // kills whatever is left of the group
    if (build->cancelled()) {
      build->Finish(BuildJobPhase::kFailed, "Cancelled", "build cancelled; its processes were killed");
      cleanup();
      return;
    }
    if (timed_out) {
      build->Finish(BuildJobPhase::kFailed, "DeadlineExceeded",
                    "build exceeded its time limit of " + FormatSeconds(request.time_limit) +
                        "; its process group was killed");
      cleanup();
      return;
    }
    if (!exit->success()) {
      // bash and bubblewrap's init report a child killed by signal N as exit code 128+N.
      int signal = exit->signal;
      std::string detail;
      if (signal == 0 && exit->exit_code > 128 && exit->exit_code < 128 + NSIG) {
        signal = exit->exit_code - 128;
        const char* name = ::strsignal(signal);
        detail = " (a process was killed by signal " + std::to_string(signal) + (name ? std::string(": ") + name : "") + ")";
      }
      std::string reason = "ExitCode";
      if (signal == SIGXCPU) {
        reason = "CPULimitExceeded";
      } else if (signal == SIGXFSZ) {
        reason = "FileSizeLimitExceeded";
      } else if (exit->signal != 0) {
        reason = "Killed";
      }
      build->Finish(BuildJobPhase::kFailed, reason, "build script failed: " + exit->ToString() + detail);
      cleanup();
      return;
    }
  }

  if (build->cancelled() || stopping_) {
    build->Finish(BuildJobPhase::kFailed, "Cancelled", "build cancelled");
    cleanup();
    return;
  }
  // The output is $TUNA_OUTPUT_DIR when the script put anything there, else the working dir.
  const fs::path& result_dir = IsEmptyDir(out) ? src : out;
  build->Log("archiving " + std::string(result_dir == out ? "$TUNA_OUTPUT_DIR" : "the working directory"));
  if (Status s = artifacts::CreateTarGz(result_dir, output); !s.ok()) {
    build->Finish(BuildJobPhase::kFailed, "ArtifactError", "archive the output: " + s.message());
    cleanup();
    return;
  }
  auto digest = options_.artifacts->Put(output);
  if (!digest.ok()) {
    build->Finish(BuildJobPhase::kFailed, "ArtifactError", "store the output: " + digest.status().message());
    cleanup();
    return;
  }
  build->Finish(BuildJobPhase::kSucceeded, "", "artifact " + *digest, *digest);
  cleanup();
}

}  // namespace tuna::pool
