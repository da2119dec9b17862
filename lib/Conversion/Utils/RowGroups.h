//===- RowGroups.h - norms as groups of row reductions ----------*- C++ -*-===//
//
// A norm or a softmax in linalg is a few generics over the same rows: row
// reductions (a mean, a variance; a maximum, a sum), each perhaps reading
// the ones before it per row, and a last all-parallel op that reads them
// per row (the normalization). The GPU and the CPU row kernels both emit
// such a group as one loop over rows, keeping each reduction's row value in
// a register; which generics form a group is decided here once.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_UTILS_ROWGROUPS_H
#define RASPC_CONVERSION_UTILS_ROWGROUPS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace raspc {

/// The combiner of a reduction body: the op that folds the element's value
/// into the running one, and that value's operand index.
struct Combiner {
  mlir::Operation *op;
  unsigned elementOperand;
};

/// The body's final op, when it is `combine(%out, value)` (either order)
/// with an associative, commutative float combiner (addf, maximumf,
/// minimumf, maxnumf, minnumf) and %out used nowhere else.
std::optional<Combiner> matchCombiner(mlir::linalg::GenericOp op);

/// The combiner's identity: folding it changes nothing.
double combinerIdentity(mlir::Operation *combine);

/// combine(x, y) with the combiner's op (scalars or vectors alike).
mlir::Value combine(mlir::ImplicitLocOpBuilder &b, const Combiner &combiner, mlir::Value x,
                    mlir::Value y);

/// Whether `map` is (d0, ..., d(n-2)) of n loops: one value per row.
bool isRowMap(mlir::AffineMap map);

/// Whether `op` is a row reduction: a linalg.generic on tensors whose last
/// loop reduces into an f32 result indexed by the other loops in order,
/// every operand indexed by plain loop dimensions, a scalar body folding one
/// value per element with a combiner (matchCombiner).
bool isRowReduction(mlir::linalg::GenericOp op);

/// The row reductions `consumer` (an all-parallel generic of at least two
/// loops, isPerElementGeneric) reads per row, and those they read per row in
/// turn, with `consumer` last, in program order -- when there are some, all
/// satisfy `accept`, and nothing else reads them. Empty otherwise.
llvm::SmallVector<mlir::linalg::GenericOp>
rowGroupOf(mlir::linalg::GenericOp consumer,
           llvm::function_ref<bool(mlir::linalg::GenericOp)> accept);

/// Where a row reduction's initial values come from: a filled init (a sum's
/// zero) is its one `value`, else a read-only `buffer` of the init.
struct ReductionInit {
  mlir::Value value, buffer;
};
ReductionInit reductionInit(mlir::ImplicitLocOpBuilder &b, mlir::linalg::GenericOp op);

} // namespace raspc

#endif // RASPC_CONVERSION_UTILS_ROWGROUPS_H
