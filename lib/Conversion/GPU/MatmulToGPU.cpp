//===- MatmulToGPU.cpp - tiled matmul kernels for NVIDIA GPUs ---*- C++ -*-===//
//
// A model's projections (`x @ w`) as GPU kernels: one launch for the
// products of one A (a layer's q, k and v projections: their column blocks
// side by side, so that the narrow k and v of grouped-query attention do
// not each launch a fraction of the GPU's SMs). A block computes a
// 128 x 128 tile of one product; its threads keep their share of it in
// registers for the whole K loop, while K advances through three
// shared-memory stages filled by cp.async two steps ahead of the
// arithmetic. The forms differ only in the arithmetic of a step:
//
// * f16/bf16 operands (f32 accumulator): tensor cores. Four warps, each a
//   64 x 64 quarter as 4 x 8 m16n8k16 MMAs; A fragments from the shared
//   tiles by ldmatrix.x4, B fragments by ldmatrix.x2.trans (B is K-major:
//   [K, N] row major). Fragment layouts are the PTX ISA's (see
//   AttentionToGPUFlash.cpp); the x4 load gives A's registers in order:
//   matrix r = rows 8 (r % 2), columns 8 (r / 2) of the 16 x 16 tile.
// * f32: FMAs. 16 x 16 threads, each an 8 x 8 part of the tile (rows
//   4 ty + {0..3} and 64 more, columns likewise by tx): per k, eight A
//   values (each shared by the sixteen threads of a row of the block, so
//   reads broadcast; A rows padded so that a warp's two rows of threads
//   read different banks) and two 16-byte rows of B for 64 FMAs.
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/MatmulToGPU.h"
#include "Conversion/GPU/MatmulProducts.h"
#include "Conversion/GPU/Chip.h"
#include "Conversion/GPU/AttentionToGPUFlash.h"
#include "Conversion/GPU/SharedMemoryTiles.h"
#include "Conversion/GPU/Wgmma.h"
#include "Conversion/Utils/GenericBodies.h"
#include "Conversion/Utils/LoopEmission.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"

namespace raspc {
#define GEN_PASS_DEF_CONVERTMATMULTOGPU
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

using raspc::kWarpSize;
/// The block's tile of the product.
constexpr int64_t kBlockM = 128, kBlockN = 128;

/// One output value of a thread: where in the block's tile, and the value.
struct TileOutput {
  Value column, value;
};
/// A thread's outputs in one row of the block's tile.
struct TileOutputRow {
  Value row;
  SmallVector<TileOutput> outputs;
};

/// The kernel the forms share: launch, operand checks, the pipelined K
/// loop, the guarded stores. A form supplies its threads, tile shapes and
/// the arithmetic of a step.
class MatmulKernelEmitter {
public:
  /// `products`: one or more of the same A, computed by one launch.
  MatmulKernelEmitter(ImplicitLocOpBuilder &b, ArrayRef<raspc::MatmulProduct> products,
                      int64_t threads, int64_t blockK, int64_t aPadding, int64_t bPadding)
      : b(b), products(products),
        element(getElementTypeOrSelf(products.front().op->getOperand(0).getType())),
        threads(threads), blockK(blockK), aPadding(aPadding), bPadding(bPadding) {}
  virtual ~MatmulKernelEmitter() = default;

  /// The kernel's launch; returns, per product, what replaces its
  /// replaced() op's result.
  SmallVector<Value> emit();

protected:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value add(Value x, int64_t y) { return y == 0 ? x : add(x, idx(y)); }
  Value mul(Value x, int64_t y) { return arith::MulIOp::create(b, x, idx(y)); }
  Value div(Value x, int64_t y) { return arith::DivUIOp::create(b, x, idx(y)); }
  Value rem(Value x, int64_t y) { return arith::RemUIOp::create(b, x, idx(y)); }
  Value less(Value x, Value y) { return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x, y); }
  Value both(Value x, Value y) { return arith::AndIOp::create(b, x, y); }

  /// Per-thread values the form needs, from the thread id `tid`.
  virtual void emitThreadSetup() = 0;
  /// The thread's accumulators, zero.
  virtual SmallVector<Value> initialAccumulators() = 0;
  /// One K step of the thread's arithmetic, from the shared tiles. With
  /// `mmasInFlight`, the step may return before its MMAs are done (at most
  /// that many steps' MMAs pending).
  virtual SmallVector<Value> emitStep(ValueRange acc, Value aTile, Value bTile) = 0;
  /// After the last step: the accumulators once every MMA is done.
  virtual SmallVector<Value> emitStepsDone(ValueRange acc) { return SmallVector<Value>(acc); }
  /// The thread's results, by row of the block's tile.
  virtual SmallVector<TileOutputRow> outputs(ArrayRef<Value> acc) = 0;
  /// With a partner product: its columns and the product's interleaved in
  /// the tile by runs of pairWidth() (the product's first run, the
  /// partner's, the product's second, ...), so that each thread holds both
  /// at the same element; pairStride() is how far apart in a row of
  /// outputs() such two are.
  virtual int64_t pairWidth() const = 0;
  virtual int64_t pairStride() const = 0;
  /// The shape of a stage's A tile (kBlockM rows of K) or B tile (blockK
  /// rows of N) in shared memory, and where element (row, column) of it
  /// goes: by default as it is, rows padded.
  virtual SmallVector<int64_t, 2> tileShape(bool isA) const {
    return isA ? SmallVector<int64_t, 2>{kBlockM, blockK + aPadding}
               : SmallVector<int64_t, 2>{blockK, kBlockN + bPadding};
  }
  virtual SmallVector<Value, 2> place(bool isA, Value row, Value column) { return {row, column}; }
  /// Emitted when this thread's copies into the stage about to be computed
  /// are complete, before the barrier that shows everyone's.
  virtual void emitTilesLanded() {}

  ImplicitLocOpBuilder &b;
  ArrayRef<raspc::MatmulProduct> products;
  Type element;
  /// Elements of padding after each row of the A and B tiles.
  const int64_t threads, blockK, aPadding, bPadding;
  /// Where the first stage starts, in bytes (a power of two >= 16).
  int64_t sharedAlignment = 16;
  /// Shared-memory stages, and the steps whose MMAs may still read theirs
  /// when the next step starts: the tiles of step k + stages - 1 -
  /// mmasInFlight are on their way while step k is computed.
  int64_t stages = 3, mmasInFlight = 0;
  Value tid;

private:
  /// What the launch needs of a product, made before it: B, its columns,
  /// the initial accumulator when it is not zero, the result's buffer, and
  /// its first column block (null for the first product; each product's
  /// column blocks follow those of the one before).
  struct ProductBuffers {
    Value rhs, n, init, out, firstColumnBlock;
    /// The partner's B, if any.
    Value partnerRhs;
  };
  bool paired() const { return bool(products.front().partner); }
  /// The product's columns a block computes: half the tile's when paired.
  int64_t blockColumns() const { return paired() ? kBlockN / 2 : kBlockN; }

  void emitKernel(gpu::LaunchOp launch);
  /// Which product the block computes (`productIdx`), its B and N, and its
  /// first column, from the block's column-block id.
  void emitProductOfBlock(Value columnBlock);
  /// Starts copying the A and B tiles of K step `kt` (if there is one) into
  /// stage `stage`, and closes a cp.async group, empty or not.
  void emitPrefetch(Value kt, Value stage);
  void emitStore(ArrayRef<Value> acc);
  /// Stores product `p`'s outputs `rows` (finished by its epilogue).
  void emitStore(size_t p, ArrayRef<TileOutputRow> rows);
  /// Product `p`'s epilogue on its element (i, j), `product` (and its
  /// partner's, `partner`).
  Value emitEpilogue(size_t p, Value product, Value partner, Value i, Value j);

  int64_t tileBytes(bool isA) const {
    SmallVector<int64_t, 2> shape = tileShape(isA);
    return shape[0] * shape[1] * element.getIntOrFloatBitWidth() / 8;
  }
  int64_t stageBytes() const { return tileBytes(true) + tileBytes(false); }
  /// A stage's A tile or B tile.
  Value tileOf(Value stage, bool isA);

  // Whole-call values: A and its sizes; per product, its buffers and those
  // of its epilogue's inputs (null for the product).
  Value m, k, lhs;
  SmallVector<ProductBuffers> buffers;
  SmallVector<SmallVector<Value>> epilogueInputs;
  // In the kernel: the block's product (null with one product), its B and
  // N.
  Value productIdx, rhs, n;
  std::optional<raspc::GlobalTileSource> lhsSource, rhsSource, partnerSource;
  Value blockRow0, blockCol0, kSteps, sharedBase;
  /// Bytes from the dynamic shared memory to the first stage.
  Value sharedPadding;
};

Value MatmulKernelEmitter::tileOf(Value stage, bool isA) {
  Value offset = add(add(arith::MulIOp::create(b, stage, idx(stageBytes())), sharedPadding),
                     isA ? 0 : tileBytes(true));
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  return memref::ViewOp::create(
      b, MemRefType::get(tileShape(isA), element, MemRefLayoutAttrInterface{}, workgroup),
      sharedBase, offset, ValueRange{});
}

void MatmulKernelEmitter::emitPrefetch(Value kt, Value stage) {
  auto copy = [&] {
    Value k0 = mul(kt, blockK);
    raspc::emitTileCopy(
        b, tid, threads, *lhsSource, tileOf(stage, /*isA=*/true), kBlockM, blockK,
        [&](Value row, Value column) {
          Value i = add(blockRow0, row), kk = add(k0, column);
          return raspc::TileElementSource{{i, kk}, both(less(i, m), less(kk, k))};
        },
        [&](Value row, Value column) { return place(/*isA=*/true, row, column); });
    Value bTile = tileOf(stage, /*isA=*/false);
    auto at = [&](Value row, Value column) {
      Value kk = add(k0, row), j = add(blockCol0, column);
      return raspc::TileElementSource{{kk, j}, both(less(kk, k), less(j, n))};
    };
    if (!paired()) {
      raspc::emitTileCopy(b, tid, threads, *rhsSource, bTile, blockK, kBlockN, at,
                          [&](Value row, Value column) { return place(false, row, column); });
      return;
    }
    // Run r of the product's columns goes to the tile's run 2 r, the
    // partner's to 2 r + 1.
    const int64_t width = pairWidth();
    const raspc::GlobalTileSource *sources[] = {&*rhsSource, &*partnerSource};
    for (auto [which, source] : llvm::enumerate(sources))
      raspc::emitTileCopy(b, tid, threads, *source, bTile, blockK, blockColumns(), at,
                          [&](Value row, Value column) {
                            Value run = mul(div(column, width), 2 * width);
                            return place(false, row,
                                         add(add(run, rem(column, width)), which * width));
                          });
  };
  auto inRange = scf::IfOp::create(b, less(kt, kSteps), /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard insertion(b);
    b.setInsertionPointToStart(inRange.thenBlock());
    copy();
  }
  raspc::emitDeferredSync(b, raspc::kDeferredCpAsyncCommit);
}

Value MatmulKernelEmitter::emitEpilogue(size_t p, Value product, Value partner, Value i,
                                        Value j) {
  linalg::GenericOp epilogue = products[p].epilogue;
  IRMapping values;
  raspc::emitBodyAt(
      b, epilogue, {i, j},
      [&](OpOperand &input, ArrayRef<Value> indices) -> Value {
        if (Value buffer = epilogueInputs[p][input.getOperandNumber()])
          return memref::LoadOp::create(b, buffer, indices);
        return input.get().getDefiningOp() == products[p].op ? product : partner;
      },
      values);
  return values.lookup(epilogue.getBody()->getTerminator()->getOperand(0));
}

void MatmulKernelEmitter::emitStore(size_t p, ArrayRef<TileOutputRow> rows) {
  const ProductBuffers &product = buffers[p];
  const int64_t stride = pairStride(), width = pairWidth();
  for (const TileOutputRow &row : rows) {
    Value i = add(blockRow0, row.row);
    auto rowInside = scf::IfOp::create(b, less(i, m), /*withElseRegion=*/false);
    OpBuilder::InsertionGuard insertion(b);
    b.setInsertionPointToStart(rowInside.thenBlock());
    for (auto [index, output] : llvm::enumerate(row.outputs)) {
      // Paired: the product's outputs, each with its partner's, `stride`
      // on; tile column c is the product's (c / 2 width) width + c % width.
      Value column = output.column, partner;
      if (paired()) {
        if (index / stride % 2)
          continue;
        partner = row.outputs[index + stride].value;
        column = add(mul(div(column, 2 * width), width), rem(column, width));
      }
      Value j = add(blockCol0, column);
      auto columnInside = scf::IfOp::create(b, less(j, n), /*withElseRegion=*/false);
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(columnInside.thenBlock());
      Value v = output.value;
      if (product.init)
        v = arith::AddFOp::create(b, v, memref::LoadOp::create(b, product.init, ValueRange{i, j}));
      if (products[p].epilogue)
        v = emitEpilogue(p, v, partner, i, j);
      memref::StoreOp::create(b, v, product.out, ValueRange{i, j});
    }
  }
}

void MatmulKernelEmitter::emitStore(ArrayRef<Value> acc) {
  SmallVector<TileOutputRow> rows = outputs(acc);
  if (!productIdx) {
    emitStore(0, rows);
    return;
  }
  // Each product's stores, epilogue and result: a switch on the block's.
  SmallVector<int64_t> cases = llvm::to_vector(llvm::seq<int64_t>(1, products.size()));
  auto which = scf::IndexSwitchOp::create(b, TypeRange{}, productIdx, cases, cases.size());
  auto emitCase = [&](Region &region, size_t p) {
    OpBuilder::InsertionGuard insertion(b);
    b.setInsertionPointToStart(&region.emplaceBlock());
    emitStore(p, rows);
    scf::YieldOp::create(b);
  };
  emitCase(which.getDefaultRegion(), 0);
  for (size_t p = 1; p < products.size(); ++p)
    emitCase(which.getCaseRegions()[p - 1], p);
}

void MatmulKernelEmitter::emitProductOfBlock(Value columnBlock) {
  rhs = buffers[0].rhs;
  n = buffers[0].n;
  if (products.size() > 1) {
    // The block's product is the last whose first column block it has
    // reached.
    productIdx = idx(0);
    Value first = idx(0);
    for (size_t p = 1; p < products.size(); ++p) {
      Value reached = arith::CmpIOp::create(b, arith::CmpIPredicate::uge, columnBlock,
                                            buffers[p].firstColumnBlock);
      productIdx = arith::SelectOp::create(b, reached, idx(p), productIdx);
      first = arith::SelectOp::create(b, reached, buffers[p].firstColumnBlock, first);
      rhs = arith::SelectOp::create(b, reached, buffers[p].rhs, rhs);
      n = arith::SelectOp::create(b, reached, buffers[p].n, n);
    }
    columnBlock = arith::SubIOp::create(b, columnBlock, first);
  }
  blockCol0 = mul(columnBlock, blockColumns());
}

void MatmulKernelEmitter::emitKernel(gpu::LaunchOp launch) {
  tid = launch.getThreadIds().x;
  blockRow0 = mul(launch.getBlockIds().x, kBlockM);
  emitProductOfBlock(launch.getBlockIds().y);
  raspc::DynamicSharedMemory shared = raspc::emitDynamicSharedMemory(b, sharedAlignment);
  sharedBase = shared.base;
  sharedPadding = shared.padding;
  emitThreadSetup();
  lhsSource.emplace(b, lhs);
  rhsSource.emplace(b, rhs);
  if (paired())
    partnerSource.emplace(b, buffers[0].partnerRhs);
  kSteps = arith::CeilDivSIOp::create(b, k, idx(blockK));

  // Software pipeline, one barrier per step: steps 0 .. ahead - 1 are
  // started before the loop; step kt waits for its own group, and after the
  // barrier (everyone is past step kt - 1, so every MMA of step
  // kt - 1 - mmasInFlight is done) refills that step's stage with step
  // kt + ahead.
  const int64_t ahead = stages - 1 - mmasInFlight;
  for (int64_t s = 0; s < ahead; ++s)
    emitPrefetch(idx(s), idx(s));
  auto loop = scf::ForOp::create(
      b, idx(0), kSteps, idx(1), initialAccumulators(),
      [&](OpBuilder &nested, Location, Value kt, ValueRange acc) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
        raspc::emitDeferredSync(b, raspc::kDeferredCpAsyncWait, /*pending=*/ahead - 1);
        emitTilesLanded();
        raspc::emitDeferredSync(b, raspc::kDeferredGPUBarrier);
        Value next = add(kt, ahead);
        emitPrefetch(next, rem(next, stages));
        Value stage = rem(kt, stages);
        scf::YieldOp::create(
            b, emitStep(acc, tileOf(stage, /*isA=*/true), tileOf(stage, /*isA=*/false)));
      });
  emitStore(emitStepsDone(loop.getResults()));
}

SmallVector<Value> MatmulKernelEmitter::emit() {
  Value a = products.front().op->getOperand(0);
  m = tensor::DimOp::create(b, a, 0);
  k = tensor::DimOp::create(b, a, 1);
  lhs = raspc::readOnlyBuffer(b, a);
  SmallVector<RankedTensorType> resultTypes;
  Value columnBlocks;
  for (raspc::MatmulProduct product : products) {
    ProductBuffers &buffer = buffers.emplace_back();
    Value bMatrix = product.op.getInputs()[1];
    buffer.n = tensor::DimOp::create(b, bMatrix, 1);
    buffer.rhs = raspc::readOnlyBuffer(b, bMatrix);
    // The kernel picks its B among the products': of one type.
    if (products.size() > 1)
      buffer.rhs = memref::CastOp::create(
          b, raspc::dynamicStridedType({ShapedType::kDynamic, ShapedType::kDynamic}, element),
          buffer.rhs);
    if (Value init = raspc::initialAccumulator(product.op))
      buffer.init = raspc::readOnlyBuffer(b, init);
    if (product.partner)
      buffer.partnerRhs = raspc::readOnlyBuffer(b, product.partner.getInputs()[1]);

    // The epilogue's inputs in memory; null for the products in registers.
    SmallVector<Value> &inputs = epilogueInputs.emplace_back();
    if (product.epilogue)
      for (OpOperand *input : product.epilogue.getDpsInputOperands()) {
        Operation *producer = input->get().getDefiningOp();
        bool computed =
            producer == product.op || (product.partner && producer == product.partner);
        inputs.push_back(computed ? Value() : raspc::readOnlyBuffer(b, input->get()));
      }
    resultTypes.push_back(cast<RankedTensorType>(product.replaced()->getResult(0).getType()));
    buffer.out = raspc::allocateBuffer(b, resultTypes.back(), {m, buffer.n});

    Value blocks = arith::CeilDivSIOp::create(b, buffer.n, idx(blockColumns()));
    buffer.firstColumnBlock = columnBlocks;
    columnBlocks = columnBlocks ? arith::AddIOp::create(b, columnBlocks, blocks) : blocks;
  }

  // Row blocks on x: M (the sequence) may pass grid y's 65535 blocks.
  Value gridX = arith::CeilDivSIOp::create(b, m, idx(kBlockM));
  Value sharedSize = arith::ConstantOp::create(
      b, b.getI32IntegerAttr(raspc::dynamicSharedBytes(stages * stageBytes(), sharedAlignment)));
  auto launch = gpu::LaunchOp::create(b, gridX, columnBlocks, idx(1), idx(threads), idx(1), idx(1),
                                      sharedSize);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    emitKernel(launch);
    gpu::TerminatorOp::create(b);
  }
  SmallVector<Value> results;
  for (auto [type, buffer] : llvm::zip(resultTypes, buffers))
    results.push_back(bufferization::ToTensorOp::create(b, type, buffer.out, /*restrict=*/true,
                                                        /*writable=*/true));
  return results;
}

/// f16/bf16 on the tensor cores: 2 x 2 warps of 64 x 64, K 32 per step,
/// rows of the tiles padded by 8 elements so that the eight rows an
/// ldmatrix reads start in different 16-byte bank groups.
class TensorCoreMatmulEmitter : public MatmulKernelEmitter {
public:
  TensorCoreMatmulEmitter(ImplicitLocOpBuilder &b, ArrayRef<raspc::MatmulProduct> products)
      : MatmulKernelEmitter(b, products, /*threads=*/4 * kWarpSize, /*blockK=*/32,
                            /*aPadding=*/8, /*bPadding=*/8) {}

private:
  static constexpr int64_t kWarpsN = 2, kWarpM = 64, kWarpN = 64;
  static constexpr int64_t kMmaM = 16, kMmaN = 8, kMmaK = 16;
  static constexpr int64_t kTilesM = kWarpM / kMmaM, kTilesN = kWarpN / kMmaN;

  void emitThreadSetup() override {
    Value warp = div(tid, kWarpSize);
    lane = rem(tid, kWarpSize);
    warpRow0 = mul(div(warp, kWarpsN), kWarpM);
    warpCol0 = mul(rem(warp, kWarpsN), kWarpN);
  }

  SmallVector<Value> initialAccumulators() override {
    Value zero = arith::ConstantOp::create(
        b, DenseElementsAttr::get(VectorType::get({2, 2}, b.getF32Type()), 0.0f));
    return SmallVector<Value>(kTilesM * kTilesN, zero);
  }

  SmallVector<Value> emitStep(ValueRange acc, Value aTile, Value bTile) override {
    // ldmatrix: lane l gives the address of row l % 8 of matrix l / 8.
    Value laneRow = rem(lane, 16);
    Value laneColumn = mul(div(lane, 16), 8);
    SmallVector<Value> next(acc.begin(), acc.end());
    for (int64_t kk = 0; kk < blockK; kk += kMmaK) {
      // A (16 x 16, row major): matrices (rows 0-7, 8-15) x (columns 0-7,
      // 8-15), column-major order -- lanes 0-15 give rows 0-15 at column 0,
      // lanes 16-31 the same rows at column 8.
      SmallVector<Value, 4> aFrags;
      for (int64_t i = 0; i < kTilesM; ++i)
        aFrags.push_back(nvgpu::LdMatrixOp::create(
            b, VectorType::get({4, 2}, element), aTile,
            ValueRange{add(add(warpRow0, laneRow), i * kMmaM), add(laneColumn, kk)},
            /*transpose=*/false, /*numTiles=*/4));
      // B (16 x 8, K down): two 8 x 8 matrices one above the other, loaded
      // transposed; lanes 0-15 give rows (k) 0-15.
      for (int64_t j = 0; j < kTilesN; ++j) {
        Value bFrag = nvgpu::LdMatrixOp::create(
            b, VectorType::get({2, 2}, element), bTile,
            ValueRange{add(laneRow, kk), add(warpCol0, j * kMmaN)}, /*transpose=*/true,
            /*numTiles=*/2);
        for (int64_t i = 0; i < kTilesM; ++i) {
          Value &c = next[i * kTilesN + j];
          c = nvgpu::MmaSyncOp::create(b, aFrags[i], bFrag, c,
                                       ArrayRef<int64_t>{kMmaM, kMmaN, kMmaK});
        }
      }
    }
    return next;
  }

  SmallVector<TileOutputRow> outputs(ArrayRef<Value> acc) override {
    // C fragments: element (h, e) of a tile at row g + 8 h, column
    // 2 t + e, with g = lane / 4, t = lane % 4.
    Value g = div(lane, 4);
    Value twoT = mul(rem(lane, 4), 2);
    SmallVector<TileOutputRow> rows;
    for (int64_t i = 0; i < kTilesM; ++i)
      for (int64_t h = 0; h < 2; ++h) {
        TileOutputRow &row = rows.emplace_back();
        row.row = add(add(warpRow0, g), i * kMmaM + 8 * h);
        for (int64_t j = 0; j < kTilesN; ++j)
          for (int64_t e = 0; e < 2; ++e)
            row.outputs.push_back(
                {add(add(warpCol0, twoT), j * kMmaN + e),
                 vector::ExtractOp::create(b, acc[i * kTilesN + j], ArrayRef<int64_t>{h, e})});
      }
    return rows;
  }

  int64_t pairWidth() const override { return kMmaN; }
  int64_t pairStride() const override { return 2; }

  Value lane, warpRow0, warpCol0;
};

/// f16/bf16 by warpgroup MMA (sm_90a): two warpgroups of 128 threads, each
/// 64 rows x 128 columns of the block's tile, one m64n128k16
/// wgmma.mma_async per 16 of K with both operands read by the tensor cores
/// straight from the shared tiles (no ldmatrix, no fragments in registers
/// but the accumulators). K 64 per step: a tile row of A is 128 bytes, one
/// 128-byte swizzle row. Tiles in the PTX ISA's canonical 128-byte swizzled
/// layouts: A K-major (rows of K as they are, chunks swizzled), B N-major
/// (B is [K, N] row major) as two panels of 64 columns, each blockK rows of
/// 128 bytes. Stages start 1024-aligned (the swizzle pattern's period).
class WgmmaMatmulEmitter : public MatmulKernelEmitter {
public:
  WgmmaMatmulEmitter(ImplicitLocOpBuilder &b, ArrayRef<raspc::MatmulProduct> products, bool overlap)
      : MatmulKernelEmitter(b, products, /*threads=*/2 * kGroupThreads, /*blockK=*/64,
                            /*aPadding=*/0, /*bPadding=*/0) {
    sharedAlignment = raspc::kSwizzleAtomBytes;
    // With `overlap`, a step's MMAs run on while the next step waits for its
    // tiles and issues its own: four stages (128 KiB), two steps of copies
    // ahead. Without, three stages (96 KiB: two blocks fit an SM).
    stages = overlap ? 4 : 3;
    mmasInFlight = overlap ? 1 : 0;
  }

private:
  static constexpr int64_t kGroupThreads = raspc::kWarpgroupThreads, kGroupRows = 64;
  /// blockK is one swizzle row of A; B panels are as wide.
  static constexpr int64_t kPanel = raspc::kSwizzleRowElements;

  SmallVector<int64_t, 2> tileShape(bool isA) const override {
    return isA ? SmallVector<int64_t, 2>{kBlockM, blockK}
               : SmallVector<int64_t, 2>{kBlockN / kPanel * blockK, kPanel};
  }

  SmallVector<Value, 2> place(bool isA, Value row, Value column) override {
    // A's 64 columns are one panel.
    return raspc::placeSwizzled128(b, row, column, isA ? kBlockM : blockK);
  }

  void emitTilesLanded() override { raspc::emitAsyncProxyFence(b); }

  void emitThreadSetup() override {
    groupRow0 = mul(div(tid, kGroupThreads), kGroupRows);
    Value inGroup = rem(tid, kGroupThreads);
    warpRow0 = add(groupRow0, mul(div(inGroup, kWarpSize), 16));
    lane = rem(tid, kWarpSize);
  }

  SmallVector<Value> initialAccumulators() override {
    return {LLVM::ZeroOp::create(b, raspc::wgmmaAccumulatorType(b.getContext(), kBlockN))};
  }

  SmallVector<Value> emitStep(ValueRange acc, Value aTile, Value bTile) override {
    Value aAddress = add(memref::ExtractAlignedPointerAsIndexOp::create(b, aTile),
                         mul(groupRow0, raspc::kSwizzleRowBytes));
    Value bAddress = memref::ExtractAlignedPointerAsIndexOp::create(b, bTile);
    auto type = isa<BFloat16Type>(element) ? NVVM::WGMMATypes::bf16 : NVVM::WGMMATypes::f16;
    // Zeros before the first step, else the previous step's MMAs' result,
    // maybe still in flight: no other instruction may touch it (ptxas would
    // serialize the MMAs), so it goes from MMA to MMA as it is.
    Value d = acc[0];
    NVVM::WgmmaFenceAlignedOp::create(b);
    for (int64_t kk = 0; kk < blockK / raspc::kWgmmaK; ++kk) {
      // A is K-major (one panel), B N-major in panels of 64 columns blockK
      // rows apart.
      d = NVVM::WgmmaMmaAsyncOp::create(
          b, d.getType(), d, raspc::emitKMajorDescriptor(b, aAddress, kBlockM, kk),
          raspc::emitMNMajorDescriptor(b, bAddress, blockK, kk),
          NVVM::MMAShapeAttr::get(b.getContext(), kGroupRows, kBlockN, raspc::kWgmmaK), type, type,
          NVVM::WGMMATypes::f32, NVVM::WGMMAScaleOut::one, NVVM::WGMMAScaleIn::one,
          NVVM::WGMMAScaleIn::one, NVVM::MMALayout::row, NVVM::MMALayout::row,
          /*satfinite=*/NVVM::MMAIntOverflowAttr());
    }
    NVVM::WgmmaGroupSyncAlignedOp::create(b);
    // This step's MMAs may run on (mmasInFlight 1: the previous step's are
    // done, so the barrier of the step after next lets their stage be
    // refilled; 0: the next barrier may).
    NVVM::WgmmaWaitGroupSyncOp::create(b, mmasInFlight);
    return {d};
  }

  SmallVector<Value> emitStepsDone(ValueRange acc) override {
    NVVM::WgmmaWaitGroupSyncOp::create(b, 0);
    return {raspc::emitAccumulatorFence(b, acc[0])};
  }

  SmallVector<TileOutputRow> outputs(ArrayRef<Value> acc) override {
    // The accumulator of m64nNk16, per warp of the group: 16 rows, laid out
    // as N / 8 C tiles of mma.m16n8: element 4 j + 2 h + e at row
    // g + 8 h, column 8 j + 2 t + e (g = lane / 4, t = lane % 4).
    Value g = div(lane, 4);
    Value twoT = mul(rem(lane, 4), 2);
    SmallVector<TileOutputRow> rows;
    for (int64_t h = 0; h < 2; ++h) {
      TileOutputRow &row = rows.emplace_back();
      row.row = add(add(warpRow0, g), 8 * h);
      for (int64_t j = 0; j < kBlockN / 8; ++j)
        for (int64_t e = 0; e < 2; ++e)
          row.outputs.push_back(
              {add(twoT, 8 * j + e),
               LLVM::ExtractValueOp::create(b, acc[0], ArrayRef<int64_t>{4 * j + 2 * h + e})});
    }
    return rows;
  }

  int64_t pairWidth() const override { return 8; }
  int64_t pairStride() const override { return 2; }

  Value groupRow0, warpRow0, lane;
};

/// f32 by FMAs: 16 x 16 threads of 8 x 8 results, K 16 per step. A is read
/// one value per row of threads: a warp's two rows of threads read rows 4
/// apart, which rows of 16 floats would put in the same bank, so A rows are
/// padded to 20 floats; B is read in whole 16-byte runs, unpadded.
class FmaMatmulEmitter : public MatmulKernelEmitter {
public:
  FmaMatmulEmitter(ImplicitLocOpBuilder &b, ArrayRef<raspc::MatmulProduct> products)
      : MatmulKernelEmitter(b, products, /*threads=*/256, /*blockK=*/16,
                            /*aPadding=*/4, /*bPadding=*/0) {}

private:
  /// Threads per row and column of the block; each holds 2 x 2 runs of
  /// 4 x 4 results, the runs 64 apart.
  static constexpr int64_t kThreadsN = 16, kRun = 4, kRunStride = 64;

  void emitThreadSetup() override {
    row0 = mul(div(tid, kThreadsN), kRun);
    col0 = mul(rem(tid, kThreadsN), kRun);
  }

  /// Accumulator of row r (0..7) and column run c (0, 1): 4 columns.
  static int64_t accIndex(int64_t r, int64_t c) { return 2 * r + c; }

  SmallVector<Value> initialAccumulators() override {
    Value zero = arith::ConstantOp::create(
        b, DenseElementsAttr::get(VectorType::get({kRun}, b.getF32Type()), 0.0f));
    return SmallVector<Value>(2 * kRun * 2, zero);
  }

  Value rowOf(int64_t r) { return add(row0, (r / kRun) * kRunStride + r % kRun); }

  SmallVector<Value> emitStep(ValueRange acc, Value aTile, Value bTile) override {
    SmallVector<Value> next(acc.begin(), acc.end());
    auto run = VectorType::get({kRun}, element);
    for (int64_t kk = 0; kk < blockK; ++kk) {
      Value kIdx = idx(kk);
      Value bRuns[2];
      for (int64_t c = 0; c < 2; ++c)
        bRuns[c] = vector::LoadOp::create(b, run, bTile, ValueRange{kIdx, add(col0, c * kRunStride)},
                                          /*nontemporal=*/false,
                                          llvm::MaybeAlign(raspc::kCopyVectorBytes));
      for (int64_t r = 0; r < 2 * kRun; ++r) {
        Value a = memref::LoadOp::create(b, aTile, ValueRange{rowOf(r), kIdx});
        Value splat = vector::BroadcastOp::create(b, run, a);
        for (int64_t c = 0; c < 2; ++c) {
          Value &sum = next[accIndex(r, c)];
          sum = vector::FMAOp::create(b, splat, bRuns[c], sum);
        }
      }
    }
    return next;
  }

  SmallVector<TileOutputRow> outputs(ArrayRef<Value> acc) override {
    SmallVector<TileOutputRow> rows;
    for (int64_t r = 0; r < 2 * kRun; ++r) {
      TileOutputRow &row = rows.emplace_back();
      row.row = rowOf(r);
      for (int64_t c = 0; c < 2; ++c)
        for (int64_t e = 0; e < kRun; ++e)
          row.outputs.push_back(
              {add(col0, c * kRunStride + e),
               vector::ExtractOp::create(b, acc[accIndex(r, c)], ArrayRef<int64_t>{e})});
    }
    return rows;
  }

  int64_t pairWidth() const override { return kRunStride; }
  int64_t pairStride() const override { return kRun; }

  Value row0, col0;
};

struct ConvertMatmulToGPU : raspc::impl::ConvertMatmulToGPUBase<ConvertMatmulToGPU> {
  using ConvertMatmulToGPUBase::ConvertMatmulToGPUBase;

  void getDependentDialects(DialectRegistry &registry) const override {
    ConvertMatmulToGPUBase::getDependentDialects(registry);
    raspc::addWgmmaMemoryEffects(registry);
  }

  void runOnOperation() override {
    // Both forms copy with cp.async, which sm_80 introduced with the MMA.
    if (!raspc::hasMmaSyncM16N8K16(chip))
      return;
    SmallVector<linalg::MatmulOp> ops;
    getOperation().walk([&](linalg::MatmulOp op) {
      if (raspc::isGPUMatmulCandidate(op))
        ops.push_back(op);
    });
    if (!ops.empty())
      raspc::declareDeferredSync(getOperation());
    DominanceInfo dominance(getOperation());
    for (SmallVector<raspc::MatmulProduct> &launch : raspc::planMatmulLaunches(ops, dominance)) {
      // A product alone may have been given its epilogue when another's
      // launch read that one's product from it (erasing it): look again.
      if (launch.size() == 1 && !launch.front().partner)
        launch.front().epilogue = raspc::matmulEpilogueOf(launch.front().op);
      // Every operand is computed by then (planMatmulLaunches), every use
      // of a result comes after.
      ImplicitLocOpBuilder b(launch.front().op.getLoc(), raspc::launchPoint(launch));
      SmallVector<Value> results;
      if (getElementTypeOrSelf(launch.front().op.getInputs()[0].getType()).isF32())
        results = FmaMatmulEmitter(b, launch).emit();
      else if (wgmma && raspc::hasWgmma(chip))
        results = WgmmaMatmulEmitter(b, launch, wgmmaOverlap).emit();
      else
        results = TensorCoreMatmulEmitter(b, launch).emit();
      for (auto [product, result] : llvm::zip(launch, results)) {
        product.replaced()->getResult(0).replaceAllUsesWith(result);
        if (product.epilogue)
          product.epilogue.erase();
        product.op.erase();
        if (product.partner)
          product.partner.erase();
      }
    }
  }
};

} // namespace

bool raspc::isGPUMatmulCandidate(linalg::MatmulOp op) {
  if (!op.hasPureTensorSemantics() || op.hasUserDefinedMaps())
    return false;
  Type a = getElementTypeOrSelf(op.getInputs()[0].getType());
  Type b = getElementTypeOrSelf(op.getInputs()[1].getType());
  Type c = getElementTypeOrSelf(op.getOutputs()[0].getType());
  if (b != a || !c.isF32())
    return false;
  return isa<Float32Type, Float16Type, BFloat16Type>(a);
}
