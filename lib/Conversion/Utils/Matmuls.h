//===- Matmuls.h - what surrounds a model's matmul --------------*- C++ -*-===//
//
// MLIRGen writes `x @ w` as a linalg.matmul into a zero fill, often
// followed by a per-element generic (rounding, bias, activation, residual).
// The matmul lowerings (convert-matmul-to-gpu, convert-matmul-to-tiled-loops)
// read that shape the same way through these.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_UTILS_MATMULS_H
#define RASPC_CONVERSION_UTILS_MATMULS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace raspc {

/// The linalg.generic that finishes `op`'s product element by element --
/// rounding to f16/bf16, a bias, an activation, a residual, whatever
/// fuse-elementwise-ops made one body of -- when it is the product's only
/// use: the kernel computes it on the accumulators and stores its result
/// instead. Its loops are the product's, all parallel; it reads the product
/// as it is, its other operands through projected permutations (a bias
/// broadcast along the rows, a residual as it is), never the old value of
/// its output; its body is scalar arithmetic (and linalg.index).
mlir::linalg::GenericOp matmulEpilogueOf(mlir::linalg::MatmulOp op);

/// The accumulator `op` starts from, null where that is zeros (a fill the
/// kernel does not read).
mlir::Value initialAccumulator(mlir::linalg::MatmulOp op);

} // namespace raspc

#endif // RASPC_CONVERSION_UTILS_MATMULS_H
