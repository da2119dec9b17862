//===- FlashWgmmaKernel.cpp - flash attention by warpgroup MMA --*- C++ -*-===//
//
// Softmax attention on f16/bf16 tensors as one kernel for sm_90a, in
// FlashAttention-3's arithmetic (without its producer warps, so far): a
// block of two warpgroups owns
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
// With `overlap` (FA3's intra-warpgroup pipelining) a key block's softmax
// runs while the tensor cores add the block before it: per block kb,
//   issue S(kb) = Q.K(kb)^T, issue O += P(kb-1).V(kb-1), wait for S(kb),
//   softmax(S(kb)) -> P(kb), wait for O, rescale O,
// over three stages of tiles (block kb - 1's values are still read while
// kb + 1 arrives). The loop runs from the first key block the block's rows
// may see to the last, computing every block between.
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/AttentionToGPUFlash.h"
#include "Conversion/GPU/Chip.h"
#include "Conversion/AttentionToFlashLoops/MaskIntervals.h"
#include "Conversion/GPU/FlashKernel.h"
#include "Conversion/GPU/Wgmma.h"
#include "Conversion/Utils/LoopEmission.h"

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

constexpr int64_t kGroupThreads = raspc::kWarpgroupThreads, kGroups = 2, kGroupRows = 64,
                  kWarpRows = 16;
using raspc::kSwizzleAtomBytes, raspc::kSwizzleRowBytes, raspc::kSwizzleRowElements,
    raspc::kWgmmaK;
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

/// What a key block's softmax leaves: the probabilities as the A fragments
/// of P.V (four i32 per 16 keys, register-fenced), the rows' new maxima and
/// sums, and the factors that rescale the accumulator.
struct Softmaxed {
  SmallVector<Value> probabilities;
  SmallVector<Value, 2> max, sum, alpha;
};

class WgmmaFlashEmitter : raspc::FlashKernelEmitter {
public:
  WgmmaFlashEmitter(ImplicitLocOpBuilder &b, AttentionOp op, bool overlap)
      : FlashKernelEmitter(b, op, kGroups * kGroupThreads, /*rowPadding=*/0, /*keyBlock=*/128,
                           raspc::maxDynamicSharedBytes("sm_90a"),
                           /*sharedAlignment=*/kSwizzleAtomBytes,
                           /*extraBytes=*/
                           [](int64_t headDim) {
                             return kGroups * kGroupRows * headDim * 2; // Q
                           },
                           /*stages=*/overlap ? 3 : 2),
        overlap(overlap) {}
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
  SmallVector<Value> emitKeyLoop() override;
  void emitStore(ValueRange state) override;

  /// The matrix descriptors of S = Q.K^T over `keyTile` (Q's and K's, per
  /// 16 features) and of P.V over `valueTile` (per 16 keys). Computed
  /// before the fence that starts the MMAs: ptxas serializes the MMAs of a
  /// kernel where other instructions define their inputs in between.
  SmallVector<Value> scoreOperands(Value keyTile);
  SmallVector<Value> valueOperands(Value valueTile);
  /// S = Q.K^T, issued and committed, not waited for.
  Value issueScores(ArrayRef<Value> operands);
  /// The online softmax of the warpgroup's S (waited for) over keys from
  /// `k0`, from `state`'s maxima and sums.
  Softmaxed emitSoftmax(Value s, Value k0, const GroupState &state);
  /// `out` times each row's factor.
  Value rescale(Value out, ArrayRef<Value> alpha);
  /// out += P.V, issued and committed, not waited for.
  Value issueProbabilitiesTimesValues(Value out, ArrayRef<Value> probabilities,
                                      ArrayRef<Value> operands);
  /// S = Q.K^T over `keyTile`, waited for: from the fence to the read.
  Value emitScores(Value keyTile);
  /// out += P.V over `valueTile`, waited for (`out` pinned before the
  /// fence, as the MMAs read it).
  Value emitProbabilitiesTimesValues(Value out, ArrayRef<Value> probabilities, Value valueTile);
  /// Pins the 32-bit registers `words` (emitRegisterFence) as their struct.
  Value pinWords(ArrayRef<Value> words);
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

  const bool overlap;
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

SmallVector<Value> WgmmaFlashEmitter::scoreOperands(Value keyTile) {
  // A = Q (K-major), B = K^T, i.e. the key tile as it is (K-major: layout
  // col).
  Value queryAddress =
      add(address(queryTile), mul(div(tid, kGroupThreads), kGroupRows * kSwizzleRowBytes));
  Value keyAddress = address(keyTile);
  SmallVector<Value> operands;
  for (int64_t kk = 0; kk < headDim / kWgmmaK; ++kk) {
    operands.push_back(raspc::emitKMajorDescriptor(b, queryAddress, blockRows(), kk));
    operands.push_back(raspc::emitKMajorDescriptor(b, keyAddress, keyBlock, kk));
  }
  return operands;
}

SmallVector<Value> WgmmaFlashEmitter::valueOperands(Value valueTile) {
  // B = the value tile (N-major: layout row), 16 rows per step, panels of
  // 64 features keyBlock rows apart.
  Value valueAddress = address(valueTile);
  SmallVector<Value> operands;
  for (int64_t step = 0; step < keyBlock / kWgmmaK; ++step)
    operands.push_back(raspc::emitMNMajorDescriptor(b, valueAddress, keyBlock, step));
  return operands;
}

Value WgmmaFlashEmitter::issueScores(ArrayRef<Value> operands) {
  // The first MMA ignores the accumulator (scale-d 0), so no register is
  // written before the fence.
  Value s = LLVM::UndefOp::create(b, raspc::wgmmaAccumulatorType(b.getContext(), keyBlock));
  for (int64_t kk = 0; kk < headDim / kWgmmaK; ++kk)
    s = NVVM::WgmmaMmaAsyncOp::create(
        b, s.getType(), s, operands[2 * kk], operands[2 * kk + 1],
        NVVM::MMAShapeAttr::get(b.getContext(), kGroupRows, keyBlock, kWgmmaK), operandType(),
        operandType(), NVVM::WGMMATypes::f32,
        kk == 0 ? NVVM::WGMMAScaleOut::zero : NVVM::WGMMAScaleOut::one, NVVM::WGMMAScaleIn::one,
        NVVM::WGMMAScaleIn::one, NVVM::MMALayout::row, NVVM::MMALayout::col,
        /*satfinite=*/NVVM::MMAIntOverflowAttr());
  NVVM::WgmmaGroupSyncAlignedOp::create(b);
  return s;
}

Softmaxed WgmmaFlashEmitter::emitSoftmax(Value s, Value k0, const GroupState &state) {
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
  // Only the softmax branches (on whether the mask may hide keys from the
  // warpgroup's 64 rows), never an MMA: ptxas serializes every wgmma of a
  // kernel where one sits on a path it cannot prove uniform.
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
  Softmaxed result;
  result.max = {softmaxed[4 * tiles], softmaxed[4 * tiles + 1]};
  result.sum = {softmaxed[4 * tiles + 2], softmaxed[4 * tiles + 3]};
  result.alpha = {softmaxed[4 * tiles + 4], softmaxed[4 * tiles + 5]};

  // The A fragment of keys [16 s, 16 s + 16) is score tiles 2 s and 2 s + 1
  // (registers: rows g, g + 8 of the first, then of the second), packed and
  // pinned: registers an MMA reads must be written before its fence.
  SmallVector<Value> packed;
  for (int64_t step = 0; step < keyBlock / kWgmmaK; ++step) {
    int64_t lo = 2 * step, hi = 2 * step + 1;
    llvm::append_range(packed, SmallVector<Value>{pack(probability(lo, 0), probability(lo, 1)),
                                                  pack(probability(lo, 2), probability(lo, 3)),
                                                  pack(probability(hi, 0), probability(hi, 1)),
                                                  pack(probability(hi, 2), probability(hi, 3))});
  }
  Value pinned = pinWords(packed);
  for (int64_t i = 0; i < static_cast<int64_t>(packed.size()); ++i)
    result.probabilities.push_back(LLVM::ExtractValueOp::create(b, pinned, i));
  return result;
}

Value WgmmaFlashEmitter::rescale(Value out, ArrayRef<Value> alpha) {
  for (int64_t i = 0; i < valueDim / 2; ++i) {
    Value o = arith::MulFOp::create(b, LLVM::ExtractValueOp::create(b, out, i), alpha[i % 4 / 2]);
    out = LLVM::InsertValueOp::create(b, out, o, i);
  }
  return out;
}

Value WgmmaFlashEmitter::issueProbabilitiesTimesValues(Value out, ArrayRef<Value> probabilities,
                                                       ArrayRef<Value> operands) {
  for (auto [step, valueDescriptor] : llvm::enumerate(operands))
    out = raspc::emitWgmmaRegisterA(b, out, probabilities.slice(4 * step, 4), valueDescriptor,
                                    valueDim, isa<BFloat16Type>(element), /*bTransposed=*/true);
  NVVM::WgmmaGroupSyncAlignedOp::create(b);
  return out;
}

Value WgmmaFlashEmitter::pinWords(ArrayRef<Value> words) {
  return raspc::emitRegisterFence(
      b, words,
      LLVM::LLVMStructType::getLiteral(b.getContext(),
                                       SmallVector<Type>(words.size(), b.getI32Type())));
}

Value WgmmaFlashEmitter::emitScores(Value keyTile) {
  SmallVector<Value> descriptors = scoreOperands(keyTile);
  NVVM::WgmmaFenceAlignedOp::create(b);
  Value s = issueScores(descriptors);
  NVVM::WgmmaWaitGroupSyncOp::create(b, 0);
  return raspc::emitAccumulatorFence(b, s); // read after the wait
}

Value WgmmaFlashEmitter::emitProbabilitiesTimesValues(Value out, ArrayRef<Value> probabilities,
                                                      Value valueTile) {
  SmallVector<Value> descriptors = valueOperands(valueTile);
  out = raspc::emitAccumulatorFence(b, out);
  NVVM::WgmmaFenceAlignedOp::create(b);
  out = issueProbabilitiesTimesValues(out, probabilities, descriptors);
  NVVM::WgmmaWaitGroupSyncOp::create(b, 0);
  return raspc::emitAccumulatorFence(b, out);
}

/// The warpgroup's rows through one key block, one step after the other.
SmallVector<Value> WgmmaFlashEmitter::emitKeyBlock(ValueRange values, Value k0, Value keyTile,
                                                   Value valueTile) {
  GroupState state = GroupState::unflatten(values);
  Softmaxed softmaxed = emitSoftmax(emitScores(keyTile), k0, state);
  // O = O * alpha + P.V, waited for: the next barrier lets the stage be
  // refilled.
  Value out = emitProbabilitiesTimesValues(rescale(state.out, softmaxed.alpha),
                                           softmaxed.probabilities, valueTile);
  return GroupState{softmaxed.max, softmaxed.sum, out}.flatten();
}

SmallVector<Value> WgmmaFlashEmitter::emitKeyLoop() {
  if (!overlap)
    return FlashKernelEmitter::emitKeyLoop();
  auto [first, end] = emitSeenBlockRange();
  auto stageOf = [&](Value kb) { return rem(kb, stages); };
  // Blocks between the first and the last seen are loaded even where the
  // mask hides them: they are computed (the per-key mask zeroes them).
  auto prefetch = [&](Value kb) { emitPrefetch(kb, stageOf(kb), less(kb, end)); };
  prefetch(first);
  Value second = add(first, 1);
  prefetch(second);

  // The first block's scores and softmax (O is zeros: nothing to rescale
  // or add yet). With no block to see, this and the last P.V below run on
  // tiles never loaded, their probabilities all 0; emitStore writes zeros
  // for such rows whatever O holds.
  emitStageLanded(/*pending=*/1);
  GroupState initial = GroupState::unflatten(initialState());
  Softmaxed firstBlock = emitSoftmax(emitScores(tileOf(stageOf(first), /*isKey=*/true)),
                                     mul(first, keyBlock), initial);
  SmallVector<Value> carried =
      GroupState{firstBlock.max, firstBlock.sum, initial.out}.flatten();
  llvm::append_range(carried, firstBlock.probabilities);

  // Block kb: its scores and block kb - 1's P.V on the tensor cores at
  // once, then kb's softmax while P.V runs. Stage (kb + 1) % 3 is free after
  // the barrier: every warpgroup waited for its P.V of block kb - 2.
  const int64_t stateSize = 5;
  SmallVector<Value> results = raspc::emitLoop(
      b, second, end, idx(1), carried, [&](Value kb, ValueRange iterArgs) {
        GroupState state = GroupState::unflatten(iterArgs.take_front(stateSize));
        SmallVector<Value> previous(iterArgs.drop_front(stateSize));
        emitStageLanded(/*pending=*/0);
        prefetch(add(kb, 1));
        SmallVector<Value> scoreDescriptors = scoreOperands(tileOf(stageOf(kb), /*isKey=*/true));
        SmallVector<Value> valueDescriptors =
            valueOperands(tileOf(stageOf(arith::SubIOp::create(b, kb, idx(1))), false));
        Value out = raspc::emitAccumulatorFence(b, state.out);
        NVVM::WgmmaFenceAlignedOp::create(b);
        Value scores = issueScores(scoreDescriptors);
        out = issueProbabilitiesTimesValues(out, previous, valueDescriptors);
        NVVM::WgmmaWaitGroupSyncOp::create(b, 1);
        scores = raspc::emitAccumulatorFence(b, scores);
        Softmaxed softmaxed = emitSoftmax(scores, mul(kb, keyBlock), state);
        NVVM::WgmmaWaitGroupSyncOp::create(b, 0);
        out = raspc::emitAccumulatorFence(b, out);
        // The MMAs read the previous probabilities until the wait: their
        // registers stay theirs until here.
        pinWords(previous);
        SmallVector<Value> next =
            GroupState{softmaxed.max, softmaxed.sum, rescale(out, softmaxed.alpha)}.flatten();
        llvm::append_range(next, softmaxed.probabilities);
        return next;
      });

  // The last block's P.V.
  GroupState final = GroupState::unflatten(ArrayRef<Value>(results).take_front(stateSize));
  ArrayRef<Value> last = ArrayRef<Value>(results).drop_front(stateSize);
  Value lastBlock = arith::SubIOp::create(b, arith::MaxUIOp::create(b, end, add(first, 1)), idx(1));
  final.out = emitProbabilitiesTimesValues(final.out, last,
                                           tileOf(stageOf(lastBlock), /*isKey=*/false));
  return final.flatten();
}

void WgmmaFlashEmitter::emitStore(ValueRange values) {
  // out = O / sum, zeros for a row that saw no key. O's element i is at row
  // (i % 4) / 2, feature 8 (i / 4) + 2 t + i % 2.
  GroupState final = GroupState::unflatten(values);
  Type outElement = cast<MemRefType>(out.getType()).getElementType();
  Value seen[2];
  for (int64_t r = 0; r < 2; ++r) {
    Value inverse = emitFragmentRowNormalizer(final.sum[r]);
    seen[r] = arith::CmpFOp::create(b, arith::CmpFPredicate::ONE, inverse, fconst(0.0));
    auto inside = scf::IfOp::create(b, less(rows[r], queries), /*withElseRegion=*/false);
    OpBuilder::InsertionGuard insertion(b);
    b.setInsertionPointToStart(inside.thenBlock());
    for (int64_t i = 0; i < valueDim / 2; ++i) {
      if (i % 4 / 2 != r)
        continue;
      // A row that saw no key gets zeros even where O is not (NaN from
      // tiles the overlapped loop computed without loading).
      Value o = arith::SelectOp::create(
          b, seen[r],
          arith::MulFOp::create(b, LLVM::ExtractValueOp::create(b, final.out, i), inverse),
          fconst(0.0));
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

void raspc::emitWgmmaFlashAttention(ImplicitLocOpBuilder &b, AttentionOp op, bool overlap) {
  WgmmaFlashEmitter(b, op, overlap).emit();
}
