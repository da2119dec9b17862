//===- FlashKernel.h - what every flash attention kernel shares -*- C++ -*-===//
//
// Both flash kernels (tensor cores for f16/bf16, FMAs for f32) have one
// skeleton: a block owns a run of query rows of one (batch, head); it walks
// the keys in blocks, each copied by cp.async into one of two shared-memory
// stages while the block before it is computed; blocks the mask hides from
// all the block's rows are neither copied nor computed; at the end each
// thread stores its rows. A form supplies its thread layout, the per-thread
// state it carries from key block to key block and the arithmetic of a
// block.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_GPU_FLASHKERNEL_H
#define RASPC_CONVERSION_GPU_FLASHKERNEL_H

#include "Conversion/GPU/LayoutViews.h"
#include "Conversion/GPU/SharedMemoryTiles.h"

#include "Attn/IR/AttnOps.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir {
namespace gpu {
class LaunchOp;
} // namespace gpu
} // namespace mlir

namespace raspc {

class FlashKernelEmitter {
public:
  /// `threads` per block; each shared tile row is padded by `rowPadding`
  /// elements; `keyBlock` keys per step, halved until the stages, what the
  /// form keeps after them (`extraBytes(headDim)`) and the slack to start
  /// them `sharedAlignment`-aligned (a power of two >= 16; the kernel
  /// rounds the dynamic shared memory's address up) fit in `maxSharedBytes`.
  /// `stages` of shared tiles (two unless a form's own key loop needs
  /// more).
  FlashKernelEmitter(mlir::ImplicitLocOpBuilder &b, mlir::attn::AttentionOp op,
                     int64_t threads, int64_t rowPadding, int64_t keyBlock,
                     int64_t maxSharedBytes = 96 * 1024, int64_t sharedAlignment = 16,
                     std::function<int64_t(int64_t headDim)> extraBytes = nullptr,
                     int64_t stages = 2);
  virtual ~FlashKernelEmitter() = default;

  /// The kernel's launch, emitted before the attention op, which it
  /// replaces (with the heads / merge_heads transposes around it where the
  /// kernel reads and writes through them: LayoutViews.h).
  void emit();

protected:
  mlir::Value idx(int64_t v);
  mlir::Value fconst(double v);
  mlir::Value negInf();
  mlir::Value add(mlir::Value x, mlir::Value y);
  mlir::Value add(mlir::Value x, int64_t y);
  mlir::Value mul(mlir::Value x, int64_t y);
  mlir::Value less(mlir::Value x, mlir::Value y);
  /// e^x as 2^(x log2 e): ex2 is the hardware's exponential.
  mlir::Value exp(mlir::Value x);

  /// Query rows per block.
  virtual int64_t blockRows() const = 0;
  /// Per-thread values the form needs (its rows, its part of Q), from
  /// bIdx, hIdx, tid and blockRow0.
  virtual void emitThreadSetup() = 0;
  /// The thread's state before the first key block.
  virtual llvm::SmallVector<mlir::Value> initialState() = 0;
  /// The thread's state after keys [k0, k0 + keyBlock), read from the shared
  /// tiles; called where the block's rows may see some of these keys. Keys
  /// past the end are zeros in the tiles.
  virtual llvm::SmallVector<mlir::Value> emitKeyBlock(mlir::ValueRange state, mlir::Value k0,
                                                      mlir::Value keyTile,
                                                      mlir::Value valueTile) = 0;
  /// Stores the thread's rows of `out` (final state).
  virtual void emitStore(mlir::ValueRange state) = 0;
  /// The shape of a stage's key or value tile in shared memory (as many
  /// elements as keyBlock padded rows), and where element (row, column) of
  /// it goes: by default as it is.
  virtual llvm::SmallVector<int64_t, 2> tileShape(bool isKey) const;
  virtual llvm::SmallVector<mlir::Value, 2> place(bool isKey, mlir::Value row,
                                                  mlir::Value column) {
    return {row, column};
  }
  /// Emitted when this thread's copies into the stage about to be computed
  /// are complete, before the barrier that shows everyone's.
  virtual void emitTilesLanded() {}

  /// The walk through the key blocks, returning the thread's final state:
  /// by default the two-stage pipeline described above, emitKeyBlock for
  /// each block the block's rows may see.
  virtual llvm::SmallVector<mlir::Value> emitKeyLoop();
  /// Starts copying key block `kb` into stage `stage` where `copy` holds,
  /// and closes a cp.async group, empty or not.
  void emitPrefetch(mlir::Value kb, mlir::Value stage, mlir::Value copy);
  /// Waits until at most `pending` cp.async groups are, then the barrier
  /// that makes every thread's copies visible.
  void emitStageLanded(int32_t pending);
  /// Whether key block `kb` exists and the block's rows may see some of it.
  mlir::Value emitBlockInRange(mlir::Value kb);
  /// The key or value tile of stage `stage`: keyBlock rows, padded.
  mlir::Value tileOf(mlir::Value stage, bool isKey);
  /// [first, end): from the first key block the block's rows may see to
  /// the last (by the mask's intervals; all blocks without a mask), for a
  /// loop that computes every block between.
  std::pair<mlir::Value, mlir::Value> emitSeenBlockRange();

  /// The block's dynamic shared memory, and its first byte after the stages
  /// (where a form keeps what `extraBytes` asked for).
  mlir::Value sharedMemory() const { return sharedBase; }
  mlir::Value extraShared();

  /// Whether rows [row0, row0 + rows) may see key block `k0` (by the mask's
  /// intervals); null: always.
  mlir::Value emitBlockVisible(mlir::Value row0, int64_t rows, mlir::Value k0);
  /// The online softmax step of a thread holding scores as MMA C fragments
  /// (mma.sync m16n8, or a warp's part of a wgmma m64nN accumulator):
  /// element e of `scores[tile]` is row `rows[e / 2]`, key k0 + 8 tile +
  /// twoT + e % 2. Applies the score region, hides keys past the end and,
  /// if `masked`, those the mask hides; updates the rows' maxima and sums
  /// (`max`, `sum`: the four lanes of a row combine theirs), turns the
  /// scores into probabilities and returns each row's rescaling factor for
  /// the accumulator.
  llvm::SmallVector<mlir::Value, 2>
  emitFragmentSoftmax(llvm::MutableArrayRef<llvm::SmallVector<mlir::Value, 4>> scores,
                      mlir::Value k0, mlir::Value twoT, llvm::ArrayRef<mlir::Value> rows,
                      llvm::MutableArrayRef<mlir::Value> max,
                      llvm::MutableArrayRef<mlir::Value> sum, bool masked);
  /// What a row's output is multiplied by at the end: 1 / its `sum`
  /// (sigmoid: 1), 0 for a row that saw no key.
  mlir::Value emitRowNormalizer(mlir::Value sum);
  /// The same for a fragment row: the four lanes' `partialSum`s added.
  mlir::Value emitFragmentRowNormalizer(mlir::Value partialSum);
  /// Whether the weights are sigmoid(s), not normalized, instead of the
  /// softmax's: no running maximum, no rescaling; the sum only tells
  /// whether a row saw a key.
  bool isSigmoid() const;
  /// sigmoid(s) = 1 / (1 + e^-s); 0 for a hidden key's -inf.
  mlir::Value sigmoid(mlir::Value s);
  /// The sum or maximum over the four lanes that share a fragment row.
  mlir::Value quadReduce(mlir::Value v, bool isMax);
  /// An scf.if branch that emits `body` and yields the values it returns.
  std::function<void(mlir::OpBuilder &, mlir::Location)>
  yieldingBranch(std::function<llvm::SmallVector<mlir::Value>()> body);

  mlir::ImplicitLocOpBuilder &b;
  mlir::attn::AttentionOp op;
  mlir::Type f32, element;
  const int64_t threads, rowPadding, sharedAlignment, stages;
  int64_t keyBlock;
  int64_t headDim, valueDim;
  /// Batch size, query heads, query heads per key head, query and key counts.
  mlir::Value batch, heads, group, queries, keys;
  /// The operands as read-only buffers (or strided views), where the
  /// output goes (a view of `result.buffer`).
  mlir::Value query, key, value, out;
  ResultBuffer result;
  /// In the kernel: the block's batch, query head, key head, first row; the
  /// thread; how many key blocks there are.
  mlir::Value bIdx, hIdx, khIdx, blockRow0, tid, keyBlocks;

private:
  void emitKernel(mlir::gpu::LaunchOp launch, mlir::Value queryBlocks);
  int64_t tileBytes(int64_t width) const;
  int64_t stageBytes() const { return tileBytes(headDim) + tileBytes(valueDim); }

  std::optional<GlobalTileSource> keySource, valueSource;
  int64_t extraSharedBytes = 0;
  /// The dynamic shared memory the launch asks for.
  int64_t sharedBytes() const;
  mlir::Value sharedBase, sharedPadding;
};

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_FLASHKERNEL_H
