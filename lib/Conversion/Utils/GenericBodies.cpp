//===- GenericBodies.cpp - linalg.generic bodies evaluated in kernels -*- C++ -*-===//

#include "Conversion/Utils/GenericBodies.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;

bool raspc::hasScalarBody(linalg::GenericOp op) {
  auto scalar = [](Type t) { return t.isIntOrIndexOrFloat(); };
  for (Operation &inner : op.getRegion().front().without_terminator())
    if (!isa<linalg::IndexOp>(inner) &&
        (!isa<arith::ArithDialect, math::MathDialect>(inner.getDialect()) ||
         inner.getNumRegions() != 0 || !llvm::all_of(inner.getOperandTypes(), scalar) ||
         !llvm::all_of(inner.getResultTypes(), scalar)))
      return false;
  return true;
}

bool raspc::isPerElementGeneric(linalg::GenericOp op) {
  if (!op.hasPureTensorSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumParallelLoops() != op.getNumLoops())
    return false;
  OpOperand *init = op.getDpsInitOperand(0);
  return llvm::all_of(op.getDpsInputs(),
                      [](Value v) { return isa<RankedTensorType>(v.getType()); }) &&
         op.getMatchingIndexingMap(init).isIdentity() && !op.payloadUsesValueFromOperand(init) &&
         llvm::all_of(op.getIndexingMapsArray(),
                      [](AffineMap map) { return map.isProjectedPermutation(); }) &&
         hasScalarBody(op);
}

void raspc::emitBodyAt(ImplicitLocOpBuilder &b, linalg::GenericOp op, ArrayRef<Value> point,
                       function_ref<Value(OpOperand &, ArrayRef<Value>)> input,
                       IRMapping &mapping, Operation *stopBefore) {
  Block &body = op.getRegion().front();
  for (OpOperand *operand : op.getDpsInputOperands()) {
    SmallVector<Value> indices;
    for (AffineExpr e : op.getMatchingIndexingMap(operand).getResults())
      indices.push_back(point[cast<AffineDimExpr>(e).getPosition()]);
    mapping.map(body.getArgument(operand->getOperandNumber()), input(*operand, indices));
  }
  for (Operation &inner : body.without_terminator()) {
    if (&inner == stopBefore)
      break;
    if (auto index = dyn_cast<linalg::IndexOp>(inner))
      mapping.map(index.getResult(), point[index.getDim()]);
    else
      b.clone(inner, mapping);
  }
}
