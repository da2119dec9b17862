//===- AttentionToGPUFlash.cpp - tensor-core flash attention kernels -*- C++ -*-===//
//
// Softmax attention as one GPU kernel in the FlashAttention-2 form: a thread
// block of four warps owns 128 query rows of one (batch, head), each warp 32
// of them as two MMA tiles of rows (64 and 16 at head sizes above 64, where
// two tiles' registers would not fit). The block walks the keys in blocks of
// 64 (32 for large heads), copying each block's keys and values into shared
// memory; from there each
// warp computes the block's scores with m16n8k16 tensor-core MMAs (f16/bf16
// operands, f32 accumulators), folds them into running row maxima and sums
// in registers and adds P.V with a second set of MMAs whose A operand is the
// probabilities, still in the registers the first MMA left them in. Nothing
// of size [queries, keys] exists, in memory or registers.
//
// B fragments come from the shared tiles by ldmatrix (transposed for V),
// which cp.async fills one key block ahead (the skeleton of FlashKernel.h).
// The pass also dispatches f32 attention to FlashFmaKernel.cpp and, with
// `wgmma` on sm_90a, f16/bf16 to FlashWgmmaKernel.cpp (warpgroup MMA).
//
// Fragment layouts are the PTX ISA's for mma.m16n8k16 (row.col), with
// g = lane / 4 and t = lane % 4:
//   A (16x16): registers {a0a1, a2a3, a4a5, a6a7} hold rows (g, g+8, g, g+8)
//              and columns (2t, 2t, 2t+8, 2t+8) + {0, 1};
//   B (16x8):  {b0b1, b2b3} hold rows (k) 2t + {0, 1} and 2t + 8 + {0, 1}
//              of column (n) g;
//   C (16x8):  c0, c1 at row g, columns 2t + {0, 1}; c2, c3 at row g + 8.
// Two adjacent C tiles of scores are, element for element, the A fragment of
// the P.V product over those 16 keys. The MMAs are nvgpu.mma.sync
// (upstream lowers f16; bf16 goes through convert-bf16-mma-sync-to-nvvm).
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/AttentionToGPUFlash.h"
#include "Conversion/GPU/Chip.h"
#include "Conversion/GPU/FlashKernel.h"
#include "Conversion/GPU/Wgmma.h"
#include "Conversion/AttentionToFlashLoops/MaskIntervals.h"
#include "Conversion/Utils/LoopEmission.h"

#include "Attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/Support/Regex.h"

#include <cmath>

namespace raspc {
#define GEN_PASS_DEF_CONVERTATTENTIONTOGPUFLASH
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;
using namespace mlir::attn;

namespace {

using raspc::kWarpSize;
constexpr int64_t kWarps = 4;
/// Rows of one MMA tile; a warp owns one or two of them (tilesM).
constexpr int64_t kWarpRows = 16;
/// Head sizes up to this take two MMA tiles of rows per warp: each B
/// fragment read from shared memory then feeds two MMAs (with one, reading
/// the fragments would bound the MMA rate). Larger heads keep one: their
/// Q fragments and accumulators would not fit in registers twice.
constexpr int64_t kMaxDimForTwoRowTiles = 64;
constexpr int64_t kMmaN = 8, kMmaK = 16;
/// Elements of padding after each row of a shared-memory tile: rows then
/// start 16 bytes apart modulo 128, so the eight rows a fragment load reads
/// fall in different banks.
constexpr int64_t kRowPadding = 8;
/// Q fragments and accumulators live in registers: at 256 the kernels spill
/// a little already.
constexpr int64_t kMaxDim = 256;

/// Whether a mask or score region is scalar arithmetic that can be cloned
/// into a kernel once per fragment element -- reading, perhaps, elements
/// and sizes of tensors from outside the attention (a document mask's ids):
/// the kernel then loads them from those tensors' buffers.
bool isScalarRegion(Region &region) {
  if (region.empty())
    return true;
  auto scalar = [](Type t) { return t.isIntOrIndexOrFloat(); };
  auto fromOutside = [&](Value tensor) {
    auto type = dyn_cast<RankedTensorType>(tensor.getType());
    return type && scalar(type.getElementType()) &&
           !region.getParentOp()->isAncestor(tensor.getParentRegion()->getParentOp());
  };
  return !region.front()
              .walk([&](Operation *op) {
                if (isa<tensor::ExtractOp, tensor::DimOp>(op) && fromOutside(op->getOperand(0)))
                  return WalkResult::advance();
                if (op->getNumRegions() != 0 ||
                    !isa<arith::ArithDialect, math::MathDialect, AttnDialect>(op->getDialect()) ||
                    !llvm::all_of(op->getOperandTypes(), scalar) ||
                    !llvm::all_of(op->getResultTypes(), scalar))
                  return WalkResult::interrupt();
                return WalkResult::advance();
              })
              .wasInterrupted();
}

/// Whether a mask or score region reads a tensor (a document mask's ids).
/// The overlapped warpgroup-MMA loop is then not used: with those loads
/// between the MMAs and their wait, ptxas serialized the MMAs (its C7513
/// report), which costs more than the overlap gains.
bool readsTensors(Region &region) {
  return !region.empty() && region.front()
                                .walk([](Operation *op) {
                                  return isa<tensor::ExtractOp, tensor::DimOp>(op)
                                             ? WalkResult::interrupt()
                                             : WalkResult::advance();
                                })
                                .wasInterrupted();
}

} // namespace

bool raspc::isGPUFlashCandidate(AttentionOp op) {
  if (op.getNormalizer() != Normalizer::softmax && op.getNormalizer() != Normalizer::sigmoid)
    return false;
  auto queryType = cast<RankedTensorType>(op.getQuery().getType());
  auto keyType = cast<RankedTensorType>(op.getKey().getType());
  auto valueType = cast<RankedTensorType>(op.getValue().getType());
  Type element = queryType.getElementType();
  if (!isa<Float32Type, Float16Type, BFloat16Type>(element) ||
      keyType.getElementType() != element || valueType.getElementType() != element)
    return false;
  if (!isa<Float32Type, Float16Type, BFloat16Type>(
          cast<RankedTensorType>(op.getInit().getType()).getElementType()))
    return false;
  if (!op.getScore().empty() && !op.getScore().front().getArgument(0).getType().isF32())
    return false;
  int64_t headDim = queryType.getDimSize(3), valueDim = valueType.getDimSize(3);
  if (element.isF32()) {
    if (!isFmaFlashShape(headDim, valueDim))
      return false;
  } else if (ShapedType::isDynamic(headDim) || headDim % kMmaK != 0 || headDim > kMaxDim ||
             ShapedType::isDynamic(valueDim) || valueDim % kMmaN != 0 || valueDim > kMaxDim) {
    return false;
  }
  if (queryType.isDynamicDim(1) || keyType.isDynamicDim(1))
    return false;
  return isScalarRegion(op.getMask()) && isScalarRegion(op.getScore());
}

namespace {

/// The running softmax state of a warp's thread: the maxima and partial
/// sums of its rows (g and g + 8 of each m-tile: row r is m-tile r / 2,
/// + 8 (r % 2)) and its share of the output tiles, four f32 per n-tile of
/// value features, m-tile after m-tile.
struct RowState {
  SmallVector<Value, 4> max, sum;
  SmallVector<Value> acc;

  SmallVector<Value> flatten() const {
    SmallVector<Value> values(max.begin(), max.end());
    llvm::append_range(values, sum);
    llvm::append_range(values, acc);
    return values;
  }
  static RowState unflatten(ValueRange values, int64_t rows) {
    RowState state;
    state.max.assign(values.begin(), values.begin() + rows);
    state.sum.assign(values.begin() + rows, values.begin() + 2 * rows);
    state.acc.assign(values.begin() + 2 * rows, values.end());
    return state;
  }
};

class GPUFlashEmitter : raspc::FlashKernelEmitter {
public:
  /// `rowTiles`: MMA tiles of rows per warp (0: by head size).
  GPUFlashEmitter(ImplicitLocOpBuilder &b, AttentionOp op, unsigned rowTiles)
      : FlashKernelEmitter(b, op, kWarps * kWarpSize, kRowPadding, /*keyBlock=*/64) {
    tilesM = rowTiles ? rowTiles
                      : (headDim <= kMaxDimForTwoRowTiles && valueDim <= kMaxDimForTwoRowTiles
                             ? 2
                             : 1);
  }
  using FlashKernelEmitter::emit;

private:
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, x, y); }

  int64_t blockRows() const override { return kWarps * kWarpRows * tilesM; }
  void emitThreadSetup() override;
  SmallVector<Value> initialState() override;
  SmallVector<Value> emitKeyBlock(ValueRange state, Value k0, Value keyTile,
                                  Value valueTile) override;
  void emitStore(ValueRange state) override;

  /// D = A.B + C for one m16n8k16 tile, fragments as the PTX ISA numbers
  /// their elements (8 of A, 4 of C and D; A rounded to the operand type),
  /// B as ldmatrix returns it (vector<2x2>).
  SmallVector<Value, 4> mma(ArrayRef<Value> a, Value bFrag, ArrayRef<Value> c);
  /// The warp's rows through one key block, `masked`: the block may hide
  /// some keys from them.
  RowState emitWarpBlock(const RowState &state, Value k0, Value keyTile, Value valueTile,
                         bool masked);
  RowState unflatten(ValueRange values) const {
    return RowState::unflatten(values, threadRows());
  }

  /// Rows per warp in MMA tiles, and the thread's rows (2 per tile).
  int64_t tilesM = 1;
  int64_t threadRows() const { return 2 * tilesM; }
  // Per thread: g = groupId and t = inGroup of the fragment layouts; twoT =
  // 2 t, the first column of the thread's element pairs; the warp's first
  // row and the thread's rows.
  Value lane, groupId, inGroup, twoT, row0;
  SmallVector<Value, 4> rows;
  /// Q as A fragments: [m-tile][k step].
  SmallVector<SmallVector<SmallVector<Value, 8>>> queryFrags;
};

SmallVector<Value, 4> GPUFlashEmitter::mma(ArrayRef<Value> a, Value bFrag,
                                           ArrayRef<Value> c) {
  auto operand = [&](ArrayRef<Value> elements, int64_t rows, Type type) {
    SmallVector<Value, 8> converted;
    for (Value v : elements)
      converted.push_back(v.getType() == type ? v : arith::TruncFOp::create(b, type, v));
    return vector::FromElementsOp::create(b, VectorType::get({rows, 2}, type), converted);
  };
  Value d = nvgpu::MmaSyncOp::create(b, operand(a, 4, element), bFrag, operand(c, 2, f32),
                                     ArrayRef<int64_t>{kWarpRows, kMmaN, kMmaK});
  SmallVector<Value, 4> result;
  for (int64_t i = 0; i < 4; ++i)
    result.push_back(vector::ExtractOp::create(b, d, ArrayRef<int64_t>{i / 2, i % 2}));
  return result;
}

/// One block of keys from `k0` (keyBlock of them, in the shared tiles) for
/// the thread's rows: scores by MMA, score region and mask (`masked`: the
/// block may hide some keys), online softmax, then P.V into the
/// accumulators.
RowState GPUFlashEmitter::emitWarpBlock(const RowState &state, Value k0, Value keyTile,
                                        Value valueTile, bool masked) {
  const int64_t scoreTiles = keyBlock / kMmaN;
  // ldmatrix.x2: lanes 0-7 give the rows of the first 8x8 matrix, 8-15 of
  // the second (the other lanes' addresses are not read).
  Value laneRow = arith::RemUIOp::create(b, lane, idx(8));
  Value secondMatrix = arith::RemUIOp::create(b, arith::DivUIOp::create(b, lane, idx(8)), idx(2));
  auto loadMatrices = [&](Value tile, Value row, Value column, bool transpose) {
    auto type = VectorType::get({2, 2}, element);
    return nvgpu::LdMatrixOp::create(b, type, tile, ValueRange{row, column}, transpose,
                                     /*numTiles=*/2);
  };

  // S = Q.K^T: B[k][n] = K[k0 + 8 tile + n][k]. In the key tile (keys
  // down, features across) that is two 8x8 matrices side by side, loaded as
  // they are: lane l gets row l / 4, columns 2 (l % 4) + {0, 1}.
  // scores[m][tile]: each B fragment serves every m-tile of the warp.
  SmallVector<SmallVector<SmallVector<Value, 4>>> scores(tilesM);
  for (int64_t tile = 0; tile < scoreTiles; ++tile) {
    Value row = add(laneRow, tile * kMmaN);
    SmallVector<SmallVector<Value, 4>> c(tilesM, SmallVector<Value, 4>(4, fconst(0.0)));
    for (int64_t step = 0; step < headDim / kMmaK; ++step) {
      Value column = add(mul(secondMatrix, 8), step * kMmaK);
      Value bFrag = loadMatrices(keyTile, row, column, /*transpose=*/false);
      for (int64_t m = 0; m < tilesM; ++m)
        c[m] = mma(queryFrags[m][step], bFrag, c[m]);
    }
    for (int64_t m = 0; m < tilesM; ++m)
      scores[m].push_back(c[m]);
  }

  // Online softmax per m-tile: its rows are the thread's rows 2 m, 2 m + 1.
  RowState next;
  SmallVector<Value, 4> alpha;
  for (int64_t m = 0; m < tilesM; ++m) {
    SmallVector<Value, 2> max{state.max[2 * m], state.max[2 * m + 1]};
    SmallVector<Value, 2> sum{state.sum[2 * m], state.sum[2 * m + 1]};
    llvm::append_range(alpha, emitFragmentSoftmax(scores[m], k0, twoT,
                                                  {rows[2 * m], rows[2 * m + 1]}, max, sum,
                                                  masked));
    llvm::append_range(next.max, max);
    llvm::append_range(next.sum, sum);
  }

  // O = O * alpha + P.V. The A fragment for keys [16 s, 16 s + 16) is score
  // tiles 2 s and 2 s + 1; B[k][n] = V[k0 + 16 s + k][8 tile + n]: in the
  // value tile (keys down) two 8x8 matrices one above the other, loaded
  // transposed (lane l gets rows 2 (l % 4) + {0, 1}, column l / 4).
  SmallVector<SmallVector<SmallVector<Value, 8>>> probs(tilesM);
  for (int64_t m = 0; m < tilesM; ++m)
    for (int64_t step = 0; step < keyBlock / kMmaK; ++step) {
      auto &lo = scores[m][2 * step], &hi = scores[m][2 * step + 1];
      probs[m].push_back({lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]});
    }
  const int64_t valueTiles = valueDim / kMmaN;
  next.acc.resize(state.acc.size());
  for (int64_t tile = 0; tile < valueTiles; ++tile) {
    SmallVector<SmallVector<Value, 4>> c(tilesM);
    for (int64_t m = 0; m < tilesM; ++m)
      for (int64_t e = 0; e < 4; ++e)
        c[m].push_back(
            fmul(state.acc[(m * valueTiles + tile) * 4 + e], alpha[2 * m + e / 2]));
    for (int64_t step = 0; step < keyBlock / kMmaK; ++step) {
      Value row = add(add(laneRow, mul(secondMatrix, 8)), step * kMmaK);
      Value bFrag = loadMatrices(valueTile, row, idx(tile * kMmaN), /*transpose=*/true);
      for (int64_t m = 0; m < tilesM; ++m)
        c[m] = mma(probs[m][step], bFrag, c[m]);
    }
    for (int64_t m = 0; m < tilesM; ++m)
      for (int64_t e = 0; e < 4; ++e)
        next.acc[(m * valueTiles + tile) * 4 + e] = c[m][e];
  }
  return next;
}

/// One warp's share of a key block: blocks the mask hides from the warp's
/// rows are skipped, blocks it shows entirely skip the per-key mask.
SmallVector<Value> GPUFlashEmitter::emitKeyBlock(ValueRange values, Value k0, Value keyTile,
                                                 Value valueTile) {
  RowState state = unflatten(values);
  auto exact = [&] {
    return emitWarpBlock(state, k0, keyTile, valueTile, /*masked=*/true).flatten();
  };
  auto unmasked = [&] {
    return emitWarpBlock(state, k0, keyTile, valueTile, /*masked=*/false).flatten();
  };
  if (op.getMask().empty())
    return unmasked();
  std::optional<raspc::BlockTruth> truth = raspc::emitBlockTruth(
      b, op.getMask(), bIdx, hIdx, row0, add(row0, kWarpRows * tilesM - 1), k0,
      add(k0, keyBlock - 1));
  if (!truth)
    return exact();
  auto visit = [&] {
    return SmallVector<Value>(
        scf::IfOp::create(b, truth->mayBeFalse, yieldingBranch(exact), yieldingBranch(unmasked))
            .getResults());
  };
  auto skip = [&] { return SmallVector<Value>(values); };
  return SmallVector<Value>(
      scf::IfOp::create(b, truth->mayBeTrue, yieldingBranch(visit), yieldingBranch(skip))
          .getResults());
}

void GPUFlashEmitter::emitThreadSetup() {
  Value warp = arith::DivUIOp::create(b, tid, idx(kWarpSize));
  lane = arith::RemUIOp::create(b, tid, idx(kWarpSize));
  groupId = arith::DivUIOp::create(b, lane, idx(4));
  inGroup = arith::RemUIOp::create(b, lane, idx(4));
  twoT = mul(inGroup, 2);
  row0 = add(blockRow0, mul(warp, kWarpRows * tilesM));
  for (int64_t r = 0; r < threadRows(); ++r)
    rows.push_back(add(add(row0, groupId), kWarpRows * (r / 2) + 8 * (r % 2)));

  // The warp's rows of Q as A fragments, loaded once. Rows past the end
  // read the last row; their results are never stored.
  Value lastQuery = arith::SubIOp::create(b, queries, idx(1));
  for (int64_t m = 0; m < tilesM; ++m) {
    Value clamped[2] = {arith::MinSIOp::create(b, rows[2 * m], lastQuery),
                        arith::MinSIOp::create(b, rows[2 * m + 1], lastQuery)};
    auto &frags = queryFrags.emplace_back();
    for (int64_t step = 0; step < headDim / kMmaK; ++step) {
      SmallVector<Value, 8> frag;
      for (int64_t reg = 0; reg < 4; ++reg) {
        Value row = clamped[reg % 2];
        Value feature = add(twoT, step * kMmaK + (reg / 2) * 8);
        for (int64_t j = 0; j < 2; ++j)
          frag.push_back(
              memref::LoadOp::create(b, query, ValueRange{bIdx, hIdx, row, add(feature, j)}));
      }
      frags.push_back(frag);
    }
  }
}

SmallVector<Value> GPUFlashEmitter::initialState() {
  RowState init;
  init.max.assign(threadRows(), negInf());
  init.sum.assign(threadRows(), fconst(0.0));
  init.acc.assign(tilesM * 4 * (valueDim / kMmaN), fconst(0.0));
  return init.flatten();
}

void GPUFlashEmitter::emitStore(ValueRange values) {
  // out = O / sum, zeros for a row that saw no key.
  RowState final = unflatten(values);
  Type outElement = cast<MemRefType>(out.getType()).getElementType();
  const int64_t valueTiles = valueDim / kMmaN;
  for (int64_t r = 0; r < threadRows(); ++r) {
    Value inverse = emitFragmentRowNormalizer(final.sum[r]);
    auto guard = scf::IfOp::create(b, less(rows[r], queries), /*withElseRegion=*/false);
    OpBuilder::InsertionGuard insertion(b);
    b.setInsertionPointToStart(guard.thenBlock());
    // Row r is elements 2 (r % 2) + {0, 1} of m-tile r / 2's C tiles.
    for (int64_t tile = 0; tile < valueTiles; ++tile)
      for (int64_t j = 0; j < 2; ++j) {
        Value o = fmul(final.acc[((r / 2) * valueTiles + tile) * 4 + 2 * (r % 2) + j], inverse);
        if (outElement != f32)
          o = arith::TruncFOp::create(b, outElement, o);
        memref::StoreOp::create(b, o, out,
                                ValueRange{bIdx, hIdx, rows[r], add(twoT, tile * kMmaN + j)});
      }
  }
}

struct ConvertAttentionToGPUFlash
    : raspc::impl::ConvertAttentionToGPUFlashBase<ConvertAttentionToGPUFlash> {
  using ConvertAttentionToGPUFlashBase::ConvertAttentionToGPUFlashBase;

  void getDependentDialects(DialectRegistry &registry) const override {
    ConvertAttentionToGPUFlashBase::getDependentDialects(registry);
    raspc::addWgmmaMemoryEffects(registry);
  }

  void runOnOperation() override {
    if (rowTiles > 2) {
      getOperation().emitError("convert-attention-to-gpu-flash: row-tiles must be 0, 1 or 2, not ")
          << static_cast<unsigned>(rowTiles);
      return signalPassFailure();
    }
    if (!raspc::hasMmaSyncM16N8K16(chip))
      return;
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) {
      if (raspc::isGPUFlashCandidate(op))
        ops.push_back(op);
    });
    if (!ops.empty())
      raspc::declareDeferredSync(getOperation());
    for (AttentionOp op : ops) {
      ImplicitLocOpBuilder b(op.getLoc(), op);
      if (op.getQuery().getType().getElementType().isF32())
        raspc::emitFmaFlashAttention(b, op);
      else if (wgmma && raspc::hasWgmma(chip) &&
               raspc::isWgmmaFlashShape(op.getQuery().getType().getDimSize(3),
                                        op.getValue().getType().getDimSize(3)))
        raspc::emitWgmmaFlashAttention(b, op,
                                       wgmmaOverlap && !readsTensors(op.getMask()) &&
                                           !readsTensors(op.getScore()));
      else
        GPUFlashEmitter(b, op, rowTiles).emit();
    }
  }
};

} // namespace
