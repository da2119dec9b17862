//===- BF16MmaSyncToNVVM.cpp - bf16 nvgpu.mma.sync to NVVM -------*- C++ -*-===//
//
// Upstream's convert-nvgpu-to-nvvm lowers nvgpu.mma.sync on f16, tf32, f64
// and integers but cannot name bf16 operands ("failed to deduce operand PTX
// types"), although nvvm.mma.sync and the hardware (sm_80+) take them. This
// pass fills that gap with the same register mapping: every row of an A or B
// fragment (two bf16) is one 32-bit register, accumulators are f32 each.
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/BF16MmaSyncToNVVM.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace raspc {
#define GEN_PASS_DEF_CONVERTBF16MMASYNCTONVVM
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

struct BF16MmaSyncToNVVM : OpRewritePattern<nvgpu::MmaSyncOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(nvgpu::MmaSyncOp op, PatternRewriter &rewriter) const override {
    auto aType = cast<VectorType>(op.getMatrixA().getType());
    auto cType = cast<VectorType>(op.getMatrixC().getType());
    if (!aType.getElementType().isBF16() || !cType.getElementType().isF32() ||
        aType.getRank() != 2 || aType.getDimSize(1) != 2 || cType.getRank() != 2)
      return rewriter.notifyMatchFailure(op, "not a bf16 x bf16 -> f32 mma.sync");
    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type(), f32 = rewriter.getF32Type();

    // One i32 per row of two bf16 (element 0 in the low half).
    auto registers = [&](Value fragment) {
      SmallVector<Value> regs;
      auto type = cast<VectorType>(fragment.getType());
      for (int64_t row = 0; row < type.getDimSize(0); ++row) {
        Value pair = vector::ExtractOp::create(rewriter, loc, fragment, row);
        Value word = vector::BitCastOp::create(rewriter, loc, VectorType::get({1}, i32), pair);
        regs.push_back(vector::ExtractOp::create(rewriter, loc, word, 0));
      }
      return regs;
    };
    SmallVector<Value> accumulators;
    SmallVector<Type> resultTypes;
    for (int64_t i = 0; i < cType.getNumElements(); ++i) {
      accumulators.push_back(vector::ExtractOp::create(
          rewriter, loc, op.getMatrixC(),
          ArrayRef<int64_t>{i / cType.getDimSize(1), i % cType.getDimSize(1)}));
      resultTypes.push_back(f32);
    }
    SmallVector<int64_t> shape = llvm::to_vector(llvm::map_range(
        op.getMmaShape().getAsValueRange<IntegerAttr>(),
        [](const APInt &v) { return v.getSExtValue(); }));
    Value d = NVVM::MmaOp::create(
        rewriter, loc, LLVM::LLVMStructType::getLiteral(getContext(), resultTypes),
        registers(op.getMatrixA()), registers(op.getMatrixB()), accumulators, shape,
        /*b1Op=*/std::nullopt, /*intOverflow=*/std::nullopt,
        std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16, NVVM::MMATypes::bf16},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
    SmallVector<Value> elements;
    for (int64_t i = 0; i < cType.getNumElements(); ++i)
      elements.push_back(LLVM::ExtractValueOp::create(rewriter, loc, d, i));
    rewriter.replaceOpWithNewOp<vector::FromElementsOp>(op, cType, elements);
    return success();
  }
};

struct ConvertBF16MmaSyncToNVVM
    : raspc::impl::ConvertBF16MmaSyncToNVVMBase<ConvertBF16MmaSyncToNVVM> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<BF16MmaSyncToNVVM>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
