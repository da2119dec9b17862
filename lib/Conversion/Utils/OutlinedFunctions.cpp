//===- OutlinedFunctions.cpp - one function per distinct body ---*- C++ -*-===//

#include "Conversion/Utils/OutlinedFunctions.h"

#include "mlir/IR/OperationSupport.h"

using namespace mlir;

func::FuncOp raspc::OutlinedFunctions::findEquivalent(func::FuncOp body) {
  unsigned size = 0;
  body.walk([&](Operation *) { ++size; });
  SmallVector<func::FuncOp> &same = bySize[size];
  for (func::FuncOp earlier : same)
    if (earlier.getFunctionType() == body.getFunctionType() &&
        OperationEquivalence::isRegionEquivalentTo(&earlier.getBody(), &body.getBody(),
                                                   OperationEquivalence::IgnoreLocations))
      return earlier;
  same.push_back(body);
  return {};
}
