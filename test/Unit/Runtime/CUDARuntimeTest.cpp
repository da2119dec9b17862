//===- CUDARuntimeTest.cpp - rasprt's CUDA path, on the test driver -------===//
//
// The driver is opened once per process, so this binary runs against the
// fake driver (test/lib/FakeCUDA) only; the missing-driver case is covered
// by lit and ctest (runtime-fake-driver.test, example.aot-sort-cuda-*).
//
//===----------------------------------------------------------------------===//

#include "rasprt/rasprt.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

// The mgpu ABI compiled code calls (not in rasprt.h: hosts do not call it).
extern "C" {
void *mgpuModuleLoadJIT(void *data, int optLevel);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuModuleUnload(void *module);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY, intptr_t gridZ,
                      intptr_t blockX, intptr_t blockY, intptr_t blockZ, int32_t sharedBytes,
                      void *stream, void **params, void **extra, size_t paramCount);
void *mgpuMemAlloc(uint64_t size, void *stream, bool hostShared);
void mgpuMemFree(void *buffer, void *stream);
}

namespace {

const char kPTX[] = "//\n.version 8.0\n.target sm_80\n.visible .entry k(\n)\n{\n\tret;\n}\n";

std::string takeError() {
  EXPECT_NE(rasprt_cuda_check(), RASPRT_OK);
  return rasprt_last_error();
}

class CUDARuntime : public ::testing::Test {
protected:
  void SetUp() override {
    ::unsetenv("FAKE_CUDA_FAIL");
    ASSERT_EQ(rasprt_cuda_init(), RASPRT_OK) << rasprt_last_error();
    ASSERT_EQ(rasprt_cuda_check(), RASPRT_OK) << rasprt_last_error();
  }
  void TearDown() override {
    ::unsetenv("FAKE_CUDA_FAIL");
    rasprt_cuda_check();
  }
};

TEST_F(CUDARuntime, CopiesRoundTripThroughDeviceMemory) {
  int64_t in[4] = {3, -1, 4, 1}, out[4] = {};
  void *device = rasprt_cuda_alloc(sizeof(in));
  ASSERT_NE(device, nullptr);
  ASSERT_EQ(rasprt_cuda_copy(device, in, sizeof(in)), RASPRT_OK);
  ASSERT_EQ(rasprt_cuda_copy(out, device, sizeof(out)), RASPRT_OK);
  EXPECT_EQ(std::memcmp(in, out, sizeof(in)), 0);
  // Device memory goes back to the driver, not to free() (the fake driver's
  // pointers would make free() abort).
  rasprt_buffer_free(device);
  EXPECT_EQ(rasprt_cuda_check(), RASPRT_OK);
}

TEST_F(CUDARuntime, CopyRejectsNullPointers) {
  int64_t x = 0;
  EXPECT_EQ(rasprt_cuda_copy(nullptr, &x, sizeof(x)), RASPRT_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(rasprt_last_error(), "rasprt_cuda_copy: null pointer");
  EXPECT_EQ(rasprt_cuda_copy(nullptr, nullptr, 0), RASPRT_OK);
}

TEST_F(CUDARuntime, KernelsLoadAndLaunch) {
  void *module = mgpuModuleLoadJIT(const_cast<char *>(kPTX), 2);
  ASSERT_NE(module, nullptr) << takeError();
  void *kernel = mgpuModuleGetFunction(module, "k");
  ASSERT_NE(kernel, nullptr) << takeError();
  mgpuLaunchKernel(kernel, 2, 1, 1, 128, 1, 1, 0, nullptr, nullptr, nullptr, 0);
  EXPECT_EQ(rasprt_cuda_check(), RASPRT_OK) << rasprt_last_error();
  // An empty grid (a program on an empty sequence) is no launch at all.
  ::setenv("FAKE_CUDA_FAIL", "cuLaunchKernel", 1);
  mgpuLaunchKernel(kernel, 0, 1, 1, 128, 1, 1, 0, nullptr, nullptr, nullptr, 0);
  EXPECT_EQ(rasprt_cuda_check(), RASPRT_OK) << rasprt_last_error();
  mgpuLaunchKernel(kernel, 1, 1, 1, 128, 1, 1, 0, nullptr, nullptr, nullptr, 0);
  EXPECT_EQ(takeError(),
            "CUDA: cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED: unspecified launch failure");
  mgpuModuleUnload(module);
}

TEST_F(CUDARuntime, MissingKernelIsNamed) {
  void *module = mgpuModuleLoadJIT(const_cast<char *>(kPTX), 2);
  ASSERT_NE(module, nullptr);
  EXPECT_EQ(mgpuModuleGetFunction(module, "nope"), nullptr);
  EXPECT_EQ(takeError(),
            "CUDA: cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND: named symbol not found");
  EXPECT_EQ(mgpuModuleGetFunction(nullptr, "k"), nullptr);
  EXPECT_EQ(takeError(), "CUDA: kernel 'k': its module was not loaded");
  mgpuModuleUnload(module);
}

TEST_F(CUDARuntime, FirstErrorIsKeptUntilChecked) {
  // Bad PTX: the driver's compiler log comes with the message.
  EXPECT_EQ(mgpuModuleLoadJIT(const_cast<char *>("not ptx"), 2), nullptr);
  // While the error is pending, GPU work is skipped and allocations fall
  // back to host memory, so compiled host code never sees null.
  void *buffer = mgpuMemAlloc(256, nullptr, false);
  ASSERT_NE(buffer, nullptr);
  std::memset(buffer, 1, 256);
  mgpuMemFree(buffer, nullptr);
  mgpuLaunchKernel(nullptr, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr, 0);
  std::string message = takeError();
  EXPECT_NE(message.find("cuModuleLoadDataEx (compiling the kernels' PTX) failed: "
                         "CUDA_ERROR_INVALID_PTX"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("ptxas fatal: (fake) not PTX"), std::string::npos) << message;
  // Taken: clear again.
  EXPECT_EQ(rasprt_cuda_check(), RASPRT_OK);
  EXPECT_STREQ(rasprt_last_error(), "");
}

TEST_F(CUDARuntime, FailedAllocationReturnsHostMemory) {
  ::setenv("FAKE_CUDA_FAIL", "cuMemAlloc", 1);
  void *buffer = rasprt_cuda_alloc(1 << 20);
  ASSERT_NE(buffer, nullptr);
  std::memset(buffer, 0, 1 << 20);
  EXPECT_EQ(takeError(), "CUDA: cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY: out of memory");
  rasprt_buffer_free(buffer); // host memory: the block cache takes it
}

// A call's failures are its thread's: another thread's programs run on, and
// its check is clean.
TEST_F(CUDARuntime, ErrorsStayOnTheirThread) {
  void *module = mgpuModuleLoadJIT(const_cast<char *>(kPTX), 2);
  void *kernel = mgpuModuleGetFunction(module, "k");
  ASSERT_NE(kernel, nullptr) << takeError();
  ::setenv("FAKE_CUDA_FAIL", "cuLaunchKernel", 1);
  mgpuLaunchKernel(kernel, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr, 0);
  ::unsetenv("FAKE_CUDA_FAIL");
  rasprt_status before = RASPRT_ERROR_IO, after = RASPRT_ERROR_IO; // neither: set below
  std::thread other([&] {
    before = rasprt_cuda_check();
    mgpuLaunchKernel(kernel, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr, 0);
    after = rasprt_cuda_check();
  });
  other.join();
  EXPECT_EQ(before, RASPRT_OK);
  EXPECT_EQ(after, RASPRT_OK);
  EXPECT_EQ(takeError(),
            "CUDA: cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED: unspecified launch failure");
  mgpuModuleUnload(module);
}

// Kernels that do not load are every thread's failure, until one takes it.
TEST_F(CUDARuntime, LoadFailuresReachEveryThread) {
  EXPECT_EQ(mgpuModuleLoadJIT(const_cast<char *>("not ptx"), 2), nullptr);
  std::string seen;
  std::thread other([&] { seen = takeError(); });
  other.join();
  EXPECT_NE(seen.find("CUDA_ERROR_INVALID_PTX"), std::string::npos) << seen;
  EXPECT_EQ(rasprt_cuda_check(), RASPRT_OK) << "taken by the other thread";
}

// A host that makes a context of its own current on the thread: the launch
// still runs in the runtime's context, and the host's is current again
// after.
TEST_F(CUDARuntime, HostContextIsKept) {
  void *driver = ::dlopen(RASPC_FAKE_CUDA_DRIVER, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(driver, nullptr);
  using SetCurrent = int (*)(void *);
  using GetCurrent = int (*)(void **);
  using Launch = int (*)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                         unsigned, void *, void **, void **);
  auto setCurrent = reinterpret_cast<SetCurrent>(::dlsym(driver, "cuCtxSetCurrent"));
  auto getCurrent = reinterpret_cast<GetCurrent>(::dlsym(driver, "cuCtxGetCurrent"));
  auto launch = reinterpret_cast<Launch>(::dlsym(driver, "cuLaunchKernel"));
  ASSERT_TRUE(setCurrent && getCurrent && launch);

  void *module = mgpuModuleLoadJIT(const_cast<char *>(kPTX), 2);
  void *kernel = mgpuModuleGetFunction(module, "k");
  ASSERT_NE(kernel, nullptr) << takeError();
  int hostContext = 0;
  setCurrent(&hostContext);
  // The stand-in driver refuses launches outside the runtime's context.
  EXPECT_NE(launch(kernel, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr), 0);
  mgpuLaunchKernel(kernel, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr, 0);
  EXPECT_EQ(rasprt_cuda_check(), RASPRT_OK) << rasprt_last_error();
  void *current = nullptr;
  getCurrent(&current);
  EXPECT_EQ(current, &hostContext);
  setCurrent(nullptr);
  mgpuModuleUnload(module);
  ::dlclose(driver);
}

} // namespace

int main(int argc, char **argv) {
  ::setenv("RASPRT_CUDA_DRIVER", RASPC_FAKE_CUDA_DRIVER, 1);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
