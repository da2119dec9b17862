// RUN: rasp-opt %s --split-input-file --convert-attention-to-gpu-flash | FileCheck %s
// RUN: rasp-opt %s --split-input-file --convert-attention-to-gpu-flash=chip=sm_75 | FileCheck %s --check-prefix=SM75
// RUN: rasp-opt %s --split-input-file --convert-attention-to-gpu-flash=row-tiles=1 | FileCheck %s --check-prefix=ONE
// RUN: not rasp-opt %s --split-input-file --convert-attention-to-gpu-flash=row-tiles=3 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: rasp-opt %s --split-input-file --convert-attention-to-gpu-flash="chip=sm_90a wgmma=1 wgmma-overlap=0" | FileCheck %s --check-prefix=WGMMA
// RUN: rasp-opt %s --split-input-file --convert-attention-to-gpu-flash="chip=sm_90a wgmma=1" | FileCheck %s --check-prefix=OVERLAP
// BAD: error: convert-attention-to-gpu-flash: row-tiles must be 0, 1 or 2, not 3

// Causal grouped-query attention on bf16: one launch of 128-thread blocks,
// one per (batch, head, query block of 128), all on grid x (y and z would
// cap heads and batch at 65535), with two stages of shared memory,
// each a 64 x 72 key tile and a value tile (64 keys, head size 64 + 8
// elements of padding: 36 KiB in all); a loop over key blocks carrying the
// thread's four rows' maxima and sums and the accumulators (8 + 64 values at
// a value size of 64: each warp has two MMA tiles of rows). Block 0 is prefetched before the loop; each iteration starts
// the copy of the next block (cp.async, 16 bytes at a time where the
// operands' alignment allows, checked at run time; element by element
// otherwise) unless the mask hides it from all 128 rows, waits for its own
// block and meets at a barrier; each warp then skips the block or computes
// it, with or without the per-key mask: scores and P.V by m16n8k16 MMAs, B
// operands from the tiles by ldmatrix (transposed for the values), the four
// lanes of a row combining maxima with shuffles; a second barrier before
// the stage is refilled.
// CHECK-LABEL: func.func @causal(
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x8x?x64xf32>
// CHECK: %[[QBLOCKS:.*]] = arith.ceildivsi %{{.*}}, %c128
// CHECK: %[[QBLOCKSHEADS:.*]] = arith.muli %[[QBLOCKS]], %c8
// CHECK: %[[GRID:.*]] = arith.muli %[[QBLOCKSHEADS]], %{{.*}} : index
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c128{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) dynamic_shared_memory_size %c36864_i32
// CHECK: %[[REST:.*]] = arith.divui %[[BX]], %[[QBLOCKS]]
// CHECK: arith.remui %[[BX]], %[[QBLOCKS]]
// CHECK: arith.remui %[[REST]], %c8
// CHECK: arith.divui %[[REST]], %c8
// CHECK: %[[SHARED:.*]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK: %[[KBASE:.*]], %{{.*}}, %{{.*}}:4, %{{.*}}:4 = memref.extract_strided_metadata %{{.*}} : memref<?x2x?x64xbf16, strided<[?, ?, ?, ?], offset: ?>>
// CHECK: %[[KCONTIGUOUS:.*]] = memref.reinterpret_cast %[[KBASE]] {{.*}} strides: [%{{.*}}, %{{.*}}, %{{.*}}, 1] : memref<bf16> to memref<?x2x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>
// The prologue: block 0 into stage 0.
// CHECK: %[[KTILE0:.*]] = memref.view %[[SHARED]][%{{.*}}][] : {{.*}} to memref<64x72xbf16, #gpu.address_space<workgroup>>
// CHECK: scf.if
// CHECK: nvgpu.device_async_copy %[[KCONTIGUOUS]][{{.*}}], %[[KTILE0]][{{.*}}], 8 {bypassL1}
// CHECK: } else {
// CHECK: memref.store %{{.*}}, %[[KTILE0]][%{{.*}}, %{{.*}}]
// CHECK: func.call @raspc.deferred_cp_async_commit() : () -> ()
// CHECK: %{{.*}}:72 = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(
// CHECK: nvgpu.device_async_copy
// CHECK: func.call @raspc.deferred_cp_async_commit() : () -> ()
// CHECK: func.call @raspc.deferred_cp_async_wait(%{{.*}}) : (i32) -> ()
// CHECK: func.call @raspc.deferred_gpu_barrier() : () -> ()
// CHECK: %[[KEYS:.*]] = memref.view %[[SHARED]]
// CHECK: %[[VALUES:.*]] = memref.view %[[SHARED]]
// CHECK: %{{.*}}:72 = scf.if %{{.*}} -> (f32, f32, f32, f32, f32
// CHECK: %{{.*}}:72 = scf.if %{{.*}} -> (f32, f32, f32, f32, f32
// CHECK: %{{.*}}:72 = scf.if %{{.*}} -> (f32, f32, f32, f32, f32
// One B fragment of keys, two MMAs (the warp's two tiles of rows):
// CHECK: %[[KFRAG:.*]] = nvgpu.ldmatrix %[[KEYS]][%{{.*}}, %{{.*}}] {numTiles = 2 : i32, transpose = false} : memref<64x72xbf16, #gpu.address_space<workgroup>> -> vector<2x2xbf16>
// CHECK: nvgpu.mma.sync(%{{.*}}, %[[KFRAG]], %{{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xbf16>, vector<2x2xbf16>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK-NOT: nvgpu.ldmatrix
// CHECK: nvgpu.mma.sync(%{{.*}}, %[[KFRAG]], %{{.*}})
// CHECK: arith.cmpi ule
// CHECK: gpu.shuffle xor
// CHECK: math.exp2
// CHECK: nvgpu.ldmatrix %[[VALUES]][%{{.*}}, %{{.*}}] {numTiles = 2 : i32, transpose = true}
// CHECK: func.call @raspc.deferred_gpu_barrier() : () -> ()
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: gpu.terminator
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
// CHECK-NOT: attn.attention
// One tile of rows per warp (the tuning option): 64 rows a block, the
// thread's two rows' state and 32 accumulators, one MMA per fragment.
// With warpgroup MMA (sm_90a), one step after the other (wgmma-overlap=0):
// 256 threads (two warpgroups of 64 rows),
// two stages of a 128-key tile of K and of V (as 128 x 64 panels), Q after
// them, 1 KiB of slack to start at a multiple of 1024: 82944 bytes. Q is
// copied once (its own cp.async group); each key block: proxy fence before
// the barrier, S = Q.K^T by four m64n128k16 MMAs (K-major K: layout col),
// (the first ignoring the accumulator: nothing written before the fence),
// the softmax branching on the mask only around arithmetic, then O += P.V
// by eight m64n64k16 MMAs with P in registers (inline PTX, V N-major:
// trans-b 1).
// WGMMA-LABEL: func.func @causal(
// WGMMA: gpu.launch {{.*}} threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c256{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) dynamic_shared_memory_size %c82944_i32
// WGMMA: %[[QTILE:.*]] = memref.view %{{.*}}[%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<128x64xbf16, #gpu.address_space<workgroup>>
// WGMMA: nvgpu.device_async_copy %{{.*}}[{{.*}}], %[[QTILE]][{{.*}}], 8 {bypassL1}
// WGMMA: func.call @raspc.deferred_cp_async_commit() : () -> ()
// WGMMA: scf.for {{.*}} -> (f32, f32, f32, f32, !llvm.struct<(f32,
// WGMMA: func.call @raspc.deferred_cp_async_wait
// WGMMA-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// WGMMA-NEXT: func.call @raspc.deferred_gpu_barrier() : () -> ()
// WGMMA: nvvm.wgmma.fence.aligned
// WGMMA-NEXT: %[[UNDEF:.*]] = llvm.mlir.undef
// WGMMA: nvvm.wgmma.mma_async %{{.*}}, %{{.*}}, %[[UNDEF]], <m = 64, n = 128, k = 16>, D[<f32>, <zero>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// WGMMA-COUNT-3: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// WGMMA-NEXT: nvvm.wgmma.commit.group.sync.aligned
// WGMMA-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// WGMMA: scf.if %{{.*}} -> (f32, f32,
// WGMMA-NOT: wgmma
// WGMMA: arith.cmpi ule
// WGMMA: gpu.shuffle xor
// WGMMA: math.exp2
// The registers the MMAs read, pinned before their fence (an empty asm):
// P as it is packed, O after its rescaling.
// WGMMA: llvm.inline_asm has_side_effects asm_dialect = att "", "=r,
// WGMMA: llvm.inline_asm has_side_effects asm_dialect = att "", "=f,
// WGMMA: nvvm.wgmma.fence.aligned
// WGMMA-COUNT-8: llvm.inline_asm has_side_effects {{.*}}wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, p, 1, 1, 1;
// WGMMA-NOT: wgmma.mma_async
// WGMMA: nvvm.wgmma.commit.group.sync.aligned
// WGMMA-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// WGMMA: func.call @raspc.deferred_gpu_barrier() : () -> ()
// WGMMA: llvm.extractvalue
// WGMMA: memref.store
// Overlapped (the default with wgmma): three stages (115712 bytes); the
// key blocks the block's rows may see, first to last, by a scan of the
// mask's intervals; block `first` alone (copies of it and the next in
// flight: wait for all but one group), then per block S = Q.K^T and the
// previous block's P.V issued together, S waited for (wait_group 1), the
// softmax, then P.V (wait_group 0); the last block's P.V after the loop.
// OVERLAP-LABEL: func.func @causal(
// OVERLAP: gpu.launch {{.*}} dynamic_shared_memory_size %c115712_i32
// OVERLAP: scf.for {{.*}} -> (index, index)
// OVERLAP: func.call @raspc.deferred_cp_async_wait(%c1_i32)
// OVERLAP: nvvm.wgmma.fence.aligned
// OVERLAP-COUNT-4: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 128, k = 16>
// OVERLAP-NEXT: nvvm.wgmma.commit.group.sync.aligned
// OVERLAP-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// OVERLAP: scf.for {{.*}} -> (f32, f32, f32, f32, !llvm.struct<{{.*}}>, i32,
// OVERLAP: func.call @raspc.deferred_cp_async_wait(%c0_i32)
// OVERLAP: nvvm.wgmma.fence.aligned
// OVERLAP-COUNT-4: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 128, k = 16>
// OVERLAP-NEXT: nvvm.wgmma.commit.group.sync.aligned
// OVERLAP-COUNT-8: llvm.inline_asm has_side_effects {{.*}}wgmma.mma_async.sync.aligned.m64n64k16
// OVERLAP-NEXT: nvvm.wgmma.commit.group.sync.aligned
// OVERLAP-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
// OVERLAP: math.exp2
// OVERLAP: nvvm.wgmma.wait.group.sync.aligned 0
// OVERLAP: scf.yield
// OVERLAP: nvvm.wgmma.fence.aligned
// OVERLAP-COUNT-8: llvm.inline_asm has_side_effects {{.*}}wgmma.mma_async.sync.aligned.m64n64k16
// OVERLAP-NEXT: nvvm.wgmma.commit.group.sync.aligned
// OVERLAP-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// OVERLAP: memref.store
// ONE-LABEL: func.func @causal(
// ONE: %{{.*}}:36 = scf.for
// ONE: %[[KFRAG:.*]] = nvgpu.ldmatrix
// ONE: nvgpu.mma.sync(%{{.*}}, %[[KFRAG]], %{{.*}})
// ONE-NOT: nvgpu.mma.sync
// ONE: nvgpu.ldmatrix
// SM75-LABEL: func.func @causal(
// SM75: attn.attention softmax
// SM75-NOT: gpu.launch
func.func @causal(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x2x?x64xbf16>, %v: tensor<?x2x?x64xbf16>,
                  %init: tensor<?x8x?x64xf32>) -> tensor<?x8x?x64xf32> {
  %o = attn.attention softmax
         ins(%q, %k, %v : tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>)
         outs(%init : tensor<?x8x?x64xf32>) -> tensor<?x8x?x64xf32>
         mask {
         ^bb0(%b: index, %h: index, %i: index, %j: index):
           %c = arith.cmpi ule, %j, %i : index
           attn.yield %c : i1
         }
         score {
         ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
           %scale = arith.constant 0.125 : f32
           %r = arith.mulf %s, %scale : f32
           attn.yield %r : f32
         }
  return %o : tensor<?x8x?x64xf32>
}

// -----

// No mask: no block test; the output keeps its f16 type (rounded once).
// CHECK-LABEL: func.func @full_f16(
// CHECK: gpu.launch {{.*}} dynamic_shared_memory_size %c16384_i32
// CHECK-NOT: scf.if {{.*}} -> (f32
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>)
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: memref.store
func.func @full_f16(%q: tensor<2x4x?x32xf16>, %k: tensor<2x4x?x32xf16>, %v: tensor<2x4x?x16xf16>,
                    %init: tensor<2x4x?x16xf16>) -> tensor<2x4x?x16xf16> {
  %o = attn.attention softmax
         ins(%q, %k, %v : tensor<2x4x?x32xf16>, tensor<2x4x?x32xf16>, tensor<2x4x?x16xf16>)
         outs(%init : tensor<2x4x?x16xf16>) -> tensor<2x4x?x16xf16>
  return %o : tensor<2x4x?x16xf16>
}

// -----

// The layout a model gives it: q, k, v are projections [T, H D] through
// `heads` (expand_shape, transpose, a batch of one) and the result goes
// through `merge_heads` (collapse_shape, transpose, collapse_shape). The
// kernel reads [T, H D] through strided views (memref.expand_shape,
// memref.transpose) instead of the transposed copies, and writes a new
// [T, H D] buffer through the inverse views; that buffer replaces the
// merged tensor, the output chain is gone and so are its tensor.dims (here
// the query count, known from the operands).
// CHECK-LABEL: func.func @through_heads(
// CHECK-SAME: %[[XQ:[^:]*]]: tensor<?x256xbf16>
// CHECK: %[[QBUF:.*]] = bufferization.to_buffer %[[XQ]] read_only
// CHECK: %[[Q3:.*]] = memref.expand_shape %[[QBUF]] {{\[}}[0], [1, 2]] output_shape [%{{.*}}, 4, 64]
// CHECK: %[[QT:.*]] = memref.transpose %[[Q3]] (d0, d1, d2) -> (d1, d0, d2)
// CHECK: memref.expand_shape %[[QT]] {{\[}}[0, 1], [2], [3]] output_shape [1, 4, %{{.*}}, 64]
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x256xbf16>
// CHECK: %[[O3:.*]] = memref.expand_shape %[[OUT]] {{\[}}[0], [1, 2]] output_shape [%{{.*}}, 4, 64] : memref<?x256xbf16> into memref<?x4x64xbf16>
// CHECK: %[[OT:.*]] = memref.transpose %[[O3]] (d0, d1, d2) -> (d1, d0, d2)
// CHECK: %[[O4:.*]] = memref.expand_shape %[[OT]] {{\[}}[0, 1], [2], [3]] output_shape [1, 4, %{{.*}}, 64]
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %[[O4]]
// CHECK: gpu.terminator
// CHECK: %[[MERGED:.*]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<?x256xbf16> to tensor<?x256xbf16>
// CHECK-NOT: tensor.collapse_shape
// CHECK-NOT: tensor.dim %{{.*}} : tensor<4x?x64xbf16>
// CHECK: return %[[MERGED]], %{{.*}} : tensor<?x256xbf16>, index
func.func @through_heads(%xq: tensor<?x256xbf16>, %xk: tensor<?x256xbf16>, %xv: tensor<?x256xbf16>)
    -> (tensor<?x256xbf16>, index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %t = tensor.dim %xq, %c0 : tensor<?x256xbf16>
  %q3 = tensor.expand_shape %xq [[0], [1, 2]] output_shape [%t, 4, 64] : tensor<?x256xbf16> into tensor<?x4x64xbf16>
  %k3 = tensor.expand_shape %xk [[0], [1, 2]] output_shape [%t, 4, 64] : tensor<?x256xbf16> into tensor<?x4x64xbf16>
  %v3 = tensor.expand_shape %xv [[0], [1, 2]] output_shape [%t, 4, 64] : tensor<?x256xbf16> into tensor<?x4x64xbf16>
  %e = tensor.empty(%t) : tensor<4x?x64xbf16>
  %qt = linalg.transpose ins(%q3 : tensor<?x4x64xbf16>) outs(%e : tensor<4x?x64xbf16>) permutation = [1, 0, 2]
  %kt = linalg.transpose ins(%k3 : tensor<?x4x64xbf16>) outs(%e : tensor<4x?x64xbf16>) permutation = [1, 0, 2]
  %vt = linalg.transpose ins(%v3 : tensor<?x4x64xbf16>) outs(%e : tensor<4x?x64xbf16>) permutation = [1, 0, 2]
  %q = tensor.expand_shape %qt [[0, 1], [2], [3]] output_shape [1, 4, %t, 64] : tensor<4x?x64xbf16> into tensor<1x4x?x64xbf16>
  %k = tensor.expand_shape %kt [[0, 1], [2], [3]] output_shape [1, 4, %t, 64] : tensor<4x?x64xbf16> into tensor<1x4x?x64xbf16>
  %v = tensor.expand_shape %vt [[0, 1], [2], [3]] output_shape [1, 4, %t, 64] : tensor<4x?x64xbf16> into tensor<1x4x?x64xbf16>
  %init = tensor.empty(%t) : tensor<1x4x?x64xbf16>
  %o = attn.attention softmax
         ins(%q, %k, %v : tensor<1x4x?x64xbf16>, tensor<1x4x?x64xbf16>, tensor<1x4x?x64xbf16>)
         outs(%init : tensor<1x4x?x64xbf16>) -> tensor<1x4x?x64xbf16>
  %o3 = tensor.collapse_shape %o [[0, 1], [2], [3]] : tensor<1x4x?x64xbf16> into tensor<4x?x64xbf16>
  %rows = tensor.dim %o3, %c1 : tensor<4x?x64xbf16>
  %oe = tensor.empty(%rows) : tensor<?x4x64xbf16>
  %ot = linalg.transpose ins(%o3 : tensor<4x?x64xbf16>) outs(%oe : tensor<?x4x64xbf16>) permutation = [1, 0, 2]
  %merged = tensor.collapse_shape %ot [[0], [1, 2]] : tensor<?x4x64xbf16> into tensor<?x256xbf16>
  return %merged, %rows : tensor<?x256xbf16>, index
}

// -----

// Sigmoid attention: the same kernel, each visible key weighing
// sigmoid(score) = 1 / (1 + 2^(-s log2 e)) -- no running maximum, no
// rescaling (factor 1), no division at the end (the sum only says whether
// a row saw a key).
// CHECK-LABEL: func.func @sigmoid(
// CHECK: gpu.launch
// CHECK: nvgpu.mma.sync
// CHECK: %[[NEG:.*]] = arith.negf %{{.*}} : f32
// CHECK: %[[SCALED:.*]] = arith.mulf %[[NEG]], %{{.*}} : f32
// CHECK: %[[E:.*]] = math.exp2 %[[SCALED]] : f32
// CHECK: %[[DEN:.*]] = arith.addf %{{.*}}, %[[E]] : f32
// CHECK: arith.divf %{{.*}}, %[[DEN]] : f32
// CHECK: gpu.terminator
// CHECK-NOT: attn.attention
func.func @sigmoid(%q: tensor<1x2x?x64xbf16>, %k: tensor<1x2x?x64xbf16>, %v: tensor<1x2x?x64xbf16>,
                   %init: tensor<1x2x?x64xf32>) -> tensor<1x2x?x64xf32> {
  %o = attn.attention sigmoid
         ins(%q, %k, %v : tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16>)
         outs(%init : tensor<1x2x?x64xf32>) -> tensor<1x2x?x64xf32> mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c = arith.cmpi ule, %j, %i : index
    attn.yield %c : i1
  }
  return %o : tensor<1x2x?x64xf32>
}

// -----

// A document mask reads the ids from a tensor of the function: the region
// is cloned into the kernel with its tensor.extracts (bufferization makes
// them loads of the ids' buffer, a kernel operand), and the block test
// scans the ids of the block's keys for their range.
// CHECK-LABEL: func.func @documents(
// CHECK-SAME: %[[DOC:[^:]*]]: tensor<?xi32>
// CHECK: gpu.launch
// CHECK: scf.for {{.*}} -> (i32, i32)
// CHECK: tensor.extract %[[DOC]]
// CHECK: arith.minsi
// CHECK: arith.maxsi
// CHECK: nvgpu.mma.sync
// CHECK: tensor.extract %[[DOC]]
// CHECK: tensor.extract %[[DOC]]
// CHECK: arith.cmpi eq
// CHECK: gpu.terminator
// CHECK-NOT: attn.attention
// A mask that reads tensors keeps the serial loop even where overlap is
// asked for: ptxas serialized the overlapped loop's MMAs there.
// OVERLAP-LABEL: func.func @documents(
// OVERLAP: nvvm.wgmma.wait.group.sync.aligned 0
// OVERLAP-NOT: nvvm.wgmma.wait.group.sync.aligned 1
// OVERLAP: gpu.terminator
func.func @documents(%q: tensor<1x2x?x64xbf16>, %k: tensor<1x2x?x64xbf16>, %v: tensor<1x2x?x64xbf16>,
                     %init: tensor<1x2x?x64xf32>, %doc: tensor<?xi32>) -> tensor<1x2x?x64xf32> {
  %o = attn.attention softmax
         ins(%q, %k, %v : tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16>)
         outs(%init : tensor<1x2x?x64xf32>) -> tensor<1x2x?x64xf32> mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %di = tensor.extract %doc[%i] : tensor<?xi32>
    %dj = tensor.extract %doc[%j] : tensor<?xi32>
    %same = arith.cmpi eq, %di, %dj : i32
    attn.yield %same : i1
  }
  return %o : tensor<1x2x?x64xf32>
}

// -----

// f32 takes FMAs, not the tensor cores. Head size 128: four threads per row
// (32 features each), so 32 rows per block of 128 threads; two stages of a
// 32 x 128 key tile and a value tile (64 KiB). A loop over chunks of 8 keys
// of a block: per key, the thread's slice of the dot product in runs of
// four, summed across the row's four threads by two shuffles; after the
// chunk's scores, one rescale of the 8 accumulator runs and a P.V FMA per
// key.
// CHECK-LABEL: func.func @single(
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x4x?x128xf32>
// CHECK: gpu.launch {{.*}} threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c128{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) dynamic_shared_memory_size %c65536_i32
// CHECK: nvgpu.device_async_copy {{.*}}, 4 {bypassL1}
// CHECK: func.call @raspc.deferred_cp_async_commit() : () -> ()
// CHECK: %{{.*}}:10 = scf.for {{.*}} -> (f32, f32, vector<4xf32>,
// CHECK: func.call @raspc.deferred_cp_async_wait(%{{.*}}) : (i32) -> ()
// CHECK: func.call @raspc.deferred_gpu_barrier() : () -> ()
// CHECK: %[[KEYS:.*]] = memref.view {{.*}} to memref<32x128xf32, #gpu.address_space<workgroup>>
// CHECK: %{{.*}}:10 = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c8{{.*}} iter_args(
// CHECK: %[[K:.*]] = vector.load %[[KEYS]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<32x128xf32, #gpu.address_space<workgroup>>, vector<4xf32>
// CHECK: vector.fma %{{.*}}, %[[K]], %{{.*}} : vector<4xf32>
// CHECK: %[[DOT:.*]] = vector.reduction <add>, %{{.*}} : vector<4xf32> into f32
// CHECK: %[[OTHER:.*]], %{{.*}} = gpu.shuffle xor %[[DOT]], %{{.*}}, %{{.*}} : f32
// CHECK: %[[HALF:.*]] = arith.addf %[[DOT]], %[[OTHER]] : f32
// CHECK: %[[OTHER2:.*]], %{{.*}} = gpu.shuffle xor %[[HALF]], %{{.*}}, %{{.*}} : f32
// CHECK: arith.addf %[[HALF]], %[[OTHER2]] : f32
// CHECK: arith.cmpi ule
// CHECK: math.exp2
// CHECK: vector.fma
// CHECK: func.call @raspc.deferred_gpu_barrier() : () -> ()
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK-NOT: attn.attention
func.func @single(%q: tensor<?x4x?x128xf32>, %k: tensor<?x4x?x128xf32>, %v: tensor<?x4x?x128xf32>,
                  %init: tensor<?x4x?x128xf32>) -> tensor<?x4x?x128xf32> {
  %o = attn.attention softmax
         ins(%q, %k, %v : tensor<?x4x?x128xf32>, tensor<?x4x?x128xf32>, tensor<?x4x?x128xf32>)
         outs(%init : tensor<?x4x?x128xf32>) -> tensor<?x4x?x128xf32>
    mask {
    ^bb0(%b: index, %h: index, %i: index, %j: index):
      %c = arith.cmpi ule, %j, %i : index
      attn.yield %c : i1
    }
  return %o : tensor<?x4x?x128xf32>
}

// -----

// What the kernels do not take is left to the reference lowering: an f32
// head size that runs of four floats do not divide, an f16/bf16 head size
// that is not a multiple of 16, other normalizers.
// CHECK-LABEL: func.func @left_alone(
// CHECK-NOT: gpu.launch
// CHECK-COUNT-3: attn.attention
// CHECK-NOT: deferred_
func.func @left_alone(%q: tensor<1x2x?x6xf32>, %q72: tensor<1x2x?x72xbf16>,
                      %qb: tensor<1x2x?x64xbf16>, %o6: tensor<1x2x?x6xf32>, %o32: tensor<1x2x?x64xf32>,
                      %o72: tensor<1x2x?x72xf32>) -> (tensor<1x2x?x6xf32>, tensor<1x2x?x72xf32>, tensor<1x2x?x64xf32>) {
  %a = attn.attention softmax ins(%q, %q, %q : tensor<1x2x?x6xf32>, tensor<1x2x?x6xf32>, tensor<1x2x?x6xf32>)
         outs(%o6 : tensor<1x2x?x6xf32>) -> tensor<1x2x?x6xf32>
  %b = attn.attention softmax ins(%q72, %q72, %q72 : tensor<1x2x?x72xbf16>, tensor<1x2x?x72xbf16>, tensor<1x2x?x72xbf16>)
         outs(%o72 : tensor<1x2x?x72xf32>) -> tensor<1x2x?x72xf32>
  %c = attn.attention mean ins(%qb, %qb, %qb : tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16>)
         outs(%o32 : tensor<1x2x?x64xf32>) -> tensor<1x2x?x64xf32>
  return %a, %b, %c : tensor<1x2x?x6xf32>, tensor<1x2x?x72xf32>, tensor<1x2x?x64xf32>
}
