//===- WarpEmulator.h - NVVM kernels run on the CPU -------------*- C++ -*-===//
//
// Runs the tensor-core kernels (mma.sync, ldmatrix, shuffles, cp.async) on
// the host, a thread per GPU thread, so that their numbers are tested on
// machines without a GPU. See WarpEmulator.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_TEST_UNIT_GPU_WARPEMULATOR_H
#define RASPC_TEST_UNIT_GPU_WARPEMULATOR_H

#include <cstdint>
#include <string>
#include <vector>

namespace raspc::emulator {

float bf16ToFloat(uint16_t bits);
/// Rounded to nearest even.
uint16_t floatToBF16(float f);
float halfToFloat(uint16_t bits);
/// Rounded to nearest even; `f` is in f16's normal range or zero.
uint16_t floatToHalf(float f);

/// A buffer a kernel reads or writes: row-major `shape` from `data`.
struct Operand {
  void *data;
  std::vector<int64_t> shape;
};

/// Compiles `source` (a func.func of static shapes) with `kernelPasses` (a
/// pass pipeline that turns it into gpu.launches on tensors, e.g.
/// "convert-matmul-to-gpu{chip=sm_80}"), lowers the kernels to NVVM and
/// runs them on the emulator in program order: the function's i-th argument
/// is `arguments[i]`, the buffer the function returns is `result`, any
/// other f32 buffer it allocates is scratch the emulator makes (NaN-filled).
/// Checks (as gtest failures) that every vector access was as aligned as it
/// claimed, that no two threads or asynchronous units raced on shared
/// memory (SharedMemoryRaces.h) and, if `copiesAsync` (kernels with
/// shared-memory tiles), that cp.async copies ran; returns whether the
/// kernels ran.
bool emulate(const std::string &source, const std::string &kernelPasses,
             const std::vector<Operand> &arguments, const Operand &result,
             bool copiesAsync = true);
/// How many kernels the last emulate() launched.
int lastLaunchCount();

/// The same for a function returning several buffers, `results` in order.
bool emulate(const std::string &source, const std::string &kernelPasses,
             const std::vector<Operand> &arguments, const std::vector<Operand> &results,
             bool copiesAsync = true);

} // namespace raspc::emulator

#endif // RASPC_TEST_UNIT_GPU_WARPEMULATOR_H
