// RUN: rasp-opt %s --split-input-file --pass-pipeline='builtin.module(convert-matmul-to-tiled-loops{vector-width=16})' | FileCheck %s
// RUN: rasp-opt %s --split-input-file --pass-pipeline='builtin.module(convert-matmul-to-tiled-loops{vector-width=8})' | FileCheck %s --check-prefix=AVX2
// RUN: not rasp-opt %s --split-input-file --pass-pipeline='builtin.module(convert-matmul-to-tiled-loops{depth-block=0})' 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: convert-matmul-to-tiled-loops: vector-width, row-block and depth-block must be positive

// x @ w into a zero fill: tasks over blocks of 48 rows x 64 columns. Each
// zeroes its block and calls the module's one block product, which per 128
// steps of the reduction copies those rows of w into a stack panel and runs
// register tiles of 6 rows over it, each carrying 6 x 4 accumulators (2
// vectors a row with 8 lanes). w is an argument (a model's weight): the
// runtime is asked once per call for its panels packed once
// (rasprt_gemm_panels, empty unless the host keeps w in a panel cache), and
// where they exist the block product reads them in place of the copy.
// CHECK-LABEL: func.func @projection
// CHECK-NOT: linalg.matmul
// CHECK: %[[W:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<384x256xf32> to memref<384x256xf32, strided<[?, 1], offset: ?>>
// CHECK: %[[BASE:.*]], %[[OFFSET:.*]], %[[SIZES:.*]]:2, %[[STRIDES:.*]]:2 = memref.extract_strided_metadata %[[W]]
// CHECK: %[[PTR:.*]] = memref.extract_aligned_pointer_as_index %[[W]]
// CHECK: %[[PANELS:.*]] = call @rasprt_gemm_panels(%[[PTR]], %[[OFFSET]], %[[SIZES]]#0, %[[SIZES]]#1, %[[STRIDES]]#0, %{{.*}}, %{{.*}}, %{{.*}}) : (index, index, index, index, index, i32, i32, index) -> memref<?xf32>
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x256xf32>
// CHECK: scf.parallel
// CHECK: vector.store %{{.*}}, %[[OUT]]
// CHECK: %[[WC:.*]] = memref.cast %[[W]] : memref<384x256xf32, strided<[?, 1], offset: ?>> to memref<?x?xf32, strided<[?, 1], offset: ?>>
// CHECK: %[[OUTC:.*]] = memref.cast %[[OUT]] : memref<?x256xf32> to memref<?x?xf32, strided<[?, 1], offset: ?>>
// CHECK: func.call @[[PRODUCT:raspc_gemm_block_w16_c64_k128]](%{{.*}}, %[[WC]], %[[PANELS]], %[[OUTC]],
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: func.func private @rasprt_gemm_panels(index, index, index, index, index, i32, i32, index) -> memref<?xf32> attributes {llvm.emit_c_interface}
// CHECK: func.func private @[[PRODUCT]](%{{.*}}: memref<?x?xf32, strided<[?, ?], offset: ?>>, %[[PW:.*]]: memref<?x?xf32, strided<[?, 1], offset: ?>>, %[[PP:.*]]: memref<?xf32>, %[[POUT:.*]]: memref<?x?xf32, strided<[?, 1], offset: ?>>, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index)
// CHECK: %[[PANEL:.*]] = memref.alloca() {alignment = 64 : i64} : memref<128x64xf32>
// CHECK: %[[HAS:.*]] = arith.cmpi ne, %{{.*}}, %c0
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c128
// CHECK: %[[SOURCE:.*]] = scf.if %[[HAS]] -> (memref<?x64xf32, strided<[64, 1], offset: ?>>)
// CHECK: memref.reinterpret_cast %[[PP]] to offset: [%{{.*}}], sizes: [%{{.*}}, 64], strides: [64, 1]
// CHECK: } else {
// CHECK: vector.load %[[PW]]
// CHECK: vector.store %{{.*}}, %[[PANEL]]
// CHECK: memref.cast %[[PANEL]] : memref<128x64xf32> to memref<?x64xf32, strided<[64, 1], offset: ?>>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c6
// CHECK: %{{.*}}:24 = scf.for {{.*}} iter_args({{.*}}) -> (vector<16xf32>
// CHECK: vector.load %[[SOURCE]]{{.*}} : memref<?x64xf32, strided<[64, 1], offset: ?>>, vector<16xf32>
// CHECK: vector.broadcast
// CHECK: vector.fma
// CHECK: vector.store %{{.*}}, %[[POUT]]
// AVX2-LABEL: func.func @projection
// AVX2: func.func private @raspc_gemm_block_w8_c16_k128
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
// CHECK: func.call @raspc_gemm_block_w16_c32_k128
func.func @accumulate(%x: tensor<8x4xf32>, %w: tensor<4x32xf32>, %acc: tensor<8x32xf32>) -> tensor<8x32xf32> {
  %y = linalg.matmul ins(%x, %w : tensor<8x4xf32>, tensor<4x32xf32>)
                     outs(%acc : tensor<8x32xf32>) -> tensor<8x32xf32>
  return %y : tensor<8x32xf32>
}

// -----

// 16-bit operands are widened as they are read (A) and packed (w): a block
// product of their own types, f32 inside.
// CHECK-LABEL: func.func @bf16_operands
// CHECK: func.call @[[BF16:raspc_gemm_block_w16_c16_k128_bf16_bf16]]
// CHECK: func.func private @[[BF16]](%{{.*}}: memref<?x?xbf16, strided<[?, ?], offset: ?>>, %{{.*}}: memref<?x?xbf16, strided<[?, 1], offset: ?>>, %{{.*}}: memref<?xf32>, %{{.*}}: memref<?x?xf32, strided<[?, 1], offset: ?>>,
// CHECK: %[[ROW:.*]] = vector.load {{.*}} : memref<?x?xbf16, strided<[?, 1], offset: ?>>, vector<16xbf16>
// CHECK: arith.extf %[[ROW]] : vector<16xbf16> to vector<16xf32>
// CHECK: memref.load {{.*}} : memref<?x?xbf16, strided<[?, ?], offset: ?>>
// CHECK: arith.extf %{{.*}} : bf16 to f32
func.func @bf16_operands(%h: tensor<?x8xbf16>, %v: tensor<8x16xbf16>, %acc: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %z = linalg.matmul ins(%h, %v : tensor<?x8xbf16>, tensor<8x16xbf16>)
                     outs(%acc : tensor<?x16xf32>) -> tensor<?x16xf32>
  return %z : tensor<?x16xf32>
}

// -----

// B computed by the program (here an activation) is no weight a host
// keeps: no runtime call, and the block product gets an empty buffer.
// CHECK-LABEL: func.func @computed_rhs
// CHECK-NOT: rasprt_gemm_panels
// CHECK: %[[NONE:.*]] = memref.alloca() : memref<0xf32>
// CHECK: %[[EMPTY:.*]] = memref.cast %[[NONE]] : memref<0xf32> to memref<?xf32>
// CHECK: func.call @raspc_gemm_block_w16_c16_k128(%{{.*}}, %{{.*}}, %[[EMPTY]],
func.func @computed_rhs(%x: tensor<?x16xf32>, %w: tensor<16x16xf32>, %acc: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %empty = tensor.empty() : tensor<16x16xf32>
  %w2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%w : tensor<16x16xf32>) outs(%empty : tensor<16x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %d = arith.addf %in, %in : f32
    linalg.yield %d : f32
  } -> tensor<16x16xf32>
  %y = linalg.matmul ins(%x, %w2 : tensor<?x16xf32>, tensor<16x16xf32>)
                     outs(%acc : tensor<?x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Widths that are not a multiple of the vector stay for the reference loops.
// CHECK-LABEL: func.func @left_alone
// CHECK: linalg.matmul ins(%{{.*}} : tensor<?x8xf32>, tensor<8x5xf32>)
func.func @left_alone(%x: tensor<?x8xf32>, %w: tensor<8x5xf32>, %acc: tensor<?x5xf32>) -> tensor<?x5xf32> {
  %y = linalg.matmul ins(%x, %w : tensor<?x8xf32>, tensor<8x5xf32>)
                     outs(%acc : tensor<?x5xf32>) -> tensor<?x5xf32>
  return %y : tensor<?x5xf32>
}

// -----

// A bias and exact GELU after the product are its epilogue: one more pass
// over each block evaluates them on vectors (erf as a polynomial), and the
// result replaces the generic's; the bias loads along the columns.
// CHECK-LABEL: func.func @bias_gelu
// CHECK-NOT: linalg.matmul
// CHECK-NOT: linalg.generic
// CHECK: %[[BIAS:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<64xf32> to memref<64xf32, strided<[1], offset: ?>>
// CHECK: scf.parallel
// CHECK: func.call @raspc_gemm_block_w16_c64_k128
// CHECK: vector.load %[[BIAS]][%{{.*}}] : memref<64xf32, strided<[1], offset: ?>>, vector<16xf32>
// CHECK-NOT: math.erf
// CHECK: arith.addf %{{.*}} : vector<16xf32>
// CHECK-NOT: linalg.generic
// CHECK: return
#row = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @bias_gelu(%x: tensor<?x32xf32>, %w: tensor<32x64xf32>, %b: tensor<64xf32>) -> tensor<?x64xf32> {
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x32xf32>
  %empty = tensor.empty(%m) : tensor<?x64xf32>
  %zero = arith.constant 0.0 : f32
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x64xf32>) -> tensor<?x64xf32>
  %p = linalg.matmul ins(%x, %w : tensor<?x32xf32>, tensor<32x64xf32>)
                     outs(%init : tensor<?x64xf32>) -> tensor<?x64xf32>
  %y = linalg.generic {indexing_maps = [#row, #col, #row], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<?x64xf32>, tensor<64xf32>) outs(%empty : tensor<?x64xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %h = arith.addf %in, %bias : f32
    %s = arith.constant 0.707106769 : f32
    %t = arith.mulf %h, %s : f32
    %e = math.erf %t : f32
    %one = arith.constant 1.0 : f32
    %half = arith.constant 0.5 : f32
    %u = arith.addf %one, %e : f32
    %v = arith.mulf %h, %half : f32
    %g = arith.mulf %v, %u : f32
    linalg.yield %g : f32
  } -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// An epilogue that reads the element's position keeps its generic.
// CHECK-LABEL: func.func @positional
// CHECK: scf.parallel
// CHECK: linalg.generic
// CHECK: linalg.index
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @positional(%x: tensor<8x4xf32>, %w: tensor<4x16xf32>, %acc: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %p = linalg.matmul ins(%x, %w : tensor<8x4xf32>, tensor<4x16xf32>)
                     outs(%acc : tensor<8x16xf32>) -> tensor<8x16xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p : tensor<8x16xf32>) outs(%acc : tensor<8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %i = linalg.index 1 : index
    %j = arith.index_cast %i : index to i32
    %f = arith.sitofp %j : i32 to f32
    %r = arith.addf %in, %f : f32
    linalg.yield %r : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

// linear(x, w): the product reads nn.Linear's [out, in] weights as they
// are. The transpose is gone; the block product of its own (`_t`) fills the
// panel by loading 16 rows of w (16 steps of the reduction each),
// transposing the square with four rounds of shuffles and storing its
// columns as panel rows; the steps after the last whole square (K = 40:
// 8 of them) are gathered one element at a time.
// CHECK-LABEL: func.func @linear_weights
// CHECK-NOT: linalg.transpose
// CHECK: %[[W:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<32x40xf32> to memref<32x40xf32, strided<[?, 1], offset: ?>>
// CHECK: func.call @[[PRODUCT:raspc_gemm_block_w16_c32_k128_t]](
// CHECK: func.func private @[[PRODUCT]](%{{[a-z0-9]+}}: memref<?x?xf32, strided<[?, ?], offset: ?>>, %[[PW:[a-z0-9]+]]: memref<?x?xf32, strided<[?, 1], offset: ?>>
// CHECK: %[[PANEL:.*]] = memref.alloca() {alignment = 64 : i64} : memref<128x32xf32>
// CHECK: scf.for %{{.*}} step %c16
// CHECK-COUNT-16: vector.load %[[PW]]
// CHECK-COUNT-32: vector.shuffle
// CHECK: vector.store %{{.*}}, %[[PANEL]]
// CHECK: scf.for
// CHECK-COUNT-16: memref.load %[[PW]]
// CHECK: vector.from_elements
// CHECK: vector.store %{{.*}}, %[[PANEL]]
// AVX2-LABEL: func.func @linear_weights
// AVX2: func.func private @raspc_gemm_block_w8_c16_k128_t
// AVX2-COUNT-8: vector.load
// AVX2-COUNT-24: vector.shuffle
func.func @linear_weights(%x: tensor<?x40xf32>, %w: tensor<32x40xf32>) -> tensor<?x32xf32> {
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x40xf32>
  %wt_empty = tensor.empty() : tensor<40x32xf32>
  %wt = linalg.transpose ins(%w : tensor<32x40xf32>) outs(%wt_empty : tensor<40x32xf32>) permutation = [1, 0]
  %empty = tensor.empty(%m) : tensor<?x32xf32>
  %zero = arith.constant 0.0 : f32
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x32xf32>) -> tensor<?x32xf32>
  %y = linalg.matmul ins(%x, %wt : tensor<?x40xf32>, tensor<40x32xf32>) outs(%init : tensor<?x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
