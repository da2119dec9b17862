//===- SelectScans.cpp - aggregates over index ranges as scans --*- C++ -*-===//
//
// The dense lowering of a RASP select is a [queries, keys] matrix, O(L^2)
// in time and memory. Some selects need none: comparing `indices` with
// `indices` selects, for each query q, a range of keys ([0, q) for `<`,
// [q, L) for `>=`, {q} for `==`, all but q for `!=`), and `always` /
// `never` all keys or none. An aggregate over a range is a difference of
// running sums, a width is the range's length: O(L) with a prefix (or
// suffix) sum of the values computed once. Prefix sums add in key order,
// as the dense lowering does, so `<` and `<=` give the same bits.
//
// `==` on integers (tokens, ints) groups instead: each key adds its value
// to its own bucket, one bucket per integer between the keys' least and
// greatest, and each query reads the bucket of its own value (RASP's
// histogram); a predicate `key == f(query)` (shift_by's `key == query - k`)
// groups the same way, each query reading the bucket of f of its value.
// Where the keys' values span 4 L + 1024 buckets or more, the
// dense lowering runs instead (both are emitted, behind an scf.if).
//
//===----------------------------------------------------------------------===//

#include "Conversion/SelectScans/SelectScans.h"
#include "Conversion/Utils/AggregateMath.h"

#include "Attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

namespace raspc {
#define GEN_PASS_DEF_CONVERTSELECTSTOSCANS
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;
using namespace mlir::attn;

namespace {

/// `v` is `indices`: 0, 1, ..., L - 1 (MLIRGen's tensor.generate of the
/// position, cast to an integer).
bool isIndices(Value v) {
  auto generate = v.getDefiningOp<tensor::GenerateOp>();
  if (!generate || generate.getBody().front().getNumArguments() != 1)
    return false;
  Block &body = generate.getBody().front();
  auto yield = cast<tensor::YieldOp>(body.getTerminator());
  auto cast = yield.getValue().getDefiningOp<arith::IndexCastOp>();
  return cast && cast.getIn() == body.getArgument(0) && &body.front() == cast.getOperation();
}

/// The comparison of a select this pass takes: `always`, `never`, or any
/// comparison of `indices` with `indices`.
std::optional<Comparison> scannable(SelectOp select) {
  if (!select || !select.getComparison())
    return std::nullopt;
  Comparison c = *select.getComparison();
  if (c == Comparison::always || c == Comparison::never)
    return c;
  if (isIndices(select.getKeys()) && isIndices(select.getQueries()))
    return c;
  return std::nullopt;
}

Value idx(OpBuilder &b, Location l, int64_t v) { return arith::ConstantIndexOp::create(b, l, v); }

/// Running sums of `values` (converted to `sumType`), L + 1 of them:
/// prefix[i] = v[0] + ... + v[i - 1] (added in that order), or, `reverse`,
/// suffix[i] = v[L - 1] + ... + v[i] (from the end).
Value runningSums(OpBuilder &b, Location l, Value values, Type sumType, bool reverse) {
  Value length = tensor::DimOp::create(b, l, values, 0);
  Value one = idx(b, l, 1);
  Value size = arith::AddIOp::create(b, l, length, one);
  Value zero = arith::ConstantOp::create(b, l, sumType, b.getZeroAttr(sumType));
  Value empty = tensor::EmptyOp::create(b, l, ArrayRef<OpFoldResult>{size}, sumType);
  Value init = tensor::InsertOp::create(b, l, zero, empty, ValueRange{reverse ? length : idx(b, l, 0)});
  auto loop = scf::ForOp::create(
      b, l, idx(b, l, 0), length, one, ValueRange{init, zero},
      [&](OpBuilder &nb, Location nl, Value i, ValueRange carried) {
        Value k = reverse ? Value(arith::SubIOp::create(
                                nb, nl, arith::SubIOp::create(nb, nl, length, one), i))
                          : i;
        Value v = raspc::convertScalar(nb, nl, tensor::ExtractOp::create(nb, nl, values, k),
                                       sumType);
        Value sum = isa<FloatType>(sumType) ? Value(arith::AddFOp::create(nb, nl, carried[1], v))
                                            : Value(arith::AddIOp::create(nb, nl, carried[1], v));
        Value at = reverse ? k : Value(arith::AddIOp::create(nb, nl, k, one));
        Value sums = tensor::InsertOp::create(nb, nl, sum, carried[0], ValueRange{at});
        scf::YieldOp::create(nb, nl, ValueRange{sums, sum});
      });
  return loop.getResult(0);
}

/// Per query q (an index) of L: the selected keys' count (i64) and, given
/// running sums, their sum.
struct QueryRange {
  Value count, sum;
};
QueryRange rangeOf(OpBuilder &b, Location l, Comparison c, Value q, Value length, Value prefix,
                   Value suffix, Value values, Type sumType) {
  Value one = idx(b, l, 1);
  Value next = arith::AddIOp::create(b, l, q, one);
  auto at = [&](Value sums, Value i) { return tensor::ExtractOp::create(b, l, sums, i); };
  Value count, sum;
  switch (c) {
  case Comparison::always: count = length; if (prefix) sum = at(prefix, length); break;
  case Comparison::never: count = idx(b, l, 0); break;
  case Comparison::lt: count = q; if (prefix) sum = at(prefix, q); break;
  case Comparison::le: count = next; if (prefix) sum = at(prefix, next); break;
  case Comparison::gt:
    count = arith::SubIOp::create(b, l, length, next);
    if (suffix) sum = at(suffix, next);
    break;
  case Comparison::ge:
    count = arith::SubIOp::create(b, l, length, q);
    if (suffix) sum = at(suffix, q);
    break;
  case Comparison::eq:
    count = one;
    if (values)
      sum = raspc::convertScalar(b, l, tensor::ExtractOp::create(b, l, values, q), sumType);
    break;
  case Comparison::ne:
    count = arith::SubIOp::create(b, l, length, one);
    if (prefix) {
      Value before = at(prefix, q), after = at(suffix, next);
      sum = isa<FloatType>(sumType) ? Value(arith::AddFOp::create(b, l, before, after))
                                    : Value(arith::AddIOp::create(b, l, before, after));
    }
    break;
  }
  if (!sum && values)
    sum = arith::ConstantOp::create(b, l, sumType, b.getZeroAttr(sumType));
  return {arith::IndexCastOp::create(b, l, b.getI64Type(), count), sum};
}

bool needsPrefix(Comparison c) {
  return c == Comparison::always || c == Comparison::lt || c == Comparison::le ||
         c == Comparison::ne;
}
bool needsSuffix(Comparison c) {
  return c == Comparison::gt || c == Comparison::ge || c == Comparison::ne;
}

/// Element types the rewrites lower (index sequences stay, as in
/// convert-attn-to-linalg).
bool lowerableTypes(AggregateOp op) {
  return !op.getValues().getType().getElementType().isIndex() &&
         !op.getResult().getType().getElementType().isIndex();
}
bool lowerableTypes(SelectorWidthOp op) {
  return !op.getResult().getType().getElementType().isIndex();
}

/// A sequence of the queries' length from `body(q)`.
Value generate(OpBuilder &b, Location l, RankedTensorType type, Value length,
               function_ref<Value(OpBuilder &, Location, Value)> body) {
  return tensor::GenerateOp::create(b, l, type, ValueRange{length},
                                    [&](OpBuilder &nb, Location nl, ValueRange ivs) {
                                      tensor::YieldOp::create(nb, nl, body(nb, nl, ivs[0]));
                                    });
}

struct AggregateScan : OpRewritePattern<AggregateOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AggregateOp op, PatternRewriter &rewriter) const override {
    auto select = op.getSelector().getDefiningOp<SelectOp>();
    std::optional<Comparison> c = scannable(select);
    if (!c || !lowerableTypes(op))
      return rewriter.notifyMatchFailure(op, "not a select of index ranges");
    Location l = op.getLoc();
    Value values = op.getValues();
    Type sumType = raspc::aggregateSumType(op);
    // Keys are the values' positions; queries those of the select's queries.
    Value keys = tensor::DimOp::create(rewriter, l, values, 0);
    Value queries = tensor::DimOp::create(rewriter, l, select.getQueries(), 0);
    Value prefix = needsPrefix(*c) ? runningSums(rewriter, l, values, sumType, false) : Value();
    Value suffix = needsSuffix(*c) ? runningSums(rewriter, l, values, sumType, true) : Value();
    Value result = generate(rewriter, l, op.getResult().getType(), queries,
                            [&](OpBuilder &b, Location nl, Value q) {
                              QueryRange r = rangeOf(b, nl, *c, q, keys, prefix, suffix,
                                                     values, sumType);
                              return raspc::finishAggregate(b, nl, op, r.sum, r.count);
                            });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct SelectorWidthScan : OpRewritePattern<SelectorWidthOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SelectorWidthOp op, PatternRewriter &rewriter) const override {
    auto select = op.getSelector().getDefiningOp<SelectOp>();
    std::optional<Comparison> c = scannable(select);
    if (!c || !lowerableTypes(op))
      return rewriter.notifyMatchFailure(op, "not a select of index ranges");
    Type countType = op.getResult().getType().getElementType();
    Location l = op.getLoc();
    Value keys = tensor::DimOp::create(rewriter, l, select.getKeys(), 0);
    Value queries = tensor::DimOp::create(rewriter, l, select.getQueries(), 0);
    Value result = generate(rewriter, l, op.getResult().getType(), queries,
                            [&](OpBuilder &b, Location nl, Value q) {
                              QueryRange r = rangeOf(b, nl, *c, q, keys, {}, {}, {}, {});
                              return raspc::convertScalar(b, nl, r.count, countType);
                            });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// Marks the dense copy of an op that grouping also rewrote: the patterns
/// leave it to convert-attn-to-linalg.
constexpr llvm::StringLiteral kDenseFallback = "raspc.dense_fallback";

/// A `where` predicate of the form `key == f(query)`: the value f
/// compares the key with (computed from the query alone), else null.
Value keyEqualsFunctionOfQuery(SelectOp select) {
  Region &region = select.getPredicate();
  if (region.empty() || !region.hasOneBlock())
    return {};
  Block &body = region.front();
  if (body.getNumArguments() != 2)
    return {};
  Value key = body.getArgument(0);
  auto cmp = body.getTerminator()->getOperand(0).getDefiningOp<arith::CmpIOp>();
  if (!cmp || cmp.getPredicate() != arith::CmpIPredicate::eq)
    return {};
  Value other = cmp.getLhs() == key ? cmp.getRhs() : cmp.getRhs() == key ? cmp.getLhs() : Value();
  if (!other || other == key)
    return {};
  // f reads the query, constants and values from outside, never the key,
  // through pure ops without regions (cloned per query).
  for (Operation &op : body.without_terminator()) {
    if (&op == cmp.getOperation())
      continue;
    if (op.getNumRegions() || !isPure(&op) || llvm::is_contained(op.getOperands(), key))
      return {};
  }
  return other;
}

/// `select(keys, queries, ==)`, or `key == f(query)`, on integers (not
/// indices with indices, which scan).
bool groupable(SelectOp select) {
  if (!select || scannable(select) || !isa<IntegerType>(select.getKeys().getType().getElementType()))
    return false;
  if (select.getComparison() == Comparison::eq)
    return select.getKeys().getType().getElementType() ==
           select.getQueries().getType().getElementType();
  Value f = select.getComparison() ? Value() : keyEqualsFunctionOfQuery(select);
  return f && f.getType() == select.getKeys().getType().getElementType();
}

/// What query q's value must equal for a key to be selected: the query's
/// value, or f of it (the predicate's ops cloned at the builder).
Value queryTarget(OpBuilder &b, Location l, SelectOp select, Value q) {
  Value query = tensor::ExtractOp::create(b, l, select.getQueries(), q);
  if (select.getComparison())
    return query;
  Block &body = select.getPredicate().front();
  IRMapping map;
  map.map(body.getArgument(1), query);
  Value f = keyEqualsFunctionOfQuery(select);
  Operation *compare = body.getTerminator()->getOperand(0).getDefiningOp();
  for (Operation &op : body.without_terminator())
    if (&op != compare)
      b.clone(op, map);
  return map.lookupOrDefault(f);
}

Value i64Const(OpBuilder &b, Location l, int64_t v) {
  return arith::ConstantOp::create(b, l, b.getI64Type(), b.getI64IntegerAttr(v));
}

/// The keys' least value and their span (greatest - least, as an unsigned
/// 64-bit number), by one pass; 0 and 0 with no keys.
std::pair<Value, Value> keyRange(OpBuilder &b, Location l, Value keys) {
  Type i64 = b.getI64Type();
  Value n = tensor::DimOp::create(b, l, keys, 0);
  auto loop = scf::ForOp::create(
      b, l, idx(b, l, 0), n, idx(b, l, 1),
      ValueRange{i64Const(b, l, std::numeric_limits<int64_t>::max()),
                 i64Const(b, l, std::numeric_limits<int64_t>::min())},
      [&](OpBuilder &nb, Location nl, Value k, ValueRange minMax) {
        Value v = raspc::convertScalar(nb, nl, tensor::ExtractOp::create(nb, nl, keys, k), i64);
        scf::YieldOp::create(nb, nl,
                             ValueRange{arith::MinSIOp::create(nb, nl, minMax[0], v),
                                        arith::MaxSIOp::create(nb, nl, minMax[1], v)});
      });
  Value none = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, n, idx(b, l, 0));
  Value least = arith::SelectOp::create(b, l, none, i64Const(b, l, 0), loop.getResult(0));
  // Wrapping subtraction gives the span exactly, read as unsigned.
  Value span = arith::SelectOp::create(
      b, l, none, i64Const(b, l, 0),
      arith::SubIOp::create(b, l, loop.getResult(1), loop.getResult(0)));
  return {least, span};
}

/// Replaces `op` (a width or aggregate over `select`) by
///   scf.if (the keys' span < 4 L + 1024) { grouped(least, buckets) } else { dense copy }
void replaceGrouped(PatternRewriter &rewriter, Operation *op, SelectOp select,
                    function_ref<Value(OpBuilder &, Location, Value least, Value buckets)> grouped) {
  Location l = op->getLoc();
  Value keys = select.getKeys();
  auto [least, span] = keyRange(rewriter, l, keys);
  Value n = arith::IndexCastOp::create(rewriter, l, rewriter.getI64Type(),
                                       tensor::DimOp::create(rewriter, l, keys, 0));
  Value limit = arith::AddIOp::create(
      rewriter, l, arith::MulIOp::create(rewriter, l, n, i64Const(rewriter, l, 4)),
      i64Const(rewriter, l, 1024));
  Value small = arith::CmpIOp::create(rewriter, l, arith::CmpIPredicate::ult, span, limit);
  Type type = op->getResult(0).getType();
  auto branch = scf::IfOp::create(rewriter, l, TypeRange{type}, small, /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(branch.thenBlock());
    Value buckets = arith::IndexCastOp::create(
        rewriter, l, rewriter.getIndexType(),
        arith::AddIOp::create(rewriter, l, span, i64Const(rewriter, l, 1)));
    scf::YieldOp::create(rewriter, l, grouped(rewriter, l, least, buckets));
    rewriter.setInsertionPointToStart(branch.elseBlock());
    IRMapping map;
    Operation *dense = rewriter.clone(*select, map);
    dense->setAttr(kDenseFallback, rewriter.getUnitAttr());
    Operation *copy = rewriter.clone(*op, map);
    copy->setAttr(kDenseFallback, rewriter.getUnitAttr());
    scf::YieldOp::create(rewriter, l, copy->getResult(0));
  }
  rewriter.replaceOp(op, branch.getResults());
}

/// Per bucket (key value - least): how many keys hold it and, with
/// `values`, the sum of theirs (added in key order).
std::pair<Value, Value> bucketSums(OpBuilder &b, Location l, Value keys, Value values,
                                   Type sumType, Value least, Value buckets) {
  Type i64 = b.getI64Type();
  auto zeros = [&](Type t) {
    Value empty = tensor::EmptyOp::create(b, l, ArrayRef<OpFoldResult>{buckets}, t);
    Value zero = arith::ConstantOp::create(b, l, t, b.getZeroAttr(t));
    return linalg::FillOp::create(b, l, zero, empty).getResult(0);
  };
  SmallVector<Value> init = {zeros(i64)};
  if (values)
    init.push_back(zeros(sumType));
  Value n = tensor::DimOp::create(b, l, keys, 0);
  auto loop = scf::ForOp::create(
      b, l, idx(b, l, 0), n, idx(b, l, 1), init,
      [&](OpBuilder &nb, Location nl, Value k, ValueRange tables) {
        Value key = raspc::convertScalar(nb, nl, tensor::ExtractOp::create(nb, nl, keys, k), i64);
        Value bucket = arith::IndexCastOp::create(nb, nl, nb.getIndexType(),
                                                  arith::SubIOp::create(nb, nl, key, least));
        Value count = arith::AddIOp::create(
            nb, nl, tensor::ExtractOp::create(nb, nl, tables[0], bucket), i64Const(nb, nl, 1));
        SmallVector<Value> next = {tensor::InsertOp::create(nb, nl, count, tables[0], bucket)};
        if (values) {
          Value v = raspc::convertScalar(nb, nl, tensor::ExtractOp::create(nb, nl, values, k),
                                         sumType);
          Value old = tensor::ExtractOp::create(nb, nl, tables[1], bucket);
          Value sum = isa<FloatType>(sumType) ? Value(arith::AddFOp::create(nb, nl, old, v))
                                              : Value(arith::AddIOp::create(nb, nl, old, v));
          next.push_back(tensor::InsertOp::create(nb, nl, sum, tables[1], bucket));
        }
        scf::YieldOp::create(nb, nl, next);
      });
  return {loop.getResult(0), values ? loop.getResult(1) : Value()};
}

/// The bucket of query q's target (queryTarget), and how many keys it
/// holds (`counts`): 0 where there is no such bucket (a value below the
/// least wraps past the last one, read as unsigned).
std::pair<Value, Value> queryBucket(OpBuilder &b, Location l, SelectOp select, Value q,
                                    Value least, Value buckets, Value counts) {
  Type i64 = b.getI64Type();
  Value v = raspc::convertScalar(b, l, queryTarget(b, l, select, q), i64);
  Value offset = arith::SubIOp::create(b, l, v, least);
  Value inside = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, offset,
                                       arith::IndexCastOp::create(b, l, i64, buckets));
  Value bucket = arith::IndexCastOp::create(
      b, l, b.getIndexType(), arith::SelectOp::create(b, l, inside, offset, i64Const(b, l, 0)));
  Value count = arith::SelectOp::create(b, l, inside,
                                        tensor::ExtractOp::create(b, l, counts, bucket),
                                        i64Const(b, l, 0));
  return {bucket, count};
}

struct GroupedSelectorWidth : OpRewritePattern<SelectorWidthOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SelectorWidthOp op, PatternRewriter &rewriter) const override {
    auto select = op.getSelector().getDefiningOp<SelectOp>();
    if (op->hasAttr(kDenseFallback) || !groupable(select) || !lowerableTypes(op))
      return rewriter.notifyMatchFailure(op, "not == on integers");
    Type countType = op.getResult().getType().getElementType();
    replaceGrouped(rewriter, op, select, [&](OpBuilder &b, Location l, Value least, Value buckets) {
      Value counts = bucketSums(b, l, select.getKeys(), {}, {}, least, buckets).first;
      Value queries = tensor::DimOp::create(b, l, select.getQueries(), 0);
      return generate(b, l, op.getResult().getType(), queries,
                      [&](OpBuilder &nb, Location nl, Value q) {
                        Value count =
                            queryBucket(nb, nl, select, q, least, buckets, counts).second;
                        return raspc::convertScalar(nb, nl, count, countType);
                      });
    });
    return success();
  }
};

struct GroupedAggregate : OpRewritePattern<AggregateOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AggregateOp op, PatternRewriter &rewriter) const override {
    auto select = op.getSelector().getDefiningOp<SelectOp>();
    if (op->hasAttr(kDenseFallback) || !groupable(select) || !lowerableTypes(op))
      return rewriter.notifyMatchFailure(op, "not == on integers");
    Type sumType = raspc::aggregateSumType(op);
    replaceGrouped(rewriter, op, select, [&](OpBuilder &b, Location l, Value least, Value buckets) {
      auto [counts, sums] =
          bucketSums(b, l, select.getKeys(), op.getValues(), sumType, least, buckets);
      Value queries = tensor::DimOp::create(b, l, select.getQueries(), 0);
      return generate(b, l, op.getResult().getType(), queries,
                      [&](OpBuilder &nb, Location nl, Value q) {
                        auto [bucket, count] =
                            queryBucket(nb, nl, select, q, least, buckets, counts);
                        Value sum = tensor::ExtractOp::create(nb, nl, sums, bucket);
                        return raspc::finishAggregate(nb, nl, op, sum, count);
                      });
    });
    return success();
  }
};

struct ConvertSelectsToScans : raspc::impl::ConvertSelectsToScansBase<ConvertSelectsToScans> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    raspc::populateSelectScanPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

void raspc::populateSelectScanPatterns(RewritePatternSet &patterns) {
  patterns.add<AggregateScan, SelectorWidthScan, GroupedSelectorWidth, GroupedAggregate>(
      patterns.getContext());
}
