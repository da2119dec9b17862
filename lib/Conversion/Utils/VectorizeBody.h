//===- VectorizeBody.h - scalar bodies evaluated on vectors -----*- C++ -*-===//
//
// The CPU's vector loops evaluate per-element bodies -- attention's mask and
// score regions over a vector of keys, a matmul epilogue's generic over a
// vector of columns -- by cloning them on vectors: element-wise ops become
// vector ops, uniform values stay scalar until they meet a vector, and
// anything else runs lane by lane.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_UTILS_VECTORIZEBODY_H
#define RASPC_CONVERSION_UTILS_VECTORIZEBODY_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace raspc {

/// Whether every op of `region` can be evaluated on vectors (none holds a
/// region of its own).
bool isVectorizable(mlir::Region &region);

/// Evaluates `block` (one result through its terminator) with its
/// arguments bound to `args`, each a scalar (the same for every lane) or a
/// vector of `width` lanes; returns the yielded value as a vector.
mlir::Value vectorizeBlock(mlir::ImplicitLocOpBuilder &b, mlir::Block &block,
                           llvm::ArrayRef<mlir::Value> args, int64_t width);

} // namespace raspc

#endif // RASPC_CONVERSION_UTILS_VECTORIZEBODY_H
