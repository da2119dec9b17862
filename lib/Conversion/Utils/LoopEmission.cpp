//===- LoopEmission.cpp - shared pieces of the loop-emitting lowerings -*- C++ -*-===//

#include "Conversion/Utils/LoopEmission.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

Value raspc::inlineRegion(OpBuilder &b, Region &region, ValueRange args) {
  Block &block = region.front();
  IRMapping mapping;
  for (auto [arg, value] : llvm::zip(block.getArguments(), args))
    mapping.map(arg, value);
  for (Operation &op : block.without_terminator())
    b.clone(op, mapping);
  return mapping.lookupOrDefault(block.getTerminator()->getOperand(0));
}

MemRefType raspc::dynamicStridedType(ArrayRef<int64_t> shape, Type element) {
  auto layout = StridedLayoutAttr::get(element.getContext(), ShapedType::kDynamic,
                                       SmallVector<int64_t>(shape.size(), ShapedType::kDynamic));
  return MemRefType::get(shape, element, layout);
}

Value raspc::allocateBuffer(ImplicitLocOpBuilder &b, RankedTensorType type,
                            ArrayRef<OpFoldResult> sizes) {
  SmallVector<Value> dynamic;
  for (auto [d, size] : llvm::enumerate(sizes))
    if (type.isDynamicDim(d))
      dynamic.push_back(getValueOrCreateConstantIndexOp(b, b.getLoc(), size));
  return memref::AllocOp::create(b, MemRefType::get(type.getShape(), type.getElementType()),
                                 dynamic);
}

Value raspc::readOnlyBuffer(ImplicitLocOpBuilder &b, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  return bufferization::ToBufferOp::create(
      b, dynamicStridedType(type.getShape(), type.getElementType()), tensor, /*read_only=*/true);
}

Value raspc::rowContiguousBuffer(ImplicitLocOpBuilder &b, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
  if (!strides.empty())
    strides.back() = 1;
  auto layout = StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides);
  return bufferization::ToBufferOp::create(
      b, MemRefType::get(type.getShape(), type.getElementType(), layout), tensor,
      /*read_only=*/true);
}

void raspc::emitLoop(ImplicitLocOpBuilder &b, Value lb, Value ub, Value step,
                     function_ref<void(Value)> body) {
  scf::ForOp::create(b, lb, ub, step, ValueRange{},
                     [&](OpBuilder &nested, Location, Value iv, ValueRange) {
                       OpBuilder::InsertionGuard guard(b);
                       b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
                       body(iv);
                       scf::YieldOp::create(b);
                     });
}

Operation *raspc::emitParallelTasks(ImplicitLocOpBuilder &b, Value count,
                                    function_ref<void(Value)> body) {
  Value zero = arith::ConstantIndexOp::create(b, 0), one = arith::ConstantIndexOp::create(b, 1);
  return scf::ParallelOp::create(b, ValueRange{zero}, ValueRange{count}, ValueRange{one},
                                 [&](OpBuilder &nested, Location, ValueRange ivs) {
                                   OpBuilder::InsertionGuard guard(b);
                                   b.setInsertionPoint(nested.getInsertionBlock(),
                                                       nested.getInsertionPoint());
                                   body(ivs[0]);
                                 });
}

SmallVector<Value>
raspc::emitLoop(ImplicitLocOpBuilder &b, Value lb, Value ub, Value step, ValueRange init,
                function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  auto loop = scf::ForOp::create(
      b, lb, ub, step, init, [&](OpBuilder &nested, Location, Value iv, ValueRange carried) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
        scf::YieldOp::create(b, body(iv, carried));
      });
  return SmallVector<Value>(loop.getResults());
}

void raspc::approximateMath(Operation *root, ArrayRef<StringRef> ops) {
  RewritePatternSet patterns(root->getContext());
  populateMathPolynomialApproximationPatterns(
      patterns, [&](StringRef name) { return llvm::is_contained(ops, name); });
  (void)applyPatternsGreedily(root, std::move(patterns));
}
