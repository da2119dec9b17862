//===- LoopNestOutlining.cpp - one function per loop nest -------*- C++ -*-===//
//
// LLVM's code generation grows faster than linearly in the size of one
// function: a RASP program of 300 chained aggregates, one function of some
// 900 loop nests, spent 65 % of its compile in machine code. Each top-level
// loop nest of a function with many becomes a call of a private, never
// inlined function, and nests that are the same but for the buffers they
// are given share one (OutlinedFunctions.h), so LLVM sees a few small
// functions instead of one huge one.
//
//===----------------------------------------------------------------------===//

#include "Conversion/LoopNestOutlining/LoopNestOutlining.h"
#include "Conversion/Utils/OutlinedFunctions.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"

namespace raspc {
#define GEN_PASS_DEF_OUTLINELOOPNESTS
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

struct OutlineLoopNests : raspc::impl::OutlineLoopNestsBase<OutlineLoopNests> {
  using OutlineLoopNestsBase::OutlineLoopNestsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    raspc::OutlinedFunctions outlined;
    SmallVector<func::FuncOp> functions(module.getOps<func::FuncOp>());
    for (func::FuncOp function : functions) {
      if (function.isExternal())
        continue;
      SmallVector<Operation *> nests;
      for (Block &block : function.getBody())
        for (Operation &op : block)
          if (isa<scf::ForOp, scf::WhileOp>(op))
            nests.push_back(&op);
      if (nests.size() < minNests)
        continue;
      Operation *last = function;
      for (Operation *nest : nests)
        outline(nest, function, last, symbols, outlined);
    }
  }

  /// Outlines `nest` of `parent` into a function placed after `last`
  /// (the parent or the latest function outlined from it).
  void outline(Operation *nest, func::FuncOp parent, Operation *&last, SymbolTable &symbols,
               raspc::OutlinedFunctions &outlined) {
    MLIRContext *ctx = &getContext();
    Location loc = nest->getLoc();
    // Its operands and what its regions use from outside; constants are
    // cloned, the rest become arguments.
    llvm::SetVector<Value> used(nest->operand_begin(), nest->operand_end());
    getUsedValuesDefinedAbove(nest->getRegions(), used);
    SmallVector<Value> captures;
    for (Value v : used)
      if (!matchPattern(v, m_Constant()))
        captures.push_back(v);

    OpBuilder moduleBuilder(parent);
    moduleBuilder.setInsertionPointAfter(last);
    auto type = FunctionType::get(ctx, ValueRange(captures).getTypes(), nest->getResultTypes());
    func::FuncOp function = raspc::createOutlinedFunction(
        moduleBuilder, loc, (parent.getName() + "_nest").str(), type, symbols);
    Block *entry = function.addEntryBlock();
    OpBuilder b = OpBuilder::atBlockBegin(entry);
    IRMapping map;
    for (Value v : used)
      if (matchPattern(v, m_Constant()))
        map.map(v, b.clone(*v.getDefiningOp())->getResult(0));
    map.map(captures, entry->getArguments());
    Operation *copy = b.clone(*nest, map);
    func::ReturnOp::create(b, loc, copy->getResults());
    if (func::FuncOp earlier = outlined.findEquivalent(function)) {
      symbols.erase(function);
      function = earlier;
    } else {
      last = function;
    }

    OpBuilder callBuilder(nest);
    auto call = func::CallOp::create(callBuilder, loc, function, captures);
    nest->replaceAllUsesWith(call.getResults());
    nest->erase();
  }
};

} // namespace
