// RUN: rasp-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(convert-matmul-to-tiled-loops{vector-width=16}))' | FileCheck %s
// RUN: rasp-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(convert-matmul-to-tiled-loops{vector-width=8}))' | FileCheck %s --check-prefix=AVX2
// RUN: not rasp-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(convert-matmul-to-tiled-loops{row-block=0}))' 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: convert-matmul-to-tiled-loops: vector-width and row-block must be positive

// x @ w into a zero fill: tasks over blocks of 48 rows x 64 columns, each a
// loop over register tiles of 6 rows; the reduction carries 6 x 4
// accumulators (2 vectors a row with 8 lanes), starting from zeros.
// CHECK-LABEL: func.func @projection
// CHECK-NOT: linalg.matmul
// CHECK: %[[W:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<384x256xf32> to memref<384x256xf32, strided<[?, 1], offset: ?>>
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x256xf32>
// CHECK: scf.parallel
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c6
// CHECK: %{{.*}}:24 = scf.for %{{.*}} = %c0{{.*}} to %c384 step %c1{{.*}} iter_args({{.*}}) -> (vector<16xf32>
// CHECK: vector.load %[[W]]{{.*}} : memref<384x256xf32, strided<[?, 1], offset: ?>>, vector<16xf32>
// CHECK: vector.broadcast
// CHECK: vector.fma
// CHECK: vector.store %{{.*}}, %[[OUT]]
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
// AVX2-LABEL: func.func @projection
// AVX2: %{{.*}}:12 = scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>
func.func @projection(%x: tensor<?x384xf32>, %w: tensor<384x256xf32>) -> tensor<?x256xf32> {
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x384xf32>
  %empty = tensor.empty(%m) : tensor<?x256xf32>
  %zero = arith.constant 0.0 : f32
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x256xf32>) -> tensor<?x256xf32>
  %y = linalg.matmul ins(%x, %w : tensor<?x384xf32>, tensor<384x256xf32>)
                     outs(%init : tensor<?x256xf32>) -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// -----

// Any other accumulator is read: the register tile starts from it.
// CHECK-LABEL: func.func @accumulate
// CHECK: %[[ACC:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<8x32xf32> to memref<8x32xf32, strided<[?, 1], offset: ?>>
// CHECK: scf.parallel
// CHECK: vector.load %[[ACC]]
// CHECK: vector.fma
func.func @accumulate(%x: tensor<8x4xf32>, %w: tensor<4x32xf32>, %acc: tensor<8x32xf32>) -> tensor<8x32xf32> {
  %y = linalg.matmul ins(%x, %w : tensor<8x4xf32>, tensor<4x32xf32>)
                     outs(%acc : tensor<8x32xf32>) -> tensor<8x32xf32>
  return %y : tensor<8x32xf32>
}

// -----

// Widths that are not a multiple of the vector, and 16-bit operands, stay
// for the reference loops.
// CHECK-LABEL: func.func @left_alone
// CHECK: linalg.matmul ins(%{{.*}} : tensor<?x8xf32>, tensor<8x5xf32>)
// CHECK: linalg.matmul ins(%{{.*}} : tensor<?x8xbf16>, tensor<8x16xbf16>)
func.func @left_alone(%x: tensor<?x8xf32>, %w: tensor<8x5xf32>, %acc: tensor<?x5xf32>,
                      %h: tensor<?x8xbf16>, %v: tensor<8x16xbf16>, %acc2: tensor<?x16xf32>)
    -> (tensor<?x5xf32>, tensor<?x16xf32>) {
  %y = linalg.matmul ins(%x, %w : tensor<?x8xf32>, tensor<8x5xf32>)
                     outs(%acc : tensor<?x5xf32>) -> tensor<?x5xf32>
  %z = linalg.matmul ins(%h, %v : tensor<?x8xbf16>, tensor<8x16xbf16>)
                     outs(%acc2 : tensor<?x16xf32>) -> tensor<?x16xf32>
  return %y, %z : tensor<?x5xf32>, tensor<?x16xf32>
}
