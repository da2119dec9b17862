//===- AttnToLinalg.cpp - attn to linalg on tensors -------------*- C++ -*-===//
//
// The reference lowering of the attn dialect: each op becomes the linalg
// generics that compute its definition (see Passes.td for the shapes).
//
//===----------------------------------------------------------------------===//

#include "Conversion/AttnToLinalg/AttnToLinalg.h"
#include "Conversion/Utils/AggregateMath.h"
#include "Conversion/Utils/LoopEmission.h"

#include "Attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/DialectConversion.h"

namespace raspc {
#define GEN_PASS_DEF_CONVERTATTNTOLINALG
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;
using namespace mlir::attn;
using utils::IteratorType;

namespace {

constexpr IteratorType kParallel = IteratorType::parallel;
constexpr IteratorType kReduction = IteratorType::reduction;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

Value dim(OpBuilder &b, Location loc, Value tensor, int64_t i) {
  return tensor::DimOp::create(b, loc, tensor, i);
}

/// A tensor of `shape` (dynamic sizes from `sizes`, one per dimension),
/// filled with `value` when given.
Value makeTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                 Type elem, Value fill = {}) {
  Value empty = tensor::EmptyOp::create(b, loc, sizes, elem);
  if (!fill)
    return empty;
  return linalg::FillOp::create(b, loc, fill, empty).getResult(0);
}

/// The sizes of `tensor` as OpFoldResults (static sizes as attributes).
SmallVector<OpFoldResult> sizesOf(OpBuilder &b, Location loc, Value tensor) {
  SmallVector<OpFoldResult> sizes;
  auto type = cast<RankedTensorType>(tensor.getType());
  for (int64_t i = 0; i < type.getRank(); ++i)
    sizes.push_back(type.isDynamicDim(i) ? OpFoldResult(dim(b, loc, tensor, i))
                                         : OpFoldResult(b.getIndexAttr(type.getDimSize(i))));
  return sizes;
}

Value zeroOf(OpBuilder &b, Location loc, Type type) {
  return arith::ConstantOp::create(b, loc, type, b.getZeroAttr(type));
}

Value floatConst(OpBuilder &b, Location loc, Type type, double v) {
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, v));
}

using raspc::convertScalar;

AffineMap mapOf(OpBuilder &b, unsigned numDims, ArrayRef<AffineExpr> results) {
  return AffineMap::get(numDims, 0, results, b.getContext());
}

//===----------------------------------------------------------------------===//
// Sequence level
//===----------------------------------------------------------------------===//

Value compare(OpBuilder &b, Location loc, Comparison c, Value key, Value query) {
  auto constant = [&](bool v) {
    return Value(arith::ConstantOp::create(b, loc, b.getI1Type(), b.getBoolAttr(v)));
  };
  if (c == Comparison::always) return constant(true);
  if (c == Comparison::never) return constant(false);
  if (isa<FloatType>(key.getType())) {
    arith::CmpFPredicate p = arith::CmpFPredicate::OEQ;
    switch (c) {
    case Comparison::eq: p = arith::CmpFPredicate::OEQ; break;
    case Comparison::ne: p = arith::CmpFPredicate::UNE; break;
    case Comparison::lt: p = arith::CmpFPredicate::OLT; break;
    case Comparison::le: p = arith::CmpFPredicate::OLE; break;
    case Comparison::gt: p = arith::CmpFPredicate::OGT; break;
    case Comparison::ge: p = arith::CmpFPredicate::OGE; break;
    default: break;
    }
    return arith::CmpFOp::create(b, loc, p, key, query);
  }
  arith::CmpIPredicate p = arith::CmpIPredicate::eq;
  switch (c) {
  case Comparison::eq: p = arith::CmpIPredicate::eq; break;
  case Comparison::ne: p = arith::CmpIPredicate::ne; break;
  case Comparison::lt: p = arith::CmpIPredicate::slt; break;
  case Comparison::le: p = arith::CmpIPredicate::sle; break;
  case Comparison::gt: p = arith::CmpIPredicate::sgt; break;
  case Comparison::ge: p = arith::CmpIPredicate::sge; break;
  default: break;
  }
  return arith::CmpIOp::create(b, loc, p, key, query);
}

struct SelectLowering : OpConversionPattern<SelectOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(SelectOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value keys = adaptor.getKeys(), queries = adaptor.getQueries();
    SmallVector<OpFoldResult> sizes = {sizesOf(rewriter, loc, queries)[0],
                                       sizesOf(rewriter, loc, keys)[0]};
    Value init = makeTensor(rewriter, loc, sizes, rewriter.getI1Type());
    AffineExpr q = rewriter.getAffineDimExpr(0), k = rewriter.getAffineDimExpr(1);
    SmallVector<AffineMap> maps = {mapOf(rewriter, 2, {k}), mapOf(rewriter, 2, {q}),
                                   mapOf(rewriter, 2, {q, k})};
    auto comparison = op.getComparison();
    Region &predicate = op.getPredicate();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{init.getType()}, ValueRange{keys, queries},
        ValueRange{init}, maps, {kParallel, kParallel},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value selected = comparison
                               ? compare(b, l, *comparison, args[0], args[1])
                               : raspc::inlineRegion(b, predicate, {args[0], args[1]});
          linalg::YieldOp::create(b, l, selected);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

/// attn.and / attn.or / attn.not: element-wise over [queries, keys].
template <typename OpTy>
struct SelectorLogicLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ValueRange inputs = adaptor.getOperands();
    Value init = makeTensor(rewriter, loc, sizesOf(rewriter, loc, inputs[0]),
                            rewriter.getI1Type());
    AffineMap id = rewriter.getMultiDimIdentityMap(2);
    SmallVector<AffineMap> maps(inputs.size() + 1, id);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
        {kParallel, kParallel}, [&](OpBuilder &b, Location l, ValueRange args) {
          Value r;
          if constexpr (std::is_same_v<OpTy, AndOp>)
            r = arith::AndIOp::create(b, l, args[0], args[1]);
          else if constexpr (std::is_same_v<OpTy, OrOp>)
            r = arith::OrIOp::create(b, l, args[0], args[1]);
          else
            r = arith::XOrIOp::create(
                b, l, args[0],
                arith::ConstantOp::create(b, l, b.getI1Type(), b.getBoolAttr(true)));
          linalg::YieldOp::create(b, l, r);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

/// Per query: the number of selected keys, as `countType`.
Value countSelected(OpBuilder &b, Location loc, Value selector, Type countType) {
  Value init = makeTensor(b, loc, {sizesOf(b, loc, selector)[0]}, countType,
                          zeroOf(b, loc, countType));
  AffineExpr q = b.getAffineDimExpr(0), k = b.getAffineDimExpr(1);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{selector}, ValueRange{init},
      SmallVector<AffineMap>{mapOf(b, 2, {q, k}), mapOf(b, 2, {q})},
      {kParallel, kReduction}, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value one = arith::ExtUIOp::create(nb, l, countType, args[0]);
        linalg::YieldOp::create(nb, l, Value(arith::AddIOp::create(nb, l, args[1], one)));
      });
  return generic.getResult(0);
}

struct SelectorWidthLowering : OpConversionPattern<SelectorWidthOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(SelectorWidthOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Type countType = op.getResult().getType().getElementType();
    if (countType.isIndex())
      return rewriter.notifyMatchFailure(op, "index counts are not lowered");
    rewriter.replaceOp(op, countSelected(rewriter, op.getLoc(), adaptor.getSelector(),
                                         countType));
    return success();
  }
};

struct AggregateLowering : OpConversionPattern<AggregateOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(AggregateOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value selector = adaptor.getSelector(), values = adaptor.getValues();
    Type resultElem = op.getResult().getType().getElementType();
    Type valueElem = op.getValues().getType().getElementType();
    if (valueElem.isIndex() || resultElem.isIndex())
      return rewriter.notifyMatchFailure(op, "index sequences are not lowered");
    Type sumType = raspc::aggregateSumType(op);
    bool floatSum = isa<FloatType>(sumType);
    Type i64 = rewriter.getI64Type();
    OpFoldResult queries = sizesOf(rewriter, loc, selector)[0];
    Value sumInit = makeTensor(rewriter, loc, {queries}, sumType, zeroOf(rewriter, loc, sumType));
    Value countInit = makeTensor(rewriter, loc, {queries}, i64, zeroOf(rewriter, loc, i64));
    AffineExpr q = rewriter.getAffineDimExpr(0), k = rewriter.getAffineDimExpr(1);
    auto sums = linalg::GenericOp::create(
        rewriter, loc, TypeRange{sumInit.getType(), countInit.getType()},
        ValueRange{selector, values}, ValueRange{sumInit, countInit},
        SmallVector<AffineMap>{mapOf(rewriter, 2, {q, k}), mapOf(rewriter, 2, {k}),
                               mapOf(rewriter, 2, {q}), mapOf(rewriter, 2, {q})},
        {kParallel, kReduction}, [&](OpBuilder &b, Location l, ValueRange args) {
          Value selected = args[0];
          Value v = convertScalar(b, l, args[1], sumType);
          Value added = floatSum ? Value(arith::AddFOp::create(b, l, args[2], v))
                                 : Value(arith::AddIOp::create(b, l, args[2], v));
          Value sum = arith::SelectOp::create(b, l, selected, added, args[2]);
          Value count = arith::AddIOp::create(b, l, args[3],
                                              arith::ExtUIOp::create(b, l, i64, selected));
          linalg::YieldOp::create(b, l, ValueRange{sum, count});
        });
    Value init = makeTensor(rewriter, loc, {queries}, resultElem);
    AffineMap id = rewriter.getMultiDimIdentityMap(1);
    auto result = linalg::GenericOp::create(
        rewriter, loc, TypeRange{init.getType()},
        ValueRange{sums.getResult(0), sums.getResult(1)}, ValueRange{init},
        SmallVector<AffineMap>{id, id, id}, {kParallel},
        [&](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(b, l, raspc::finishAggregate(b, l, op, args[0], args[1]));
        });
    rewriter.replaceOp(op, result.getResults());
    return success();
  }
};

/// The lowered selector already is the [queries, keys] tensor.
struct MaterializeLowering : OpConversionPattern<MaterializeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(MaterializeOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Value tensor = adaptor.getSelector();
    if (tensor.getType() != op.getType())
      tensor = tensor::CastOp::create(rewriter, op.getLoc(), op.getType(), tensor);
    rewriter.replaceOp(op, tensor);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Tensor level
//===----------------------------------------------------------------------===//


struct AttentionLowering : OpConversionPattern<AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value q = adaptor.getQuery(), k = adaptor.getKey(), v = adaptor.getValue();
    auto qType = op.getQuery().getType(), kType = op.getKey().getType();
    int64_t heads = qType.getDimSize(1), keyHeads = kType.getDimSize(1);
    if (ShapedType::isDynamic(heads) || ShapedType::isDynamic(keyHeads))
      return rewriter.notifyMatchFailure(op, "head counts must be static");
    int64_t group = heads / keyHeads;
    Type f32 = rewriter.getF32Type();
    Type scoreType = op.getScore().empty() ? f32
                                           : op.getScore().front().getArgument(0).getType();
    Normalizer normalizer = op.getNormalizer();
    auto featureMapKind = op.getFeatureMap();

    SmallVector<OpFoldResult> qSizes = sizesOf(rewriter, loc, q);
    SmallVector<OpFoldResult> kSizes = sizesOf(rewriter, loc, k);
    SmallVector<OpFoldResult> vSizes = sizesOf(rewriter, loc, v);
    SmallVector<OpFoldResult> scoreSizes = {qSizes[0], qSizes[1], qSizes[2], kSizes[2]};
    AffineExpr b0 = rewriter.getAffineDimExpr(0), h = rewriter.getAffineDimExpr(1),
               i = rewriter.getAffineDimExpr(2), j = rewriter.getAffineDimExpr(3),
               d = rewriter.getAffineDimExpr(4);
    AffineExpr kvHead = group == 1 ? h : h.floorDiv(group);

    // 1. Raw scores s[b,h,i,j] = sum_d q[b,h,i,d] k[b,h/g,j,d] (features for
    //    linear attention).
    Value scoreInit = makeTensor(rewriter, loc, scoreSizes, scoreType,
                                 zeroOf(rewriter, loc, scoreType));
    auto scores = linalg::GenericOp::create(
        rewriter, loc, TypeRange{scoreInit.getType()}, ValueRange{q, k},
        ValueRange{scoreInit},
        SmallVector<AffineMap>{mapOf(rewriter, 5, {b0, h, i, d}),
                               mapOf(rewriter, 5, {b0, kvHead, j, d}),
                               mapOf(rewriter, 5, {b0, h, i, j})},
        {kParallel, kParallel, kParallel, kParallel, kReduction},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value x = convertScalar(b, l, args[0], scoreType);
          Value y = convertScalar(b, l, args[1], scoreType);
          if (featureMapKind) {
            x = raspc::emitFeatureMap(b, l, *featureMapKind, x);
            y = raspc::emitFeatureMap(b, l, *featureMapKind, y);
          }
          Value prod = arith::MulFOp::create(b, l, x, y);
          linalg::YieldOp::create(b, l, Value(arith::AddFOp::create(b, l, args[2], prod)));
        });

    // 2. Score modifier and mask, per (b, h, i, j).
    AffineMap id4 = rewriter.getMultiDimIdentityMap(4);
    Value maskInit = makeTensor(rewriter, loc, scoreSizes, rewriter.getI1Type());
    Value modInit = makeTensor(rewriter, loc, scoreSizes, scoreType);
    Region &maskRegion = op.getMask(), &scoreRegion = op.getScore();
    auto masked = linalg::GenericOp::create(
        rewriter, loc, TypeRange{modInit.getType(), maskInit.getType()},
        ValueRange{scores.getResult(0)}, ValueRange{modInit, maskInit},
        SmallVector<AffineMap>{id4, id4, id4}, {kParallel, kParallel, kParallel, kParallel},
        [&](OpBuilder &b, Location l, ValueRange args) {
          SmallVector<Value> pos;
          for (int64_t dimIndex = 0; dimIndex < 4; ++dimIndex)
            pos.push_back(linalg::IndexOp::create(b, l, dimIndex));
          Value s = args[0];
          if (!scoreRegion.empty())
            s = raspc::inlineRegion(b, scoreRegion, {s, pos[0], pos[1], pos[2], pos[3]});
          Value visible = maskRegion.empty()
                              ? Value(arith::ConstantOp::create(b, l, b.getI1Type(),
                                                                b.getBoolAttr(true)))
                              : raspc::inlineRegion(b, maskRegion, pos);
          linalg::YieldOp::create(b, l, ValueRange{s, visible});
        });
    Value s = masked.getResult(0), visible = masked.getResult(1);

    // 3. Row statistics over the keys j.
    SmallVector<OpFoldResult> rowSizes = {qSizes[0], qSizes[1], qSizes[2]};
    AffineMap rowMap = mapOf(rewriter, 4, {b0, h, i});
    auto rowReduce = [&](Value init,
                         function_ref<Value(OpBuilder &, Location, Value, Value, Value)> f) {
      return linalg::GenericOp::create(
                 rewriter, loc, TypeRange{init.getType()}, ValueRange{s, visible},
                 ValueRange{init}, SmallVector<AffineMap>{id4, id4, rowMap},
                 {kParallel, kParallel, kParallel, kReduction},
                 [&](OpBuilder &b, Location l, ValueRange args) {
                   linalg::YieldOp::create(b, l, f(b, l, args[0], args[1], args[2]));
                 })
          .getResult(0);
    };
    Value zero = zeroOf(rewriter, loc, scoreType);
    Value rowMax;
    Value negInf = arith::ConstantOp::create(
        rewriter, loc, scoreType,
        rewriter.getFloatAttr(scoreType,
                              APFloat::getInf(cast<FloatType>(scoreType).getFloatSemantics(),
                                              /*Negative=*/true)));
    if (normalizer == Normalizer::softmax) {
      rowMax = rowReduce(makeTensor(rewriter, loc, rowSizes, scoreType, negInf),
                         [&](OpBuilder &b, Location l, Value x, Value m, Value acc) {
                           Value mx = arith::MaximumFOp::create(b, l, acc, x);
                           return Value(arith::SelectOp::create(b, l, m, mx, acc));
                         });
    }
    // The unnormalized weight of each visible key.
    auto weight = [&](OpBuilder &b, Location l, Value x, Value max) -> Value {
      switch (normalizer) {
      case Normalizer::softmax: {
        // A row whose visible scores are all -inf weighs every key 0
        // (exp(-inf - 0)), not NaN (exp(-inf + inf)).
        Value nothing = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, max, negInf);
        Value base = arith::SelectOp::create(b, l, nothing, zeroOf(b, l, scoreType), max);
        return math::ExpOp::create(b, l, arith::SubFOp::create(b, l, x, base));
      }
      case Normalizer::mean:
        return floatConst(b, l, scoreType, 1.0);
      case Normalizer::sigmoid: {
        Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, x));
        Value one = floatConst(b, l, scoreType, 1.0);
        return arith::DivFOp::create(b, l, one, arith::AddFOp::create(b, l, one, e));
      }
      case Normalizer::linear:
        return x;
      }
      return x;
    };
    // Per-row weights p[b,h,i,j], normalized (sigmoid is not).
    Value pInit = makeTensor(rewriter, loc, scoreSizes, scoreType);
    SmallVector<Value> pInputs = {s, visible};
    SmallVector<AffineMap> pMaps = {id4, id4};
    if (rowMax) {
      pInputs.push_back(rowMax);
      pMaps.push_back(rowMap);
    }
    pMaps.push_back(id4);
    Value unnormalized =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{pInit.getType()}, pInputs, ValueRange{pInit}, pMaps,
            {kParallel, kParallel, kParallel, kParallel},
            [&](OpBuilder &b, Location l, ValueRange args) {
              Value w = weight(b, l, args[0], rowMax ? args[2] : Value());
              linalg::YieldOp::create(b, l,
                                      Value(arith::SelectOp::create(b, l, args[1], w, zero)));
            })
            .getResult(0);
    Value p = unnormalized;
    if (normalizer != Normalizer::sigmoid) {
      Value sumInit = makeTensor(rewriter, loc, rowSizes, scoreType, zero);
      Value rowSum =
          linalg::GenericOp::create(
              rewriter, loc, TypeRange{sumInit.getType()}, ValueRange{unnormalized},
              ValueRange{sumInit}, SmallVector<AffineMap>{id4, rowMap},
              {kParallel, kParallel, kParallel, kReduction},
              [&](OpBuilder &b, Location l, ValueRange args) {
                linalg::YieldOp::create(b, l,
                                        Value(arith::AddFOp::create(b, l, args[1], args[0])));
              })
              .getResult(0);
      p = linalg::GenericOp::create(
              rewriter, loc, TypeRange{pInit.getType()}, ValueRange{unnormalized, rowSum},
              ValueRange{pInit}, SmallVector<AffineMap>{id4, rowMap, id4},
              {kParallel, kParallel, kParallel, kParallel},
              [&](OpBuilder &b, Location l, ValueRange args) {
                // A row with no visible key (sum 0) stays all zeros.
                Value empty = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ,
                                                    args[1], zero);
                Value ratio = arith::DivFOp::create(b, l, args[0], args[1]);
                linalg::YieldOp::create(
                    b, l, Value(arith::SelectOp::create(b, l, empty, zero, ratio)));
              })
              .getResult(0);
    }

    // 4. out[b,h,i,e] = sum_j p[b,h,i,j] v[b,h/g,j,e] over the visible
    //    keys of nonzero weight (the value of a hidden key, or of one scored
    //    -inf, is not read: 0 * NaN would be NaN), then the result type.
    SmallVector<OpFoldResult> outSizes = {qSizes[0], qSizes[1], qSizes[2], vSizes[3]};
    Value accInit = makeTensor(rewriter, loc, outSizes, scoreType, zero);
    AffineExpr e = rewriter.getAffineDimExpr(3), jj = rewriter.getAffineDimExpr(4);
    AffineMap weightMap = mapOf(rewriter, 5, {b0, h, i, jj});
    Value acc =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{accInit.getType()}, ValueRange{p, visible, v},
            ValueRange{accInit},
            SmallVector<AffineMap>{weightMap, weightMap, mapOf(rewriter, 5, {b0, kvHead, jj, e}),
                                   mapOf(rewriter, 5, {b0, h, i, e})},
            {kParallel, kParallel, kParallel, kParallel, kReduction},
            [&](OpBuilder &b, Location l, ValueRange args) {
              Value x = convertScalar(b, l, args[2], scoreType);
              Value sum = arith::AddFOp::create(b, l, args[3],
                                                arith::MulFOp::create(b, l, args[0], x));
              Value weighs = arith::CmpFOp::create(
                  b, l, arith::CmpFPredicate::UNE, args[0],
                  arith::ConstantOp::create(b, l, b.getFloatAttr(scoreType, 0.0)));
              Value read = arith::AndIOp::create(b, l, args[1], weighs);
              linalg::YieldOp::create(b, l,
                                      Value(arith::SelectOp::create(b, l, read, sum, args[3])));
            })
            .getResult(0);
    Type resultElem = op.getResult().getType().getElementType();
    auto result = linalg::GenericOp::create(
        rewriter, loc, TypeRange{op.getResult().getType()}, ValueRange{acc},
        ValueRange{adaptor.getInit()}, SmallVector<AffineMap>{id4, id4},
        {kParallel, kParallel, kParallel, kParallel},
        [&](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(b, l, convertScalar(b, l, args[0], resultElem));
        });
    rewriter.replaceOp(op, result.getResults());
    return success();
  }
};

struct ConvertAttnToLinalgPass
    : raspc::impl::ConvertAttnToLinalgBase<ConvertAttnToLinalgPass> {
  void runOnOperation() override {
    // Custom normalizers are defined by whoever lowers them.
    WalkResult custom = getOperation().walk([](AttentionOp op) {
      if (op.getNormalizer() != Normalizer::custom)
        return WalkResult::advance();
      op.emitError() << "no pass lowered the custom normalizer '" << *op.getCustomName()
                     << "'; load the plugin that defines it (raspc --load-pass-plugin=... "
                        "--insert-before-tiling=...)";
      return WalkResult::interrupt();
    });
    if (custom.wasInterrupted())
      return signalPassFailure();
    MLIRContext *context = &getContext();
    TypeConverter converter;
    raspc::addAttnToLinalgTypeConversions(converter);
    RewritePatternSet patterns(context);
    raspc::populateAttnToLinalgPatterns(converter, patterns);
    ConversionTarget target(*context);
    target.addIllegalDialect<AttnDialect>();
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect, math::MathDialect,
                           tensor::TensorDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    if (failed(applyPartialConversion(getOperation(), target, std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void raspc::addAttnToLinalgTypeConversions(TypeConverter &converter) {
  converter.addConversion([](Type type) { return type; });
  converter.addConversion([](SelectorType type) -> Type {
    return RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                 IntegerType::get(type.getContext(), 1));
  });
}

void raspc::populateAttnToLinalgPatterns(TypeConverter &converter,
                                         RewritePatternSet &patterns) {
  patterns.add<SelectLowering, SelectorLogicLowering<AndOp>, SelectorLogicLowering<OrOp>,
               SelectorLogicLowering<NotOp>, SelectorWidthLowering, AggregateLowering,
               MaterializeLowering,
               AttentionLowering>(converter, patterns.getContext());
}

Value raspc::emitFeatureMap(OpBuilder &b, Location loc, FeatureMap map, Value x) {
  Type t = x.getType();
  switch (map) {
  case FeatureMap::elu_plus_one: { // x > 0 ? x + 1 : exp(x)
    Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x,
                                           floatConst(b, loc, t, 0.0));
    Value plusOne = arith::AddFOp::create(b, loc, x, floatConst(b, loc, t, 1.0));
    return arith::SelectOp::create(b, loc, positive, plusOne,
                                   math::ExpOp::create(b, loc, x));
  }
  case FeatureMap::relu:
    return arith::MaximumFOp::create(b, loc, x, floatConst(b, loc, t, 0.0));
  case FeatureMap::exp:
    return math::ExpOp::create(b, loc, x);
  }
  return x;
}
