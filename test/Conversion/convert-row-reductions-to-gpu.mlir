// RUN: rasp-opt %s --split-input-file --pass-pipeline="builtin.module(func.func(convert-row-reductions-to-gpu))" | FileCheck %s

// A layer norm's mean: one launch of 256-thread blocks, a warp per row (8
// rows a block: ceil(rows / 8) blocks). Lane l walks elements l, l + 32, ...
// of its row from the sum's identity, evaluating the body per element; five
// butterfly shuffles (16 ... 1) add the lanes; lane 0 adds the initial
// value -- the fill's zero, read from no buffer -- and stores.
// CHECK-LABEL: func.func @mean(
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: %[[BLOCKS:.*]] = arith.ceildivui %{{.*}}, %c8
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[BLOCKS]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[TID:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c256{{(_[0-9]+)?}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// CHECK: %[[LANE:.*]] = arith.remui %[[TID]], %c32
// CHECK: scf.if
// CHECK: %[[PARTIAL:.*]] = scf.for %[[J:.*]] = %[[LANE]] to %{{.*}} step %c32{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (f32)
// CHECK: %[[IN:.*]] = memref.load %{{.*}}[%{{.*}}, %[[J]]]
// CHECK: %[[D:.*]] = arith.divf %[[IN]]
// CHECK: %[[S:.*]] = arith.addf %[[ACC]], %[[D]] : f32
// CHECK: scf.yield %[[S]]
// CHECK: gpu.shuffle  xor %[[PARTIAL]], %c16_i32, %c32_i32
// CHECK-COUNT-4: gpu.shuffle  xor
// CHECK: scf.if
// CHECK-NOT: memref.load
// CHECK: memref.store %{{.*}}, %[[OUT]][%{{.*}}] : memref<?xf32>
// CHECK: gpu.terminator
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
// CHECK-NOT: linalg.generic
func.func @mean(%x: tensor<?x256xf32>) -> tensor<?xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x256xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty(%t) : tensor<?xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<?xf32>) -> tensor<?xf32>
  %m = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<?x256xf32>) outs(%zeros : tensor<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %n = arith.constant 256.0 : f32
    %d = arith.divf %in, %n : f32
    %s = arith.addf %acc, %d : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  return %m : tensor<?xf32>
}

// -----

// A maximum into initial values that are an argument: lane 0 folds them in
// (loaded); the identity the lanes start from is -inf.
// CHECK-LABEL: func.func @maximum(
// CHECK: gpu.launch
// CHECK: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[NEGINF]]) -> (f32)
// CHECK: arith.maximumf
// CHECK: gpu.shuffle  xor
// CHECK: %[[INIT:.*]] = memref.load
// CHECK: arith.maximumf %[[INIT]], %{{.*}} : f32
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

// Left to the reference lowering: a reduction that is not the last loop,
// a product (mulf is not among the combiners), an f16 result, a body that
// reads a tensor.
// CHECK-LABEL: func.func @others(
// CHECK-NOT: gpu.launch
// CHECK-COUNT-4: linalg.generic
func.func @others(%x: tensor<8x16xf32>, %y: tensor<8x16xf16>, %c: tensor<16xf32>, %r: tensor<8xf32>,
                  %h: tensor<8xf16>, %table: tensor<16xf32>) -> (tensor<16xf32>, tensor<8xf32>, tensor<8xf16>, tensor<8xf32>) {
  %lookup = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                            iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x16xf32>) outs(%r : tensor<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %j = linalg.index 1 : index
    %t = tensor.extract %table[%j] : tensor<16xf32>
    %p = arith.mulf %in, %t : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  %columns = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>],
                             iterator_types = ["reduction", "parallel"]}
      ins(%x : tensor<8x16xf32>) outs(%c : tensor<16xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  } -> tensor<16xf32>
  %product = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                             iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x16xf32>) outs(%r : tensor<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.mulf %acc, %in : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  %half = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                          iterator_types = ["parallel", "reduction"]}
      ins(%y : tensor<8x16xf16>) outs(%h : tensor<8xf16>) {
  ^bb0(%in: f16, %acc: f16):
    %s = arith.addf %acc, %in : f16
    linalg.yield %s : f16
  } -> tensor<8xf16>
  return %columns, %product, %half, %lookup : tensor<16xf32>, tensor<8xf32>, tensor<8xf16>, tensor<8xf32>
}

// -----

#rows = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>
#column = affine_map<(i, j) -> (j)>

// A layer norm -- mean, variance (reading the mean per row), then the
// normalization (reading both per row) -- is one kernel: per warp, the mean
// (butterflies leave it in every lane), the variance from it, then each
// lane normalizes and stores its elements. Neither statistic is stored.
// CHECK-LABEL: func.func @layernorm(
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x64xf32>
// CHECK-NOT: memref.alloc
// CHECK: gpu.launch
// CHECK: %[[MEANPART:.*]] = scf.for
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: arith.addf
// CHECK-NEXT: %[[MEAN:.*]] = arith.addf %{{.*}}, %{{.*}} : f32
// CHECK-NOT: memref.store
// CHECK: scf.for
// CHECK: arith.subf %{{.*}}, %[[MEAN]] : f32
// CHECK: scf.yield
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: arith.addf
// CHECK-NEXT: %[[VAR:.*]] = arith.addf %{{.*}}, %{{.*}} : f32
// CHECK-NOT: memref.store
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step %c32
// CHECK: arith.subf %{{.*}}, %[[MEAN]] : f32
// CHECK: arith.addf %[[VAR]], %{{.*}} : f32
// CHECK: math.rsqrt
// CHECK: memref.store %{{.*}}, %[[OUT]][%{{.*}}, %[[J]]] : memref<?x64xf32>
// CHECK: gpu.terminator
// CHECK: %[[RESULT:.*]] = bufferization.to_tensor %[[OUT]]
// CHECK-NOT: linalg.generic
// CHECK: return %[[RESULT]]
func.func @layernorm(%x: tensor<?x64xf32>, %g: tensor<64xf32>) -> tensor<?x64xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x64xf32>
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %empty = tensor.empty(%t) : tensor<?xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<?xf32>) -> tensor<?xf32>
  %mean = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<?x64xf32>) outs(%zeros : tensor<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %d = arith.divf %in, %n : f32
    %s = arith.addf %acc, %d : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %var = linalg.generic {indexing_maps = [#rows, #row, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x, %mean : tensor<?x64xf32>, tensor<?xf32>) outs(%zeros : tensor<?xf32>) {
  ^bb0(%in: f32, %m: f32, %acc: f32):
    %d = arith.subf %in, %m : f32
    %sq = arith.mulf %d, %d : f32
    %q = arith.divf %sq, %n : f32
    %s = arith.addf %acc, %q : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %e2 = tensor.empty(%t) : tensor<?x64xf32>
  %y = linalg.generic {indexing_maps = [#rows, #row, #row, #column, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%x, %mean, %var, %g : tensor<?x64xf32>, tensor<?xf32>, tensor<?xf32>, tensor<64xf32>)
      outs(%e2 : tensor<?x64xf32>) {
  ^bb0(%in: f32, %m: f32, %v: f32, %gi: f32, %unused: f32):
    %d = arith.subf %in, %m : f32
    %ve = arith.addf %v, %eps : f32
    %r = math.rsqrt %ve : f32
    %nrm = arith.mulf %d, %r : f32
    %o = arith.mulf %nrm, %gi : f32
    linalg.yield %o : f32
  } -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

#rows = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>

// A statistic that is also used elsewhere keeps the group apart: the mean
// is its own kernel (stored), and so is the sum of squares that reads it;
// the centering is left to the reference lowering.
// CHECK-LABEL: func.func @shared_mean(
// CHECK: gpu.launch
// CHECK: memref.store
// CHECK: gpu.launch
// CHECK: memref.store
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
func.func @shared_mean(%x: tensor<8x64xf32>) -> (tensor<8x64xf32>, tensor<8xf32>, tensor<8xf32>) {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<8xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<8xf32>) -> tensor<8xf32>
  %mean = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x64xf32>) outs(%zeros : tensor<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  %squares = linalg.generic {indexing_maps = [#rows, #row, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x, %mean : tensor<8x64xf32>, tensor<8xf32>) outs(%zeros : tensor<8xf32>) {
  ^bb0(%in: f32, %m: f32, %acc: f32):
    %d = arith.subf %in, %m : f32
    %sq = arith.mulf %d, %d : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  %e2 = tensor.empty() : tensor<8x64xf32>
  %centered = linalg.generic {indexing_maps = [#rows, #row, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%x, %mean : tensor<8x64xf32>, tensor<8xf32>) outs(%e2 : tensor<8x64xf32>) {
  ^bb0(%in: f32, %m: f32, %unused: f32):
    %d = arith.subf %in, %m : f32
    linalg.yield %d : f32
  } -> tensor<8x64xf32>
  return %centered, %mean, %squares : tensor<8x64xf32>, tensor<8xf32>, tensor<8xf32>
}

// -----

#rows = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>
#col = affine_map<(i, j) -> (j)>

// A consumer that reads the row sums by column too (sum[j], on a square
// shape) is no group: in the kernel a lane has its own row's sum only. The
// sums are their own kernel, stored; the consumer is left as it is.
// CHECK-LABEL: func.func @sum_by_column(
// CHECK: gpu.launch
// CHECK: memref.store
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
func.func @sum_by_column(%x: tensor<16x16xf32>) -> tensor<16x16xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<16xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<16xf32>) -> tensor<16xf32>
  %sum = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<16x16xf32>) outs(%zeros : tensor<16xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  } -> tensor<16xf32>
  %e2 = tensor.empty() : tensor<16x16xf32>
  %y = linalg.generic {indexing_maps = [#rows, #row, #col, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum, %sum : tensor<16x16xf32>, tensor<16xf32>, tensor<16xf32>) outs(%e2 : tensor<16x16xf32>) {
  ^bb0(%in: f32, %si: f32, %sj: f32, %unused: f32):
    %d = arith.subf %si, %sj : f32
    %o = arith.mulf %in, %d : f32
    linalg.yield %o : f32
  } -> tensor<16x16xf32>
  return %y : tensor<16x16xf32>
}
