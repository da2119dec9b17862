//===- LayoutViews.cpp - kernels that read and write through transposes -*- C++ -*-===//

#include "Conversion/GPU/LayoutViews.h"
#include "Conversion/Utils/LoopEmission.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"

using namespace mlir;

namespace {

linalg::TransposeOp tensorTranspose(Operation *op) {
  auto transpose = dyn_cast_or_null<linalg::TransposeOp>(op);
  return transpose && transpose.hasPureTensorSemantics() ? transpose : nullptr;
}

/// `view` transposed: result dimension i is `view`'s dimension
/// `permutation[i]`.
Value transposed(ImplicitLocOpBuilder &b, Value view, ArrayRef<int64_t> permutation) {
  auto map = AffineMap::getPermutationMap(
      SmallVector<unsigned>(permutation.begin(), permutation.end()), b.getContext());
  return memref::TransposeOp::create(b, view, AffineMapAttr::get(map));
}

/// `view` expanded as `reassociation` says, to `shape`, or null where the
/// strided layout cannot say it.
Value expanded(ImplicitLocOpBuilder &b, Value view, ArrayRef<ReassociationIndices> reassociation,
               ArrayRef<int64_t> shape, ArrayRef<OpFoldResult> sizes) {
  FailureOr<MemRefType> type = memref::ExpandShapeOp::computeExpandedType(
      cast<MemRefType>(view.getType()), shape, reassociation);
  if (failed(type))
    return nullptr;
  // Static sizes as attributes, as the op's verifier wants them.
  SmallVector<OpFoldResult> mixed;
  for (auto [size, value] : llvm::zip(shape, sizes))
    mixed.push_back(ShapedType::isDynamic(size) ? value : OpFoldResult(b.getIndexAttr(size)));
  return memref::ExpandShapeOp::create(b, *type, view, reassociation, mixed);
}


} // namespace

Value raspc::readThroughLayoutOps(ImplicitLocOpBuilder &b, Value tensor) {
  SmallVector<Operation *> chain;
  Value source = tensor;
  for (;;) {
    Operation *op = source.getDefiningOp();
    if (auto expand = dyn_cast_or_null<tensor::ExpandShapeOp>(op))
      source = expand.getSrc();
    else if (linalg::TransposeOp transpose = tensorTranspose(op))
      source = transpose.getInput();
    else
      break;
    chain.push_back(op);
  }
  if (llvm::none_of(chain, [](Operation *op) { return tensorTranspose(op); }))
    return readOnlyBuffer(b, tensor);

  Value view = readOnlyBuffer(b, source);
  for (Operation *op : llvm::reverse(chain)) {
    if (linalg::TransposeOp transpose = tensorTranspose(op)) {
      view = transposed(b, view, transpose.getPermutation());
      continue;
    }
    auto expand = cast<tensor::ExpandShapeOp>(op);
    view = expanded(b, view, expand.getReassociationIndices(), expand.getResultType().getShape(),
                    expand.getMixedOutputShape());
    if (!view)
      return readOnlyBuffer(b, tensor);
  }
  auto type = cast<MemRefType>(view.getType());
  return memref::CastOp::create(b, dynamicStridedType(type.getShape(), type.getElementType()),
                                view);
}

/// The one user of `v` that is not a tensor.dim with a constant index, if
/// there is one and only one.
static Operation *onlyUserButDims(Value v) {
  Operation *only = nullptr;
  for (Operation *user : v.getUsers()) {
    auto dim = dyn_cast<tensor::DimOp>(user);
    if (dim && dim.getSource() == v && getConstantIntValue(dim.getIndex()))
      continue;
    if (only)
      return nullptr;
    only = user;
  }
  return only;
}

SmallVector<Operation *> raspc::layoutChainOf(Value result) {
  SmallVector<Operation *> chain;
  for (Value v = result;;) {
    Operation *user = onlyUserButDims(v);
    if (auto collapse = dyn_cast_or_null<tensor::CollapseShapeOp>(user))
      v = collapse.getResult();
    else if (linalg::TransposeOp transpose = tensorTranspose(user);
             transpose && transpose.getInput() == v)
      v = transpose.getResult()[0];
    else
      break;
    chain.push_back(user);
  }
  if (llvm::none_of(chain, [](Operation *op) { return tensorTranspose(op); }))
    chain.clear();
  return chain;
}

raspc::ResultBuffer raspc::allocateThroughLayoutOps(ImplicitLocOpBuilder &b, Value result,
                                                     ArrayRef<OpFoldResult> sizes) {
  auto resultType = cast<RankedTensorType>(result.getType());
  SmallVector<Operation *> chain = layoutChainOf(result);
  if (chain.empty()) {
    Value buffer = allocateBuffer(b, resultType, sizes);
    return {buffer, buffer, {}, {}};
  }

  // The sizes of each value along the chain, then the final buffer viewed
  // back through the inverse of each op.
  SmallVector<SmallVector<OpFoldResult>> shapes{SmallVector<OpFoldResult>(sizes)};
  for (Operation *op : chain) {
    ArrayRef<OpFoldResult> in = shapes.back();
    SmallVector<OpFoldResult> out;
    if (linalg::TransposeOp transpose = tensorTranspose(op)) {
      for (int64_t d : transpose.getPermutation())
        out.push_back(in[d]);
    } else {
      for (const ReassociationIndices &group :
           cast<tensor::CollapseShapeOp>(op).getReassociationIndices()) {
        OpFoldResult product = b.getIndexAttr(1);
        for (int64_t d : group) {
          std::optional<int64_t> x = getConstantIntValue(product), y = getConstantIntValue(in[d]);
          product = x && y ? OpFoldResult(b.getIndexAttr(*x * *y))
                           : OpFoldResult(arith::MulIOp::create(
                                 b, getValueOrCreateConstantIndexOp(b, b.getLoc(), product),
                                 getValueOrCreateConstantIndexOp(b, b.getLoc(), in[d])));
        }
        out.push_back(product);
      }
    }
    shapes.push_back(out);
  }
  auto finalType = cast<RankedTensorType>(chain.back()->getResult(0).getType());
  Value buffer = allocateBuffer(b, finalType, shapes.back());
  Value view = buffer;
  for (int64_t i = static_cast<int64_t>(chain.size()) - 1; i >= 0; --i) {
    Operation *op = chain[i];
    auto before = cast<RankedTensorType>(op->getOperand(0).getType());
    if (linalg::TransposeOp transpose = tensorTranspose(op)) {
      view = transposed(b, view, invertPermutationVector(transpose.getPermutation()));
      continue;
    }
    view = expanded(b, view, cast<tensor::CollapseShapeOp>(op).getReassociationIndices(),
                    before.getShape(), shapes[i]);
    if (!view) {
      // Not expected (expanding a strided dimension needs no contiguity);
      // without the view, no chain.
      Value plain = allocateBuffer(b, resultType, sizes);
      return {plain, plain, {}, {}};
    }
  }
  shapes.pop_back();
  return {buffer, view, chain, shapes};
}

void raspc::replaceThroughLayoutOps(Value result, Value tensor, const ResultBuffer &written) {
  // Sizes asked of the values the chain computed are known: they were
  // needed for the buffer (and were computed before the kernel, so they
  // dominate every use of those values).
  for (auto [i, shape] : llvm::enumerate(written.shapes)) {
    Value v = i == 0 ? result : written.chain[i - 1]->getResult(0);
    for (Operation *user : llvm::make_early_inc_range(v.getUsers()))
      if (auto dim = dyn_cast<tensor::DimOp>(user)) {
        OpBuilder b(dim);
        dim.replaceAllUsesWith(getValueOrCreateConstantIndexOp(
            b, dim.getLoc(), shape[*getConstantIntValue(dim.getIndex())]));
        dim.erase();
      }
  }
  Value replaced = written.chain.empty() ? result : written.chain.back()->getResult(0);
  replaced.replaceAllUsesWith(tensor);
  for (Operation *op : llvm::reverse(written.chain))
    op->erase();
  result.getDefiningOp()->erase();
}
