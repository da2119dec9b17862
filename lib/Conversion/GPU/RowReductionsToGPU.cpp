//===- RowReductionsToGPU.cpp - a warp per row of a reduction ---*- C++ -*-===//
//
// The reductions of a model's norms (a row's mean, its variance, a softmax
// denominator outside the flash kernels) as GPU kernels with a warp per
// row: the reference lowering gives each row to one thread, which walks the
// row alone (neighbouring threads read addresses a row apart: uncoalesced)
// and leaves rows / 256 blocks to fill the GPU (16 for 4096 rows). Here the
// 32 lanes of a warp take every 32nd element of the row (consecutive lanes,
// consecutive addresses), each folds its share with the reduction's
// combiner, and five butterfly shuffles combine the lanes; 8 rows a block.
// A norm -- reductions, then an elementwise op that reads them per row --
// is one such kernel: the butterflies leave the row's value in every lane,
// where the ops after it read it.
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/RowReductionsToGPU.h"
#include "Conversion/GPU/Chip.h"
#include "Conversion/Utils/GenericBodies.h"
#include "Conversion/Utils/LoopEmission.h"
#include "Conversion/Utils/RowGroups.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"

#include <cmath>

namespace raspc {
#define GEN_PASS_DEF_CONVERTROWREDUCTIONSTOGPU
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

using raspc::kWarpSize;
constexpr int64_t kRowsPerBlock = 8;

/// One warp-per-row kernel for a group of linalg.generic ops over the same
/// rows: row reductions in program order, each perhaps reading the ones
/// before it per row (a variance reads its mean), and perhaps a last
/// all-parallel op reading them per row (a norm's normalization). In the
/// kernel a reduction's row value is in every lane after the butterfly, so
/// the ops after it take it from a register: nothing round-trips through
/// memory between them.
class RowKernelEmitter {
public:
  /// `members`: the reductions (isGPURowReduction), then at most one
  /// rowConsumer. A reduction alone is stored; in a group (rowGroupOf) only
  /// the consumer is: no one else reads the reductions.
  RowKernelEmitter(ImplicitLocOpBuilder &b, ArrayRef<linalg::GenericOp> members) : b(b) {
    for (linalg::GenericOp op : members) {
      std::optional<raspc::Combiner> combiner = raspc::matchCombiner(op);
      this->members.push_back({op, combiner, !combiner || members.size() == 1});
    }
  }

  /// The kernel's launch, before the last member; returns for each member
  /// the tensor that replaces its result (null where it is not stored).
  SmallVector<Value> emit();

private:
  struct Member {
    linalg::GenericOp op;
    /// Null for the consumer.
    std::optional<raspc::Combiner> combiner;
    bool stored;
    /// Sizes of the iteration space (rows' dimensions, then the last one),
    /// the input buffers (null for a group member's result, read from a
    /// register), a reduction's initial values (a buffer, or one value),
    /// the result's buffer.
    SmallVector<Value> sizes, inputs;
    Value init, initValue, out;
  };

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  /// The member's body at iteration point `point`, its block arguments the
  /// inputs' elements there: a reduction's element contribution (the body
  /// up to the combiner), or the consumer's result.
  Value evaluate(const Member &member, ArrayRef<Value> point);
  /// A loop over the row's elements lane, lane + 32, ...
  scf::ForOp emitRowLoop(const Member &member, Value lane, ValueRange init,
                         function_ref<Value(Value j, ValueRange carried)> body);
  void emitKernel(gpu::LaunchOp launch);

  ImplicitLocOpBuilder &b;
  SmallVector<Member> members;
  /// In the kernel: a reduction's result tensor -> its row's value.
  IRMapping rowValues;
  Value rows;
};

Value RowKernelEmitter::evaluate(const Member &member, ArrayRef<Value> point) {
  linalg::GenericOp op = member.op;
  IRMapping mapping;
  raspc::emitBodyAt(
      b, op, point,
      [&](OpOperand &operand, ArrayRef<Value> indices) -> Value {
        Value input = member.inputs[operand.getOperandNumber()];
        return input ? Value(memref::LoadOp::create(b, input, indices))
                     : rowValues.lookup(operand.get());
      },
      mapping, member.combiner ? member.combiner->op : nullptr);
  Value result = member.combiner
                     ? member.combiner->op->getOperand(member.combiner->elementOperand)
                     : op.getRegion().front().getTerminator()->getOperand(0);
  return mapping.lookupOrDefault(result);
}

scf::ForOp RowKernelEmitter::emitRowLoop(const Member &member, Value lane, ValueRange init,
                                         function_ref<Value(Value, ValueRange)> body) {
  return scf::ForOp::create(
      b, lane, member.sizes.back(), idx(kWarpSize), init,
      [&](OpBuilder &nested, Location, Value j, ValueRange carried) {
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
        Value next = body(j, carried);
        scf::YieldOp::create(b, next ? ValueRange{next} : ValueRange{});
      });
}

void RowKernelEmitter::emitKernel(gpu::LaunchOp launch) {
  Value tid = launch.getThreadIds().x;
  Value lane = arith::RemUIOp::create(b, tid, idx(kWarpSize));
  Value row = arith::AddIOp::create(
      b, arith::MulIOp::create(b, launch.getBlockIds().x, idx(kRowsPerBlock)),
      arith::DivUIOp::create(b, tid, idx(kWarpSize)));
  // Whole warps leave together: the shuffles need all 32 lanes.
  auto inside = scf::IfOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, rows), false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(inside.thenBlock());
  // The row's indices, last dimension fastest.
  ArrayRef<Value> sizes = members.front().sizes;
  SmallVector<Value> point(sizes.size() - 1);
  Value rest = row;
  for (int64_t d = static_cast<int64_t>(point.size()) - 1; d >= 0; --d) {
    point[d] = d == 0 ? rest : arith::RemUIOp::create(b, rest, sizes[d]);
    if (d > 0)
      rest = arith::DivUIOp::create(b, rest, sizes[d]);
  }
  auto at = [&](Value j) {
    SmallVector<Value> full(point);
    full.push_back(j);
    return full;
  };
  Value laneZero = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, idx(0));
  for (const Member &member : members) {
    if (!member.combiner) {
      // The consumer: each lane its elements, stored as they come.
      emitRowLoop(member, lane, {}, [&](Value j, ValueRange) {
        memref::StoreOp::create(b, evaluate(member, at(j)), member.out, at(j));
        return Value();
      });
      continue;
    }
    const raspc::Combiner &combiner = *member.combiner;
    Type element = cast<RankedTensorType>(member.op->getResult(0).getType()).getElementType();
    Value start = arith::ConstantOp::create(b, b.getFloatAttr(element, raspc::combinerIdentity(combiner.op)));
    Value partial = emitRowLoop(member, lane, start, [&](Value j, ValueRange carried) {
                      return raspc::combine(b, combiner, carried[0], evaluate(member, at(j)));
                    }).getResult(0);
    // Butterflies: every lane ends with the whole row's value.
    for (int32_t offset = kWarpSize / 2; offset > 0; offset /= 2)
      partial = raspc::combine(b, combiner, partial,
                        gpu::ShuffleOp::create(b, partial, offset, kWarpSize, gpu::ShuffleMode::XOR)
                            .getShuffleResult());
    Value init =
        member.init ? Value(memref::LoadOp::create(b, member.init, point)) : member.initValue;
    Value result = raspc::combine(b, combiner, init, partial);
    rowValues.map(member.op->getResult(0), result);
    if (member.stored) {
      auto first = scf::IfOp::create(b, laneZero, false);
      OpBuilder::InsertionGuard store(b);
      b.setInsertionPointToStart(first.thenBlock());
      memref::StoreOp::create(b, result, member.out, point);
    }
  }
}

SmallVector<Value> RowKernelEmitter::emit() {
  for (Member &member : members) {
    linalg::GenericOp op = member.op;
    auto memberOf = [&](Value v) -> linalg::GenericOp {
      for (const Member &other : members)
        if (other.op->getResult(0) == v)
          return other.op;
      return nullptr;
    };
    for (Range range : cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, b.getLoc())) {
      Value size = getValueOrCreateConstantIndexOp(b, b.getLoc(), range.size);
      // A size read off a member's result (which goes away) is its init's.
      if (auto dim = size.getDefiningOp<tensor::DimOp>())
        if (linalg::GenericOp producer = memberOf(dim.getSource())) {
          size = tensor::DimOp::create(b, producer.getDpsInits()[0], dim.getIndex());
          dim.erase();
        }
      member.sizes.push_back(size);
    }
    for (Value input : op.getDpsInputs())
      member.inputs.push_back(memberOf(input) ? Value() : raspc::readOnlyBuffer(b, input));
    auto resultType = cast<RankedTensorType>(op.getResult(0).getType());
    if (member.combiner) {
      raspc::ReductionInit init = raspc::reductionInit(b, op);
      member.initValue = init.value;
      member.init = init.buffer;
    }
    if (!member.stored)
      continue;
    ArrayRef<Value> rowSizes = ArrayRef<Value>(member.sizes).take_front(resultType.getRank());
    member.out = raspc::allocateBuffer(b, resultType, getAsOpFoldResult(rowSizes));
  }
  rows = idx(1);
  for (Value size : ArrayRef<Value>(members.front().sizes).drop_back())
    rows = arith::MulIOp::create(b, rows, size);
  Value blocks = arith::CeilDivUIOp::create(b, rows, idx(kRowsPerBlock));
  auto launch = gpu::LaunchOp::create(b, blocks, idx(1), idx(1),
                                      idx(kWarpSize * kRowsPerBlock), idx(1), idx(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    emitKernel(launch);
    gpu::TerminatorOp::create(b);
  }
  SmallVector<Value> results;
  for (const Member &member : members)
    results.push_back(member.stored ? Value(bufferization::ToTensorOp::create(
                                          b, member.op->getResult(0).getType(), member.out,
                                          /*restrict=*/true, /*writable=*/true))
                                    : Value());
  return results;
}

struct ConvertRowReductionsToGPU
    : raspc::impl::ConvertRowReductionsToGPUBase<ConvertRowReductionsToGPU> {
  void runOnOperation() override {
    // Norms first: reductions with the op that reads them per row.
    SmallVector<linalg::GenericOp> consumers;
    // (Only all-parallel ops end a group, and a rewrite erases no other.)
    getOperation()->walk([&](linalg::GenericOp op) {
      if (raspc::isPerElementGeneric(op))
        consumers.push_back(op);
    });
    auto outsideKernels = [](linalg::GenericOp op) {
      return !op->getParentOfType<gpu::LaunchOp>();
    };
    for (linalg::GenericOp consumer : consumers) {
      SmallVector<linalg::GenericOp> group = raspc::rowGroupOf(consumer, outsideKernels);
      if (group.empty())
        continue;
      ImplicitLocOpBuilder b(consumer.getLoc(), consumer);
      Value result = RowKernelEmitter(b, group).emit().back();
      consumer.getResult(0).replaceAllUsesWith(result);
      for (linalg::GenericOp op : llvm::reverse(group)) {
        // createLoopRanges asks every operand for its sizes.
        for (Operation *user : llvm::make_early_inc_range(op->getUsers()))
          if (isa<tensor::DimOp>(user) && user->use_empty())
            user->erase();
        op.erase();
      }
    }
    // Then the reductions left, a kernel each.
    SmallVector<linalg::GenericOp> reductions;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (raspc::isGPURowReduction(op))
        reductions.push_back(op);
    });
    for (linalg::GenericOp op : reductions) {
      ImplicitLocOpBuilder b(op.getLoc(), op);
      Value result = RowKernelEmitter(b, {op}).emit().front();
      op.getResult(0).replaceAllUsesWith(result);
      op.erase();
    }
  }
};

} // namespace

bool raspc::isGPURowReduction(linalg::GenericOp op) {
  return !op->getParentOfType<gpu::LaunchOp>() && raspc::isRowReduction(op);
}
