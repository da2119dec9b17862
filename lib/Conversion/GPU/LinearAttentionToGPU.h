//===- LinearAttentionToGPU.h - linear attention in linear time on GPUs -*- C++ -*-===//

#ifndef RASPC_CONVERSION_GPU_LINEARATTENTIONTOGPU_H
#define RASPC_CONVERSION_GPU_LINEARATTENTIONTOGPU_H

#include "mlir/Pass/Pass.h"

namespace mlir {
namespace attn {
class AttentionOp;
} // namespace attn
} // namespace mlir

namespace raspc {

#define GEN_PASS_DECL_CONVERTLINEARATTENTIONTOGPU
#include "Conversion/Passes.h.inc"

/// Whether convert-linear-attention-to-gpu rewrites `op`: linear attention
/// over f32, f16 or bf16 tensors with static head counts and sizes, no mask
/// or the causal one, and a head size whose tiles fit in `maxSharedBytes`
/// of shared memory in both kernels.
bool isLinearAttentionGPUCandidate(mlir::attn::AttentionOp op, int64_t maxSharedBytes);

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_LINEARATTENTIONTOGPU_H
