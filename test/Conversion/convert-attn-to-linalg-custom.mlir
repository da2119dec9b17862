// RUN: rasp-opt %s --pass-pipeline='builtin.module(func.func(convert-attn-to-linalg))' --verify-diagnostics

// The reference lowering does not define custom normalizers; it says what
// to load instead.
func.func @custom(%q: tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32> {
  // expected-error @below {{no pass lowered the custom normalizer 'sinkhorn'; load the plugin that defines it}}
  %o = attn.attention custom "sinkhorn"
         ins(%q, %q, %q : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
         outs(%q : tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
  return %o : tensor<1x1x?x4xf32>
}
