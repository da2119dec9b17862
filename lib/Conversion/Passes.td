//===- Passes.td - raspc conversion passes -----------------*- tablegen -*-===//

#ifndef RASPC_CONVERSION_PASSES_TD
#define RASPC_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertAttnToLinalg : Pass<"convert-attn-to-linalg", "::mlir::func::FuncOp"> {
  let summary = "Lower attn operations to linalg on tensors, by definition";
  let description = [{
    Rewrites every attn operation as the upstream operations that compute its
    definition directly, so that the upstream bufferization and loop
    lowering can take it from there:

    * a selector becomes a `tensor<?x?xi1>` of shape [queries, keys], built
      by a `linalg.generic` that evaluates the comparison or the inlined
      predicate region for every (query, key); `attn.and/or/not` are
      element-wise generics over it;
    * `attn.selector_width` and `attn.aggregate` are reductions over the
      key dimension (a count, and a sum divided by the count, with the
      declared default where nothing is selected);
    * `attn.attention` becomes scores (a reduction over the head
      dimension, with grouped-query heads read through `h floordiv g`), the
      inlined score and mask regions, the normalizer over the key dimension,
      and a reduction with the values. Fully masked queries produce zeros.

    This is the reference lowering: it materializes [queries, keys] tensors
    and is what tiled, fused lowerings are measured against.

    ```mlir
    // Before
    %s = attn.select %k, %q, lt : tensor<?xi64>, tensor<?xi64>
    %w = attn.selector_width %s : tensor<?xi64>
    // After (abridged)
    %sel = linalg.generic {iterator_types = ["parallel", "parallel"]}
        ins(%k, %q : tensor<?xi64>, tensor<?xi64>) outs(%e : tensor<?x?xi1>) {
      ^bb0(%key: i64, %query: i64, %out: i1):
        %lt = arith.cmpi slt, %key, %query : i64
        linalg.yield %lt : i1
    } -> tensor<?x?xi1>
    %w = linalg.generic {iterator_types = ["parallel", "reduction"]}
        ins(%sel : tensor<?x?xi1>) outs(%zeros : tensor<?xi64>) { ... }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect"];
}

#endif // RASPC_CONVERSION_PASSES_TD
