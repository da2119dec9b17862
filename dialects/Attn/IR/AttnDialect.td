//===- AttnDialect.td - the attn dialect -------------------*- tablegen -*-===//
//
// The attn dialect: RASP's sequence vocabulary and tensor-level attention.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_ATTN_DIALECT_TD
#define RASPC_ATTN_DIALECT_TD

include "mlir/IR/OpBase.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::mlir::attn";
  let summary = "Attention: RASP selectors and aggregates, and tensor attention";
  let description = [{
    The `attn` dialect is the level at which raspc understands attention. It
    has two layers that compose.

    **Sequence level (RASP).** A sequence is a rank-1 tensor whose length is
    the (dynamic) sequence length. `attn.select` compares every key with every
    query and yields a *selector*, a boolean pattern of shape
    `[queries, keys]` with the opaque type `!attn.selector`. Selectors combine
    with `attn.and`, `attn.or` and `attn.not`, are counted per query by
    `attn.selector_width`, and move values with `attn.aggregate` (numerical
    mean, or categorical with a declared default for empty selections).

    **Tensor level.** `attn.attention` is one attention computation over
    query, key and value tensors laid out `[batch, heads, positions, dim]`. It
    supports grouped-query attention (fewer key/value heads than query heads)
    and cross-attention (different query and key lengths). The *mask* region
    decides per (batch, head, query position, key position) whether a key is
    visible, the *score* region rewrites each raw dot-product score (scaling,
    ALiBi, relative bias, soft-capping), and the `normalizer` attribute picks
    how visible scores become weights: `softmax`, `mean` (RASP's hard
    attention), `sigmoid`, or `linear` attention with a feature map.

    Nothing here fixes an algorithm: later passes decide tiling, online
    softmax and block sparsity from what the regions say.
  }];
  let useDefaultTypePrinterParser = 1;
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

#endif // RASPC_ATTN_DIALECT_TD
