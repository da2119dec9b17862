// RUN: rasp-opt %s --load-pass-plugin=%plugin --pass-pipeline='builtin.module(func.func(attn-lower-sinkhorn{iterations=2}))' | FileCheck %s

// Scores with the score region inlined and the mask as -inf, a softmax
// (row max, exp, row sums), then per iteration column sums and row sums
// (reductions over dimension 2, then 3), and P.V.
// CHECK-LABEL: func.func @layer
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK: arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: arith.cmpi ule
// CHECK: arith.select %{{.*}}, %{{.*}}, %cst{{.*}} : f32
// CHECK: iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// Two iterations: column sums, then row sums, twice.
// CHECK: iterator_types = ["parallel", "parallel", "reduction", "parallel"]
// CHECK: iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK: iterator_types = ["parallel", "parallel", "reduction", "parallel"]
// CHECK: iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK-NOT: iterator_types = ["parallel", "parallel", "reduction", "parallel"]
// CHECK: iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK-NOT: attn.attention
func.func @layer(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>,
                 %init: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %o = attn.attention custom "sinkhorn"
         ins(%q, %k, %v : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>)
         outs(%init : tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
         mask {
         ^bb0(%b: index, %h: index, %i: index, %j: index):
           %c = arith.cmpi ule, %j, %i : index
           attn.yield %c : i1
         }
         score {
         ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
           %c2 = arith.constant 2.0 : f32
           %r = arith.divf %s, %c2 : f32
           attn.yield %r : f32
         }
  return %o : tensor<1x2x?x4xf32>
}
