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
#include "Conversion/Utils/VectorizeBody.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/TypeUtilities.h"

namespace raspc {
#define GEN_PASS_DEF_CONVERTMATMULTOTILEDLOOPS
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

/// Whether the pass takes `op`: f32, bf16 or f16 operands (widened to f32
/// as they are read: the products and sums are f32, as MLIRGen's f32
/// accumulator has them), an f32 result, 2-D, the plain (A row-major, B
/// row-major) maps, and N a static multiple of `width`.
bool isCandidate(linalg::MatmulOp op, int64_t width) {
  if (!op.hasPureTensorSemantics() || op.hasUserDefinedMaps())
    return false;
  auto a = dyn_cast<RankedTensorType>(op.getInputs()[0].getType());
  auto b = dyn_cast<RankedTensorType>(op.getInputs()[1].getType());
  auto c = dyn_cast<RankedTensorType>(op.getOutputs()[0].getType());
  auto operand = [](Type t) {
    return isa<Float32Type, BFloat16Type, Float16Type>(t);
  };
  if (!a || !b || !c || a.getRank() != 2 || b.getRank() != 2 ||
      !operand(a.getElementType()) || !operand(b.getElementType()) ||
      !c.getElementType().isF32())
    return false;
  int64_t n = b.getDimSize(1);
  return !ShapedType::isDynamic(n) && n > 0 && n % width == 0;
}

/// Whether the product's epilogue (matmulEpilogueOf) can run on the
/// register tiles' vectors: an f32 result, f32 inputs read as they are
/// ([rows, columns], a residual), along the columns (a bias) or the rows,
/// or once; a body without linalg.index.
bool isFusableEpilogue(linalg::GenericOp epilogue) {
  if (!epilogue || epilogue.getNumDpsInits() != 1 ||
      !cast<ShapedType>(epilogue.getResult(0).getType())
           .getElementType()
           .isF32() ||
      !raspc::isVectorizable(epilogue.getRegion()))
    return false;
  if (epilogue.getBody()
          ->walk([](linalg::IndexOp) { return WalkResult::interrupt(); })
          .wasInterrupted())
    return false;
  MLIRContext *context = epilogue.getContext();
  AffineMap rowsAndColumns = AffineMap::getMultiDimIdentityMap(2, context);
  AffineMap columns =
      AffineMap::get(2, 0, {getAffineDimExpr(1, context)}, context);
  AffineMap rows =
      AffineMap::get(2, 0, {getAffineDimExpr(0, context)}, context);
  AffineMap once = AffineMap::get(2, 0, {}, context);
  for (OpOperand *input : epilogue.getDpsInputOperands()) {
    auto type = dyn_cast<RankedTensorType>(input->get().getType());
    AffineMap map = epilogue.getMatchingIndexingMap(input);
    if (!type || !type.getElementType().isF32() ||
        (map != rowsAndColumns && map != columns && map != rows && map != once))
      return false;
  }
  return true;
}

/// The memref types of the shared block product's operands: any sizes and
/// layout for A (scalar loads), unit innermost stride for W and C (vector
/// loads and stores).
MemRefType anyLayout(Type element) {
  MLIRContext *context = element.getContext();
  return MemRefType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic}, element,
      StridedLayoutAttr::get(context, ShapedType::kDynamic,
                             {ShapedType::kDynamic, ShapedType::kDynamic}));
}
MemRefType rowContiguous(Type element) {
  MLIRContext *context = element.getContext();
  return MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, element,
                         StridedLayoutAttr::get(context, ShapedType::kDynamic,
                                                {ShapedType::kDynamic, 1}));
}
/// B packed once (rasprt_gemm_panels): f32, empty when there is none.
MemRefType panelsType(MLIRContext *context) {
  return MemRefType::get({ShapedType::kDynamic}, Float32Type::get(context));
}

/// The runtime's rasprt_gemm_panels (rasprt.h), declared once per module:
/// the panels of a weight matrix a host keeps across calls, packed once.
func::FuncOp panelsFunction(ModuleOp module) {
  constexpr llvm::StringLiteral name = "rasprt_gemm_panels";
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  MLIRContext *context = module.getContext();
  Type index = IndexType::get(context), i32 = IntegerType::get(context, 32);
  // aligned pointer, offset, rows, cols, row stride, dtype, transposed,
  // block columns
  auto type = FunctionType::get(context, {index, index, index, index, index, i32, i32, index},
                                {panelsType(context)});
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto function = func::FuncOp::create(b, module.getLoc(), name, type);
  function.setPrivate();
  // Called as _mlir_ciface_rasprt_gemm_panels(&result, ...).
  function->setAttr("llvm.emit_c_interface", UnitAttr::get(context));
  return function;
}

/// rasprt_dtype's code for a weight element type.
int32_t rasprtDtype(Type element) {
  if (element.isBF16())
    return 2; // RASPRT_BF16
  if (element.isF16())
    return 1; // RASPRT_F16
  return 0;   // RASPRT_F32
}

/// `v` (a scalar or vector of f32, bf16 or f16) as f32.
Value widened(ImplicitLocOpBuilder &b, Value v) {
  Type f32 = b.getF32Type();
  if (getElementTypeOrSelf(v.getType()) == f32)
    return v;
  if (auto vector = dyn_cast<VectorType>(v.getType()))
    return arith::ExtFOp::create(b, vector.clone(f32), v);
  return arith::ExtFOp::create(b, f32, v);
}

/// The transpose of a square of `rows.size()` vectors as many wide (a
/// power of two), by halves: at each step, blocks of `s` lanes trade places
/// between rows i and i + s. x86 does each step's shuffle in one vpermt2ps.
SmallVector<Value> transposeSquare(ImplicitLocOpBuilder &b,
                                   SmallVector<Value> rows) {
  int64_t size = static_cast<int64_t>(rows.size());
  for (int64_t s = size / 2; s >= 1; s /= 2) {
    SmallVector<int64_t> low, high;
    for (int64_t e = 0; e < size; ++e) {
      low.push_back(e & s ? size + e - s : e);
      high.push_back(e & s ? size + e : e + s);
    }
    for (int64_t i = 0; i < size; ++i) {
      if (i & s)
        continue;
      Value first = rows[i], second = rows[i + s];
      rows[i] = vector::ShuffleOp::create(b, first, second, low);
      rows[i + s] = vector::ShuffleOp::create(b, first, second, high);
    }
  }
  return rows;
}

/// Fills panel[0 .. steps, 0 .. cols) with rows k0 .. k0 + steps of W
/// (widened to f32). `transposed`: `w` holds W's transpose, [N, K] as
/// nn.Linear stores its weights, and squares of width x width are
/// transposed on the way (the rest of the steps, one element at a time):
/// the GEMM reads the weights as they are instead of a transposed copy
/// made at every call.
void fillPanel(ImplicitLocOpBuilder &b, int64_t width, int64_t cols,
               bool transposed, Value w, Value panel, Value k0, Value c0,
               Value steps) {
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, v);
  };
  auto add = [&](Value x, Value y) -> Value {
    return arith::AddIOp::create(b, x, y);
  };
  Type wType = cast<MemRefType>(w.getType()).getElementType();
  auto wVec = VectorType::get({width}, wType);
  if (!transposed) {
    raspc::emitLoop(b, idx(0), steps, idx(1), [&](Value k) {
      for (int64_t col = 0; col < cols; col += width) {
        Value row = vector::LoadOp::create(
            b, wVec, w, ValueRange{add(k0, k), add(c0, idx(col))});
        vector::StoreOp::create(b, widened(b, row), panel,
                                ValueRange{k, idx(col)});
      }
    });
    return;
  }
  Value squares = arith::MulIOp::create(
      b, arith::DivUIOp::create(b, steps, idx(width)), idx(width));
  raspc::emitLoop(b, idx(0), squares, idx(width), [&](Value k) {
    for (int64_t col = 0; col < cols; col += width) {
      SmallVector<Value> rows;
      for (int64_t j = 0; j < width; ++j)
        rows.push_back(vector::LoadOp::create(
            b, wVec, w, ValueRange{add(c0, idx(col + j)), add(k0, k)}));
      SmallVector<Value> columns = transposeSquare(b, rows);
      for (int64_t i = 0; i < width; ++i)
        vector::StoreOp::create(b, widened(b, columns[i]), panel,
                                ValueRange{add(k, idx(i)), idx(col)});
    }
  });
  raspc::emitLoop(b, squares, steps, idx(1), [&](Value k) {
    for (int64_t col = 0; col < cols; col += width) {
      SmallVector<Value> elements;
      for (int64_t j = 0; j < width; ++j)
        elements.push_back(memref::LoadOp::create(
            b, w, ValueRange{add(c0, idx(col + j)), add(k0, k)}));
      Value row = vector::FromElementsOp::create(b, wVec, elements);
      vector::StoreOp::create(b, widened(b, row), panel,
                              ValueRange{k, idx(col)});
    }
  });
}

/// C[r0 .. r0 + rows, c0 .. c0 + cols) += A[those rows] . W[:, those
/// columns], `depthBlock` steps of the reduction at a time: those rows of W
/// copied into a contiguous stack panel that stays in L1 while every
/// register tile of the rows streams over it. Read in place, W's rows are N
/// apart, and at N = 384 or 1536 their lines fall into a few L1 sets.
///
/// With `panels` not empty (W packed once by the runtime, blocks of the
/// register tile's columns, each [depth, width]) the panel is read from
/// there and nothing is copied.
void emitBlockProduct(ImplicitLocOpBuilder &b,
                      const raspc::RegisterTileShape &shape, int64_t depthBlock,
                      int64_t cols, bool transposed, Value a, Value w, Value panels,
                      Value out, Value r0, Value c0, Value rows, Value depth) {
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, v);
  };
  auto add = [&](Value x, Value y) -> Value {
    return arith::AddIOp::create(b, x, y);
  };
  auto vec = VectorType::get({shape.width}, b.getF32Type());
  // The panel holds f32 whatever W's type: 16-bit weights widen once per
  // block, not once per register tile.
  Value panel = memref::AllocaOp::create(
      b, MemRefType::get({depthBlock, cols}, b.getF32Type()),
      b.getI64IntegerAttr(64));
  Value packed = arith::CmpIOp::create(b, arith::CmpIPredicate::ne,
                                       memref::DimOp::create(b, panels, 0), idx(0));
  auto viewType = MemRefType::get(
      {ShapedType::kDynamic, cols}, b.getF32Type(),
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, {cols, 1}));
  raspc::emitLoop(b, idx(0), depth, idx(depthBlock), [&](Value k0) {
    Value steps = arith::MinUIOp::create(b, idx(depthBlock),
                                         arith::SubIOp::create(b, depth, k0));
    auto choose = scf::IfOp::create(b, viewType, packed, /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(choose.thenBlock());
      // Rows k0 .. k0 + steps of this block's [depth, cols] in the panels.
      Value offset = add(arith::MulIOp::create(b, c0, depth),
                         arith::MulIOp::create(b, k0, idx(cols)));
      Value view = memref::ReinterpretCastOp::create(
          b, viewType, panels, OpFoldResult(offset),
          ArrayRef<OpFoldResult>{steps, b.getIndexAttr(cols)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(cols), b.getIndexAttr(1)});
      scf::YieldOp::create(b, view);
      b.setInsertionPointToStart(choose.elseBlock());
      fillPanel(b, shape.width, cols, transposed, w, panel, k0, c0, steps);
      scf::YieldOp::create(b, Value(memref::CastOp::create(b, viewType, panel)));
    }
    Value source = choose.getResult(0);
    auto at = [&](Value row, Value col) -> SmallVector<Value, 2> {
      return {add(r0, row), add(c0, col)};
    };
    raspc::RegisterTileGemm gemm{
        [&](Value row, Value k) -> Value {
          return widened(b, memref::LoadOp::create(
                                b, a, ValueRange{add(r0, row), add(k0, k)}));
        },
        [&](Value k, Value col) -> Value {
          return vector::LoadOp::create(b, vec, source, ValueRange{k, col});
        },
        [&](Value row, Value col) -> Value {
          return vector::LoadOp::create(b, vec, out, at(row, col));
        },
        [&](Value v, Value row, Value col) {
          vector::StoreOp::create(b, v, out, at(row, col));
        }};
    raspc::emitGemm(b, gemm, shape, rows, cols, steps,
                    /*rowsAreWholeTiles=*/false);
  });
}

/// The block product for blocks `cols` wide as a private function of
/// `module`, made the first time a matmul asks: every matmul of a program
/// calls the same one, so LLVM compiles the micro-kernel once, not once per
/// projection (a layer has six).
///   func.func private @raspc_gemm_block_w<width>_c<cols>_k<depth block>
///       [_t for W given transposed][_<A's type>_<W's type> when not f32](
///       %a, %w, %panels, %out, %r0, %c0, %rows, %depth)
func::FuncOp blockProductFunction(ModuleOp module,
                                  const raspc::RegisterTileShape &shape,
                                  int64_t depthBlock, int64_t cols,
                                  bool transposed, Type aType, Type wType) {
  std::string name = "raspc_gemm_block_w" + std::to_string(shape.width) + "_c" +
                     std::to_string(cols) + "_k" + std::to_string(depthBlock) +
                     (transposed ? "_t" : "");
  MLIRContext *context = module.getContext();
  Type f32 = Float32Type::get(context);
  if (aType != f32 || wType != f32) {
    llvm::raw_string_ostream os(name);
    os << "_" << aType << "_" << wType;
  }
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  Type index = IndexType::get(context);
  auto type =
      FunctionType::get(context,
                        {anyLayout(aType), rowContiguous(wType), panelsType(context),
                         rowContiguous(f32), index, index, index, index},
                        {});
  ImplicitLocOpBuilder b(module.getLoc(), module.getBody(),
                         module.getBody()->end());
  auto function = func::FuncOp::create(b, name, type);
  function.setPrivate();
  Block *entry = function.addEntryBlock();
  b.setInsertionPointToStart(entry);
  ValueRange args = entry->getArguments();
  emitBlockProduct(b, shape, depthBlock, cols, transposed, args[0], args[1],
                   args[2], args[3], args[4], args[5], args[6], args[7]);
  func::ReturnOp::create(b);
  return function;
}

/// One matmul as parallel tasks. A task owns a block of `rowBlock` rows x
/// one register tile's columns (64 with AVX-512; the last block may be
/// narrower) of the result, which it first fills with the accumulator (or
/// zeros) and then accumulates into by the shared block product. With an
/// epilogue (bias, activation, residual),
/// a last pass over the block, still in cache, finishes each element and
/// the result replaces the epilogue's.
class TiledMatmul {
public:
  TiledMatmul(ImplicitLocOpBuilder &b, ModuleOp module, linalg::MatmulOp op,
              linalg::GenericOp epilogue, int64_t width, int64_t rowBlock,
              int64_t depthBlock)
      : b(b), module(module), op(op), epilogue(epilogue), rowBlock(rowBlock),
        depthBlock(depthBlock), shape{width, 6,
                                      raspc::registerVectorsFor(width)},
        vec(VectorType::get({width}, b.getF32Type())) {}

  Value emit();

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  void emitTask(Value task);
  void emitBlock(Value r0, Value c0, Value rows, int64_t cols);
  /// The epilogue on the product's vector at [row, col .. col + width).
  Value emitEpilogue(Value product, Value row, Value col);
  /// W's panels packed once when W is an argument (a model's weight, which
  /// a host may keep in a rasprt_panel_cache), else an empty buffer.
  Value lookUpPanels(Value weight);

  ImplicitLocOpBuilder &b;
  ModuleOp module;
  linalg::MatmulOp op;
  linalg::GenericOp epilogue;
  int64_t rowBlock, depthBlock;
  raspc::RegisterTileShape shape;
  VectorType vec;
  int64_t n = 0;
  Value a, w, panels, acc, out, rows, depth, colBlocks;
  /// `w` holds W's transpose ([N, K]): linear()'s weights, read as they are.
  bool transposedW = false;
  /// Per epilogue input: its buffer, or null for the product.
  SmallVector<Value> epilogueInputs;
};

Value TiledMatmul::emit() {
  Value lhs = op.getInputs()[0], rhs = op.getInputs()[1];
  // The type of what the result replaces (an epilogue's may be more static).
  auto resultType = cast<RankedTensorType>(
      (epilogue ? epilogue.getResult(0) : op.getResult(0)).getType());
  n = cast<RankedTensorType>(rhs.getType()).getDimSize(1);
  a = raspc::readOnlyBuffer(b, lhs);
  if (auto transpose = rhs.getDefiningOp<linalg::TransposeOp>();
      transpose && transpose.hasPureTensorSemantics() &&
      transpose.getPermutation() == ArrayRef<int64_t>{1, 0}) {
    rhs = transpose.getInput();
    transposedW = true;
  }
  w = raspc::rowContiguousBuffer(b, rhs);
  panels = lookUpPanels(rhs);
  if (Value init = raspc::initialAccumulator(op))
    acc = raspc::rowContiguousBuffer(b, init);
  OpFoldResult m = tensor::getMixedSize(b, b.getLoc(), lhs, 0);
  rows = getValueOrCreateConstantIndexOp(b, b.getLoc(), m);
  depth = getValueOrCreateConstantIndexOp(
      b, b.getLoc(), tensor::getMixedSize(b, b.getLoc(), lhs, 1));
  out = raspc::allocateBuffer(b, resultType, {m, b.getIndexAttr(n)});
  if (epilogue)
    for (OpOperand *input : epilogue.getDpsInputOperands())
      epilogueInputs.push_back(input->get() == op.getResult(0)
                                   ? Value()
                                   : raspc::rowContiguousBuffer(b, input->get()));
  colBlocks = idx(llvm::divideCeil(n, shape.columns()));
  Value tasks = arith::MulIOp::create(
      b, arith::CeilDivUIOp::create(b, rows, idx(rowBlock)), colBlocks);
  Operation *parallel =
      raspc::emitParallelTasks(b, tasks, [&](Value task) { emitTask(task); });
  // An epilogue's exp, erf (exact GELU) and tanh as polynomials on the
  // vectors: libm would be called per lane.
  if (epilogue)
    raspc::approximateMath(parallel, {"math.exp", "math.erf", "math.tanh"});
  return bufferization::ToTensorOp::create(b, resultType, out,
                                           /*restrict=*/true,
                                           /*writable=*/true);
}

Value TiledMatmul::lookUpPanels(Value weight) {
  MLIRContext *context = b.getContext();
  auto arg = dyn_cast<BlockArgument>(weight);
  if (!arg || !isa<func::FuncOp>(arg.getOwner()->getParentOp()) ||
      !arg.getOwner()->isEntryBlock()) {
    Value none = memref::AllocaOp::create(b, MemRefType::get({0}, b.getF32Type()));
    return memref::CastOp::create(b, panelsType(context), none);
  }
  auto metadata = memref::ExtractStridedMetadataOp::create(b, w);
  Value aligned = memref::ExtractAlignedPointerAsIndexOp::create(b, w);
  auto i32 = [&](int64_t v) -> Value {
    return arith::ConstantOp::create(b, b.getI32IntegerAttr(static_cast<int32_t>(v)));
  };
  Type element = cast<MemRefType>(w.getType()).getElementType();
  return func::CallOp::create(
             b, panelsFunction(module),
             ValueRange{aligned, metadata.getOffset(), metadata.getSizes()[0],
                        metadata.getSizes()[1], metadata.getStrides()[0],
                        i32(rasprtDtype(element)), i32(transposedW), idx(shape.columns())})
      .getResult(0);
}

void TiledMatmul::emitTask(Value task) {
  Value r0 = arith::MulIOp::create(
      b, arith::DivUIOp::create(b, task, colBlocks), idx(rowBlock));
  Value c0 = arith::MulIOp::create(
      b, arith::RemUIOp::create(b, task, colBlocks), idx(shape.columns()));
  Value taskRows = arith::MinUIOp::create(b, idx(rowBlock),
                                          arith::SubIOp::create(b, rows, r0));
  int64_t tail = n % shape.columns();
  if (tail == 0) {
    emitBlock(r0, c0, taskRows, shape.columns());
    return;
  }
  // The last block of columns is narrower: a kernel of its own width.
  Value whole = arith::CmpIOp::create(b, arith::CmpIPredicate::ule,
                                      add(c0, idx(shape.columns())), idx(n));
  scf::IfOp::create(
      b, whole,
      [&](OpBuilder &nested, Location) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(),
                            nested.getInsertionPoint());
        emitBlock(r0, c0, taskRows, shape.columns());
        scf::YieldOp::create(b);
      },
      [&](OpBuilder &nested, Location) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(),
                            nested.getInsertionPoint());
        emitBlock(r0, c0, taskRows, tail);
        scf::YieldOp::create(b);
      });
}

void TiledMatmul::emitBlock(Value r0, Value c0, Value taskRows, int64_t cols) {
  int64_t vectors = cols / shape.width;
  // Every vector of the block's rows, at [row, col .. col + width).
  auto forEachVector = [&](function_ref<void(Value row, Value col)> body) {
    raspc::emitLoop(b, idx(0), taskRows, idx(1), [&](Value row) {
      for (int64_t v = 0; v < vectors; ++v)
        body(add(r0, row), add(c0, idx(v * shape.width)));
    });
  };
  // The block starts from the accumulator, or zeros.
  Value zero = vector::BroadcastOp::create(
      b, vec, arith::ConstantOp::create(b, b.getF32FloatAttr(0.0)));
  forEachVector([&](Value row, Value col) {
    SmallVector<Value, 2> at = {row, col};
    vector::StoreOp::create(
        b, acc ? vector::LoadOp::create(b, vec, acc, at) : zero, out, at);
  });
  Type aType = cast<MemRefType>(a.getType()).getElementType();
  Type wType = cast<MemRefType>(w.getType()).getElementType();
  func::FuncOp product = blockProductFunction(module, shape, depthBlock, cols,
                                              transposedW, aType, wType);
  func::CallOp::create(
      b, product,
      ValueRange{memref::CastOp::create(b, anyLayout(aType), a),
                 memref::CastOp::create(b, rowContiguous(wType), w), panels,
                 memref::CastOp::create(b, rowContiguous(b.getF32Type()), out),
                 r0, c0, taskRows, depth});
  if (!epilogue)
    return;
  forEachVector([&](Value row, Value col) {
    Value product = vector::LoadOp::create(b, vec, out, ValueRange{row, col});
    vector::StoreOp::create(b, emitEpilogue(product, row, col), out, ValueRange{row, col});
  });
}

Value TiledMatmul::emitEpilogue(Value product, Value row, Value col) {
  SmallVector<Value> args;
  for (auto [input, buffer] :
       llvm::zip(epilogue.getDpsInputOperands(), epilogueInputs)) {
    if (!buffer) {
      args.push_back(product);
      continue;
    }
    // Its map is one of isFusableEpilogue's: by its results.
    AffineMap map = epilogue.getMatchingIndexingMap(input);
    if (map.getNumResults() == 2)
      args.push_back(
          vector::LoadOp::create(b, vec, buffer, ValueRange{row, col}));
    else if (map.getNumResults() == 0)
      args.push_back(memref::LoadOp::create(b, buffer, ValueRange{}));
    else if (map.getDimPosition(0) == 1)
      args.push_back(vector::LoadOp::create(b, vec, buffer, ValueRange{col}));
    else
      args.push_back(memref::LoadOp::create(b, buffer, ValueRange{row}));
  }
  args.push_back(product); // the output's block argument, never read
  return raspc::vectorizeBlock(b, *epilogue.getBody(), args, shape.width);
}

struct ConvertMatmulToTiledLoops
    : raspc::impl::ConvertMatmulToTiledLoopsBase<ConvertMatmulToTiledLoops> {
  using ConvertMatmulToTiledLoopsBase::ConvertMatmulToTiledLoopsBase;

  void runOnOperation() override {
    int64_t width = vectorWidth ? vectorWidth : raspc::hostVectorWidth();
    if (width < 1 || rowBlock < 1 || depthBlock < 1) {
      getOperation().emitError(
          "convert-matmul-to-tiled-loops: vector-width, row-block and "
          "depth-block must be positive");
      return signalPassFailure();
    }
    SmallVector<linalg::MatmulOp> ops;
    getOperation().walk([&](linalg::MatmulOp op) {
      if (isCandidate(op, width))
        ops.push_back(op);
    });
    for (linalg::MatmulOp op : ops) {
      // With an epilogue, at its place: what it reads besides the product
      // may be computed after the matmul.
      linalg::GenericOp epilogue = raspc::matmulEpilogueOf(op);
      // In the matmul's block: elsewhere (inside a loop, say) the whole
      // product would move there.
      if (!isFusableEpilogue(epilogue) || epilogue->getBlock() != op->getBlock())
        epilogue = {};
      Operation *replaced =
          epilogue ? epilogue.getOperation() : op.getOperation();
      ImplicitLocOpBuilder b(replaced->getLoc(), replaced);
      Value result = TiledMatmul(b, op->getParentOfType<ModuleOp>(), op,
                                 epilogue, width,
                                 rowBlock, depthBlock)
                         .emit();
      auto transpose = op.getInputs()[1].getDefiningOp<linalg::TransposeOp>();
      replaced->getResult(0).replaceAllUsesWith(result);
      replaced->erase();
      if (epilogue)
        op.erase();
      // A transpose the product read through is dead when only it used it.
      if (transpose && transpose->use_empty())
        transpose.erase();
    }
  }
};

} // namespace
