//===- LinearAttentionToGPU.cpp - linear attention in linear time on GPUs -===//
//
// out_i = phi(q_i)^T S / phi(q_i) . z, where S = sum phi(k_j) v_j^T and
// z = sum phi(k_j) over the keys query i sees (all of them, or j <= i when
// causal), as two kernels in the chunked form; nothing of size
// [queries, keys] exists.
//
// The positions are cut into ranges of whole chunks of 32:
//
// 1. Key sums: one block per (batch, key head, range, slice of 32 value
//    features) adds phi(k)^T v and phi(k) over its range's keys and writes
//    them to global memory.
// 2. Answers: one block per (batch, query head, range, value slice) starts
//    from the sums of the ranges before its own (causal) or of all of them,
//    and walks its range a chunk at a time. A chunk's outputs are its
//    queries against S and z so far plus, causal, the chunk's own keys:
//    A = phi(Q) phi(K)^T with each query's later keys zeroed, A V and A's
//    row sums; then the chunk's keys join S and z.
//
// The walk through a range is sequential, so a range is as short as gives
// about kTargetBlocks blocks (at least kMinRangeChunks chunks): with few
// heads one range per head would leave most of the GPU idle.
//
// Threads: four warps; a lane is a value feature (a key in A), a warp owns
// 8 of a chunk's rows (or of S's). What a warp reads along a row of a
// shared tile is a broadcast, what its lanes read down a column falls in
// distinct banks (phi(K)'s rows are padded by one float for A).
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/LinearAttentionToGPU.h"
#include "Conversion/GPU/Chip.h"
#include "Conversion/AttnToLinalg/AttnToLinalg.h"
#include "Conversion/GPU/AttentionToGPUFlash.h"
#include "Conversion/GPU/LayoutViews.h"
#include "Conversion/GPU/SharedMemoryTiles.h"
#include "Conversion/LinearAttention/LinearAttention.h"
#include "Conversion/Utils/LoopEmission.h"

#include "Attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"

#include <array>

namespace raspc {
#define GEN_PASS_DEF_CONVERTLINEARATTENTIONTOGPU
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;
using namespace mlir::attn;

namespace {

using raspc::kWarpSize;
constexpr int64_t kWarps = 4;
constexpr int64_t kThreads = kWarps * kWarpSize;
/// Positions per chunk and value features per block: one per lane.
constexpr int64_t kChunk = kWarpSize;
constexpr int64_t kSlice = kWarpSize;
/// A warp's rows of a chunk (or of a group of S's rows).
constexpr int64_t kWarpRows = kChunk / kWarps;
constexpr int64_t kTargetBlocks = 256;
constexpr int64_t kMinRangeChunks = 4;

/// S's rows: whole groups of kWarpRows rows for each warp.
int64_t paddedHeadDim(int64_t headDim) { return llvm::alignTo(headDim, kWarpRows * kWarps); }

/// Where each shared tile starts (in floats) and how many floats there are.
struct SharedLayout {
  int64_t queries, keys, values, scores, sums, norm, total;
  /// Which tiles the kernel has: phi(Q) and A in the answers (A causal
  /// only), phi(K) and V in the key sums and the causal answers.
  bool hasQueries, hasKeys, hasScores;

  SharedLayout(int64_t headDim, bool causal, bool answers) {
    int64_t paddedDim = paddedHeadDim(headDim);
    int64_t at = 0;
    auto take = [&](int64_t floats) {
      int64_t start = at;
      at += floats;
      return start;
    };
    hasQueries = answers;
    hasKeys = !answers || causal;
    hasScores = answers && causal;
    queries = take(hasQueries ? kChunk * headDim : 0);
    keys = take(hasKeys ? kChunk * (paddedDim + 1) : 0);
    values = take(hasKeys ? kChunk * kSlice : 0);
    scores = take(hasScores ? kChunk * kChunk : 0);
    sums = take(paddedDim * kSlice);
    norm = take(paddedDim);
    total = at;
  }
  int64_t bytes() const { return total * 4; }
};

bool isFloatType(Type t) { return isa<Float32Type, Float16Type, BFloat16Type>(t); }

class LinearAttentionEmitter {
public:
  LinearAttentionEmitter(ImplicitLocOpBuilder &b, AttentionOp op);
  /// The two launches before `op`, which they replace.
  void emit();

private:
  /// How the positions [0, length) are cut: chunks per range and ranges.
  struct Ranges {
    Value chunks, perRange, count;
  };
  Ranges rangesOver(Value length, Value blocksPerRange);

  void emitKeySums(Ranges ranges, Value deltaS, Value deltaZ);
  void emitAnswers(Ranges ranges, Ranges keyRanges, Value deltaS, Value deltaZ);

  /// A launch of a block per (batch, head of `headCount`, range, value
  /// slice), the builder left in its body after the thread's lane and warp,
  /// the block's batch, head, range and first value feature (from
  /// blockIdx.x, value slices fastest) and its shared tiles.
  gpu::LaunchOp beginKernel(const SharedLayout &layout, int64_t headCount, Value rangeCount);
  Value tile(int64_t offset, int64_t rows, int64_t columns);
  /// Chunk rows [row0, row0 + kChunk) of `source`'s head `head`, columns
  /// [column0, column0 + width), into `dest`: phi of them if `applyPhi`,
  /// zeros for rows from `rowCount` on and columns from `columnCount` on.
  void loadChunk(Value dest, Value source, Value head, Value row0, Value rowCount, Value column0,
                 int64_t width, int64_t columnCount, bool applyPhi);
  /// A = phi(Q) phi(K)^T over the chunk, zero where the key is after the
  /// query.
  void emitChunkScores();
  /// The chunk's outputs (rows from i0) from S, z and, causal, A.
  void emitChunkAnswers(Value i0);
  /// S += phi(K)^T V, z += phi(K) over the chunk.
  void emitAddChunkKeys();
  /// A loop over chunks [first, first + perRange) clipped to `chunks`.
  void emitRangeLoop(Ranges ranges, function_ref<void(Value chunk)> body);

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value fconst(double v) { return arith::ConstantOp::create(b, b.getF32FloatAttr(v)); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value add(Value x, int64_t y) { return y == 0 ? x : add(x, idx(y)); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value mul(Value x, int64_t y) { return mul(x, idx(y)); }
  Value div(Value x, Value y) { return arith::DivUIOp::create(b, x, y); }
  Value rem(Value x, Value y) { return arith::RemUIOp::create(b, x, y); }
  Value less(Value x, Value y) { return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, y); }
  Value fma(Value x, Value y, Value acc) { return math::FmaOp::create(b, x, y, acc); }
  Value load(Value memref, ValueRange indices) {
    return memref::LoadOp::create(b, memref, indices);
  }
  void store(Value v, Value memref, ValueRange indices) {
    memref::StoreOp::create(b, v, memref, indices);
  }
  void barrier() { raspc::emitDeferredSync(b, raspc::kDeferredGPUBarrier); }
  /// The thread's rows of a chunk (a warp's kWarpRows, from `row0`).
  SmallVector<Value> warpRows(Value row0);

  ImplicitLocOpBuilder &b;
  AttentionOp op;
  Type f32;
  bool causal;
  FeatureMap phiKind;
  int64_t heads, keyHeads, headDim, paddedDim, valueDim, slices;
  Value batch, queries, keys;
  Value query, key, value, out;
  raspc::ResultBuffer result;

  // In the kernel being emitted.
  Value sharedBase, tid, lane, warp, bIdx, hIdx, khIdx, rangeIdx, sliceIdx, value0;
  Value queryTile, keyTile, valueTile, scoreTile, sumTile, normTile;
};

LinearAttentionEmitter::LinearAttentionEmitter(ImplicitLocOpBuilder &b, AttentionOp op)
    : b(b), op(op), f32(b.getF32Type()),
      causal(raspc::classifyLinearMask(op.getMask()) == raspc::LinearMask::Causal),
      phiKind(*op.getFeatureMap()) {
  auto queryType = cast<RankedTensorType>(op.getQuery().getType());
  heads = queryType.getDimSize(1);
  keyHeads = cast<RankedTensorType>(op.getKey().getType()).getDimSize(1);
  headDim = queryType.getDimSize(3);
  paddedDim = paddedHeadDim(headDim);
  valueDim = cast<RankedTensorType>(op.getValue().getType()).getDimSize(3);
  slices = llvm::divideCeil(valueDim, kSlice);
  batch = tensor::DimOp::create(b, op.getQuery(), 0);
  queries = tensor::DimOp::create(b, op.getQuery(), 2);
  keys = tensor::DimOp::create(b, op.getKey(), 2);
  query = raspc::readThroughLayoutOps(b, op.getQuery());
  key = raspc::readThroughLayoutOps(b, op.getKey());
  value = raspc::readThroughLayoutOps(b, op.getValue());
  auto resultType = cast<RankedTensorType>(op.getResult().getType());
  SmallVector<OpFoldResult> outSizes;
  for (int64_t d = 0; d < resultType.getRank(); ++d)
    outSizes.push_back(resultType.isDynamicDim(d)
                           ? OpFoldResult(tensor::DimOp::create(b, op.getQuery(), d))
                           : OpFoldResult(b.getIndexAttr(resultType.getDimSize(d))));
  result = raspc::allocateThroughLayoutOps(b, op.getResult(), outSizes);
  out = result.view;
}

SmallVector<Value> LinearAttentionEmitter::warpRows(Value row0) {
  SmallVector<Value> rows;
  Value first = add(row0, mul(warp, kWarpRows));
  for (int64_t r = 0; r < kWarpRows; ++r)
    rows.push_back(add(first, r));
  return rows;
}

LinearAttentionEmitter::Ranges LinearAttentionEmitter::rangesOver(Value length,
                                                                  Value blocksPerRange) {
  Ranges ranges;
  ranges.chunks = arith::CeilDivUIOp::create(b, length, idx(kChunk));
  // (A batch of none: no division by 0 on the host.)
  Value wanted = arith::CeilDivUIOp::create(
      b, idx(kTargetBlocks), arith::MaxUIOp::create(b, blocksPerRange, idx(1)));
  ranges.perRange = arith::MaxUIOp::create(
      b, arith::CeilDivUIOp::create(b, ranges.chunks, wanted), idx(kMinRangeChunks));
  // At least one range: a grid of no blocks is a launch error.
  ranges.count = arith::MaxUIOp::create(
      b, arith::CeilDivUIOp::create(b, ranges.chunks, ranges.perRange), idx(1));
  return ranges;
}

Value LinearAttentionEmitter::tile(int64_t offset, int64_t rows, int64_t columns) {
  auto type = MemRefType::get(
      {rows, columns}, f32, MemRefLayoutAttrInterface{},
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup));
  return memref::ViewOp::create(b, type, sharedBase, idx(offset * 4), ValueRange{});
}

gpu::LaunchOp LinearAttentionEmitter::beginKernel(const SharedLayout &layout, int64_t headCount,
                                                  Value rangeCount) {
  Value grid = mul(mul(mul(batch, headCount), rangeCount), slices);
  auto launch = gpu::LaunchOp::create(
      b, grid, idx(1), idx(1), idx(kThreads), idx(1), idx(1),
      arith::ConstantOp::create(b, b.getI32IntegerAttr(layout.bytes())));
  b.setInsertionPointToStart(&launch.getBody().front());
  tid = launch.getThreadIds().x;
  lane = rem(tid, idx(kWarpSize));
  warp = div(tid, idx(kWarpSize));
  Value id = launch.getBlockIds().x;
  sliceIdx = rem(id, idx(slices));
  Value rest = div(id, idx(slices));
  rangeIdx = rem(rest, rangeCount);
  rest = div(rest, rangeCount);
  hIdx = rem(rest, idx(headCount));
  bIdx = div(rest, idx(headCount));
  value0 = mul(sliceIdx, kSlice);
  sharedBase = raspc::emitDynamicSharedMemory(b, /*alignment=*/16).base;
  queryTile = layout.hasQueries ? tile(layout.queries, kChunk, headDim) : Value();
  keyTile = layout.hasKeys ? tile(layout.keys, kChunk, paddedDim + 1) : Value();
  valueTile = layout.hasKeys ? tile(layout.values, kChunk, kSlice) : Value();
  scoreTile = layout.hasScores ? tile(layout.scores, kChunk, kChunk) : Value();
  sumTile = tile(layout.sums, paddedDim, kSlice);
  normTile = tile(layout.norm, 1, paddedDim);
  // phi(K)'s columns past the head size stay zero: the rows of S they
  // update are never read.
  if (layout.hasKeys)
    raspc::emitLoop(b, tid, idx(kChunk * (paddedDim + 1)), idx(kThreads), [&](Value flat) {
      store(fconst(0), keyTile, {div(flat, idx(paddedDim + 1)), rem(flat, idx(paddedDim + 1))});
    });
  return launch;
}

void LinearAttentionEmitter::loadChunk(Value dest, Value source, Value head, Value row0,
                                       Value rowCount, Value column0, int64_t width,
                                       int64_t columnCount, bool applyPhi) {
  raspc::emitLoop(b, tid, idx(kChunk * width), idx(kThreads), [&](Value flat) {
    Value row = div(flat, idx(width)), column = rem(flat, idx(width));
    Value at = add(row0, row), feature = add(column0, column);
    Value inside = arith::AndIOp::create(b, less(at, rowCount), less(feature, idx(columnCount)));
    auto element = scf::IfOp::create(
        b, inside,
        [&](OpBuilder &nested, Location) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
          Value x = load(source, {bIdx, head, at, feature});
          if (x.getType() != f32)
            x = arith::ExtFOp::create(b, f32, x);
          if (applyPhi)
            x = raspc::emitFeatureMap(b, b.getLoc(), phiKind, x);
          scf::YieldOp::create(b, x);
        },
        [&](OpBuilder &nested, Location) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
          scf::YieldOp::create(b, fconst(0));
        });
    store(element.getResult(0), dest, {row, column});
  });
}

void LinearAttentionEmitter::emitChunkScores() {
  SmallVector<Value> rows = warpRows(idx(0));
  SmallVector<Value> dots = raspc::emitLoop(
      b, idx(0), idx(headDim), idx(1), SmallVector<Value>(kWarpRows, fconst(0)),
      [&](Value d, ValueRange acc) {
        Value k = load(keyTile, {lane, d});
        SmallVector<Value> next;
        for (auto [row, a] : llvm::zip(rows, acc))
          next.push_back(fma(load(queryTile, {row, d}), k, a));
        return next;
      });
  for (auto [row, dot] : llvm::zip(rows, dots)) {
    Value seen = arith::CmpIOp::create(b, arith::CmpIPredicate::ule, lane, row);
    store(arith::SelectOp::create(b, seen, dot, fconst(0)), scoreTile, {row, lane});
  }
}

void LinearAttentionEmitter::emitChunkAnswers(Value i0) {
  SmallVector<Value> rows = warpRows(idx(0));
  // num for each row, then den for each row.
  SmallVector<Value> sums = raspc::emitLoop(
      b, idx(0), idx(headDim), idx(1), SmallVector<Value>(2 * kWarpRows, fconst(0)),
      [&](Value d, ValueRange acc) {
        Value s = load(sumTile, {d, lane}), z = load(normTile, {idx(0), d});
        SmallVector<Value> next(acc);
        for (int64_t r = 0; r < kWarpRows; ++r) {
          Value q = load(queryTile, {rows[r], d});
          next[r] = fma(q, s, acc[r]);
          next[kWarpRows + r] = fma(q, z, acc[kWarpRows + r]);
        }
        return next;
      });
  if (causal)
    sums = raspc::emitLoop(b, idx(0), idx(kChunk), idx(1), sums, [&](Value j, ValueRange acc) {
      Value v = load(valueTile, {j, lane});
      SmallVector<Value> next(acc);
      for (int64_t r = 0; r < kWarpRows; ++r) {
        Value a = load(scoreTile, {rows[r], j});
        next[r] = fma(a, v, acc[r]);
        next[kWarpRows + r] = arith::AddFOp::create(b, acc[kWarpRows + r], a);
      }
      return next;
    });
  Type outElement = cast<MemRefType>(out.getType()).getElementType();
  Value feature = add(value0, lane);
  for (int64_t r = 0; r < kWarpRows; ++r) {
    Value i = add(i0, rows[r]);
    Value inside = arith::AndIOp::create(b, less(i, queries), less(feature, idx(valueDim)));
    auto guard = scf::IfOp::create(b, inside, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard insertion(b);
    b.setInsertionPointToStart(guard.thenBlock());
    Value num = sums[r], den = sums[kWarpRows + r];
    // No key weighs anything: zeros, as in the reference lowering.
    Value nonZero = arith::CmpFOp::create(b, arith::CmpFPredicate::ONE, den, fconst(0));
    Value x = arith::SelectOp::create(b, nonZero, arith::DivFOp::create(b, num, den), fconst(0));
    if (outElement != f32)
      x = arith::TruncFOp::create(b, outElement, x);
    store(x, out, {bIdx, hIdx, i, feature});
  }
}

void LinearAttentionEmitter::emitAddChunkKeys() {
  raspc::emitLoop(b, idx(0), idx(paddedDim), idx(kWarpRows * kWarps), [&](Value d0) {
    SmallVector<Value> rows = warpRows(d0);
    SmallVector<Value> init;
    for (Value d : rows)
      init.push_back(load(sumTile, {d, lane}));
    SmallVector<Value> next =
        raspc::emitLoop(b, idx(0), idx(kChunk), idx(1), init, [&](Value j, ValueRange acc) {
          Value v = load(valueTile, {j, lane});
          SmallVector<Value> updated;
          for (auto [d, a] : llvm::zip(rows, acc))
            updated.push_back(fma(load(keyTile, {j, d}), v, a));
          return updated;
        });
    for (auto [d, s] : llvm::zip(rows, next))
      store(s, sumTile, {d, lane});
  });
  raspc::emitLoop(b, tid, idx(headDim), idx(kThreads), [&](Value d) {
    Value z = raspc::emitLoop(b, idx(0), idx(kChunk), idx(1), {load(normTile, {idx(0), d})},
                              [&](Value j, ValueRange acc) -> SmallVector<Value> {
                                return {arith::AddFOp::create(b, acc[0], load(keyTile, {j, d}))};
                              })[0];
    store(z, normTile, {idx(0), d});
  });
}

void LinearAttentionEmitter::emitRangeLoop(Ranges ranges, function_ref<void(Value)> body) {
  Value first = mul(rangeIdx, ranges.perRange);
  Value last = arith::MinUIOp::create(b, add(first, ranges.perRange), ranges.chunks);
  raspc::emitLoop(b, first, last, idx(1), body);
}

void LinearAttentionEmitter::emitKeySums(Ranges ranges, Value deltaS, Value deltaZ) {
  SharedLayout layout(headDim, causal, /*answers=*/false);
  OpBuilder::InsertionGuard guard(b);
  // Causal, the last range's sums are read by no one: its blocks are not
  // launched, nor the kernel when there is one range (short sequences).
  Value launched = ranges.count;
  if (causal) {
    launched = arith::SubIOp::create(b, ranges.count, idx(1));
    auto any = scf::IfOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::ne, launched, idx(0)),
        /*withElseRegion=*/false);
    b.setInsertionPointToStart(any.thenBlock());
  }
  gpu::LaunchOp launch = beginKernel(layout, keyHeads, launched);
  raspc::emitLoop(b, tid, idx(paddedDim * kSlice), idx(kThreads), [&](Value flat) {
    store(fconst(0), sumTile, {div(flat, idx(kSlice)), rem(flat, idx(kSlice))});
  });
  raspc::emitLoop(b, tid, idx(paddedDim), idx(kThreads),
                  [&](Value d) { store(fconst(0), normTile, {idx(0), d}); });
  barrier();
  emitRangeLoop(ranges, [&](Value chunk) {
    Value j0 = mul(chunk, kChunk);
    loadChunk(keyTile, key, hIdx, j0, keys, idx(0), headDim, headDim, /*applyPhi=*/true);
    loadChunk(valueTile, value, hIdx, j0, keys, value0, kSlice, valueDim, /*applyPhi=*/false);
    barrier();
    emitAddChunkKeys();
    barrier();
  });
  // The sums' rows are (batch, key head, range) of all the ranges.
  Value row = add(mul(add(mul(bIdx, keyHeads), hIdx), ranges.count), rangeIdx);
  raspc::emitLoop(b, tid, idx(headDim * kSlice), idx(kThreads), [&](Value flat) {
    Value d = div(flat, idx(kSlice)), e = rem(flat, idx(kSlice));
    store(load(sumTile, {d, e}), deltaS, {row, d, add(value0, e)});
  });
  Value firstSlice = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, sliceIdx, idx(0));
  auto norms = scf::IfOp::create(b, firstSlice, /*withElseRegion=*/false);
  b.setInsertionPointToStart(norms.thenBlock());
  raspc::emitLoop(b, tid, idx(headDim), idx(kThreads),
                  [&](Value d) { store(load(normTile, {idx(0), d}), deltaZ, {row, d}); });
  b.setInsertionPointToEnd(&launch.getBody().front());
  gpu::TerminatorOp::create(b);
}

void LinearAttentionEmitter::emitAnswers(Ranges ranges, Ranges keyRanges, Value deltaS,
                                         Value deltaZ) {
  SharedLayout layout(headDim, causal, /*answers=*/true);
  OpBuilder::InsertionGuard guard(b);
  beginKernel(layout, heads, ranges.count);
  khIdx = div(hIdx, idx(heads / keyHeads));
  // S and z as of the range's start: causal, the key sums of the ranges
  // before it (the same ranges); otherwise of all keys.
  Value first = mul(add(mul(bIdx, keyHeads), khIdx), keyRanges.count);
  Value seen = causal ? rangeIdx : keyRanges.count;
  auto sumRanges = [&](function_ref<Value(Value row)> at) {
    return raspc::emitLoop(b, idx(0), seen, idx(1), {fconst(0)},
                           [&](Value r, ValueRange acc) -> SmallVector<Value> {
                             return {arith::AddFOp::create(b, acc[0], at(add(first, r)))};
                           })[0];
  };
  raspc::emitLoop(b, tid, idx(headDim * kSlice), idx(kThreads), [&](Value flat) {
    Value d = div(flat, idx(kSlice)), e = rem(flat, idx(kSlice));
    store(sumRanges([&](Value row) { return load(deltaS, {row, d, add(value0, e)}); }), sumTile,
          {d, e});
  });
  raspc::emitLoop(b, tid, idx(headDim), idx(kThreads), [&](Value d) {
    store(sumRanges([&](Value row) { return load(deltaZ, {row, d}); }), normTile, {idx(0), d});
  });
  barrier();
  emitRangeLoop(ranges, [&](Value chunk) {
    Value i0 = mul(chunk, kChunk);
    loadChunk(queryTile, query, hIdx, i0, queries, idx(0), headDim, headDim, /*applyPhi=*/true);
    if (causal) {
      loadChunk(keyTile, key, khIdx, i0, keys, idx(0), headDim, headDim, /*applyPhi=*/true);
      loadChunk(valueTile, value, khIdx, i0, keys, value0, kSlice, valueDim, /*applyPhi=*/false);
    }
    barrier();
    if (causal) {
      emitChunkScores();
      barrier();
    }
    emitChunkAnswers(i0);
    if (causal) {
      // The answers have read S and z.
      barrier();
      emitAddChunkKeys();
    }
    // Everyone is done with the tiles before the next chunk's arrive.
    barrier();
  });
  gpu::TerminatorOp::create(b);
}

void LinearAttentionEmitter::emit() {
  int64_t paddedSlices = slices * kSlice;
  Ranges queryRanges = rangesOver(queries, mul(batch, heads * slices));
  // Causal: both kernels cut the same positions (the answers of range r
  // sum the keys of ranges 0..r-1).
  Ranges keyRanges = causal ? queryRanges : rangesOver(keys, mul(batch, keyHeads * slices));
  Value rows = mul(mul(batch, keyHeads), keyRanges.count);
  Value deltaS = memref::AllocOp::create(
      b, MemRefType::get({ShapedType::kDynamic, headDim, paddedSlices}, f32), ValueRange{rows});
  Value deltaZ = memref::AllocOp::create(
      b, MemRefType::get({ShapedType::kDynamic, headDim}, f32), ValueRange{rows});
  emitKeySums(keyRanges, deltaS, deltaZ);
  emitAnswers(queryRanges, keyRanges, deltaS, deltaZ);
  auto bufferType = cast<MemRefType>(result.buffer.getType());
  Value tensor = bufferization::ToTensorOp::create(
      b, RankedTensorType::get(bufferType.getShape(), bufferType.getElementType()), result.buffer,
      /*restrict=*/true, /*writable=*/true);
  raspc::replaceThroughLayoutOps(op.getResult(), tensor, result);
}

struct ConvertLinearAttentionToGPU
    : raspc::impl::ConvertLinearAttentionToGPUBase<ConvertLinearAttentionToGPU> {
  using ConvertLinearAttentionToGPUBase::ConvertLinearAttentionToGPUBase;

  void runOnOperation() override {
    int64_t maxSharedBytes = raspc::maxDynamicSharedBytes(chip);
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) {
      if (raspc::isLinearAttentionGPUCandidate(op, maxSharedBytes))
        ops.push_back(op);
    });
    if (!ops.empty())
      raspc::declareDeferredSync(getOperation());
    for (AttentionOp op : ops) {
      ImplicitLocOpBuilder b(op.getLoc(), op);
      LinearAttentionEmitter(b, op).emit();
    }
  }
};

} // namespace

bool raspc::isLinearAttentionGPUCandidate(AttentionOp op, int64_t maxSharedBytes) {
  if (op.getNormalizer() != Normalizer::linear || !op.getFeatureMap())
    return false;
  auto queryType = cast<RankedTensorType>(op.getQuery().getType());
  auto keyType = cast<RankedTensorType>(op.getKey().getType());
  auto valueType = cast<RankedTensorType>(op.getValue().getType());
  Type element = queryType.getElementType();
  if (!isFloatType(element) || keyType.getElementType() != element ||
      valueType.getElementType() != element ||
      !isFloatType(cast<RankedTensorType>(op.getInit().getType()).getElementType()))
    return false;
  if (queryType.isDynamicDim(1) || keyType.isDynamicDim(1) || queryType.isDynamicDim(3) ||
      valueType.isDynamicDim(3))
    return false;
  LinearMask mask = classifyLinearMask(op.getMask());
  if (mask == LinearMask::Other)
    return false;
  bool causal = mask == LinearMask::Causal;
  int64_t headDim = queryType.getDimSize(3);
  return llvm::all_of(std::array<bool, 2>{false, true}, [&](bool answers) {
    return SharedLayout(headDim, causal, answers).bytes() <= maxSharedBytes;
  });
}
