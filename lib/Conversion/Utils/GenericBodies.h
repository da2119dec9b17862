//===- GenericBodies.h - linalg.generic bodies evaluated in kernels -*- C++ -*-===//
//
// The GPU lowerings that take a linalg.generic into a kernel of their own
// (a matmul's epilogue, a norm's normalization, a row reduction's element
// contribution) evaluate its body per element by cloning it; what such a
// body may hold, and the cloning, are here once.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_UTILS_GENERICBODIES_H
#define RASPC_CONVERSION_UTILS_GENERICBODIES_H

#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::linalg {
class GenericOp;
} // namespace mlir::linalg

namespace raspc {

/// Whether `op`'s body is scalar `arith` / `math` arithmetic and
/// `linalg.index`: nothing that reads memory or captures a tensor, so a
/// kernel can clone it per element.
bool hasScalarBody(mlir::linalg::GenericOp op);

/// Whether `op` computes each element of its one output from its inputs
/// alone: all loops parallel, the output written as it is (identity map)
/// and its old value unread, ranked-tensor inputs read through projected
/// permutations, a scalar body.
bool isPerElementGeneric(mlir::linalg::GenericOp op);

/// Clones `op`'s body at iteration point `point` (linalg.index d is
/// point[d]), block argument i bound to `input(operand i, its indices at
/// point)`, stopping before `stopBefore` if given; `mapping` then maps body
/// values to their clones (the yielded value: its terminator's operand).
void emitBodyAt(mlir::ImplicitLocOpBuilder &b, mlir::linalg::GenericOp op,
                llvm::ArrayRef<mlir::Value> point,
                llvm::function_ref<mlir::Value(mlir::OpOperand &, llvm::ArrayRef<mlir::Value>)>
                    input,
                mlir::IRMapping &mapping, mlir::Operation *stopBefore = nullptr);

} // namespace raspc

#endif // RASPC_CONVERSION_UTILS_GENERICBODIES_H
