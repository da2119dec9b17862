//===- AttentionToGPUFlash.h - tensor-core flash attention kernels -*- C++ -*-===//

#ifndef RASPC_CONVERSION_GPU_ATTENTIONTOGPUFLASH_H
#define RASPC_CONVERSION_GPU_ATTENTIONTOGPUFLASH_H

#include "mlir/Pass/Pass.h"

#include <string>

namespace mlir {
namespace attn {
class AttentionOp;
} // namespace attn
namespace func {
class FuncOp;
} // namespace func
} // namespace mlir

namespace raspc {

#define GEN_PASS_DECL_CONVERTATTENTIONTOGPUFLASH
#include "Conversion/Passes.h.inc"

/// Whether convert-attention-to-gpu-flash rewrites `op`: softmax over f16 or
/// bf16 tensors with static head and value sizes that tensor-core tiles
/// divide, and mask / score regions of scalar arithmetic.
bool isGPUFlashCandidate(mlir::attn::AttentionOp op);

/// The functions convert-attention-to-gpu-flash calls where its kernels need
/// a block-wide barrier, to close a group of cp.async copies, or to wait
/// until at most N (the i32 argument) groups are pending; after
/// bufferization convert-deferred-gpu-sync makes those calls gpu.barrier,
/// nvvm.cp.async.commit.group and nvvm.cp.async.wait.group N.
inline constexpr const char *kDeferredGPUBarrier = "raspc.deferred_gpu_barrier";
inline constexpr const char *kDeferredCpAsyncCommit = "raspc.deferred_cp_async_commit";
inline constexpr const char *kDeferredCpAsyncWait = "raspc.deferred_cp_async_wait";

/// Whether `chip` ("sm_80", "sm_90a", ...) has the m16n8k16 f16/bf16
/// mma.sync the kernels use (sm_80 and later).
bool hasMmaSyncM16N8K16(const std::string &chip);

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_ATTENTIONTOGPUFLASH_H
