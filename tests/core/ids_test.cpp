// core ids: the per-thread generator is reseeded in a forked child (a fork-server's workers must
// not repeat each other's request and task ids).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <set>
#include <string>

#include "core/ids.hpp"

namespace tuna::core {
namespace {

TEST(FastRandom, AForkedChildDoesNotRepeatItsParentsSequence) {
  (void)FastRandom64();  // the parent's generator is seeded before the fork
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    std::uint64_t v = FastRandom64();
    ssize_t n = ::write(pipe_fds[1], &v, sizeof v);
    ::_exit(n == sizeof v ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::uint64_t from_child = 0;
  ASSERT_EQ(::read(pipe_fds[0], &from_child, sizeof from_child), static_cast<ssize_t>(sizeof from_child));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_NE(FastRandom64(), from_child) << "the child repeated the parent's next value";
}

TEST(FastRandom, RequestIdsAreDistinctHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewRequestId();
    EXPECT_EQ(id.size(), 32u);
    EXPECT_TRUE(IsSaneRequestId(id));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace tuna::core
