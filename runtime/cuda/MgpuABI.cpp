//===- MgpuABI.cpp - the GPU runtime ABI compiled code calls ----*- C++ -*-===//
//
// MLIR's gpu-to-llvm lowering and the LLVM translation of gpu.binary /
// gpu.launch_func emit calls to `mgpu*` functions (upstream ships them in
// libmlir_cuda_runtime, linked against libcudart). rasprt implements the
// same ABI over the driver API opened at run time, so a compiled model links
// rasprt only, CPU-only machines run CPU models unchanged, and every CUDA
// failure becomes a message (rasprt_cuda_check) instead of an abort.
//
// Memory: buffers are device memory (managed for gpu.alloc host_shared).
// The program's own buffers are stream ordered (cuMemAllocAsync and
// cuMemFreeAsync on the call's stream, from a pool that keeps freed memory):
// neither allocating nor freeing waits for the GPU, where cuMemAlloc and
// cuMemFree synchronize. Older drivers get those. Allocations are
// remembered so that rasprt_buffer_free can tell them from host blocks.
// When an allocation fails, or there is no driver, the call returns host
// memory instead and the error is pending: nothing crashes on a null
// buffer, and no kernel is launched.
//
// Contexts: every entry point opens a ContextScope (the device's primary
// context current while it runs, the caller's after), so nothing depends
// on what the host left current on the thread.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"
#include "DeviceMemory.h"

#include "../cpu/Error.h"
#include "rasprt/rasprt.h"

#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_map>

using namespace rasprt::cuda;

namespace {

/// How a device buffer was allocated, and so how a program frees it.
enum class Allocation { Synchronous, StreamOrdered };

std::mutex allocationsMutex;
std::unordered_map<void *, Allocation> &allocations() {
  static auto *map = new std::unordered_map<void *, Allocation>; // lives as long as the process
  return *map;
}

CUdeviceptr devicePointer(const void *p) { return reinterpret_cast<CUdeviceptr>(p); }

/// The driver, unless an error is pending or there is none.
const Driver *ready() { return errorPending() ? nullptr : driver(); }

/// Device memory (stream ordered on `stream` when the driver can, unless
/// `stream` is null), or managed memory (one pointer for host and device).
void *allocate(size_t size, bool managed, CUstream stream = nullptr) {
  if (const Driver *d = ready()) {
    CUdeviceptr p = 0;
    size = size ? size : 1;
    Allocation kind = Allocation::Synchronous;
    bool ok;
    if (managed) {
      ok = check(d->cuMemAllocManaged(&p, size, CU_MEM_ATTACH_GLOBAL), "cuMemAllocManaged");
    } else if (stream && d->cuMemAllocAsync) {
      ok = check(d->cuMemAllocAsync(&p, size, stream), "cuMemAllocAsync");
      kind = Allocation::StreamOrdered;
    } else {
      ok = check(d->cuMemAlloc(&p, size), "cuMemAlloc");
    }
    if (ok) {
      std::lock_guard<std::mutex> lock(allocationsMutex);
      allocations().emplace(reinterpret_cast<void *>(p), kind);
      return reinterpret_cast<void *>(p);
    }
  }
  return rasprt_buffer_alloc(RASPRT_ALIGNMENT, size);
}

/// Forgets `buffer`; returns how it was allocated (nothing: not ours).
std::optional<Allocation> forget(void *buffer) {
  std::lock_guard<std::mutex> lock(allocationsMutex);
  auto it = allocations().find(buffer);
  if (it == allocations().end())
    return std::nullopt;
  Allocation kind = it->second;
  allocations().erase(it);
  return kind;
}

} // namespace

bool rasprt::cuda::releaseDeviceBuffer(void *buffer) {
  if (!forget(buffer))
    return false;
  ContextScope scope;
  // Not ready(): memory is released even while an error is pending. The
  // host frees after the work that used the buffer has finished (calls
  // synchronize before returning), so cuMemFree also takes stream-ordered
  // buffers.
  if (const Driver *d = driver())
    check(d->cuMemFree(devicePointer(buffer)), "cuMemFree");
  return true;
}

extern "C" {

RASPRT_API rasprt_status rasprt_cuda_init(void) {
  ContextScope scope;
  if (!driver()) {
    std::string message = takeError();
    return rasprt::fail(RASPRT_ERROR_UNSUPPORTED, "CUDA is not available: " + message);
  }
  return rasprt::succeed();
}

RASPRT_API rasprt_status rasprt_cuda_check(void) {
  if (!errorPending())
    return rasprt::succeed();
  return rasprt::fail(RASPRT_ERROR_UNSUPPORTED, "CUDA: " + takeError());
}

RASPRT_API void *rasprt_cuda_alloc(size_t size) {
  ContextScope scope;
  return allocate(size, /*managed=*/false);
}

RASPRT_API rasprt_status rasprt_cuda_copy(void *dst, const void *src, size_t size) {
  ContextScope scope;
  if (size == 0)
    return rasprt::succeed();
  if (!dst || !src)
    return rasprt::fail(RASPRT_ERROR_INVALID_ARGUMENT, "rasprt_cuda_copy: null pointer");
  // Also with an error pending: buffers from before it are device memory,
  // and the driver tells host pointers (later fallbacks) from device ones.
  const Driver *d = driver();
  if (!d) {
    // No driver at all: every buffer is host memory (see allocate).
    std::memcpy(dst, src, size);
    return rasprt_cuda_check();
  }
  // cuMemcpy from pageable memory may return before the data has arrived,
  // and the programs' streams do not wait for the default stream.
  if (!check(d->cuMemcpy(devicePointer(dst), devicePointer(src), size), "cuMemcpy") ||
      !check(d->cuStreamSynchronize(nullptr), "cuStreamSynchronize (after cuMemcpy)"))
    return rasprt_cuda_check();
  return rasprt::succeed();
}

// The ABI, in the order of upstream's wrappers.

RASPRT_API CUmodule mgpuModuleLoad(void *data, size_t /*size*/) {
  ContextScope scope;
  CUmodule module = nullptr;
  if (const Driver *d = ready())
    check(d->cuModuleLoadData(&module, data), "cuModuleLoadData", ErrorScope::Process);
  return module;
}

RASPRT_API CUmodule mgpuModuleLoadJIT(void *data, int optLevel) {
  ContextScope scope;
  CUmodule module = nullptr;
  const Driver *d = ready();
  if (!d)
    return nullptr;
  char log[8192] = {0};
  int options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                   CU_JIT_OPTIMIZATION_LEVEL};
  void *values[] = {log, reinterpret_cast<void *>(sizeof(log)),
                    reinterpret_cast<void *>(static_cast<intptr_t>(optLevel))};
  if (!check(d->cuModuleLoadDataEx(&module, data, 3, options, values),
             "cuModuleLoadDataEx (compiling the kernels' PTX)", ErrorScope::Process) &&
      log[0]) {
    // The first error is the one just recorded (none was pending, or
    // ready() would have said so): add the compiler's log.
    std::string message = takeError();
    recordError(message + "\n" + log, ErrorScope::Process);
  }
  return module;
}

RASPRT_API void mgpuModuleUnload(CUmodule module) {
  ContextScope scope;
  if (!module)
    return;
  if (const Driver *d = driver())
    check(d->cuModuleUnload(module), "cuModuleUnload");
}

RASPRT_API CUfunction mgpuModuleGetFunction(CUmodule module, const char *name) {
  ContextScope scope;
  CUfunction function = nullptr;
  const Driver *d = ready();
  if (!d)
    return nullptr;
  if (!module) {
    recordError(std::string("kernel '") + name + "': its module was not loaded");
    return nullptr;
  }
  check(d->cuModuleGetFunction(&function, module, name), "cuModuleGetFunction");
  return function;
}

RASPRT_API void mgpuLaunchKernel(CUfunction function, intptr_t gridX, intptr_t gridY,
                                 intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                                 intptr_t blockZ, int32_t sharedBytes, CUstream stream,
                                 void **params, void **extra, size_t /*paramCount*/) {
  ContextScope scope;
  const Driver *d = ready();
  if (!d || !function)
    return;
  // Grids of zero blocks (an empty sequence) are legal programs, not
  // launches the driver accepts.
  if (gridX == 0 || gridY == 0 || gridZ == 0)
    return;
  if (sharedBytes > 48 * 1024 &&
      !check(d->cuFuncSetAttribute(function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                   sharedBytes),
             "cuFuncSetAttribute (dynamic shared memory)"))
    return;
  check(d->cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes,
                          stream, params, extra),
        "cuLaunchKernel");
}

RASPRT_API CUstream mgpuStreamCreate() {
  ContextScope scope;
  CUstream stream = nullptr;
  if (const Driver *d = ready())
    check(d->cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  return stream;
}

RASPRT_API void mgpuStreamDestroy(CUstream stream) {
  ContextScope scope;
  if (!stream)
    return;
  if (const Driver *d = driver())
    check(d->cuStreamDestroy(stream), "cuStreamDestroy");
}

RASPRT_API void mgpuStreamSynchronize(CUstream stream) {
  ContextScope scope;
  // Also with an error pending: what was launched must finish before the
  // host reads buffers or returns.
  if (!stream)
    return;
  if (const Driver *d = driver())
    check(d->cuStreamSynchronize(stream), "cuStreamSynchronize (running the kernels)");
}

RASPRT_API void mgpuStreamWaitEvent(CUstream stream, CUevent event) {
  ContextScope scope;
  if (!stream || !event)
    return;
  if (const Driver *d = ready())
    check(d->cuStreamWaitEvent(stream, event, 0), "cuStreamWaitEvent");
}

RASPRT_API CUevent mgpuEventCreate() {
  ContextScope scope;
  CUevent event = nullptr;
  constexpr unsigned kDisableTiming = 2; // CU_EVENT_DISABLE_TIMING
  if (const Driver *d = ready())
    check(d->cuEventCreate(&event, kDisableTiming), "cuEventCreate");
  return event;
}

RASPRT_API void mgpuEventDestroy(CUevent event) {
  ContextScope scope;
  if (!event)
    return;
  if (const Driver *d = driver())
    check(d->cuEventDestroy(event), "cuEventDestroy");
}

RASPRT_API void mgpuEventSynchronize(CUevent event) {
  ContextScope scope;
  if (!event)
    return;
  if (const Driver *d = driver())
    check(d->cuEventSynchronize(event), "cuEventSynchronize");
}

RASPRT_API void mgpuEventRecord(CUevent event, CUstream stream) {
  ContextScope scope;
  if (!event)
    return;
  if (const Driver *d = ready())
    check(d->cuEventRecord(event, stream), "cuEventRecord");
}

RASPRT_API void *mgpuMemAlloc(uint64_t size, CUstream stream, bool hostShared) {
  ContextScope scope;
  return allocate(size, /*managed=*/hostShared, stream);
}

RASPRT_API void mgpuMemFree(void *buffer, CUstream stream) {
  ContextScope scope;
  if (!buffer)
    return;
  std::optional<Allocation> kind = forget(buffer);
  if (!kind) { // host memory (no driver, or a failed allocation)
    mgpuStreamSynchronize(stream);
    rasprt_buffer_free(buffer);
    return;
  }
  const Driver *d = driver();
  if (!d)
    return;
  if (*kind == Allocation::StreamOrdered && stream) {
    // After the kernels queued before it, without waiting for them.
    check(d->cuMemFreeAsync(devicePointer(buffer), stream), "cuMemFreeAsync");
    return;
  }
  // Kernels queued on `stream` may still use the buffer.
  mgpuStreamSynchronize(stream);
  check(d->cuMemFree(devicePointer(buffer)), "cuMemFree");
}

RASPRT_API void mgpuMemcpy(void *dst, void *src, size_t size, CUstream stream) {
  ContextScope scope;
  if (const Driver *d = ready())
    check(d->cuMemcpyAsync(devicePointer(dst), devicePointer(src), size, stream),
          "cuMemcpyAsync");
}

RASPRT_API void mgpuMemset32(void *dst, unsigned value, size_t count, CUstream stream) {
  ContextScope scope;
  if (const Driver *d = ready())
    check(d->cuMemsetD32Async(devicePointer(dst), value, count, stream), "cuMemsetD32Async");
}

RASPRT_API void mgpuMemset16(void *dst, unsigned short value, size_t count,
                             CUstream stream) {
  ContextScope scope;
  if (const Driver *d = ready())
    check(d->cuMemsetD16Async(devicePointer(dst), value, count, stream), "cuMemsetD16Async");
}

RASPRT_API void mgpuMemHostRegister(void *ptr, uint64_t size) {
  ContextScope scope;
  if (const Driver *d = ready())
    check(d->cuMemHostRegister(ptr, size, 0), "cuMemHostRegister");
}

RASPRT_API void mgpuMemHostUnregister(void *ptr) {
  ContextScope scope;
  if (const Driver *d = driver())
    check(d->cuMemHostUnregister(ptr), "cuMemHostUnregister");
}

// No ContextScope: it would load the driver before the device is chosen.
RASPRT_API void mgpuSetDefaultDevice(int32_t device) { setDefaultDevice(device); }

} // extern "C"
