//===- SharedMemoryTiles.h - global-to-shared tile copies in GPU kernels -*- C++ -*-===//
//
// What the tensor-core kernels (convert-attention-to-gpu-flash,
// convert-matmul-to-gpu) share: the dynamic shared memory, copying tiles of
// a global buffer into it with cp.async, and the block-wide synchronization
// around that, emitted while the kernels are still built on tensors.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_GPU_SHAREDMEMORYTILES_H
#define RASPC_CONVERSION_GPU_SHAREDMEMORYTILES_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <optional>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace raspc {

/// The functions the kernels call where they need a block-wide barrier, to
/// close a group of cp.async copies, or to wait until at most N (the i32
/// argument) groups are pending; after bufferization convert-deferred-gpu-sync
/// makes those calls gpu.barrier, nvvm.cp.async.commit.group and
/// nvvm.cp.async.wait.group N. (Bufferization's deallocation pipeline
/// rejects the real ops: they declare no memory effects.)
inline constexpr const char *kDeferredGPUBarrier = "raspc.deferred_gpu_barrier";
inline constexpr const char *kDeferredCpAsyncCommit = "raspc.deferred_cp_async_commit";
inline constexpr const char *kDeferredCpAsyncWait = "raspc.deferred_cp_async_wait";

/// Declares the deferred functions in `module` (if not there yet); kernels
/// that call them do it first.
void declareDeferredSync(mlir::ModuleOp module);

/// A call to the deferred function `name`, with `pending` as its argument
/// for the wait.
void emitDeferredSync(mlir::ImplicitLocOpBuilder &b, llvm::StringRef name,
                      std::optional<int32_t> pending = std::nullopt);

/// The block's dynamic shared memory (bytes), and how far into it the
/// kernel's data starts so as to be `alignment`-aligned (a power of two):
/// CUDA aligns it to 16 bytes only, so above that the kernel rounds the
/// address up and its launch asks for `alignment` bytes more.
struct DynamicSharedMemory {
  mlir::Value base, padding;
};
DynamicSharedMemory emitDynamicSharedMemory(mlir::ImplicitLocOpBuilder &b, int64_t alignment);
/// The dynamic shared memory a launch asks for to hold `dataBytes` from an
/// `alignment`-aligned start.
inline int64_t dynamicSharedBytes(int64_t dataBytes, int64_t alignment) {
  return dataBytes + (alignment > 16 ? alignment : 0);
}

/// Bytes one cp.async moves where the operands allow.
inline constexpr int64_t kCopyVectorBytes = 16;

/// A global buffer that a kernel copies tiles of into shared memory, with
/// what 16-byte copies from it need.
struct GlobalTileSource {
  /// Emits the run-time check (layouts are dynamic): 16-byte copies are
  /// allowed when every run of 16 bytes starting at a multiple of 16 bytes
  /// along the last dimension is 16-byte aligned -- the aligned pointer, the
  /// offset and the outer strides whole vectors, the last dimension
  /// contiguous and a whole number of vectors long.
  GlobalTileSource(mlir::ImplicitLocOpBuilder &b, mlir::Value buffer);

  mlir::Value buffer;
  /// The same buffer typed with a unit last stride, read only where
  /// `vectorOk`.
  mlir::Value contiguous;
  mlir::Value vectorOk;
};

/// Where tile element (row, column) comes from: indices into the source,
/// and whether the element exists (null: always). Elements that do not
/// exist are zero in the tile and never read.
struct TileElementSource {
  llvm::SmallVector<mlir::Value, 4> indices;
  mlir::Value exists;
};

/// All `threads` threads of the block (this one is `thread`) copy a
/// rows x columns tile into the shared memref `tile` (rows may be padded
/// beyond `columns`), consecutive threads taking consecutive columns of a
/// row: coalesced reads. 16 bytes per cp.async where `source.vectorOk`
/// (and `columns` holds whole vectors), element by element otherwise; `at`
/// is asked for the first element of each run it copies, and a run either
/// exists whole or not at all (true of runs along the last dimension when
/// the check passed). The copies are part of the current cp.async group.
/// `place`, if given, says where in `tile` element (row, column) goes (a
/// swizzled layout; runs must stay whole); else at [row, column].
void emitTileCopy(
    mlir::ImplicitLocOpBuilder &b, mlir::Value thread, int64_t threads,
    const GlobalTileSource &source, mlir::Value tile, int64_t rows, int64_t columns,
    llvm::function_ref<TileElementSource(mlir::Value row, mlir::Value column)> at,
    llvm::function_ref<llvm::SmallVector<mlir::Value, 2>(mlir::Value row, mlir::Value column)>
        place = nullptr);

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_SHAREDMEMORYTILES_H
