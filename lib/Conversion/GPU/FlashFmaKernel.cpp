//===- FlashFmaKernel.cpp - f32 flash attention by FMAs ---------*- C++ -*-===//
//
// Softmax attention on f32 tensors as one GPU kernel in the flash form,
// without tensor cores (TF32 would change the results): a block of 128
// threads owns 128 / T query rows of one (batch, head), T threads per row,
// each with a slice of at most 32 features of the row's query and of its
// output accumulator in registers. Keys and values come through two
// shared-memory stages, as in the tensor-core kernel; for each key of a
// block a thread takes the dot product of its slice with the key's (all
// threads of a warp read the same few 16-byte runs: broadcasts), the T
// threads of a row add their parts by shuffles, and after each chunk of 8
// keys the running maximum, sum and accumulator are updated once. Nothing
// of size [queries, keys] exists.
//
// Register pressure sets the sizes: with slices of 64 features, or a whole
// key block unrolled, ptxas (sm_90a) spilled at every head size from 64 on;
// now 233 registers at 64 and 128, no spills; 256 spills 16 bytes.
//
//===----------------------------------------------------------------------===//

#include "Conversion/AttentionToFlashLoops/MaskIntervals.h"
#include "Conversion/GPU/AttentionToGPUFlash.h"
#include "Conversion/GPU/SharedMemoryTiles.h"
#include "Conversion/Utils/LoopEmission.h"

#include "Attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kThreads = 128;
constexpr int64_t kWarpSize = 32;
/// Features of the query and of the output a thread holds at most.
constexpr int64_t kMaxSlice = 32;
/// Floats per shared-memory access.
constexpr int64_t kRun = 4;
constexpr int64_t kStages = 2;
/// Keys whose scores a thread holds at once: the row's state is updated
/// once per chunk, chunks are a loop. (A key block unrolled whole spilled:
/// ptxas moved the shared loads of many keys ahead, each key 2 x 64 floats.)
constexpr int64_t kChunk = 8;
constexpr int64_t kMaxSharedBytes = 96 * 1024;
constexpr int64_t kMaxDim = 256;

/// Threads per query row: the fewest (a power of two) whose slices of the
/// head and value features are at most kMaxSlice.
int64_t threadsPerRow(int64_t headDim, int64_t valueDim) {
  int64_t threads = 1;
  while (headDim / threads > kMaxSlice || valueDim / threads > kMaxSlice)
    threads *= 2;
  return threads;
}

/// The running softmax state of a thread's row: maximum, sum, and its slice
/// of the output accumulator in runs of kRun.
struct RowState {
  Value max, sum;
  SmallVector<Value> acc;

  SmallVector<Value> flatten() const {
    SmallVector<Value> values{max, sum};
    llvm::append_range(values, acc);
    return values;
  }
  static RowState unflatten(ValueRange values) {
    return {values[0], values[1], SmallVector<Value>(values.begin() + 2, values.end())};
  }
};

class FmaFlashEmitter : raspc::FlashOperands {
public:
  FmaFlashEmitter(ImplicitLocOpBuilder &b, AttentionOp op)
      : FlashOperands(b, op), b(b), op(op), f32(b.getF32Type()) {}

  Value emit();

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value fconst(double v) { return arith::ConstantOp::create(b, b.getF32FloatAttr(v)); }
  Value negInf() { return fconst(-std::numeric_limits<double>::infinity()); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value add(Value x, int64_t y) { return y == 0 ? x : add(x, idx(y)); }
  Value mul(Value x, int64_t y) { return arith::MulIOp::create(b, x, idx(y)); }
  Value exp(Value x) {
    // e^x = 2^(x log2 e): ex2 is the hardware's exponential.
    return math::Exp2Op::create(b, arith::MulFOp::create(b, x, fconst(M_LOG2E)));
  }
  Value splat(Value x) { return vector::BroadcastOp::create(b, runType(), x); }
  VectorType runType() { return VectorType::get({kRun}, f32); }

  void emitKernel(gpu::LaunchOp launch);
  /// Starts copying key block `kb` (if the block's rows may see it) into
  /// stage `stage`, and closes a cp.async group, empty or not.
  void emitPrefetch(Value kb, Value stage);
  /// Whether the block's rows may see key block `k0`; null: always.
  Value emitBlockVisible(Value k0);
  /// The thread's row through one key block, from the shared tiles: a loop
  /// over chunks of kChunk keys.
  RowState emitKeyBlock(const RowState &state, Value k0, Value keyTile, Value valueTile);
  /// Keys [j0, j0 + kChunk) of the tiles (the block's at `k0`): scores,
  /// then one update of the row's state.
  RowState emitChunk(const RowState &state, Value k0, Value j0, Value keyTile, Value valueTile);
  Value tileOf(Value stage, bool isKey) {
    int64_t width = isKey ? headDim : valueDim;
    Value offset = add(arith::MulIOp::create(b, stage, idx(stageBytes())),
                       isKey ? 0 : keyBlock * headDim * 4);
    auto type = MemRefType::get(
        {keyBlock, width}, f32, MemRefLayoutAttrInterface{},
        gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup));
    return memref::ViewOp::create(b, type, sharedBase, offset, ValueRange{});
  }
  int64_t stageBytes() const { return keyBlock * (headDim + valueDim) * 4; }

  ImplicitLocOpBuilder &b;
  AttentionOp op;
  Type f32;
  int64_t rowThreads = 1, keyBlock = 32;

  // Whole-call values.
  std::optional<raspc::GlobalTileSource> keySource, valueSource;
  Value keyBlocks, blockRow0, sharedBase;
  // Per thread: indices, the row, where its slices start, its query slice.
  Value bIdx, hIdx, khIdx, tid, row, headSlice0, valueSlice0;
  SmallVector<Value> queryRuns;
};

Value FmaFlashEmitter::emitBlockVisible(Value k0) {
  if (op.getMask().empty())
    return nullptr;
  std::optional<raspc::BlockTruth> truth = raspc::emitBlockTruth(
      b, op.getMask(), bIdx, hIdx, blockRow0, add(blockRow0, kThreads / rowThreads - 1), k0,
      add(k0, keyBlock - 1));
  return truth ? truth->mayBeTrue : nullptr;
}

void FmaFlashEmitter::emitPrefetch(Value kb, Value stage) {
  Value k0 = mul(kb, keyBlock);
  auto copy = [&](const raspc::GlobalTileSource &source, bool isKey) {
    raspc::emitTileCopy(b, tid, kThreads, source, tileOf(stage, isKey), keyBlock,
                        isKey ? headDim : valueDim, [&](Value r, Value feature) {
                          // Keys past the end are zeros (masked later): 0 *
                          // a copy of a real value could be NaN.
                          Value k = add(k0, r);
                          Value exists =
                              arith::CmpIOp::create(b, arith::CmpIPredicate::slt, k, keys);
                          return raspc::TileElementSource{{bIdx, khIdx, k, feature}, exists};
                        });
  };
  Value inRange = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, kb, keyBlocks);
  if (Value visible = emitBlockVisible(k0))
    inRange = arith::AndIOp::create(b, inRange, visible);
  auto guard = scf::IfOp::create(b, inRange, /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard insertion(b);
    b.setInsertionPointToStart(guard.thenBlock());
    copy(*keySource, /*isKey=*/true);
    copy(*valueSource, /*isKey=*/false);
  }
  raspc::emitDeferredSync(b, raspc::kDeferredCpAsyncCommit);
}

RowState FmaFlashEmitter::emitKeyBlock(const RowState &state, Value k0, Value keyTile,
                                       Value valueTile) {
  auto loop = scf::ForOp::create(
      b, idx(0), idx(keyBlock), idx(kChunk), state.flatten(),
      [&](OpBuilder &nested, Location, Value j0, ValueRange iterArgs) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
        scf::YieldOp::create(
            b, emitChunk(RowState::unflatten(iterArgs), k0, j0, keyTile, valueTile).flatten());
      });
  return RowState::unflatten(loop.getResults());
}

RowState FmaFlashEmitter::emitChunk(const RowState &state, Value k0, Value j0, Value keyTile,
                                    Value valueTile) {
  // Scores: the slice's dot product, summed over the row's threads (lanes
  // next to each other: xor of the low bits).
  SmallVector<Value> scores;
  Value blockMax = state.max;
  for (int64_t jj = 0; jj < kChunk; ++jj) {
    Value j = add(j0, jj);
    Value partial = arith::ConstantOp::create(b, DenseElementsAttr::get(runType(), 0.0f));
    for (int64_t r = 0; r < static_cast<int64_t>(queryRuns.size()); ++r) {
      Value keyRun = vector::LoadOp::create(b, runType(), keyTile,
                                            ValueRange{j, add(headSlice0, r * kRun)},
                                            /*nontemporal=*/false, llvm::MaybeAlign(16));
      partial = vector::FMAOp::create(b, queryRuns[r], keyRun, partial);
    }
    Value s = vector::ReductionOp::create(b, vector::CombiningKind::ADD, partial);
    for (int32_t offset = 1; offset < rowThreads; offset *= 2)
      s = arith::AddFOp::create(
          b, s,
          gpu::ShuffleOp::create(b, s, offset, kWarpSize, gpu::ShuffleMode::XOR)
              .getShuffleResult());
    Value k = add(k0, j);
    if (!op.getScore().empty())
      s = raspc::inlineRegion(b, op.getScore(), {s, bIdx, hIdx, row, k});
    Value visible = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, k, keys);
    if (!op.getMask().empty())
      visible = arith::AndIOp::create(b, visible,
                                      raspc::inlineRegion(b, op.getMask(), {bIdx, hIdx, row, k}));
    s = arith::SelectOp::create(b, visible, s, negInf());
    blockMax = arith::MaximumFOp::create(b, blockMax, s);
    scores.push_back(s);
  }

  // Online softmax, as in the tensor-core kernel: until the row has seen a
  // visible key its maximum is -inf, and exponentials are taken against 0.
  RowState next;
  next.max = blockMax;
  Value none = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, blockMax, negInf());
  Value base = arith::SelectOp::create(b, none, fconst(0.0), blockMax);
  Value alpha = exp(arith::SubFOp::create(b, state.max, base));
  next.sum = arith::MulFOp::create(b, state.sum, alpha);
  Value alphaRun = splat(alpha);
  for (Value run : state.acc)
    next.acc.push_back(arith::MulFOp::create(b, run, alphaRun));
  for (int64_t jj = 0; jj < kChunk; ++jj) {
    Value j = add(j0, jj);
    Value p = exp(arith::SubFOp::create(b, scores[jj], base));
    next.sum = arith::AddFOp::create(b, next.sum, p);
    Value pRun = splat(p);
    for (int64_t r = 0; r < static_cast<int64_t>(next.acc.size()); ++r) {
      Value valueRun = vector::LoadOp::create(b, runType(), valueTile,
                                              ValueRange{j, add(valueSlice0, r * kRun)},
                                              /*nontemporal=*/false, llvm::MaybeAlign(16));
      next.acc[r] = vector::FMAOp::create(b, pRun, valueRun, next.acc[r]);
    }
  }
  return next;
}

void FmaFlashEmitter::emitKernel(gpu::LaunchOp launch) {
  bIdx = launch.getBlockIds().z;
  hIdx = launch.getBlockIds().y;
  khIdx = arith::DivUIOp::create(b, hIdx, group);
  tid = launch.getThreadIds().x;
  sharedBase = gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), MemRefLayoutAttrInterface{},
                         gpu::AddressSpaceAttr::get(b.getContext(),
                                                    gpu::AddressSpace::Workgroup)));
  Value slot = arith::RemUIOp::create(b, tid, idx(rowThreads));
  blockRow0 = mul(launch.getBlockIds().x, kThreads / rowThreads);
  row = add(blockRow0, arith::DivUIOp::create(b, tid, idx(rowThreads)));
  headSlice0 = mul(slot, headDim / rowThreads);
  valueSlice0 = mul(slot, valueDim / rowThreads);

  // The query slice, loaded once. Rows past the end read the last row;
  // their results are never stored.
  Value clamped =
      arith::MinSIOp::create(b, row, arith::SubIOp::create(b, queries, idx(1)));
  for (int64_t r = 0; r < headDim / rowThreads / kRun; ++r) {
    SmallVector<Value, kRun> elements;
    for (int64_t e = 0; e < kRun; ++e)
      elements.push_back(memref::LoadOp::create(
          b, query, ValueRange{bIdx, hIdx, clamped, add(headSlice0, r * kRun + e)}));
    queryRuns.push_back(vector::FromElementsOp::create(b, runType(), elements));
  }

  RowState init{negInf(), fconst(0.0), {}};
  init.acc.assign(valueDim / rowThreads / kRun,
                  arith::ConstantOp::create(b, DenseElementsAttr::get(runType(), 0.0f)));
  keySource.emplace(b, key);
  valueSource.emplace(b, value);
  keyBlocks = arith::CeilDivSIOp::create(b, keys, idx(keyBlock));

  // The tensor-core kernel's pipeline: block kb + 1 travels into the other
  // stage while kb is computed; whether a block is loaded and computed is
  // decided for all the block's rows (barriers need the whole block).
  emitPrefetch(idx(0), idx(0));
  auto loop = scf::ForOp::create(
      b, idx(0), keyBlocks, idx(1), init.flatten(),
      [&](OpBuilder &nested, Location, Value kb, ValueRange iterArgs) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
        RowState state = RowState::unflatten(iterArgs);
        Value k0 = mul(kb, keyBlock);
        Value stage = arith::RemUIOp::create(b, kb, idx(kStages));
        Value next = add(kb, 1);
        emitPrefetch(next, arith::RemUIOp::create(b, next, idx(kStages)));
        raspc::emitDeferredSync(b, raspc::kDeferredCpAsyncWait, /*pending=*/1);
        raspc::emitDeferredSync(b, raspc::kDeferredGPUBarrier);
        Value keyTile = tileOf(stage, /*isKey=*/true), valueTile = tileOf(stage, false);
        SmallVector<Value> result;
        if (Value visible = emitBlockVisible(k0)) {
          auto visitOrSkip = scf::IfOp::create(
              b, visible,
              [&](OpBuilder &inner, Location) {
                OpBuilder::InsertionGuard g(b);
                b.setInsertionPoint(inner.getInsertionBlock(), inner.getInsertionPoint());
                scf::YieldOp::create(b, emitKeyBlock(state, k0, keyTile, valueTile).flatten());
              },
              [&](OpBuilder &inner, Location) {
                OpBuilder::InsertionGuard g(b);
                b.setInsertionPoint(inner.getInsertionBlock(), inner.getInsertionPoint());
                scf::YieldOp::create(b, state.flatten());
              });
          result.assign(visitOrSkip.getResults().begin(), visitOrSkip.getResults().end());
        } else {
          result = emitKeyBlock(state, k0, keyTile, valueTile).flatten();
        }
        // Nobody refills this stage before every thread is done with it.
        raspc::emitDeferredSync(b, raspc::kDeferredGPUBarrier);
        scf::YieldOp::create(b, result);
      });
  RowState final = RowState::unflatten(loop.getResults());

  // out = O / sum, zeros for a row that saw no key.
  Type outElement = cast<MemRefType>(out.getType()).getElementType();
  Value seen = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, final.sum, fconst(0.0));
  Value inverse = arith::SelectOp::create(
      b, seen, arith::DivFOp::create(b, fconst(1.0), final.sum), fconst(0.0));
  auto inside = scf::IfOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::slt, row, queries),
      /*withElseRegion=*/false);
  OpBuilder::InsertionGuard insertion(b);
  b.setInsertionPointToStart(inside.thenBlock());
  for (int64_t r = 0; r < static_cast<int64_t>(final.acc.size()); ++r)
    for (int64_t e = 0; e < kRun; ++e) {
      Value o = arith::MulFOp::create(
          b, vector::ExtractOp::create(b, final.acc[r], ArrayRef<int64_t>{e}), inverse);
      if (outElement != f32)
        o = arith::TruncFOp::create(b, outElement, o);
      memref::StoreOp::create(b, o, out,
                              ValueRange{bIdx, hIdx, row, add(valueSlice0, r * kRun + e)});
    }
}

Value FmaFlashEmitter::emit() {
  auto resultType = cast<RankedTensorType>(op.getResult().getType());
  rowThreads = threadsPerRow(headDim, valueDim);

  keyBlock = 32;
  if (kStages * stageBytes() > kMaxSharedBytes)
    keyBlock = 16;
  Value queryBlocks = arith::CeilDivSIOp::create(b, queries, idx(kThreads / rowThreads));
  Value sharedSize = arith::ConstantOp::create(b, b.getI32IntegerAttr(kStages * stageBytes()));
  auto launch = gpu::LaunchOp::create(b, queryBlocks, heads, batch, idx(kThreads), idx(1),
                                      idx(1), sharedSize);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    emitKernel(launch);
    gpu::TerminatorOp::create(b);
  }
  return bufferization::ToTensorOp::create(b, resultType, out, /*restrict=*/true,
                                           /*writable=*/true);
}

} // namespace

bool raspc::isFmaFlashShape(int64_t headDim, int64_t valueDim) {
  if (ShapedType::isDynamic(headDim) || ShapedType::isDynamic(valueDim) || headDim > kMaxDim ||
      valueDim > kMaxDim)
    return false;
  int64_t threads = threadsPerRow(headDim, valueDim);
  return headDim % (threads * kRun) == 0 && valueDim % (threads * kRun) == 0;
}

Value raspc::emitFmaFlashAttention(ImplicitLocOpBuilder &b, AttentionOp op) {
  return FmaFlashEmitter(b, op).emit();
}
