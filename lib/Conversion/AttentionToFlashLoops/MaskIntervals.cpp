//===- MaskIntervals.cpp - mask regions over blocks of positions -*- C++ -*-===//
//
// Interval arithmetic over the integer values of a mask region and two-sided
// truth (may be true / may be false) over its i1 values. The bounds are SSA
// values computed at run time, once per block pair: with static shapes they
// fold, and either way they cost a few scalar operations per block.
//
//===----------------------------------------------------------------------===//

#include "Conversion/AttentionToFlashLoops/MaskIntervals.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;
using arith::CmpIPredicate;

namespace raspc {
namespace {

/// Inclusive bounds of an integer value over the block.
struct Interval {
  Value lo, hi;
};

class BlockEvaluator {
public:
  explicit BlockEvaluator(ImplicitLocOpBuilder &b) : b(b) {}

  std::optional<BlockTruth> run(Region &region, ArrayRef<Interval> args) {
    Block &block = region.front();
    this->region = &region;
    for (auto [arg, interval] : llvm::zip(block.getArguments(), args))
      intervals[arg] = interval;
    for (Operation &op : block.without_terminator())
      visit(op);
    Value yielded = block.getTerminator()->getOperand(0);
    BlockTruth t = truth(yielded);
    if (matchPattern(t.mayBeTrue, m_One()) && matchPattern(t.mayBeFalse, m_One()))
      return std::nullopt;
    return t;
  }

private:
  Value boolConst(bool v) { return arith::ConstantOp::create(b, b.getBoolAttr(v)); }
  Value notOf(Value v) { return arith::XOrIOp::create(b, v, boolConst(true)); }
  Value andOf(Value x, Value y) { return arith::AndIOp::create(b, x, y); }
  Value orOf(Value x, Value y) { return arith::OrIOp::create(b, x, y); }
  Value cmp(CmpIPredicate p, Value x, Value y) { return arith::CmpIOp::create(b, p, x, y); }
  Value minOf(Value x, Value y) { return arith::MinSIOp::create(b, x, y); }
  Value maxOf(Value x, Value y) { return arith::MaxSIOp::create(b, x, y); }

  /// Unknown i1 values may be either.
  BlockTruth truth(Value v) {
    auto it = truths.find(v);
    if (it != truths.end())
      return it->second;
    return {boolConst(true), boolConst(true)};
  }

  std::optional<Interval> interval(Value v) {
    auto it = intervals.find(v);
    if (it == intervals.end())
      return std::nullopt;
    return it->second;
  }

  static std::optional<int64_t> positiveConstant(Value v) {
    APInt c;
    if (matchPattern(v, m_ConstantInt(&c)) && c.isStrictlyPositive())
      return c.getSExtValue();
    return std::nullopt;
  }

  void visit(Operation &op) {
    if (op.getNumResults() != 1)
      return;
    Value result = op.getResult(0);
    if (result.getType().isInteger(1)) {
      if (std::optional<BlockTruth> t = visitBool(op))
        truths[result] = *t;
      return;
    }
    if (result.getType().isIntOrIndex())
      if (std::optional<Interval> i = visitInt(op))
        intervals[result] = *i;
  }

  std::optional<BlockTruth> visitBool(Operation &op) {
    APInt c;
    if (matchPattern(op.getResult(0), m_ConstantInt(&c)))
      return BlockTruth{boolConst(!c.isZero()), boolConst(c.isZero())};
    if (auto andOp = dyn_cast<arith::AndIOp>(op)) {
      BlockTruth x = truth(andOp.getLhs()), y = truth(andOp.getRhs());
      return BlockTruth{andOf(x.mayBeTrue, y.mayBeTrue), orOf(x.mayBeFalse, y.mayBeFalse)};
    }
    if (auto orOp = dyn_cast<arith::OrIOp>(op)) {
      BlockTruth x = truth(orOp.getLhs()), y = truth(orOp.getRhs());
      return BlockTruth{orOf(x.mayBeTrue, y.mayBeTrue), andOf(x.mayBeFalse, y.mayBeFalse)};
    }
    if (auto xorOp = dyn_cast<arith::XOrIOp>(op)) {
      BlockTruth x = truth(xorOp.getLhs()), y = truth(xorOp.getRhs());
      return BlockTruth{orOf(andOf(x.mayBeTrue, y.mayBeFalse), andOf(x.mayBeFalse, y.mayBeTrue)),
                        orOf(andOf(x.mayBeTrue, y.mayBeTrue), andOf(x.mayBeFalse, y.mayBeFalse))};
    }
    if (auto select = dyn_cast<arith::SelectOp>(op)) {
      BlockTruth c = truth(select.getCondition()), x = truth(select.getTrueValue()),
                 y = truth(select.getFalseValue());
      return BlockTruth{orOf(andOf(c.mayBeTrue, x.mayBeTrue), andOf(c.mayBeFalse, y.mayBeTrue)),
                        orOf(andOf(c.mayBeTrue, x.mayBeFalse), andOf(c.mayBeFalse, y.mayBeFalse))};
    }
    if (auto cmpOp = dyn_cast<arith::CmpIOp>(op))
      return visitCompare(cmpOp);
    return std::nullopt;
  }

  std::optional<BlockTruth> visitCompare(arith::CmpIOp op) {
    std::optional<Interval> x = interval(op.getLhs()), y = interval(op.getRhs());
    if (!x || !y)
      return std::nullopt;
    CmpIPredicate p = op.getPredicate();
    // Unsigned comparisons agree with signed ones on non-negative bounds
    // (positions are); elsewhere the block is unknown.
    Value inRange = boolConst(true);
    CmpIPredicate signedForm = p;
    switch (p) {
    case CmpIPredicate::ult: signedForm = CmpIPredicate::slt; break;
    case CmpIPredicate::ule: signedForm = CmpIPredicate::sle; break;
    case CmpIPredicate::ugt: signedForm = CmpIPredicate::sgt; break;
    case CmpIPredicate::uge: signedForm = CmpIPredicate::sge; break;
    default: break;
    }
    if (signedForm != p) {
      Value zero = arith::ConstantOp::create(b, b.getZeroAttr(x->lo.getType()));
      inRange = andOf(cmp(CmpIPredicate::sge, x->lo, zero), cmp(CmpIPredicate::sge, y->lo, zero));
      p = signedForm;
    }
    BlockTruth t;
    switch (p) {
    case CmpIPredicate::slt:
      t = {cmp(CmpIPredicate::slt, x->lo, y->hi), cmp(CmpIPredicate::sge, x->hi, y->lo)};
      break;
    case CmpIPredicate::sle:
      t = {cmp(CmpIPredicate::sle, x->lo, y->hi), cmp(CmpIPredicate::sgt, x->hi, y->lo)};
      break;
    case CmpIPredicate::sgt:
      t = {cmp(CmpIPredicate::sgt, x->hi, y->lo), cmp(CmpIPredicate::sle, x->lo, y->hi)};
      break;
    case CmpIPredicate::sge:
      t = {cmp(CmpIPredicate::sge, x->hi, y->lo), cmp(CmpIPredicate::slt, x->lo, y->hi)};
      break;
    case CmpIPredicate::eq:
    case CmpIPredicate::ne: {
      Value overlap = andOf(cmp(CmpIPredicate::sle, x->lo, y->hi),
                            cmp(CmpIPredicate::sle, y->lo, x->hi));
      Value single = andOf(andOf(cmp(CmpIPredicate::eq, x->lo, x->hi),
                                 cmp(CmpIPredicate::eq, y->lo, y->hi)),
                           cmp(CmpIPredicate::eq, x->lo, y->lo));
      t = {overlap, notOf(single)};
      if (p == CmpIPredicate::ne)
        std::swap(t.mayBeTrue, t.mayBeFalse);
      break;
    }
    default:
      return std::nullopt;
    }
    Value outOfRange = notOf(inRange);
    return BlockTruth{orOf(t.mayBeTrue, outOfRange), orOf(t.mayBeFalse, outOfRange)};
  }

  /// An op whose operands are all known exactly (or come from outside the
  /// region) is known exactly: it is cloned here (constants, tensor.dim of
  /// the document ids). Always a copy: the region's own ops go away with
  /// the attention op.
  std::optional<Interval> exactClone(Operation &op) {
    if (op.getNumRegions() != 0 || !isPure(&op))
      return std::nullopt;
    IRMapping map;
    for (Value operand : op.getOperands()) {
      if (!region->isAncestor(operand.getParentRegion()))
        continue; // defined above the region: usable as is
      std::optional<Interval> i = interval(operand);
      if (!i || i->lo != i->hi)
        return std::nullopt;
      map.map(operand, i->lo);
    }
    Value v = b.clone(op, map)->getResult(0);
    return Interval{v, v};
  }

  /// tensor.extract of a 1-D integer tensor from above the region (document
  /// ids) at an index known to lie in [lo, hi]: the minimum and maximum of
  /// those elements, scanned per block (O(block size), next to the block's
  /// O(rows x keys x dim) arithmetic).
  std::optional<Interval> extractRange(tensor::ExtractOp extract) {
    auto type = cast<RankedTensorType>(extract.getTensor().getType());
    if (type.getRank() != 1 || !type.getElementType().isInteger() ||
        region->isAncestor(extract.getTensor().getParentRegion()))
      return std::nullopt;
    std::optional<Interval> at = interval(extract.getIndices()[0]);
    if (!at)
      return std::nullopt;
    Type elem = type.getElementType();
    unsigned width = elem.getIntOrFloatBitWidth();
    Value big = arith::ConstantOp::create(b, b.getIntegerAttr(elem, APInt::getSignedMaxValue(width)));
    Value small =
        arith::ConstantOp::create(b, b.getIntegerAttr(elem, APInt::getSignedMinValue(width)));
    Value one = arith::ConstantIndexOp::create(b, 1);
    auto scan = scf::ForOp::create(
        b, at->lo, arith::AddIOp::create(b, at->hi, one), one, ValueRange{big, small},
        [&](OpBuilder &nb, Location l, Value i, ValueRange acc) {
          Value x = tensor::ExtractOp::create(nb, l, extract.getTensor(), ValueRange{i});
          scf::YieldOp::create(nb, l,
                               ValueRange{arith::MinSIOp::create(nb, l, acc[0], x),
                                          arith::MaxSIOp::create(nb, l, acc[1], x)});
        });
    return Interval{scan.getResult(0), scan.getResult(1)};
  }

  std::optional<Interval> visitInt(Operation &op) {
    if (auto extract = dyn_cast<tensor::ExtractOp>(op))
      if (std::optional<Interval> range = extractRange(extract))
        return range;
    if (std::optional<Interval> exact = exactClone(op))
      return exact;
    Type type = op.getResult(0).getType();
    // Casts between integer widths and index: bounds are cast alike.
    if (isa<arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtSIOp, arith::ExtUIOp,
            arith::TruncIOp>(op)) {
      std::optional<Interval> x = interval(op.getOperand(0));
      if (!x)
        return std::nullopt;
      auto castOf = [&](Value v) {
        OperationState state(b.getLoc(), op.getName(), ValueRange{v}, TypeRange{type},
                             op.getAttrs());
        return b.create(state)->getResult(0);
      };
      return Interval{castOf(x->lo), castOf(x->hi)};
    }
    if (op.getNumOperands() != 2)
      return std::nullopt;
    Value lhs = op.getOperand(0), rhs = op.getOperand(1);
    std::optional<Interval> x = interval(lhs), y = interval(rhs);
    if (!x || !y)
      return std::nullopt;
    if (isa<arith::AddIOp>(op))
      return Interval{arith::AddIOp::create(b, x->lo, y->lo), arith::AddIOp::create(b, x->hi, y->hi)};
    if (isa<arith::SubIOp>(op))
      return Interval{arith::SubIOp::create(b, x->lo, y->hi), arith::SubIOp::create(b, x->hi, y->lo)};
    if (isa<arith::MulIOp>(op)) {
      Value p0 = arith::MulIOp::create(b, x->lo, y->lo), p1 = arith::MulIOp::create(b, x->lo, y->hi),
            p2 = arith::MulIOp::create(b, x->hi, y->lo), p3 = arith::MulIOp::create(b, x->hi, y->hi);
      return Interval{minOf(minOf(p0, p1), minOf(p2, p3)), maxOf(maxOf(p0, p1), maxOf(p2, p3))};
    }
    if (isa<arith::MinSIOp>(op))
      return Interval{minOf(x->lo, y->lo), minOf(x->hi, y->hi)};
    if (isa<arith::MaxSIOp>(op))
      return Interval{maxOf(x->lo, y->lo), maxOf(x->hi, y->hi)};
    std::optional<int64_t> divisor = positiveConstant(rhs);
    if (!divisor)
      return std::nullopt;
    // Division by a positive constant is monotone.
    if (isa<arith::DivSIOp, arith::FloorDivSIOp, arith::CeilDivSIOp>(op)) {
      auto divide = [&](Value v) {
        OperationState state(b.getLoc(), op.getName(), ValueRange{v, y->lo}, TypeRange{type});
        return b.create(state)->getResult(0);
      };
      return Interval{divide(x->lo), divide(x->hi)};
    }
    // x mod c for x >= 0: exact when the block stays within one period,
    // else anywhere in [0, c). Negative x: anywhere in (-c, c).
    if (isa<arith::RemSIOp>(op)) {
      Value zero = arith::ConstantOp::create(b, b.getZeroAttr(type));
      Value cMinus1 = arith::ConstantOp::create(b, b.getIntegerAttr(type, *divisor - 1));
      Value period = y->lo;
      Value samePeriod = cmp(CmpIPredicate::eq, arith::DivSIOp::create(b, x->lo, period),
                             arith::DivSIOp::create(b, x->hi, period));
      Value nonNegative = cmp(CmpIPredicate::sge, x->lo, zero);
      Value exact = andOf(samePeriod, nonNegative);
      Value lo = arith::SelectOp::create(
          b, exact, arith::RemSIOp::create(b, x->lo, period),
          arith::SelectOp::create(b, nonNegative, zero, arith::SubIOp::create(b, zero, cMinus1)));
      Value hi = arith::SelectOp::create(b, exact, arith::RemSIOp::create(b, x->hi, period), cMinus1);
      return Interval{lo, hi};
    }
    return std::nullopt;
  }

  ImplicitLocOpBuilder &b;
  Region *region = nullptr;
  DenseMap<Value, Interval> intervals;
  DenseMap<Value, BlockTruth> truths;
};

} // namespace

std::optional<BlockTruth> emitBlockTruth(ImplicitLocOpBuilder &b, Region &region, Value batch,
                                         Value head, Value queryLo, Value queryHi, Value keyLo,
                                         Value keyHi) {
  BlockEvaluator evaluator(b);
  return evaluator.run(region, {Interval{batch, batch}, Interval{head, head},
                                Interval{queryLo, queryHi}, Interval{keyLo, keyHi}});
}

} // namespace raspc
