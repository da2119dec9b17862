// RUN: rasp-opt %s --split-input-file --sink-transposes | FileCheck %s

// A rotary embedding after `heads`: the generic reads the transposed heads
// as they are and its partner element by tensor.extract. It becomes the
// same generic over the projection's layout [T, H, D] -- loop 0 (the head)
// is now loop 1, loop 1 (the position) loop 0, the extract's indices
// follow -- then one transpose of its result into the old output.
// CHECK-LABEL: func.func @rope(
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x8x64xf32>
// CHECK: %[[OLDOUT:.*]] = tensor.empty(%{{.*}}) : tensor<8x?x64xf32>
// CHECK: %[[EMPTY:.*]] = tensor.empty(%{{.*}}) : tensor<?x8x64xf32>
// CHECK: %[[R:.*]] = linalg.generic
// CHECK-SAME: ins(%[[X]], %{{.*}} : tensor<?x8x64xf32>, tensor<64xf32>) outs(%[[EMPTY]] : tensor<?x8x64xf32>)
// CHECK: ^bb0(%[[IN:.*]]: f32, %[[S:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[H:.*]] = linalg.index 1 : index
// CHECK: %[[T:.*]] = linalg.index 0 : index
// CHECK: %[[D:.*]] = linalg.index 2 : index
// CHECK: %[[P:.*]] = tensor.extract %[[X]][%[[T]], %[[H]], %{{.*}}] : tensor<?x8x64xf32>
// CHECK: %[[OUT:.*]] = linalg.transpose ins(%[[R]] : tensor<?x8x64xf32>) outs(%[[OLDOUT]] : tensor<8x?x64xf32>) permutation = [1, 0, 2]
// CHECK: return %[[OUT]]
func.func @rope(%x: tensor<?x8x64xf32>, %scale: tensor<64xf32>) -> tensor<8x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %n = tensor.dim %x, %c0 : tensor<?x8x64xf32>
  %e = tensor.empty(%n) : tensor<8x?x64xf32>
  %t = linalg.transpose ins(%x : tensor<?x8x64xf32>) outs(%e : tensor<8x?x64xf32>) permutation = [1, 0, 2]
  %r = linalg.generic {indexing_maps = [affine_map<(h, t, d) -> (h, t, d)>, affine_map<(h, t, d) -> (d)>,
                                        affine_map<(h, t, d) -> (h, t, d)>],
                       iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%t, %scale : tensor<8x?x64xf32>, tensor<64xf32>) outs(%e : tensor<8x?x64xf32>) {
  ^bb0(%in: f32, %s: f32, %unused: f32):
    %h = linalg.index 0 : index
    %i = linalg.index 1 : index
    %d = linalg.index 2 : index
    %d2 = arith.xori %d, %c32 : index
    %p = tensor.extract %t[%h, %i, %d2] : tensor<8x?x64xf32>
    %i64 = arith.index_cast %i : index to i64
    %f = arith.sitofp %i64 : i64 to f32
    %a = arith.mulf %in, %f : f32
    %b = arith.mulf %p, %s : f32
    %o = arith.addf %a, %b : f32
    linalg.yield %o : f32
  } -> tensor<8x?x64xf32>
  return %r : tensor<8x?x64xf32>
}

// -----

// Left alone: the transposed tensor read through a map that is not the
// identity.
// CHECK-LABEL: func.func @not_identity(
// CHECK: linalg.transpose
// CHECK: linalg.generic
// CHECK-NOT: linalg.transpose
func.func @not_identity(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e = tensor.empty() : tensor<8x4xf32>
  %t = linalg.transpose ins(%x : tensor<4x8xf32>) outs(%e : tensor<8x4xf32>) permutation = [1, 0]
  %e2 = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%t : tensor<8x4xf32>) outs(%e2 : tensor<4x8xf32>) {
  ^bb0(%in: f32, %unused: f32):
    linalg.yield %in : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

// Left alone: the transposed tensor is also returned (the transpose would
// be made twice).
// CHECK-LABEL: func.func @shared_transpose(
// CHECK: %[[T:.*]] = linalg.transpose
// CHECK: linalg.generic {{.*}} ins(%[[T]]
// CHECK-NOT: linalg.transpose
func.func @shared_transpose(%x: tensor<4x8xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>) {
  %e = tensor.empty() : tensor<8x4xf32>
  %t = linalg.transpose ins(%x : tensor<4x8xf32>) outs(%e : tensor<8x4xf32>) permutation = [1, 0]
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%t : tensor<8x4xf32>) outs(%e : tensor<8x4xf32>) {
  ^bb0(%in: f32, %unused: f32):
    %d = arith.addf %in, %in : f32
    linalg.yield %d : f32
  } -> tensor<8x4xf32>
  return %r, %t : tensor<8x4xf32>, tensor<8x4xf32>
}
