//===- ExpandBF16.cpp - bf16 conversions as integer arithmetic --*- C++ -*-===//

#include "Conversion/ExpandBF16/ExpandBF16.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace raspc {
#define GEN_PASS_DEF_EXPANDBF16CONVERSIONS
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

struct ExpandBF16Conversions
    : raspc::impl::ExpandBF16ConversionsBase<ExpandBF16Conversions> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    arith::populateExpandBFloat16Patterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
