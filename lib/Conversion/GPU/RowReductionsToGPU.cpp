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
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/RowReductionsToGPU.h"
#include "Conversion/Utils/LoopEmission.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
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

constexpr int64_t kWarpSize = 32, kRowsPerBlock = 8;

/// The combiner of a reduction body: the op that folds the element's value
/// into the running one, and that value's operand index.
struct Combiner {
  Operation *op;
  unsigned elementOperand;
};

/// The body's final op, when it is `combine(%out, value)` (either order)
/// with an associative, commutative float combiner and %out used nowhere
/// else.
std::optional<Combiner> matchCombiner(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  BlockArgument acc = body.getArguments().back();
  Value yielded = body.getTerminator()->getOperand(0);
  Operation *combine = yielded.getDefiningOp();
  if (!combine || combine->getBlock() != &body ||
      !isa<arith::AddFOp, arith::MaximumFOp, arith::MinimumFOp, arith::MaxNumFOp,
           arith::MinNumFOp>(combine) ||
      !acc.hasOneUse())
    return std::nullopt;
  if (combine->getOperand(0) == acc)
    return Combiner{combine, 1};
  if (combine->getOperand(1) == acc)
    return Combiner{combine, 0};
  return std::nullopt;
}

/// The combiner's identity: folding it changes nothing.
double identity(Operation *combine) {
  if (isa<arith::AddFOp>(combine))
    return 0.0;
  if (isa<arith::MaximumFOp, arith::MaxNumFOp>(combine))
    return -std::numeric_limits<double>::infinity();
  return std::numeric_limits<double>::infinity();
}

class RowReductionEmitter {
public:
  RowReductionEmitter(ImplicitLocOpBuilder &b, linalg::GenericOp op, Combiner combiner)
      : b(b), op(op), combiner(combiner) {}

  /// The kernel's launch; returns the reduction's result as a tensor.
  Value emit();

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  /// combine(x, y) with the reduction's own combiner.
  Value combine(Value x, Value y) {
    OperationState state(b.getLoc(), combiner.op->getName());
    state.addOperands({x, y});
    state.addTypes(x.getType());
    state.addAttributes(combiner.op->getAttrs());
    return b.create(state)->getResult(0);
  }
  /// The element's contribution at iteration point `point`: the body up to
  /// the combiner, its block arguments the inputs' elements there.
  Value contribution(ArrayRef<Value> point);
  void emitKernel(gpu::LaunchOp launch);

  ImplicitLocOpBuilder &b;
  linalg::GenericOp op;
  Combiner combiner;
  /// Sizes of the iteration space (rows' dimensions, then the reduced one),
  /// the input buffers, the initial values (a buffer, or one value), the
  /// result, the row count.
  SmallVector<Value> sizes, inputs;
  Value init, initValue, out, rows;
};

Value RowReductionEmitter::contribution(ArrayRef<Value> point) {
  Block &body = op.getRegion().front();
  IRMapping mapping;
  for (auto [input, arg, map] :
       llvm::zip(inputs, body.getArguments().drop_back(), op.getIndexingMapsArray())) {
    SmallVector<Value> indices;
    for (AffineExpr result : map.getResults())
      indices.push_back(point[cast<AffineDimExpr>(result).getPosition()]);
    mapping.map(arg, memref::LoadOp::create(b, input, indices));
  }
  for (Operation &inner : body.without_terminator()) {
    if (&inner == combiner.op)
      break;
    if (auto index = dyn_cast<linalg::IndexOp>(inner))
      mapping.map(index.getResult(), point[index.getDim()]);
    else
      b.clone(inner, mapping);
  }
  return mapping.lookupOrDefault(combiner.op->getOperand(combiner.elementOperand));
}

void RowReductionEmitter::emitKernel(gpu::LaunchOp launch) {
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
  SmallVector<Value> point(sizes.size() - 1);
  Value rest = row;
  for (int64_t d = static_cast<int64_t>(point.size()) - 1; d >= 0; --d) {
    point[d] = d == 0 ? rest : arith::RemUIOp::create(b, rest, sizes[d]);
    if (d > 0)
      rest = arith::DivUIOp::create(b, rest, sizes[d]);
  }
  Type element = cast<RankedTensorType>(op.getResult(0).getType()).getElementType();
  Value start = arith::ConstantOp::create(b, b.getFloatAttr(element, identity(combiner.op)));
  auto loop = scf::ForOp::create(
      b, lane, sizes.back(), idx(kWarpSize), ValueRange{start},
      [&](OpBuilder &nested, Location, Value j, ValueRange partial) {
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
        SmallVector<Value> at(point);
        at.push_back(j);
        scf::YieldOp::create(b, combine(partial[0], contribution(at)));
      });
  Value partial = loop.getResult(0);
  for (int32_t offset = kWarpSize / 2; offset > 0; offset /= 2)
    partial = combine(partial, gpu::ShuffleOp::create(b, partial, offset, kWarpSize,
                                                      gpu::ShuffleMode::XOR)
                                   .getShuffleResult());
  auto first = scf::IfOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, idx(0)), false);
  b.setInsertionPointToStart(first.thenBlock());
  Value result = combine(init ? memref::LoadOp::create(b, init, point) : initValue, partial);
  memref::StoreOp::create(b, result, out, point);
}

Value RowReductionEmitter::emit() {
  auto resultType = cast<RankedTensorType>(op.getResult(0).getType());
  for (Range range : cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, b.getLoc()))
    sizes.push_back(getValueOrCreateConstantIndexOp(b, b.getLoc(), range.size));
  for (Value input : op.getDpsInputs())
    inputs.push_back(raspc::readOnlyBuffer(b, input));
  // A filled init (a zero for sums) is its value: nothing to read.
  auto fill = op.getDpsInits()[0].getDefiningOp<linalg::FillOp>();
  if (fill && fill.value().getType() == resultType.getElementType())
    initValue = fill.value();
  else
    init = raspc::readOnlyBuffer(b, op.getDpsInits()[0]);
  SmallVector<Value> outSizes;
  for (int64_t d = 0; d < resultType.getRank(); ++d)
    if (resultType.isDynamicDim(d))
      outSizes.push_back(sizes[d]);
  out = memref::AllocOp::create(
      b, MemRefType::get(resultType.getShape(), resultType.getElementType()), outSizes);
  rows = idx(1);
  for (Value size : ArrayRef<Value>(sizes).drop_back())
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
  return bufferization::ToTensorOp::create(b, resultType, out, /*restrict=*/true,
                                           /*writable=*/true);
}

struct ConvertRowReductionsToGPU
    : raspc::impl::ConvertRowReductionsToGPUBase<ConvertRowReductionsToGPU> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> ops;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (raspc::isGPURowReduction(op))
        ops.push_back(op);
    });
    for (linalg::GenericOp op : ops) {
      ImplicitLocOpBuilder b(op.getLoc(), op);
      Value result = RowReductionEmitter(b, op, *matchCombiner(op)).emit();
      op.getResult(0).replaceAllUsesWith(result);
      op.erase();
    }
  }
};

} // namespace

bool raspc::isGPURowReduction(linalg::GenericOp op) {
  if (!op.hasPureTensorSemantics() || op.getNumDpsInits() != 1 || op.getNumLoops() < 2 ||
      op->getParentOfType<gpu::LaunchOp>())
    return false;
  auto iterators = op.getIteratorTypesArray();
  if (iterators.back() != utils::IteratorType::reduction ||
      llvm::any_of(ArrayRef(iterators).drop_back(),
                   [](utils::IteratorType t) { return t != utils::IteratorType::parallel; }))
    return false;
  // The result: the rows' dimensions in order; every operand indexed by
  // plain loop dimensions (a projected permutation).
  unsigned rank = op.getNumLoops();
  AffineMap outMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (outMap.getNumResults() != rank - 1 ||
      !llvm::all_of(llvm::enumerate(outMap.getResults()), [](auto pair) {
        auto dim = dyn_cast<AffineDimExpr>(pair.value());
        return dim && dim.getPosition() == pair.index();
      }))
    return false;
  if (!llvm::all_of(op.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isProjectedPermutation(); }))
    return false;
  if (!cast<RankedTensorType>(op.getResult(0).getType()).getElementType().isF32())
    return false;
  // The body: scalar arithmetic (cloned into the kernel per element) and
  // loop indices; nothing that reads memory or captures a tensor.
  auto scalar = [](Type t) { return t.isIntOrIndexOrFloat(); };
  for (Operation &inner : op.getRegion().front().without_terminator())
    if (!isa<linalg::IndexOp>(inner) &&
        (!isa<arith::ArithDialect, math::MathDialect>(inner.getDialect()) ||
         inner.getNumRegions() != 0 || !llvm::all_of(inner.getOperandTypes(), scalar) ||
         !llvm::all_of(inner.getResultTypes(), scalar)))
      return false;
  return matchCombiner(op).has_value();
}
