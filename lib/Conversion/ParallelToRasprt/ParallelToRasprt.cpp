//===- ParallelToRasprt.cpp - scf.parallel on the runtime's threads -*- C++ -*-===//
//
// The body of a parallel loop becomes a C-callable function
// `void(int64_t begin, int64_t end, void *context)`, the loop a call to
// `rasprt_parallel_for`. Values from outside the loop travel through the
// context as their LLVM lowerings; `unrealized_conversion_cast`s on both
// sides meet the ones the LLVM conversion inserts and fold away in
// reconcile-unrealized-casts. Bodies that are the same (a model's layers)
// are outlined once.
//
//===----------------------------------------------------------------------===//

#include "Conversion/ParallelToRasprt/ParallelToRasprt.h"
#include "Conversion/Utils/OutlinedFunctions.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

namespace raspc {
#define GEN_PASS_DEF_CONVERTPARALLELTORASPRT
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kParallelFor = "rasprt_parallel_for";

bool isConstant(Value v) { return matchPattern(v, m_Constant()); }

/// A static alloca at the top of the loop body: scratch that can be
/// allocated once per chunk.
bool isHoistableAlloca(Operation &op) {
  auto alloca = dyn_cast<memref::AllocaOp>(op);
  return alloca && alloca.getType().hasStaticShape() && alloca->getNumOperands() == 0;
}

struct ConvertParallelToRasprt
    : raspc::impl::ConvertParallelToRasprtBase<ConvertParallelToRasprt> {
  void runOnOperation() override;
  LogicalResult outline(scf::ParallelOp loop, SymbolTable &symbols,
                        const LLVMTypeConverter &converter, LLVM::LLVMFuncOp runtimeEntry);
  /// Bodies outlined so far. A model repeats its layers: their loops differ
  /// only in the buffers they capture, which the context carries.
  raspc::OutlinedFunctions outlined;
};

LogicalResult ConvertParallelToRasprt::outline(scf::ParallelOp loop, SymbolTable &symbols,
                                               const LLVMTypeConverter &converter,
                                               LLVM::LLVMFuncOp runtimeEntry) {
  if (loop.getNumLoops() != 1 || !loop.getInitVals().empty())
    return loop.emitError("convert-parallel-to-rasprt: only one-dimensional loops without "
                          "reductions are supported");
  auto parent = loop->getParentOfType<func::FuncOp>();
  if (!parent)
    return loop.emitError("convert-parallel-to-rasprt: the loop must be inside a func.func");
  MLIRContext *ctx = &getContext();
  Type i64 = IntegerType::get(ctx, 64);
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto bodyType = FunctionType::get(ctx, {i64, i64, ptr}, {});

  // What the body needs from outside: lower bound and step, then the values
  // the region uses. Constants are cloned, not passed.
  llvm::SetVector<Value> used;
  used.insert(loop.getLowerBound()[0]);
  used.insert(loop.getStep()[0]);
  getUsedValuesDefinedAbove(loop.getRegion(), used);
  SmallVector<Value> captures;
  SmallVector<Type> fields;
  for (Value v : used) {
    if (isConstant(v))
      continue;
    Type field = converter.convertType(v.getType());
    if (!field)
      return loop.emitError("convert-parallel-to-rasprt: cannot pass a value of type ")
             << v.getType() << " to a parallel body";
    captures.push_back(v);
    fields.push_back(field);
  }
  auto contextType = LLVM::LLVMStructType::getLiteral(ctx, fields);

  // The body function, after the function it came from.
  OpBuilder moduleBuilder(parent);
  moduleBuilder.setInsertionPointAfter(parent);
  auto body = func::FuncOp::create(moduleBuilder, loop.getLoc(),
                                   (parent.getName() + "_parallel").str(), bodyType);
  body.setPrivate();
  // Internal in the object too, so that two objects never clash.
  body->setAttr("llvm.linkage",
                LLVM::LinkageAttr::get(ctx, LLVM::linkage::Linkage::Internal));
  symbols.insert(body); // renames on a clash
  Block *entry = body.addEntryBlock();
  ImplicitLocOpBuilder b(loop.getLoc(), ctx);
  b.setInsertionPointToStart(entry);
  IRMapping map;
  for (Value v : used)
    if (isConstant(v))
      map.map(v, b.clone(*v.getDefiningOp())->getResult(0));
  for (auto [i, v] : llvm::enumerate(captures)) {
    Value field = LLVM::GEPOp::create(b, ptr, contextType, entry->getArgument(2),
                                      ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
    Value loaded = LLVM::LoadOp::create(b, fields[i], field);
    map.map(v, UnrealizedConversionCastOp::create(b, v.getType(), loaded).getResult(0));
  }
  Block &loopBody = loop.getRegion().front();
  for (Operation &op : loopBody)
    if (isHoistableAlloca(op))
      b.clone(op, map);
  Value begin = arith::IndexCastOp::create(b, b.getIndexType(), entry->getArgument(0));
  Value end = arith::IndexCastOp::create(b, b.getIndexType(), entry->getArgument(1));
  Value one = arith::ConstantIndexOp::create(b, 1);
  Value lowerBound = map.lookupOrDefault(loop.getLowerBound()[0]);
  Value step = map.lookupOrDefault(loop.getStep()[0]);
  scf::ForOp::create(b, begin, end, one, ValueRange{},
                     [&](OpBuilder &nested, Location loc, Value t, ValueRange) {
                       Value iv = arith::AddIOp::create(
                           nested, loc, lowerBound, arith::MulIOp::create(nested, loc, t, step));
                       map.map(loopBody.getArgument(0), iv);
                       for (Operation &op : loopBody.without_terminator())
                         if (!isHoistableAlloca(op))
                           nested.clone(op, map);
                       scf::YieldOp::create(nested, loc);
                     });
  func::ReturnOp::create(b);
  if (func::FuncOp earlier = outlined.findEquivalent(body)) {
    symbols.erase(body);
    body = earlier;
  }

  // The call, where the loop was.
  b.setInsertionPoint(loop);
  Value range = arith::SubIOp::create(b, loop.getUpperBound()[0], loop.getLowerBound()[0]);
  Value count = arith::CeilDivSIOp::create(b, range, loop.getStep()[0]);
  Value context;
  if (captures.empty()) {
    context = LLVM::ZeroOp::create(b, ptr);
  } else {
    Value size = LLVM::ConstantOp::create(b, i64, b.getI64IntegerAttr(1));
    context = LLVM::AllocaOp::create(b, ptr, contextType, size);
    for (auto [i, v] : llvm::enumerate(captures)) {
      Value lowered = UnrealizedConversionCastOp::create(b, fields[i], v).getResult(0);
      Value field = LLVM::GEPOp::create(b, ptr, contextType, context,
                                        ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
      LLVM::StoreOp::create(b, lowered, field);
    }
  }
  Value fn = func::ConstantOp::create(b, bodyType, SymbolRefAttr::get(body));
  Value fnPtr = UnrealizedConversionCastOp::create(b, ptr, fn).getResult(0);
  Value grain = LLVM::ConstantOp::create(b, i64, b.getI64IntegerAttr(1));
  LLVM::CallOp::create(b, runtimeEntry,
                       ValueRange{arith::IndexCastOp::create(b, i64, count), grain, fnPtr, context});
  loop.erase();
  return success();
}

void ConvertParallelToRasprt::runOnOperation() {
  ModuleOp module = getOperation();
  SmallVector<scf::ParallelOp> loops;
  module.walk([&](scf::ParallelOp loop) {
    if (!loop->getParentOfType<scf::ParallelOp>())
      loops.push_back(loop);
  });
  if (loops.empty())
    return;
  MLIRContext *ctx = &getContext();
  SymbolTable symbols(module);
  // Declared in the LLVM dialect, so that no C-interface wrapper is ever
  // requested for it.
  auto runtimeEntry = symbols.lookup<LLVM::LLVMFuncOp>(kParallelFor);
  if (!runtimeEntry) {
    OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
    Type i64 = IntegerType::get(ctx, 64);
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    runtimeEntry = LLVM::LLVMFuncOp::create(
        b, module.getLoc(), kParallelFor,
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {i64, i64, ptr, ptr}));
    symbols.insert(runtimeEntry);
  }
  LLVMTypeConverter converter(ctx);
  for (scf::ParallelOp loop : loops)
    if (failed(outline(loop, symbols, converter, runtimeEntry)))
      return signalPassFailure();
}

} // namespace
