//===- AggregateMath.cpp - how an aggregate's sums become values ----------===//

#include "Conversion/Utils/AggregateMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;

Value raspc::convertScalar(OpBuilder &b, Location loc, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(to);
  bool fromBool = from.isInteger(1);
  if (fromFloat && toFloat)
    return from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth()
               ? Value(arith::ExtFOp::create(b, loc, to, v))
               : Value(arith::TruncFOp::create(b, loc, to, v));
  if (!fromFloat && toFloat)
    return fromBool ? Value(arith::UIToFPOp::create(b, loc, to, v))
                    : Value(arith::SIToFPOp::create(b, loc, to, v));
  if (fromFloat && !toFloat)
    return arith::FPToSIOp::create(b, loc, to, v);
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return fromBool ? Value(arith::ExtUIOp::create(b, loc, to, v))
                    : Value(arith::ExtSIOp::create(b, loc, to, v));
  return arith::TruncIOp::create(b, loc, to, v);
}

Type raspc::aggregateSumType(attn::AggregateOp op) {
  Builder b(op.getContext());
  Type resultElem = op.getResult().getType().getElementType();
  if (op.getKind() != attn::AggregateKind::mean && !isa<FloatType>(resultElem))
    return b.getI64Type();
  return resultElem.isF64() ? Type(b.getF64Type()) : b.getF32Type();
}

Value raspc::finishAggregate(OpBuilder &b, Location l, attn::AggregateOp op, Value sum,
                             Value count) {
  Type i64 = b.getI64Type(), sumType = sum.getType();
  Type resultElem = op.getResult().getType().getElementType();
  Value zero = arith::ConstantOp::create(b, l, i64, b.getI64IntegerAttr(0));
  Value none = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, count, zero);
  // Integer division by zero traps; divide by 1 where nothing was selected
  // (the lane takes the default below).
  Value one = arith::ConstantOp::create(b, l, i64, b.getI64IntegerAttr(1));
  Value divisor = arith::SelectOp::create(b, l, none, one, count);
  Value mean = isa<FloatType>(sumType)
                   ? Value(arith::DivFOp::create(b, l, sum, convertScalar(b, l, divisor, sumType)))
                   : Value(arith::DivSIOp::create(b, l, sum, divisor));
  Value dflt = arith::ConstantOp::create(b, l, resultElem, cast<TypedAttr>(op.getDefaultValue()));
  return arith::SelectOp::create(b, l, none, dflt, convertScalar(b, l, mean, resultElem));
}
