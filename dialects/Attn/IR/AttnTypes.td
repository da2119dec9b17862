//===- AttnTypes.td - attn dialect types -------------------*- tablegen -*-===//

#ifndef RASPC_ATTN_TYPES_TD
#define RASPC_ATTN_TYPES_TD

include "Attn/IR/AttnDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

def Attn_SelectorType : TypeDef<Attn_Dialect, "Selector"> {
  let mnemonic = "selector";
  let summary = "a boolean attention pattern between queries and keys";
  let description = [{
    The value of `attn.select` and of the selector combinators: conceptually a
    `[queries, keys]` matrix of booleans, entry `(q, k)` telling whether query
    position `q` attends to key position `k`. The type is opaque so that
    lowering may keep a selector as a predicate evaluated on the fly instead
    of a materialized matrix.
  }];
}

// A RASP sequence: one value per position.
def Attn_Sequence : RankedTensorOf<[AnySignlessInteger, Index, AnyFloat], [HasAnyRankOfPred<[1]>],
                                   "sequence (rank-1 tensor of integers or floats)">;

// A [batch, heads, positions, dim] tensor of floating-point values.
def Attn_HeadsTensor : RankedTensorOf<[AnyFloat], [HasAnyRankOfPred<[4]>],
                                      "[batch, heads, positions, dim] float tensor">;

#endif // RASPC_ATTN_TYPES_TD
