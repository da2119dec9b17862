//===- Chip.h - What the GPU kernels assume of an NVIDIA chip ---*- C++ -*-===//
//
// The facts of the hardware the kernel generators share, by the chip's
// architecture name as the passes' `chip` option gives it ("sm_80",
// "sm_90a", ...).
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_GPU_CHIP_H
#define RASPC_CONVERSION_GPU_CHIP_H

#include <cstdint>
#include <string>

namespace raspc {

/// Threads of a warp, and of a warpgroup (four warps: wgmma's unit).
constexpr int64_t kWarpSize = 32, kWarpgroupThreads = 4 * kWarpSize;

/// Whether `chip` has the m16n8k16 f16/bf16 mma.sync and the cp.async the
/// kernels use (sm_80 and later).
bool hasMmaSyncM16N8K16(const std::string &chip);

/// Whether `chip` has wgmma.mma_async: sm_90a only (sm_100 has other
/// MMAs).
bool hasWgmma(const std::string &chip);

/// The most dynamic shared memory a block may ask for on every GPU that
/// code for `chip` runs on: what a block may have -- 227 KiB on sm_90a, 99
/// KiB from sm_80 (sm_86 and sm_89 have no more), 48 KiB before -- less the
/// 16 bytes of static shared memory a kernel has (the symbol the dynamic
/// memory is addressed from, which upstream's lowering defines as a 1-byte
/// variable aligned to 16).
int64_t maxDynamicSharedBytes(const std::string &chip);

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_CHIP_H
