// RUN: rasp-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(convert-attention-to-flash-loops{vector-width=4 register-rows=2 register-vectors=2 query-tile=6 key-tile=8}))' | FileCheck %s

// Causal softmax attention: keys packed transposed by key tile in panels of
// a register tile's 8 columns, values padded in panels of one vector (4 does
// not divide into 8), one parallel task per
// (batch, head, query tile), a block test from the mask over the whole
// (query tile, key tile), register tiles of 2 x 2 vector accumulators, the
// mask per key only in blocks the test cannot decide, no [queries, keys]
// tensor and no scalar exp.
// CHECK-LABEL: func.func @causal
// CHECK-DAG: %[[Q:.*]] = bufferization.to_buffer %arg0 read_only
// CHECK-DAG: %[[KT:.*]] = memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?x?x?x1x?x8xf32>
// CHECK-DAG: %[[VP:.*]] = memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?x?x1x?x4xf32>
// CHECK: scf.parallel
// CHECK: memref.store %{{.*}}, %[[KT]]
// Values are packed with NaN and Inf as 0, so that a hidden key's weight
// (0) times its value stays 0; a (batch, head) that has any is flagged.
// CHECK: %[[BADV:.*]] = arith.cmpf uge, %{{.*}}, %cst{{.*}} : f32
// CHECK: %[[CLEAN:.*]] = arith.select %[[BADV]], %{{.*}}, %{{.*}} : f32
// CHECK: memref.store %[[CLEAN]], %[[VP]]
// CHECK: %[[OUT:.*]] = memref.alloc({{.*}}) {alignment = 64 : i64} : memref<1x2x?x3xf32>
// CHECK: scf.parallel (%[[TASK:.*]]) =
// CHECK: %[[S:.*]] = memref.alloca() {alignment = 64 : i64} : memref<6x8xf32>
// CHECK: %[[ACC:.*]] = memref.alloca() {alignment = 64 : i64} : memref<6x4xf32>
// The block may hold a visible key when its first key <= its last query;
// it may hold a hidden one when its last key > its first query.
// CHECK: scf.for %[[KB:.*]] =
// CHECK: %[[MAYTRUE:.*]] = arith.cmpi sle, %{{.*}}, %{{.*}} : i64
// CHECK: %[[MAYFALSE:.*]] = arith.cmpi sgt, %{{.*}}, %{{.*}} : i64
// CHECK: scf.if %[[MAYTRUE]] {
// CHECK: scf.for %{{.*}} step %c2
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK: vector.load %[[KT]]
// CHECK-COUNT-4: vector.fma
// Blocks the mask may hide keys in, and the last, partial key tile, take
// the exact row update (key count and mask per key); the others neither.
// CHECK: %[[PARTIAL:.*]] = arith.cmpi ult, %{{.*}}, %c8 : index
// CHECK: %[[EXACT:.*]] = arith.ori %[[MAYFALSE]], %[[PARTIAL]] : i1
// CHECK: scf.if %[[EXACT]] {
// CHECK: arith.cmpi ult, %{{.*}}, %{{.*}} : vector<4xindex>
// CHECK: arith.cmpi sle, %{{.*}}, %{{.*}} : vector<4xi64>
// CHECK: vector.reduction <maxnumf>
// The accumulator row is rescaled only when the row max moved.
// CHECK: %[[MOVED:.*]] = arith.cmpf une
// CHECK: scf.if %[[MOVED]] {
// CHECK: } else {
// CHECK-NOT: vector<4xi64>
// CHECK-NOT: vector<4xindex>
// CHECK: vector.reduction <maxnumf>
// CHECK: }
// CHECK: vector.load %[[VP]]
// CHECK: vector.fma
// After each block's P.V, a flagged (batch, head) adds its visible keys'
// non-finite values back.
// CHECK: %[[FLAGGED:.*]] = arith.cmpi ne, %{{.*}}, %{{.*}} : i8
// CHECK: scf.if %[[FLAGGED]] {
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
// CHECK-NOT: math.exp {{.*}} : vector
// CHECK-NOT: attn.attention
func.func @causal(%q: tensor<1x2x?x5xf32>, %k: tensor<1x2x?x5xf32>, %v: tensor<1x2x?x3xf32>,
                  %init: tensor<1x2x?x3xf32>) -> tensor<1x2x?x3xf32> {
  %o = attn.attention softmax
         ins(%q, %k, %v : tensor<1x2x?x5xf32>, tensor<1x2x?x5xf32>, tensor<1x2x?x3xf32>)
         outs(%init : tensor<1x2x?x3xf32>) -> tensor<1x2x?x3xf32>
         mask {
         ^bb0(%b: index, %h: index, %i: index, %j: index):
           %ji = arith.index_cast %j : index to i64
           %ii = arith.index_cast %i : index to i64
           %c = arith.cmpi sle, %ji, %ii : i64
           attn.yield %c : i1
         }
  return %o : tensor<1x2x?x3xf32>
}

// -----

// A mask that reads data (document ids): the block test scans the ids of
// the block's queries and keys for their minimum and maximum (a block whose
// ranges do not overlap is skipped, one where both are a single equal id
// needs no per-key mask); inside exact blocks the ids are read lane by lane.
// CHECK-LABEL: func.func @documents
// CHECK: scf.parallel
// CHECK: %[[QIDS:.*]]:2 = scf.for {{.*}} iter_args({{.*}}) -> (i64, i64) {
// CHECK: tensor.extract %arg4
// CHECK: arith.minsi
// CHECK: arith.maxsi
// CHECK: %[[KIDS:.*]]:2 = scf.for {{.*}} iter_args({{.*}}) -> (i64, i64) {
// CHECK: %[[OVERLAP:.*]] = arith.andi
// CHECK: scf.if %[[OVERLAP]] {
// CHECK: tensor.extract %arg4
// CHECK: vector.from_elements
// CHECK-NOT: attn.attention
func.func @documents(%q: tensor<1x1x?x4xf32>, %k: tensor<1x1x?x4xf32>, %v: tensor<1x1x?x4xf32>,
                     %init: tensor<1x1x?x4xf32>, %doc: tensor<?xi64>) -> tensor<1x1x?x4xf32> {
  %o = attn.attention softmax
         ins(%q, %k, %v : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
         outs(%init : tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
         mask {
         ^bb0(%b: index, %h: index, %i: index, %j: index):
           %di = tensor.extract %doc[%i] : tensor<?xi64>
           %dj = tensor.extract %doc[%j] : tensor<?xi64>
           %c = arith.cmpi eq, %di, %dj : i64
           attn.yield %c : i1
         }
  return %o : tensor<1x1x?x4xf32>
}

// -----

// Other normalizers and element types stay for convert-attn-to-linalg.
// CHECK-LABEL: func.func @others
// CHECK: attn.attention mean
// CHECK: attn.attention softmax
// CHECK-NOT: scf.parallel
func.func @others(%q: tensor<1x1x?x4xf32>, %h: tensor<1x1x?x4xf16>,
                  %init: tensor<1x1x?x4xf32>) -> (tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>) {
  %m = attn.attention mean
         ins(%q, %q, %q : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
         outs(%init : tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
  %s = attn.attention softmax
         ins(%h, %h, %h : tensor<1x1x?x4xf16>, tensor<1x1x?x4xf16>, tensor<1x1x?x4xf16>)
         outs(%init : tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
  return %m, %s : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>
}


// -----

// bf16 tensors take the same loops in f32: widened where keys and values
// are packed and queries copied, rounded once where the output is stored.
// CHECK-LABEL: func.func @bf16
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: scf.parallel
// CHECK: vector.fma
// CHECK: %[[R:.*]] = arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %[[R]], %{{.*}} : memref<1x1x?x4xbf16>
func.func @bf16(%q: tensor<1x1x?x4xbf16>, %init: tensor<1x1x?x4xbf16>) -> tensor<1x1x?x4xbf16> {
  %o = attn.attention softmax
         ins(%q, %q, %q : tensor<1x1x?x4xbf16>, tensor<1x1x?x4xbf16>, tensor<1x1x?x4xbf16>)
         outs(%init : tensor<1x1x?x4xbf16>) -> tensor<1x1x?x4xbf16>
  return %o : tensor<1x1x?x4xbf16>
}

// -----

// Sigmoid attention takes the same loops: each visible key weighs
// sigmoid(s), from e^-|s| (no overflow; a hidden key's -inf gives 0),
// stored over the scores; no running maximum, so no rescaling of the
// accumulator; at the end the rows are not divided (the sum only says
// whether a row saw a key).
// CHECK-LABEL: func.func @sigmoid
// CHECK: scf.parallel
// CHECK: %[[ABS:.*]] = math.absf %{{.*}} : vector<4xf32>
// CHECK: %[[NEG:.*]] = arith.negf %[[ABS]] : vector<4xf32>
// CHECK: %[[NONNEG:.*]] = arith.cmpf oge
// CHECK: %[[NUM:.*]] = arith.select %[[NONNEG]]
// CHECK: %[[P:.*]] = arith.divf %[[NUM]], %{{.*}} : vector<4xf32>
// The weights go over the scores; a hidden key's is 0.
// CHECK: vector.store %[[P]]
// CHECK-NOT: arith.cmpf une
// CHECK: vector.fma
// The fix-up for NaN/Inf values reads only keys of nonzero weight (a hidden
// key, or one scored -inf, weighs 0; its value is not read).
// CHECK: arith.cmpi ne, %{{.*}}, %{{.*}} : i8
// CHECK: %[[FIXW:.*]] = memref.load %{{.*}} : memref<6x8xf32>
// CHECK: %[[WEIGHS:.*]] = arith.cmpf une, %[[FIXW]], %{{.*}} : f32
// CHECK: scf.if %[[WEIGHS]]
// CHECK: math.fma %[[FIXW]]
// A row's sum is 0 where it saw no key, NaN where a weight was.
// CHECK: arith.cmpf une
// CHECK-NOT: arith.divf
// CHECK: memref.store
func.func @sigmoid(%q: tensor<1x2x?x4xf32>, %init: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %o = attn.attention sigmoid
         ins(%q, %q, %q : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>)
         outs(%init : tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c = arith.cmpi ule, %j, %i : index
    attn.yield %c : i1
  }
  return %o : tensor<1x2x?x4xf32>
}
