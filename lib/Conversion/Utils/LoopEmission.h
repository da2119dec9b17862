//===- LoopEmission.h - shared pieces of the loop-emitting lowerings -*- C++ -*-===//
//
// What convert-attention-to-flash-loops and convert-linear-attention-to-loops
// both need when they write loops over buffers in the middle of tensor IR.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_UTILS_LOOPEMISSION_H
#define RASPC_CONVERSION_UTILS_LOOPEMISSION_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace raspc {

/// A memref of `shape` and `element` with fully dynamic strides and offset:
/// it fits any view of such a buffer.
mlir::MemRefType dynamicStridedType(llvm::ArrayRef<int64_t> shape, mlir::Type element);

/// The buffer behind `tensor`, read only, typed with fully dynamic strides
/// so that it fits whatever layout bufferization gives the operand (after
/// bufferization an operand may be a view).
mlir::Value readOnlyBuffer(mlir::ImplicitLocOpBuilder &b, mlir::Value tensor);

/// The buffer behind `tensor`, read only, whose innermost dimension is
/// contiguous, so that vectors load from it; bufferization casts the
/// operand's buffer to it, or copies where its layout cannot be proven to
/// fit.
mlir::Value rowContiguousBuffer(mlir::ImplicitLocOpBuilder &b, mlir::Value tensor);
/// A new buffer for a tensor of `type` whose sizes are `sizes` (one per
/// dimension; the dynamic ones are used).
mlir::Value allocateBuffer(mlir::ImplicitLocOpBuilder &b, mlir::RankedTensorType type,
                           llvm::ArrayRef<mlir::OpFoldResult> sizes);

/// `for (iv = lb; iv < ub; iv += step) body(iv)` with no loop-carried
/// values; `body` emits through `b`, which points into the loop meanwhile.
void emitLoop(mlir::ImplicitLocOpBuilder &b, mlir::Value lb, mlir::Value ub, mlir::Value step,
              llvm::function_ref<void(mlir::Value)> body);
/// `count` tasks of an scf.parallel (which convert-parallel-to-rasprt runs
/// on the runtime's threads): `body` gets the task's index and emits through
/// `b`, which points into the loop meanwhile.
mlir::Operation *emitParallelTasks(mlir::ImplicitLocOpBuilder &b, mlir::Value count,
                                   llvm::function_ref<void(mlir::Value)> body);
/// The same carrying `init` from iteration to iteration: `body` gets the
/// carried values and returns the next ones; the loop's results are
/// returned.
llvm::SmallVector<mlir::Value>
emitLoop(mlir::ImplicitLocOpBuilder &b, mlir::Value lb, mlir::Value ub, mlir::Value step,
         mlir::ValueRange init,
         llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::Value, mlir::ValueRange)> body);

/// Clones the single block of `region` at the builder's insertion point with
/// its arguments bound to `args`; returns the yielded value (mask and score
/// regions evaluated for one element).
mlir::Value inlineRegion(mlir::OpBuilder &b, mlir::Region &region, mlir::ValueRange args);

/// Rewrites the math ops under `root` named in `ops` (e.g. "math.exp",
/// "math.erf") into upstream's polynomial approximations: LLVM would
/// otherwise call libm per element (and per lane).
void approximateMath(mlir::Operation *root, llvm::ArrayRef<llvm::StringRef> ops);

} // namespace raspc

#endif // RASPC_CONVERSION_UTILS_LOOPEMISSION_H
