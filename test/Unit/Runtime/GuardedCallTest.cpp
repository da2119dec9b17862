//===- GuardedCallTest.cpp - failed allocations in compiled code -*- C++ -*-===//
//
// rasprt_guarded_call against stand-ins for compiled code: functions that
// allocate through the names compiled code calls, on the calling thread and
// inside parallel loops.
//
//===----------------------------------------------------------------------===//

#include "rasprt/rasprt.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>

extern "C" void *_mlir_memref_to_llvm_alloc(uint64_t size);
extern "C" void _mlir_memref_to_llvm_free(void *buffer);

// Under AddressSanitizer an allocation it cannot serve ends the process
// unless told to return null, as malloc does; the failure is what these
// tests are about (lit's out-of-memory.test sets the same option).
extern "C" const char *__asan_default_options() { return "allocator_may_return_null=1"; }

namespace {

constexpr uint64_t kHuge = uint64_t(1) << 62; // no machine has this
constexpr uint64_t kKept = uint64_t(4) << 20;  // cached when freed

void allocateTooMuch(void *) {
  // A buffer the call holds when it fails: freed by the guard.
  _mlir_memref_to_llvm_alloc(kKept);
  _mlir_memref_to_llvm_alloc(kHuge);
  ADD_FAILURE() << "the call went on after a failed allocation";
}

TEST(GuardedCall, FailedAllocationEndsTheCallAndFreesItsBuffers) {
  size_t cachedBefore = rasprt_buffer_cached_bytes();
  EXPECT_EQ(rasprt_guarded_call(allocateTooMuch, nullptr), RASPRT_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(std::string(rasprt_last_error()),
            "out of memory: the program needed a buffer of 4611686018427387904 bytes "
            "(4.0 EiB) that could not be allocated");
  EXPECT_GE(rasprt_buffer_cached_bytes(), cachedBefore + kKept)
      << "the buffer the call held was not released";
}

struct LoopState {
  std::atomic<int64_t> chunks{0};
};

void failInOneChunk(int64_t begin, int64_t end, void *context) {
  auto *state = static_cast<LoopState *>(context);
  for (int64_t i = begin; i < end; ++i) {
    state->chunks.fetch_add(1);
    void *scratch = _mlir_memref_to_llvm_alloc(256);
    if (i == 37)
      _mlir_memref_to_llvm_alloc(kHuge);
    _mlir_memref_to_llvm_free(scratch);
  }
}

void loopThatFails(void *context) {
  rasprt_parallel_for(1000, 1, failInOneChunk, context);
  ADD_FAILURE() << "the call went on after a task failed";
}

void sum(int64_t begin, int64_t end, void *context) {
  static_cast<std::atomic<int64_t> *>(context)->fetch_add(end - begin);
}

void loopThatSucceeds(void *context) { rasprt_parallel_for(1000, 7, sum, context); }

TEST(GuardedCall, FailureInsideAParallelLoopEndsTheCall) {
  int32_t threads = rasprt_num_threads();
  rasprt_set_num_threads(4);
  for (int attempt = 0; attempt < 20; ++attempt) {
    LoopState state;
    EXPECT_EQ(rasprt_guarded_call(loopThatFails, &state), RASPRT_ERROR_OUT_OF_MEMORY);
    EXPECT_NE(std::string(rasprt_last_error()).find("4611686018427387904 bytes"),
              std::string::npos);
    // The pool is whole afterwards: the next loop runs every iteration.
    std::atomic<int64_t> count{0};
    EXPECT_EQ(rasprt_guarded_call(loopThatSucceeds, &count), RASPRT_OK);
    EXPECT_EQ(count.load(), 1000);
  }
  rasprt_set_num_threads(threads);
}

TEST(GuardedCall, WithoutAGuardCompiledCodeExitsWithTheMessage) {
  EXPECT_EXIT(_mlir_memref_to_llvm_alloc(kHuge), ::testing::ExitedWithCode(1),
              "rasprt: error: out of memory: the program needed a buffer of "
              "4611686018427387904 bytes");
}

} // namespace
