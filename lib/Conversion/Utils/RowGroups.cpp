//===- RowGroups.cpp - norms as groups of row reductions ------------------===//

#include "Conversion/Utils/RowGroups.h"
#include "Conversion/Utils/GenericBodies.h"
#include "Conversion/Utils/LoopEmission.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/TypeUtilities.h"

#include <limits>

using namespace mlir;

std::optional<raspc::Combiner> raspc::matchCombiner(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  BlockArgument acc = body.getArguments().back();
  Value yielded = body.getTerminator()->getOperand(0);
  Operation *combine = yielded.getDefiningOp();
  if (!combine || combine->getBlock() != &body ||
      !isa<arith::AddFOp, arith::MaximumFOp, arith::MinimumFOp, arith::MaxNumFOp,
           arith::MinNumFOp>(combine) ||
      !acc.hasOneUse())
    return std::nullopt;
  if (combine->getOperand(0) == acc)
    return Combiner{combine, 1};
  if (combine->getOperand(1) == acc)
    return Combiner{combine, 0};
  return std::nullopt;
}

double raspc::combinerIdentity(Operation *combine) {
  if (isa<arith::AddFOp>(combine))
    return 0.0;
  if (isa<arith::MaximumFOp, arith::MaxNumFOp>(combine))
    return -std::numeric_limits<double>::infinity();
  return std::numeric_limits<double>::infinity();
}

Value raspc::combine(ImplicitLocOpBuilder &b, const Combiner &combiner, Value x, Value y) {
  OperationState state(b.getLoc(), combiner.op->getName());
  state.addOperands({x, y});
  state.addTypes(x.getType());
  state.addAttributes(combiner.op->getAttrs());
  return b.create(state)->getResult(0);
}

bool raspc::isRowMap(AffineMap map) {
  unsigned rank = map.getNumDims();
  return map.getNumResults() == rank - 1 &&
         llvm::all_of(llvm::enumerate(map.getResults()), [](auto pair) {
           auto dim = dyn_cast<AffineDimExpr>(pair.value());
           return dim && dim.getPosition() == pair.index();
         });
}

bool raspc::isRowReduction(linalg::GenericOp op) {
  if (!op.hasPureTensorSemantics() || op.getNumDpsInits() != 1 || op.getNumLoops() < 2 ||
      !llvm::all_of(op.getDpsInputs(), [](Value v) { return isa<RankedTensorType>(v.getType()); }))
    return false;
  auto iterators = op.getIteratorTypesArray();
  if (iterators.back() != utils::IteratorType::reduction ||
      llvm::any_of(ArrayRef(iterators).drop_back(),
                   [](utils::IteratorType t) { return t != utils::IteratorType::parallel; }))
    return false;
  // The result: the rows' dimensions in order; every operand indexed by
  // plain loop dimensions (a projected permutation).
  if (!isRowMap(op.getMatchingIndexingMap(op.getDpsInitOperand(0))))
    return false;
  if (!llvm::all_of(op.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isProjectedPermutation(); }))
    return false;
  if (!cast<RankedTensorType>(op.getResult(0).getType()).getElementType().isF32())
    return false;
  return hasScalarBody(op) && matchCombiner(op).has_value();
}

SmallVector<linalg::GenericOp>
raspc::rowGroupOf(linalg::GenericOp consumer, function_ref<bool(linalg::GenericOp)> accept) {
  if (consumer.getNumLoops() < 2 || !isPerElementGeneric(consumer) || !accept(consumer))
    return {};
  SmallVector<linalg::GenericOp> group{consumer};
  for (size_t i = 0; i < group.size(); ++i) {
    linalg::GenericOp op = group[i];
    for (OpOperand *input : op.getDpsInputOperands()) {
      auto producer = input->get().getDefiningOp<linalg::GenericOp>();
      if (!producer || !isRowMap(op.getMatchingIndexingMap(input)) ||
          producer.getNumLoops() != consumer.getNumLoops() ||
          producer->getBlock() != consumer->getBlock() || !isRowReduction(producer) ||
          !accept(producer) || llvm::is_contained(group, producer))
        continue;
      group.push_back(producer);
    }
  }
  if (group.size() == 1)
    return {};
  // A reduction's value is in a register, its row's only: every use must
  // read it per row, as an input of the group.
  for (linalg::GenericOp op : ArrayRef(group).drop_front())
    for (OpOperand &use : op->getResult(0).getUses()) {
      auto user = dyn_cast<linalg::GenericOp>(use.getOwner());
      if (!user || !llvm::is_contained(group, user) || !user.isDpsInput(&use) ||
          !isRowMap(user.getMatchingIndexingMap(&use)))
        return {};
    }
  llvm::sort(group, [](linalg::GenericOp x, linalg::GenericOp y) {
    return x->isBeforeInBlock(y);
  });
  return group;
}

raspc::ReductionInit raspc::reductionInit(ImplicitLocOpBuilder &b, linalg::GenericOp op) {
  Value init = op.getDpsInits()[0];
  auto fill = init.getDefiningOp<linalg::FillOp>();
  if (fill && fill.value().getType() == getElementTypeOrSelf(init.getType()))
    return {fill.value(), Value()};
  return {Value(), readOnlyBuffer(b, init)};
}
