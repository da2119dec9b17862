//===- AggregateMath.h - how an aggregate's sums become values --*- C++ -*-===//
//
// attn.aggregate adds the selected values and counts them, then divides (or
// takes its default where nothing was selected). The dense lowering
// (convert-attn-to-linalg) and the scans (convert-selects-to-scans) add in
// different orders but must agree on the types they add in and on that
// last step.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_UTILS_AGGREGATEMATH_H
#define RASPC_CONVERSION_UTILS_AGGREGATEMATH_H

#include "Attn/IR/AttnOps.h"

#include "mlir/IR/Builders.h"

namespace raspc {

/// Converts a scalar to `to` (ints sign-extended, i1 zero-extended).
mlir::Value convertScalar(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v, mlir::Type to);

/// What `op` adds its values in: f32 (f64 stays f64) for means and float
/// results, i64 for the rest.
mlir::Type aggregateSumType(mlir::attn::AggregateOp op);

/// One query's result from the sum of its selected values (in
/// aggregateSumType) and their count (i64): the sum divided by the count,
/// or the op's default where the count is 0.
mlir::Value finishAggregate(mlir::OpBuilder &b, mlir::Location loc, mlir::attn::AggregateOp op,
                            mlir::Value sum, mlir::Value count);

} // namespace raspc

#endif // RASPC_CONVERSION_UTILS_AGGREGATEMATH_H
