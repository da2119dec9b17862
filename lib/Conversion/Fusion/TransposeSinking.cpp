//===- TransposeSinking.cpp - transposes below elementwise ops --*- C++ -*-===//
//
// A rotary embedding applied after `heads` reads the transposed heads
// (through its operand and through tensor.extracts of the rotated partner
// element), so the transpose is a copy of its own before it. Computed in
// the untransposed layout instead, the elementwise op reads the projection
// as it is and the transpose comes after it -- where it meets the
// attention, whose GPU kernels read through it (LayoutViews.h) and the
// copy disappears.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Fusion/TransposeSinking.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace raspc {
#define GEN_PASS_DEF_SINKTRANSPOSES
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

/// An all-parallel linalg.generic G that reads T = linalg.transpose(X) as
/// it is (identity map) and perhaps by tensor.extract in its body becomes
/// G' over X's layout followed by a transpose of G''s result: with
/// T[i] = X[i o p] (p the permutation), G's loop k is G''s loop p[k].
struct SinkTransposeBelowGeneric : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op, PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics() || op.getNumDpsInits() != 1 ||
        op.getNumParallelLoops() != op.getNumLoops())
      return failure();
    OpOperand *init = op.getDpsInitOperand(0);
    if (!op.getMatchingIndexingMap(init).isIdentity() || op.payloadUsesValueFromOperand(init))
      return failure();
    OpOperand *transposed = nullptr;
    linalg::TransposeOp transpose;
    for (OpOperand *input : op.getDpsInputOperands()) {
      auto t = input->get().getDefiningOp<linalg::TransposeOp>();
      if (t && t.hasPureTensorSemantics() && op.getMatchingIndexingMap(input).isIdentity()) {
        transposed = input;
        transpose = t;
        break;
      }
    }
    if (!transposed)
      return failure();
    // Not when the transpose stays for someone else (it would be made
    // twice), nor in a matmul's epilogue (the transposed-read product would
    // not be one).
    for (Operation *user : transposed->get().getUsers())
      if (user != op && !isa<tensor::DimOp>(user) && !op->isAncestor(user))
        return failure();
    if (llvm::any_of(op.getDpsInputs(),
                     [](Value v) { return v.getDefiningOp<linalg::MatmulOp>(); }))
      return failure();
    // Inside the body only whole-index reads of T, and no other region.
    Value t = transposed->get();
    bool bodyOk = true;
    op.getRegion().walk([&](Operation *inner) {
      if (inner->getNumRegions() != 0)
        bodyOk = false;
      for (Value operand : inner->getOperands())
        if (operand == t && !isa<tensor::ExtractOp>(inner))
          bodyOk = false;
    });
    if (!bodyOk)
      return failure();

    ArrayRef<int64_t> perm = transpose.getPermutation();
    int64_t rank = perm.size();
    MLIRContext *ctx = rewriter.getContext();
    // G's loop k is G''s loop perm[k].
    SmallVector<AffineExpr> oldLoops;
    for (int64_t k = 0; k < rank; ++k)
      oldLoops.push_back(getAffineDimExpr(perm[k], ctx));
    AffineMap oldInNew = AffineMap::get(rank, 0, oldLoops, ctx);

    Location loc = op.getLoc();
    Value x = transpose.getInput();
    auto resultType = cast<RankedTensorType>(op.getResult(0).getType());
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rewriter, loc, x);
    Value empty = tensor::EmptyOp::create(rewriter, loc, sizes, resultType.getElementType());
    SmallVector<Value> inputs;
    SmallVector<AffineMap> maps;
    for (OpOperand *input : op.getDpsInputOperands()) {
      inputs.push_back(input == transposed ? x : input->get());
      maps.push_back(input == transposed ? AffineMap::getMultiDimIdentityMap(rank, ctx)
                                         : op.getMatchingIndexingMap(input).compose(oldInNew));
    }
    maps.push_back(AffineMap::getMultiDimIdentityMap(rank, ctx));
    auto sunk = linalg::GenericOp::create(
        rewriter, loc, TypeRange{empty.getType()}, inputs, ValueRange{empty}, maps,
        op.getIteratorTypesArray(), [&](OpBuilder &b, Location l, ValueRange args) {
          IRMapping mapping;
          Block &body = op.getRegion().front();
          for (auto [oldArg, newArg] : llvm::zip(body.getArguments(), args))
            mapping.map(oldArg, newArg);
          for (Operation &inner : body.without_terminator()) {
            if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
              mapping.map(index.getResult(),
                          linalg::IndexOp::create(b, l, perm[index.getDim()]).getResult());
            } else if (auto extract = dyn_cast<tensor::ExtractOp>(inner);
                       extract && extract.getTensor() == t) {
              // T[a] = X[b] with b[perm[k]] = a[k].
              SmallVector<Value> indices(rank);
              for (int64_t k = 0; k < rank; ++k)
                indices[perm[k]] = mapping.lookupOrDefault(extract.getIndices()[k]);
              mapping.map(extract.getResult(),
                          tensor::ExtractOp::create(b, l, x, indices).getResult());
            } else {
              b.clone(inner, mapping);
            }
          }
          linalg::YieldOp::create(
              b, l, mapping.lookupOrDefault(body.getTerminator()->getOperand(0)));
        });
    rewriter.replaceOpWithNewOp<linalg::TransposeOp>(op, sunk.getResult(0), init->get(), perm);
    return success();
  }
};

struct SinkTransposes : raspc::impl::SinkTransposesBase<SinkTransposes> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<SinkTransposeBelowGeneric>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
