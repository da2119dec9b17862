//===- MatmulToGPUMma.cpp - tensor-core matmul kernels ----------*- C++ -*-===//
//
// A model's projections (`x @ w` on f16/bf16, accumulated in f32) as one
// GPU kernel each, tiled the way tensor cores want: a block of four warps
// computes a 128 x 128 tile of the product, each warp a 64 x 64 quarter as
// 4 x 8 m16n8k16 MMAs whose f32 accumulators stay in registers for the
// whole K loop. K advances 32 at a time through three shared-memory stages
// filled by cp.async, two tiles ahead of the MMAs; A fragments come from
// the shared tiles by ldmatrix.x4, B fragments by ldmatrix.x2.trans (B is
// K-major: [K, N] row major).
//
// Fragment layouts are the PTX ISA's (see AttentionToGPUFlash.cpp); the
// x4 load gives A's registers in order: matrix r = rows 8 (r % 2), columns
// 8 (r / 2) of the 16 x 16 tile, lanes 8 r .. 8 r + 7 supplying its rows.
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/MatmulToGPUMma.h"
#include "Conversion/GPU/AttentionToGPUFlash.h"
#include "Conversion/GPU/SharedMemoryTiles.h"
#include "Conversion/Utils/LoopEmission.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"

namespace raspc {
#define GEN_PASS_DEF_CONVERTMATMULTOGPUMMA
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

constexpr int64_t kWarpSize = 32;
/// Warps of a block, as a grid over the block's tile.
constexpr int64_t kWarpsM = 2, kWarpsN = 2;
constexpr int64_t kThreads = kWarpsM * kWarpsN * kWarpSize;
constexpr int64_t kMmaM = 16, kMmaN = 8, kMmaK = 16;
/// One warp's part of the product: 4 x 8 MMA tiles, 128 f32 accumulators
/// per thread.
constexpr int64_t kWarpM = 64, kWarpN = 64;
constexpr int64_t kBlockM = kWarpsM * kWarpM, kBlockN = kWarpsN * kWarpN;
/// K per stage, and stages in flight: the tiles of step k + 2 are on their
/// way while step k is computed.
constexpr int64_t kBlockK = 32;
constexpr int64_t kStages = 3;
/// Padding after each row of a shared tile: the eight rows an ldmatrix
/// reads then start in different 16-byte bank groups.
constexpr int64_t kRowPadding = 8;

/// The linalg.generic that only rounds `op`'s result to f16 or bf16 (how
/// MLIRGen finishes a half-precision product), when that is its only use:
/// the kernel then stores the rounded values itself.
linalg::GenericOp roundingConsumer(linalg::MatmulOp op) {
  Value product = op.getResult(0);
  if (!product.hasOneUse())
    return {};
  auto generic = dyn_cast<linalg::GenericOp>(*product.getUsers().begin());
  if (!generic || generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1 ||
      generic.getDpsInputs()[0] != product ||
      !llvm::all_of(generic.getIndexingMapsArray(), [](AffineMap m) { return m.isIdentity(); }))
    return {};
  Block &body = generic.getRegion().front();
  auto trunc = dyn_cast<arith::TruncFOp>(body.front());
  if (!trunc || trunc.getIn() != body.getArgument(0) || trunc.getRoundingmodeAttr() ||
      body.getTerminator()->getOperand(0) != trunc.getResult() ||
      !isa<Float16Type, BFloat16Type>(trunc.getType()))
    return {};
  return generic;
}

class GPUMmaMatmulEmitter {
public:
  GPUMmaMatmulEmitter(ImplicitLocOpBuilder &b, linalg::MatmulOp op, Type outElement)
      : b(b), op(op), outElement(outElement),
        element(cast<RankedTensorType>(op.getInputs()[0].getType()).getElementType()) {}

  /// The kernel's launch; returns the product as a tensor of `outElement`.
  Value emit();

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value add(Value x, int64_t y) { return y == 0 ? x : add(x, idx(y)); }
  Value mul(Value x, int64_t y) { return arith::MulIOp::create(b, x, idx(y)); }
  Value less(Value x, Value y) { return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x, y); }
  Value both(Value x, Value y) { return arith::AndIOp::create(b, x, y); }

  void emitKernel(gpu::LaunchOp launch);
  /// Starts copying the A and B tiles of K step `kt` (if there is one) into
  /// stage `stage`, and closes a cp.async group, empty or not.
  void emitPrefetch(Value kt, Value stage);
  /// The warp's 4 x 8 MMAs over one K step, from the tiles of `stage`.
  SmallVector<Value> emitStep(ValueRange acc, Value stage);
  /// The accumulators into the result at the warp's tile, whose first row
  /// and column are `row0` and `col0`.
  void emitStore(ArrayRef<Value> acc, Value row0, Value col0);

  int64_t bytes(int64_t elements) const { return elements * element.getIntOrFloatBitWidth() / 8; }
  int64_t aTileBytes() const { return bytes(kBlockM * (kBlockK + kRowPadding)); }
  int64_t stageBytes() const {
    return aTileBytes() + bytes(kBlockK * (kBlockN + kRowPadding));
  }
  /// A stage's A tile (kBlockM rows of K) or B tile (kBlockK rows of N).
  Value tileOf(Value stage, bool isA) {
    Value offset = add(arith::MulIOp::create(b, stage, idx(stageBytes())), isA ? 0 : aTileBytes());
    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
    auto type = isA ? MemRefType::get({kBlockM, kBlockK + kRowPadding}, element,
                                      MemRefLayoutAttrInterface{}, workgroup)
                    : MemRefType::get({kBlockK, kBlockN + kRowPadding}, element,
                                      MemRefLayoutAttrInterface{}, workgroup);
    return memref::ViewOp::create(b, type, sharedBase, offset, ValueRange{});
  }

  ImplicitLocOpBuilder &b;
  linalg::MatmulOp op;
  Type outElement, element;

  // Whole-call values: the sizes, operands, the initial accumulator when it
  // is not zero, the result.
  Value m, n, k, lhs, rhs, init, out;
  std::optional<raspc::GlobalTileSource> lhsSource, rhsSource;
  // Per thread.
  Value tid, lane, warpRow0, warpCol0, blockRow0, blockCol0, kSteps, sharedBase;
};

void GPUMmaMatmulEmitter::emitPrefetch(Value kt, Value stage) {
  auto copy = [&] {
    Value k0 = mul(kt, kBlockK);
    raspc::emitTileCopy(b, tid, kThreads, *lhsSource, tileOf(stage, /*isA=*/true), kBlockM,
                        kBlockK, [&](Value row, Value column) {
                          Value i = add(blockRow0, row), kk = add(k0, column);
                          return raspc::TileElementSource{{i, kk}, both(less(i, m), less(kk, k))};
                        });
    raspc::emitTileCopy(b, tid, kThreads, *rhsSource, tileOf(stage, /*isA=*/false), kBlockK,
                        kBlockN, [&](Value row, Value column) {
                          Value kk = add(k0, row), j = add(blockCol0, column);
                          return raspc::TileElementSource{{kk, j}, both(less(kk, k), less(j, n))};
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

SmallVector<Value> GPUMmaMatmulEmitter::emitStep(ValueRange acc, Value stage) {
  constexpr int64_t tilesM = kWarpM / kMmaM, tilesN = kWarpN / kMmaN;
  Value aTile = tileOf(stage, /*isA=*/true), bTile = tileOf(stage, /*isA=*/false);
  // ldmatrix: lane l gives the address of row l % 8 of matrix l / 8.
  Value laneRow = arith::RemUIOp::create(b, lane, idx(16));
  Value laneColumn = mul(arith::DivUIOp::create(b, lane, idx(16)), 8);
  SmallVector<Value> next(acc.begin(), acc.end());
  for (int64_t kk = 0; kk < kBlockK; kk += kMmaK) {
    // A (16 x 16, row major): matrices (rows 0-7, 8-15) x (columns 0-7,
    // 8-15), column-major order -- lanes 0-15 give rows 0-15 at column 0,
    // lanes 16-31 the same rows at column 8.
    SmallVector<Value, 4> aFrags;
    for (int64_t i = 0; i < tilesM; ++i)
      aFrags.push_back(nvgpu::LdMatrixOp::create(
          b, VectorType::get({4, 2}, element), aTile,
          ValueRange{add(add(warpRow0, laneRow), i * kMmaM), add(laneColumn, kk)},
          /*transpose=*/false, /*numTiles=*/4));
    // B (16 x 8, K down): two 8 x 8 matrices one above the other, loaded
    // transposed; lanes 0-15 give rows (k) 0-15.
    for (int64_t j = 0; j < tilesN; ++j) {
      Value bFrag = nvgpu::LdMatrixOp::create(
          b, VectorType::get({2, 2}, element), bTile,
          ValueRange{add(laneRow, kk), add(warpCol0, j * kMmaN)}, /*transpose=*/true,
          /*numTiles=*/2);
      for (int64_t i = 0; i < tilesM; ++i) {
        Value &c = next[i * tilesN + j];
        c = nvgpu::MmaSyncOp::create(b, aFrags[i], bFrag, c,
                                     ArrayRef<int64_t>{kMmaM, kMmaN, kMmaK});
      }
    }
  }
  return next;
}

void GPUMmaMatmulEmitter::emitStore(ArrayRef<Value> acc, Value row0, Value col0) {
  constexpr int64_t tilesM = kWarpM / kMmaM, tilesN = kWarpN / kMmaN;
  // C fragments: element e of a tile at row g + 8 (e / 2), column
  // 2 t + e % 2, with g = lane / 4, t = lane % 4.
  Value g = arith::DivUIOp::create(b, lane, idx(4));
  Value twoT = mul(arith::RemUIOp::create(b, lane, idx(4)), 2);
  Type f32 = b.getF32Type();
  for (int64_t i = 0; i < tilesM; ++i)
    for (int64_t half = 0; half < 2; ++half) {
      Value row = add(add(row0, g), i * kMmaM + 8 * half);
      auto rowInside = scf::IfOp::create(b, less(row, m), /*withElseRegion=*/false);
      OpBuilder::InsertionGuard insertion(b);
      b.setInsertionPointToStart(rowInside.thenBlock());
      for (int64_t j = 0; j < tilesN; ++j)
        for (int64_t e = 0; e < 2; ++e) {
          Value column = add(add(col0, twoT), j * kMmaN + e);
          auto columnInside = scf::IfOp::create(b, less(column, n), /*withElseRegion=*/false);
          OpBuilder::InsertionGuard inner(b);
          b.setInsertionPointToStart(columnInside.thenBlock());
          Value v = vector::ExtractOp::create(b, acc[i * tilesN + j], ArrayRef<int64_t>{half, e});
          if (init)
            v = arith::AddFOp::create(
                b, v, memref::LoadOp::create(b, init, ValueRange{row, column}));
          if (outElement != f32)
            v = arith::TruncFOp::create(b, outElement, v);
          memref::StoreOp::create(b, v, out, ValueRange{row, column});
        }
    }
}

void GPUMmaMatmulEmitter::emitKernel(gpu::LaunchOp launch) {
  tid = launch.getThreadIds().x;
  Value warp = arith::DivUIOp::create(b, tid, idx(kWarpSize));
  lane = arith::RemUIOp::create(b, tid, idx(kWarpSize));
  blockRow0 = mul(launch.getBlockIds().y, kBlockM);
  blockCol0 = mul(launch.getBlockIds().x, kBlockN);
  // In the block's tiles.
  Value warpM = arith::DivUIOp::create(b, warp, idx(kWarpsN));
  Value warpN = arith::RemUIOp::create(b, warp, idx(kWarpsN));
  warpRow0 = mul(warpM, kWarpM);
  warpCol0 = mul(warpN, kWarpN);
  sharedBase = gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), MemRefLayoutAttrInterface{},
                         gpu::AddressSpaceAttr::get(b.getContext(),
                                                    gpu::AddressSpace::Workgroup)));
  lhsSource.emplace(b, lhs);
  rhsSource.emplace(b, rhs);
  kSteps = arith::CeilDivSIOp::create(b, k, idx(kBlockK));

  // Software pipeline, one barrier per step: steps 0 .. kStages - 2 are
  // started before the loop; step kt waits for its own group, and after the
  // barrier (everyone is past step kt - 1) refills step kt - 1's stage with
  // step kt + kStages - 1.
  for (int64_t s = 0; s + 1 < kStages; ++s)
    emitPrefetch(idx(s), idx(s));
  Value zero = arith::ConstantOp::create(
      b, DenseElementsAttr::get(VectorType::get({2, 2}, b.getF32Type()), 0.0f));
  SmallVector<Value> init((kWarpM / kMmaM) * (kWarpN / kMmaN), zero);
  auto loop = scf::ForOp::create(
      b, idx(0), kSteps, idx(1), init,
      [&](OpBuilder &nested, Location, Value kt, ValueRange acc) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
        raspc::emitDeferredSync(b, raspc::kDeferredCpAsyncWait, /*pending=*/kStages - 2);
        raspc::emitDeferredSync(b, raspc::kDeferredGPUBarrier);
        Value ahead = add(kt, kStages - 1);
        emitPrefetch(ahead, arith::RemUIOp::create(b, ahead, idx(kStages)));
        scf::YieldOp::create(b, emitStep(acc, arith::RemUIOp::create(b, kt, idx(kStages))));
      });
  SmallVector<Value> acc(loop.getResults().begin(), loop.getResults().end());
  emitStore(acc, add(blockRow0, warpRow0), add(blockCol0, warpCol0));
}

Value GPUMmaMatmulEmitter::emit() {
  Value a = op.getInputs()[0], bMatrix = op.getInputs()[1], c = op.getOutputs()[0];
  m = tensor::DimOp::create(b, a, 0);
  k = tensor::DimOp::create(b, a, 1);
  n = tensor::DimOp::create(b, bMatrix, 1);
  lhs = raspc::readOnlyBuffer(b, a);
  rhs = raspc::readOnlyBuffer(b, bMatrix);
  auto fill = c.getDefiningOp<linalg::FillOp>();
  if (!fill || !matchPattern(fill.value(), m_AnyZeroFloat()))
    init = raspc::readOnlyBuffer(b, c);

  auto resultType = cast<RankedTensorType>(c.getType()).clone(outElement);
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < 2; ++d)
    if (resultType.isDynamicDim(d))
      sizes.push_back(d == 0 ? m : n);
  out = memref::AllocOp::create(
      b, MemRefType::get(resultType.getShape(), outElement), sizes);

  Value gridX = arith::CeilDivSIOp::create(b, n, idx(kBlockN));
  Value gridY = arith::CeilDivSIOp::create(b, m, idx(kBlockM));
  Value sharedSize =
      arith::ConstantOp::create(b, b.getI32IntegerAttr(kStages * stageBytes()));
  auto launch = gpu::LaunchOp::create(b, gridX, gridY, idx(1), idx(kThreads), idx(1), idx(1),
                                      sharedSize);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    emitKernel(launch);
    gpu::TerminatorOp::create(b);
  }
  return bufferization::ToTensorOp::create(b, resultType, out, /*restrict=*/true,
                                           /*writable=*/true);
}

struct ConvertMatmulToGPUMma : raspc::impl::ConvertMatmulToGPUMmaBase<ConvertMatmulToGPUMma> {
  using ConvertMatmulToGPUMmaBase::ConvertMatmulToGPUMmaBase;

  void runOnOperation() override {
    if (!raspc::hasMmaSyncM16N8K16(chip))
      return;
    SmallVector<linalg::MatmulOp> ops;
    getOperation().walk([&](linalg::MatmulOp op) {
      if (raspc::isGPUMmaMatmul(op))
        ops.push_back(op);
    });
    if (!ops.empty())
      raspc::declareDeferredSync(getOperation());
    for (linalg::MatmulOp op : ops) {
      linalg::GenericOp rounding = roundingConsumer(op);
      Operation *replaced = rounding ? rounding.getOperation() : op.getOperation();
      Type outElement = getElementTypeOrSelf(replaced->getResult(0).getType());
      ImplicitLocOpBuilder b(op.getLoc(), op);
      Value result = GPUMmaMatmulEmitter(b, op, outElement).emit();
      replaced->getResult(0).replaceAllUsesWith(result);
      if (rounding)
        rounding.erase();
      op.erase();
    }
  }
};

} // namespace

bool raspc::isGPUMmaMatmul(linalg::MatmulOp op) {
  if (!op.hasPureTensorSemantics() || op.hasUserDefinedMaps())
    return false;
  auto a = cast<RankedTensorType>(op.getInputs()[0].getType());
  auto b = cast<RankedTensorType>(op.getInputs()[1].getType());
  auto c = cast<RankedTensorType>(op.getOutputs()[0].getType());
  return isa<Float16Type, BFloat16Type>(a.getElementType()) &&
         b.getElementType() == a.getElementType() && c.getElementType().isF32();
}
