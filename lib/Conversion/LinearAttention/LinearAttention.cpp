//===- LinearAttention.cpp - linear attention in linear time ----*- C++ -*-===//
//
// out_i = sum_j (phi(q_i) . phi(k_j)) v_j / sum_j phi(q_i) . phi(k_j)
//       = (phi(q_i)^T S) / (phi(q_i) . z),  S = sum_j phi(k_j) v_j^T,
//                                           z = sum_j phi(k_j)
// over all keys (no mask), or over j <= i (causal), where S and z are a
// running sum updated before each query. One task per (batch, head) of a
// parallel loop; S [D, E] and z [D] live in the task's stack. O(L.D.E)
// work and O(D.E) memory per head instead of O(L^2.D) and O(L^2).
//
//===----------------------------------------------------------------------===//

#include "Conversion/LinearAttention/LinearAttention.h"
#include "Conversion/AttnToLinalg/AttnToLinalg.h"
#include "Conversion/Utils/LoopEmission.h"

#include "Attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Matchers.h"

namespace raspc {
#define GEN_PASS_DEF_CONVERTLINEARATTENTIONTOLOOPS
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Strips index casts, so that a mask written on i64 positions matches.
Value throughCasts(Value v) {
  while (auto cast = v.getDefiningOp<arith::IndexCastOp>())
    v = cast.getIn();
  return v;
}

} // namespace

raspc::LinearMask raspc::classifyLinearMask(Region &mask) {
  if (mask.empty())
    return LinearMask::None;
  Block &block = mask.front();
  Value yielded = block.getTerminator()->getOperand(0);
  if (matchPattern(yielded, m_One()))
    return LinearMask::None;
  auto cmp = yielded.getDefiningOp<arith::CmpIOp>();
  if (!cmp)
    return LinearMask::Other;
  Value query = block.getArgument(2), key = block.getArgument(3);
  Value lhs = throughCasts(cmp.getLhs()), rhs = throughCasts(cmp.getRhs());
  using P = arith::CmpIPredicate;
  P p = cmp.getPredicate();
  bool keyLeQuery = lhs == key && rhs == query && (p == P::sle || p == P::ule);
  bool queryGeKey = lhs == query && rhs == key && (p == P::sge || p == P::uge);
  return keyLeQuery || queryGeKey ? LinearMask::Causal : LinearMask::Other;
}

namespace {

struct ConvertLinearAttentionToLoops
    : raspc::impl::ConvertLinearAttentionToLoopsBase<ConvertLinearAttentionToLoops> {
  void runOnOperation() override {
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) {
      if (op.getNormalizer() == Normalizer::linear && isSupported(op))
        ops.push_back(op);
    });
    for (AttentionOp op : ops)
      rewrite(op);
  }

  static bool isSupported(AttentionOp op) {
    Type f32 = Float32Type::get(op.getContext());
    for (Value v : {op.getQuery(), op.getKey(), op.getValue(), op.getInit()}) {
      auto type = cast<RankedTensorType>(v.getType());
      if (type.getElementType() != f32)
        return false;
    }
    auto q = cast<RankedTensorType>(op.getQuery().getType());
    auto v = cast<RankedTensorType>(op.getValue().getType());
    // S and z live in the task's stack frame.
    return !q.isDynamicDim(1) && !q.isDynamicDim(3) && !v.isDynamicDim(3) &&
           q.getDimSize(3) * llvm::alignTo(v.getDimSize(3), 8) <= 256 * 256 &&
           raspc::classifyLinearMask(op.getMask()) != raspc::LinearMask::Other;
  }

  void rewrite(AttentionOp op) {
    ImplicitLocOpBuilder b(op.getLoc(), op);
    Type f32 = b.getF32Type();
    bool causal = raspc::classifyLinearMask(op.getMask()) == raspc::LinearMask::Causal;
    FeatureMap phiKind = *op.getFeatureMap();
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    auto kType = cast<RankedTensorType>(op.getKey().getType());
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    int64_t heads = qType.getDimSize(1), keyHeads = kType.getDimSize(1);
    int64_t D = qType.getDimSize(3),
            E = cast<RankedTensorType>(op.getValue().getType()).getDimSize(3);

    // Vectors of 8 lanes: AVX2's width; AVX-512 machines run them too.
    constexpr int64_t W = 8;
    int64_t Ep = llvm::alignTo(E, W);
    auto vecType = VectorType::get({W}, f32);
    auto align = b.getI64IntegerAttr(64);
    auto idx = [&](int64_t v) -> Value { return arith::ConstantIndexOp::create(b, v); };
    auto splat = [&](Value x) -> Value { return vector::BroadcastOp::create(b, vecType, x); };
    auto zero = [&]() -> Value { return arith::ConstantOp::create(b, b.getF32FloatAttr(0)); };
    auto forLoop = [&](Value lb, Value ub, function_ref<void(Value)> body) {
      raspc::emitLoop(b, lb, ub, idx(1), body);
    };
    Value q = raspc::readOnlyBuffer(b, op.getQuery()), k = raspc::readOnlyBuffer(b, op.getKey()),
          v = raspc::readOnlyBuffer(b, op.getValue());
    Value batch = tensor::DimOp::create(b, op.getQuery(), 0);
    Value queries = tensor::DimOp::create(b, op.getQuery(), 2);
    Value keys = tensor::DimOp::create(b, op.getKey(), 2);
    SmallVector<Value> outSizes;
    for (int64_t d = 0; d < 4; ++d)
      if (resultType.isDynamicDim(d))
        outSizes.push_back(tensor::DimOp::create(b, op.getQuery(), d));
    Value out = memref::AllocOp::create(b, MemRefType::get(resultType.getShape(), f32),
                                        outSizes, b.getI64IntegerAttr(64));

    Operation *parallel = raspc::emitParallelTasks(
        b, arith::MulIOp::create(b, batch, idx(heads)), [&](Value task) {
          Value bi = arith::DivUIOp::create(b, task, idx(heads));
          Value h = arith::RemUIOp::create(b, task, idx(heads));
          Value kh = arith::DivUIOp::create(b, h, idx(heads / keyHeads));
          // S and z, and the current key's phi(k) and value row: the value
          // row padded to whole vectors, so any E runs the vector code.
          Value state = memref::AllocaOp::create(b, MemRefType::get({D, Ep}, f32), align);
          Value z = memref::AllocaOp::create(b, MemRefType::get({D}, f32), align);
          Value phiVec = memref::AllocaOp::create(b, MemRefType::get({D}, f32), align);
          Value row = memref::AllocaOp::create(b, MemRefType::get({Ep}, f32), align);
          forLoop(idx(0), idx(Ep), [&](Value e) {
            memref::StoreOp::create(b, zero(), row, ValueRange{e});
          });
          forLoop(idx(0), idx(D), [&](Value d) {
            memref::StoreOp::create(b, zero(), z, ValueRange{d});
            for (int64_t e = 0; e < Ep; e += W)
              vector::StoreOp::create(b, splat(zero()), state, ValueRange{d, idx(e)});
          });
          // phi of row j of `x` (queries or keys) into phiVec.
          auto loadPhi = [&](Value x, Value head, Value j) {
            forLoop(idx(0), idx(D), [&](Value d) {
              Value phi = raspc::emitFeatureMap(
                  b, b.getLoc(), phiKind, memref::LoadOp::create(b, x, ValueRange{bi, head, j, d}));
              memref::StoreOp::create(b, phi, phiVec, ValueRange{d});
            });
          };
          // S += phi(k_j) v_j^T, z += phi(k_j)
          auto addKey = [&](Value j) {
            loadPhi(k, kh, j);
            forLoop(idx(0), idx(E), [&](Value e) {
              memref::StoreOp::create(b, memref::LoadOp::create(b, v, ValueRange{bi, kh, j, e}),
                                      row, ValueRange{e});
            });
            SmallVector<Value> vrow;
            for (int64_t e = 0; e < Ep; e += W)
              vrow.push_back(vector::LoadOp::create(b, vecType, row, ValueRange{idx(e)}));
            forLoop(idx(0), idx(D), [&](Value d) {
              Value phi = memref::LoadOp::create(b, phiVec, ValueRange{d});
              Value zd = memref::LoadOp::create(b, z, ValueRange{d});
              memref::StoreOp::create(b, arith::AddFOp::create(b, zd, phi), z, ValueRange{d});
              Value p = splat(phi);
              for (auto [c, vr] : llvm::enumerate(vrow)) {
                Value col = idx(c * W);
                Value sv = vector::LoadOp::create(b, vecType, state, ValueRange{d, col});
                vector::StoreOp::create(b, vector::FMAOp::create(b, p, vr, sv), state,
                                        ValueRange{d, col});
              }
            });
          };
          // out_i = phi(q_i)^T S / phi(q_i) . z, zero where that is 0.
          auto answer = [&](Value i) {
            loadPhi(q, h, i);
            SmallVector<Value> init(Ep / W, splat(zero()));
            init.push_back(zero());
            auto sums = scf::ForOp::create(
                b, idx(0), idx(D), idx(1), init,
                [&](OpBuilder &nb, Location, Value d, ValueRange acc) {
                  OpBuilder::InsertionGuard g(b);
                  b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
                  Value phi = memref::LoadOp::create(b, phiVec, ValueRange{d});
                  Value p = splat(phi);
                  SmallVector<Value> next;
                  for (int64_t c = 0; c < Ep / W; ++c) {
                    Value sv = vector::LoadOp::create(b, vecType, state, ValueRange{d, idx(c * W)});
                    next.push_back(vector::FMAOp::create(b, p, sv, acc[c]));
                  }
                  Value zd = memref::LoadOp::create(b, z, ValueRange{d});
                  next.push_back(math::FmaOp::create(b, phi, zd, acc.back()));
                  scf::YieldOp::create(b, next);
                });
            Value den = sums.getResults().back();
            // A NaN denominator gives NaN (docs/language.md), not 0.
            Value nonZero = arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, den, zero());
            Value scale = arith::SelectOp::create(
                b, nonZero,
                arith::DivFOp::create(b, arith::ConstantOp::create(b, b.getF32FloatAttr(1)), den),
                zero());
            for (int64_t c = 0; c < Ep / W; ++c)
              vector::StoreOp::create(b, arith::MulFOp::create(b, sums.getResult(c), splat(scale)),
                                      row, ValueRange{idx(c * W)});
            forLoop(idx(0), idx(E), [&](Value e) {
              memref::StoreOp::create(b, memref::LoadOp::create(b, row, ValueRange{e}), out,
                                      ValueRange{bi, h, i, e});
            });
          };
          if (!causal) {
            forLoop(idx(0), keys, addKey);
            forLoop(idx(0), queries, answer);
          } else {
            // Query i sees keys 0..i: add key i (if there is one), answer.
            forLoop(idx(0), queries, [&](Value i) {
              Value hasKey = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, i, keys);
              scf::IfOp::create(b, hasKey, [&](OpBuilder &nested, Location) {
                OpBuilder::InsertionGuard g(b);
                b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
                addKey(i);
                scf::YieldOp::create(b);
              });
              answer(i);
            });
          }
        });
    raspc::approximateMath(parallel, {"math.exp"}); // phi's exp
    Value result = bufferization::ToTensorOp::create(b, resultType, out, /*restrict=*/true,
                                                     /*writable=*/true);
    op.getResult().replaceAllUsesWith(result);
    op.erase();
  }
};

} // namespace
