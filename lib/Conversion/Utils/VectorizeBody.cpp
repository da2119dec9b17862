//===- VectorizeBody.cpp - scalar bodies evaluated on vectors
//--------------===//

#include "Conversion/Utils/VectorizeBody.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;

bool raspc::isVectorizable(Region &region) {
  if (region.empty())
    return true;
  return !region.front()
              .walk([](Operation *op) {
                return op->getNumRegions() == 0 ? WalkResult::advance()
                                                : WalkResult::interrupt();
              })
              .wasInterrupted();
}

Value raspc::vectorizeBlock(ImplicitLocOpBuilder &b, Block &block,
                            ArrayRef<Value> args, int64_t width) {
  auto splat = [&](Value scalar) -> Value {
    return vector::BroadcastOp::create(
        b, VectorType::get({width}, scalar.getType()), scalar);
  };
  IRMapping map;
  for (auto [arg, value] : llvm::zip(block.getArguments(), args))
    map.map(arg, value);
  auto isVarying = [&](Value v) {
    return isa<VectorType>(map.lookupOrDefault(v).getType());
  };
  for (Operation &inner : block.without_terminator()) {
    if (llvm::none_of(inner.getOperands(), isVarying)) {
      b.clone(inner, map);
      continue;
    }
    SmallVector<Type> vectorTypes;
    for (Type t : inner.getResultTypes())
      vectorTypes.push_back(VectorType::get({width}, t));
    // x / c for a uniform c: one reciprocal per evaluation and a vector
    // multiply instead of a vector divide (within an ulp).
    if (auto divide = dyn_cast<arith::DivFOp>(inner);
        divide && !isVarying(divide.getRhs()) && isVarying(divide.getLhs())) {
      Value one =
          arith::ConstantOp::create(b, b.getFloatAttr(divide.getType(), 1.0));
      Value reciprocal =
          arith::DivFOp::create(b, one, map.lookupOrDefault(divide.getRhs()));
      map.map(divide.getResult(),
              arith::MulFOp::create(b, map.lookupOrDefault(divide.getLhs()),
                                    splat(reciprocal)));
      continue;
    }
    if (inner.hasTrait<OpTrait::Elementwise>()) {
      SmallVector<Value> operands;
      for (Value v : inner.getOperands()) {
        Value mapped = map.lookupOrDefault(v);
        operands.push_back(isa<VectorType>(mapped.getType()) ? mapped
                                                             : splat(mapped));
      }
      OperationState state(b.getLoc(), inner.getName(), operands, vectorTypes,
                           inner.getAttrs());
      Operation *vectorOp = b.create(state);
      map.map(inner.getResults(), vectorOp->getResults());
      continue;
    }
    // Anything else (e.g. reading document ids) runs once per lane.
    SmallVector<SmallVector<Value>> lanes(inner.getNumResults());
    for (int64_t lane = 0; lane < width; ++lane) {
      IRMapping laneMap;
      for (Value v : inner.getOperands()) {
        Value mapped = map.lookupOrDefault(v);
        laneMap.map(v, isa<VectorType>(mapped.getType())
                           ? Value(vector::ExtractOp::create(b, mapped, lane))
                           : mapped);
      }
      Operation *scalarOp = b.clone(inner, laneMap);
      for (auto [i, r] : llvm::enumerate(scalarOp->getResults()))
        lanes[i].push_back(r);
    }
    for (auto [i, r] : llvm::enumerate(inner.getResults()))
      map.map(r, vector::FromElementsOp::create(b, vectorTypes[i], lanes[i]));
  }
  Value yielded = map.lookupOrDefault(block.getTerminator()->getOperand(0));
  return isa<VectorType>(yielded.getType()) ? yielded : splat(yielded);
}
