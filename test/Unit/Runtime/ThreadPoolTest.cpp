//===- ThreadPoolTest.cpp - rasprt parallel loops ---------------*- C++ -*-===//

#include "rasprt/rasprt.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

struct Marks {
  std::vector<std::atomic<int>> hits;
  explicit Marks(size_t n) : hits(n) {}
};

void mark(int64_t begin, int64_t end, void *context) {
  auto *marks = static_cast<Marks *>(context);
  for (int64_t i = begin; i < end; ++i)
    marks->hits[i].fetch_add(1);
}

TEST(ThreadPool, EveryIterationRunsExactlyOnce) {
  for (int64_t count : {0, 1, 7, 1000, 100003}) {
    for (int64_t grain : {1, 16, 4096}) {
      Marks marks(count);
      rasprt_parallel_for(count, grain, mark, &marks);
      for (int64_t i = 0; i < count; ++i)
        ASSERT_EQ(marks.hits[i].load(), 1) << "count " << count << ", grain " << grain;
    }
  }
}

TEST(ThreadPool, UsesSeveralThreadsAndNestedLoopsRunSerially) {
  rasprt_set_num_threads(4);
  EXPECT_EQ(rasprt_num_threads(), 4);
  struct Context {
    std::mutex m;
    std::set<std::thread::id> ids;
    std::atomic<int64_t> inner{0};
  } ctx;
  // 128 chunks that each sleep 1 ms: even on a loaded machine the workers
  // get scheduled long before the caller could finish alone.
  rasprt_parallel_for(
      128, 1,
      [](int64_t begin, int64_t end, void *c) {
        auto *ctx = static_cast<Context *>(c);
        {
          std::lock_guard<std::mutex> lock(ctx->m);
          ctx->ids.insert(std::this_thread::get_id());
        }
        for (int64_t i = begin; i < end; ++i) {
          rasprt_parallel_for(
              10, 1,
              [](int64_t b, int64_t e, void *c2) {
                static_cast<std::atomic<int64_t> *>(c2)->fetch_add(e - b);
              },
              &ctx->inner);
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      },
      &ctx);
  EXPECT_EQ(ctx.inner.load(), 1280);
  EXPECT_GT(ctx.ids.size(), 1u) << "the work should spread over threads";
}

TEST(ThreadPool, LoopsFromManyThreadsTakeTurns) {
  rasprt_set_num_threads(3);
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        Marks marks(257);
        rasprt_parallel_for(257, 8, mark, &marks);
        for (auto &h : marks.hits)
          if (h.load() != 1)
            ++failures;
      }
    });
  for (std::thread &t : callers)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  rasprt_set_num_threads(1);
  Marks marks(100);
  rasprt_parallel_for(100, 1, mark, &marks);
  EXPECT_EQ(marks.hits[99].load(), 1);
}

} // namespace
