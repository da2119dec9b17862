//===- Driver.cpp - the CUDA driver API, opened at run time -----*- C++ -*-===//
//
// Errors: the mgpu ABI that compiled code calls returns no status, so a
// failure is kept as a pending CUDA error (the first one, as CUDA's own
// errors are sticky too) and GPU work is skipped until a host takes it with
// rasprt_cuda_check. Per thread, as a call runs on one thread; failures
// loading kernels (a global constructor, before any call) per process.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <mutex>

namespace rasprt::cuda {
namespace {

std::mutex processErrorMutex;
std::string processError;
std::atomic<bool> processPending{false};
thread_local std::string threadError;
thread_local bool threadPending = false;
std::atomic<int> defaultDevice{-1};

struct Loaded {
  Driver api{};
  CUcontext context = nullptr;
  std::string failure; // why there is no driver; empty when loaded
};

template <typename F> bool resolve(void *library, const char *name, F &slot) {
  slot = reinterpret_cast<F>(dlsym(library, name));
  return slot != nullptr;
}

Loaded load() {
  Loaded loaded;
  const char *path = std::getenv("RASPRT_CUDA_DRIVER");
  if (!path || !*path)
    path = "libcuda.so.1";
  void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *why = dlerror();
    loaded.failure = std::string("no CUDA driver: ") + (why ? why : path);
    return loaded;
  }
  Driver &d = loaded.api;
  const char *missing = nullptr;
  // Versioned names first: the driver keeps the unversioned ones for old
  // binaries with the old (32-bit) signatures.
#define RASPRT_RESOLVE(field, name)                                                    \
  if (!missing && !resolve(library, name, d.field))                                    \
    missing = name;
  RASPRT_RESOLVE(cuInit, "cuInit")
  RASPRT_RESOLVE(cuDeviceGetCount, "cuDeviceGetCount")
  RASPRT_RESOLVE(cuDeviceGet, "cuDeviceGet")
  RASPRT_RESOLVE(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")
  RASPRT_RESOLVE(cuCtxSetCurrent, "cuCtxSetCurrent")
  RASPRT_RESOLVE(cuCtxGetCurrent, "cuCtxGetCurrent")
  RASPRT_RESOLVE(cuCtxPushCurrent, "cuCtxPushCurrent_v2")
  RASPRT_RESOLVE(cuCtxPopCurrent, "cuCtxPopCurrent_v2")
  RASPRT_RESOLVE(cuGetErrorName, "cuGetErrorName")
  RASPRT_RESOLVE(cuGetErrorString, "cuGetErrorString")
  RASPRT_RESOLVE(cuModuleLoadData, "cuModuleLoadData")
  RASPRT_RESOLVE(cuModuleLoadDataEx, "cuModuleLoadDataEx")
  RASPRT_RESOLVE(cuModuleUnload, "cuModuleUnload")
  RASPRT_RESOLVE(cuModuleGetFunction, "cuModuleGetFunction")
  RASPRT_RESOLVE(cuFuncSetAttribute, "cuFuncSetAttribute")
  RASPRT_RESOLVE(cuLaunchKernel, "cuLaunchKernel")
  RASPRT_RESOLVE(cuStreamCreate, "cuStreamCreate")
  RASPRT_RESOLVE(cuStreamDestroy, "cuStreamDestroy_v2")
  RASPRT_RESOLVE(cuStreamSynchronize, "cuStreamSynchronize")
  RASPRT_RESOLVE(cuStreamWaitEvent, "cuStreamWaitEvent")
  RASPRT_RESOLVE(cuEventCreate, "cuEventCreate")
  RASPRT_RESOLVE(cuEventDestroy, "cuEventDestroy_v2")
  RASPRT_RESOLVE(cuEventSynchronize, "cuEventSynchronize")
  RASPRT_RESOLVE(cuEventRecord, "cuEventRecord")
  RASPRT_RESOLVE(cuMemAlloc, "cuMemAlloc_v2")
  RASPRT_RESOLVE(cuMemAllocManaged, "cuMemAllocManaged")
  RASPRT_RESOLVE(cuMemFree, "cuMemFree_v2")
  RASPRT_RESOLVE(cuMemcpy, "cuMemcpy")
  RASPRT_RESOLVE(cuMemcpyAsync, "cuMemcpyAsync")
  RASPRT_RESOLVE(cuMemsetD32Async, "cuMemsetD32Async")
  RASPRT_RESOLVE(cuMemsetD16Async, "cuMemsetD16Async")
  RASPRT_RESOLVE(cuMemHostRegister, "cuMemHostRegister_v2")
  RASPRT_RESOLVE(cuMemHostUnregister, "cuMemHostUnregister")
#undef RASPRT_RESOLVE
  if (missing) {
    loaded.failure = std::string("the CUDA driver ") + path + " lacks " + missing;
    return loaded;
  }
  // Optional: without them allocation falls back to cuMemAlloc / cuMemFree.
  if (!resolve(library, "cuMemAllocAsync", d.cuMemAllocAsync) ||
      !resolve(library, "cuMemFreeAsync", d.cuMemFreeAsync) ||
      !resolve(library, "cuDeviceGetDefaultMemPool", d.cuDeviceGetDefaultMemPool) ||
      !resolve(library, "cuMemPoolSetAttribute", d.cuMemPoolSetAttribute))
    d.cuMemAllocAsync = nullptr, d.cuMemFreeAsync = nullptr;
  // Errors from here on have names: report them through check's wording.
  auto fail = [&](CUresult result, const char *what) {
    const char *name = nullptr;
    const char *text = nullptr;
    d.cuGetErrorName(result, &name);
    d.cuGetErrorString(result, &text);
    loaded.failure = std::string(what) + " failed: " + (name ? name : "unknown error") +
                     (text ? std::string(": ") + text : std::string());
    return loaded;
  };
  if (CUresult r = d.cuInit(0); r != CUDA_SUCCESS)
    return fail(r, "cuInit");
  int count = 0;
  if (CUresult r = d.cuDeviceGetCount(&count); r != CUDA_SUCCESS)
    return fail(r, "cuDeviceGetCount");
  int ordinal = defaultDevice.load();
  if (ordinal < 0) {
    const char *env = std::getenv("RASPRT_CUDA_DEVICE");
    ordinal = env && *env ? std::atoi(env) : 0;
  }
  if (ordinal < 0 || ordinal >= count) {
    loaded.failure = "no CUDA device " + std::to_string(ordinal) + " (the driver sees " +
                     std::to_string(count) + ")";
    return loaded;
  }
  CUdevice device = 0;
  if (CUresult r = d.cuDeviceGet(&device, ordinal); r != CUDA_SUCCESS)
    return fail(r, "cuDeviceGet");
  if (CUresult r = d.cuDevicePrimaryCtxRetain(&loaded.context, device); r != CUDA_SUCCESS)
    return fail(r, "cuDevicePrimaryCtxRetain");
  // The pool behind stream-ordered allocation keeps what calls free (by
  // default it returns memory to the device at every synchronization), as
  // the CPU side keeps large blocks: a model's next call reuses them.
  CUmemoryPool pool = nullptr;
  unsigned long long keepAll = ~0ull;
  if (d.cuMemAllocAsync &&
      (d.cuDeviceGetDefaultMemPool(&pool, device) != CUDA_SUCCESS ||
       d.cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keepAll) !=
           CUDA_SUCCESS))
    d.cuMemAllocAsync = nullptr, d.cuMemFreeAsync = nullptr; // a device without pools
  return loaded;
}

/// Loaded once per process, on first use.
const Loaded &library() {
  static const Loaded *loaded = new Loaded(load()); // lives as long as the process
  return *loaded;
}

} // namespace

const Driver *driver() {
  const Loaded &loaded = library();
  if (!loaded.failure.empty()) {
    recordError(loaded.failure);
    return nullptr;
  }
  return &loaded.api;
}

ContextScope::ContextScope() {
  const Loaded &loaded = library();
  if (!loaded.failure.empty())
    return;
  CUcontext current = nullptr;
  if (loaded.api.cuCtxGetCurrent(&current) != CUDA_SUCCESS || current == loaded.context)
    return;
  // A thread with no context keeps ours (one query per entry point from
  // then on); another context is the host's, current again when we leave.
  if (!current) {
    check(loaded.api.cuCtxSetCurrent(loaded.context), "cuCtxSetCurrent");
    return;
  }
  pushed = check(loaded.api.cuCtxPushCurrent(loaded.context), "cuCtxPushCurrent");
}

ContextScope::~ContextScope() {
  if (!pushed)
    return;
  CUcontext popped = nullptr;
  check(library().api.cuCtxPopCurrent(&popped), "cuCtxPopCurrent");
}

void recordError(const std::string &message, ErrorScope scope) {
  if (scope == ErrorScope::Thread) {
    if (!threadPending) {
      threadError = message;
      threadPending = true;
    }
    return;
  }
  std::lock_guard<std::mutex> lock(processErrorMutex);
  if (processPending.load())
    return;
  processError = message;
  processPending.store(true);
}

bool check(CUresult result, const char *what, ErrorScope scope) {
  if (result == CUDA_SUCCESS)
    return true;
  std::string message = std::string(what) + " failed: ";
  // The library is loaded: `result` came from it.
  const Driver *d = library().failure.empty() ? &library().api : nullptr;
  const char *name = nullptr;
  const char *text = nullptr;
  if (d && d->cuGetErrorName(result, &name) == CUDA_SUCCESS && name)
    message += name;
  else
    message += "CUDA error " + std::to_string(result);
  if (d && d->cuGetErrorString(result, &text) == CUDA_SUCCESS && text)
    message += std::string(": ") + text;
  recordError(message, scope);
  return false;
}

bool errorPending() { return threadPending || processPending.load(std::memory_order_relaxed); }

std::string takeError() {
  std::string message;
  if (threadPending) {
    message.swap(threadError);
    threadPending = false;
    return message;
  }
  std::lock_guard<std::mutex> lock(processErrorMutex);
  message.swap(processError);
  processPending.store(false);
  return message;
}

void setDefaultDevice(int ordinal) { defaultDevice.store(ordinal); }

} // namespace rasprt::cuda
