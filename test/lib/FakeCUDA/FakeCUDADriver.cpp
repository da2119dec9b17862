//===- FakeCUDADriver.cpp - a CUDA driver stand-in for tests ----*- C++ -*-===//
//
// What machines without a GPU test rasprt's CUDA path against
// (RASPRT_CUDA_DRIVER=<this library>): the driver entry points rasprt
// opens, on host memory, without running kernels. Loaded PTX (or cubin) is
// checked for the kernels asked for, contexts are tracked per thread (a
// launch without the primary context current fails, as a real one would
// run in the wrong context), and every call can be traced or made to fail:
//
//   FAKE_CUDA_TRACE=1          one line per call on stderr
//   FAKE_CUDA_FAIL=cuLaunchKernel   that entry point returns an error
//   FAKE_CUDA_DEVICES=0        how many devices there are (default 1)
//
//===----------------------------------------------------------------------===//

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using CUresult = int;
constexpr CUresult kSuccess = 0, kOutOfMemory = 2, kNoDevice = 100, kInvalidContext = 201,
                   kInvalidPTX = 218, kNotFound = 500, kLaunchFailed = 719, kUnknown = 999;

struct Function {
  std::string name;
};
struct Module {
  std::string ptx; // or the bytes of a cubin
  std::map<std::string, Function> functions; // handles live as long as the module
  bool anyFunction = false;
};

void trace(const char *format, ...) {
  static const bool enabled = std::getenv("FAKE_CUDA_TRACE") != nullptr;
  if (!enabled)
    return;
  std::va_list args;
  va_start(args, format);
  std::fputs("fake-cuda: ", stderr);
  std::vfprintf(stderr, format, args);
  std::fputc('\n', stderr);
  va_end(args);
}

bool failing(const char *entry) {
  const char *which = std::getenv("FAKE_CUDA_FAIL");
  return which && std::strcmp(which, entry) == 0;
}

const std::map<CUresult, std::pair<const char *, const char *>> &errors() {
  static const std::map<CUresult, std::pair<const char *, const char *>> table = {
      {kOutOfMemory, {"CUDA_ERROR_OUT_OF_MEMORY", "out of memory"}},
      {kNoDevice, {"CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"}},
      {kInvalidContext, {"CUDA_ERROR_INVALID_CONTEXT", "invalid device context"}},
      {kInvalidPTX, {"CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"}},
      {kNotFound, {"CUDA_ERROR_NOT_FOUND", "named symbol not found"}},
      {kLaunchFailed, {"CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"}},
      {kUnknown, {"CUDA_ERROR_UNKNOWN", "unknown error"}}};
  return table;
}

/// "Device" memory: zeroed host memory, offset so that releasing it with
/// free() (as if it were host memory) fails loudly.
constexpr size_t kDeviceOffset = 64;
unsigned long long deviceAlloc(size_t size) {
  char *block = static_cast<char *>(std::calloc(1, size + kDeviceOffset));
  return reinterpret_cast<unsigned long long>(block + kDeviceOffset);
}

/// The primary context, and the contexts current on this thread (the last
/// is current).
int primaryContext;
// Per thread, in one map rather than thread_locals: this library is
// dlopen()ed, so its thread_locals would be dynamic TLS, which
// LeakSanitizer's exit-time scan crashed on. Never destroyed: programs
// unload their modules from exit-time destructors.
std::vector<void *> &contextStack() {
  static std::mutex &mutex = *new std::mutex;
  static auto &stacks = *new std::map<std::thread::id, std::vector<void *>>;
  std::lock_guard<std::mutex> lock(mutex);
  return stacks[std::this_thread::get_id()]; // map nodes never move
}

int devices() {
  const char *count = std::getenv("FAKE_CUDA_DEVICES");
  return count ? std::atoi(count) : 1;
}

} // namespace

#define FAKE_FAIL(entry)                                                               \
  if (failing(entry)) {                                                                \
    trace("%s -> CUDA_ERROR_UNKNOWN (FAKE_CUDA_FAIL)", entry);                         \
    return kUnknown;                                                                   \
  }

extern "C" {

CUresult cuInit(unsigned) {
  FAKE_FAIL("cuInit");
  trace("cuInit");
  return devices() > 0 ? kSuccess : kNoDevice;
}
CUresult cuDeviceGetCount(int *count) {
  *count = devices();
  return kSuccess;
}
CUresult cuDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRetain(void **context, int) {
  *context = &primaryContext;
  return kSuccess;
}
CUresult cuCtxSetCurrent(void *context) {
  if (contextStack().empty())
    contextStack().push_back(context);
  else
    contextStack().back() = context;
  return kSuccess;
}
CUresult cuCtxGetCurrent(void **context) {
  *context = contextStack().empty() ? nullptr : contextStack().back();
  return kSuccess;
}
CUresult cuCtxPushCurrent_v2(void *context) {
  trace("cuCtxPushCurrent");
  contextStack().push_back(context);
  return kSuccess;
}
CUresult cuCtxPopCurrent_v2(void **context) {
  trace("cuCtxPopCurrent");
  if (contextStack().empty())
    return kInvalidContext;
  if (context)
    *context = contextStack().back();
  contextStack().pop_back();
  return kSuccess;
}

CUresult cuGetErrorName(CUresult error, const char **name) {
  auto it = errors().find(error);
  *name = it == errors().end() ? nullptr : it->second.first;
  return it == errors().end() ? 1 : kSuccess;
}
CUresult cuGetErrorString(CUresult error, const char **text) {
  auto it = errors().find(error);
  *text = it == errors().end() ? nullptr : it->second.second;
  return it == errors().end() ? 1 : kSuccess;
}

/// The size of a cubin (64-bit ELF: the section headers come last) or a
/// fatbin (header size + payload size); 0 for anything else.
size_t binarySize(const unsigned char *image, const char **kind) {
  auto read = [&](size_t offset, size_t bytes) {
    unsigned long long value = 0;
    std::memcpy(&value, image + offset, bytes); // little-endian, as the host
    return static_cast<size_t>(value);
  };
  if (std::memcmp(image, "\x7f" "ELF", 4) == 0) {
    *kind = "cubin";
    return read(0x28, 8) + read(0x3c, 2) * read(0x3a, 2);
  }
  if (read(0, 4) == 0xba55ed50) {
    *kind = "fatbin";
    return read(6, 2) + read(8, 8);
  }
  return 0;
}

CUresult cuModuleLoadData(Module **module, const void *image) {
  FAKE_FAIL("cuModuleLoadData");
  const char *kind = "data";
  size_t size = binarySize(static_cast<const unsigned char *>(image), &kind);
  // A cubin names its kernels in its string table, as "name\0"; a fatbin's
  // payload may be compressed: every kernel is taken to be there.
  std::string contents(static_cast<const char *>(image), size);
  *module = new Module{contents, {}, std::string(kind) == "fatbin"};
  trace("cuModuleLoadData %s, %zu bytes", kind, size);
  return size ? kSuccess : kInvalidPTX;
}
CUresult cuModuleLoadDataEx(Module **module, const void *image, unsigned count, int *options,
                            void **values) {
  std::string ptx = static_cast<const char *>(image);
  trace("cuModuleLoadDataEx %zu bytes of PTX, %s", ptx.size(),
        ptx.find(".entry") != std::string::npos ? "with kernels" : "no kernels");
  if (failing("cuModuleLoadDataEx") || ptx.find(".version") == std::string::npos) {
    // As the driver does: the compiler's complaint goes to the log buffer.
    for (unsigned i = 0; i < count; ++i)
      if (options[i] == 5) // CU_JIT_ERROR_LOG_BUFFER
        std::snprintf(static_cast<char *>(values[i]), 64, "ptxas fatal: (fake) not PTX");
    return kInvalidPTX;
  }
  *module = new Module{ptx, {}, false};
  return kSuccess;
}
CUresult cuModuleUnload(Module *module) {
  trace("cuModuleUnload");
  delete module;
  return kSuccess;
}
CUresult cuModuleGetFunction(Function **function, Module *module, const char *name) {
  bool found = module->anyFunction ||
               module->ptx.find(std::string(".entry ") + name + "(") != std::string::npos ||
               module->ptx.find(std::string(1, '\0') + name + '\0') != std::string::npos;
  if (!found)
    return kNotFound;
  *function = &module->functions.try_emplace(name, Function{name}).first->second;
  return kSuccess;
}
CUresult cuFuncSetAttribute(Function *, int, int) { return kSuccess; }
CUresult cuLaunchKernel(Function *function, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned shared, void *,
                        void **, void **) {
  trace("cuLaunchKernel %s grid (%u, %u, %u) block (%u, %u, %u) shared %u",
        function->name.c_str(), gx, gy, gz, bx, by, bz, shared);
  if (contextStack().empty() || contextStack().back() != &primaryContext)
    return kInvalidContext;
  if (failing("cuLaunchKernel"))
    return kLaunchFailed;
  return kSuccess;
}

CUresult cuStreamCreate(void **stream, unsigned) {
  static int token;
  *stream = &token;
  return kSuccess;
}
CUresult cuStreamDestroy_v2(void *) { return kSuccess; }
CUresult cuStreamSynchronize(void *) {
  FAKE_FAIL("cuStreamSynchronize");
  return kSuccess;
}
CUresult cuStreamWaitEvent(void *, void *, unsigned) { return kSuccess; }
CUresult cuEventCreate(void **event, unsigned) {
  static int token;
  *event = &token;
  return kSuccess;
}
CUresult cuEventDestroy_v2(void *) { return kSuccess; }
CUresult cuEventSynchronize(void *) { return kSuccess; }
CUresult cuEventRecord(void *, void *) { return kSuccess; }

CUresult cuMemAllocManaged(unsigned long long *pointer, size_t size, unsigned) {
  if (failing("cuMemAllocManaged"))
    return kOutOfMemory;
  *pointer = deviceAlloc(size);
  trace("cuMemAllocManaged %zu bytes", size);
  return kSuccess;
}
CUresult cuMemAlloc_v2(unsigned long long *pointer, size_t size) {
  if (failing("cuMemAlloc"))
    return kOutOfMemory;
  *pointer = deviceAlloc(size);
  trace("cuMemAlloc %zu bytes", size);
  return kSuccess;
}
CUresult cuMemcpy(unsigned long long dst, unsigned long long src, size_t size) {
  std::memcpy(reinterpret_cast<void *>(dst), reinterpret_cast<void *>(src), size);
  trace("cuMemcpy %zu bytes", size);
  return kSuccess;
}
CUresult cuMemFree_v2(unsigned long long pointer) {
  std::free(reinterpret_cast<char *>(pointer) - kDeviceOffset);
  trace("cuMemFree");
  return kSuccess;
}
CUresult cuMemcpyAsync(unsigned long long dst, unsigned long long src, size_t size, void *) {
  std::memcpy(reinterpret_cast<void *>(dst), reinterpret_cast<void *>(src), size);
  return kSuccess;
}
CUresult cuMemsetD32Async(unsigned long long dst, unsigned value, size_t count, void *) {
  auto *p = reinterpret_cast<unsigned *>(dst);
  for (size_t i = 0; i < count; ++i)
    p[i] = value;
  return kSuccess;
}
CUresult cuMemsetD16Async(unsigned long long dst, unsigned short value, size_t count,
                          void *) {
  auto *p = reinterpret_cast<unsigned short *>(dst);
  for (size_t i = 0; i < count; ++i)
    p[i] = value;
  return kSuccess;
}
#ifndef FAKE_CUDA_BEFORE_11_2
// Stream-ordered allocation; the library built with FAKE_CUDA_BEFORE_11_2
// stands for an older driver without it.
CUresult cuDeviceGetDefaultMemPool(void **pool, int) {
  static int token;
  *pool = &token;
  return kSuccess;
}
CUresult cuMemPoolSetAttribute(void *, int attribute, void *value) {
  trace("cuMemPoolSetAttribute %d = %llu", attribute, *static_cast<unsigned long long *>(value));
  return kSuccess;
}
CUresult cuMemAllocAsync(unsigned long long *pointer, size_t size, void *) {
  if (failing("cuMemAllocAsync"))
    return kOutOfMemory;
  *pointer = deviceAlloc(size);
  trace("cuMemAllocAsync %zu bytes", size);
  return kSuccess;
}
CUresult cuMemFreeAsync(unsigned long long pointer, void *) {
  std::free(reinterpret_cast<char *>(pointer) - kDeviceOffset);
  trace("cuMemFreeAsync");
  return kSuccess;
}
#endif

CUresult cuMemHostRegister_v2(void *, size_t, unsigned) { return kSuccess; }
CUresult cuMemHostUnregister(void *) { return kSuccess; }

} // extern "C"
