//===- MatmulToGPU.h - tiled matmul kernels for NVIDIA GPUs -----*- C++ -*-===//

#ifndef RASPC_CONVERSION_GPU_MATMULTOGPU_H
#define RASPC_CONVERSION_GPU_MATMULTOGPU_H

#include "mlir/Pass/Pass.h"

namespace mlir::linalg {
class MatmulOp;
} // namespace mlir::linalg

namespace raspc {

#define GEN_PASS_DECL_CONVERTMATMULTOGPU
#include "Conversion/Passes.h.inc"

/// Whether convert-matmul-to-gpu rewrites `op`: a plain 2-D matmul into an
/// f32 accumulator, of f32 operands or of f16 or bf16 ones.
bool isGPUMatmulCandidate(mlir::linalg::MatmulOp op);

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_MATMULTOGPU_H
