// RUN: rasp-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(convert-attn-to-linalg))' | FileCheck %s

// A selector becomes a [queries, keys] i1 tensor; the comparison reads
// `key <cmp> query`.
// CHECK-DAG: #[[KEY:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[QUERY:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG: #[[QK:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @select_width
// CHECK-SAME: (%[[K:.*]]: tensor<?xi64>, %[[Q:.*]]: tensor<?xi64>)
// CHECK: %[[E:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?xi1>
// CHECK: %[[SEL:.*]] = linalg.generic {indexing_maps = [#[[KEY]], #[[QUERY]], #[[QK]]], iterator_types = ["parallel", "parallel"]} ins(%[[K]], %[[Q]] : tensor<?xi64>, tensor<?xi64>) outs(%[[E]] : tensor<?x?xi1>)
// CHECK-NEXT: ^bb0(%[[KEL:.*]]: i64, %[[QEL:.*]]: i64, %{{.*}}: i1):
// CHECK-NEXT: %[[LT:.*]] = arith.cmpi slt, %[[KEL]], %[[QEL]] : i64
// CHECK-NEXT: linalg.yield %[[LT]] : i1
// selector_width counts over the key dimension.
// CHECK: linalg.generic {indexing_maps = [#[[QK]], #[[QUERY]]], iterator_types = ["parallel", "reduction"]} ins(%[[SEL]] : tensor<?x?xi1>)
// CHECK: arith.extui
// CHECK: arith.addi
// CHECK-NOT: attn.
func.func @select_width(%k: tensor<?xi64>, %q: tensor<?xi64>) -> tensor<?xi64> {
  %s = attn.select %k, %q, lt : tensor<?xi64>, tensor<?xi64>
  %w = attn.selector_width %s : tensor<?xi64>
  return %w : tensor<?xi64>
}

// -----

// Predicate regions are inlined; combinators are element-wise.
// CHECK-LABEL: func.func @predicate_and_not
// CHECK: linalg.generic
// CHECK-NEXT: ^bb0(%[[KEL:.*]]: i64, %[[QEL:.*]]: i64, %{{.*}}: i1):
// CHECK-NEXT: %[[D:.*]] = arith.subi %[[QEL]], %[[KEL]] : i64
// CHECK: arith.cmpi eq, %[[D]]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// CHECK: arith.xori
func.func @predicate_and_not(%k: tensor<?xi64>) -> tensor<?xi64> {
  %s = attn.select %k, %k : tensor<?xi64>, tensor<?xi64> where {
  ^bb0(%key: i64, %query: i64):
    %d = arith.subi %query, %key : i64
    %one = arith.constant 1 : i64
    %b = arith.cmpi eq, %d, %one : i64
    attn.yield %b : i1
  }
  %n = attn.not %s
  %w = attn.selector_width %n : tensor<?xi64>
  return %w : tensor<?xi64>
}

// -----

// attn.materialize is the lowered selector itself.
// CHECK-LABEL: func.func @materialize
// CHECK: %[[SEL:.*]] = linalg.generic
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.cmpi eq
// CHECK: return %[[SEL]] : tensor<?x?xi1>
func.func @materialize(%k: tensor<?xi64>) -> tensor<?x?xi1> {
  %s = attn.select %k, %k, eq : tensor<?xi64>, tensor<?xi64>
  %m = attn.materialize %s : tensor<?x?xi1>
  return %m : tensor<?x?xi1>
}

// -----

// aggregate: a sum and a count per query, then sum / count or the default;
// the divisor is 1 where nothing was selected, so integers never trap.
// CHECK-LABEL: func.func @aggregate_categorical
// CHECK: %[[SUMS:.*]]:2 = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK-SAME: outs(%{{.*}}, %{{.*}} : tensor<?xi64>, tensor<?xi64>)
// CHECK: linalg.generic {{.*}} ins(%[[SUMS]]#0, %[[SUMS]]#1 : tensor<?xi64>, tensor<?xi64>)
// CHECK: %[[NONE:.*]] = arith.cmpi eq, %[[COUNT:.*]], %{{.*}} : i64
// CHECK: %[[DIV:.*]] = arith.select %[[NONE]], %{{.*}}, %[[COUNT]] : i64
// CHECK: arith.divsi %{{.*}}, %[[DIV]] : i64
// CHECK: %[[DEFAULT:.*]] = arith.constant -1 : i32
// CHECK: arith.select %[[NONE]], %[[DEFAULT]], %{{.*}} : i32
func.func @aggregate_categorical(%s: tensor<?xi64>, %tokens: tensor<?xi32>) -> tensor<?xi32> {
  %sel = attn.select %s, %s, eq : tensor<?xi64>, tensor<?xi64>
  %r = attn.aggregate categorical %sel, %tokens : tensor<?xi32> -> tensor<?xi32> default -1
  return %r : tensor<?xi32>
}

// -----

// Attention: scores (reduction over the head dim, key heads through
// h floordiv 4 for grouped-query attention), the inlined mask, a row max,
// exponentials, a row sum, the normalized weights, and the weighted values.
// CHECK-DAG: #[[KV:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1 floordiv 4, d3, d4)>
// CHECK-LABEL: func.func @attention
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[KV]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK: linalg.index 2
// CHECK: linalg.index 3
// CHECK: arith.cmpi ule
// CHECK: arith.maximumf
// A row max of -inf (no visible key with a finite score) subtracts 0, so
// that the weights are 0, not exp(-inf + inf) = NaN.
// CHECK: %[[NOTHING:.*]] = arith.cmpf oeq, %{{.*}}, %cst
// CHECK: %[[BASE:.*]] = arith.select %[[NOTHING]], %{{.*}}, %{{.*}} : f32
// CHECK: %[[SHIFTED:.*]] = arith.subf %{{.*}}, %[[BASE]] : f32
// CHECK: math.exp %[[SHIFTED]]
// CHECK: arith.divf
// The weighted sum reads the mask and the weight: the value of a hidden
// key, or of a key of weight 0 (scored -inf), is not multiplied in
// (0 * NaN would be NaN).
// CHECK: iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK-NEXT: ^bb0(%[[W:.*]]: f32, %[[VISIBLE:.*]]: i1, %[[V:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK: %[[SUM:.*]] = arith.addf %[[ACC]], %{{.*}} : f32
// CHECK: %[[WEIGHS:.*]] = arith.cmpf une, %[[W]], %{{.*}} : f32
// CHECK: %[[READ:.*]] = arith.andi %[[VISIBLE]], %[[WEIGHS]] : i1
// CHECK: arith.select %[[READ]], %[[SUM]], %[[ACC]] : f32
// CHECK-NOT: attn.
func.func @attention(%q: tensor<1x8x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>,
                     %o: tensor<1x8x?x16xf32>) -> tensor<1x8x?x16xf32> {
  %r = attn.attention softmax ins(%q, %k, %v : tensor<1x8x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>)
         outs(%o : tensor<1x8x?x16xf32>) -> tensor<1x8x?x16xf32>
         mask {
         ^bb0(%b: index, %h: index, %i: index, %j: index):
           %c = arith.cmpi ule, %j, %i : index
           attn.yield %c : i1
         }
  return %r : tensor<1x8x?x16xf32>
}
