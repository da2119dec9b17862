//===- RowReductionsToLoops.cpp - norms as vector row kernels ----*- C++ -*-===//
//
// A layer norm in linalg is three generics over the same rows (a mean, a
// variance, the normalization), which the reference lowering walks one at a
// time as scalar loops on one thread, storing the row values in between.
// Here such a group (Conversion/Utils/RowGroups.h, as the GPU's warp-per-row
// kernels take it) is one parallel loop over blocks of rows: per row each
// reduction folds vectors along the row, its row value stays in a register
// for the ops after it, and the consumer stores vectors.
//
//===----------------------------------------------------------------------===//

#include "Conversion/RowReductionsToLoops/RowReductionsToLoops.h"
#include "Conversion/AttentionToFlashLoops/FlashStrategy.h"
#include "Conversion/Utils/GenericBodies.h"
#include "Conversion/Utils/LoopEmission.h"
#include "Conversion/Utils/RowGroups.h"
#include "Conversion/Utils/VectorizeBody.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace raspc {
#define GEN_PASS_DEF_CONVERTROWREDUCTIONSTOLOOPS
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

/// How the row kernel reads one input of a member.
enum class Read {
  AlongRow, // its map ends in the last loop: a vector per step
  PerRow,   // its map lacks the last loop: one value per row
  Member    // an earlier reduction of the group: its row value
};

/// Whether a row kernel can run `op`: a body that vectorizes, without
/// linalg.index (the vectors have no lane indices), every input read along
/// the row or once per row.
bool isVectorizableMember(linalg::GenericOp op) {
  if (op->getParentOfType<scf::ParallelOp>() || !raspc::isVectorizable(op.getRegion()) ||
      op.getBody()->walk([](linalg::IndexOp) { return WalkResult::interrupt(); })
          .wasInterrupted())
    return false;
  unsigned last = op.getNumLoops() - 1;
  return llvm::all_of(op.getDpsInputOperands(), [&](OpOperand *input) {
    AffineMap map = op.getMatchingIndexingMap(input);
    std::optional<unsigned> position =
        map.getResultPosition(getAffineDimExpr(last, op.getContext()));
    return !position || *position == map.getNumResults() - 1;
  });
}

class RowKernel {
public:
  /// `members`: reductions (raspc::isRowReduction), then at most one
  /// consumer. A reduction alone is stored; in a group only the consumer
  /// is: no one else reads the reductions.
  RowKernel(ImplicitLocOpBuilder &b, ArrayRef<linalg::GenericOp> group, int64_t width,
            int64_t rowBlock)
      : b(b), width(width), rowBlock(rowBlock) {
    for (linalg::GenericOp op : group) {
      std::optional<raspc::Combiner> combiner = raspc::matchCombiner(op);
      members.push_back({op, combiner, !combiner || group.size() == 1});
    }
  }

  /// The loops, before the last member; for each member the tensor that
  /// replaces its result (null where it is not stored).
  SmallVector<Value> emit();

private:
  struct Member {
    mutable linalg::GenericOp op; // ops are handles: calling them changes nothing
    std::optional<raspc::Combiner> combiner; // null for the consumer
    bool stored;
    SmallVector<Read> reads;
    SmallVector<Value> inputs; // buffers; null for Read::Member
    Value init, initValue, out;
  };

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  /// The member's inputs at the row's element(s) from `j`: vectors of
  /// `width` lanes along the row when `vectors`, else scalars.
  SmallVector<Value> inputsAt(const Member &member, Value j, bool vectors);
  /// The member's body on one element `j` of the row: a reduction's
  /// contribution (before its combiner), or the consumer's value.
  Value scalarAt(const Member &member, Value j);
  void emitRow(Value row);

  ImplicitLocOpBuilder &b;
  int64_t width, rowBlock;
  SmallVector<Member> members;
  SmallVector<Value> sizes; // the iteration space: rows' dimensions, then the row
  SmallVector<Value> point; // in a row: its indices
  IRMapping rowValues;      // a reduction's result tensor -> its row's value
};

SmallVector<Value> RowKernel::inputsAt(const Member &member, Value j, bool vectors) {
  linalg::GenericOp op = member.op;
  SmallVector<Value> args;
  for (OpOperand *operand : op.getDpsInputOperands()) {
    unsigned i = operand->getOperandNumber();
    if (member.reads[i] == Read::Member) {
      args.push_back(rowValues.lookup(operand->get()));
      continue;
    }
    SmallVector<Value> indices;
    for (AffineExpr e : op.getMatchingIndexingMap(operand).getResults()) {
      unsigned d = cast<AffineDimExpr>(e).getPosition();
      indices.push_back(d < point.size() ? point[d] : j);
    }
    Type element = cast<MemRefType>(member.inputs[i].getType()).getElementType();
    if (vectors && member.reads[i] == Read::AlongRow)
      args.push_back(vector::LoadOp::create(b, VectorType::get({width}, element),
                                            member.inputs[i], indices));
    else
      args.push_back(memref::LoadOp::create(b, member.inputs[i], indices));
  }
  return args;
}

Value RowKernel::scalarAt(const Member &member, Value j) {
  SmallVector<Value> args = inputsAt(member, j, /*vectors=*/false);
  SmallVector<Value> at(point);
  at.push_back(j);
  IRMapping mapping;
  raspc::emitBodyAt(
      b, member.op, at,
      [&](OpOperand &operand, ArrayRef<Value>) { return args[operand.getOperandNumber()]; },
      mapping, member.combiner ? member.combiner->op : nullptr);
  Value result = member.combiner
                     ? member.combiner->op->getOperand(member.combiner->elementOperand)
                     : member.op.getRegion().front().getTerminator()->getOperand(0);
  return mapping.lookupOrDefault(result);
}

void RowKernel::emitRow(Value row) {
  // The row's indices, last dimension fastest.
  point.assign(sizes.size() - 1, Value());
  Value rest = row;
  for (int64_t d = static_cast<int64_t>(point.size()) - 1; d >= 0; --d) {
    point[d] = d == 0 ? rest : arith::RemUIOp::create(b, rest, sizes[d]);
    if (d > 0)
      rest = arith::DivUIOp::create(b, rest, sizes[d]);
  }
  Value length = sizes.back();
  Value whole = arith::MulIOp::create(
      b, arith::DivUIOp::create(b, length, idx(width)), idx(width));
  auto at = [&](Value j) {
    SmallVector<Value> full(point);
    full.push_back(j);
    return full;
  };
  for (const Member &member : members) {
    Block &body = member.op.getRegion().front();
    if (!member.combiner) {
      // The consumer: vectors along the row, then the elements left.
      Type element = cast<MemRefType>(member.out.getType()).getElementType();
      Value unread = arith::ConstantOp::create(b, b.getZeroAttr(element));
      raspc::emitLoop(b, idx(0), whole, idx(width), [&](Value j) {
        SmallVector<Value> args = inputsAt(member, j, /*vectors=*/true);
        args.push_back(unread); // the output's old value: never read
        vector::StoreOp::create(b, raspc::vectorizeBlock(b, body, args, width), member.out,
                                at(j));
      });
      raspc::emitLoop(b, whole, length, idx(1), [&](Value j) {
        memref::StoreOp::create(b, scalarAt(member, j), member.out, at(j));
      });
      continue;
    }
    const raspc::Combiner &combiner = *member.combiner;
    Type f32 = b.getF32Type();
    Value identity = arith::ConstantOp::create(
        b, b.getF32FloatAttr(static_cast<float>(raspc::combinerIdentity(combiner.op))));
    Value start = vector::BroadcastOp::create(b, VectorType::get({width}, f32), identity);
    Value lanes = raspc::emitLoop(b, idx(0), whole, idx(width), ValueRange{start},
                                  [&](Value j, ValueRange carried) {
                                    SmallVector<Value> args = inputsAt(member, j, true);
                                    args.push_back(carried[0]);
                                    return SmallVector<Value>{
                                        raspc::vectorizeBlock(b, body, args, width)};
                                  })
                      .front();
    vector::CombiningKind kind =
        isa<arith::AddFOp>(combiner.op)     ? vector::CombiningKind::ADD
        : isa<arith::MaximumFOp>(combiner.op) ? vector::CombiningKind::MAXIMUMF
        : isa<arith::MinimumFOp>(combiner.op) ? vector::CombiningKind::MINIMUMF
        : isa<arith::MaxNumFOp>(combiner.op)  ? vector::CombiningKind::MAXNUMF
                                              : vector::CombiningKind::MINNUMF;
    Value partial = vector::ReductionOp::create(b, kind, lanes);
    partial = raspc::emitLoop(b, whole, length, idx(1), ValueRange{partial},
                              [&](Value j, ValueRange carried) {
                                return SmallVector<Value>{
                                    raspc::combine(b, combiner, carried[0], scalarAt(member, j))};
                              })
                  .front();
    Value init =
        member.init ? Value(memref::LoadOp::create(b, member.init, point)) : member.initValue;
    Value result = raspc::combine(b, combiner, init, partial);
    rowValues.map(member.op->getResult(0), result);
    if (member.stored)
      memref::StoreOp::create(b, result, member.out, point);
  }
}

SmallVector<Value> RowKernel::emit() {
  auto memberOf = [&](Value v) {
    return llvm::any_of(members, [&](const Member &m) { return m.op->getResult(0) == v; });
  };
  // The sizes, from the first member's operands: a size read off another
  // member's result (which goes away) would dangle.
  linalg::GenericOp first = members.front().op;
  for (Range range : cast<linalg::LinalgOp>(first.getOperation()).createLoopRanges(b, b.getLoc()))
    sizes.push_back(getValueOrCreateConstantIndexOp(b, b.getLoc(), range.size));
  unsigned last = first.getNumLoops() - 1;
  for (Member &member : members) {
    linalg::GenericOp op = member.op;
    for (OpOperand *input : op.getDpsInputOperands()) {
      AffineMap map = op.getMatchingIndexingMap(input);
      if (memberOf(input->get())) {
        member.reads.push_back(Read::Member);
        member.inputs.push_back(Value());
      } else if (map.getResultPosition(getAffineDimExpr(last, b.getContext()))) {
        member.reads.push_back(Read::AlongRow);
        member.inputs.push_back(raspc::rowContiguousBuffer(b, input->get()));
      } else {
        member.reads.push_back(Read::PerRow);
        member.inputs.push_back(raspc::readOnlyBuffer(b, input->get()));
      }
    }
    auto resultType = cast<RankedTensorType>(op.getResult(0).getType());
    if (member.combiner) {
      raspc::ReductionInit init = raspc::reductionInit(b, op);
      member.initValue = init.value;
      member.init = init.buffer;
    }
    if (!member.stored)
      continue;
    ArrayRef<Value> shape = ArrayRef<Value>(sizes).take_front(resultType.getRank());
    member.out = raspc::allocateBuffer(b, resultType, getAsOpFoldResult(shape));
  }
  Value rows = idx(1);
  for (Value size : ArrayRef<Value>(sizes).drop_back())
    rows = arith::MulIOp::create(b, rows, size);
  Value tasks = arith::CeilDivUIOp::create(b, rows, idx(rowBlock));
  raspc::emitParallelTasks(b, tasks, [&](Value task) {
    Value begin = arith::MulIOp::create(b, task, idx(rowBlock));
    Value end = arith::MinUIOp::create(b, arith::AddIOp::create(b, begin, idx(rowBlock)), rows);
    raspc::emitLoop(b, begin, end, idx(1), [&](Value row) { emitRow(row); });
  });
  SmallVector<Value> results;
  for (const Member &member : members)
    results.push_back(member.stored ? Value(bufferization::ToTensorOp::create(
                                          b, member.op->getResult(0).getType(), member.out,
                                          /*restrict=*/true, /*writable=*/true))
                                    : Value());
  return results;
}

/// Replaces `group`'s results by the row kernel's and erases it.
void rewrite(ArrayRef<linalg::GenericOp> group, int64_t width, int64_t rowBlock) {
  linalg::GenericOp last = group.back();
  ImplicitLocOpBuilder b(last.getLoc(), last);
  SmallVector<Value> results = RowKernel(b, group, width, rowBlock).emit();
  for (auto [op, result] : llvm::zip(group, results))
    if (result)
      linalg::GenericOp(op).getResult(0).replaceAllUsesWith(result);
  for (linalg::GenericOp op : llvm::reverse(group)) {
    // createLoopRanges asked every operand for its sizes.
    for (Operation *user : llvm::make_early_inc_range(op->getUsers()))
      if (isa<tensor::DimOp>(user) && user->use_empty())
        user->erase();
    op.erase();
  }
}

struct ConvertRowReductionsToLoops
    : raspc::impl::ConvertRowReductionsToLoopsBase<ConvertRowReductionsToLoops> {
  using ConvertRowReductionsToLoopsBase::ConvertRowReductionsToLoopsBase;

  void runOnOperation() override {
    int64_t width = vectorWidth ? vectorWidth : raspc::hostVectorWidth();
    if (width < 1 || rowBlock < 1) {
      getOperation()->emitError(
          "convert-row-reductions-to-loops: vector-width and row-block must be positive");
      return signalPassFailure();
    }
    // Norms first: reductions with the op that reads them per row.
    // (Only all-parallel ops end a group, and a rewrite erases no other.)
    SmallVector<linalg::GenericOp> consumers;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (raspc::isPerElementGeneric(op))
        consumers.push_back(op);
    });
    for (linalg::GenericOp consumer : consumers) {
      SmallVector<linalg::GenericOp> group =
          raspc::rowGroupOf(consumer, isVectorizableMember);
      if (!group.empty())
        rewrite(group, width, rowBlock);
    }
    // Then the reductions left, a kernel each.
    SmallVector<linalg::GenericOp> reductions;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (raspc::isRowReduction(op) && isVectorizableMember(op))
        reductions.push_back(op);
    });
    for (linalg::GenericOp op : reductions)
      rewrite({op}, width, rowBlock);
  }
};

} // namespace
