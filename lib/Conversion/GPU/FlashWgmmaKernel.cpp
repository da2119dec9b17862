//===- FlashWgmmaKernel.cpp - flash attention by warpgroup MMA --*- C++ -*-===//
//
// Softmax attention on f16/bf16 tensors as one kernel for sm_90a, in
// FlashAttention-3's arithmetic (without its producer warps and the
// overlap of softmax with the MMAs, so far): a block of two warpgroups owns
// 128 query rows of one (batch, head), each warpgroup 64 of them. The
// block's rows of Q are copied into shared memory once; for each key block
// of the skeleton's pipeline (FlashKernel.h), a warpgroup computes
//   S = Q.K^T   one wgmma m64nNk16 per 16 features (N = the key block),
//               both operands read from shared memory by the tensor cores;
//   softmax     on S as each warp holds it: the accumulator of m64nN is, per
//               warp, 16 rows laid out as mma.sync's C fragments, so the
//               online softmax is the mma.sync kernel's;
//   O += P.V    one wgmma m64nDk16 per 16 keys, P from registers (two C
//               tiles of probabilities are, element for element, the A
//               fragment of 16 keys, repacked to 16 bits) and V from shared
//               memory.
// Shared tiles (Q, K: K-major; V: N-major) are in the 128-byte swizzled
// layouts of Wgmma.h, panels of 64 features.
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/AttentionToGPUFlash.h"
#include "Conversion/AttentionToFlashLoops/MaskIntervals.h"
#include "Conversion/GPU/FlashKernel.h"
#include "Conversion/GPU/Wgmma.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kGroupThreads = 128, kGroups = 2, kGroupRows = 64, kWarpRows = 16;
using raspc::kSwizzleAtomBytes, raspc::kSwizzleRowBytes, raspc::kSwizzleRowElements,
    raspc::kWgmmaK;
/// The most dynamic shared memory a block may have on sm_90.
constexpr int64_t kMaxSharedBytes = 227 * 1024;
/// O and S accumulators live in registers: N of a wgmma is at most 256.
constexpr int64_t kMaxDim = 256;

/// The thread's state: its two rows' maxima and sums, its part of O.
struct GroupState {
  SmallVector<Value, 2> max, sum;
  Value out;

  SmallVector<Value> flatten() const { return {max[0], max[1], sum[0], sum[1], out}; }
  static GroupState unflatten(ValueRange values) {
    return {{values[0], values[1]}, {values[2], values[3]}, values[4]};
  }
};

class WgmmaFlashEmitter : raspc::FlashKernelEmitter {
public:
  WgmmaFlashEmitter(ImplicitLocOpBuilder &b, AttentionOp op)
      : FlashKernelEmitter(b, op, kGroups * kGroupThreads, /*rowPadding=*/0, /*keyBlock=*/128,
                           kMaxSharedBytes, /*sharedAlignment=*/kSwizzleAtomBytes,
                           /*extraBytes=*/[](int64_t headDim) {
                             return kGroups * kGroupRows * headDim * 2; // Q
                           }) {}
  using FlashKernelEmitter::emit;

private:
  Value div(Value x, int64_t y) { return arith::DivUIOp::create(b, x, idx(y)); }
  Value rem(Value x, int64_t y) { return arith::RemUIOp::create(b, x, idx(y)); }
  Value address(Value tile) { return memref::ExtractAlignedPointerAsIndexOp::create(b, tile); }

  int64_t blockRows() const override { return kGroups * kGroupRows; }
  void emitThreadSetup() override;
  SmallVector<Value> initialState() override;
  SmallVector<Value> emitKeyBlock(ValueRange state, Value k0, Value keyTile,
                                  Value valueTile) override;
  void emitStore(ValueRange state) override;
  SmallVector<int64_t, 2> tileShape(bool isKey) const override {
    return {keyBlock * (isKey ? headDim : valueDim) / kSwizzleRowElements, kSwizzleRowElements};
  }
  SmallVector<Value, 2> place(bool, Value row, Value column) override {
    return raspc::placeSwizzled128(b, row, column, keyBlock);
  }
  void emitTilesLanded() override { raspc::emitAsyncProxyFence(b); }

  /// Two probabilities as one register of the A fragment (the first in the
  /// low half).
  Value pack(Value low, Value high);
  NVVM::WGMMATypes operandType() const {
    return isa<BFloat16Type>(element) ? NVVM::WGMMATypes::bf16 : NVVM::WGMMATypes::f16;
  }

  // Per thread: the warpgroup's first row, the thread's two rows, 2 t of the
  // fragment layouts; the block's Q in shared memory.
  Value groupRow0, twoT, queryTile;
  SmallVector<Value, 2> rows;
};

void WgmmaFlashEmitter::emitThreadSetup() {
  Value group = div(tid, kGroupThreads);
  Value warp = div(rem(tid, kGroupThreads), 32);
  Value lane = rem(tid, 32);
  twoT = mul(rem(lane, 4), 2);
  groupRow0 = add(blockRow0, mul(group, kGroupRows));
  Value row0 = add(add(groupRow0, mul(warp, kWarpRows)), div(lane, 4));
  rows = {row0, add(row0, 8)};

  // The block's rows of Q, copied once (the first cp.async group; rows past
  // the end are zeros).
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  queryTile = memref::ViewOp::create(
      b,
      MemRefType::get({headDim / kSwizzleRowElements * blockRows(), kSwizzleRowElements}, element,
                      MemRefLayoutAttrInterface{}, workgroup),
      sharedMemory(), extraShared(), ValueRange{});
  raspc::GlobalTileSource source(b, query);
  raspc::emitTileCopy(
      b, tid, threads, source, queryTile, blockRows(), headDim,
      [&](Value row, Value feature) {
        Value i = add(blockRow0, row);
        return raspc::TileElementSource{{bIdx, hIdx, i, feature}, less(i, queries)};
      },
      [&](Value row, Value column) {
        return raspc::placeSwizzled128(b, row, column, blockRows());
      });
  raspc::emitDeferredSync(b, raspc::kDeferredCpAsyncCommit);
}

SmallVector<Value> WgmmaFlashEmitter::initialState() {
  Value zeros = LLVM::ZeroOp::create(b, raspc::wgmmaAccumulatorType(b.getContext(), valueDim));
  return GroupState{{negInf(), negInf()}, {fconst(0.0), fconst(0.0)}, zeros}.flatten();
}

Value WgmmaFlashEmitter::pack(Value low, Value high) {
  SmallVector<Value, 2> halves;
  for (Value v : {low, high})
    halves.push_back(arith::TruncFOp::create(b, element, v));
  Value pair = vector::FromElementsOp::create(b, VectorType::get({2}, element), halves);
  Value word = vector::BitCastOp::create(b, VectorType::get({1}, b.getI32Type()), pair);
  return vector::ExtractOp::create(b, word, ArrayRef<int64_t>{0});
}

/// The warpgroup's rows through one key block. The MMAs are outside any
/// branch on the thread: ptxas serializes every wgmma of a kernel where one
/// sits on a path it cannot prove uniform. Only the softmax branches, on
/// whether the mask may hide keys from the warpgroup's 64 rows.
SmallVector<Value> WgmmaFlashEmitter::emitKeyBlock(ValueRange values, Value k0, Value keyTile,
                                                   Value valueTile) {
  GroupState state = GroupState::unflatten(values);
  Value queryAddress =
      add(address(queryTile), mul(div(tid, kGroupThreads), kGroupRows * kSwizzleRowBytes));
  Value keyAddress = address(keyTile), valueAddress = address(valueTile);

  // S = Q.K^T: A = Q (K-major), B = K^T, i.e. the key tile as it is
  // (K-major: layout col). The first MMA ignores the accumulator (scale-d
  // 0), so no register is written before the fence.
  NVVM::WgmmaFenceAlignedOp::create(b);
  Value s = LLVM::UndefOp::create(b, raspc::wgmmaAccumulatorType(b.getContext(), keyBlock));
  for (int64_t kk = 0; kk < headDim / kWgmmaK; ++kk)
    s = NVVM::WgmmaMmaAsyncOp::create(
        b, s.getType(), s, raspc::emitKMajorDescriptor(b, queryAddress, blockRows(), kk),
        raspc::emitKMajorDescriptor(b, keyAddress, keyBlock, kk),
        NVVM::MMAShapeAttr::get(b.getContext(), kGroupRows, keyBlock, kWgmmaK), operandType(),
        operandType(), NVVM::WGMMATypes::f32,
        kk == 0 ? NVVM::WGMMAScaleOut::zero : NVVM::WGMMAScaleOut::one, NVVM::WGMMAScaleIn::one,
        NVVM::WGMMAScaleIn::one, NVVM::MMALayout::row, NVVM::MMALayout::col,
        /*satfinite=*/NVVM::MMAIntOverflowAttr());
  NVVM::WgmmaGroupSyncAlignedOp::create(b);
  NVVM::WgmmaWaitGroupSyncOp::create(b, 0);
  s = raspc::emitAccumulatorFence(b, s); // read after the wait

  // The warp's part of S as C fragments: element 4 j + e of the
  // accumulator is element e of n-tile j. The softmax leaves probabilities
  // in their place; as values: the probabilities, then the rows' maxima,
  // sums and rescaling factors.
  const int64_t tiles = keyBlock / 8;
  auto softmax = [&](bool masked) {
    return [&, masked] {
      SmallVector<SmallVector<Value, 4>> scores(tiles);
      for (auto [j, fragment] : llvm::enumerate(scores))
        for (int64_t e = 0; e < 4; ++e)
          fragment.push_back(LLVM::ExtractValueOp::create(b, s, static_cast<int64_t>(4 * j + e)));
      SmallVector<Value, 2> max = state.max, sum = state.sum;
      SmallVector<Value, 2> alpha = emitFragmentSoftmax(scores, k0, twoT, rows, max, sum, masked);
      SmallVector<Value> result;
      for (auto &fragment : scores)
        llvm::append_range(result, fragment);
      llvm::append_range(result, llvm::concat<Value>(max, sum, alpha));
      return result;
    };
  };
  SmallVector<Value> softmaxed;
  std::optional<raspc::BlockTruth> truth;
  if (!op.getMask().empty())
    truth = raspc::emitBlockTruth(b, op.getMask(), bIdx, hIdx, groupRow0,
                                  add(groupRow0, kGroupRows - 1), k0, add(k0, keyBlock - 1));
  if (op.getMask().empty())
    softmaxed = softmax(/*masked=*/false)();
  else if (!truth)
    softmaxed = softmax(/*masked=*/true)();
  else
    softmaxed = SmallVector<Value>(scf::IfOp::create(b, truth->mayBeFalse,
                                                     yieldingBranch(softmax(true)),
                                                     yieldingBranch(softmax(false)))
                                       .getResults());
  auto probability = [&](int64_t tile, int64_t e) { return softmaxed[4 * tile + e]; };
  GroupState next;
  next.max = {softmaxed[4 * tiles], softmaxed[4 * tiles + 1]};
  next.sum = {softmaxed[4 * tiles + 2], softmaxed[4 * tiles + 3]};
  Value alpha[2] = {softmaxed[4 * tiles + 4], softmaxed[4 * tiles + 5]};

  // O = O * alpha + P.V: the A fragment of keys [16 s, 16 s + 16) is score
  // tiles 2 s and 2 s + 1 (registers: rows g, g + 8 of the first, then of
  // the second), packed before the fence (registers an MMA reads must be
  // written before it); B = the value tile (N-major: layout row), 16 rows
  // per step, panels of 64 features keyBlock rows apart.
  next.out = state.out;
  for (int64_t i = 0; i < valueDim / 2; ++i) {
    Value o = arith::MulFOp::create(b, LLVM::ExtractValueOp::create(b, next.out, i),
                                    alpha[i % 4 / 2]);
    next.out = LLVM::InsertValueOp::create(b, next.out, o, i);
  }
  SmallVector<Value> packed;
  for (int64_t step = 0; step < keyBlock / kWgmmaK; ++step) {
    int64_t lo = 2 * step, hi = 2 * step + 1;
    llvm::append_range(packed, SmallVector<Value>{pack(probability(lo, 0), probability(lo, 1)),
                                                  pack(probability(lo, 2), probability(lo, 3)),
                                                  pack(probability(hi, 0), probability(hi, 1)),
                                                  pack(probability(hi, 2), probability(hi, 3))});
  }
  // Written before the fence, as the MMAs read them.
  next.out = raspc::emitAccumulatorFence(b, next.out);
  Value pinned = raspc::emitRegisterFence(
      b, packed,
      LLVM::LLVMStructType::getLiteral(b.getContext(),
                                       SmallVector<Type>(packed.size(), b.getI32Type())));
  SmallVector<SmallVector<Value, 4>> fragments(keyBlock / kWgmmaK);
  for (auto [i, fragment] : llvm::enumerate(fragments))
    for (int64_t r = 0; r < 4; ++r)
      fragment.push_back(
          LLVM::ExtractValueOp::create(b, pinned, static_cast<int64_t>(4 * i + r)));
  NVVM::WgmmaFenceAlignedOp::create(b);
  for (auto [step, a] : llvm::enumerate(fragments)) {
    Value valueDescriptor =
        raspc::emitMNMajorDescriptor(b, valueAddress, keyBlock, static_cast<int64_t>(step));
    next.out = raspc::emitWgmmaRegisterA(b, next.out, a, valueDescriptor, valueDim,
                                         isa<BFloat16Type>(element), /*bTransposed=*/true);
  }
  NVVM::WgmmaGroupSyncAlignedOp::create(b);
  // The next barrier lets the stage be refilled: the MMAs must be done.
  NVVM::WgmmaWaitGroupSyncOp::create(b, 0);
  next.out = raspc::emitAccumulatorFence(b, next.out);
  return next.flatten();
}

void WgmmaFlashEmitter::emitStore(ValueRange values) {
  // out = O / sum, zeros for a row that saw no key. O's element i is at row
  // (i % 4) / 2, feature 8 (i / 4) + 2 t + i % 2.
  GroupState final = GroupState::unflatten(values);
  Type outElement = cast<MemRefType>(out.getType()).getElementType();
  for (int64_t r = 0; r < 2; ++r) {
    Value inverse = emitRowNormalizer(final.sum[r]);
    auto inside = scf::IfOp::create(b, less(rows[r], queries), /*withElseRegion=*/false);
    OpBuilder::InsertionGuard insertion(b);
    b.setInsertionPointToStart(inside.thenBlock());
    for (int64_t i = 0; i < valueDim / 2; ++i) {
      if (i % 4 / 2 != r)
        continue;
      Value o = arith::MulFOp::create(b, LLVM::ExtractValueOp::create(b, final.out, i), inverse);
      if (outElement != f32)
        o = arith::TruncFOp::create(b, outElement, o);
      memref::StoreOp::create(b, o, out,
                              ValueRange{bIdx, hIdx, rows[r], add(twoT, 8 * (i / 4) + i % 2)});
    }
  }
}

} // namespace

bool raspc::isWgmmaFlashShape(int64_t headDim, int64_t valueDim) {
  return headDim > 0 && headDim % kSwizzleRowElements == 0 && headDim <= kMaxDim &&
         valueDim > 0 && valueDim % kSwizzleRowElements == 0 && valueDim <= kMaxDim;
}

void raspc::emitWgmmaFlashAttention(ImplicitLocOpBuilder &b, AttentionOp op) {
  WgmmaFlashEmitter(b, op).emit();
}
