//===- EntrySignature.cpp - what a compiled entry point takes -------------===//

#include "EntrySignature.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/TypeUtilities.h"

using namespace raspc;

namespace {

rasprt_dtype dtypeOf(mlir::Type type) {
  if (type.isF16())
    return RASPRT_F16;
  if (type.isBF16())
    return RASPRT_BF16;
  if (type.isInteger(32))
    return RASPRT_I32;
  if (type.isInteger(64))
    return RASPRT_I64;
  if (type.isInteger(1))
    return RASPRT_BOOL;
  return RASPRT_F32;
}

ValueSignature describe(mlir::Type type, mlir::DictionaryAttr attrs) {
  ValueSignature info;
  // MLIRGen's entry points take and return ranked tensors; a module from
  // elsewhere may hold scalars (rank 0 here).
  info.dtype = dtypeOf(mlir::getElementTypeOrSelf(type));
  if (auto tensor = mlir::dyn_cast<mlir::RankedTensorType>(type))
    for (int64_t d : tensor.getShape())
      info.shape.push_back(mlir::ShapedType::isDynamic(d) ? -1 : d);
  if (!attrs)
    return info;
  if (auto input = attrs.getAs<mlir::StringAttr>("raspc.input"))
    info.name = input.str();
  if (auto param = attrs.getAs<mlir::StringAttr>("raspc.param")) {
    info.name = param.str();
    info.isParam = true;
  }
  if (auto symbols = attrs.getAs<mlir::ArrayAttr>("raspc.symbols"))
    for (mlir::Attribute s : symbols)
      info.symbols.push_back(mlir::cast<mlir::StringAttr>(s).str());
  if (auto vocab = attrs.getAs<mlir::ArrayAttr>("raspc.vocab"))
    for (mlir::Attribute word : vocab)
      info.vocab.push_back(mlir::cast<mlir::StringAttr>(word).str());
  info.openVocab = attrs.contains("raspc.open_vocab");
  if (auto encoding = attrs.getAs<mlir::StringAttr>("raspc.encoding"))
    info.numerical = encoding.getValue() == "numerical";
  info.indexed = attrs.contains("raspc.indexed");
  if (auto bound = attrs.getAs<mlir::IntegerAttr>("raspc.id_bound"))
    info.idBound = bound.getInt();
  if (auto table = attrs.getAs<mlir::StringAttr>("raspc.id_table"))
    info.idTable = table.str();
  if (auto symbol = attrs.getAs<mlir::StringAttr>("raspc.lengths_of"))
    info.lengthsOf = symbol.str();
  if (auto bound = attrs.getAs<mlir::IntegerAttr>("raspc.max_length"))
    info.maxLength = bound.getInt();
  if (auto table = attrs.getAs<mlir::StringAttr>("raspc.max_length_table"))
    info.maxLengthTable = table.str();
  return info;
}

} // namespace

EntrySignature raspc::describeEntry(mlir::func::FuncOp entry, bool isModel) {
  EntrySignature signature;
  signature.name = entry.getName().str();
  signature.isModel = isModel;
  mlir::FunctionType type = entry.getFunctionType();
  for (unsigned i = 0; i < type.getNumInputs(); ++i)
    signature.arguments.push_back(
        describe(type.getInput(i), entry.getArgAttrDict(i)));
  if (auto bounds = entry->getAttrOfType<mlir::DictionaryAttr>("raspc.size_bounds"))
    for (mlir::NamedAttribute bound : bounds) {
      auto pair = mlir::cast<mlir::ArrayAttr>(bound.getValue());
      signature.sizeBounds.push_back(
          {bound.getName().str(), mlir::cast<mlir::IntegerAttr>(pair[0]).getInt(),
           mlir::cast<mlir::StringAttr>(pair[1]).str()});
    }
  if (type.getNumResults() == 0)
    return signature;
  signature.result = describe(type.getResult(0), entry.getResultAttrDict(0));
  for (unsigned i = 1; i < type.getNumResults(); ++i) {
    auto name =
        entry.getResultAttrOfType<mlir::StringAttr>(i, "raspc.selector");
    signature.selectors.push_back(name ? name.str() : "");
  }
  return signature;
}
