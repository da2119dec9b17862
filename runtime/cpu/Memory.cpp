//===- Memory.cpp - buffers for compiled code, reused across calls -*- C++ -*-===//
//
// Compiled code allocates every buffer through _mlir_memref_to_llvm_alloc /
// _aligned_alloc / _free (MLIR's "generic" allocation functions). Large
// blocks are kept when freed and handed out again: a model called in a loop
// otherwise gets fresh pages from the kernel on every call, and zeroing and
// faulting them in measured up to half of an attention layer's time
// (sliding window, L = 4096). Blocks are plain aligned_alloc'ed memory, so a
// host may still free() a result it was given.
//
//===----------------------------------------------------------------------===//

#include "rasprt/rasprt.h"

#include "../cuda/DeviceMemory.h"
#include "CallScope.h"
#include "Error.h"

#include <malloc.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <cstdlib>
#include <map>
#include <mutex>

namespace {

/// Blocks smaller than this come from malloc and go straight back. Above
/// malloc's mmap threshold (128 KiB to start with) a freed block goes back
/// to the kernel: at 1 MiB, a one-layer encoder at L = 512 (activations of
/// 512 KiB) spent 12 % of its time faulting fresh pages in.
constexpr size_t kMinCachedBytes = size_t(64) << 10;
constexpr size_t kAlignment = 64;

class BlockCache {
public:
  static BlockCache &get() {
    static BlockCache *cache = new BlockCache; // lives as long as the process
    return *cache;
  }

  void *allocate(size_t alignment, size_t size) {
    alignment = alignment < kAlignment ? kAlignment : alignment;
    size_t rounded = (size + alignment - 1) / alignment * alignment;
    if (rounded == 0)
      rounded = alignment;
    if (rounded >= kMinCachedBytes) {
      std::lock_guard<std::mutex> lock(mutex);
      // The smallest cached block that fits and wastes at most a quarter.
      for (auto it = blocks.lower_bound(rounded);
           it != blocks.end() && it->first <= rounded + rounded / 4; ++it) {
        if (reinterpret_cast<uintptr_t>(it->second) % alignment != 0)
          continue;
        void *p = it->second;
        cachedBytes -= it->first;
        blocks.erase(it);
        return p;
      }
    }
    return std::aligned_alloc(alignment, rounded);
  }

  size_t cached() {
    std::lock_guard<std::mutex> lock(mutex);
    return cachedBytes;
  }

  void release(void *p) {
    if (!p)
      return;
    size_t usable = malloc_usable_size(p);
    if (usable >= kMinCachedBytes) {
      std::lock_guard<std::mutex> lock(mutex);
      if (cachedBytes + usable <= limit) {
        blocks.emplace(usable, p);
        cachedBytes += usable;
        return;
      }
    }
    std::free(p);
  }

private:
  BlockCache() {
    if (const char *env = std::getenv("RASPRT_CACHE_BYTES"))
      limit = std::strtoull(env, nullptr, 10);
  }

  std::mutex mutex;
  std::multimap<size_t, void *> blocks; // usable size -> block
  size_t cachedBytes = 0;
  size_t limit = size_t(1) << 30;
};

} // namespace

extern "C" void *rasprt_buffer_alloc(size_t alignment, size_t size) {
  return BlockCache::get().allocate(alignment, size);
}

extern "C" size_t rasprt_buffer_cached_bytes(void) { return BlockCache::get().cached(); }

extern "C" void rasprt_buffer_free(void *buffer) {
  // Results of CUDA programs are device memory from the driver.
  if (!rasprt::cuda::releaseDeviceBuffer(buffer))
    BlockCache::get().release(buffer);
}

// The names MLIR's memref-to-LLVM lowering calls with use-generic-functions.
// A buffer compiled code cannot have ends the call (CallScope.h) instead of
// handing it a null pointer.
namespace {
void *allocateForCompiledCode(uint64_t alignment, uint64_t size) {
  void *buffer = size > PTRDIFF_MAX ? nullptr : rasprt_buffer_alloc(alignment, size);
  if (!buffer) {
    // The message's strings are gone by the end of this statement; the
    // jump below would skip their destructors (a leak per failed call).
    rasprt::recordCallFailure("out of memory: the program needed a buffer of " +
                              std::to_string(size) + " bytes (" + rasprt::formatBytes(size) +
                              ") that could not be allocated");
    rasprt::abandonCall();
  }
  rasprt::noteAllocated(buffer);
  return buffer;
}
} // namespace

extern "C" RASPRT_API void *_mlir_memref_to_llvm_alloc(uint64_t size) {
  return allocateForCompiledCode(kAlignment, size);
}
extern "C" RASPRT_API void *_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment,
                                                               uint64_t size) {
  return allocateForCompiledCode(alignment, size);
}
extern "C" RASPRT_API void _mlir_memref_to_llvm_free(void *buffer) {
  rasprt::noteFreed(buffer);
  rasprt_buffer_free(buffer);
}
