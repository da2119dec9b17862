//===- ElementwiseFusion.cpp - fuse chains of elementwise ops ---*- C++ -*-===//
//
// Upstream's producer-into-consumer fusion of linalg.generic ops, without
// the reshape propagation that upstream's linalg-fuse-elementwise-ops pass
// adds: that would move a `heads` expand_shape above the elementwise ops
// that finish a projection and leave rank-3 generics where the kernels
// that take a matmul's epilogue look for rank-2 ones.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Fusion/ElementwiseFusion.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace raspc {
#define GEN_PASS_DEF_FUSEELEMENTWISEOPS
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

/// The operations in `op`'s body, counted up to `limit` + 1 (a body's
/// size is not stored, and a long chain's bodies are long).
unsigned bodyOps(Operation *op, unsigned limit) {
  unsigned count = 0;
  for (Region &region : op->getRegions())
    for (Block &block : region)
      for (Operation &inner : block) {
        (void)inner;
        if (++count > limit)
          return count;
      }
  return count;
}

struct FuseElementwiseOps : raspc::impl::FuseElementwiseOpsBase<FuseElementwiseOps> {
  using FuseElementwiseOpsBase::FuseElementwiseOpsBase;
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    RewritePatternSet patterns(context);
    // A producer with other users would be computed twice; bodies past the
    // cap would make long chains quadratic to fuse.
    unsigned cap = maxBodyOps;
    linalg::populateElementwiseOpsFusionPatterns(patterns, [cap](OpOperand *fused) {
      Operation *producer = fused->get().getDefiningOp();
      if (!producer || !producer->hasOneUse())
        return false;
      return bodyOps(producer, cap) + bodyOps(fused->getOwner(), cap) <= cap;
    });
    // A tensor.dim of a producer's result is a use too: it becomes the dim
    // of what the result's shape comes from.
    memref::populateResolveRankedShapedTypeResultDimsPatterns(patterns);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, context);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
