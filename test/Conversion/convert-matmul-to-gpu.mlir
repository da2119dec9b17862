// RUN: rasp-opt %s --split-input-file --convert-matmul-to-gpu | FileCheck %s
// RUN: rasp-opt %s --split-input-file --convert-matmul-to-gpu=chip=sm_75 | FileCheck %s --check-prefix=SM75
// RUN: rasp-opt %s --split-input-file --convert-matmul-to-gpu="chip=sm_90a wgmma=1" | FileCheck %s --check-prefix=WGMMA
// RUN: rasp-opt %s --split-input-file --convert-matmul-to-gpu="chip=sm_90a wgmma=1 wgmma-overlap=0" | FileCheck %s --check-prefix=SERIAL
// Warpgroup MMA exists on sm_90a only: elsewhere the option changes nothing.
// RUN: rasp-opt %s --split-input-file --convert-matmul-to-gpu="chip=sm_80 wgmma=1" | FileCheck %s

// A bf16 projection as MLIRGen writes it (f32 accumulator, then rounded):
// one launch of 128-thread blocks over 128 x 128 tiles of the product
// (grid: 256 / 128 column blocks, M / 128 row blocks), three shared-memory
// stages of a 128 x 40 A tile and a 32 x 136 B tile (K 32 and N 128, each
// with 8 elements of padding: 56832 bytes). Steps 0 and 1 are copied before
// the loop; each iteration waits for its own step, meets at a barrier,
// starts the copy of step kt + 2 (16-byte cp.async where the run-time check
// allows, element by element otherwise, zeros past the ends) and computes
// 2 x 4 x 8 MMAs from ldmatrix fragments into 32 loop-carried accumulators.
// The rounding generic is fused: the kernel stores bf16.
// CHECK-LABEL: func.func @projection(
// CHECK-NOT: linalg.matmul
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x256xbf16>
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c128{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) dynamic_shared_memory_size %c56832_i32
// CHECK: %[[SHARED:.*]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK: %[[ACONTIGUOUS:.*]] = memref.reinterpret_cast {{.*}} : memref<bf16> to memref<?x512xbf16, strided<[?, 1], offset: ?>>
// CHECK: %[[BCONTIGUOUS:.*]] = memref.reinterpret_cast {{.*}} : memref<bf16> to memref<512x256xbf16, strided<[?, 1], offset: ?>>
// The prologue: steps 0 and 1.
// CHECK: %[[ATILE0:.*]] = memref.view %[[SHARED]][%{{.*}}][] : {{.*}} to memref<128x40xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_copy %[[ACONTIGUOUS]][{{.*}}], %[[ATILE0]][{{.*}}], 8 {bypassL1}
// CHECK: vector.store %{{.*}}, %[[ATILE0]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<128x40xbf16, #gpu.address_space<workgroup>>, vector<8xbf16>
// CHECK: %[[BTILE0:.*]] = memref.view %[[SHARED]][%{{.*}}][] : {{.*}} to memref<32x136xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_copy %[[BCONTIGUOUS]][{{.*}}], %[[BTILE0]][{{.*}}], 8 {bypassL1}
// CHECK: func.call @raspc.deferred_cp_async_commit() : () -> ()
// CHECK: nvgpu.device_async_copy
// CHECK: func.call @raspc.deferred_cp_async_commit() : () -> ()
// CHECK: %[[ACC:.*]]:32 = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args({{.*}}) -> (vector<2x2xf32>,
// CHECK: func.call @raspc.deferred_cp_async_wait(%{{.*}}) : (i32) -> ()
// CHECK-NEXT: func.call @raspc.deferred_gpu_barrier() : () -> ()
// CHECK: nvgpu.device_async_copy
// CHECK: func.call @raspc.deferred_cp_async_commit() : () -> ()
// CHECK: %[[A:.*]] = nvgpu.ldmatrix %{{.*}}[%{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = false} : memref<128x40xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK: %[[B:.*]] = nvgpu.ldmatrix %{{.*}}[%{{.*}}, %{{.*}}] {numTiles = 2 : i32, transpose = true} : memref<32x136xbf16, #gpu.address_space<workgroup>> -> vector<2x2xbf16>
// CHECK: nvgpu.mma.sync(%[[A]], %[[B]], %{{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xbf16>, vector<2x2xbf16>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK-COUNT-63: nvgpu.mma.sync
// CHECK: scf.yield
// CHECK: %[[FIRST:.*]] = vector.extract %[[ACC]]#0[0, 0] : f32 from vector<2x2xf32>
// CHECK: scf.if
// CHECK: scf.if
// CHECK-NEXT: %[[ROUNDED:.*]] = arith.truncf %[[FIRST]] : f32 to bf16
// CHECK-NEXT: memref.store %[[ROUNDED]], %[[OUT]][%{{.*}}, %{{.*}}] : memref<?x256xbf16>
// CHECK: gpu.terminator
// CHECK: %[[RESULT:.*]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<?x256xbf16> to tensor<?x256xbf16>
// CHECK-NOT: linalg.generic
// CHECK: return %[[RESULT]]
// With warpgroup MMA (sm_90a): 256-thread blocks (two warpgroups), four
// stages of a 128 x 64 A tile and B in two panels of 64 columns (128 x 64),
// 128 KiB, plus 1 KiB to start them 1024-aligned; elements placed by the
// 128-byte swizzle (16-byte chunk index xor row % 8). A step: copies
// landed, proxy fence, barrier; then four m64n128k16 MMAs (A K-major, B
// N-major: layout row) on descriptors of the shared tiles, one accumulator
// struct of 64 f32 per thread, committed; the step waits for the previous
// step's MMAs only (wait_group 1), the accumulator going from MMA to MMA
// untouched; after the loop, a wait for all.
// WGMMA-LABEL: func.func @projection(
// WGMMA: gpu.launch {{.*}} threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c256{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) dynamic_shared_memory_size %c132096_i32
// WGMMA: %[[SHARED:.*]] = gpu.dynamic_shared_memory
// WGMMA: %[[BASE:.*]] = memref.extract_aligned_pointer_as_index %[[SHARED]]
// WGMMA: arith.remui %[[BASE]], %c1024
// WGMMA: %[[ATILE:.*]] = memref.view %[[SHARED]][%{{.*}}][] : {{.*}} to memref<128x64xbf16, #gpu.address_space<workgroup>>
// WGMMA: %[[CHUNK:.*]] = arith.xori
// WGMMA: nvgpu.device_async_copy %{{.*}}[%{{.*}}, %{{.*}}], %[[ATILE]][%{{.*}}, %{{.*}}], 8 {bypassL1}
// WGMMA: %[[ACC:.*]] = scf.for {{.*}} -> (!llvm.struct<(f32, f32,
// WGMMA: func.call @raspc.deferred_cp_async_wait
// WGMMA-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// WGMMA-NEXT: func.call @raspc.deferred_gpu_barrier() : () -> ()
// WGMMA: nvvm.wgmma.fence.aligned
// WGMMA: %[[D0:.*]] = nvvm.wgmma.mma_async %{{.*}}, %{{.*}}, %{{.*}}, <m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <row>]
// WGMMA-COUNT-3: nvvm.wgmma.mma_async
// WGMMA-NEXT: nvvm.wgmma.commit.group.sync.aligned
// WGMMA-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
// WGMMA-NEXT: scf.yield
// WGMMA: nvvm.wgmma.wait.group.sync.aligned 0
// WGMMA-NEXT: llvm.extractvalue %[[ACC]][0]
// WGMMA: llvm.inline_asm has_side_effects
// WGMMA: llvm.extractvalue
// WGMMA: arith.truncf
// WGMMA: memref.store
// Without the overlap: three stages (97 KiB with the slack), each step's
// MMAs waited for.
// SERIAL-LABEL: func.func @projection(
// SERIAL: gpu.launch {{.*}} dynamic_shared_memory_size %c99328_i32
// SERIAL: nvvm.wgmma.commit.group.sync.aligned
// SERIAL-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// SERIAL-NEXT: scf.yield
// SM75-LABEL: func.func @projection(
// SM75: linalg.matmul
// SM75-NOT: gpu.launch
func.func @projection(%x: tensor<?x512xbf16>, %w: tensor<512x256xbf16>) -> tensor<?x256xbf16> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x512xbf16>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty(%t) : tensor<?x256xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x256xf32>) -> tensor<?x256xf32>
  %p = linalg.matmul ins(%x, %w : tensor<?x512xbf16>, tensor<512x256xbf16>)
                     outs(%zeros : tensor<?x256xf32>) -> tensor<?x256xf32>
  %r0 = tensor.empty(%t) : tensor<?x256xbf16>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%p : tensor<?x256xf32>) outs(%r0 : tensor<?x256xbf16>) {
  ^bb0(%in: f32, %unused: bf16):
    %v = arith.truncf %in : f32 to bf16
    linalg.yield %v : bf16
  } -> tensor<?x256xbf16>
  return %r : tensor<?x256xbf16>
}

// -----

// f16 into an accumulator that is not zeros: the kernel adds its initial
// value to each result, and stores f32.
// CHECK-LABEL: func.func @accumulate(
// CHECK: %[[INIT:.*]] = bufferization.to_buffer %arg2 read_only
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<64x32xf32>
// CHECK: gpu.launch
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK: %[[SUM:.*]] = vector.extract
// CHECK: scf.if
// CHECK: scf.if
// CHECK-NEXT: %[[START:.*]] = memref.load %[[INIT]][%{{.*}}, %{{.*}}]
// CHECK-NEXT: %[[TOTAL:.*]] = arith.addf %[[SUM]], %[[START]] : f32
// CHECK-NEXT: memref.store %[[TOTAL]], %[[OUT]]
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable : memref<64x32xf32>
func.func @accumulate(%a: tensor<64x48xf16>, %b: tensor<48x32xf16>, %c: tensor<64x32xf32>)
    -> tensor<64x32xf32> {
  %p = linalg.matmul ins(%a, %b : tensor<64x48xf16>, tensor<48x32xf16>)
                     outs(%c : tensor<64x32xf32>) -> tensor<64x32xf32>
  return %p : tensor<64x32xf32>
}

// -----

// f32: FMAs, not the tensor cores (the results stay f32 products). 256
// threads, three stages of a 128 x 20 A tile (16 floats of K, 4 of padding against
// bank conflicts) and a 16 x 128 B tile (54 KiB),
// 16 accumulator runs of 4 per thread; per k two 16-byte runs of B and eight
// values of A, broadcast.
// CHECK-LABEL: func.func @single(
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x96xf32>
// CHECK: gpu.launch {{.*}} threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c256{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) dynamic_shared_memory_size %c55296_i32
// CHECK: memref.view {{.*}} to memref<128x20xf32, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_copy {{.*}}, 4 {bypassL1}
// CHECK: memref.view {{.*}} to memref<16x128xf32, #gpu.address_space<workgroup>>
// CHECK: %{{.*}}:16 = scf.for {{.*}} -> (vector<4xf32>,
// CHECK: func.call @raspc.deferred_cp_async_wait
// CHECK: %[[B:.*]] = vector.load %{{.*}}[%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<16x128xf32, #gpu.address_space<workgroup>>, vector<4xf32>
// CHECK: %[[A:.*]] = memref.load %{{.*}}[%{{.*}}, %{{.*}}] : memref<128x20xf32, #gpu.address_space<workgroup>>
// CHECK: %[[SPLAT:.*]] = vector.broadcast %[[A]] : f32 to vector<4xf32>
// CHECK: vector.fma %[[SPLAT]], %[[B]], %{{.*}} : vector<4xf32>
// CHECK-COUNT-255: vector.fma
// CHECK: scf.yield
// CHECK: memref.store %{{.*}}, %[[OUT]]
// SM75-LABEL: func.func @single(
// SM75: linalg.matmul
// SM75-NOT: gpu.launch
func.func @single(%a: tensor<?x256xf32>, %b: tensor<256x96xf32>) -> tensor<?x96xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %a, %c0 : tensor<?x256xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty(%t) : tensor<?x96xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x96xf32>) -> tensor<?x96xf32>
  %p = linalg.matmul ins(%a, %b : tensor<?x256xf32>, tensor<256x96xf32>)
                     outs(%zeros : tensor<?x96xf32>) -> tensor<?x96xf32>
  return %p : tensor<?x96xf32>
}

// -----

// A projection's bias, activation and residual (one generic, as
// fuse-elementwise-ops leaves them) are the kernel's epilogue: per result,
// the bias at its column, the residual at its row and column -- computed
// after the matmul, so the launch goes where the epilogue was -- and the
// body on the accumulator; the kernel stores the epilogue's result.
// CHECK-LABEL: func.func @epilogue(
// CHECK: %[[RESIDUAL:.*]] = linalg.generic
// CHECK: %[[BIAS:.*]] = bufferization.to_buffer %arg2 read_only
// CHECK: %[[RESIDUALBUF:.*]] = bufferization.to_buffer %[[RESIDUAL]] read_only
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x96xf32>
// CHECK: gpu.launch
// CHECK: vector.fma
// CHECK: scf.yield
// CHECK: %[[ACC:.*]] = vector.extract %{{.*}}[0] : f32 from vector<4xf32>
// CHECK: scf.if
// CHECK: %[[J:.*]] = arith.addi
// CHECK: scf.if
// CHECK-NEXT: %[[B:.*]] = memref.load %[[BIAS]][%[[J]]] : memref<96xf32
// CHECK-NEXT: %[[R:.*]] = memref.load %[[RESIDUALBUF]][%[[I:.*]], %[[J]]] : memref<?x96xf32
// CHECK-NEXT: %[[SUM:.*]] = arith.addf %[[ACC]], %[[B]] : f32
// CHECK-NEXT: %[[ERF:.*]] = math.erf %[[SUM]] : f32
// CHECK-NEXT: %[[COLUMN:.*]] = arith.index_cast %[[J]] : index to i32
// CHECK-NEXT: %[[FLOAT:.*]] = arith.sitofp %[[COLUMN]] : i32 to f32
// CHECK-NEXT: %[[SCALED:.*]] = arith.mulf %[[ERF]], %[[FLOAT]] : f32
// CHECK-NEXT: %[[TOTAL:.*]] = arith.addf %[[SCALED]], %[[R]] : f32
// CHECK-NEXT: memref.store %[[TOTAL]], %[[OUT]][%[[I]], %[[J]]]
// CHECK: %[[RESULT:.*]] = bufferization.to_tensor %[[OUT]]
// CHECK-NOT: linalg.generic
// CHECK: return %[[RESULT]]
func.func @epilogue(%a: tensor<?x256xf32>, %b: tensor<256x96xf32>, %bias: tensor<96xf32>,
                    %x: tensor<?x96xf32>) -> tensor<?x96xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %a, %c0 : tensor<?x256xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty(%t) : tensor<?x96xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x96xf32>) -> tensor<?x96xf32>
  %p = linalg.matmul ins(%a, %b : tensor<?x256xf32>, tensor<256x96xf32>)
                     outs(%zeros : tensor<?x96xf32>) -> tensor<?x96xf32>
  %residual = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                              iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<?x96xf32>) outs(%empty : tensor<?x96xf32>) {
  ^bb0(%in: f32, %unused: f32):
    %twice = arith.addf %in, %in : f32
    linalg.yield %twice : f32
  } -> tensor<?x96xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>,
                                        affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias, %residual : tensor<?x96xf32>, tensor<96xf32>, tensor<?x96xf32>)
      outs(%empty : tensor<?x96xf32>) {
  ^bb0(%in: f32, %bi: f32, %res: f32, %unused: f32):
    %sum = arith.addf %in, %bi : f32
    %erf = math.erf %sum : f32
    %j = linalg.index 1 : index
    %j32 = arith.index_cast %j : index to i32
    %jf = arith.sitofp %j32 : i32 to f32
    %scaled = arith.mulf %erf, %jf : f32
    %total = arith.addf %scaled, %res : f32
    linalg.yield %total : f32
  } -> tensor<?x96xf32>
  return %r : tensor<?x96xf32>
}

// -----

// Not epilogues: a generic that reads the product transposed, one that reads
// its output's old value, and any consumer of a product with other uses.
// (The three products of one A are one launch.)
// CHECK-LABEL: func.func @not_epilogues(
// CHECK: gpu.launch
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @not_epilogues(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>)
    -> (tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<64x64xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<64x64xf32>) -> tensor<64x64xf32>
  %p0 = linalg.matmul ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>)
                      outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %transposed = linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>],
                                iterator_types = ["parallel", "parallel"]}
      ins(%p0 : tensor<64x64xf32>) outs(%empty : tensor<64x64xf32>) {
  ^bb0(%in: f32, %unused: f32):
    linalg.yield %in : f32
  } -> tensor<64x64xf32>
  %p1 = linalg.matmul ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>)
                      outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %accumulated = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                                 iterator_types = ["parallel", "parallel"]}
      ins(%p1 : tensor<64x64xf32>) outs(%c : tensor<64x64xf32>) {
  ^bb0(%in: f32, %old: f32):
    %s = arith.addf %in, %old : f32
    linalg.yield %s : f32
  } -> tensor<64x64xf32>
  %p2 = linalg.matmul ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>)
                      outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %doubled = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                             iterator_types = ["parallel", "parallel"]}
      ins(%p2 : tensor<64x64xf32>) outs(%empty : tensor<64x64xf32>) {
  ^bb0(%in: f32, %unused: f32):
    %s = arith.addf %in, %in : f32
    linalg.yield %s : f32
  } -> tensor<64x64xf32>
  return %transposed, %accumulated, %doubled, %p2
      : tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>
}

// -----

// The q, k and v projections of one x (grouped-query attention: k and v
// narrower), each rounded to bf16 by its epilogue: one launch. Its grid's
// column blocks are the products' side by side (4 + 1 + 1); a block finds
// its product (the last whose first column block it has reached), and with
// it B (the three cast to one type) and N, then K is looped over as for
// one product, and the store goes to the product's buffer through its
// epilogue (a switch).
// With warpgroup MMA the same: the product's B chosen by selects before
// the loop (nothing between the wgmmas), the switch after the last wait.
// WGMMA-LABEL: func.func @qkv_projections(
// WGMMA: gpu.launch
// WGMMA-COUNT-2: arith.select %{{.*}}, %{{.*}}, %{{.*}} : memref<?x?xbf16, strided<[?, ?], offset: ?>>
// WGMMA: scf.for
// WGMMA: nvvm.wgmma.fence.aligned
// WGMMA-COUNT-4: nvvm.wgmma.mma_async
// WGMMA-NEXT: nvvm.wgmma.commit.group.sync.aligned
// WGMMA: nvvm.wgmma.wait.group.sync.aligned 0
// WGMMA: scf.index_switch
// WGMMA-NOT: nvvm.wgmma
// WGMMA: gpu.terminator
// CHECK-LABEL: func.func @qkv_projections(
// CHECK: %[[QOUT:.*]] = memref.alloc(%{{.*}}) : memref<?x512xbf16>
// CHECK: %[[QBLOCKS:.*]] = arith.ceildivsi %{{.*}}, %c128
// CHECK: %[[WK:.*]] = memref.cast %{{.*}} : memref<512x128xbf16, strided<[?, ?], offset: ?>> to memref<?x?xbf16, strided<[?, ?], offset: ?>>
// CHECK: %[[KOUT:.*]] = memref.alloc(%{{.*}}) : memref<?x128xbf16>
// CHECK: %[[KBLOCKS:.*]] = arith.ceildivsi %{{.*}}, %c128
// CHECK: %[[QKBLOCKS:.*]] = arith.addi %[[QBLOCKS]], %[[KBLOCKS]] : index
// CHECK: %[[VOUT:.*]] = memref.alloc(%{{.*}}) : memref<?x128xbf16>
// CHECK: %[[COLUMNBLOCKS:.*]] = arith.addi %[[QKBLOCKS]], %{{.*}} : index
// CHECK: gpu.launch blocks(%{{.*}}, %[[BY:.*]], %{{.*}}) in (%{{.*}} = %{{.*}}, %{{.*}} = %[[COLUMNBLOCKS]], %{{.*}} = %{{.*}})
// CHECK: %[[REACHEDK:.*]] = arith.cmpi uge, %[[BY]], %[[QBLOCKS]] : index
// CHECK: %[[ISK:.*]] = arith.select %[[REACHEDK]], %c1{{.*}}, %c0{{.*}} : index
// CHECK: arith.select %[[REACHEDK]], %[[WK]], %{{.*}} : memref<?x?xbf16, strided<[?, ?], offset: ?>>
// CHECK: %[[REACHEDV:.*]] = arith.cmpi uge, %[[BY]], %[[QKBLOCKS]] : index
// CHECK: %[[PRODUCT:.*]] = arith.select %[[REACHEDV]], %c2{{.*}}, %[[ISK]] : index
// CHECK: %[[FIRST:.*]] = arith.select %[[REACHEDV]], %[[QKBLOCKS]], %{{.*}} : index
// CHECK: %[[LOCAL:.*]] = arith.subi %[[BY]], %[[FIRST]] : index
// CHECK: arith.muli %[[LOCAL]], %c128
// CHECK: scf.for
// CHECK: nvgpu.mma.sync
// CHECK: scf.index_switch %[[PRODUCT]]
// CHECK-NEXT: case 1 {
// CHECK: memref.store %{{.*}}, %[[KOUT]]
// CHECK: case 2 {
// CHECK: memref.store %{{.*}}, %[[VOUT]]
// CHECK: default {
// CHECK: memref.store %{{.*}}, %[[QOUT]]
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK-NOT: linalg.matmul
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @qkv_projections(%x: tensor<?x512xbf16>, %wq: tensor<512x512xbf16>,
                           %wk: tensor<512x128xbf16>, %wv: tensor<512x128xbf16>)
    -> (tensor<?x512xbf16>, tensor<?x128xbf16>, tensor<?x128xbf16>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x512xbf16>
  %emptyq = tensor.empty(%t) : tensor<?x512xf32>
  %zerosq = linalg.fill ins(%zero : f32) outs(%emptyq : tensor<?x512xf32>) -> tensor<?x512xf32>
  %pq = linalg.matmul ins(%x, %wq : tensor<?x512xbf16>, tensor<512x512xbf16>)
                      outs(%zerosq : tensor<?x512xf32>) -> tensor<?x512xf32>
  %qout = tensor.empty(%t) : tensor<?x512xbf16>
  %q = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%pq : tensor<?x512xf32>) outs(%qout : tensor<?x512xbf16>) {
  ^bb0(%in: f32, %unused: bf16):
    %r = arith.truncf %in : f32 to bf16
    linalg.yield %r : bf16
  } -> tensor<?x512xbf16>
  %emptyk = tensor.empty(%t) : tensor<?x128xf32>
  %zerosk = linalg.fill ins(%zero : f32) outs(%emptyk : tensor<?x128xf32>) -> tensor<?x128xf32>
  %pk = linalg.matmul ins(%x, %wk : tensor<?x512xbf16>, tensor<512x128xbf16>)
                      outs(%zerosk : tensor<?x128xf32>) -> tensor<?x128xf32>
  %kout = tensor.empty(%t) : tensor<?x128xbf16>
  %k = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%pk : tensor<?x128xf32>) outs(%kout : tensor<?x128xbf16>) {
  ^bb0(%in: f32, %unused: bf16):
    %r = arith.truncf %in : f32 to bf16
    linalg.yield %r : bf16
  } -> tensor<?x128xbf16>
  %emptyv = tensor.empty(%t) : tensor<?x128xf32>
  %zerosv = linalg.fill ins(%zero : f32) outs(%emptyv : tensor<?x128xf32>) -> tensor<?x128xf32>
  %pv = linalg.matmul ins(%x, %wv : tensor<?x512xbf16>, tensor<512x128xbf16>)
                      outs(%zerosv : tensor<?x128xf32>) -> tensor<?x128xf32>
  %vout = tensor.empty(%t) : tensor<?x128xbf16>
  %v = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%pv : tensor<?x128xf32>) outs(%vout : tensor<?x128xbf16>) {
  ^bb0(%in: f32, %unused: bf16):
    %r = arith.truncf %in : f32 to bf16
    linalg.yield %r : bf16
  } -> tensor<?x128xbf16>
  return %q, %k, %v : tensor<?x512xbf16>, tensor<?x128xbf16>, tensor<?x128xbf16>
}

// -----

// Products of one A whose operands are not all computed by the first of
// them: the second's epilogue adds a residual made from the first's
// result, so it is launched on its own, after.
// CHECK-LABEL: func.func @late_operand(
// CHECK: gpu.launch
// CHECK-NOT: scf.index_switch
// CHECK: gpu.terminator
// CHECK: %[[RESIDUAL:.*]] = linalg.generic
// CHECK: gpu.launch
// CHECK-NOT: scf.index_switch
// CHECK: gpu.terminator
func.func @late_operand(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>)
    -> tensor<64x64xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<64x64xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<64x64xf32>) -> tensor<64x64xf32>
  %p0 = linalg.matmul ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>)
                      outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %residual = linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>],
                              iterator_types = ["parallel", "parallel"]}
      ins(%p0 : tensor<64x64xf32>) outs(%empty : tensor<64x64xf32>) {
  ^bb0(%in: f32, %unused: f32):
    linalg.yield %in : f32
  } -> tensor<64x64xf32>
  %p1 = linalg.matmul ins(%a, %c : tensor<64x64xf32>, tensor<64x64xf32>)
                      outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %sum = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>,
                                          affine_map<(i, j) -> (i, j)>],
                         iterator_types = ["parallel", "parallel"]}
      ins(%p1, %residual : tensor<64x64xf32>, tensor<64x64xf32>) outs(%empty : tensor<64x64xf32>) {
  ^bb0(%in: f32, %res: f32, %unused: f32):
    %s = arith.addf %in, %res : f32
    linalg.yield %s : f32
  } -> tensor<64x64xf32>
  return %sum : tensor<64x64xf32>
}

// -----

// A gated product the kernel cannot pair (up accumulates onto an
// argument) beside another projection of the same x: the generic
// multiplying gate and up is the epilogue of whichever launch comes to it
// first, so each of those two stays alone -- nothing joins them (q would
// join the gate's launch, then that launch would erase the generic the up
// launch still holds). k's B is computed after q: a launch of its own too.
// CHECK-LABEL: func.func @gated_beside_projections(
// CHECK-COUNT-4: gpu.launch blocks
// CHECK-NOT: gpu.launch
// CHECK-NOT: scf.index_switch
// CHECK: return
func.func @gated_beside_projections(%x: tensor<64x64xf32>, %wg: tensor<64x64xf32>,
                                    %wu: tensor<64x64xf32>, %wq: tensor<64x64xf32>,
                                    %init: tensor<64x64xf32>)
    -> (tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<64x64xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<64x64xf32>) -> tensor<64x64xf32>
  %g = linalg.matmul ins(%x, %wg : tensor<64x64xf32>, tensor<64x64xf32>)
                     outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %u = linalg.matmul ins(%x, %wu : tensor<64x64xf32>, tensor<64x64xf32>)
                     outs(%init : tensor<64x64xf32>) -> tensor<64x64xf32>
  %q = linalg.matmul ins(%x, %wq : tensor<64x64xf32>, tensor<64x64xf32>)
                     outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %wk = linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>],
                        iterator_types = ["parallel", "parallel"]}
      ins(%wq : tensor<64x64xf32>) outs(%empty : tensor<64x64xf32>) {
  ^bb0(%in: f32, %unused: f32):
    linalg.yield %in : f32
  } -> tensor<64x64xf32>
  %k = linalg.matmul ins(%x, %wk : tensor<64x64xf32>, tensor<64x64xf32>)
                     outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %h = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>,
                                        affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%g, %u : tensor<64x64xf32>, tensor<64x64xf32>) outs(%empty : tensor<64x64xf32>) {
  ^bb0(%a: f32, %b: f32, %unused: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<64x64xf32>
  return %h, %q, %k : tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>
}

// -----

// A gated pair (zero accumulators) beside another projection of the same
// x: the pair is one kernel nothing joins; q is launched on its own (it
// would have joined a launch of the gate alone, and so it stays), k too
// (its B is computed after q).
// CHECK-LABEL: func.func @gated_pair_beside_projections(
// CHECK-COUNT-3: gpu.launch blocks
// CHECK-NOT: gpu.launch
// CHECK-NOT: scf.index_switch
// CHECK: return
func.func @gated_pair_beside_projections(%x: tensor<64x64xf32>, %wg: tensor<64x64xf32>,
                                         %wu: tensor<64x64xf32>, %wq: tensor<64x64xf32>)
    -> (tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<64x64xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<64x64xf32>) -> tensor<64x64xf32>
  %g = linalg.matmul ins(%x, %wg : tensor<64x64xf32>, tensor<64x64xf32>)
                     outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %u = linalg.matmul ins(%x, %wu : tensor<64x64xf32>, tensor<64x64xf32>)
                     outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %q = linalg.matmul ins(%x, %wq : tensor<64x64xf32>, tensor<64x64xf32>)
                     outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %wk = linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>],
                        iterator_types = ["parallel", "parallel"]}
      ins(%wq : tensor<64x64xf32>) outs(%empty : tensor<64x64xf32>) {
  ^bb0(%in: f32, %unused: f32):
    linalg.yield %in : f32
  } -> tensor<64x64xf32>
  %k = linalg.matmul ins(%x, %wk : tensor<64x64xf32>, tensor<64x64xf32>)
                     outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %h = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>,
                                        affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%g, %u : tensor<64x64xf32>, tensor<64x64xf32>) outs(%empty : tensor<64x64xf32>) {
  ^bb0(%a: f32, %b: f32, %unused: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<64x64xf32>
  return %h, %q, %k : tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>
}

// -----

// A product whose one use is a generic's output (its old value unread) has
// no epilogue there: only the product it reads does (were both to claim
// it, the launch of the two would erase it twice).
// CHECK-LABEL: func.func @product_as_output(
// CHECK: gpu.launch
// CHECK-NOT: gpu.launch
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @product_as_output(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>)
    -> tensor<64x64xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<64x64xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<64x64xf32>) -> tensor<64x64xf32>
  %g = linalg.matmul ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>)
                     outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %u = linalg.matmul ins(%a, %c : tensor<64x64xf32>, tensor<64x64xf32>)
                     outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %h = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%g : tensor<64x64xf32>) outs(%u : tensor<64x64xf32>) {
  ^bb0(%in: f32, %unused: f32):
    %d = arith.addf %in, %in : f32
    linalg.yield %d : f32
  } -> tensor<64x64xf32>
  return %h : tensor<64x64xf32>
}

// -----

// Only the accumulator may be a zero fill made after the launch's place: a
// zero fill the epilogue reads is an operand like any other, here made
// after the first product, so the second has its own launch.
// CHECK-LABEL: func.func @zeros_read_by_epilogue(
// CHECK-COUNT-2: gpu.launch blocks
// CHECK-NOT: scf.index_switch
// CHECK: return
func.func @zeros_read_by_epilogue(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>,
                                  %c: tensor<64x64xf32>) -> (tensor<64x64xf32>, tensor<64x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<64x64xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<64x64xf32>) -> tensor<64x64xf32>
  %p0 = linalg.matmul ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>)
                      outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %later = linalg.fill ins(%zero : f32) outs(%empty : tensor<64x64xf32>) -> tensor<64x64xf32>
  %p1 = linalg.matmul ins(%a, %c : tensor<64x64xf32>, tensor<64x64xf32>)
                      outs(%zeros : tensor<64x64xf32>) -> tensor<64x64xf32>
  %sum = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>,
                                          affine_map<(i, j) -> (i, j)>],
                         iterator_types = ["parallel", "parallel"]}
      ins(%p1, %later : tensor<64x64xf32>, tensor<64x64xf32>) outs(%empty : tensor<64x64xf32>) {
  ^bb0(%in: f32, %z: f32, %unused: f32):
    %s = arith.addf %in, %z : f32
    linalg.yield %s : f32
  } -> tensor<64x64xf32>
  return %p0, %sum : tensor<64x64xf32>, tensor<64x64xf32>
}

// -----

// SwiGLU: silu(x @ wg) * (x @ wu), the generic reading both products. One
// kernel computes both in its tiles: a block's 128 tile columns are 64 of
// each product, interleaved by the 8 columns of an MMA (the gate's columns
// 0-7, the up's 0-7, the gate's 8-15, ...), so that each thread holds both
// at the same element and the epilogue runs on registers alone. The grid
// has N / 64 column blocks; each stage's B tile is filled from both Bs.
// CHECK-LABEL: func.func @gated(
// CHECK: %[[COLUMNBLOCKS:.*]] = arith.ceildivsi %{{.*}}, %c64 : index
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %{{.*}}, %{{.*}} = %[[COLUMNBLOCKS]],
// CHECK: nvgpu.device_async_copy %[[WG:[a-z_0-9]+]][%{{.*}}], %[[BTILE:[a-z_0-9]+]][%{{.*}}], 8 {bypassL1} : memref<512x1024xbf16
// CHECK: nvgpu.device_async_copy %[[WU:[a-z_0-9]+]][%{{.*}}], %[[BTILE]][%{{.*}}], 8 {bypassL1} : memref<512x1024xbf16
// CHECK: scf.for
// CHECK: %[[G:.*]] = vector.extract %[[ACC:.*]]#0[0, 0]
// CHECK: %[[U:.*]] = vector.extract %[[ACC]]#1[0, 0]
// CHECK: %[[NEG:.*]] = arith.negf %[[G]]
// CHECK-NEXT: math.exp %[[NEG]]
// CHECK: arith.mulf %{{.*}}, %[[U]]
// CHECK-NOT: memref<?x1024xf32>
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK-NOT: linalg.matmul
// CHECK: return
func.func @gated(%x: tensor<?x512xbf16>, %wg: tensor<512x1024xbf16>, %wu: tensor<512x1024xbf16>)
    -> tensor<?x1024xbf16> {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x512xbf16>
  %empty = tensor.empty(%t) : tensor<?x1024xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x1024xf32>) -> tensor<?x1024xf32>
  %g = linalg.matmul ins(%x, %wg : tensor<?x512xbf16>, tensor<512x1024xbf16>)
                     outs(%zeros : tensor<?x1024xf32>) -> tensor<?x1024xf32>
  %u = linalg.matmul ins(%x, %wu : tensor<?x512xbf16>, tensor<512x1024xbf16>)
                     outs(%zeros : tensor<?x1024xf32>) -> tensor<?x1024xf32>
  %out = tensor.empty(%t) : tensor<?x1024xbf16>
  %h = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>,
                                        affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%g, %u : tensor<?x1024xf32>, tensor<?x1024xf32>) outs(%out : tensor<?x1024xbf16>) {
  ^bb0(%a: f32, %b: f32, %unused: bf16):
    %na = arith.negf %a : f32
    %e = math.exp %na : f32
    %d = arith.addf %one, %e : f32
    %silu = arith.divf %a, %d : f32
    %p = arith.mulf %silu, %b : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  } -> tensor<?x1024xbf16>
  return %h : tensor<?x1024xbf16>
}

// -----

// Mixed operand types stay for the reference lowering.
// CHECK-LABEL: func.func @mixed(
// CHECK-NOT: gpu.launch
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<8x16xbf16>, tensor<16x8xf16>)
func.func @mixed(%a: tensor<8x16xbf16>, %b: tensor<16x8xf16>, %c: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %p = linalg.matmul ins(%a, %b : tensor<8x16xbf16>, tensor<16x8xf16>)
                     outs(%c : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %p : tensor<8x8xf32>
}
