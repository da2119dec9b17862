//===- AttentionToFlashLoops.cpp - attention as online-softmax tiles -*- C++ -*-===//
//
// Softmax attention without the [queries, keys] matrix: every (batch, head,
// query tile) is one task of a parallel loop; a task walks the key blocks,
// computes the block's scores with a register-tiled vector GEMM, folds them
// into running row maxima and sums (online softmax) and accumulates P.V with
// a second GEMM. Blocks a mask hides entirely are skipped and blocks it
// shows entirely skip the mask (see MaskIntervals.h).
//
// The code is emitted directly in the vector dialect, not derived by the
// generic vectorizer: the point is the exact register tile (R rows x C
// vectors of accumulators that stay in registers over the reduction) that
// makes a GEMM run near the FMA peak, and the fused softmax between the two
// GEMMs. See docs/design.md, "The fast CPU path".
//
//===----------------------------------------------------------------------===//

#include "Conversion/AttentionToFlashLoops/AttentionToFlashLoops.h"
#include "Conversion/AttentionToFlashLoops/FlashStrategy.h"
#include "Conversion/AttentionToFlashLoops/MaskIntervals.h"
#include "Conversion/Utils/LoopEmission.h"
#include "Conversion/Utils/RegisterTileGemm.h"
#include "Conversion/Utils/VectorizeBody.h"

#include "Attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

#include <cmath>
#include <cstdint>
#include <functional>

namespace raspc {
#define GEN_PASS_DEF_CONVERTATTENTIONTOFLASHLOOPS
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Tile sizes; see the pass options for what each means.
using Strategy = raspc::FlashTiles;

/// Biggest (padded) value feature size whose accumulator tile, and head size
/// whose query tile, still fit a task's stack frame comfortably.
constexpr int64_t kMaxValueDim = 1024;
constexpr int64_t kMaxPackedHeadDim = 1024;

} // namespace

//===----------------------------------------------------------------------===//
// Applicability
//===----------------------------------------------------------------------===//

bool raspc::isFlashCandidate(AttentionOp op) {
  if (op.getNormalizer() != Normalizer::softmax && op.getNormalizer() != Normalizer::sigmoid)
    return false;
  // f32, or f16 / bf16 tensors computed in f32 (as the score region is):
  // converted when packed and copied, rounded once when stored.
  Type f32 = Float32Type::get(op.getContext());
  Type element = cast<RankedTensorType>(op.getQuery().getType()).getElementType();
  if (!isa<Float32Type, Float16Type, BFloat16Type>(element))
    return false;
  for (Value v : {op.getKey(), op.getValue(), op.getInit()})
    if (cast<RankedTensorType>(v.getType()).getElementType() != element)
      return false;
  if (!op.getScore().empty() && op.getScore().front().getArgument(0).getType() != f32)
    return false;
  auto valueType = cast<RankedTensorType>(op.getValue().getType());
  auto queryType = cast<RankedTensorType>(op.getQuery().getType());
  int64_t valueDim = valueType.getDimSize(3);
  if (ShapedType::isDynamic(valueDim) || valueDim > kMaxValueDim ||
      queryType.isDynamicDim(1) || valueType.isDynamicDim(1))
    return false;
  if (!raspc::isVectorizable(op.getMask()) || !raspc::isVectorizable(op.getScore()))
    return false;
  return true;
}

namespace {

//===----------------------------------------------------------------------===//
// The emitter
//===----------------------------------------------------------------------===//

class FlashEmitter {
public:
  FlashEmitter(ImplicitLocOpBuilder &b, AttentionOp op, const Strategy &s)
      : b(b), op(op), s(s), f32(b.getF32Type()), vec(VectorType::get({s.width}, f32)),
        indexVec(VectorType::get({s.width}, b.getIndexType())) {}

  Value emit();

private:
  // Scalars.
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value fconst(double v) { return arith::ConstantOp::create(b, b.getF32FloatAttr(v)); }
  Value negInf() {
    return arith::ConstantOp::create(
        b, b.getFloatAttr(f32, APFloat::getInf(APFloat::IEEEsingle(), /*Negative=*/true)));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value div(Value x, Value y) { return arith::DivUIOp::create(b, x, y); }
  Value rem(Value x, Value y) { return arith::RemUIOp::create(b, x, y); }
  Value minIndex(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }
  Value ceilDiv(Value x, int64_t y) { return arith::CeilDivSIOp::create(b, x, idx(y)); }
  Value dimOf(Value tensor, int64_t i) { return tensor::DimOp::create(b, tensor, i); }
  /// An element of the operands, widened to f32 for the arithmetic.
  Value toF32(Value v) {
    return v.getType().isF32() ? v : Value(arith::ExtFOp::create(b, f32, v));
  }
  Value splat(Value scalar) {
    return vector::BroadcastOp::create(b, VectorType::get({s.width}, scalar.getType()), scalar);
  }

  /// `for (iv = lb; iv < ub; iv += step)` with no loop-carried values.
  void forLoop(Value lb, Value ub, Value step, function_ref<void(Value)> body) {
    raspc::emitLoop(b, lb, ub, step, body);
  }
  void ifThen(Value cond, function_ref<void()> thenBody, function_ref<void()> elseBody = {}) {
    auto build = [&](function_ref<void()> body) {
      return [&, body](OpBuilder &nested, Location) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
        body();
        scf::YieldOp::create(b);
      };
    };
    if (elseBody)
      scf::IfOp::create(b, cond, build(thenBody), build(elseBody));
    else
      scf::IfOp::create(b, cond, build(thenBody));
  }

  Value vectorizeRegion(Region &region, ArrayRef<Value> args);
  Value expOfNonPositive(Value x);
  /// sigmoid(x) = 1 / (1 + e^-x) from e^-|x| (never overflows); 0 at -inf.
  Value sigmoid(Value x);
  /// Sigmoid attention: each visible key weighs sigmoid(s) as it is, no
  /// running maximum, no rescaling; the row's sum only says whether it saw
  /// a key.
  bool isSigmoid() { return op.getNormalizer() == Normalizer::sigmoid; }

  /// C = A.B (or C += A.B) over [0, rows) x [0, cols) by the shared
  /// register-tile micro-kernel, with this op's tile shape.
  void emitGemm(const raspc::RegisterTileGemm &g, Value rows, int64_t cols, Value depth,
                bool rowsAreWholeTiles) {
    raspc::emitGemm(b, g, {s.width, s.registerRows, s.registerVectors}, rows, cols, depth,
                    rowsAreWholeTiles);
  }

  /// NaN or +-Inf.
  Value isNonFinite(Value x) {
    return arith::CmpFOp::create(b, arith::CmpFPredicate::UGE, math::AbsFOp::create(b, x),
                                 arith::ConstantOp::create(
                                     b, b.getFloatAttr(f32, APFloat::getInf(
                                                                APFloat::IEEEsingle()))));
  }

  void emitPacking();
  void emitNonFiniteValues();
  void emitTask(Value task);
  void emitRowUpdate(Value row, bool exact);

  ImplicitLocOpBuilder &b;
  AttentionOp op;
  Strategy s;
  Type f32;
  VectorType vec, indexVec;

  // Whole-call values.
  Value batch, heads, keyHeads, group, queries, keys, headDim;
  int64_t valueDim = 0, paddedValueDim = 0;
  // Widths of the packed panels (emitPacking): a register tile's columns
  // where they divide the dimension, else one vector.
  int64_t keyPanel = 0, valuePanel = 0;
  Value query, valueIn, keyT, valuePacked, out;
  // Per (batch, key head): 1 where the values hold a NaN or Inf.
  Value nonFiniteValues;
  // Per task and per key block.
  Value bIdx, hIdx, khIdx, q0, rows, k0, kValid;
  Value scores, acc, rowMax, rowSum;
};

Value FlashEmitter::vectorizeRegion(Region &region, ArrayRef<Value> args) {
  return raspc::vectorizeBlock(b, region.front(), args, s.width);
}

/// exp(x) for x <= 0 (including -inf), scalar or vector, in about 13
/// operations: x = n ln2 + r with |r| <= ln2 / 2, a degree-6 polynomial for
/// e^r (relative error ~2e-7) and 2^n from the exponent bits. The
/// softmax's arguments are never positive, so upstream's approximation's
/// overflow handling is not needed; below -127 ln2 the exponent field is 0
/// and the result exactly 0, as masked keys need. A NaN stays NaN (a NaN
/// score makes its row NaN, docs/language.md): the clamp is `x < c ? c : x`
/// (one vmaxps, which passes a NaN x through), and n is rounded by adding
/// 1.5 * 2^23, whose low mantissa bits then hold n as an integer, instead of
/// fptosi, whose result for NaN is poison.
Value FlashEmitter::expOfNonPositive(Value x) {
  Type type = x.getType();
  auto vecType = dyn_cast<VectorType>(type);
  Type intType = b.getI32Type();
  if (vecType)
    intType = VectorType::get(vecType.getShape(), intType);
  auto c = [&](double v) -> Value {
    Value scalar = fconst(v);
    return vecType ? splat(scalar) : scalar;
  };
  auto ci = [&](int64_t v) -> Value {
    Value scalar = arith::ConstantOp::create(b, b.getI32IntegerAttr(v));
    return vecType ? Value(vector::BroadcastOp::create(b, intType, scalar)) : scalar;
  };
  auto fma = [&](Value a, Value m, Value acc) { return math::FmaOp::create(b, a, m, acc); };
  Value floor = c(-127.0 * M_LN2);
  x = arith::SelectOp::create(b, arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, x, floor),
                              floor, x);
  constexpr double kRound = 12582912.0; // 1.5 * 2^23
  Value shifted = fma(x, c(M_LOG2E), c(kRound));
  Value n = arith::SubFOp::create(b, shifted, c(kRound));
  Value r = fma(n, c(-0.693145751953125), x); // ln2, high bits (exact in n * hi)
  r = fma(n, c(-1.428606765330187e-06), r);   // ln2, the rest
  Value p = c(1.0 / 720);
  for (double k : {1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1.0, 1.0})
    p = fma(p, r, c(k));
  // bits(shifted) = bits(1.5 * 2^23) + n; 2^n has exponent field n + 127.
  Value exponent = arith::SubIOp::create(b, arith::BitcastOp::create(b, intType, shifted),
                                         ci(0x4B400000 - 127));
  Value bits = arith::ShLIOp::create(b, exponent, ci(23));
  return arith::MulFOp::create(b, p, arith::BitcastOp::create(b, type, bits));
}

Value FlashEmitter::sigmoid(Value x) {
  Type t = x.getType();
  auto constant = [&](double v) -> Value {
    Value c = fconst(v);
    return isa<VectorType>(t) ? splat(c) : c;
  };
  Value e = expOfNonPositive(arith::NegFOp::create(b, math::AbsFOp::create(b, x)));
  Value nonNegative = arith::CmpFOp::create(b, arith::CmpFPredicate::OGE, x, constant(0.0));
  Value numerator = arith::SelectOp::create(b, nonNegative, constant(1.0), e);
  return arith::DivFOp::create(b, numerator, arith::AddFOp::create(b, constant(1.0), e));
}

/// The operands of the block GEMMs, packed once per call (O(L.D), zero
/// padded) in panels as wide as a register tile's columns, so that the
/// innermost loop of a GEMM reads one contiguous run of cache lines:
///   keys   [batch, key heads, key tile, panel, dim, key in panel]
///   values [batch, key heads, panel, key, feature in panel]
/// Unpacked, successive steps were a row apart (256 B for a key tile of 64,
/// 512 B for 128 features), and the 128 lines of a panel fell into a sixteenth
/// of the L1's sets: conflict misses at D = 128.
void FlashEmitter::emitPacking() {
  Value keyIn = raspc::readOnlyBuffer(b, op.getKey());
  valueIn = raspc::readOnlyBuffer(b, op.getValue());
  Value keyBlocks = ceilDiv(keys, s.keyTile);
  Value paddedKeys = mul(keyBlocks, idx(s.keyTile));
  auto align = b.getI64IntegerAttr(64);
  int64_t dyn = ShapedType::kDynamic;
  keyT = memref::AllocOp::create(
      b, MemRefType::get({dyn, dyn, dyn, s.keyTile / keyPanel, dyn, keyPanel}, f32),
      ValueRange{batch, keyHeads, keyBlocks, headDim}, align);
  valuePacked = memref::AllocOp::create(
      b, MemRefType::get({dyn, dyn, paddedValueDim / valuePanel, dyn, valuePanel}, f32),
      ValueRange{batch, keyHeads, keys}, align);
  nonFiniteValues = memref::AllocOp::create(
      b, MemRefType::get({dyn, dyn}, b.getI8Type()), ValueRange{batch, keyHeads}, align);
  raspc::emitParallelTasks(b, mul(batch, keyHeads), [&](Value task) {
        Value bi = div(task, keyHeads), hi = rem(task, keyHeads);
        Value zero = fconst(0.0);
        Value lastKey = sub(keys, idx(1));
        forLoop(idx(0), paddedKeys, idx(1), [&](Value j) {
          // The padding reads the last key and stores zeros.
          Value inRange = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, j, keys);
          Value from = minIndex(j, lastKey);
          Value block = div(j, idx(s.keyTile)), inBlock = rem(j, idx(s.keyTile));
          Value panel = div(inBlock, idx(keyPanel)), inPanel = rem(inBlock, idx(keyPanel));
          forLoop(idx(0), headDim, idx(1), [&](Value d) {
            Value v = toF32(memref::LoadOp::create(b, keyIn, ValueRange{bi, hi, from, d}));
            memref::StoreOp::create(b, arith::SelectOp::create(b, inRange, v, zero), keyT,
                                    ValueRange{bi, hi, block, panel, d, inPanel});
          });
        });
        // Values packed with NaN and Inf replaced by 0, so that a hidden
        // key's weight (0) times its value is 0; emitTask adds the visible
        // keys' non-finite values back where this (batch, head) has any.
        memref::StoreOp::create(b, arith::ConstantIntOp::create(b, 0, 8), nonFiniteValues,
                                ValueRange{bi, hi});
        forLoop(idx(0), keys, idx(1), [&](Value j) {
          Value anyBad = arith::ConstantIntOp::create(b, 0, 1);
          for (int64_t e = 0; e < paddedValueDim; ++e) {
            Value v = zero;
            if (e < valueDim) {
              v = toF32(memref::LoadOp::create(b, valueIn, ValueRange{bi, hi, j, idx(e)}));
              Value bad = isNonFinite(v);
              anyBad = arith::OrIOp::create(b, anyBad, bad);
              v = arith::SelectOp::create(b, bad, zero, v);
            }
            memref::StoreOp::create(
                b, v, valuePacked,
                ValueRange{bi, hi, idx(e / valuePanel), j, idx(e % valuePanel)});
          }
          ifThen(anyBad, [&] {
            memref::StoreOp::create(b, arith::ConstantIntOp::create(b, 1, 8), nonFiniteValues,
                                    ValueRange{bi, hi});
          });
        });
      });
}

/// One query row after the block's raw scores are in `scores`: score
/// modifier, mask, running max and sum, probabilities written over the
/// scores, and the accumulator rescaled to the new max. `exact` blocks
/// (partly masked, or the last, partial key tile) hide keys by the mask and
/// the key count; the others need neither.
void FlashEmitter::emitRowUpdate(Value r, bool exact) {
  Value i = add(q0, r);
  Value iota = arith::ConstantOp::create(
      b, DenseElementsAttr::get(indexVec, llvm::to_vector(llvm::map_range(
                                              llvm::seq<int64_t>(0, s.width),
                                              [&](int64_t lane) -> Attribute {
                                                return b.getIndexAttr(lane);
                                              }))));
  Value keysVec = splat(keys), negInfVec = splat(negInf());
  SmallVector<Value> row;
  Value blockMax = negInfVec;
  for (int64_t c = 0; c < s.keyTile / s.width; ++c) {
    Value col = idx(c * s.width);
    Value sv = vector::LoadOp::create(b, vec, scores, ValueRange{r, col});
    Value j = add(splat(add(k0, col)), iota);
    if (!op.getScore().empty())
      sv = vectorizeRegion(op.getScore(), {sv, bIdx, hIdx, i, j});
    if (exact) {
      Value visible = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, j, keysVec);
      if (!op.getMask().empty())
        visible = arith::AndIOp::create(b, visible,
                                        vectorizeRegion(op.getMask(), {bIdx, hIdx, i, j}));
      sv = arith::SelectOp::create(b, visible, sv, negInfVec);
    }
    row.push_back(sv);
    // `sv < max ? max : sv`: one vmaxps. A NaN score may or may not reach
    // the max; either way its row ends NaN (its own weight is NaN).
    if (!isSigmoid())
      blockMax = arith::SelectOp::create(
          b, arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, sv, blockMax), blockMax, sv);
  }
  // The weights go over the block's scores; a hidden key's (scored -inf)
  // is 0, which the fix-up for non-finite values (emitNonFiniteValues)
  // skips.
  auto storeWeight = [&](int64_t c, Value p) {
    vector::StoreOp::create(b, p, scores, ValueRange{r, idx(c * s.width)});
  };
  if (isSigmoid()) {
    Value sum = splat(fconst(0.0));
    for (auto [c, sv] : llvm::enumerate(row)) {
      Value p = sigmoid(sv);
      sum = arith::AddFOp::create(b, sum, p);
      storeWeight(c, p);
    }
    Value oldSum = memref::LoadOp::create(b, rowSum, ValueRange{r});
    memref::StoreOp::create(
        b,
        arith::AddFOp::create(b, oldSum,
                              vector::ReductionOp::create(b, vector::CombiningKind::ADD, sum)),
        rowSum, ValueRange{r});
    return;
  }
  Value oldMax = memref::LoadOp::create(b, rowMax, ValueRange{r});
  Value newMax = arith::MaxNumFOp::create(
      b, oldMax, vector::ReductionOp::create(b, vector::CombiningKind::MAXNUMF, blockMax));
  // While every key so far is masked the max is -inf; subtracting 0
  // instead keeps exp(-inf - base) at 0 rather than NaN.
  Value allMasked = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, newMax, negInf());
  Value base = arith::SelectOp::create(b, allMasked, fconst(0.0), newMax);
  Value baseVec = splat(base);
  Value sum = splat(fconst(0.0));
  for (auto [c, sv] : llvm::enumerate(row)) {
    Value p = expOfNonPositive(arith::SubFOp::create(b, sv, baseVec));
    sum = arith::AddFOp::create(b, sum, p);
    storeWeight(c, p);
  }
  Value alpha = expOfNonPositive(arith::SubFOp::create(b, oldMax, base));
  Value oldSum = memref::LoadOp::create(b, rowSum, ValueRange{r});
  Value newSum = arith::AddFOp::create(
      b, arith::MulFOp::create(b, oldSum, alpha),
      vector::ReductionOp::create(b, vector::CombiningKind::ADD, sum));
  memref::StoreOp::create(b, newSum, rowSum, ValueRange{r});
  memref::StoreOp::create(b, newMax, rowMax, ValueRange{r});
  // Once the row's max settles, most blocks leave it unchanged: no rescale.
  Value maxMoved = arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, newMax, oldMax);
  ifThen(maxMoved, [&] {
    Value alphaVec = splat(alpha);
    for (int64_t e = 0; e < paddedValueDim; e += s.width) {
      Value a = vector::LoadOp::create(b, vec, acc, ValueRange{r, idx(e)});
      vector::StoreOp::create(b, arith::MulFOp::create(b, a, alphaVec), acc,
                              ValueRange{r, idx(e)});
    }
  });
}

/// acc[r] += p[r, j] v[j] for the block's non-finite values, which the
/// packed values hold as 0, where key j weighs something for row r: a key
/// of weight 0 (hidden, scored -inf, or too small for f32) is not read, as
/// docs/language.md says. A NaN weight is read (its row is NaN anyway).
/// Only (batch, head)s with such values come here.
void FlashEmitter::emitNonFiniteValues() {
  Value zero = fconst(0.0);
  forLoop(idx(0), rows, idx(1), [&](Value r) {
    forLoop(idx(0), kValid, idx(1), [&](Value j) {
      Value p = memref::LoadOp::create(b, scores, ValueRange{r, j});
      Value weighs = arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, p, zero);
      ifThen(weighs, [&] {
        forLoop(idx(0), idx(valueDim), idx(1), [&](Value e) {
          Value v = toF32(
              memref::LoadOp::create(b, valueIn, ValueRange{bIdx, khIdx, add(k0, j), e}));
          ifThen(isNonFinite(v), [&] {
            Value a = memref::LoadOp::create(b, acc, ValueRange{r, e});
            memref::StoreOp::create(b, math::FmaOp::create(b, p, v, a), acc,
                                    ValueRange{r, e});
          });
        });
      });
    });
  });
}

void FlashEmitter::emitTask(Value task) {
  Value queryTiles = ceilDiv(queries, s.queryTile);
  Value perBatch = mul(heads, queryTiles);
  bIdx = div(task, perBatch);
  Value inBatch = rem(task, perBatch);
  hIdx = div(inBatch, queryTiles);
  khIdx = div(hIdx, group);
  q0 = mul(rem(inBatch, queryTiles), idx(s.queryTile));
  rows = minIndex(idx(s.queryTile), sub(queries, q0));

  auto align = b.getI64IntegerAttr(64);
  scores = memref::AllocaOp::create(b, MemRefType::get({s.queryTile, s.keyTile}, f32), align);
  // The task's queries, copied to a contiguous tile when the head size is
  // static: the GEMM then broadcasts from rows with constant strides instead
  // of recomputing strided addresses every step.
  Value queryTileBuf;
  Value gemmRows = rows;
  bool gemmRowsWhole = false;
  int64_t staticHeadDim = cast<RankedTensorType>(op.getQuery().getType()).getDimSize(3);
  if (!ShapedType::isDynamic(staticHeadDim) && staticHeadDim <= kMaxPackedHeadDim) {
    queryTileBuf =
        memref::AllocaOp::create(b, MemRefType::get({s.queryTile, staticHeadDim}, f32), align);
    forLoop(idx(0), rows, idx(1), [&](Value r) {
      forLoop(idx(0), headDim, idx(1), [&](Value d) {
        Value v = toF32(memref::LoadOp::create(b, query, ValueRange{bIdx, hIdx, add(q0, r), d}));
        memref::StoreOp::create(b, v, queryTileBuf, ValueRange{r, d});
      });
    });
    // With zero rows up to whole register tiles, the GEMMs need no row
    // tails: the extra rows' scores and outputs are computed and dropped.
    if (s.queryTile % s.registerRows == 0) {
      gemmRows = mul(ceilDiv(rows, s.registerRows), idx(s.registerRows));
      gemmRowsWhole = true;
      forLoop(rows, gemmRows, idx(1), [&](Value r) {
        forLoop(idx(0), headDim, idx(1), [&](Value d) {
          memref::StoreOp::create(b, fconst(0.0), queryTileBuf, ValueRange{r, d});
        });
      });
    }
  }
  acc = memref::AllocaOp::create(b, MemRefType::get({s.queryTile, paddedValueDim}, f32), align);
  rowMax = memref::AllocaOp::create(b, MemRefType::get({s.queryTile}, f32), align);
  rowSum = memref::AllocaOp::create(b, MemRefType::get({s.queryTile}, f32), align);
  forLoop(idx(0), rows, idx(1), [&](Value r) {
    memref::StoreOp::create(b, negInf(), rowMax, ValueRange{r});
    memref::StoreOp::create(b, fconst(0.0), rowSum, ValueRange{r});
    for (int64_t e = 0; e < paddedValueDim; e += s.width)
      vector::StoreOp::create(b, splat(fconst(0.0)), acc, ValueRange{r, idx(e)});
  });

  Value lastRow = sub(add(q0, rows), idx(1));
  forLoop(idx(0), ceilDiv(keys, s.keyTile), idx(1), [&](Value kb) {
    k0 = mul(kb, idx(s.keyTile));
    kValid = minIndex(idx(s.keyTile), sub(keys, k0));
    std::optional<raspc::BlockTruth> truth;
    if (!op.getMask().empty())
      truth = raspc::emitBlockTruth(b, op.getMask(), bIdx, hIdx, q0, lastRow, k0,
                                    sub(add(k0, kValid), idx(1)));
    auto body = [&] {
      // S = Q . K^T over the block.
      raspc::RegisterTileGemm qk{
          [&](Value r, Value d) {
            if (queryTileBuf)
              return Value(memref::LoadOp::create(b, queryTileBuf, ValueRange{r, d}));
            return toF32(memref::LoadOp::create(b, query, ValueRange{bIdx, hIdx, add(q0, r), d}));
          },
          [&](Value d, Value col) {
            return vector::LoadOp::create(
                b, vec, keyT,
                ValueRange{bIdx, khIdx, kb, div(col, idx(keyPanel)), d, rem(col, idx(keyPanel))});
          },
          {},
          [&](Value v, Value r, Value col) {
            vector::StoreOp::create(b, v, scores, ValueRange{r, col});
          }};
      emitGemm(qk, gemmRows, s.keyTile, headDim, gemmRowsWhole);
      // Softmax bookkeeping; the mask only where the block needs it.
      auto rowUpdates = [&](bool exact) {
        forLoop(idx(0), rows, idx(1), [&](Value r) { emitRowUpdate(r, exact); });
      };
      Value partialTile = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, kValid,
                                                idx(s.keyTile));
      if (!op.getMask().empty() && !truth)
        rowUpdates(true);
      else
        ifThen(truth ? arith::OrIOp::create(b, truth->mayBeFalse, partialTile) : partialTile,
               [&] { rowUpdates(true); }, [&] { rowUpdates(false); });
      // O += P . V over the block's keys.
      raspc::RegisterTileGemm pv{
          [&](Value r, Value j) { return memref::LoadOp::create(b, scores, ValueRange{r, j}); },
          [&](Value j, Value col) {
            return vector::LoadOp::create(b, vec, valuePacked,
                                          ValueRange{bIdx, khIdx, div(col, idx(valuePanel)),
                                                     add(k0, j), rem(col, idx(valuePanel))});
          },
          [&](Value r, Value col) { return vector::LoadOp::create(b, vec, acc, ValueRange{r, col}); },
          [&](Value v, Value r, Value col) {
            vector::StoreOp::create(b, v, acc, ValueRange{r, col});
          }};
      emitGemm(pv, gemmRows, paddedValueDim, kValid, gemmRowsWhole);
      Value anyNonFinite = arith::CmpIOp::create(
          b, arith::CmpIPredicate::ne,
          memref::LoadOp::create(b, nonFiniteValues, ValueRange{bIdx, khIdx}),
          arith::ConstantIntOp::create(b, 0, 8));
      ifThen(anyNonFinite, [&] { emitNonFiniteValues(); });
    };
    if (truth)
      ifThen(truth->mayBeTrue, body);
    else
      body();
  });

  // out = acc / sum; a query that saw no key gets zeros.
  forLoop(idx(0), rows, idx(1), [&](Value r) {
    Value sum = memref::LoadOp::create(b, rowSum, ValueRange{r});
    // NaN when a visible score or weight was (docs/language.md).
    Value seen = arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, sum, fconst(0.0));
    Value scale = arith::SelectOp::create(
        b, seen,
        isSigmoid() ? fconst(1.0) : Value(arith::DivFOp::create(b, fconst(1.0), sum)),
        fconst(0.0));
    for (int64_t e = 0; e < valueDim; ++e) {
      Value a = memref::LoadOp::create(b, acc, ValueRange{r, idx(e)});
      Value o = arith::MulFOp::create(b, a, scale);
      Type element = cast<MemRefType>(out.getType()).getElementType();
      if (element != f32)
        o = arith::TruncFOp::create(b, element, o);
      memref::StoreOp::create(b, o, out,
                              ValueRange{bIdx, hIdx, add(q0, r), idx(e)});
    }
  });
}

Value FlashEmitter::emit() {
  auto resultType = cast<RankedTensorType>(op.getResult().getType());
  auto queryType = cast<RankedTensorType>(op.getQuery().getType());
  batch = dimOf(op.getQuery(), 0);
  heads = idx(queryType.getDimSize(1));
  keyHeads = idx(cast<RankedTensorType>(op.getKey().getType()).getDimSize(1));
  group = div(heads, keyHeads);
  queries = dimOf(op.getQuery(), 2);
  headDim = dimOf(op.getQuery(), 3);
  keys = dimOf(op.getKey(), 2);
  valueDim = cast<RankedTensorType>(op.getValue().getType()).getDimSize(3);
  paddedValueDim = llvm::alignTo(valueDim, s.width);
  int64_t chunk = s.registerVectors * s.width;
  keyPanel = s.keyTile % chunk == 0 ? chunk : s.width;
  valuePanel = paddedValueDim % chunk == 0 ? chunk : s.width;

  query = raspc::readOnlyBuffer(b, op.getQuery());
  emitPacking();

  SmallVector<Value> outSizes;
  for (int64_t d = 0; d < resultType.getRank(); ++d)
    if (resultType.isDynamicDim(d))
      outSizes.push_back(d == 2 ? queries : dimOf(op.getQuery(), d));
  out = memref::AllocOp::create(b, MemRefType::get(resultType.getShape(), resultType.getElementType()), outSizes,
                                b.getI64IntegerAttr(64));
  Value tasks = mul(mul(batch, heads), ceilDiv(queries, s.queryTile));
  Operation *parallel = raspc::emitParallelTasks(b, tasks, [&](Value task) { emitTask(task); });
  // Exponentials from score regions (soft-capping's tanh is not one, but
  // e.g. exp-based modifiers are) as polynomials: LLVM would call expf per
  // lane.
  raspc::approximateMath(parallel, {"math.exp"});
  return bufferization::ToTensorOp::create(b, resultType, out, /*restrict=*/true,
                                           /*writable=*/true);
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct ConvertAttentionToFlashLoops
    : raspc::impl::ConvertAttentionToFlashLoopsBase<ConvertAttentionToFlashLoops> {
  using ConvertAttentionToFlashLoopsBase::ConvertAttentionToFlashLoopsBase;

  /// The tiles for `op`: select-attention-strategy's (or, without it, the
  /// same choice for this machine), then this pass's options where set.
  Strategy resolveStrategy(AttentionOp op) {
    Strategy st = raspc::getFlashTiles(op).value_or(raspc::chooseFlashTiles(
        op, vectorWidth ? static_cast<int64_t>(vectorWidth) : raspc::hostVectorWidth()));
    if (vectorWidth) {
      st.width = vectorWidth;
      st.registerVectors = raspc::registerVectorsFor(st.width);
    }
    if (registerRows)
      st.registerRows = registerRows;
    if (registerVectors)
      st.registerVectors = registerVectors;
    if (keyTile)
      st.keyTile = keyTile;
    if (queryTile)
      st.queryTile = queryTile;
    return st;
  }

  void runOnOperation() override {
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) {
      if (raspc::isFlashCandidate(op))
        ops.push_back(op);
    });
    for (AttentionOp op : ops) {
      Strategy strategy = resolveStrategy(op);
      if (strategy.queryTile < 1 || strategy.width < 1 || strategy.registerRows < 1 ||
          strategy.registerVectors < 1 || strategy.keyTile < 1 ||
          strategy.keyTile % strategy.width != 0) {
        op.emitError("convert-attention-to-flash-loops: tile sizes must be positive and "
                     "key-tile a multiple of vector-width");
        return signalPassFailure();
      }
      ImplicitLocOpBuilder b(op.getLoc(), op);
      FlashEmitter emitter(b, op, strategy);
      Value result = emitter.emit();
      op.getResult().replaceAllUsesWith(result);
      op.erase();
    }
  }
};

} // namespace
