//===- EntryPoints.cpp - what an object exports ---------------------------===//
//
// A compiled program is called through `_mlir_ciface_NAME` (docs/abi.md);
// nothing else in its object is anyone's to call. Helpers the lowering adds
// (a GEMM's block product) exported, two models linked into one host
// clashed; the entry's own expanded signature exported, LLVM kept it and
// compiled the C interface's call passing every field of every descriptor
// (a checkpoint's 100 tensors: 700 arguments, a quarter second of code
// generation).
//
//===----------------------------------------------------------------------===//

#include "Conversion/EntryPoints/EntryPoints.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace raspc {
#define GEN_PASS_DEF_EXPORTENTRYPOINTS
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

struct ExportEntryPoints : raspc::impl::ExportEntryPointsBase<ExportEntryPoints> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    auto internal = LLVM::LinkageAttr::get(context, LLVM::linkage::Linkage::Internal);
    for (auto function : getOperation().getOps<func::FuncOp>()) {
      if (function.isExternal())
        continue; // a declaration: defined elsewhere
      if (function.isPublic())
        function->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(), UnitAttr::get(context));
      function->setAttr("llvm.linkage", internal);
    }
  }
};

} // namespace
