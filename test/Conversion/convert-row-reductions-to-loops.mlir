// RUN: rasp-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(convert-row-reductions-to-loops{vector-width=16}))" | FileCheck %s
// RUN: not rasp-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(convert-row-reductions-to-loops{row-block=0}))" 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: convert-row-reductions-to-loops: vector-width and row-block must be positive

// A layer norm without gain: the mean, the variance (reading the mean per
// row) and the normalization are one parallel loop over blocks of 8 rows.
// Per row: the mean folds vectors of 16 along the row into a vector
// accumulator, vector.reduction and the fill's zero give its value (in a
// register: never stored), the 4 elements after the last whole vector
// (row of 20) one at a time; the variance the same, reading the mean; the
// normalization stores vectors, then the elements left.
// CHECK-LABEL: func.func @norm(
// CHECK: %[[X:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<?x20xf32> to memref<?x20xf32, strided<[?, 1], offset: ?>>
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x20xf32>
// CHECK: %[[TASKS:.*]] = arith.ceildivui %{{.*}}, %c8
// CHECK: scf.parallel (%{{.*}}) = (%c0{{.*}}) to (%[[TASKS]])
// CHECK: scf.for %[[ROW:.*]] =
// CHECK: %[[LANES:.*]] = scf.for %[[J:.*]] = %c0{{.*}} to %[[WHOLE:.*]] step %c16{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (vector<16xf32>)
// CHECK: %[[V:.*]] = vector.load %[[X]][%[[ROW]], %[[J]]] : memref<?x20xf32, strided<[?, 1], offset: ?>>, vector<16xf32>
// CHECK: arith.mulf %[[V]]
// CHECK: arith.addf %[[ACC]], %{{.*}} : vector<16xf32>
// CHECK: %[[SUM:.*]] = vector.reduction <add>, %[[LANES]] : vector<16xf32> into f32
// CHECK: %[[TAIL:.*]] = scf.for %{{.*}} = %[[WHOLE]] to %c20{{.*}} step %c1{{.*}} iter_args(%[[T:.*]] = %[[SUM]]) -> (f32)
// CHECK: memref.load %[[X]]
// CHECK: %[[MEAN:.*]] = arith.addf %{{.*}}, %[[TAIL]] : f32
// CHECK: vector.reduction <add>
// CHECK: scf.for %[[K:.*]] = %c0{{.*}} to %[[WHOLE]] step %c16
// CHECK: vector.broadcast %[[MEAN]]
// CHECK: math.rsqrt %{{.*}} : f32
// CHECK: vector.store %{{.*}}, %[[OUT]][%[[ROW]], %[[K]]] : memref<?x20xf32>, vector<16xf32>
// CHECK: scf.for
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK-NOT: memref.store
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
// CHECK-NOT: linalg.generic
func.func @norm(%x: tensor<?x20xf32>) -> tensor<?x20xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x20xf32>
  %zero = arith.constant 0.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %n = arith.constant 20.0 : f32
  %empty = tensor.empty(%t) : tensor<?xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<?xf32>) -> tensor<?xf32>
  %mean = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                          iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<?x20xf32>) outs(%zeros : tensor<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %d = arith.divf %in, %n : f32
    %s = arith.addf %acc, %d : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %var = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i)>],
                         iterator_types = ["parallel", "reduction"]}
      ins(%x, %mean : tensor<?x20xf32>, tensor<?xf32>) outs(%zeros : tensor<?xf32>) {
  ^bb0(%in: f32, %m: f32, %acc: f32):
    %c = arith.subf %in, %m : f32
    %sq = arith.mulf %c, %c : f32
    %d = arith.divf %sq, %n : f32
    %s = arith.addf %acc, %d : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %e2 = tensor.empty(%t) : tensor<?x20xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x, %mean, %var : tensor<?x20xf32>, tensor<?xf32>, tensor<?xf32>) outs(%e2 : tensor<?x20xf32>) {
  ^bb0(%in: f32, %m: f32, %v: f32, %out: f32):
    %c = arith.subf %in, %m : f32
    %ve = arith.addf %v, %eps : f32
    %r = math.rsqrt %ve : f32
    %o = arith.mulf %c, %r : f32
    linalg.yield %o : f32
  } -> tensor<?x20xf32>
  return %y : tensor<?x20xf32>
}

// -----

// A reduction alone (its result returned) is stored per row; a maximum
// starts its lanes from -inf and folds in initial values read per row.
// CHECK-LABEL: func.func @maximum(
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<4x8xf32>
// CHECK: scf.parallel
// CHECK: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: vector.broadcast %[[NEGINF]] : f32 to vector<16xf32>
// CHECK: arith.maximumf %{{.*}} : vector<16xf32>
// CHECK: vector.reduction <maximumf>
// CHECK: %[[INIT:.*]] = memref.load {{.*}} : memref<4x8xf32
// CHECK: %[[R:.*]] = arith.maximumf %[[INIT]], %{{.*}} : f32
// CHECK: memref.store %[[R]], %[[OUT]]
func.func @maximum(%x: tensor<4x8x100xf32>, %init: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %m = linalg.generic {indexing_maps = [affine_map<(a, i, j) -> (a, i, j)>, affine_map<(a, i, j) -> (a, i)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : tensor<4x8x100xf32>) outs(%init : tensor<4x8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.maximumf %acc, %in : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  return %m : tensor<4x8xf32>
}

// -----

// Left to the reference loops: a body with linalg.index (vectors have no
// lane indices), an input read across the row (transposed).
// CHECK-LABEL: func.func @others(
// CHECK-NOT: scf.parallel
// CHECK-COUNT-2: linalg.generic
func.func @others(%x: tensor<8x16xf32>, %r: tensor<8xf32>, %sq: tensor<16x16xf32>, %r16: tensor<16xf32>) -> (tensor<8xf32>, tensor<16xf32>) {
  %indexed = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                             iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x16xf32>) outs(%r : tensor<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i32
    %jf = arith.sitofp %ji : i32 to f32
    %p = arith.mulf %in, %jf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  %across = linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i)>],
                            iterator_types = ["parallel", "reduction"]}
      ins(%sq : tensor<16x16xf32>) outs(%r16 : tensor<16xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  } -> tensor<16xf32>
  return %indexed, %across : tensor<8xf32>, tensor<16xf32>
}
