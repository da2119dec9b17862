// RUN: rasp-opt %s --pass-pipeline='builtin.module(func.func(convert-attention-to-flash-loops{vector-width=4 key-tile=6}))' --verify-diagnostics

// Tiles that do not fit together are an error at the attention they were
// for.
func.func @bad_tile(%q: tensor<1x1x?x4xf32>, %init: tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32> {
  // expected-error @below {{key-tile a multiple of vector-width}}
  %o = attn.attention softmax
         ins(%q, %q, %q : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
         outs(%init : tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
  return %o : tensor<1x1x?x4xf32>
}
