//===- SinkhornPlugin.cpp - Sinkhorn attention as a raspc pass plugin -----===//
//
// An attention variant that raspc does not know, added from outside.
// `aggregate(s, v, custom(sinkhorn))` reaches the pipeline as
//
//   attn.attention custom "sinkhorn" ins(%q, %k, %v ...) outs(%init ...)
//     mask {...} score {...}
//
// and this plugin's pass, `attn-lower-sinkhorn`, run at raspc's
// "before tiling" insertion point, lowers it to linalg on tensors:
//
//   S = score(q . k) where the mask keeps a key, -inf elsewhere
//   P = exp(S - rowmax(S)), rows normalized          (softmax)
//   repeat `iterations` times: normalize the columns of P, then its rows
//   out = P . v
//
// so that the weights are (nearly) doubly stochastic, as in Sinkformers.
// Rows or columns with nothing visible stay zero.
//
// The pass works on the generic Operation API (operand, region and
// attribute positions documented in raspc's attn dialect reference), so it
// links nothing from raspc but libMLIR.so: the same plugin loads into
// `raspc`, `raspc run` and `rasp-opt`.
//
//===----------------------------------------------------------------------===//

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Tools/Plugins/PassPlugin.h"

using namespace mlir;
using utils::IteratorType;

namespace {

// attn.attention's operands and regions, by position.
enum { kQuery, kKey, kValue, kInit };
enum { kMaskRegion, kScoreRegion };

/// Clones the single-block `region` at the builder with `args` for its
/// block arguments; returns what its terminator yields.
Value inlineRegion(OpBuilder &b, Region &region, ValueRange args) {
  Block &block = region.front();
  IRMapping map;
  map.map(block.getArguments(), args);
  for (Operation &op : block.without_terminator())
    b.clone(op, map);
  return map.lookupOrDefault(block.getTerminator()->getOperand(0));
}

struct Lowering {
  OpBuilder &b;
  Location loc;
  Type f32;
  SmallVector<OpFoldResult> scoreSizes; // [B, H, Lq, Lk]

  AffineMap map(unsigned dims, ArrayRef<AffineExpr> results) {
    return AffineMap::get(dims, 0, results, b.getContext());
  }
  Value empty(ArrayRef<OpFoldResult> sizes) { return tensor::EmptyOp::create(b, loc, sizes, f32); }
  Value filled(ArrayRef<OpFoldResult> sizes, double v) {
    Value c = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
    return linalg::FillOp::create(b, loc, c, empty(sizes)).getResult(0);
  }
  Value generic(ValueRange ins, Value init, ArrayRef<AffineMap> maps,
                ArrayRef<IteratorType> iterators,
                function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    return linalg::GenericOp::create(
               b, loc, TypeRange{init.getType()}, ins, ValueRange{init}, maps, iterators,
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 linalg::YieldOp::create(nb, l, body(nb, l, args));
               })
        .getResult(0);
  }

  /// Sums of `p` [B, H, Lq, Lk] over keys (byRows) or queries, then p
  /// divided by them; a zero sum leaves zeros.
  Value normalize(Value p, bool byRows) {
    AffineExpr d0 = b.getAffineDimExpr(0), d1 = b.getAffineDimExpr(1),
               d2 = b.getAffineDimExpr(2), d3 = b.getAffineDimExpr(3);
    SmallVector<OpFoldResult> sumSizes = {scoreSizes[0], scoreSizes[1],
                                          byRows ? scoreSizes[2] : scoreSizes[3]};
    AffineMap id = map(4, {d0, d1, d2, d3});
    AffineMap sumMap = map(4, {d0, d1, byRows ? d2 : d3});
    auto par = IteratorType::parallel, red = IteratorType::reduction;
    SmallVector<IteratorType> sumIterators =
        byRows ? SmallVector<IteratorType>{par, par, par, red}
               : SmallVector<IteratorType>{par, par, red, par};
    Value sums = generic(p, filled(sumSizes, 0.0), {id, sumMap}, sumIterators,
                         [](OpBuilder &nb, Location l, ValueRange a) {
                           return arith::AddFOp::create(nb, l, a[0], a[1]).getResult();
                         });
    return generic({p, sums}, empty(scoreSizes), {id, sumMap, id}, {par, par, par, par},
                   [&](OpBuilder &nb, Location l, ValueRange a) {
                     Value zero = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0.0));
                     Value positive =
                         arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, a[1], zero);
                     Value q = arith::DivFOp::create(nb, l, a[0], a[1]);
                     return arith::SelectOp::create(nb, l, positive, q, zero).getResult();
                   });
  }
};

struct LowerSinkhornPass
    : public PassWrapper<LowerSinkhornPass, InterfacePass<FunctionOpInterface>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LowerSinkhornPass)

  LowerSinkhornPass() = default;
  LowerSinkhornPass(const LowerSinkhornPass &other) : PassWrapper(other) {}

  StringRef getArgument() const final { return "attn-lower-sinkhorn"; }
  StringRef getDescription() const final {
    return "Lowers attn.attention custom \"sinkhorn\" (Sinkhorn-normalized, doubly "
           "stochastic attention) to linalg on tensors";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<arith::ArithDialect, linalg::LinalgDialect, math::MathDialect,
                    tensor::TensorDialect>();
  }

  Option<int> iterations{*this, "iterations",
                         llvm::cl::desc("Column-then-row normalizations after the softmax"),
                         llvm::cl::init(3)};

  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      auto name = op->getAttrOfType<StringAttr>("custom_name");
      if (op->getName().getStringRef() == "attn.attention" && name && name == "sinkhorn")
        ops.push_back(op);
    });
    for (Operation *op : ops)
      if (failed(lower(op)))
        return signalPassFailure();
  }

  LogicalResult lower(Operation *op) {
    auto qType = cast<RankedTensorType>(op->getOperand(kQuery).getType());
    auto kType = cast<RankedTensorType>(op->getOperand(kKey).getType());
    Type f32 = Float32Type::get(op->getContext());
    if (qType.getElementType() != f32 || kType.getElementType() != f32 ||
        cast<RankedTensorType>(op->getResult(0).getType()).getElementType() != f32)
      return op->emitError("custom(sinkhorn) is implemented for f32 only");
    if (qType.isDynamicDim(1) || kType.isDynamicDim(1))
      return op->emitError("custom(sinkhorn) needs static head counts");
    int64_t group = qType.getDimSize(1) / kType.getDimSize(1);

    OpBuilder b(op);
    Location loc = op->getLoc();
    Value q = op->getOperand(kQuery), k = op->getOperand(kKey), v = op->getOperand(kValue);
    auto dim = [&](Value t, int64_t i) -> OpFoldResult {
      auto type = cast<RankedTensorType>(t.getType());
      if (!type.isDynamicDim(i))
        return b.getIndexAttr(type.getDimSize(i));
      return tensor::DimOp::create(b, loc, t, i).getResult();
    };
    Lowering lw{b, loc, f32, {dim(q, 0), dim(q, 1), dim(q, 2), dim(k, 2)}};
    AffineExpr d0 = b.getAffineDimExpr(0), d1 = b.getAffineDimExpr(1),
               d2 = b.getAffineDimExpr(2), d3 = b.getAffineDimExpr(3),
               d4 = b.getAffineDimExpr(4);
    AffineExpr keyHead = group == 1 ? d1 : d1.floorDiv(group);
    auto par = IteratorType::parallel, red = IteratorType::reduction;

    // S[b, h, i, j] = sum_d q[b, h, i, d] k[b, h / g, j, d]
    Value dots = lw.generic(
        {q, k}, lw.filled(lw.scoreSizes, 0.0),
        {lw.map(5, {d0, d1, d2, d4}), lw.map(5, {d0, keyHead, d3, d4}),
         lw.map(5, {d0, d1, d2, d3})},
        {par, par, par, par, red}, [](OpBuilder &nb, Location l, ValueRange a) {
          Value prod = arith::MulFOp::create(nb, l, a[0], a[1]);
          return arith::AddFOp::create(nb, l, a[2], prod).getResult();
        });
    // Score modifier and mask: hidden keys score -inf.
    AffineMap id = lw.map(4, {d0, d1, d2, d3});
    Region &maskRegion = op->getRegion(kMaskRegion), &scoreRegion = op->getRegion(kScoreRegion);
    Value scores = lw.generic(dots, lw.empty(lw.scoreSizes), {id, id}, {par, par, par, par},
                              [&](OpBuilder &nb, Location l, ValueRange a) {
                                SmallVector<Value> pos;
                                for (int64_t i = 0; i < 4; ++i)
                                  pos.push_back(linalg::IndexOp::create(nb, l, i));
                                Value s = a[0];
                                if (!scoreRegion.empty())
                                  s = inlineRegion(nb, scoreRegion,
                                                   {s, pos[0], pos[1], pos[2], pos[3]});
                                if (maskRegion.empty())
                                  return s;
                                Value keep = inlineRegion(nb, maskRegion, pos);
                                Value negInf = arith::ConstantOp::create(
                                    nb, l, nb.getF32FloatAttr(-INFINITY));
                                return arith::SelectOp::create(nb, l, keep, s, negInf)
                                    .getResult();
                              });
    // P = exp(S - rowmax), with rows that see nothing at 0.
    SmallVector<OpFoldResult> rowSizes = {lw.scoreSizes[0], lw.scoreSizes[1], lw.scoreSizes[2]};
    AffineMap rowMap = lw.map(4, {d0, d1, d2});
    Value rowMax = lw.generic(scores, lw.filled(rowSizes, -INFINITY), {id, rowMap},
                              {par, par, par, red}, [](OpBuilder &nb, Location l, ValueRange a) {
                                return arith::MaximumFOp::create(nb, l, a[0], a[1]).getResult();
                              });
    Value p = lw.generic({scores, rowMax}, lw.empty(lw.scoreSizes), {id, rowMap, id},
                         {par, par, par, par}, [](OpBuilder &nb, Location l, ValueRange a) {
                           Value negInf =
                               arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(-INFINITY));
                           Value zero = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0));
                           Value empty = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ,
                                                               a[1], negInf);
                           Value base = arith::SelectOp::create(nb, l, empty, zero, a[1]);
                           return math::ExpOp::create(
                                      nb, l, arith::SubFOp::create(nb, l, a[0], base))
                               .getResult();
                         });
    p = lw.normalize(p, /*byRows=*/true);
    for (int i = 0; i < iterations; ++i)
      p = lw.normalize(lw.normalize(p, /*byRows=*/false), /*byRows=*/true);
    // out[b, h, i, e] = sum_j P[b, h, i, j] v[b, h / g, j, e]
    Value init = op->getOperand(kInit);
    SmallVector<OpFoldResult> outSizes = {dim(init, 0), dim(init, 1), dim(init, 2), dim(init, 3)};
    Value out = lw.generic(
        {p, v}, lw.filled(outSizes, 0.0),
        {lw.map(5, {d0, d1, d2, d4}), lw.map(5, {d0, keyHead, d4, d3}),
         lw.map(5, {d0, d1, d2, d3})},
        {par, par, par, par, red}, [](OpBuilder &nb, Location l, ValueRange a) {
          Value prod = arith::MulFOp::create(nb, l, a[0], a[1]);
          return arith::AddFOp::create(nb, l, a[2], prod).getResult();
        });
    op->getResult(0).replaceAllUsesWith(out);
    op->erase();
    return success();
  }
};

} // namespace

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "SinkhornAttention", LLVM_VERSION_STRING,
          []() { PassRegistration<LowerSinkhornPass>(); }};
}
