//===- OutlinedFunctions.cpp - one function per distinct body ---*- C++ -*-===//

#include "Conversion/Utils/OutlinedFunctions.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/OperationSupport.h"

using namespace mlir;

func::FuncOp raspc::createOutlinedFunction(OpBuilder &moduleBuilder, Location loc,
                                           StringRef name, FunctionType type,
                                           SymbolTable &symbols) {
  MLIRContext *ctx = moduleBuilder.getContext();
  auto function = func::FuncOp::create(moduleBuilder, loc, name, type);
  function.setPrivate();
  function->setAttr("llvm.linkage",
                    LLVM::LinkageAttr::get(ctx, LLVM::linkage::Linkage::Internal));
  function->setAttr("passthrough", ArrayAttr::get(ctx, {StringAttr::get(ctx, "noinline")}));
  symbols.insert(function); // renames on a clash
  return function;
}

func::FuncOp raspc::OutlinedFunctions::findEquivalent(func::FuncOp body) {
  unsigned size = 0;
  body.walk([&](Operation *) { ++size; });
  SmallVector<func::FuncOp> &same = bySize[size];
  for (func::FuncOp earlier : same)
    if (earlier.getFunctionType() == body.getFunctionType() &&
        OperationEquivalence::isRegionEquivalentTo(&earlier.getBody(), &body.getBody(),
                                                   OperationEquivalence::IgnoreLocations))
      return earlier;
  same.push_back(body);
  return {};
}
