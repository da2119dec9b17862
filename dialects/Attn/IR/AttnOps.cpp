//===- AttnOps.cpp - attn dialect operations --------------------*- C++ -*-===//
//
// Verifiers, folders and custom assembly pieces of the attn operations. The
// verifiers speak to the person who wrote the IR: each message names the
// operand or region at fault and what was expected.
//
//===----------------------------------------------------------------------===//

#include "Attn/IR/AttnOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"

using namespace mlir;
using namespace mlir::attn;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// Formats a dimension for a diagnostic: `?` for dynamic sizes.
static std::string dimToString(int64_t dim) {
  return ShapedType::isDynamic(dim) ? "?" : std::to_string(dim);
}

/// Whether two dimensions can be equal at run time.
static bool areCompatibleDims(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Checks that `region`, when present, has one block with arguments of the
/// types `argTypes` and ends in an `attn.yield` of one value of `yieldType`.
/// `what` names the region in messages, `argsDoc` describes its arguments.
static LogicalResult verifyRegionSignature(Operation *op, Region &region,
                                           StringRef what, StringRef argsDoc,
                                           TypeRange argTypes,
                                           Type yieldType) {
  if (region.empty())
    return success();
  Block &block = region.front();
  if (block.getNumArguments() != argTypes.size())
    return op->emitOpError()
           << what << " region must take " << argTypes.size()
           << " arguments " << argsDoc << ", but it takes "
           << block.getNumArguments();
  for (auto [index, arg, expected] :
       llvm::enumerate(block.getArguments(), argTypes)) {
    if (arg.getType() != expected)
      return op->emitOpError()
             << what << " region argument #" << index << " must be "
             << expected << ", but it is " << arg.getType();
  }
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return op->emitOpError() << what << " region must end in attn.yield";
  if (yield.getValues().size() != 1 ||
      yield.getValues().front().getType() != yieldType)
    return yield.emitOpError()
           << "in the " << what << " region must yield one " << yieldType
           << " value";
  return success();
}

//===----------------------------------------------------------------------===//
// SelectOp
//===----------------------------------------------------------------------===//

LogicalResult SelectOp::verify() {
  bool hasRegion = !getPredicate().empty();
  if (getComparison() && hasRegion)
    return emitOpError("takes either a comparison or a 'where' predicate "
                       "region, not both");
  if (!getComparison() && !hasRegion)
    return emitOpError("needs a comparison (eq, ne, lt, le, gt, ge, always, "
                       "never) or a 'where' predicate region");
  Type keyType = getKeys().getType().getElementType();
  Type queryType = getQueries().getType().getElementType();
  if (getComparison() && keyType != queryType)
    return emitOpError("compares keys of type ")
           << keyType << " with queries of type " << queryType
           << "; comparisons need one element type (use a 'where' region to "
              "compare different types)";
  return success();
}

LogicalResult SelectOp::verifyRegions() {
  Type types[] = {getKeys().getType().getElementType(),
                  getQueries().getType().getElementType()};
  return verifyRegionSignature(*this, getPredicate(), "predicate",
                               "(key element, query element)", types,
                               IntegerType::get(getContext(), 1));
}

//===----------------------------------------------------------------------===//
// AggregateOp
//===----------------------------------------------------------------------===//

/// Parses the default value of an aggregate with the element type of the
/// result, so that `default 0.0` needs no type of its own.
static ParseResult parseDefaultValue(OpAsmParser &parser, TypedAttr &value,
                                     Type resultType) {
  auto shaped = dyn_cast<ShapedType>(resultType);
  if (!shaped)
    return parser.emitError(parser.getCurrentLocation(),
                            "aggregate result must be a ranked tensor");
  Attribute attr;
  if (parser.parseAttribute(attr, shaped.getElementType()))
    return failure();
  // The verifier explains what else is wrong; here we only need a TypedAttr.
  value = dyn_cast<TypedAttr>(attr);
  if (!value)
    return parser.emitError(parser.getCurrentLocation(),
                            "default must be an integer or float constant");
  return success();
}

static void printDefaultValue(OpAsmPrinter &printer, Operation *,
                              TypedAttr value, Type) {
  printer.printAttributeWithoutType(value);
}

LogicalResult AggregateOp::verify() {
  Type valueType = getValues().getType().getElementType();
  Type resultType = getResult().getType().getElementType();
  switch (getKind()) {
  case AggregateKind::mean:
    if (!isa<FloatType>(resultType))
      return emitOpError("mean aggregate must produce a float sequence, but "
                         "the result element type is ")
             << resultType;
    break;
  case AggregateKind::categorical:
    if (valueType != resultType)
      return emitOpError("categorical aggregate moves values unchanged, so "
                         "the result element type must be ")
             << valueType << ", not " << resultType;
    break;
  }
  if (!isa<IntegerAttr, FloatAttr>(getDefaultValue()))
    return emitOpError("default must be an integer or float constant, not ")
           << getDefaultValue();
  if (getDefaultValue().getType() != resultType)
    return emitOpError("default value has type ")
           << getDefaultValue().getType()
           << " but the result element type is " << resultType;
  return success();
}

//===----------------------------------------------------------------------===//
// Selector combinators
//===----------------------------------------------------------------------===//

OpFoldResult AndOp::fold(FoldAdaptor) {
  // s & s == s
  return getLhs() == getRhs() ? getLhs() : nullptr;
}

OpFoldResult OrOp::fold(FoldAdaptor) {
  // s | s == s
  return getLhs() == getRhs() ? getLhs() : nullptr;
}

OpFoldResult NotOp::fold(FoldAdaptor) {
  // !!s == s
  if (auto inner = getOperand().getDefiningOp<NotOp>())
    return inner.getOperand();
  return nullptr;
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  RankedTensorType q = getQuery().getType(), k = getKey().getType(),
                   v = getValue().getType(), init = getInit().getType();
  enum { Batch = 0, Heads = 1, Positions = 2, Dim = 3 };

  if (k.getElementType() != q.getElementType() ||
      v.getElementType() != q.getElementType())
    return emitOpError("query, key and value must have one element type, got ")
           << q.getElementType() << ", " << k.getElementType() << " and "
           << v.getElementType();

  auto mismatch = [&](StringRef what, int64_t a, int64_t b) {
    return emitOpError() << what << " (" << dimToString(a) << " vs "
                         << dimToString(b) << ")";
  };
  if (!areCompatibleDims(q.getDimSize(Batch), k.getDimSize(Batch)) ||
      !areCompatibleDims(q.getDimSize(Batch), v.getDimSize(Batch)))
    return emitOpError("query, key and value must have the same batch size, "
                       "got ")
           << dimToString(q.getDimSize(Batch)) << ", "
           << dimToString(k.getDimSize(Batch)) << " and "
           << dimToString(v.getDimSize(Batch));
  if (!areCompatibleDims(k.getDimSize(Heads), v.getDimSize(Heads)))
    return mismatch("key and value must have the same number of heads",
                    k.getDimSize(Heads), v.getDimSize(Heads));
  if (!areCompatibleDims(k.getDimSize(Positions), v.getDimSize(Positions)))
    return mismatch("key and value must have the same number of positions",
                    k.getDimSize(Positions), v.getDimSize(Positions));
  if (!areCompatibleDims(q.getDimSize(Dim), k.getDimSize(Dim)))
    return mismatch("query and key must have the same head dimension",
                    q.getDimSize(Dim), k.getDimSize(Dim));

  int64_t queryHeads = q.getDimSize(Heads), keyHeads = k.getDimSize(Heads);
  if (!ShapedType::isDynamic(queryHeads) && !ShapedType::isDynamic(keyHeads) &&
      (keyHeads == 0 || queryHeads % keyHeads != 0))
    return emitOpError("the number of key/value heads (")
           << keyHeads << ") must divide the number of query heads ("
           << queryHeads << ") for grouped-query attention";

  int64_t expected[] = {q.getDimSize(Batch), queryHeads,
                        q.getDimSize(Positions), v.getDimSize(Dim)};
  for (auto [index, want] : llvm::enumerate(expected)) {
    if (!areCompatibleDims(init.getDimSize(index), want))
      return emitOpError("init must have shape [batch, query heads, query "
                         "positions, value dim] = [")
             << dimToString(expected[0]) << ", " << dimToString(expected[1])
             << ", " << dimToString(expected[2]) << ", "
             << dimToString(expected[3]) << "], but dimension " << index
             << " is " << dimToString(init.getDimSize(index));
  }
  if (getResult().getType() != init)
    return emitOpError("result type ")
           << getResult().getType() << " must equal the init type " << init;

  bool isLinear = getNormalizer() == Normalizer::linear;
  if (isLinear && !getFeatureMap())
    return emitOpError("linear normalizer needs a feature_map "
                       "(elu_plus_one, relu or exp)");
  if (!isLinear && getFeatureMap())
    return emitOpError("feature_map only applies to the linear normalizer, not ")
           << stringifyNormalizer(getNormalizer());
  if (isLinear && !getScore().empty())
    return emitOpError("linear attention computes no scores, so it takes no "
                       "score region");
  bool isCustom = getNormalizer() == Normalizer::custom;
  if (isCustom && (!getCustomName() || getCustomName()->empty()))
    return emitOpError("custom normalizer needs a name, e.g. custom \"sinkhorn\"");
  if (!isCustom && getCustomName())
    return emitOpError("only a custom normalizer has a name, not ")
           << stringifyNormalizer(getNormalizer());
  if (getNormalizer() == Normalizer::mean && !getScore().empty())
    return emitOpError("mean normalizer ignores scores, so it takes no score "
                       "region");
  return success();
}

LogicalResult AttentionOp::verifyRegions() {
  Builder b(getContext());
  Type index = b.getIndexType();
  Type maskArgs[] = {index, index, index, index};
  if (failed(verifyRegionSignature(
          *this, getMask(), "mask",
          "(batch, head, query_pos, key_pos : index)", maskArgs,
          b.getI1Type())))
    return failure();

  Region &score = getScore();
  if (score.empty())
    return success();
  Type scoreType = score.front().getNumArguments() > 0
                       ? score.front().getArgument(0).getType()
                       : Type();
  if (!scoreType || !isa<FloatType>(scoreType))
    return emitOpError("score region must take the score as a float first "
                       "argument, then (batch, head, query_pos, key_pos : "
                       "index)");
  Type scoreArgs[] = {scoreType, index, index, index, index};
  return verifyRegionSignature(
      *this, score, "score",
      "(score : float, batch, head, query_pos, key_pos : index)", scoreArgs,
      scoreType);
}

#define GET_OP_CLASSES
#include "Attn/IR/AttnOps.cpp.inc"
