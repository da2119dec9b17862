//===- Passes.td - raspc conversion passes -----------------*- tablegen -*-===//

#ifndef RASPC_CONVERSION_PASSES_TD
#define RASPC_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertSelectsToScans : Pass<"convert-selects-to-scans", "::mlir::func::FuncOp"> {
  let summary = "Aggregates and widths over index ranges and equal values in O(L), without the selector matrix";
  let description = [{
    Rewrites `attn.aggregate` and `attn.selector_width` whose selector is
    an `attn.select` of every key (`always`), of none (`never`), or
    comparing `indices` with `indices` (MLIRGen's `tensor.generate` of the
    position). Such a select chooses, for query q, a range of keys: [0, q)
    for `lt`, [0, q] for `le`, (q, L) for `gt`, [q, L) for `ge`, {q} for
    `eq`, all but q for `ne`. A width is the range's length; an aggregate
    reads running sums of its values (a prefix sum, added in key order as
    the dense lowering adds, and a suffix sum for ranges that end at L),
    computed once by an `scf.for`, and divides as the dense lowering does
    (`Conversion/Utils/AggregateMath.h`). O(L) time and memory instead of
    the [queries, keys] matrix that `convert-attn-to-linalg` builds; a
    select other ops still read stays for them.

    `eq` on integers (tokens, ints; not indices) groups the keys by value:
    one pass finds their least value and span; where the span is under
    4 L + 1024, one pass counts the keys (and sums their values, in key
    order) per value and each query reads its own value's bucket (none:
    count 0). A `where` predicate of the form `key == f(query)` (f reading
    the query, constants and outside values: shift_by's
    `key == query - k`) groups the same way, each query reading the bucket
    of f of its value (f's ops cloned per query).
    Otherwise the dense select and op run, cloned into the else
    branch of an `scf.if` and marked `raspc.dense_fallback`, which the
    patterns leave alone. Orderings (`<`) of other keys are not yet taken.

    ```mlir
    // Before
    %prev = attn.select %idx, %idx, le : tensor<?xi64>, tensor<?xi64>
    %frac = attn.aggregate mean %prev, %v : tensor<?xi1> -> tensor<?xf32> default 0.0
    // After (abridged)
    %sums = scf.for %i = %c0 to %n step %c1 iter_args(%t = %init, %s = %zero) {
      ...                                   // %t[i + 1] = %s + v[i]
    }
    %frac = tensor.generate %n {
    ^bb0(%q: index):
      ...                                   // %sums[q + 1] / (q + 1)
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def ConvertAttnToLinalg : Pass<"convert-attn-to-linalg", "::mlir::func::FuncOp"> {
  let summary = "Lower attn operations to linalg on tensors, by definition";
  let description = [{
    Rewrites every attn operation as the upstream operations that compute its
    definition directly, so that the upstream bufferization and loop
    lowering can take it from there:

    * a selector becomes a `tensor<?x?xi1>` of shape [queries, keys], built
      by a `linalg.generic` that evaluates the comparison or the inlined
      predicate region for every (query, key); `attn.and/or/not` are
      element-wise generics over it;
    * `attn.selector_width` and `attn.aggregate` are reductions over the
      key dimension (a count, and a sum divided by the count, with the
      declared default where nothing is selected);
    * `attn.attention` becomes scores (a reduction over the head
      dimension, with grouped-query heads read through `h floordiv g`), the
      inlined score and mask regions, the normalizer over the key dimension,
      and a reduction with the values. Fully masked queries produce zeros.

    This is the reference lowering: it materializes [queries, keys] tensors
    and is what tiled, fused lowerings are measured against. Attention with a
    `custom` normalizer is an error here: a pass from outside must have
    lowered it.

    ```mlir
    // Before
    %s = attn.select %k, %q, lt : tensor<?xi64>, tensor<?xi64>
    %w = attn.selector_width %s : tensor<?xi64>
    // After (abridged)
    %sel = linalg.generic {iterator_types = ["parallel", "parallel"]}
        ins(%k, %q : tensor<?xi64>, tensor<?xi64>) outs(%e : tensor<?x?xi1>) {
      ^bb0(%key: i64, %query: i64, %out: i1):
        %lt = arith.cmpi slt, %key, %query : i64
        linalg.yield %lt : i1
    } -> tensor<?x?xi1>
    %w = linalg.generic {iterator_types = ["parallel", "reduction"]}
        ins(%sel : tensor<?x?xi1>) outs(%zeros : tensor<?xi64>) { ... }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect"];
}

def FuseElementwiseOps : Pass<"fuse-elementwise-ops"> {
  let summary = "Fuse each elementwise linalg.generic into its only consumer";
  let description = [{
    Upstream's elementwise fusion (`linalg::populateElementwiseOpsFusionPatterns`):
    a `linalg.generic` on tensors whose loops are all parallel and whose
    result has one use, by another `linalg.generic` that reads it through a
    permutation, becomes part of that consumer (its body inlined, its
    operands the consumer's); fills and splat constants read as inputs
    become constants in the body. Producers with more users stay, so
    nothing is computed twice. Unlike upstream's
    `linalg-fuse-elementwise-ops`, reshapes are not propagated: a
    projection's bias, activation and rounding stay one rank-2 generic after
    the `linalg.matmul`, where `convert-matmul-to-gpu` takes them into the
    kernel's epilogue.

    ```mlir
    // Before: bias, then GELU, each its own loop nest over [T, 1024]
    %b = linalg.generic {...} ins(%p, %bias : tensor<?x1024xf32>, tensor<1024xf32>) ... {
      %s = arith.addf %in, %bi : f32
    }
    %g = linalg.generic {...} ins(%b : tensor<?x1024xf32>) ... { ... math.erf ... }
    // After: one generic, bias and GELU in one body
    %g = linalg.generic {...} ins(%p, %bias : tensor<?x1024xf32>, tensor<1024xf32>) ... {
      %s = arith.addf %in, %bi : f32
      ... math.erf ...
    }
    ```

    A fused body holds at most `max-body-ops` operations: each fusion
    copies the producer's body into the consumer's, so fusing a chain of n
    generics into one costs n^2 copies (a 1000-term sum took 6.7 s here);
    capped, it costs n times the cap, and a chain becomes a few loops of
    `max-body-ops` operations each instead of one.
  }];
  let options = [
    Option<"maxBodyOps", "max-body-ops", "unsigned", /*default=*/"64",
           "The most operations (terminator included) a fused body may hold">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def SinkTransposes : Pass<"sink-transposes"> {
  let summary = "Move transposes below the elementwise ops that read them";
  let description = [{
    A `linalg.generic` whose loops are all parallel, that writes its output
    as it is without reading it, and reads the result T of a
    `linalg.transpose` of X as it is (identity map) -- and perhaps by
    `tensor.extract` in its body, as a rotary embedding reads the partner
    element -- becomes the same generic over X's layout (loop k of the old
    one is loop p[k] of the new, p the permutation: other operands' maps,
    `linalg.index` and the extracts' indices follow), then a
    `linalg.transpose` of its result. The transpose moves past the
    elementwise op toward its consumers: after `heads(x @ w)` and a rotary
    embedding, it reaches the attention, whose GPU kernels read through
    transposes (`convert-attention-to-gpu-flash`), and is no copy at all.
    The old transpose is left to dead-code elimination.

    ```mlir
    // Before
    %t = linalg.transpose ins(%x : tensor<?x8x64xf32>) outs(%e : tensor<8x?x64xf32>) permutation = [1, 0, 2]
    %r = linalg.generic {indexing_maps = [(h, t, d) -> (h, t, d), (h, t, d) -> (h, t, d)], ...}
        ins(%t : tensor<8x?x64xf32>) outs(%e : tensor<8x?x64xf32>) {
      ... %h = linalg.index 0 ... %p = tensor.extract %t[%h, %i, %d2] ...
    }
    // After
    %r0 = linalg.generic {indexing_maps = [(t, h, d) -> (t, h, d), (t, h, d) -> (t, h, d)], ...}
        ins(%x : tensor<?x8x64xf32>) outs(%e2 : tensor<?x8x64xf32>) {
      ... %h = linalg.index 1 ... %p = tensor.extract %x[%i, %h, %d2] ...
    }
    %r = linalg.transpose ins(%r0 : tensor<?x8x64xf32>) outs(%e : tensor<8x?x64xf32>) permutation = [1, 0, 2]
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect"];
}

def ConvertAttentionToFlashLoops
    : Pass<"convert-attention-to-flash-loops", "::mlir::func::FuncOp"> {
  let summary = "Lower softmax and sigmoid attention to tiled online-softmax loops for CPUs";
  let description = [{
    Rewrites each `attn.attention softmax` (or `sigmoid`: each visible key
    weighing sigmoid(s), computed from e^-|s|, with no running maximum, no
    rescaling and no division at the end) on f32, f16 or bf16 tensors
    (static head counts and value feature size; arithmetic in f32 for all
    three, rounded once when the output is stored) into a parallel loop over
    (batch, head, query tile) tasks that never materializes the
    [queries, keys] scores:

    * keys and values are packed once per call in panels as wide as a GEMM
      register tile: keys transposed to [batch, key heads, key tile, panel,
      dim, key in panel] and padded to whole key tiles, values to [batch,
      key heads, panel, key, feature in panel] and padded to whole vectors,
      so each step of a GEMM reads one contiguous run of lines;
    * a task walks the key tiles. For each it computes the tile's scores
      with a register-tiled GEMM (`register-rows` x `register-vectors`
      vector accumulators that stay in registers over the head dimension),
      applies the score region and the mask to whole vectors of keys,
      updates the running row maximum and sum (online softmax), rescales
      the output accumulator and adds P.V with a second register-tiled GEMM;
    * the mask region is also evaluated over the whole (query tile, key
      tile) block by interval arithmetic: blocks where it can only be false
      are skipped (causal attention does about half the work; a sliding
      window, O(L . window)), blocks where it can only be true skip the
      per-key mask. Masks that read data (document ids from a 1-D tensor)
      get the same test from the ids' minimum and maximum over the block's
      queries and keys, scanned per block;
    * the softmax's exponentials use a short polynomial for arguments <= 0
      (exactly 0 for masked keys); `math.exp` in score regions becomes
      upstream's polynomial approximation (LLVM would call `expf` per lane).

    The tasks are an `scf.parallel`, which `convert-parallel-to-rasprt`
    turns into calls to the runtime's thread pool. Other attention
    (mean, sigmoid and linear normalizers, mixed element types) is left to
    `convert-attn-to-linalg`.

    ```mlir
    // Before
    %o = attn.attention softmax ins(%q, %k, %v : ...) outs(%init : ...) -> ... mask {...}
    // After (abridged)
    %kt = memref.alloc(...) {alignment = 64} : memref<?x?x?x?xf32>  // packed keys
    scf.parallel (%task) = (%c0) to (%tasks) step (%c1) {
      %scores = memref.alloca() {alignment = 64} : memref<96x64xf32>
      scf.for %kb = %c0 to %blocks step %c1 {
        scf.if %may_be_visible {             // block classification
          %acc:24 = scf.for %d = ... iter_args(...) -> (vector<16xf32>, ...) {
            %r = vector.fma %qd, %kd, %a : vector<16xf32>  ...
          }
          ...
        }
      }
    }
    %o = bufferization.to_tensor %out restrict writable : ...
    ```
  }];
  let options = [
    Option<"queryTile", "query-tile", "int64_t", /*default=*/"0",
           "Query rows per task (0: 16 register tiles' worth of rows)">,
    Option<"keyTile", "key-tile", "int64_t", /*default=*/"0",
           "Keys per block, a multiple of vector-width (0: 64)">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes per vector (0: the host's, 16 with AVX-512, else 8)">,
    Option<"registerRows", "register-rows", "int64_t", /*default=*/"0",
           "Rows of a GEMM register tile (0: 6)">,
    Option<"registerVectors", "register-vectors", "int64_t", /*default=*/"0",
           "Vectors per row of a GEMM register tile (0: 4 at 16 lanes, else 2, "
           "so that the accumulators fill 24 of 32 zmm or 12 of 16 ymm registers)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect"];
}

def SelectAttentionStrategy : Pass<"select-attention-strategy", "::mlir::func::FuncOp"> {
  let summary = "Choose the fast CPU path's tile sizes per target and shape";
  let description = [{
    Annotates each `attn.attention` that `convert-attention-to-flash-loops`
    will take with `raspc.flash_tiles`, the tile sizes that pass then uses
    (its own options, where set, still win):

    - `vector_width`: f32 lanes, from the target: 16 with AVX-512, else 8
      (option `vector-width`; 0: this machine's; raspc derives it from
      `--mcpu`);
    - `register_rows` x `register_vectors`: the GEMM register tile, 6 x 4
      vectors at 16 lanes (24 of 32 zmm), 6 x 2 at 8 (12 of 16 ymm);
    - `key_tile`: 64 keys (a block's K^T panel and P rows stay in L1 for head
      sizes up to 128), fewer when the sequence is statically shorter;
    - `query_tile`: 16 register tiles of rows, fewer when the queries are
      statically fewer (no work on padding rows).

    ```mlir
    // Before
    %o = attn.attention softmax ins(%q, %k, %v : tensor<1x8x?x64xf32>, ...) ...
    // After
    %o = attn.attention softmax ins(...) ... {raspc.flash_tiles = {key_tile = 64 : i64,
        query_tile = 96 : i64, register_rows = 6 : i64, register_vectors = 2 : i64,
        vector_width = 8 : i64}}
    ```
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes per vector (0: this machine's, 16 with AVX-512, else 8)">,
  ];
}

def ConvertRowReductionsToLoops : Pass<"convert-row-reductions-to-loops"> {
  let summary = "Norms and row reductions as parallel, vectorized row kernels on the CPU";
  let description = [{
    The CPU counterpart of `convert-row-reductions-to-gpu`, with the same
    groups (`Conversion/Utils/RowGroups.h`): row reductions (a mean, a
    variance, a sum of squares) and the all-parallel op that reads them per
    row (the normalization) become one `scf.parallel` over blocks of
    `row-block` rows. Per row, each reduction runs its body on vectors
    along the row (the combiner folding into a vector accumulator), then
    `vector.reduction` and the initial value give the row's value, kept in a
    register for the ops after it; the consumer then evaluates its body on
    vectors and stores them. Elements after the last whole vector run one at
    a time. The reference lowering walked each of a layer norm's three
    generics as scalar loops on one thread, with the row values stored
    between them. A reduction that no group takes is a kernel alone.

    Taken when every member's body can be evaluated on vectors (no
    `linalg.index`, `raspc::isVectorizable`) and every input is read along
    the row (its map ends in the last loop) or once per row (its map lacks
    it). The sums run in another order than a sequential loop's. Run on
    tensors, before bufferization.

    ```mlir
    // Before: a row mean, then x - mean
    %m = linalg.generic {iterator_types = ["parallel", "reduction"], ...}
        ins(%x : tensor<?x384xf32>) outs(%zeros : tensor<?xf32>) { addf ... }
    %y = linalg.generic {iterator_types = ["parallel", "parallel"], ...}
        ins(%x, %m : tensor<?x384xf32>, tensor<?xf32>) outs(%e : tensor<?x384xf32>) { subf ... }
    // After (abridged)
    scf.parallel (%task) = (%c0) to (%tasks) step (%c1) {
      scf.for %row = ... {
        %acc = scf.for %j = %c0 to %c384 step %c16 iter_args(%a = %zero) -> (vector<16xf32>) {
          %v = vector.load %x[%row, %j] : memref<?x384xf32, ...>, vector<16xf32>
          %s = arith.addf %a, %v : vector<16xf32>
          scf.yield %s : vector<16xf32>
        }
        %mean = vector.reduction <add>, %acc : vector<16xf32> into f32
        scf.for %j = %c0 to %c384 step %c16 {
          ...                                     // x - mean on vectors
          vector.store %d, %out[%row, %j]
        }
      }
    }
    ```
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes per vector (16 for AVX-512, 8 for AVX2); 0: this machine's">,
    Option<"rowBlock", "row-block", "int64_t", /*default=*/"8",
           "Rows per parallel task">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"];
}

def ConvertMatmulToTiledLoops
    : Pass<"convert-matmul-to-tiled-loops", "::mlir::ModuleOp"> {
  let summary = "The model's f32 matmuls as parallel, register-tiled vector GEMMs";
  let description = [{
    Rewrites `linalg.matmul` with f32, bf16 or f16 operands (widened to f32
    as they are read and packed) into an f32 result, 2-D, whose column count
    N is
    static and a multiple of the vector width (`x @ w` with the model's
    widths) into an `scf.parallel` over blocks of the result: `row-block`
    rows x one register tile's columns (64 with AVX-512; the last block may
    be narrower). A task fills its block with the accumulator (zeros for a
    matmul into a zero fill) and calls the block product, one private
    function of the module per block width (so LLVM compiles the
    micro-kernel once, not once per projection): `depth-block` steps of the
    reduction at a time, those rows of B copied to a contiguous stack panel
    that stays in L1 while the register-tile micro-kernel of the flash loops
    (`Conversion/Utils/RegisterTileGemm.h`: 6 rows x 4 vectors of
    accumulators with AVX-512, 6 x 2 with AVX2; B rows as vectors, A
    elements broadcast) streams every register tile of the block's rows
    over it.

    When the product's only use is a per-element `linalg.generic` (bias,
    activation, residual: what `fuse-elementwise-ops` made one body of)
    with an f32 result, whose other inputs are f32 and read as they are,
    along the columns, along the rows or once, the generic is the GEMM's
    epilogue: a last pass over each block, still in cache, evaluates its
    body on vectors (exp, erf and tanh as upstream's polynomials) and the
    result replaces the generic's. Other matmuls (N not a multiple of the
    width, other types) stay for `convert-linalg-to-loops`.

    When B is a `linalg.transpose` of W (`linear(x, w, b)` with nn.Linear's
    [out, in] weights), the GEMM reads W as it is: the panel is filled by
    transposing squares of one vector width (shuffles), and the block
    product is its own function (`..._t`). A transpose nothing else reads
    is erased: no transposed copy of the weights is made at each call.

    When W is an argument of its function (a model's weight), the matmul
    first asks the runtime for W's panels packed once (`rasprt_gemm_panels`,
    once per call, outside the tasks): blocks of the register tile's
    columns, each [K, width] in f32, which a host that keeps its weights
    across calls has the runtime make at the first call
    (`rasprt_panel_cache`, docs/abi.md). Where they exist (a non-empty
    buffer), the block product reads each depth block's rows from them in
    place of filling its stack panel.

    ```mlir
    // Before
    %c = linalg.matmul ins(%x, %w : tensor<?x384xf32>, tensor<384x384xf32>)
                       outs(%zero : tensor<?x384xf32>) -> tensor<?x384xf32>
    // After (abridged)
    %out = memref.alloc(%m) : memref<?x384xf32>
    scf.parallel (%task) = (%c0) to (%tasks) step (%c1) {
      ...                                       // the block := zeros
      func.call @raspc_gemm_block_w16_c64_k128(%x, %w, %out, %r0, %c0, %rows, %c384)
    }
    %c = bufferization.to_tensor %out restrict writable
    ...
    func.func private @raspc_gemm_block_w16_c64_k128(...) {
      %panel = memref.alloca() {alignment = 64} : memref<128x64xf32>
      scf.for %k0 = %c0 to %depth step %c128 {
        ...                                     // %panel := w[k0 .. k0 + 128, block's columns]
        scf.for %row0 = ... step %c6 {          // register tiles of rows
          %acc:24 = scf.for %k = %c0 to %steps step %c1 iter_args(...) {
            %b0 = vector.load %panel[%k, %c0] : memref<128x64xf32>, vector<16xf32>
            %a0 = vector.broadcast (memref.load %x[%row0, %k0 + %k]) : f32 to vector<16xf32>
            %s00 = vector.fma %a0, %b0, %acc#0 : vector<16xf32>
            ...
          }
          vector.store %acc#0, %out[%row0, %col0] ...
        }
      }
    }
    ```
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes per vector (16 for AVX-512, 8 for AVX2); 0: this machine's">,
    Option<"rowBlock", "row-block", "int64_t", /*default=*/"48",
           "Rows of the result per task (a multiple of the register tile's 6)">,
    Option<"depthBlock", "depth-block", "int64_t", /*default=*/"128",
           "Steps of the reduction per pass over a task's rows: the rows of B "
           "copied to a stack panel (128 x 64 f32: 32 KiB, an L1)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"];
}

def ConvertLinearAttentionToLoops
    : Pass<"convert-linear-attention-to-loops", "::mlir::func::FuncOp"> {
  let summary = "Linear attention in linear time, without the [queries, keys] matrix";
  let description = [{
    Rewrites `attn.attention linear` (f32, static head counts and head
    sizes) with no mask, a mask that is always true, or exactly the causal
    mask `key <= query`, using

    ```
    out_i = phi(q_i)^T S / (phi(q_i) . z),  S = sum_j phi(k_j) v_j^T,  z = sum_j phi(k_j)
    ```

    Without a mask S and z sum every key once and every query reads them;
    causal, they are running sums updated before each query answers (a
    scan). One task per (batch, head) of an `scf.parallel`; S [D, E] and
    z [D] are stack buffers, updated and read with 8-lane vectors along E
    (padded). Work O(L.D.E) and memory O(D.E) per head
    instead of O(L^2.D) and O(L^2). A query whose denominator is 0 gets
    zeros, as in the reference lowering. Other masks stay for
    `convert-attn-to-linalg`.

    ```mlir
    // Before
    %o = attn.attention linear feature_map(elu_plus_one) ins(%q, %k, %v : ...) outs(%init : ...) -> ... mask {
      ... arith.cmpi sle, %key, %query ...
    }
    // After (abridged)
    scf.parallel (%bh) = ... {
      %S = memref.alloca() : memref<8x8xf32>
      scf.for %i = %c0 to %queries step %c1 {
        scf.if %has_key { ...S += phi(k_i) v_i^T... }   // then out_i from S and z
      }
    }
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect"];
}

def ExportEntryPoints : Pass<"export-entry-points", "::mlir::ModuleOp"> {
  let summary = "Export a program's C interfaces and nothing else";
  let description = [{
    Each public function with a body gets a C interface
    (`llvm.emit_c_interface`: `_mlir_ciface_NAME`, the ABI of
    docs/abi.md), and every function with a body internal linkage, its own
    and the helpers the lowering added (a GEMM's block product, parallel
    bodies). Objects of two programs then link into one host without
    clashing, and LLVM is free to rewrite the function behind the interface
    (its expanded descriptors become fewer arguments), which cut a quarter
    second of MiniLM-L6's code generation. Declarations are left alone.
    Runs before the conversion to the LLVM dialect, instead of upstream's
    `llvm-request-c-wrappers` (which also wrapped helpers and left them
    exported).

    ```mlir
    // Before
    func.func @model(%x: memref<?x64xf32>) { ... }
    func.func private @helper(%a: memref<?x?xf32>) { ... }
    // After
    func.func @model(%x: memref<?x64xf32>)
        attributes {llvm.emit_c_interface, llvm.linkage = #llvm.linkage<internal>} { ... }
    func.func private @helper(%a: memref<?x?xf32>)
        attributes {llvm.linkage = #llvm.linkage<internal>} { ... }
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def ConvertParallelToRasprt : Pass<"convert-parallel-to-rasprt", "::mlir::ModuleOp"> {
  let summary = "Run scf.parallel loops on the runtime's thread pool";
  let description = [{
    Outlines the body of every outermost one-dimensional `scf.parallel`
    (no reductions, on buffers) into a function
    `void body(int64_t begin, int64_t end, void *context)` that runs the
    iterations [begin, end), and replaces the loop by a call to
    `rasprt_parallel_for(count, 1, body, context)`. The values the body
    uses from outside travel in a stack-allocated context struct whose
    fields are their LLVM lowerings (memref descriptors, integers, floats);
    constants are cloned instead. Static `memref.alloca`s at the top of the
    body move to the function's entry, so each thread allocates its scratch
    once per chunk, not once per iteration. Loops whose bodies are the same
    but for what they capture (each layer of a model) share one function,
    so LLVM compiles it once: MiniLM-L6's LLVM IR halves.

    Runs after bufferization and before the conversion to LLVM.

    ```mlir
    // Before
    scf.parallel (%i) = (%c0) to (%n) step (%c1) {
      memref.store %x, %buf[%i] : memref<?xf32>
    }
    // After
    llvm.func @rasprt_parallel_for(i64, i64, !llvm.ptr, !llvm.ptr)
    %ctx = llvm.alloca ... // holds %buf's descriptor and %x
    %body = func.constant @f_parallel : (i64, i64, !llvm.ptr) -> ()
    %fn = builtin.unrealized_conversion_cast %body : (i64, i64, !llvm.ptr) -> () to !llvm.ptr
    llvm.call @rasprt_parallel_for(%count, %c1_i64, %fn, %ctx) : ...
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::scf::SCFDialect"];
}

def CloneSharedInits : Pass<"clone-shared-inits"> {
  let summary = "Give each destination its own fresh init before bufferization";
  let description = [{
    Where one `tensor.empty`, or one `linalg.fill` of a `tensor.empty`, is
    the destination (`outs`) of several destination-style ops (CSE merges
    the identical zero inits every reduction starts from), each of them gets
    a clone of it, made just before its user; the original keeps its reads
    (which then see it unwritten), or goes when it has none.

    One-Shot Bufferize would otherwise give all but one writer a copy of
    the shared tensor: one memcpy per use (1000 chained RASP aggregates made
    one per aggregate). A fresh fill bufferizes in place and costs what the
    copy did.

    ```mlir
    // Before
    %e = tensor.empty(%n) : tensor<?xf32>
    %z = linalg.fill ins(%zero : f32) outs(%e : tensor<?xf32>) -> tensor<?xf32>
    %a = linalg.generic ... outs(%z : tensor<?xf32>)
    %b = linalg.generic ... outs(%z : tensor<?xf32>)
    // After
    %e0 = tensor.empty(%n) : tensor<?xf32>
    %z0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<?xf32>) -> tensor<?xf32>
    %a = linalg.generic ... outs(%z0 : tensor<?xf32>)
    %e1 = tensor.empty(%n) : tensor<?xf32>
    %z1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<?xf32>) -> tensor<?xf32>
    %b = linalg.generic ... outs(%z1 : tensor<?xf32>)
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect"];
}

def SplitLongFunctions : Pass<"split-long-functions", "::mlir::ModuleOp"> {
  let summary = "Cut long functions into calls of functions of a bounded size";
  let description = [{
    Cuts the body of every function of at least `min-ops` operations
    (constants not counted) into consecutive parts of `part-ops`
    operations, moves each part into a private function (internal linkage,
    LLVM's `noinline`) and calls it in its place. What a part reads
    from before it becomes arguments, constants are cloned into it, and what
    later operations read from it are its results. Parts that are the same
    but for their arguments share one function.

    One-Shot Bufferize, buffer deallocation and LLVM's code generation each
    take more than linear time in the size of a function; 1000 chained RASP
    aggregates make one function of about 1000 operations. Functions of
    ordinary size (MiniLM-L6's is about 400) stay whole: small parts there
    cost more in LLVM than they save. Runs on tensors,
    just before bufferization (which then bufferizes across the calls,
    `bufferize-function-boundaries`), for the CPU target.

    ```mlir
    // Before (with min-ops=4 part-ops=2)
    func.func @main(%x: tensor<?xf32>) -> tensor<?xf32> {
      %a = linalg.generic ... ins(%x) ...
      %b = linalg.generic ... ins(%a) ...
      %c = linalg.generic ... ins(%b) ...
      %d = linalg.generic ... ins(%c) ...
      return %d : tensor<?xf32>
    }
    // After
    func.func @main(%x: tensor<?xf32>) -> tensor<?xf32> {
      %b = call @main_part(%x) : (tensor<?xf32>) -> tensor<?xf32>
      %d = call @main_part(%b) : (tensor<?xf32>) -> tensor<?xf32>
      return %d : tensor<?xf32>
    }
    func.func private @main_part(%x: tensor<?xf32>) -> tensor<?xf32>
        attributes {llvm.linkage = #llvm.linkage<internal>, passthrough = ["noinline"]} {
      %a = linalg.generic ... ins(%x) ...
      %b = linalg.generic ... ins(%a) ...
      return %b : tensor<?xf32>
    }
    ```
  }];
  let options = [
    Option<"minOps", "min-ops", "unsigned", /*default=*/"512",
           "Split only functions of at least this many operations">,
    Option<"partOps", "part-ops", "unsigned", /*default=*/"64",
           "Operations per part">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::LLVM::LLVMDialect"];
}

def OutlineLoopNests : Pass<"outline-loop-nests", "::mlir::ModuleOp"> {
  let summary = "Give each loop nest of a long function a function of its own";
  let description = [{
    In every function with at least `min-nests` top-level `scf.for` /
    `scf.while` loop nests, moves each of them into a private function
    (internal linkage, LLVM's `noinline`) and calls it there. The values a nest
    uses from outside become arguments, constants are cloned, and its
    results are the function's. Nests that are the same but for their
    arguments share one function.

    LLVM's code generation grows faster than linearly with the size of a
    function: 300 chained RASP aggregates (about 900 loop nests in one
    function) spent two thirds of their compile in machine code. Split,
    LLVM compiles a few small functions; the calls cost nothing next to a
    loop nest. Runs on buffers, after `convert-parallel-to-rasprt` (whose
    bodies are functions already) and before the conversion to LLVM.

    ```mlir
    // Before (with min-nests=2)
    func.func @main(%a: memref<?xf32>, %b: memref<?xf32>, %n: index) {
      scf.for %i = %c0 to %n step %c1 { ... %a ... }
      scf.for %i = %c0 to %n step %c1 { ... %b ... }
    }
    // After
    func.func @main(%a: memref<?xf32>, %b: memref<?xf32>, %n: index) {
      call @main_nest(%n, %a) : (index, memref<?xf32>) -> ()
      call @main_nest(%n, %b) : (index, memref<?xf32>) -> ()
    }
    func.func private @main_nest(%n: index, %x: memref<?xf32>)
        attributes {llvm.linkage = #llvm.linkage<internal>, passthrough = ["noinline"]} {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      scf.for %i = %c0 to %n step %c1 { ... %x ... }
      return
    }
    ```
  }];
  let options = [
    Option<"minNests", "min-nests", "unsigned", /*default=*/"16",
           "Outline only in functions with at least this many top-level "
           "loop nests (short functions compile fast as they are)">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::LLVM::LLVMDialect"];
}

def MergeGPUModules : Pass<"merge-gpu-modules", "::mlir::ModuleOp"> {
  let summary = "Put every outlined kernel into one gpu.module";
  let description = [{
    `gpu-kernel-outlining` makes one `gpu.module` per kernel. This pass moves
    all kernels into the first one (renamed `<module name>_kernels` when
    there are several) and points every `gpu.launch_func` at it, so that a
    program compiles to one PTX module: one file for `ptxas`, one module to
    load at run time, constants and helper functions shared.

    ```mlir
    // Before
    gpu.module @f_kernel { gpu.func @f_kernel(...) kernel {...} }
    gpu.module @f_kernel_0 { gpu.func @f_kernel_0(...) kernel {...} }
    gpu.launch_func @f_kernel_0::@f_kernel_0 ...
    // After
    gpu.module @f_kernels { gpu.func @f_kernel(...) kernel {...}
                            gpu.func @f_kernel_0(...) kernel {...} }
    gpu.launch_func @f_kernels::@f_kernel_0 ...
    ```
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def ConvertAttentionToGPUFlash
    : Pass<"convert-attention-to-gpu-flash", "::mlir::ModuleOp"> {
  let summary = "Lower softmax and sigmoid attention to flash kernels for NVIDIA GPUs (tensor cores for f16/bf16)";
  let description = [{
    Rewrites each `attn.attention softmax` (or `sigmoid`: below) on f16 or bf16 tensors (head size
    a multiple of 16, value size a multiple of 8, both at most 256; static
    head counts; mask and score regions of scalar `arith` / `math` ops,
    which may also read elements and sizes of tensors defined outside the
    attention -- a document mask's ids -- by `tensor.extract` / `tensor.dim`)
    into
    one `gpu.launch` in the FlashAttention-2 form, when `chip` has the
    m16n8k16 `mma.sync` (sm_80 and later; otherwise the pass does nothing):

    * a block of 128 threads (four warps) owns 128 query rows of one
      (batch, head) at head and value sizes up to 64, 64 above; one block
      per (batch, head, query block), all on grid x (y and z would cap
      heads and batch at 65535). Each warp keeps its rows of Q (two MMA
      tiles of 16, or one) in registers as A fragments; with two, each B
      fragment read from shared memory feeds two MMAs;
    * the block walks the keys in blocks of 64 (32 when two stages of 64
      would pass 96 KiB of shared memory), software pipelined over two
      stages: while a block is computed, the next travels into the other
      stage (`nvgpu.device_async_copy`, 16 bytes a copy where the operands'
      alignment, checked at run time, allows; element by element otherwise;
      coalesced; rows padded by 8 elements against bank conflicts); after a
      wait for its copies and a barrier each warp computes from the tiles (B
      operands by `nvgpu.ldmatrix`, transposed for the values): scores by
      `nvgpu.mma.sync` (m16n8k16, f16/bf16 operands, f32 accumulators),
      then the score region
      and the mask on each accumulator element, running row maxima and sums
      (the four lanes of a row combine theirs with `gpu.shuffle xor`), and
      P.V by a second set of MMAs whose A operand is the probabilities,
      packed from the score accumulators in place;
    * the mask is also evaluated over whole blocks by interval arithmetic
      (as in `convert-attention-to-flash-loops`): key blocks hidden from the
      block's rows are not loaded, those hidden from a warp's rows not
      computed by it, fully visible ones skip the per-key mask;
    * rows that saw no visible key get zeros; the output may be f32, f16 or
      bf16 (rounded once).

    Softmax attention on f32 tensors (head and value sizes at most 256 that
    runs of four floats per thread divide) takes the same pipeline without
    tensor cores (TF32 would change the results): T threads per query row
    (slices of at most 32 features of Q and of the accumulator in
    registers), 128 / T rows a block, key blocks of 32 (16 at large sizes);
    per key a thread's slice of the dot product from 16-byte shared loads
    (`vector.load`, broadcast across the warp) by `vector.fma`, summed over
    the row's threads by `gpu.shuffle xor`; the row's state is updated once
    per chunk of 8 keys, a loop.

    With `wgmma` on sm_90a, f16/bf16 attention whose head and value sizes
    are multiples of 64 (up to 256) takes warpgroup MMAs instead
    (FlashWgmmaKernel.cpp): 256 threads, two warpgroups of 64 query rows;
    Q copied into shared memory once; key blocks of 128 (64 where shared
    memory would pass 227 KiB) through the same two-stage pipeline, tiles
    in 128-byte swizzled layouts; per key block and warpgroup, S = Q.K^T as
    `nvvm.wgmma.mma_async` m64nNk16 (both operands by descriptor), the
    online softmax on S's C-fragment layout, then O += P.V as m64nDk16 with
    P from registers (inline PTX: NVVM's op has no register A) and V
    N-major; mask skipping decided per warpgroup (an MMA takes all 128
    threads).

    Operands made by a chain of `tensor.expand_shape` and `linalg.transpose`
    (a model's `heads`: [T, H D] to [1, H, T, D]) are read through strided
    views of the chain's source (`memref.expand_shape`, `memref.transpose`),
    and a result reshaped and transposed by single-use `tensor.collapse_shape`
    and `linalg.transpose` ops (`merge_heads`) is written through the inverse
    views into a buffer of the chain's final shape, which replaces the chain
    (its `tensor.dim`s become the sizes): the transposed copies are not
    made. Keys then sit H D elements apart in memory instead of D; the
    run-time check for 16-byte copies still holds.

    `attn.attention sigmoid` takes the same kernels with each visible key
    weighing `sigmoid(s)` as it is: no running maximum, no rescaling, no
    division at the end (the weights' sum only tells whether a row saw a
    key; a row that saw none gets zeros).

    Barriers and cp.async group commits and waits are calls to private
    declarations (`@raspc.deferred_gpu_barrier`, ...) until
    `convert-deferred-gpu-sync` runs after bufferization. Other attention is
    left to `convert-attn-to-linalg`. Run before it, on tensors.

    ```mlir
    // After (abridged)
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %blocks, %gy = %c1, %gz = %c1)
               threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
               dynamic_shared_memory_size %c36864_i32 {
      %shared = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      ...                                      // block 0 into stage 0
      %o:36 = scf.for %kb = %c0 to %kblocks step %c1 iter_args(...) {
        scf.if %next_visible {                 // block kb + 1 into the other stage
          %t = nvgpu.device_async_copy %k[...], %next_keys[%row, %feature], 8 {bypassL1} : ...
        }
        func.call @raspc.deferred_cp_async_commit() : () -> ()
        func.call @raspc.deferred_cp_async_wait(%c1_i32) : (i32) -> ()
        func.call @raspc.deferred_gpu_barrier() : () -> ()
        %keys = memref.view %shared[%stage_offset][] : ... to memref<64x72xbf16, ...>
        %b = nvgpu.ldmatrix %keys[%r, %c] {numTiles = 2 : i32, transpose = false} : ...
        %s = nvgpu.mma.sync (%a, %b, %c) {mmaShape = [16, 8, 16]} :
            (vector<4x2xbf16>, vector<2x2xbf16>, vector<2x2xf32>) -> vector<2x2xf32>
        ...
        %m, %valid = gpu.shuffle xor %x, %c1_i32, %c32_i32 : f32
        func.call @raspc.deferred_gpu_barrier() : () -> ()
      }
      scf.if %in_range { memref.store ... }
      gpu.terminator
    }
    ```
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_80\"",
           "The GPU the kernels are for (sm_XX[a]); below sm_80 nothing is rewritten">,
    Option<"rowTiles", "row-tiles", "unsigned", /*default=*/"0",
           "Tensor-core kernels: MMA tiles of 16 query rows per warp, 1 or 2 (0: 2 at "
           "head and value sizes up to 64, else 1); a tuning knob">,
    Option<"wgmma", "wgmma", "bool", /*default=*/"false",
           "f16/bf16 by warpgroup MMA where chip is sm_90a and head and value sizes are "
           "multiples of 64 (not yet timed on a GPU, so not the default)">,
    Option<"wgmmaOverlap", "wgmma-overlap", "bool", /*default=*/"true",
           "Warpgroup-MMA kernel: each key block's softmax under the MMAs of the block "
           "before it (FlashAttention-3's intra-warpgroup pipelining; three stages of tiles); "
           "not where the mask or score reads tensors (ptxas serializes the MMAs there)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::nvgpu::NVGPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"];
}

def ConvertLinearAttentionToGPU
    : Pass<"convert-linear-attention-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Linear attention in linear time on NVIDIA GPUs: two chunked kernels";
  let description = [{
    Rewrites each `attn.attention linear` on f32, f16 or bf16 tensors (static
    head counts, head and value sizes; no mask, a mask that is always true,
    or exactly the causal `key <= query`; head sizes whose tiles fit in the
    shared memory a block may have on the chip: 227 KiB on sm_90a, up to
    576 causal and 864 without a mask; 99 KiB from sm_80, up to 224 and 352;
    48 KiB before) into two `gpu.launch`es that
    compute, with `S = sum phi(k_j) v_j^T` and `z = sum phi(k_j)` over the
    keys query i sees,

    ```
    out_i = phi(q_i)^T S / (phi(q_i) . z)     (0 where the denominator is 0)
    ```

    in the chunked form: O(L.D.E) work, no [queries, keys] tensor (the
    reference lowering makes one). The positions are cut into ranges of
    whole chunks of 32, as many as give about 256 blocks (at least 4 chunks
    a range):

    * key sums: a block of 128 threads per (batch, key head, range, slice of
      32 value features) adds phi(k)^T v and phi(k) over the range's keys in
      shared memory and writes them to a global [ranges, D, E] buffer
      (causal: not for the last range, whose sums no one reads);
    * answers: a block per (batch, query head, range, value slice) starts
      S and z from the key sums of the ranges before its own (causal) or of
      all ranges, then per chunk of 32 queries: phi(Q) (and, causal, phi(K)
      and V of the same positions) into shared memory; causal,
      `A = phi(Q) phi(K)^T` with the keys after each query zeroed; each
      output from `phi(q) S + A V` over `phi(q) . z + sum(A)`; causal, the
      chunk's keys are added to S and z.

    A lane owns a value feature (a key, in A), a warp 8 of a chunk's rows;
    loads of features are FMAs' broadcasts. Operands and result go through
    strided views of a model's `heads` / `merge_heads` chains as in
    `convert-attention-to-gpu-flash`. Barriers are
    `@raspc.deferred_gpu_barrier` calls until `convert-deferred-gpu-sync`.
    Other linear attention is left to `convert-attn-to-linalg`. Run before
    it, on tensors.

    ```mlir
    // After (abridged): the answers kernel of a causal attention
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %blocks, ...) threads(%tx, ...) in (%sx = %c128, ...)
               dynamic_shared_memory_size %bytes {
      scf.for %r = %c0 to %range step %c1 { ... }       // S, z: the ranges before
      func.call @raspc.deferred_gpu_barrier() : () -> ()
      scf.for %chunk = %first to %last step %c1 {
        ... phi(Q), phi(K), V of the chunk into shared memory ...
        %dots:8 = scf.for %d = ... iter_args(...)        // A, 8 rows a warp
        %sums:16 = scf.for %d = ... iter_args(...)       // phi(q) S, phi(q) . z
        %more:16 = scf.for %j = ... iter_args(%sums...)  // + A V, + sum(A)
        memref.store %o, %out[%b, %h, %i, %e] : memref<?x?x?x?xf32, strided<...>>
        ... S += phi(K)^T V, z += phi(K) ...
      }
    }
    ```
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_80\"",
           "The GPU the kernels are for (sm_XX[a]): the shared memory a block may have">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::bufferization::BufferizationDialect", "::mlir::gpu::GPUDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"];
}

def ConvertRowReductionsToGPU : Pass<"convert-row-reductions-to-gpu"> {
  let summary = "Lower row reductions (norms' means and variances) to warp-per-row GPU kernels";
  let description = [{
    Rewrites each `linalg.generic` on tensors whose last loop is a
    reduction and whose other loops are parallel -- a reduction of each row
    into an f32 result indexed by the row's loops in order, every operand
    indexed by plain loop dimensions, the body folding one value per element
    into the result with `arith.addf`, `maximumf`, `minimumf`, `maxnumf` or
    `minnumf` -- into one `gpu.launch` with a warp per row, 8 rows a block:
    lane l evaluates the body for elements l, l + 32, ... of its row
    (coalesced loads), folds them with the combiner from its identity, five
    `gpu.shuffle xor` combine the lanes, and lane 0 folds in the initial
    value and stores. The reference lowering would give a row to one thread
    (uncoalesced, rows / 256 blocks). The sums run in another order than a
    sequential loop's.

    Norms are one kernel: an all-parallel `linalg.generic` (at least two
    loops, its output written as it is, operands through projected
    permutations, a scalar body) that reads such reductions per row (the
    operand indexed by its first n - 1 loops in order), which may read
    earlier ones per row in turn, is emitted with them when nothing else
    uses their results: per warp, each reduction in program order (its value
    in every lane after the butterflies, read from that register by the ops
    after it, not stored), then each lane evaluates and stores the consumer's
    elements l, l + 32, ... of the row. A layer norm (mean, variance,
    normalization) or a softmax (max, sum, division) becomes one launch.
    Run on tensors, before bufferization, after `convert-attn-to-linalg`.

    ```mlir
    // Before: a row mean
    %m = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                         iterator_types = ["parallel", "reduction"]}
        ins(%x : tensor<?x256xf32>) outs(%zeros : tensor<?xf32>) {
    ^bb0(%in: f32, %acc: f32):
      %d = arith.divf %in, %c256 : f32
      %s = arith.addf %acc, %d : f32
      linalg.yield %s : f32
    } -> tensor<?xf32>
    // After (abridged)
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %row_blocks, ...) threads(%tx, ...) in (%sx = %c256, ...) {
      scf.if %row_inside {
        %p = scf.for %j = %lane to %c256 step %c32 iter_args(%acc = %zero) -> (f32) {
          %in = memref.load %xbuf[%row, %j] ...
          %d = arith.divf %in, %c256 : f32
          %s = arith.addf %acc, %d : f32
          scf.yield %s : f32
        }
        %o, %valid = gpu.shuffle xor %p, %c16_i32, %c32_i32 : f32   // ... 8, 4, 2, 1
        scf.if %lane0 { memref.store ... }
      }
    }
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect", "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"];
}

def ConvertMatmulToGPU : Pass<"convert-matmul-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Lower matmuls to tiled GPU kernels (tensor cores for f16/bf16)";
  let description = [{
    Rewrites each 2-D `linalg.matmul` on tensors into an f32 accumulator
    whose operands are both f32, both f16 or both bf16 (a model's `x @ w`)
    into a `gpu.launch`, when `chip` is sm_80 or later (the kernels copy
    with cp.async; otherwise the pass does nothing). Grid = (M / 128, N / 128),
    rounded up: a block computes a 128 x 128 tile of the product and its
    threads keep their share in registers for the whole K loop, which moves
    through three shared-memory stages: the A and B tiles of step k + 2 are
    copied by `nvgpu.device_async_copy` (16 bytes a copy where the operands'
    alignment, checked at run time, allows; element by element otherwise;
    coalesced) while step k is computed, with one barrier per step; elements
    past M, N or K are zeros in the tiles. The arithmetic:

    * f16/bf16: tensor cores. 128 threads, 2 x 2 warps of 64 x 64, each as
      4 x 8 `nvgpu.mma.sync` m16n8k16 tiles with f32 accumulators; K 32 per
      step (tiles 128 x 40 and 32 x 136: rows padded by 8 elements against
      bank conflicts; 56 KiB, the runtime opts in beyond 48); A fragments by
      `nvgpu.ldmatrix` x4, B fragments by ldmatrix x2, transposed (B is
      [K, N], row major).
    * f16/bf16 with `wgmma` on sm_90a: warpgroup MMA. 256 threads, two
      warpgroups of 64 x 128, each an `nvvm.wgmma.mma_async` m64n128k16 per
      16 of K, operands read by the tensor cores from the shared tiles
      through matrix descriptors; K 64 per step; tiles in the 128-byte
      swizzled layouts (A K-major, B N-major in two panels of 64 columns),
      stages 1024-aligned; `nvvm.fence.proxy` (async.shared) before the
      barrier that shows a stage, wgmma fence / commit around a step's four
      MMAs, then `wait_group 1`: a step's MMAs run on while the next step's
      tiles land (four stages, 128 KiB, copies two steps ahead; wait 0 after
      the loop). With `wgmma-overlap=0`, wait 0 each step and three stages
      (97 KiB).
    * f32: FMAs (no TF32: the results stay f32 products). 256 threads of
      8 x 8 results each (rows 4 ty + {0..3} and 64 more, columns likewise);
      K 16 per step (A rows padded to 20 floats against bank conflicts;
      54 KiB); per k a thread reads 8 values of A and two
      16-byte runs of B (`vector.load`) for 64 `vector.fma` lanes.

    The accumulator's initial value is added when it is not a zero fill.
    When the product's only use is a `linalg.generic` that finishes it
    element by element -- all loops parallel, the product read as it is,
    its other operands through projected permutations (a bias by column, a
    residual), its output's old value unread, a body of scalar arithmetic
    and `linalg.index` -- that generic is the kernel's epilogue: its body
    runs on each accumulator before the store (loading the other operands'
    elements), the kernel stores its result type (a rounding to f16/bf16,
    a bias and activation, a residual) and replaces it, and the launch goes
    where the generic was. Run `fuse-elementwise-ops` first to make a chain
    of such generics one.

    Products of one A share one launch (a layer's q, k and v projections)
    when every other operand -- B, a non-zero accumulator, the epilogue's
    inputs and the values its body uses -- is computed before the first of
    their ops: the grid's column blocks are the products' side by side, a
    block picks its product's B and N by selects before the K loop and
    stores through an `scf.index_switch` on its product. An epilogue that
    reads two products of one A at the same element (SwiGLU's
    `silu(x @ wg) * (x @ wu)`; same B type, zero accumulators, each read
    only there) gets one kernel computing both in its tiles: 64 columns of
    each per block, interleaved so that each thread holds both at an
    element (by 8 columns for the tensor-core forms, 64 for FMAs); the grid
    has N / 64 column blocks.
    Barriers and cp.async group commits and waits are calls to private
    declarations until `convert-deferred-gpu-sync` runs after bufferization.
    Run on tensors, before bufferization.

    ```mlir
    // Before
    %p = linalg.matmul ins(%x, %w : tensor<?x512xbf16>, tensor<512x512xbf16>)
                       outs(%zeros : tensor<?x512xf32>) -> tensor<?x512xf32>
    // After (abridged)
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %mblocks, %gz = %c1)
               threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
               dynamic_shared_memory_size %c56832_i32 {
      ...                                      // steps 0 and 1 into stages 0, 1
      %acc:32 = scf.for %kt = %c0 to %ksteps step %c1 iter_args(...) {
        func.call @raspc.deferred_cp_async_wait(%c1_i32) : (i32) -> ()
        func.call @raspc.deferred_gpu_barrier() : () -> ()
        scf.if %ahead_in_range {               // step kt + 2 into stage (kt + 2) % 3
          %t = nvgpu.device_async_copy %x[...], %a_tile[%row, %col], 8 {bypassL1} : ...
        }
        func.call @raspc.deferred_cp_async_commit() : () -> ()
        %a = nvgpu.ldmatrix %a_tile[...] {numTiles = 4 : i32, transpose = false} : ...
        %b = nvgpu.ldmatrix %b_tile[...] {numTiles = 2 : i32, transpose = true} : ...
        %d = nvgpu.mma.sync (%a, %b, %c) {mmaShape = [16, 8, 16]} : ...
      }
      scf.if %row_inside { scf.if %column_inside { memref.store ... } }
      gpu.terminator
    }
    ```
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_80\"",
           "The GPU the kernels are for (sm_XX[a]); below sm_80 nothing is rewritten">,
    Option<"wgmma", "wgmma", "bool", /*default=*/"false",
           "f16/bf16 by warpgroup MMA where chip is sm_90a (not yet timed on a GPU, so "
           "not the default)">,
    Option<"wgmmaOverlap", "wgmma-overlap", "bool", /*default=*/"true",
           "Warpgroup-MMA kernel: a K step's MMAs run on while the next step's tiles land "
           "(four stages, 128 KiB: one block per SM); false: each step's MMAs waited for "
           "(three stages, two blocks per SM)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::bufferization::BufferizationDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::memref::MemRefDialect",
    "::mlir::NVVM::NVVMDialect", "::mlir::nvgpu::NVGPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"];
}

def ConvertBF16MmaSyncToNVVM : Pass<"convert-bf16-mma-sync-to-nvvm"> {
  let summary = "Lower bf16 nvgpu.mma.sync to nvvm.mma.sync";
  let description = [{
    Upstream's `convert-nvgpu-to-nvvm` lowers `nvgpu.mma.sync` on f16, tf32,
    f64 and integer operands but rejects bf16, which `nvvm.mma.sync` and
    sm_80+ tensor cores take. This pass lowers the bf16 x bf16 -> f32 forms
    with the same register mapping (each row of two bf16 of an A or B
    fragment is one 32-bit register, each accumulator one f32) and leaves
    every other `nvgpu.mma.sync` to upstream. Run it before
    `convert-nvgpu-to-nvvm`.

    ```mlir
    // Before
    %d = nvgpu.mma.sync (%a, %b, %c) {mmaShape = [16, 8, 16]} :
        (vector<4x2xbf16>, vector<2x2xbf16>, vector<2x2xf32>) -> vector<2x2xf32>
    // After (abridged)
    %a0 = vector.bitcast %a_row0 : vector<2xbf16> to vector<1xi32>
    ...
    %s = nvvm.mma.sync A[%a0, %a1, %a2, %a3] B[%b0, %b1] C[%c0, %c1, %c2, %c3]
        {multiplicandAPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>, ...}
        : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
    %d = vector.from_elements ... : vector<2x2xf32>
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::NVVM::NVVMDialect",
                           "::mlir::vector::VectorDialect"];
}

def ConvertDeferredGPUSync : Pass<"convert-deferred-gpu-sync", "::mlir::ModuleOp"> {
  let summary = "Turn the sync calls of tensor-level GPU kernels into GPU ops";
  let description = [{
    `convert-attention-to-gpu-flash` builds its kernels on tensors, before
    bufferization, whose ownership-based deallocation rejects ops that
    declare no memory effects, as `gpu.barrier` and NVVM's cp.async group
    ops do (on purpose). So the kernels call private functions instead, and
    this pass, run after bufferization and before the launches are
    outlined, replaces each call and erases the declarations:

    - `@raspc.deferred_gpu_barrier()` becomes `gpu.barrier`;
    - `@raspc.deferred_cp_async_commit()` becomes
      `nvvm.cp.async.commit.group`;
    - `@raspc.deferred_cp_async_wait(%n)` (a constant i32) becomes
      `nvvm.cp.async.wait.group n`.

    A call outside a `gpu.launch` is an error.

    ```mlir
    // Before
    gpu.launch ... {
      func.call @raspc.deferred_cp_async_wait(%c1_i32) : (i32) -> ()
      func.call @raspc.deferred_gpu_barrier() : () -> ()
    }
    // After
    gpu.launch ... {
      nvvm.cp.async.wait.group 1
      gpu.barrier
    }
    ```
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::NVVM::NVVMDialect"];
}

def ConvertHostBuffersToGPU : Pass<"convert-host-buffers-to-gpu", "::mlir::func::FuncOp"> {
  let summary = "Put a host function's buffers in GPU memory";
  let description = [{
    On the CUDA path every buffer a kernel touches must be in device memory.
    After bufferization this pass rewrites the host function so that it is:

    - `memref.alloc` becomes `gpu.alloc` (device memory) and `memref.dealloc`
      becomes `gpu.dealloc`, in their synchronous forms: `gpu-async-region`
      then queues them with the kernels on the call's stream (upstream lowers
      them only in the asynchronous form);
    - `memref.copy` becomes `linalg.copy`, which the parallel-loop mapping
      turns into a kernel like any other linalg op.

    The host side then only passes buffers between kernels and reads sizes;
    the caller moves inputs and results (docs/abi.md). Host code that would
    touch data (`memref.load` / `store`), stack buffers and globals are
    rejected with an error at their location. Run it after bufferization and
    before `convert-linalg-to-parallel-loops`.

    ```mlir
    // Before
    %a = memref.alloc(%n) {alignment = 64 : i64} : memref<?xf32>
    memref.copy %arg0, %a : memref<?xf32> to memref<?xf32>
    memref.dealloc %a : memref<?xf32>
    // After
    %a = gpu.alloc (%n) : memref<?xf32>
    linalg.copy ins(%arg0 : memref<?xf32>) outs(%a : memref<?xf32>)
    gpu.dealloc %a : memref<?xf32>
    ```
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::linalg::LinalgDialect"];
}

def TileParallelLoopsForGPU : Pass<"tile-parallel-loops-for-gpu", "::mlir::func::FuncOp"> {
  let summary = "Split each outermost scf.parallel into blocks of threads";
  let description = [{
    `gpu-map-parallel-loops` maps an outermost `scf.parallel` to the grid and
    a nested one to the threads of a block; a loop nest without the inner
    loop launches one thread per block. This pass tiles every outermost
    parallel loop by upstream's `tileParallelLoop` (fixed inner bounds with
    an in-bounds check), so that each block runs up to `threads` threads.
    The budget goes to the innermost dimension first, where neighbouring
    iterations touch neighbouring memory (coalesced accesses): a dimension
    of static size `n` takes the next power of two >= `n` (at most what is
    left of the budget), a dynamic one takes the rest.

    ```mlir
    // Before
    scf.parallel (%i) = (%c0) to (%n) step (%c1) { ... }
    // After (threads = 256)
    scf.parallel (%i) = (%c0) to (%n) step (%c256) {
      scf.parallel (%j) = (%c0) to (%c256) step (%c1) {
        %k = affine.apply ...(%i, %j)
        scf.if %k < %n { ... }
      }
    }
    ```
  }];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"256",
           "Threads per block (a power of two)">,
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect", "::mlir::scf::SCFDialect"];
}

def ExpandBF16Conversions : Pass<"expand-bf16-conversions"> {
  let summary = "Lower bf16 extf/truncf to integer arithmetic";
  let description = [{
    LLVM lowers `fpext`/`fptrunc` between f32 and bf16 to calls of
    compiler-rt's `__extendbfsf2` / `__truncsfbf2` on x86 without AVX-512
    BF16, which neither the JIT nor a plain link provides. This applies
    upstream's bf16 expansion patterns (the part of `arith-expand` with
    `include-bf16`) and nothing else: `arith-expand` would also turn every
    `maxnumf` into compare-and-select, dropping its fast-math flags.

    ```mlir
    // Before
    %h = arith.truncf %x : f32 to bf16
    // After: bitcast to i32, round to nearest even, shift right by 16,
    // truncate to i16, bitcast to bf16
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

#endif // RASPC_CONVERSION_PASSES_TD
