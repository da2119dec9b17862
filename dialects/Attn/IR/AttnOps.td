//===- AttnOps.td - attn dialect operations ----------------*- tablegen -*-===//
//
// Sequence-level RASP operations (select, aggregate, selector_width and the
// selector combinators) and tensor-level attention.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_ATTN_OPS_TD
#define RASPC_ATTN_OPS_TD

include "Attn/IR/AttnDialect.td"
include "Attn/IR/AttnEnums.td"
include "Attn/IR/AttnTypes.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Sequence level
//===----------------------------------------------------------------------===//

def Attn_SelectOp : Attn_Op<"select", [RecursiveMemoryEffects]> {
  let summary = "compares every key with every query, giving a selector";
  let description = [{
    RASP's `select(keys, queries, predicate)`. Entry `(q, k)` of the result is
    true when `predicate(keys[k], queries[q])` holds. The predicate is either
    a comparison written after the operands, read as `key <cmp> query`
    (`eq`, `ne`, `lt`, `le`, `gt`, `ge`, or `always` / `never`), or a
    `where` region that receives one key and one query element and yields an
    `i1`. Comparisons need keys and queries of the same element type.

    ```mlir
    // key < query: each position selects the positions before it.
    %prev = attn.select %idx, %idx, lt : tensor<?xi64>, tensor<?xi64>

    // Any predicate: |key - query| == 1.
    %near = attn.select %idx, %idx : tensor<?xi64>, tensor<?xi64> where {
    ^bb0(%k: i64, %q: i64):
      %d = arith.subi %k, %q : i64
      %a = math.absi %d : i64
      %one = arith.constant 1 : i64
      %b = arith.cmpi eq, %a, %one : i64
      attn.yield %b : i1
    }
    ```
  }];
  let arguments = (ins Attn_Sequence:$keys, Attn_Sequence:$queries,
                       OptionalAttr<Attn_Comparison>:$comparison);
  let results = (outs Attn_SelectorType:$result);
  let regions = (region MaxSizedRegion<1>:$predicate);
  let assemblyFormat = [{
    $keys `,` $queries (`,` $comparison^)? attr-dict `:` type($keys) `,`
    type($queries) (`where` $predicate^)?
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def Attn_AggregateOp : Attn_Op<"aggregate", [Pure]> {
  let summary = "moves or averages the selected values to each query";
  let description = [{
    RASP's `aggregate(selector, values)`. For each query position the values at
    the selected key positions are combined:

    * `mean` (numerical aggregate): their average. The result has a float
      element type; values may be integers or floats.
    * `categorical`: the single selected value, of the values' element type.
      When several keys are selected the result is their mean, as in RASP;
      programs that are correct select exactly one.

    A query that selects no key gets `default`, which has the result's element
    type.

    ```mlir
    %r = attn.aggregate mean %sel, %v : tensor<?xi64> -> tensor<?xf32> default 0.0
    %t = attn.aggregate categorical %flip, %tok : tensor<?xi32> -> tensor<?xi32> default -1
    ```
  }];
  let arguments = (ins Attn_AggregateKind:$kind, Attn_SelectorType:$selector,
                       Attn_Sequence:$values, TypedAttrInterface:$default_value);
  let results = (outs Attn_Sequence:$result);
  let assemblyFormat = [{
    $kind $selector `,` $values attr-dict `:` type($values) `->` type($result)
    `default` custom<DefaultValue>($default_value, ref(type($result)))
  }];
  let hasVerifier = 1;
}

def Attn_SelectorWidthOp : Attn_Op<"selector_width", [Pure]> {
  let summary = "counts the keys each query selects";
  let description = [{
    RASP's `selector_width(selector)`: for each query position, the number of
    key positions it selects.

    ```mlir
    %w = attn.selector_width %sel : tensor<?xi64>
    ```
  }];
  let arguments = (ins Attn_SelectorType:$selector);
  let results = (outs RankedTensorOf<[AnySignlessInteger, Index],
                                     [HasAnyRankOfPred<[1]>]>:$result);
  let assemblyFormat = "$selector attr-dict `:` type($result)";
}

class Attn_SelectorBinaryOp<string mnemonic, string what>
    : Attn_Op<mnemonic, [Pure, Commutative]> {
  let summary = "selects where " # what # " of two selectors selects";
  let description = [{
    Combines two selectors over the same queries and keys entry by entry.

    ```mlir
    %s = attn.}] # mnemonic # [{ %a, %b
    ```
  }];
  let arguments = (ins Attn_SelectorType:$lhs, Attn_SelectorType:$rhs);
  let results = (outs Attn_SelectorType:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict";
  let hasFolder = 1;
}

def Attn_AndOp : Attn_SelectorBinaryOp<"and", "each">;
def Attn_OrOp : Attn_SelectorBinaryOp<"or", "either">;

def Attn_NotOp : Attn_Op<"not", [Pure]> {
  let summary = "selects exactly where a selector does not";
  let description = [{
    ```mlir
    %s = attn.not %a
    ```
  }];
  let arguments = (ins Attn_SelectorType:$operand);
  let results = (outs Attn_SelectorType:$result);
  let assemblyFormat = "$operand attr-dict";
  let hasFolder = 1;
}

def Attn_MaterializeOp : Attn_Op<"materialize", [Pure]> {
  let summary = "a selector as a [queries, keys] boolean tensor";
  let description = [{
    Makes a selector's pattern visible as data: entry `(q, k)` is true when
    query `q` selects key `k`. Programs do not need it; tools do, to show
    selectors (`raspc run --print-selectors`).

    ```mlir
    %m = attn.materialize %sel : tensor<?x?xi1>
    ```
  }];
  let arguments = (ins Attn_SelectorType:$selector);
  let results = (outs RankedTensorOf<[I1], [HasAnyRankOfPred<[2]>],
                                     "[queries, keys] tensor">:$result);
  let assemblyFormat = "$selector attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Tensor level
//===----------------------------------------------------------------------===//

def Attn_AttentionOp : Attn_Op<"attention", [
    RecursiveMemoryEffects, DestinationStyleOpInterface]> {
  let summary = "one attention computation over query, key and value tensors";
  let description = [{
    Computes, for every batch `b`, query head `h`, query position `i` and
    output feature `e`,

    ```
    out[b, h, i, e] = sum_j w(b, h, i, j) * value[b, h / g, j, e]
    ```

    where `g = query_heads / key_heads` (grouped-query attention when `g > 1`)
    and the weights `w` come from the scores
    `s(b, h, i, j) = score(dot(query[b, h, i, :], key[b, h / g, j, :]), b, h, i, j)`
    of the keys that `mask(b, h, i, j)` leaves visible, normalized by
    `normalizer`:

    * `softmax`: `exp(s) / sum(exp(s))` over the visible keys;
    * `mean`: every visible key weighs `1 / count` (RASP's hard attention;
      scores are not used);
    * `sigmoid`: `sigmoid(s)` for each visible key, no normalization;
    * `linear`: `phi(q) . phi(k) / sum_j phi(q) . phi(k_j)` with the feature
      map `phi` given by `feature_map`; there is no score region;
    * `custom "name"`: a normalizer that raspc does not define; a pass from
      outside (a plugin, see docs/passes.md) must lower it before
      `convert-attn-to-linalg`, which reports it otherwise. The scores,
      mask and operands mean the same as for softmax.

    A query with no visible key gets zeros. Operands are laid out
    `[batch, heads, positions, dim]`; queries and keys may have different
    lengths (cross-attention) and values may have a different feature size.
    The result is written into `init` (destination style) and may have
    another float type than the inputs (e.g. bf16 in, f32 out).

    The optional `mask` region receives `(batch, head, query_pos, key_pos)` as
    `index` values and yields an `i1`: true keeps the key. Absent, every key is
    visible. Values defined above may be read, e.g. document ids.

    The optional `score` region receives the raw dot product (a float, the
    accumulation type) followed by the same four indices and yields the new
    score of the same type. Absent, the raw dot product is used.

    ```mlir
    %o = attn.attention softmax
           ins(%q, %k, %v : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>)
           outs(%init : tensor<1x8x?x64xf32>) -> tensor<1x8x?x64xf32>
           mask {
           ^bb0(%b: index, %h: index, %i: index, %j: index):
             %c = arith.cmpi ule, %j, %i : index
             attn.yield %c : i1
           }
           score {
           ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
             %scale = arith.constant 0.125 : f32
             %r = arith.mulf %s, %scale : f32
             attn.yield %r : f32
           }
    ```
  }];
  let arguments = (ins Attn_HeadsTensor:$query, Attn_HeadsTensor:$key,
                       Attn_HeadsTensor:$value, Attn_HeadsTensor:$init,
                       Attn_Normalizer:$normalizer,
                       OptionalAttr<Attn_FeatureMap>:$feature_map,
                       OptionalAttr<StrAttr>:$custom_name);
  let results = (outs Attn_HeadsTensor:$result);
  let regions = (region MaxSizedRegion<1>:$mask, MaxSizedRegion<1>:$score);
  let assemblyFormat = [{
    $normalizer ($custom_name^)? (`feature_map` `(` $feature_map^ `)`)?
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,`
    type($value) `)` `outs` `(` $init `:` type($init) `)` attr-dict
    `->` type($result) (`mask` $mask^)? (`score` $score^)?
  }];
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return getInitMutable();
    }
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def Attn_YieldOp : Attn_Op<"yield", [
    Pure, Terminator, ParentOneOf<["SelectOp", "AttentionOp"]>]> {
  let summary = "yields the value of a predicate, mask or score region";
  let description = [{
    Terminates the regions of `attn.select` and `attn.attention`.

    ```mlir
    attn.yield %keep : i1
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let builders = [OpBuilder<(ins), [{ /* no values */ }]>];
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

#endif // RASPC_ATTN_OPS_TD
