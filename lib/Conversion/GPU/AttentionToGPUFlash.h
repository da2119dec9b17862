//===- AttentionToGPUFlash.h - tensor-core flash attention kernels -*- C++ -*-===//

#ifndef RASPC_CONVERSION_GPU_ATTENTIONTOGPUFLASH_H
#define RASPC_CONVERSION_GPU_ATTENTIONTOGPUFLASH_H

#include "mlir/IR/ImplicitLocOpBuilder.h"
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
/// divide, or over f32 tensors with sizes isFmaFlashShape takes, and mask /
/// score regions of scalar arithmetic.
bool isGPUFlashCandidate(mlir::attn::AttentionOp op);

/// Whether the f32 (FMA) flash kernel takes these head and value sizes.
bool isFmaFlashShape(int64_t headDim, int64_t valueDim);

/// The f32 flash kernel for `op` (FlashFmaKernel.cpp), in place of `op`.
void emitFmaFlashAttention(mlir::ImplicitLocOpBuilder &b, mlir::attn::AttentionOp op);

/// Whether the warpgroup-MMA flash kernel (FlashWgmmaKernel.cpp, sm_90a)
/// takes these head and value sizes (f16/bf16 operands).
bool isWgmmaFlashShape(int64_t headDim, int64_t valueDim);

/// The warpgroup-MMA flash kernel for `op`, in place of `op`; with
/// `overlap`, each key block's softmax runs under the MMAs of the block
/// before it (three stages of tiles).
void emitWgmmaFlashAttention(mlir::ImplicitLocOpBuilder &b, mlir::attn::AttentionOp op,
                             bool overlap);

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_ATTENTIONTOGPUFLASH_H
