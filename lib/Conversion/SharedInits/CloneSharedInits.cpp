//===- CloneSharedInits.cpp - one fresh init per destination ----*- C++ -*-===//
//
// CSE merges the identical `linalg.fill`s of identical `tensor.empty`s that
// every reduction starts from (a RASP program's aggregates all start their
// sums and counts from one zero tensor). Each reduction then writes a tensor
// the others read, so One-Shot Bufferize gives all but one a copy of it: a
// memcpy per use. A fresh fill per destination bufferizes in place and
// costs what the copy did. (At 1000 chained aggregates One-Shot Bufferize
// took 4.4 s before and 3.5 s after, within this machine's noise; the rest
// of its time is elsewhere.)
//
//===----------------------------------------------------------------------===//

#include "Conversion/SharedInits/CloneSharedInits.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"

namespace raspc {
#define GEN_PASS_DEF_CLONESHAREDINITS
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

/// A fresh tensor: `tensor.empty`, or a `linalg.fill` of one.
bool isFreshInit(Operation *op) {
  if (isa<tensor::EmptyOp>(op))
    return true;
  auto fill = dyn_cast<linalg::FillOp>(op);
  return fill && fill.hasPureTensorSemantics() &&
         fill.getOutputs()[0].getDefiningOp<tensor::EmptyOp>();
}

struct CloneSharedInits : raspc::impl::CloneSharedInitsBase<CloneSharedInits> {
  void runOnOperation() override {
    SmallVector<Operation *> inits;
    getOperation()->walk([&](Operation *op) {
      if (isFreshInit(op) && !op->getResult(0).hasOneUse())
        inits.push_back(op);
    });
    for (Operation *init : inits) {
      // Every destination operand gets a copy of its own, made just before
      // its user; the original keeps the reads (which then see it
      // unwritten) or goes.
      for (OpOperand &use : llvm::make_early_inc_range(init->getResult(0).getUses())) {
        auto user = dyn_cast<DestinationStyleOpInterface>(use.getOwner());
        if (!user || !user.isDpsInit(&use))
          continue;
        OpBuilder b(use.getOwner());
        Operation *copy = b.clone(*init);
        if (auto fill = dyn_cast<linalg::FillOp>(copy)) {
          Operation *empty = b.clone(*fill.getOutputs()[0].getDefiningOp());
          empty->moveBefore(copy);
          fill.getOutputsMutable()[0].set(empty->getResult(0));
        }
        use.set(copy->getResult(0));
      }
      if (init->use_empty()) {
        Operation *empty = isa<linalg::FillOp>(init)
                               ? init->getOperand(1).getDefiningOp()
                               : nullptr;
        init->erase();
        if (empty && empty->use_empty())
          empty->erase();
      }
    }
  }
};

} // namespace
