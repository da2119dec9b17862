//===- MatmulToGPUMma.h - tensor-core matmul kernels -------------*- C++ -*-===//

#ifndef RASPC_CONVERSION_GPU_MATMULTOGPUMMA_H
#define RASPC_CONVERSION_GPU_MATMULTOGPUMMA_H

#include "mlir/Pass/Pass.h"

namespace mlir::linalg {
class MatmulOp;
} // namespace mlir::linalg

namespace raspc {

#define GEN_PASS_DECL_CONVERTMATMULTOGPUMMA
#include "Conversion/Passes.h.inc"

/// Whether convert-matmul-to-gpu-mma rewrites `op`: a plain 2-D matmul of
/// f16 or bf16 operands into an f32 accumulator.
bool isGPUMmaMatmul(mlir::linalg::MatmulOp op);

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_MATMULTOGPUMMA_H
