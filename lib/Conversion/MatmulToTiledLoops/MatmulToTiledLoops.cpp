//===- MatmulToTiledLoops.cpp - the model's matmuls as vector GEMMs -------===//
//
// `x @ w` in a model is most of its time once attention is fast: MiniLM's
// projections and feed-forward are 99 % of a layer run as scalar loops. Here
// each f32 linalg.matmul becomes tasks of an scf.parallel (blocks of rows x
// blocks of columns, on the runtime's threads) that run the register-tile
// micro-kernel the flash loops use. We emit the kernel directly rather than
// through upstream tiling + vectorization for the reason the flash loops do:
// what makes it fast is the register tile, which the emitter states.
//
//===----------------------------------------------------------------------===//

#include "Conversion/MatmulToTiledLoops/MatmulToTiledLoops.h"
#include "Conversion/AttentionToFlashLoops/FlashStrategy.h"
#include "Conversion/Utils/LoopEmission.h"
#include "Conversion/Utils/Matmuls.h"
#include "Conversion/Utils/RegisterTileGemm.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace raspc {
#define GEN_PASS_DEF_CONVERTMATMULTOTILEDLOOPS
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

/// Whether the pass takes `op`: f32 operands and result, 2-D, the plain
/// (A row-major, B row-major) maps, and N a static multiple of `width`.
bool isCandidate(linalg::MatmulOp op, int64_t width) {
  if (!op.hasPureTensorSemantics() || op.hasUserDefinedMaps())
    return false;
  auto a = dyn_cast<RankedTensorType>(op.getInputs()[0].getType());
  auto b = dyn_cast<RankedTensorType>(op.getInputs()[1].getType());
  auto c = dyn_cast<RankedTensorType>(op.getOutputs()[0].getType());
  if (!a || !b || !c || a.getRank() != 2 || b.getRank() != 2 || !a.getElementType().isF32() ||
      !b.getElementType().isF32() || !c.getElementType().isF32())
    return false;
  int64_t n = b.getDimSize(1);
  return !ShapedType::isDynamic(n) && n > 0 && n % width == 0;
}

/// A buffer of `tensor` whose rows are contiguous (unit innermost stride),
/// so that vectors load from it; bufferization casts the operand's buffer
/// to it, or copies where its layout cannot be proven to fit.
Value rowContiguousBuffer(ImplicitLocOpBuilder &b, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto layout = StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic,
                                       {ShapedType::kDynamic, 1});
  return bufferization::ToBufferOp::create(
      b, MemRefType::get(type.getShape(), type.getElementType(), layout), tensor,
      /*read_only=*/true);
}

Value emitTiledMatmul(ImplicitLocOpBuilder &b, linalg::MatmulOp op, int64_t width,
                      int64_t rowBlock) {
  auto idx = [&](int64_t v) -> Value { return arith::ConstantIndexOp::create(b, v); };
  raspc::RegisterTileShape shape{width, 6, raspc::registerVectorsFor(width)};
  Value lhs = op.getInputs()[0], rhs = op.getInputs()[1];
  auto resultType = cast<RankedTensorType>(op.getResult(0).getType());
  int64_t n = cast<RankedTensorType>(rhs.getType()).getDimSize(1);
  // A column block is a register tile's columns where they divide N, else
  // all of N (the micro-kernel takes the remaining vectors).
  int64_t colBlock = n % shape.columns() == 0 ? shape.columns() : n;

  Value a = raspc::readOnlyBuffer(b, lhs);
  Value w = rowContiguousBuffer(b, rhs);
  Value init = raspc::initialAccumulator(op);
  Value acc = init ? rowContiguousBuffer(b, init) : Value();
  OpFoldResult m = tensor::getMixedSize(b, b.getLoc(), lhs, 0);
  Value rows = getValueOrCreateConstantIndexOp(b, b.getLoc(), m);
  Value depth = getValueOrCreateConstantIndexOp(b, b.getLoc(),
                                                tensor::getMixedSize(b, b.getLoc(), lhs, 1));
  Value out = raspc::allocateBuffer(b, resultType, {m, b.getIndexAttr(n)});

  Value colBlocks = idx(n / colBlock);
  Value rowBlocks = arith::CeilDivUIOp::create(b, rows, idx(rowBlock));
  Value tasks = arith::MulIOp::create(b, rowBlocks, colBlocks);
  scf::ParallelOp::create(
      b, ValueRange{idx(0)}, ValueRange{tasks}, ValueRange{idx(1)},
      [&](OpBuilder &nested, Location, ValueRange ivs) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
        Value r0 = arith::MulIOp::create(b, arith::DivUIOp::create(b, ivs[0], colBlocks),
                                         idx(rowBlock));
        Value c0 = arith::MulIOp::create(b, arith::RemUIOp::create(b, ivs[0], colBlocks),
                                         idx(colBlock));
        Value taskRows =
            arith::MinUIOp::create(b, idx(rowBlock), arith::SubIOp::create(b, rows, r0));
        auto vecType = VectorType::get({width}, b.getF32Type());
        auto at = [&](Value row, Value col) -> SmallVector<Value, 2> {
          return {arith::AddIOp::create(b, r0, row), arith::AddIOp::create(b, c0, col)};
        };
        raspc::RegisterTileGemm gemm{
            [&](Value row, Value k) -> Value {
              return memref::LoadOp::create(
                  b, a, ValueRange{arith::AddIOp::create(b, r0, row), k});
            },
            [&](Value k, Value col) -> Value {
              return vector::LoadOp::create(b, vecType, w,
                                            ValueRange{k, arith::AddIOp::create(b, c0, col)});
            },
            nullptr,
            [&](Value v, Value row, Value col) {
              vector::StoreOp::create(b, v, out, at(row, col));
            }};
        if (acc)
          gemm.loadC = [&](Value row, Value col) -> Value {
            return vector::LoadOp::create(b, vecType, acc, at(row, col));
          };
        raspc::emitGemm(b, gemm, shape, taskRows, colBlock, depth,
                        /*rowsAreWholeTiles=*/false);
      });
  return bufferization::ToTensorOp::create(b, resultType, out, /*restrict=*/true,
                                           /*writable=*/true);
}

struct ConvertMatmulToTiledLoops
    : raspc::impl::ConvertMatmulToTiledLoopsBase<ConvertMatmulToTiledLoops> {
  using ConvertMatmulToTiledLoopsBase::ConvertMatmulToTiledLoopsBase;

  void runOnOperation() override {
    int64_t width = vectorWidth ? vectorWidth : raspc::hostVectorWidth();
    if (width < 1 || rowBlock < 1) {
      getOperation().emitError(
          "convert-matmul-to-tiled-loops: vector-width and row-block must be positive");
      return signalPassFailure();
    }
    SmallVector<linalg::MatmulOp> ops;
    getOperation().walk([&](linalg::MatmulOp op) {
      if (isCandidate(op, width))
        ops.push_back(op);
    });
    for (linalg::MatmulOp op : ops) {
      ImplicitLocOpBuilder b(op.getLoc(), op);
      Value result = emitTiledMatmul(b, op, width, rowBlock);
      op.getResult(0).replaceAllUsesWith(result);
      op.erase();
    }
  }
};

} // namespace
