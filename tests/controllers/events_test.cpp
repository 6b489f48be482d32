#include <gtest/gtest.h>

#include "tuna/events.hpp"

namespace tuna {
namespace {

const ObjectKey kKey{"AgentDeployment", "default", "echo"};

TEST(EventRecorder, FoldsRepeatsOfTheLatestEvent) {
  EventRecorder r;
  r.Record(kKey, "Warning", "BuildFailed", "exit 3");
  r.Record(kKey, "Warning", "BuildFailed", "exit 3");
  r.Record(kKey, "Normal", "Deployed", "staging revision a deployed");
  auto events = r.List(kKey);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].count, 2);
  EXPECT_EQ(events[0].reason, "BuildFailed");
  EXPECT_EQ(events[1].reason, "Deployed");
  EXPECT_FALSE(events[1].first_timestamp.empty());
}

TEST(EventRecorder, BoundsEventsPerObjectAndObjects) {
  EventRecorder r(/*per_object=*/3, /*max_objects=*/2);
  for (int i = 0; i < 10; ++i) r.Record(kKey, "Normal", "Step", std::to_string(i));
  auto events = r.List(kKey);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events.front().message, "7");  // oldest dropped first
  r.Record({"AgentDeployment", "default", "b"}, "Normal", "X", "x");
  r.Record({"AgentDeployment", "default", "c"}, "Normal", "X", "x");
  EXPECT_TRUE(r.List(kKey).empty());  // the first-recorded object was evicted
  r.Forget({"AgentDeployment", "default", "c"});
  EXPECT_TRUE(r.List({"AgentDeployment", "default", "c"}).empty());
  EXPECT_EQ(r.List({"AgentDeployment", "default", "b"}).size(), 1u);
}

}  // namespace
}  // namespace tuna
