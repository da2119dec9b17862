//===- RowReductionsToGPU.h - a warp per row of a reduction -----*- C++ -*-===//

#ifndef RASPC_CONVERSION_GPU_ROWREDUCTIONSTOGPU_H
#define RASPC_CONVERSION_GPU_ROWREDUCTIONSTOGPU_H

#include "mlir/Pass/Pass.h"

namespace mlir::linalg {
class GenericOp;
} // namespace mlir::linalg

namespace raspc {

#define GEN_PASS_DECL_CONVERTROWREDUCTIONSTOGPU
#include "Conversion/Passes.h.inc"

/// Whether convert-row-reductions-to-gpu rewrites `op`: a linalg.generic on
/// tensors whose last loop reduces into an f32 result indexed by the other
/// loops in order, every operand indexed by plain loop dimensions, and whose
/// body folds one value per element into the result with an associative
/// float combiner (addf, maximumf, minimumf, maxnumf, minnumf).
bool isGPURowReduction(mlir::linalg::GenericOp op);

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_ROWREDUCTIONSTOGPU_H
