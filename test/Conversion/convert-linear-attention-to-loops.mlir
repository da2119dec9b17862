// RUN: rasp-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(convert-linear-attention-to-loops))' | FileCheck %s

// Causal linear attention is a scan: per (batch, head) task, S [D, E] and
// z [D] on the stack; each query first adds its own key (when there is one)
// and then reads S and z. No [queries, keys] buffer.
// CHECK-LABEL: func.func @causal
// CHECK: %[[OUT:.*]] = memref.alloc({{.*}}) {alignment = 64 : i64} : memref<1x4x?x8xf32>
// CHECK: scf.parallel
// CHECK: %[[S:.*]] = memref.alloca() {alignment = 64 : i64} : memref<4x8xf32>
// CHECK: %[[Z:.*]] = memref.alloca() {alignment = 64 : i64} : memref<4xf32>
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[HAS:.*]] = arith.cmpi ult, %[[I]], %{{.*}} : index
// CHECK: scf.if %[[HAS]] {
// The feature map (elu + 1, its exp a polynomial) of the key, then
// S += phi(k) v^T with vectors along E.
// CHECK: math.fma
// CHECK: arith.select
// CHECK: vector.fma %{{.*}} : vector<8xf32>
// CHECK: vector.store %{{.*}}, %[[S]]
// CHECK: }
// The row is divided by phi(q) . z; 0 where that is 0, and NaN where it
// is NaN (une, not one).
// CHECK: %[[NONZERO:.*]] = arith.cmpf une
// CHECK: arith.select %[[NONZERO]]
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
// CHECK-NOT: attn.attention
func.func @causal(%q: tensor<1x4x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x8xf32>,
                  %init: tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32> {
  %o = attn.attention linear feature_map(elu_plus_one)
         ins(%q, %k, %v : tensor<1x4x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x8xf32>)
         outs(%init : tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
         mask {
         ^bb0(%b: index, %h: index, %i: index, %j: index):
           %ji = arith.index_cast %j : index to i64
           %ii = arith.index_cast %i : index to i64
           %c = arith.cmpi sle, %ji, %ii : i64
           attn.yield %c : i1
         }
  return %o : tensor<1x4x?x8xf32>
}

// -----

// Without a mask: all keys into S and z first, then every query.
// CHECK-LABEL: func.func @all
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: memref.load %{{.*}} : memref<1x1x?x4xf32, strided<[?, ?, ?, ?], offset: ?>>
// CHECK-NOT: scf.if
// CHECK: arith.maximumf
// CHECK-NOT: math.exp
// CHECK-NOT: attn.attention
func.func @all(%q: tensor<1x1x?x4xf32>, %init: tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32> {
  %o = attn.attention linear feature_map(relu)
         ins(%q, %q, %q : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
         outs(%init : tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
  return %o : tensor<1x1x?x4xf32>
}

// -----

// Other masks (here strictly causal) keep the reference lowering.
// CHECK-LABEL: func.func @strict
// CHECK: attn.attention linear
// CHECK-NOT: scf.parallel
func.func @strict(%q: tensor<1x1x?x4xf32>, %init: tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32> {
  %o = attn.attention linear feature_map(exp)
         ins(%q, %q, %q : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
         outs(%init : tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
         mask {
         ^bb0(%b: index, %h: index, %i: index, %j: index):
           %c = arith.cmpi ult, %j, %i : index
           attn.yield %c : i1
         }
  return %o : tensor<1x1x?x4xf32>
}
