// RUN: rasp-opt %s --split-input-file --select-attention-strategy=vector-width=8 | FileCheck %s
// RUN: rasp-opt %s --split-input-file --select-attention-strategy=vector-width=16 | FileCheck %s --check-prefix=AVX512
// RUN: rasp-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(select-attention-strategy{vector-width=16},convert-attention-to-flash-loops))' | FileCheck %s --check-prefix=USED
// RUN: not rasp-opt %s --split-input-file --select-attention-strategy=vector-width=-4 2>&1 | FileCheck %s --check-prefix=NEGATIVE
// NEGATIVE: error: select-attention-strategy: vector-width must be positive

// Dynamic lengths: the full tiles for the target, 6 x 2 ymm or 6 x 4 zmm
// register tiles.
// CHECK-LABEL: func.func @dynamic
// CHECK: attn.attention softmax
// CHECK: raspc.flash_tiles = {key_tile = 64 : i64, query_tile = 96 : i64, register_rows = 6 : i64, register_vectors = 2 : i64, vector_width = 8 : i64}
// AVX512-LABEL: func.func @dynamic
// AVX512: raspc.flash_tiles = {key_tile = 64 : i64, query_tile = 96 : i64, register_rows = 6 : i64, register_vectors = 4 : i64, vector_width = 16 : i64}
// The flash loops take what the strategy chose: 16 lanes.
// USED-LABEL: func.func @dynamic
// USED-NOT: attn.attention
// USED: vector.fma {{.*}} : vector<16xf32>
func.func @dynamic(%q: tensor<1x2x?x64xf32>, %init: tensor<1x2x?x64xf32>) -> tensor<1x2x?x64xf32> {
  %o = attn.attention softmax
         ins(%q, %q, %q : tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>)
         outs(%init : tensor<1x2x?x64xf32>) -> tensor<1x2x?x64xf32>
  return %o : tensor<1x2x?x64xf32>
}

// -----

// A statically short sequence: tiles no bigger than the work (10 keys round
// up to 16, 10 queries to 12 rows).
// CHECK-LABEL: func.func @short
// CHECK: raspc.flash_tiles = {key_tile = 16 : i64, query_tile = 12 : i64,
func.func @short(%q: tensor<1x1x10x8xf32>, %init: tensor<1x1x10x8xf32>) -> tensor<1x1x10x8xf32> {
  %o = attn.attention softmax
         ins(%q, %q, %q : tensor<1x1x10x8xf32>, tensor<1x1x10x8xf32>, tensor<1x1x10x8xf32>)
         outs(%init : tensor<1x1x10x8xf32>) -> tensor<1x1x10x8xf32>
  return %o : tensor<1x1x10x8xf32>
}

// -----

// What the flash loops do not take gets no tiles.
// CHECK-LABEL: func.func @mean
// CHECK-NOT: raspc.flash_tiles
func.func @mean(%q: tensor<1x1x?x4xf32>, %init: tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32> {
  %o = attn.attention mean
         ins(%q, %q, %q : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
         outs(%init : tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
  return %o : tensor<1x1x?x4xf32>
}
