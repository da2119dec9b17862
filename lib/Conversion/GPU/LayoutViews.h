//===- LayoutViews.h - kernels that read and write through transposes -*- C++ -*-===//
//
// A model's `heads(x, H)` is x [T, H D] reshaped to [T, H, D] and
// transposed to [H, T, D] (then given a batch of one); `merge_heads` is the
// way back. On tensors each transpose is a copy -- a kernel of its own on
// the GPU, a round trip of the tensor through memory. A kernel that
// addresses its operands through strides (the flash kernels) can instead
// read x itself through a strided view, and write its result through a
// view of the merged tensor's buffer.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_GPU_LAYOUTVIEWS_H
#define RASPC_CONVERSION_GPU_LAYOUTVIEWS_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace raspc {

/// `tensor` as a read-only buffer. When a chain of tensor.expand_shape and
/// linalg.transpose ops (at least one transpose) made it, a strided view
/// (memref.expand_shape, memref.transpose) of the buffer of the chain's
/// source instead, so that the copies need not happen. Either way typed
/// with a fully dynamic strided layout.
mlir::Value readThroughLayoutOps(mlir::ImplicitLocOpBuilder &b, mlir::Value tensor);

/// The ops that reshape and transpose `result` -- tensor.collapse_shape and
/// linalg.transpose, each the only use of the one before but for
/// tensor.dims of it (with constant indices), the first likewise of
/// `result`, at least one transpose -- or none.
llvm::SmallVector<mlir::Operation *> layoutChainOf(mlir::Value result);

/// Where a kernel whose result is the tensor `result` (of sizes `sizes`)
/// writes it: a new buffer of `result`'s shape, or, when `result` has a
/// layoutChainOf, a buffer of the chain's final shape viewed (through the
/// inverse reshapes and transposes) as `result`'s shape. `buffer` is what
/// becomes the tensor that replaces `result` or the chain's last value.
struct ResultBuffer {
  mlir::Value buffer, view;
  /// The layoutChainOf written through (or none), and the sizes of
  /// `result` and of each op's result but the last.
  llvm::SmallVector<mlir::Operation *> chain;
  llvm::SmallVector<llvm::SmallVector<mlir::OpFoldResult>> shapes;
};
ResultBuffer allocateThroughLayoutOps(mlir::ImplicitLocOpBuilder &b, mlir::Value result,
                                      llvm::ArrayRef<mlir::OpFoldResult> sizes);

/// Replaces `result` -- or the last value of `written.chain`, erasing the
/// chain, its tensor.dims becoming the sizes they ask for -- by `tensor`
/// (the kernel's result in `written.buffer`), and erases `result`'s op.
void replaceThroughLayoutOps(mlir::Value result, mlir::Value tensor,
                             const ResultBuffer &written);

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_LAYOUTVIEWS_H
