//===- Driver.h - the CUDA driver API, opened at run time -------*- C++ -*-===//
//
// rasprt builds and links without CUDA: the driver library (libcuda.so.1,
// or the file named by RASPRT_CUDA_DRIVER) is opened with dlopen the first
// time compiled GPU code or a host asks for it. Only the handful of entry
// points the mgpu ABI needs are declared here, with the driver's own types
// reduced to what crosses the call.
//
//===----------------------------------------------------------------------===//

#ifndef RASPRT_CUDA_DRIVER_H
#define RASPRT_CUDA_DRIVER_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace rasprt::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUmemoryPool = struct CUmemPoolHandle_st *;

constexpr CUresult CUDA_SUCCESS = 0;
// cuModuleLoadDataEx options (CUjit_option values).
constexpr int CU_JIT_OPTIMIZATION_LEVEL = 7;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
// cuFuncSetAttribute: CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES.
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr unsigned CU_MEM_ATTACH_GLOBAL = 1;
constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
// cuMemPoolSetAttribute: CU_MEMPOOL_ATTR_RELEASE_THRESHOLD.
constexpr int CU_MEMPOOL_ATTR_RELEASE_THRESHOLD = 4;

/// The driver entry points raspc uses, resolved from the library.
struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxGetCurrent)(CUcontext *);
  CUresult (*cuCtxPushCurrent)(CUcontext);
  CUresult (*cuCtxPopCurrent)(CUcontext *);
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *, void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, CUstream, void **, void **);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemAllocManaged)(CUdeviceptr *, size_t, unsigned);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpy)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t, CUstream);
  CUresult (*cuMemHostRegister)(void *, size_t, unsigned);
  CUresult (*cuMemHostUnregister)(void *);
  // Stream-ordered allocation (CUDA 11.2 drivers and later); null when the
  // driver is older, and then allocation and release synchronize.
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream);
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*cuDeviceGetDefaultMemPool)(CUmemoryPool *, CUdevice);
  CUresult (*cuMemPoolSetAttribute)(CUmemoryPool, int, void *);
};

/// The driver, or null after recording why there is none (see
/// recordError). Entry points open a ContextScope first.
const Driver *driver();

/// The runtime's context (the device's primary context) made current on
/// the calling thread while this lives, the caller's again after: every
/// entry point opens one, so launches find our context even on a thread
/// where the host made another current, and the host's stays its own.
class ContextScope {
public:
  ContextScope();
  ~ContextScope();
  ContextScope(const ContextScope &) = delete;
  ContextScope &operator=(const ContextScope &) = delete;

private:
  bool pushed = false;
};

/// Where an error is kept. A call of a compiled program runs on one
/// thread, so its failures are that thread's: two threads running programs
/// do not see each other's. Failures loading kernels happen in a global
/// constructor, before any call: every thread sees those, until one takes
/// it.
enum class ErrorScope { Thread, Process };

/// Whether `result` is success; otherwise records "`what` failed: NAME:
/// description" as a pending CUDA error in `scope` (the first one wins
/// until takeError) and returns false.
bool check(CUresult result, const char *what, ErrorScope scope = ErrorScope::Thread);

/// Records `message` as the pending CUDA error of `scope` unless one is
/// pending there.
void recordError(const std::string &message, ErrorScope scope = ErrorScope::Thread);

/// Whether a CUDA error is pending for this thread or the process (GPU
/// work is skipped until it is taken).
bool errorPending();

/// The pending error's message, cleared (this thread's first, then the
/// process's; "" when none).
std::string takeError();

/// The device new contexts use.
void setDefaultDevice(int ordinal);

} // namespace rasprt::cuda

#endif // RASPRT_CUDA_DRIVER_H
