// RUN: rasp-opt %s | rasp-opt | FileCheck %s
// RUN: rasp-opt %s --mlir-print-op-generic | rasp-opt | FileCheck %s
// RUN: rasp-opt %s --emit-bytecode | rasp-opt | FileCheck %s

// Round trips of every attn operation through the custom, the generic and
// the bytecode forms.

// CHECK-LABEL: func.func @select_comparisons
func.func @select_comparisons(%k: tensor<?xi64>, %q: tensor<?xi64>) {
  // CHECK: attn.select %{{.*}}, %{{.*}}, eq : tensor<?xi64>, tensor<?xi64>
  %0 = attn.select %k, %q, eq : tensor<?xi64>, tensor<?xi64>
  // CHECK: attn.select %{{.*}}, %{{.*}}, ne :
  %1 = attn.select %k, %q, ne : tensor<?xi64>, tensor<?xi64>
  // CHECK: attn.select %{{.*}}, %{{.*}}, lt :
  %2 = attn.select %k, %q, lt : tensor<?xi64>, tensor<?xi64>
  // CHECK: attn.select %{{.*}}, %{{.*}}, le :
  %3 = attn.select %k, %q, le : tensor<?xi64>, tensor<?xi64>
  // CHECK: attn.select %{{.*}}, %{{.*}}, gt :
  %4 = attn.select %k, %q, gt : tensor<?xi64>, tensor<?xi64>
  // CHECK: attn.select %{{.*}}, %{{.*}}, ge :
  %5 = attn.select %k, %q, ge : tensor<?xi64>, tensor<?xi64>
  // CHECK: attn.select %{{.*}}, %{{.*}}, always :
  %6 = attn.select %k, %q, always : tensor<?xi64>, tensor<?xi64>
  // CHECK: attn.select %{{.*}}, %{{.*}}, never :
  %7 = attn.select %k, %q, never : tensor<?xi64>, tensor<?xi64>
  return
}

// CHECK-LABEL: func.func @select_predicate_region
func.func @select_predicate_region(%k: tensor<?xf32>, %q: tensor<8xi32>) -> !attn.selector {
  // CHECK: %[[S:.*]] = attn.select %{{.*}}, %{{.*}} : tensor<?xf32>, tensor<8xi32> where {
  // CHECK-NEXT: ^bb0(%[[K:.*]]: f32, %[[Q:.*]]: i32):
  // CHECK: arith.sitofp %[[Q]]
  // CHECK: attn.yield %{{.*}} : i1
  // CHECK-NEXT: }
  %s = attn.select %k, %q : tensor<?xf32>, tensor<8xi32> where {
  ^bb0(%key: f32, %query: i32):
    %qf = arith.sitofp %query : i32 to f32
    %b = arith.cmpf olt, %key, %qf : f32
    attn.yield %b : i1
  }
  // CHECK: return %[[S]] : !attn.selector
  return %s : !attn.selector
}

// CHECK-LABEL: func.func @aggregates
func.func @aggregates(%s: !attn.selector, %vi: tensor<?xi64>, %vf: tensor<?xf32>,
                      %vh: tensor<?xbf16>) {
  // CHECK: attn.aggregate mean %{{.*}}, %{{.*}} : tensor<?xi64> -> tensor<?xf32> default 0.000000e+00
  %0 = attn.aggregate mean %s, %vi : tensor<?xi64> -> tensor<?xf32> default 0.0
  // CHECK: attn.aggregate mean %{{.*}}, %{{.*}} : tensor<?xf32> -> tensor<?xf32> default -1.500000e+00
  %1 = attn.aggregate mean %s, %vf : tensor<?xf32> -> tensor<?xf32> default -1.5
  // CHECK: attn.aggregate categorical %{{.*}}, %{{.*}} : tensor<?xi64> -> tensor<?xi64> default -7
  %2 = attn.aggregate categorical %s, %vi : tensor<?xi64> -> tensor<?xi64> default -7
  // CHECK: attn.aggregate mean %{{.*}}, %{{.*}} : tensor<?xbf16> -> tensor<?xbf16> default 0.000000e+00
  %3 = attn.aggregate mean %s, %vh : tensor<?xbf16> -> tensor<?xbf16> default 0.0
  return
}

// CHECK-LABEL: func.func @selector_width_and_combinators
func.func @selector_width_and_combinators(%a: !attn.selector, %b: !attn.selector) -> tensor<?xi64> {
  // CHECK: %[[AND:.*]] = attn.and %{{.*}}, %{{.*}}
  %and = attn.and %a, %b
  // CHECK: %[[OR:.*]] = attn.or %[[AND]], %{{.*}}
  %or = attn.or %and, %b
  // CHECK: %[[NOT:.*]] = attn.not %[[OR]]
  %not = attn.not %or
  // CHECK: attn.selector_width %[[NOT]] : tensor<?xi64>
  %w = attn.selector_width %not : tensor<?xi64>
  // CHECK: attn.selector_width %{{.*}} : tensor<?xi32>
  %w32 = attn.selector_width %a : tensor<?xi32>
  // CHECK: attn.materialize %[[NOT]] : tensor<?x?xi1>
  %m = attn.materialize %not : tensor<?x?xi1>
  return %w : tensor<?xi64>
}

// CHECK-LABEL: func.func @attention_plain
func.func @attention_plain(%q: tensor<2x4x?x64xf32>, %k: tensor<2x4x?x64xf32>,
                           %v: tensor<2x4x?x64xf32>, %o: tensor<2x4x?x64xf32>) -> tensor<2x4x?x64xf32> {
  // CHECK: attn.attention softmax ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x?x64xf32>, tensor<2x4x?x64xf32>, tensor<2x4x?x64xf32>) outs(%{{.*}} : tensor<2x4x?x64xf32>) -> tensor<2x4x?x64xf32>
  // CHECK-NOT: mask
  // CHECK-NOT: score
  %r = attn.attention softmax ins(%q, %k, %v : tensor<2x4x?x64xf32>, tensor<2x4x?x64xf32>, tensor<2x4x?x64xf32>)
         outs(%o : tensor<2x4x?x64xf32>) -> tensor<2x4x?x64xf32>
  return %r : tensor<2x4x?x64xf32>
}

// Grouped-query, cross-length attention with bf16 inputs and an f32 result.
// CHECK-LABEL: func.func @attention_gqa_cross_mask_score
func.func @attention_gqa_cross_mask_score(%q: tensor<1x8x16x128xbf16>, %k: tensor<1x2x?x128xbf16>,
                                          %v: tensor<1x2x?x32xbf16>, %o: tensor<1x8x16x32xf32>,
                                          %doc: tensor<?xi32>) -> tensor<1x8x16x32xf32> {
  // CHECK: attn.attention sigmoid ins({{.*}}) outs({{.*}}) -> tensor<1x8x16x32xf32> mask {
  // CHECK-NEXT: ^bb0(%{{.*}}: index, %{{.*}}: index, %[[I:.*]]: index, %[[J:.*]]: index):
  // CHECK: tensor.extract %{{.*}}[%[[J]]]
  // CHECK: attn.yield %{{.*}} : i1
  // CHECK-NEXT: } score {
  // CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %{{.*}}: index, %[[H:.*]]: index, %{{.*}}: index, %{{.*}}: index):
  // CHECK: attn.yield %{{.*}} : f32
  %r = attn.attention sigmoid
         ins(%q, %k, %v : tensor<1x8x16x128xbf16>, tensor<1x2x?x128xbf16>, tensor<1x2x?x32xbf16>)
         outs(%o : tensor<1x8x16x32xf32>) -> tensor<1x8x16x32xf32>
         mask {
         ^bb0(%b: index, %h: index, %i: index, %j: index):
           %di = tensor.extract %doc[%i] : tensor<?xi32>
           %dj = tensor.extract %doc[%j] : tensor<?xi32>
           %same = arith.cmpi eq, %di, %dj : i32
           attn.yield %same : i1
         }
         score {
         ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
           // ALiBi: subtract slope(h) * (i - j).
           %hi = arith.index_cast %h : index to i32
           %hf = arith.sitofp %hi : i32 to f32
           %ii = arith.index_cast %i : index to i32
           %ji = arith.index_cast %j : index to i32
           %d = arith.subi %ii, %ji : i32
           %df = arith.sitofp %d : i32 to f32
           %bias = arith.mulf %hf, %df : f32
           %r = arith.subf %s, %bias : f32
           attn.yield %r : f32
         }
  return %r : tensor<1x8x16x32xf32>
}

// CHECK-LABEL: func.func @attention_mean_and_linear
func.func @attention_mean_and_linear(%q: tensor<1x1x?x16xf16>, %o: tensor<1x1x?x16xf16>) {
  // CHECK: attn.attention mean ins
  %0 = attn.attention mean ins(%q, %q, %q : tensor<1x1x?x16xf16>, tensor<1x1x?x16xf16>, tensor<1x1x?x16xf16>)
         outs(%o : tensor<1x1x?x16xf16>) -> tensor<1x1x?x16xf16>
  // CHECK: attn.attention linear feature_map(elu_plus_one) ins
  %1 = attn.attention linear feature_map(elu_plus_one) ins(%q, %q, %q : tensor<1x1x?x16xf16>, tensor<1x1x?x16xf16>, tensor<1x1x?x16xf16>)
         outs(%o : tensor<1x1x?x16xf16>) -> tensor<1x1x?x16xf16>
  // CHECK: attn.attention linear feature_map(relu) ins
  %2 = attn.attention linear feature_map(relu) ins(%q, %q, %q : tensor<1x1x?x16xf16>, tensor<1x1x?x16xf16>, tensor<1x1x?x16xf16>)
         outs(%o : tensor<1x1x?x16xf16>) -> tensor<1x1x?x16xf16>
         mask {
         ^bb0(%b: index, %h: index, %i: index, %j: index):
           %c = arith.cmpi ule, %j, %i : index
           attn.yield %c : i1
         }
  // CHECK: attn.attention linear feature_map(exp) ins
  %3 = attn.attention linear feature_map(exp) ins(%q, %q, %q : tensor<1x1x?x16xf16>, tensor<1x1x?x16xf16>, tensor<1x1x?x16xf16>)
         outs(%o : tensor<1x1x?x16xf16>) -> tensor<1x1x?x16xf16>
  return
}

// A normalizer that a plugin defines travels by name.
// CHECK-LABEL: func.func @custom_normalizer
// CHECK: attn.attention custom "sinkhorn" ins(
func.func @custom_normalizer(%q: tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32> {
  %o = attn.attention custom "sinkhorn"
         ins(%q, %q, %q : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
         outs(%q : tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
  return %o : tensor<1x1x?x4xf32>
}
