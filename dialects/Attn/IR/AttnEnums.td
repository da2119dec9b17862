//===- AttnEnums.td - attn dialect enumerations ------------*- tablegen -*-===//

#ifndef RASPC_ATTN_ENUMS_TD
#define RASPC_ATTN_ENUMS_TD

include "Attn/IR/AttnDialect.td"
include "mlir/IR/EnumAttr.td"

// Specialized integer-backed enum attributes: they print as bare keywords
// inside operations (`attn.select %k, %q, lt`), like arith.cmpi predicates.

def Attn_Comparison : I32EnumAttr<"Comparison",
    "how attn.select compares a key with a query", [
      I32EnumAttrCase<"eq", 0>, I32EnumAttrCase<"ne", 1>,
      I32EnumAttrCase<"lt", 2>, I32EnumAttrCase<"le", 3>,
      I32EnumAttrCase<"gt", 4>, I32EnumAttrCase<"ge", 5>,
      I32EnumAttrCase<"always", 6>, I32EnumAttrCase<"never", 7>]> {
  let cppNamespace = "::mlir::attn";
}

def Attn_AggregateKind : I32EnumAttr<"AggregateKind",
    "how attn.aggregate combines the selected values", [
      I32EnumAttrCase<"mean", 0>, I32EnumAttrCase<"categorical", 1>]> {
  let cppNamespace = "::mlir::attn";
}

def Attn_Normalizer : I32EnumAttr<"Normalizer",
    "how attn.attention turns visible scores into weights", [
      I32EnumAttrCase<"softmax", 0>, I32EnumAttrCase<"mean", 1>,
      I32EnumAttrCase<"sigmoid", 2>, I32EnumAttrCase<"linear", 3>,
      I32EnumAttrCase<"custom", 4>]> {
  let cppNamespace = "::mlir::attn";
}

def Attn_FeatureMap : I32EnumAttr<"FeatureMap",
    "the feature map phi of linear attention", [
      I32EnumAttrCase<"elu_plus_one", 0>, I32EnumAttrCase<"relu", 1>,
      I32EnumAttrCase<"exp", 2>]> {
  let cppNamespace = "::mlir::attn";
}

#endif // RASPC_ATTN_ENUMS_TD
