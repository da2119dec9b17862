//===- SplitLongFunctions.cpp - long functions as calls of parts -*- C++ -*-===//
//
// One-Shot Bufferize, buffer deallocation and LLVM's code generation all
// take more than linear time in the size of one function: a RASP program of
// 1000 chained aggregates (one function of some 1000 operations on tensors)
// spent 3.5 s bufferizing, 2.5 s simplifying deallocations and 4 s in
// machine code. Cut into consecutive parts of a bounded number of
// operations, each part a function of its own, every one of those steps
// sees small functions; parts that are the same but for their arguments
// share one function (OutlinedFunctions.h), so a repeated chain is compiled
// once.
//
//===----------------------------------------------------------------------===//

#include "Conversion/FunctionSplitting/SplitLongFunctions.h"
#include "Conversion/Utils/OutlinedFunctions.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace raspc {
#define GEN_PASS_DEF_SPLITLONGFUNCTIONS
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

bool isConstant(Operation *op) { return op->hasTrait<OpTrait::ConstantLike>(); }

struct SplitLongFunctions : raspc::impl::SplitLongFunctionsBase<SplitLongFunctions> {
  using SplitLongFunctionsBase::SplitLongFunctionsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    raspc::OutlinedFunctions outlined;
    SmallVector<func::FuncOp> functions(module.getOps<func::FuncOp>());
    for (func::FuncOp function : functions) {
      if (function.isExternal() || !function.getBody().hasOneBlock())
        continue;
      // Cut the body (constants aside: each part clones those it uses) into
      // parts of `part-ops` operations; a short last part joins the one
      // before it.
      Block &body = function.getBody().front();
      SmallVector<SmallVector<Operation *>> parts(1);
      for (Operation &op : body.without_terminator()) {
        if (isConstant(&op))
          continue;
        if (parts.back().size() == partOps)
          parts.emplace_back();
        parts.back().push_back(&op);
      }
      size_t total = 0;
      for (const auto &part : parts)
        total += part.size();
      if (total < minOps || parts.size() < 2)
        continue;
      if (parts.back().size() < partOps / 2 && parts.size() > 2) {
        SmallVector<Operation *> tail = parts.pop_back_val();
        parts.back().append(tail);
      }
      Operation *last = function;
      for (ArrayRef<Operation *> part : parts)
        outline(part, function, last, symbols, outlined);
    }
  }

  /// Moves `part` (consecutive operations of `parent`) into a function
  /// placed after `last` and calls it where they were.
  void outline(ArrayRef<Operation *> part, func::FuncOp parent, Operation *&last,
               SymbolTable &symbols, raspc::OutlinedFunctions &outlined) {
    MLIRContext *ctx = &getContext();
    Location loc = part.front()->getLoc();
    llvm::SmallPtrSet<Operation *, 32> inPart(part.begin(), part.end());
    auto isInside = [&](Operation *op) {
      for (; op; op = op->getParentOp())
        if (inPart.contains(op))
          return true;
      return false;
    };
    // What the part reads from before it: constants are cloned, the rest
    // become arguments. What it defines and later operations read: results.
    llvm::SetVector<Value> used;
    for (Operation *op : part) {
      used.insert(op->operand_begin(), op->operand_end());
      getUsedValuesDefinedAbove(op->getRegions(), used);
    }
    SmallVector<Value> arguments, constants;
    for (Value v : used) {
      Operation *def = v.getDefiningOp();
      if (def && inPart.contains(def))
        continue;
      (def && isConstant(def) ? constants : arguments).push_back(v);
    }
    SmallVector<Value> results;
    for (Operation *op : part)
      for (Value r : op->getResults())
        if (llvm::any_of(r.getUsers(), [&](Operation *user) { return !isInside(user); }))
          results.push_back(r);

    OpBuilder moduleBuilder(parent);
    moduleBuilder.setInsertionPointAfter(last);
    auto type = FunctionType::get(ctx, ValueRange(arguments).getTypes(),
                                  ValueRange(results).getTypes());
    func::FuncOp function = raspc::createOutlinedFunction(
        moduleBuilder, loc, (parent.getName() + "_part").str(), type, symbols);
    Block *entry = function.addEntryBlock();

    OpBuilder callBuilder(part.front());
    auto call = func::CallOp::create(callBuilder, loc, function, arguments);

    OpBuilder b = OpBuilder::atBlockBegin(entry);
    auto useInside = [&](OpOperand &use) { return isInside(use.getOwner()); };
    for (Value c : constants)
      c.replaceUsesWithIf(b.clone(*c.getDefiningOp())->getResult(0), useInside);
    for (auto [v, arg] : llvm::zip(arguments, entry->getArguments()))
      v.replaceUsesWithIf(arg, useInside);
    for (auto [r, callResult] : llvm::zip(results, call.getResults()))
      r.replaceUsesWithIf(callResult, [&](OpOperand &use) { return !isInside(use.getOwner()); });
    for (Operation *op : part)
      op->moveBefore(entry, entry->end());
    OpBuilder end = OpBuilder::atBlockEnd(entry);
    func::ReturnOp::create(end, loc, results);

    if (func::FuncOp earlier = outlined.findEquivalent(function)) {
      call.setCallee(earlier.getName());
      symbols.erase(function);
    } else {
      last = function;
    }
  }
};

} // namespace
