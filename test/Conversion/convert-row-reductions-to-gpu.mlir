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
