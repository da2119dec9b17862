//===- FlashFmaKernel.cpp - f32 flash attention by FMAs ---------*- C++ -*-===//
//
// Softmax attention on f32 tensors as one GPU kernel in the flash form,
// without tensor cores (TF32 would change the results): a block of 128
// threads owns 128 / T query rows of one (batch, head), T threads per row,
// each with a slice of at most 32 features of the row's query and of its
// output accumulator in registers. Keys and values come through the
// shared-memory stages of FlashKernel.h; for each key of a block a thread
// takes the dot product of its slice with the key's (all
// threads of a warp read the same few 16-byte runs: broadcasts), the T
// threads of a row add their parts by shuffles, and after each chunk of 8
// keys the running maximum, sum and accumulator are updated once. Nothing
// of size [queries, keys] exists.
//
// Register pressure sets the sizes: with slices of 64 features, or a whole
// key block unrolled, ptxas (sm_90a) spilled at every head size from 64 on;
// now 127 registers at head size 64, 148 at 128, 127 at 256, no spills.
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/AttentionToGPUFlash.h"
#include "Conversion/GPU/Chip.h"
#include "Conversion/GPU/FlashKernel.h"
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
using raspc::kWarpSize;
/// Features of the query and of the output a thread holds at most.
constexpr int64_t kMaxSlice = 32;
/// Floats per shared-memory access.
constexpr int64_t kRun = 4;
/// Keys whose scores a thread holds at once: the row's state is updated
/// once per chunk, chunks are a loop. (A key block unrolled whole spilled:
/// ptxas moved the shared loads of many keys ahead, each key 2 x 64 floats.)
constexpr int64_t kChunk = 8;
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

class FmaFlashEmitter : raspc::FlashKernelEmitter {
public:
  FmaFlashEmitter(ImplicitLocOpBuilder &b, AttentionOp op)
      : FlashKernelEmitter(b, op, kThreads, /*rowPadding=*/0, /*keyBlock=*/32),
        rowThreads(threadsPerRow(headDim, valueDim)) {}
  using FlashKernelEmitter::emit;

private:
  Value splat(Value x) { return vector::BroadcastOp::create(b, runType(), x); }
  VectorType runType() { return VectorType::get({kRun}, f32); }

  int64_t blockRows() const override { return kThreads / rowThreads; }
  void emitThreadSetup() override;
  SmallVector<Value> initialState() override;
  /// The thread's row through one key block: a loop over chunks of kChunk
  /// keys.
  SmallVector<Value> emitKeyBlock(ValueRange state, Value k0, Value keyTile,
                                  Value valueTile) override;
  void emitStore(ValueRange state) override;
  /// Keys [j0, j0 + kChunk) of the tiles (the block's at `k0`): scores,
  /// then one update of the row's state.
  RowState emitChunk(const RowState &state, Value k0, Value j0, Value keyTile, Value valueTile);
  /// acc += p * (key j's slice of the values).
  void emitWeightedValues(RowState &state, Value j, Value p, Value valueTile);

  const int64_t rowThreads;
  // Per thread: the row, where its slices start, its query slice.
  Value row, headSlice0, valueSlice0;
  SmallVector<Value> queryRuns;
};

SmallVector<Value> FmaFlashEmitter::emitKeyBlock(ValueRange state, Value k0, Value keyTile,
                                                 Value valueTile) {
  return raspc::emitLoop(b, idx(0), idx(keyBlock), idx(kChunk), state,
                         [&](Value j0, ValueRange iterArgs) {
                           return emitChunk(RowState::unflatten(iterArgs), k0, j0, keyTile,
                                            valueTile)
                               .flatten();
                         });
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
    Value visible = less(k, keys);
    if (!op.getMask().empty())
      visible = arith::AndIOp::create(b, visible,
                                      raspc::inlineRegion(b, op.getMask(), {bIdx, hIdx, row, k}));
    s = arith::SelectOp::create(b, visible, s, negInf());
    if (!isSigmoid())
      blockMax = arith::MaximumFOp::create(b, blockMax, s);
    scores.push_back(s);
  }

  if (isSigmoid()) {
    // Weights as they are: nothing to rescale (the sum says whether the row
    // saw a key).
    RowState next = state;
    for (int64_t jj = 0; jj < kChunk; ++jj) {
      Value p = sigmoid(scores[jj]);
      next.sum = arith::AddFOp::create(b, next.sum, p);
      emitWeightedValues(next, add(j0, jj), p, valueTile);
    }
    return next;
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
    Value p = exp(arith::SubFOp::create(b, scores[jj], base));
    next.sum = arith::AddFOp::create(b, next.sum, p);
    emitWeightedValues(next, add(j0, jj), p, valueTile);
  }
  return next;
}

void FmaFlashEmitter::emitWeightedValues(RowState &state, Value j, Value p, Value valueTile) {
  Value pRun = splat(p);
  // A key of weight 0 (hidden, scored -inf, or too small for f32) is not
  // read: a NaN or Inf in its value would make 0 x NaN (docs/language.md,
  // "Special values").
  Value weighs = arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, p, fconst(0.0));
  for (int64_t r = 0; r < static_cast<int64_t>(state.acc.size()); ++r) {
    Value valueRun = vector::LoadOp::create(b, runType(), valueTile,
                                            ValueRange{j, add(valueSlice0, r * kRun)},
                                            /*nontemporal=*/false, llvm::MaybeAlign(16));
    Value sum = vector::FMAOp::create(b, pRun, valueRun, state.acc[r]);
    state.acc[r] = arith::SelectOp::create(b, weighs, sum, state.acc[r]);
  }
}

void FmaFlashEmitter::emitThreadSetup() {
  Value slot = arith::RemUIOp::create(b, tid, idx(rowThreads));
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
}

SmallVector<Value> FmaFlashEmitter::initialState() {
  RowState init{negInf(), fconst(0.0), {}};
  init.acc.assign(valueDim / rowThreads / kRun,
                  arith::ConstantOp::create(b, DenseElementsAttr::get(runType(), 0.0f)));
  return init.flatten();
}

void FmaFlashEmitter::emitStore(ValueRange values) {
  // out = O / sum, zeros for a row that saw no key.
  RowState final = RowState::unflatten(values);
  Type outElement = cast<MemRefType>(out.getType()).getElementType();
  Value inverse = emitRowNormalizer(final.sum);
  auto inside = scf::IfOp::create(b, less(row, queries), /*withElseRegion=*/false);
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

} // namespace

bool raspc::isFmaFlashShape(int64_t headDim, int64_t valueDim) {
  if (ShapedType::isDynamic(headDim) || ShapedType::isDynamic(valueDim) || headDim > kMaxDim ||
      valueDim > kMaxDim)
    return false;
  int64_t threads = threadsPerRow(headDim, valueDim);
  return headDim % (threads * kRun) == 0 && valueDim % (threads * kRun) == 0;
}

void raspc::emitFmaFlashAttention(ImplicitLocOpBuilder &b, AttentionOp op) {
  FmaFlashEmitter(b, op).emit();
}
