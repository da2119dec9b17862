//===- MatmulProducts.cpp - what each matmul kernel computes --------------===//

#include "Conversion/GPU/MatmulProducts.h"

#include "mlir/IR/Dominance.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;

Operation *raspc::launchPoint(ArrayRef<MatmulProduct> products) {
  Operation *first = products.front().replaced();
  for (const MatmulProduct &product : products.drop_front())
    if (product.replaced()->isBeforeInBlock(first))
      first = product.replaced();
  return first;
}

namespace {

/// The product of `ops` the epilogue of `op` reads beside `op`'s, to be
/// computed in the same tiles, or null: both of one A, the same K and N
/// (B's types; a dynamic N too, as the epilogue's identity maps tie both
/// to its loops), zero accumulators, each read only by that epilogue, as
/// it is.
linalg::MatmulOp pairedPartner(linalg::MatmulOp op, ArrayRef<linalg::MatmulOp> ops) {
  linalg::GenericOp epilogue = raspc::matmulEpilogueOf(op);
  if (!epilogue || raspc::initialAccumulator(op))
    return {};
  linalg::MatmulOp partner;
  for (OpOperand *input : epilogue.getDpsInputOperands()) {
    auto other = input->get().getDefiningOp<linalg::MatmulOp>();
    if (!other || other == op)
      continue;
    if (partner || !llvm::is_contained(ops, other) || raspc::matmulEpilogueOf(other) != epilogue ||
        raspc::initialAccumulator(other) || other.getInputs()[0] != op.getInputs()[0] ||
        other.getInputs()[1].getType() != op.getInputs()[1].getType() ||
        !epilogue.getMatchingIndexingMap(input).isIdentity())
      return {};
    partner = other;
  }
  return partner;
}

} // namespace

SmallVector<SmallVector<raspc::MatmulProduct>>
raspc::planMatmulLaunches(ArrayRef<linalg::MatmulOp> ops, DominanceInfo &dominance) {
  SmallVector<SmallVector<MatmulProduct>> launches;
  auto readsAProduct = [](linalg::GenericOp epilogue, Value own) {
    return llvm::any_of(epilogue.getDpsInputs(), [&](Value input) {
      return input != own && input.getDefiningOp<linalg::MatmulOp>();
    });
  };
  // The operands a product's kernel reads besides A: B, the initial
  // accumulator (not a zero one: its fill may come later), the epilogue's
  // other inputs and the values its body uses from outside.
  auto operands = [](MatmulProduct product) {
    SmallVector<Value> values{product.op.getInputs()[1]};
    if (Value init = initialAccumulator(product.op))
      values.push_back(init);
    if (product.epilogue) {
      for (Value input : product.epilogue.getDpsInputs())
        if (input != product.op.getResult(0))
          values.push_back(input);
      SetVector<Value> captured;
      getUsedValuesDefinedAbove(product.epilogue.getRegion(), captured);
      llvm::append_range(values, captured);
    }
    return values;
  };
  auto computedBefore = [&](MatmulProduct product, Operation *point) {
    return llvm::all_of(operands(product),
                        [&](Value v) { return dominance.properlyDominates(v, point); });
  };
  // Launches of one product that reads another: nothing joins them.
  DenseSet<size_t> closed;
  // Products computed beside the one whose epilogue reads them.
  DenseSet<Operation *> partners;
  for (linalg::MatmulOp op : ops) {
    if (partners.contains(op))
      continue;
    MatmulProduct product{op, matmulEpilogueOf(op), pairedPartner(op, ops)};
    if (product.partner)
      partners.insert(product.partner);
    bool alone = product.epilogue && readsAProduct(product.epilogue, op.getResult(0));
    SmallVector<MatmulProduct> *shared = nullptr;
    for (auto [index, launch] : llvm::enumerate(launches)) {
      MatmulProduct first = launch.front();
      if (alone || product.partner || closed.contains(index) ||
          first.op.getInputs()[0] != op.getInputs()[0] ||
          first.replaced()->getBlock() != product.replaced()->getBlock())
        continue;
      // Where the launch would go with this product too.
      Operation *point = launchPoint(launch);
      if (product.replaced()->isBeforeInBlock(point))
        point = product.replaced();
      if (computedBefore(product, point) &&
          llvm::all_of(launch, [&](MatmulProduct m) { return computedBefore(m, point); })) {
        shared = &launch;
        break;
      }
    }
    if (shared) {
      shared->push_back(product);
      continue;
    }
    if (alone || product.partner)
      closed.insert(launches.size());
    launches.push_back({product});
  }
  return launches;
}
