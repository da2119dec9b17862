//===- DeferredGPUBarriers.cpp - calls standing in for gpu.barrier -*- C++ -*-===//
//
// Kernels built on tensors (convert-attention-to-gpu-flash) cannot hold
// gpu.barrier through bufferization: the ownership-based deallocation
// rejects ops without declared memory effects, and gpu.barrier has none on
// purpose. Calls are accepted, so such kernels call a private declaration
// where they need a barrier; this pass, run after bufferization, puts the
// barrier back.
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/AttentionToGPUFlash.h"
#include "Conversion/GPU/DeferredGPUBarriers.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"

namespace raspc {
#define GEN_PASS_DEF_CONVERTDEFERREDGPUBARRIERS
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

struct ConvertDeferredGPUBarriers
    : raspc::impl::ConvertDeferredGPUBarriersBase<ConvertDeferredGPUBarriers> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto decl = module.lookupSymbol<func::FuncOp>(raspc::kDeferredGPUBarrier);
    if (!decl)
      return;
    SmallVector<func::CallOp> calls;
    module.walk([&](func::CallOp call) {
      if (call.getCallee() == raspc::kDeferredGPUBarrier)
        calls.push_back(call);
    });
    for (func::CallOp call : calls) {
      if (!call->getParentOfType<gpu::LaunchOp>()) {
        call.emitError("a deferred GPU barrier outside a gpu.launch");
        return signalPassFailure();
      }
      OpBuilder b(call);
      gpu::BarrierOp::create(b, call.getLoc());
      call.erase();
    }
    decl.erase();
  }
};

} // namespace
