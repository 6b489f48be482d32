#include "drivers/pool/pool_core.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <system_error>


namespace tuna::pool {
namespace {

namespace fs = std::filesystem;

// Longest socket path we create below the work dir: "<work_dir>/workers/<id>/worker.sock".
constexpr std::size_t kSocketSuffixMax = sizeof("/workers/18446744073709551615/worker.sock");
constexpr std::size_t kSunPathMax = 108;

}  // namespace

std::string SafeKey(std::string_view id) {
  std::string key;
  for (char c : id) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    key.push_back(safe ? c : '_');
  }
  if (key.size() > 80) key.resize(80);
  // The hash keeps keys unique when sanitising maps two ids to one string.
  return key + "-" + Sha256Bytes(id).substr(7, 12);
}

TrackedProcess::TrackedProcess(sandbox::ProcessPtr process, std::shared_ptr<ProcessRegistry> registry)
    : process_(std::move(process)), registry_(std::move(registry)), pid_(process_->pid()) {
  registry_->Add(pid_);
}

TrackedProcess::~TrackedProcess() {
  process_.reset();  // kills the group and reaps
  registry_->Remove(pid_);
}

Worker::~Worker() {
  client.reset();
  process.reset();
  std::error_code ec;
  if (!dir.empty()) fs::remove_all(dir, ec);
  if (!log.empty()) fs::remove(log, ec);
  if (!exit_file.empty()) fs::remove(exit_file, ec);
}

Result<std::shared_ptr<PoolCore>> PoolCore::Make(PoolDriverOptions options) {
  if (options.work_dir.empty()) return InvalidArgument("pool driver needs a work_dir", "work_dir");
  if (options.artifacts == nullptr) return InvalidArgument("pool driver needs an artifact store", "artifacts");
  if (options.max_concurrent_builds < 1) return InvalidArgument("max_concurrent_builds must be >= 1", "max_concurrent_builds");
  if (options.manager_threads < 1) return InvalidArgument("manager_threads must be >= 1", "manager_threads");
  std::error_code ec;
  fs::create_directories(options.work_dir, ec);
  if (ec) return Internal("create " + options.work_dir.string() + ": " + ec.message());
  options.work_dir = fs::canonical(options.work_dir, ec);
  if (ec) return Internal("resolve work dir: " + ec.message());
  if (options.work_dir.native().size() + kSocketSuffixMax > kSunPathMax) {
    return InvalidArgument("work_dir " + options.work_dir.string() + " is too long for Unix socket paths (max " +
                               std::to_string(kSunPathMax - kSocketSuffixMax) + " characters)",
                           "work_dir");
  }
  for (const char* sub : {"builds", "workers", "artifacts", "revisions"}) {
    fs::create_directories(options.work_dir / sub, ec);
    if (ec) return Internal("create " + (options.work_dir / sub).string() + ": " + ec.message());
  }
  auto core = std::shared_ptr<PoolCore>(new PoolCore(std::move(options)));
  TUNA_ASSIGN_OR_RETURN(core->registry_, ProcessRegistry::Open(core->options_.work_dir));
  core->marker_entry_ = core->registry_->marker_key() + "=" + core->registry_->marker_value();
  core->use_bwrap_ = core->options_.use_bubblewrap && sandbox::BwrapAvailable(core->options_.bwrap_path);
  // Leftovers of an earlier driver are dead now; their files are garbage.
  for (const char* sub : {"builds", "workers", "revisions", "artifacts"}) {
    for (const auto& entry : fs::directory_iterator(core->options_.work_dir / sub, ec)) fs::remove_all(entry.path(), ec);
  }
  core->build_tasks_ = std::make_unique<TaskPool>(core->options_.max_concurrent_builds);
  core->manager_tasks_ = std::make_unique<TaskPool>(core->options_.manager_threads);
  core->maintenance_ = std::thread([raw = core.get()] { raw->MaintenanceLoop(); });
  return core;
}

PoolCore::~PoolCore() { Shutdown(); }

void PoolCore::Shutdown() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(maintenance_mu_);
  }
  maintenance_cv_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
  // Builds: cancel (kills running scripts), then let the queue drain (each sees stopping_).
  std::vector<std::shared_ptr<PoolBuild>> builds;
  std::vector<RevisionPtr> revisions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, build] : builds_) builds.push_back(build);
    for (auto& [id, revision] : revisions_) {
      revision->undeployed = true;
      revision->cv.notify_all();
      revisions.push_back(revision);
    }
  }
  for (auto& build : builds) (void)build->Cancel();
  if (build_tasks_) build_tasks_->Stop();
  if (manager_tasks_) manager_tasks_->Stop();
  // Now no thread of ours spawns any more: kill every worker and stdio server.
  std::vector<WorkerPtr> graveyard;
  std::vector<std::unique_ptr<TrackedProcess>> stdio_processes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [name, pool] : environments_) {
      for (auto& w : pool.warm) graveyard.push_back(w);
      pool.warm.clear();
    }
    for (auto& revision : revisions) {
      for (auto& w : revision->replicas) graveyard.push_back(w);
      revision->replicas.clear();
    }
  }
  for (auto& revision : revisions) {
    if (revision->stdio) {
      // Kill first so an in-flight call returns, then wait for it and take the process.
      if (pid_t pgid = revision->stdio->pgid.load(); pgid > 0) ::killpg(pgid, SIGKILL);
      revision->stdio->call_gate.Enter();
      GateGuard call_guard(revision->stdio->call_gate);
      if (revision->stdio->process) stdio_processes.push_back(std::move(revision->stdio->process));
      revision->stdio->pgid = 0;
    }
  }
  // Kill all groups first, then reap: teardown in parallel instead of one by one.
  for (auto& w : graveyard) {
    if (w->process) (*w->process)->KillGroup(SIGKILL);
  }
  graveyard.clear();
  stdio_processes.clear();
  {
    std::map<std::string, ForkServerPtr> fork_servers;
    {
      std::lock_guard<std::mutex> lock(fork_mu_);
      fork_servers.swap(fork_servers_);
    }
  }
  // Whatever left its process group (setsid) without a pid namespace around it.
  if (registry_) registry_->SweepMarked();
}

Result<std::unique_ptr<TrackedProcess>> PoolCore::SpawnTracked(const sandbox::ProcessSpec& spec) {
  TUNA_ASSIGN_OR_RETURN(sandbox::ProcessPtr process, sandbox::Process::Spawn(spec));
  return std::make_unique<TrackedProcess>(std::move(process), registry_);
}

std::vector<fs::path> PoolCore::HiddenPaths() const {
  std::vector<fs::path> hidden;
  std::error_code ec;
  for (const auto& path : options_.hidden_paths) {
    // bwrap cannot create a mount point for a missing path on the read-only root.
    if (path.is_absolute() && fs::exists(path, ec)) hidden.push_back(path);
  }
  hidden.push_back(options_.work_dir);
  return hidden;
}

std::map<std::string, std::string> PoolCore::BaseEnv(const fs::path& home) const {
  return {
      {"PATH", "/usr/local/bin:/usr/bin:/bin"},
      {"LANG", "C.UTF-8"},
      {"HOME", home.string()},
      {"TMPDIR", use_bwrap_ ? "/tmp" : home.string()},
      {registry_->marker_key(), registry_->marker_value()},
  };
}

std::string FileTail(const fs::path& file, std::size_t max) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff from = size > static_cast<std::streamoff>(max) ? size - static_cast<std::streamoff>(max) : 0;
  in.seekg(from);
  std::string text(static_cast<std::size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (from > 0) {
    auto nl = text.find('\n');
    text = nl == std::string::npos ? std::string() : text.substr(nl + 1);
  }
  return text;
}

std::string LogTail(const fs::path& log, std::size_t lines) {
  const std::string data = FileTail(log, 64 * 1024);
  std::vector<std::string_view> all;
  std::string_view view(data);
  while (!view.empty()) {
    std::size_t nl = view.find('\n');
    all.push_back(view.substr(0, nl));
    if (nl == std::string_view::npos) break;
    view.remove_prefix(nl + 1);
  }
  std::size_t first = all.size() > lines ? all.size() - lines : 0;
  std::string tail;
  for (std::size_t i = first; i < all.size(); ++i) {
    tail.append(all[i]);
    tail.push_back('\n');
  }
  return tail;
}

void PoolCore::MaintenanceLoop() {
  std::unique_lock<std::mutex> lock(maintenance_mu_);
  while (!stopping_) {
    maintenance_cv_.wait_for(lock, options_.maintenance_interval, [&] { return stopping_.load(); });
    if (stopping_) break;
    lock.unlock();
    MaintainOnce();
    lock.lock();
  }
}

}  // namespace tuna::pool
