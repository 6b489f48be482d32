#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support/temp_dir.hpp"
#include "drivers/pool/process_registry.hpp"
#include "sandbox/proc_scan.hpp"
#include "sandbox/process.hpp"
#include "tuna/driver.hpp"

namespace tuna::pool {
namespace {

using namespace std::chrono_literals;

unsigned long long StartTime(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  for (int i = 0; i < 20 && rest >> field; ++i) {
    if (i == 19) return std::stoull(field);
  }
  return 0;
}

bool Alive(pid_t pid) { return !testing::ProcessesInGroup(pid).empty(); }

sandbox::ProcessSpec Sleeper(const testing::TempDir& dir) {
  sandbox::ProcessSpec spec;
  spec.argv = {"/bin/sleep", "1000"};
  spec.cwd = dir.path();
  return spec;
}

TEST(PoolProcessRegistryTest, KillsRecordedLeftoversButNotReusedPids) {
  testing::TempDir dir;
  auto leftover = sandbox::Process::Spawn(Sleeper(dir));
  auto innocent = sandbox::Process::Spawn(Sleeper(dir));
  ASSERT_TRUE(leftover.ok() && innocent.ok());
  pid_t leftover_pid = (*leftover)->pid();
  pid_t innocent_pid = (*innocent)->pid();
  // What a crashed driver left: one entry that matches, one whose start time says "reused pid".
  std::ofstream(dir / "pool.pids") << leftover_pid << " " << StartTime(leftover_pid) << "\n"
                                   << innocent_pid << " " << StartTime(innocent_pid) + 12345 << "\n";
  {
    auto registry = ProcessRegistry::Open(dir.path());
    ASSERT_TRUE(registry.ok()) << registry.status().ToString();
    EXPECT_GE((*registry)->leftovers_killed(), 1);
    auto exit = (*leftover)->Wait(20000ms);
    ASSERT_TRUE(exit.has_value()) << "the recorded leftover was not killed";
    EXPECT_EQ(exit->signal, SIGKILL);
    EXPECT_TRUE(Alive(innocent_pid)) << "a pid whose start time does not match was killed";

    // A second registry on the same work dir is refused while the first holds the lock.
    auto second = ProcessRegistry::Open(dir.path());
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);

    // Add/Remove keep the file current.
    (*registry)->Add(innocent_pid);
    std::ifstream in(dir / "pool.pids");
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content, std::to_string(innocent_pid) + " " + std::to_string(StartTime(innocent_pid)) + "\n");
    (*registry)->Remove(innocent_pid);
  }
  std::ifstream in(dir / "pool.pids");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "");
}

TEST(PoolDriverRegistryTest, RegistersByNameAndRefusesDuplicates) {
  testing::TempDir dir;
  auto store = MakeLocalArtifactStore({dir / "store"});
  ASSERT_TRUE(store.ok());
  DriverRegistry registry;
  auto first = MakePoolDriver({.work_dir = dir / "a", .artifacts = store->get()});
  auto second = MakePoolDriver({.work_dir = dir / "b", .artifacts = store->get()});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(registry.Register(std::move(*first)).ok());
  Status duplicate = registry.Register(std::move(*second));
  EXPECT_EQ(duplicate.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.Names(), std::vector<std::string>{"pool"});
  ASSERT_NE(registry.Find("pool"), nullptr);
  EXPECT_EQ(registry.Find("k8s"), nullptr);
  registry.ShutdownAll();
  EXPECT_EQ(registry.Find("pool")->Deploy({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(MakePoolDriver({.work_dir = dir / "c"}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tuna::pool
