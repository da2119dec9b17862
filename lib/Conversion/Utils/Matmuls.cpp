//===- Matmuls.cpp - what surrounds a model's matmul
//-----------------------===//

#include "Conversion/Utils/Matmuls.h"
#include "Conversion/Utils/GenericBodies.h"

#include "mlir/IR/Matchers.h"

using namespace mlir;

linalg::GenericOp raspc::matmulEpilogueOf(linalg::MatmulOp op) {
  Value product = op.getResult(0);
  if (!product.hasOneUse())
    return {};
  OpOperand &use = *product.getUses().begin();
  auto generic = dyn_cast<linalg::GenericOp>(use.getOwner());
  // Read as an input (an output the body ignores is not the product's).
  if (!generic || use.getOperandNumber() >= generic.getNumDpsInputs() ||
      generic.getNumLoops() != 2 || !isPerElementGeneric(generic))
    return {};
  for (OpOperand *input : generic.getDpsInputOperands())
    if (input->get() == product &&
        !generic.getMatchingIndexingMap(input).isIdentity())
      return {};
  return generic;
}

Value raspc::initialAccumulator(linalg::MatmulOp op) {
  Value init = op.getOutputs()[0];
  auto fill = init.getDefiningOp<linalg::FillOp>();
  return fill && matchPattern(fill.value(), m_AnyZeroFloat()) ? Value() : init;
}
