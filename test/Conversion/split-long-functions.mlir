// RUN: rasp-opt %s --split-long-functions='min-ops=4 part-ops=2' | FileCheck %s
// RUN: rasp-opt %s --split-long-functions | FileCheck %s --check-prefix=SHORT

// A chain of six operations in parts of two: three calls of one function,
// since the parts do the same to different tensors. Constants are cloned
// into the part, not passed.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: (%[[X:.*]]: tensor<8xf32>)
// CHECK-NOT: arith.addf
// CHECK: %[[P1:.*]] = call @chain_part(%[[X]]) : (tensor<8xf32>) -> tensor<8xf32>
// CHECK: %[[P2:.*]] = call @chain_part(%[[P1]])
// CHECK: %[[P3:.*]] = call @chain_part(%[[P2]])
// CHECK: return %[[P3]]
// CHECK: func.func private @chain_part(%[[A:.*]]: tensor<8xf32>) -> tensor<8xf32>
// CHECK-SAME: attributes {llvm.linkage = #llvm.linkage<internal>, passthrough = ["noinline"]}
// CHECK: %[[ONE:.*]] = arith.constant dense<1.000000e+00>
// CHECK: %[[B:.*]] = arith.addf %[[A]], %[[ONE]]
// CHECK: %[[C:.*]] = arith.mulf %[[B]], %[[B]]
// CHECK: return %[[C]]
// CHECK-NOT: func.func private @chain
func.func @chain(%x: tensor<8xf32>) -> tensor<8xf32> {
  %one = arith.constant dense<1.0> : tensor<8xf32>
  %a = arith.addf %x, %one : tensor<8xf32>
  %b = arith.mulf %a, %a : tensor<8xf32>
  %c = arith.addf %b, %one : tensor<8xf32>
  %d = arith.mulf %c, %c : tensor<8xf32>
  %e = arith.addf %d, %one : tensor<8xf32>
  %f = arith.mulf %e, %e : tensor<8xf32>
  return %f : tensor<8xf32>
}

// A value the first part makes and the second reads is a result of the
// first call and an argument of the second.
// CHECK-LABEL: func.func @crossing
// CHECK: %[[Q:.*]]:2 = call @crossing_part(%{{.*}}) : (tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>)
// CHECK: %[[R:.*]] = call @crossing_part_{{[0-9]+}}(%[[Q]]#1, %[[Q]]#0)
// CHECK: return %[[R]]
func.func @crossing(%x: tensor<8xf32>) -> tensor<8xf32> {
  %a = arith.addf %x, %x : tensor<8xf32>
  %b = arith.mulf %a, %a : tensor<8xf32>
  %c = arith.addf %b, %b : tensor<8xf32>
  %d = arith.subf %c, %a : tensor<8xf32>
  return %d : tensor<8xf32>
}

// Below min-ops (512 by default) a function stays as it is.
// SHORT-LABEL: func.func @chain
// SHORT-NOT: call
// SHORT-NOT: func.func private
