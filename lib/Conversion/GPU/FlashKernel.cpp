//===- FlashKernel.cpp - what every flash attention kernel shares -*- C++ -*-===//

#include "Conversion/GPU/FlashKernel.h"
#include "Conversion/AttentionToFlashLoops/MaskIntervals.h"
#include "Conversion/Utils/LoopEmission.h"

#include "Attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

raspc::FlashKernelEmitter::FlashKernelEmitter(ImplicitLocOpBuilder &b, AttentionOp op,
                                              int64_t threads, int64_t rowPadding,
                                              int64_t keyBlock, int64_t maxSharedBytes,
                                              int64_t sharedAlignment,
                                              std::function<int64_t(int64_t)> extraBytes,
                                              int64_t stages)
    : b(b), op(op), f32(b.getF32Type()),
      element(cast<RankedTensorType>(op.getQuery().getType()).getElementType()),
      threads(threads), rowPadding(rowPadding), sharedAlignment(sharedAlignment), stages(stages),
      keyBlock(keyBlock) {
  auto resultType = cast<RankedTensorType>(op.getResult().getType());
  auto queryType = cast<RankedTensorType>(op.getQuery().getType());
  headDim = queryType.getDimSize(3);
  valueDim = cast<RankedTensorType>(op.getValue().getType()).getDimSize(3);
  extraSharedBytes = extraBytes ? extraBytes(headDim) : 0;
  while (sharedBytes() > maxSharedBytes)
    this->keyBlock /= 2;
  batch = tensor::DimOp::create(b, op.getQuery(), 0);
  heads = idx(queryType.getDimSize(1));
  group = idx(queryType.getDimSize(1) /
              cast<RankedTensorType>(op.getKey().getType()).getDimSize(1));
  queries = tensor::DimOp::create(b, op.getQuery(), 2);
  keys = tensor::DimOp::create(b, op.getKey(), 2);
  query = readThroughLayoutOps(b, op.getQuery());
  key = readThroughLayoutOps(b, op.getKey());
  value = readThroughLayoutOps(b, op.getValue());
  SmallVector<OpFoldResult> outSizes;
  for (int64_t d = 0; d < resultType.getRank(); ++d)
    outSizes.push_back(resultType.isDynamicDim(d)
                           ? OpFoldResult(tensor::DimOp::create(b, op.getQuery(), d))
                           : OpFoldResult(b.getIndexAttr(resultType.getDimSize(d))));
  result = allocateThroughLayoutOps(b, op.getResult(), outSizes);
  out = result.view;
}

Value raspc::FlashKernelEmitter::idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
Value raspc::FlashKernelEmitter::fconst(double v) {
  return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
}
Value raspc::FlashKernelEmitter::negInf() {
  return fconst(-std::numeric_limits<double>::infinity());
}
Value raspc::FlashKernelEmitter::add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
Value raspc::FlashKernelEmitter::add(Value x, int64_t y) { return y == 0 ? x : add(x, idx(y)); }
Value raspc::FlashKernelEmitter::mul(Value x, int64_t y) {
  return arith::MulIOp::create(b, x, idx(y));
}
Value raspc::FlashKernelEmitter::less(Value x, Value y) {
  return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x, y);
}
Value raspc::FlashKernelEmitter::exp(Value x) {
  return math::Exp2Op::create(b, arith::MulFOp::create(b, x, fconst(M_LOG2E)));
}

int64_t raspc::FlashKernelEmitter::tileBytes(int64_t width) const {
  return keyBlock * (width + rowPadding) * element.getIntOrFloatBitWidth() / 8;
}

SmallVector<int64_t, 2> raspc::FlashKernelEmitter::tileShape(bool isKey) const {
  return {keyBlock, (isKey ? headDim : valueDim) + rowPadding};
}

Value raspc::FlashKernelEmitter::tileOf(Value stage, bool isKey) {
  Value offset = add(add(arith::MulIOp::create(b, stage, idx(stageBytes())), sharedPadding),
                     isKey ? 0 : tileBytes(headDim));
  auto type = MemRefType::get(
      tileShape(isKey), element, MemRefLayoutAttrInterface{},
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup));
  return memref::ViewOp::create(b, type, sharedBase, offset, ValueRange{});
}

int64_t raspc::FlashKernelEmitter::sharedBytes() const {
  return dynamicSharedBytes(stages * stageBytes() + extraSharedBytes, sharedAlignment);
}

Value raspc::FlashKernelEmitter::extraShared() {
  return add(sharedPadding, stages * stageBytes());
}

Value raspc::FlashKernelEmitter::emitBlockVisible(Value row0, int64_t rows, Value k0) {
  if (op.getMask().empty())
    return nullptr;
  std::optional<BlockTruth> truth = emitBlockTruth(b, op.getMask(), bIdx, hIdx, row0,
                                                   add(row0, rows - 1), k0, add(k0, keyBlock - 1));
  return truth ? truth->mayBeTrue : nullptr;
}

Value raspc::FlashKernelEmitter::quadReduce(Value v, bool isMax) {
  for (int32_t offset : {1, 2}) {
    Value other = gpu::ShuffleOp::create(b, v, offset, /*width=*/32, gpu::ShuffleMode::XOR)
                      .getShuffleResult();
    v = isMax ? Value(arith::MaximumFOp::create(b, v, other))
              : Value(arith::AddFOp::create(b, v, other));
  }
  return v;
}

Value raspc::FlashKernelEmitter::emitFragmentRowNormalizer(Value partialSum) {
  return emitRowNormalizer(quadReduce(partialSum, /*isMax=*/false));
}

Value raspc::FlashKernelEmitter::emitRowNormalizer(Value sum) {
  Value seen = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, sum, fconst(0.0));
  return arith::SelectOp::create(
      b, seen, isSigmoid() ? fconst(1.0) : Value(arith::DivFOp::create(b, fconst(1.0), sum)),
      fconst(0.0));
}

bool raspc::FlashKernelEmitter::isSigmoid() const {
  return AttentionOp(op).getNormalizer() == Normalizer::sigmoid;
}

Value raspc::FlashKernelEmitter::sigmoid(Value s) {
  Value e = exp(arith::NegFOp::create(b, s));
  return arith::DivFOp::create(b, fconst(1.0), arith::AddFOp::create(b, fconst(1.0), e));
}

SmallVector<Value, 2> raspc::FlashKernelEmitter::emitFragmentSoftmax(
    MutableArrayRef<SmallVector<Value, 4>> scores, Value k0, Value twoT, ArrayRef<Value> rows,
    MutableArrayRef<Value> max, MutableArrayRef<Value> sum, bool masked) {
  // Score region, then keys past the end and the mask to -inf.
  SmallVector<Value, 2> maxima(max.begin(), max.end());
  for (auto [tile, fragment] : llvm::enumerate(scores))
    for (int64_t e = 0; e < 4; ++e) {
      int64_t r = e / 2;
      Value k = add(add(k0, static_cast<int64_t>(8 * tile) + e % 2), twoT);
      Value s = fragment[e];
      if (!op.getScore().empty())
        s = inlineRegion(b, op.getScore(), {s, bIdx, hIdx, rows[r], k});
      Value visible = less(k, keys);
      if (masked)
        visible = arith::AndIOp::create(
            b, visible, inlineRegion(b, op.getMask(), {bIdx, hIdx, rows[r], k}));
      fragment[e] = arith::SelectOp::create(b, visible, s, negInf());
      if (!isSigmoid())
        maxima[r] = arith::MaximumFOp::create(b, maxima[r], fragment[e]);
    }

  if (isSigmoid()) {
    // Weights as they are: nothing to rescale.
    for (auto &fragment : scores)
      for (int64_t e = 0; e < 4; ++e) {
        fragment[e] = sigmoid(fragment[e]);
        sum[e / 2] = arith::AddFOp::create(b, sum[e / 2], fragment[e]);
      }
    return {fconst(1.0), fconst(1.0)};
  }

  // Until a row has seen a visible key its maximum is -inf; exponentials are
  // then taken against 0 so that -inf - -inf never happens (masked scores
  // give exactly 0, the old state is all zeros anyway).
  SmallVector<Value, 2> alpha, base;
  for (int64_t r = 0; r < 2; ++r) {
    Value next = quadReduce(maxima[r], /*isMax=*/true);
    Value none = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, next, negInf());
    base.push_back(arith::SelectOp::create(b, none, fconst(0.0), next));
    alpha.push_back(exp(arith::SubFOp::create(b, max[r], base[r])));
    max[r] = next;
    sum[r] = arith::MulFOp::create(b, sum[r], alpha[r]);
  }
  for (auto &fragment : scores)
    for (int64_t e = 0; e < 4; ++e) {
      fragment[e] = exp(arith::SubFOp::create(b, fragment[e], base[e / 2]));
      sum[e / 2] = arith::AddFOp::create(b, sum[e / 2], fragment[e]);
    }
  return alpha;
}

std::function<void(OpBuilder &, Location)>
raspc::FlashKernelEmitter::yieldingBranch(std::function<SmallVector<Value>()> body) {
  return [this, body](OpBuilder &inner, Location) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(inner.getInsertionBlock(), inner.getInsertionPoint());
    scf::YieldOp::create(b, body());
  };
}

Value raspc::FlashKernelEmitter::emitBlockInRange(Value kb) {
  Value inRange = less(kb, keyBlocks);
  if (Value visible = emitBlockVisible(blockRow0, blockRows(), mul(kb, keyBlock)))
    inRange = arith::AndIOp::create(b, inRange, visible);
  return inRange;
}

std::pair<Value, Value> raspc::FlashKernelEmitter::emitSeenBlockRange() {
  if (op.getMask().empty())
    return {idx(0), keyBlocks};
  // A scan of the blocks' intervals: scalar work, the same in every thread.
  SmallVector<Value> range = emitLoop(
      b, idx(0), keyBlocks, idx(1), ValueRange{keyBlocks, idx(0)},
      [&](Value kb, ValueRange range) -> SmallVector<Value> {
        Value seen = emitBlockInRange(kb);
        return {arith::SelectOp::create(b, seen, arith::MinUIOp::create(b, range[0], kb),
                                        range[0]),
                arith::SelectOp::create(b, seen, add(kb, 1), range[1])};
      });
  // Nothing seen: an empty range (first = end).
  return {arith::MinUIOp::create(b, range[0], range[1]), range[1]};
}

void raspc::FlashKernelEmitter::emitPrefetch(Value kb, Value stage, Value copy) {
  Value k0 = arith::MulIOp::create(b, kb, idx(keyBlock));
  auto copyTile = [&](const GlobalTileSource &source, bool isKey) {
    raspc::emitTileCopy(
        b, tid, threads, source, tileOf(stage, isKey), keyBlock, isKey ? headDim : valueDim,
        [&](Value row, Value feature) {
          // Keys past the end are zeros (masked later): 0 times a copy of a
          // real value could be NaN.
          Value k = add(k0, row);
          return TileElementSource{{bIdx, khIdx, k, feature}, less(k, keys)};
        },
        [&](Value row, Value column) { return place(isKey, row, column); });
  };
  auto guard = scf::IfOp::create(b, copy, /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard insertion(b);
    b.setInsertionPointToStart(guard.thenBlock());
    copyTile(*keySource, /*isKey=*/true);
    copyTile(*valueSource, /*isKey=*/false);
  }
  emitDeferredSync(b, kDeferredCpAsyncCommit);
}

void raspc::FlashKernelEmitter::emitStageLanded(int32_t pending) {
  emitDeferredSync(b, kDeferredCpAsyncWait, pending);
  emitTilesLanded();
  emitDeferredSync(b, kDeferredGPUBarrier);
}

void raspc::FlashKernelEmitter::emitKernel(gpu::LaunchOp launch, Value queryBlocks) {
  // Grid x enumerates (batch, head, query block), query blocks fastest: y and
  // z would limit heads and batch to 65535.
  Value blockId = launch.getBlockIds().x;
  Value rest = arith::DivUIOp::create(b, blockId, queryBlocks);
  blockRow0 = mul(arith::RemUIOp::create(b, blockId, queryBlocks), blockRows());
  hIdx = arith::RemUIOp::create(b, rest, heads);
  bIdx = arith::DivUIOp::create(b, rest, heads);
  khIdx = arith::DivUIOp::create(b, hIdx, group);
  tid = launch.getThreadIds().x;
  DynamicSharedMemory shared = emitDynamicSharedMemory(b, sharedAlignment);
  sharedBase = shared.base;
  sharedPadding = shared.padding;
  emitThreadSetup();
  keySource.emplace(b, key);
  valueSource.emplace(b, value);
  keyBlocks = arith::CeilDivSIOp::create(b, keys, idx(keyBlock));
  emitStore(emitKeyLoop());
}

SmallVector<Value> raspc::FlashKernelEmitter::emitKeyLoop() {
  // Software pipeline: key block kb + 1 is on its way into the other stage
  // while block kb is computed. Barriers need the whole block, so whether a
  // block is loaded and computed is decided for all the block's rows.
  assert(stages == 2 && "the default key loop has two stages");
  emitPrefetch(idx(0), idx(0), emitBlockInRange(idx(0)));
  return emitLoop(
      b, idx(0), keyBlocks, idx(1), initialState(), [&](Value kb, ValueRange iterArgs) {
        SmallVector<Value> state(iterArgs);
        Value k0 = mul(kb, keyBlock);
        Value stage = arith::RemUIOp::create(b, kb, idx(stages));
        Value next = add(kb, 1);
        emitPrefetch(next, arith::RemUIOp::create(b, next, idx(stages)), emitBlockInRange(next));
        // Block kb's group is complete when at most the one just committed
        // is pending.
        emitStageLanded(/*pending=*/1);
        Value keyTile = tileOf(stage, /*isKey=*/true);
        Value valueTile = tileOf(stage, /*isKey=*/false);
        auto visit = [&] { return emitKeyBlock(state, k0, keyTile, valueTile); };
        SmallVector<Value> result;
        if (Value visible = emitBlockVisible(blockRow0, blockRows(), k0)) {
          auto skip = [&] { return state; };
          auto visitOrSkip =
              scf::IfOp::create(b, visible, yieldingBranch(visit), yieldingBranch(skip));
          result.assign(visitOrSkip.getResults().begin(), visitOrSkip.getResults().end());
        } else {
          result = visit();
        }
        // Nobody refills this stage (the prefetch two blocks on) before
        // every thread is done with it.
        emitDeferredSync(b, kDeferredGPUBarrier);
        return result;
      });
}

void raspc::FlashKernelEmitter::emit() {
  Value queryBlocks = arith::CeilDivSIOp::create(b, queries, idx(blockRows()));
  Value grid = arith::MulIOp::create(b, arith::MulIOp::create(b, queryBlocks, heads), batch);
  // Dynamic shared memory (viewed as the tiles): workgroup attributions
  // would be block arguments, which the deallocation pipeline rewrites.
  Value sharedSize = arith::ConstantOp::create(b, b.getI32IntegerAttr(sharedBytes()));
  auto launch = gpu::LaunchOp::create(b, grid, idx(1), idx(1), idx(threads), idx(1), idx(1),
                                      sharedSize);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    emitKernel(launch, queryBlocks);
    gpu::TerminatorOp::create(b);
  }
  auto bufferType = cast<MemRefType>(result.buffer.getType());
  Value tensor = bufferization::ToTensorOp::create(
      b, RankedTensorType::get(bufferType.getShape(), bufferType.getElementType()), result.buffer,
      /*restrict=*/true, /*writable=*/true);
  replaceThroughLayoutOps(op.getResult(), tensor, result);
}
