//===- MatmulProducts.h - what each matmul kernel computes ------*- C++ -*-===//
//
// convert-matmul-to-gpu's plan, made before any kernel is emitted: what
// finishes each product inside its kernel (the epilogue), which products
// one kernel computes in the same tiles (SwiGLU's gate and up), and which
// share a launch (the projections of one input).
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_GPU_MATMULPRODUCTS_H
#define RASPC_CONVERSION_GPU_MATMULPRODUCTS_H

#include "Conversion/Utils/Matmuls.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir {
class DominanceInfo;
} // namespace mlir

namespace raspc {

/// A product a launch computes: `x @ w`, and the generic that finishes it
/// (matmulEpilogueOf) or null. With `partner`, a second product of the same A and
/// shape that the epilogue reads at the same element (SwiGLU's gate beside
/// up: silu(x @ wg) * (x @ wu)): the kernel computes both in its tiles.
struct MatmulProduct {
  mlir::linalg::MatmulOp op;
  mlir::linalg::GenericOp epilogue;
  mlir::linalg::MatmulOp partner;
  /// The op whose result the kernel's replaces.
  mlir::Operation *replaced() const {
    return epilogue ? static_cast<mlir::Operation *>(epilogue)
                    : static_cast<mlir::Operation *>(op);
  }
};

/// Where the launch of `products` goes: before the first of their
/// replaced() ops (all in one block).
mlir::Operation *launchPoint(llvm::ArrayRef<MatmulProduct> products);

/// The launches for `ops`, in order: products of one A with no operand
/// computed after the first of their replaced ops share one (by the order
/// of their ops), any other has its own. Two products one epilogue reads
/// at the same element are one product with a partner, launched alone; a
/// product whose epilogue reads another it cannot pair with is alone too,
/// as that epilogue may be the other's (a launch of one product without a
/// partner looks for its epilogue again when it comes to it).
llvm::SmallVector<llvm::SmallVector<MatmulProduct>>
planMatmulLaunches(llvm::ArrayRef<mlir::linalg::MatmulOp> ops, mlir::DominanceInfo &dominance);

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_MATMULPRODUCTS_H
