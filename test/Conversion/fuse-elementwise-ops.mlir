// RUN: rasp-opt %s --split-input-file --fuse-elementwise-ops | FileCheck %s

#rows = affine_map<(i, j) -> (i, j)>
#columns = affine_map<(i, j) -> (j)>

// A bias, then GELU (sizes from the bias's result: the tensor.dim is
// resolved to the product's, not counted as a second use): one generic
// reading the product and the bias, both bodies in it.
// CHECK-LABEL: func.func @bias_gelu(
// CHECK-SAME: %[[P:[^:]*]]: tensor<?x64xf32>, %[[BIAS:[^:]*]]: tensor<64xf32>
// CHECK: %[[DIM:.*]] = tensor.dim %[[P]]
// CHECK: %[[R:.*]] = linalg.generic
// CHECK-SAME: ins(%[[P]], %[[BIAS]] : tensor<?x64xf32>, tensor<64xf32>)
// CHECK: arith.addf
// CHECK: math.erf
// CHECK-NOT: linalg.generic
// CHECK: return %[[R]]
func.func @bias_gelu(%p: tensor<?x64xf32>, %bias: tensor<64xf32>) -> tensor<?x64xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %p, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%t) : tensor<?x64xf32>
  %b = linalg.generic {indexing_maps = [#rows, #columns, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias : tensor<?x64xf32>, tensor<64xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%in: f32, %bi: f32, %unused: f32):
    %s = arith.addf %in, %bi : f32
    linalg.yield %s : f32
  } -> tensor<?x64xf32>
  %t2 = tensor.dim %b, %c0 : tensor<?x64xf32>
  %e2 = tensor.empty(%t2) : tensor<?x64xf32>
  %g = linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%b : tensor<?x64xf32>) outs(%e2 : tensor<?x64xf32>) {
  ^bb0(%in: f32, %unused: f32):
    %erf = math.erf %in : f32
    linalg.yield %erf : f32
  } -> tensor<?x64xf32>
  return %g : tensor<?x64xf32>
}

// -----

#rows = affine_map<(i, j) -> (i, j)>

// A residual read twice (by the norm's reduction and by the next residual)
// is not fused into either: it would be computed twice.
// CHECK-LABEL: func.func @shared_producer(
// CHECK: %[[X1:.*]] = linalg.generic
// CHECK: linalg.generic {{.*}} ins(%[[X1]]
// CHECK: linalg.generic {{.*}} ins(%[[X1]]
func.func @shared_producer(%x: tensor<8x64xf32>, %y: tensor<8x64xf32>)
    -> (tensor<8xf32>, tensor<8x64xf32>) {
  %e = tensor.empty() : tensor<8x64xf32>
  %x1 = linalg.generic {indexing_maps = [#rows, #rows, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%x, %y : tensor<8x64xf32>, tensor<8x64xf32>) outs(%e : tensor<8x64xf32>) {
  ^bb0(%a: f32, %b: f32, %unused: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<8x64xf32>
  %zero = arith.constant 0.0 : f32
  %e8 = tensor.empty() : tensor<8xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%e8 : tensor<8xf32>) -> tensor<8xf32>
  %sum = linalg.generic {indexing_maps = [#rows, affine_map<(i, j) -> (i)>],
                         iterator_types = ["parallel", "reduction"]}
      ins(%x1 : tensor<8x64xf32>) outs(%zeros : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  %twice = linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%x1 : tensor<8x64xf32>) outs(%e : tensor<8x64xf32>) {
  ^bb0(%a: f32, %unused: f32):
    %s = arith.addf %a, %a : f32
    linalg.yield %s : f32
  } -> tensor<8x64xf32>
  return %sum, %twice : tensor<8xf32>, tensor<8x64xf32>
}

// -----

#rows = affine_map<(i, j) -> (i, j)>

// A bf16 projection's rounding before `heads`: the expand_shape stays after
// the rank-2 generic (upstream's linalg-fuse-elementwise-ops would make the
// generic rank 3 over the expanded shape).
// CHECK-LABEL: func.func @rounding_before_heads(
// CHECK: %[[R:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// CHECK: tensor.expand_shape %[[R]] {{\[}}[0], [1, 2]]
func.func @rounding_before_heads(%p: tensor<?x256xf32>) -> tensor<?x4x64xbf16> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %p, %c0 : tensor<?x256xf32>
  %e = tensor.empty(%t) : tensor<?x256xbf16>
  %r = linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%p : tensor<?x256xf32>) outs(%e : tensor<?x256xbf16>) {
  ^bb0(%in: f32, %unused: bf16):
    %v = arith.truncf %in : f32 to bf16
    linalg.yield %v : bf16
  } -> tensor<?x256xbf16>
  %h = tensor.expand_shape %r [[0], [1, 2]] output_shape [%t, 4, 64]
      : tensor<?x256xbf16> into tensor<?x4x64xbf16>
  return %h : tensor<?x4x64xbf16>
}
