//===- SharedMemoryRacesTest.cpp - The emulator's race tracker ------------===//

#include "SharedMemoryRaces.h"

#include <gtest/gtest.h>

using raspc::emulator::SharedMemoryRaces;

namespace {

constexpr bool kRead = false, kWrite = true;

struct SharedMemoryRacesTest : ::testing::Test {
  SharedMemoryRaces races{1024};
  SharedMemoryRacesTest() {
    races.startProgram();
    races.startBlock();
  }
};

TEST_F(SharedMemoryRacesTest, ThreadsMeetAtBarriers) {
  races.access(kWrite, "st.shared", 1, /*epoch=*/0, 64, 4);
  races.access(kRead, "ld.shared", 2, /*epoch=*/1, 64, 4);
  EXPECT_EQ(races.races(), 0);
  races.access(kRead, "ld.shared", 3, /*epoch=*/1, 66, 2);
  races.access(kWrite, "st.shared", 1, /*epoch=*/1, 66, 2);
  EXPECT_EQ(races.races(), 1);
  EXPECT_EQ(races.firstRace(), "st.shared by thread 1 in epoch 1 races with ld.shared by "
                               "several threads completed in the same epoch at shared byte 66");
}

TEST_F(SharedMemoryRacesTest, OneThreadIsInProgramOrder) {
  races.access(kWrite, "st.shared", 5, 0, 0, 16);
  races.access(kRead, "ld.shared", 5, 0, 0, 16);
  // Neighbouring elements of other threads: 2 bytes apart.
  races.access(kWrite, "st.shared", 6, 0, 16, 2);
  races.access(kRead, "ld.shared", 7, 0, 18, 2);
  EXPECT_EQ(races.races(), 0);
}

TEST_F(SharedMemoryRacesTest, AsynchronousAccessesSpanTheirEpochs) {
  int copy = races.begin(kWrite, "cp.async", 0, /*epoch=*/0, {8, 9});
  races.access(kRead, "ld.shared", 0, 0, 16, 2); // its own copy, not waited for
  EXPECT_EQ(races.races(), 1);
  races.complete(copy, /*epoch=*/1);
  races.access(kRead, "ld.shared", 0, 1, 16, 4); // waited for, by the copier
  EXPECT_EQ(races.races(), 1);
  races.access(kRead, "ldmatrix", 1, 1, 16, 4); // before the barrier after the wait
  EXPECT_EQ(races.races(), 3);
  races.access(kRead, "ldmatrix", 1, 2, 16, 4);
  EXPECT_EQ(races.races(), 3);
}

TEST_F(SharedMemoryRacesTest, WgmmaReadsUntilRetired) {
  int mma = races.begin(kRead, "wgmma", 0, /*epoch=*/3, {100, 101}, /*throughAsyncProxy=*/true);
  races.access(kWrite, "st.shared", 9, 4, 200, 2); // a later epoch, still in flight
  EXPECT_EQ(races.races(), 1);
  races.complete(mma, /*epoch=*/4);
  races.access(kWrite, "st.shared", 9, 5, 202, 2);
  EXPECT_EQ(races.races(), 1);
  races.startBlock();
  races.access(kWrite, "st.shared", 9, 0, 200, 2);
  EXPECT_EQ(races.races(), 1) << "a new block forgets the last one's accesses";
}

TEST_F(SharedMemoryRacesTest, AsyncProxyReadsFencedWrites) {
  races.access(kWrite, "st.shared", 4, 0, 32, 2);
  int unfenced = races.begin(kRead, "wgmma", 0, 1, {16}, /*throughAsyncProxy=*/true);
  EXPECT_EQ(races.races(), 1);
  EXPECT_EQ(races.firstRace(), "wgmma by thread 0 in epoch 1 reads shared byte 32, written by "
                               "thread 4 with no fence.proxy.async before a barrier since");
  races.complete(unfenced, 1);
  races.fenceProxy(4, /*epoch=*/2);
  // Fenced in the reader's epoch: maybe after the read.
  int late = races.begin(kRead, "wgmma", 0, 2, {16}, /*throughAsyncProxy=*/true);
  EXPECT_EQ(races.races(), 2);
  races.complete(late, 2);
  // A barrier later, visible.
  races.begin(kRead, "wgmma", 0, 3, {16}, /*throughAsyncProxy=*/true);
  EXPECT_EQ(races.races(), 2);
}

TEST_F(SharedMemoryRacesTest, WritesRaceWithWrites) {
  races.access(kWrite, "st.shared", 1, 0, 8, 2);
  races.access(kWrite, "st.shared", 1, 0, 8, 2); // its own, in order
  EXPECT_EQ(races.races(), 0);
  races.access(kWrite, "st.shared", 2, 0, 8, 2);
  EXPECT_EQ(races.races(), 1);
  int copy = races.begin(kWrite, "cp.async", 3, 1, {20});
  races.access(kWrite, "st.shared", 3, 1, 40, 2); // its own copy, still in flight
  EXPECT_EQ(races.races(), 2);
  races.complete(copy, 1);
}

TEST_F(SharedMemoryRacesTest, AccessesPastTheEndAreReported) {
  races.access(kRead, "ld.shared", 0, 0, 1024, 2);
  EXPECT_EQ(races.races(), 1);
  races.complete(races.begin(kWrite, "cp.async", 0, 0, {600}), 0);
  EXPECT_EQ(races.races(), 2);
}

} // namespace
