//===- MergeGPUModules.cpp - one gpu.module per program ---------*- C++ -*-===//
//
// Kernels move into the first gpu.module; launches are re-pointed. Symbols
// inside the moved modules are renamed on a clash (outlined kernels have
// unique names already, so this is for helper functions and globals).
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/MergeGPUModules.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

namespace raspc {
#define GEN_PASS_DEF_MERGEGPUMODULES
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

struct MergeGPUModules : raspc::impl::MergeGPUModulesBase<MergeGPUModules> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> gpuModules(module.getOps<gpu::GPUModuleOp>());
    if (gpuModules.size() < 2)
      return;
    gpu::GPUModuleOp target = gpuModules.front();
    StringAttr oldTargetName = target.getNameAttr();
    SymbolTable outer(module);
    std::string name = (target.getName() + "s").str();
    if (failed(outer.rename(target, StringAttr::get(&getContext(), name)))) {
      target.emitError("merge-gpu-modules: cannot rename the kernel module");
      return signalPassFailure();
    }
    // (old module, old symbol) -> the symbol's name in the merged module.
    DenseMap<std::pair<StringAttr, StringAttr>, StringAttr> renamed;
    SymbolTable inner(target);
    for (gpu::GPUModuleOp other : llvm::drop_begin(gpuModules)) {
      StringAttr otherName = other.getNameAttr();
      for (Operation &op : llvm::make_early_inc_range(other.getBody()->without_terminator())) {
        op.moveBefore(target.getBody(), target.getBody()->without_terminator().end());
        auto symbol = dyn_cast<SymbolOpInterface>(op);
        if (!symbol)
          continue;
        StringAttr before = symbol.getNameAttr();
        renamed[{otherName, before}] = inner.insert(&op); // renames on a clash
      }
      other.erase();
    }
    module.walk([&](gpu::LaunchFuncOp launch) {
      StringAttr from = launch.getKernelModuleName(), kernel = launch.getKernelName();
      if (auto it = renamed.find({from, kernel}); it != renamed.end())
        kernel = it->second;
      else if (from != oldTargetName && from != target.getNameAttr())
        return;
      launch.setKernelAttr(
          SymbolRefAttr::get(target.getNameAttr(), {FlatSymbolRefAttr::get(kernel)}));
    });
  }
};

} // namespace
