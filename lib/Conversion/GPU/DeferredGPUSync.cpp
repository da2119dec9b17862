//===- DeferredGPUSync.cpp - calls standing in for GPU sync ops --*- C++ -*-===//
//
// Kernels built on tensors (convert-attention-to-gpu-flash) cannot hold
// gpu.barrier or NVVM's cp.async group ops through bufferization: the
// ownership-based deallocation rejects ops without declared memory effects,
// and these have none on purpose. Calls are accepted, so such kernels call
// private declarations where they need them; this pass, run after
// bufferization, puts the real ops back.
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/DeferredGPUSync.h"
#include "Conversion/GPU/SharedMemoryTiles.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"

namespace raspc {
#define GEN_PASS_DEF_CONVERTDEFERREDGPUSYNC
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

struct ConvertDeferredGPUSync
    : raspc::impl::ConvertDeferredGPUSyncBase<ConvertDeferredGPUSync> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    const StringRef names[] = {raspc::kDeferredGPUBarrier, raspc::kDeferredCpAsyncCommit,
                               raspc::kDeferredCpAsyncWait};
    SmallVector<func::CallOp> calls;
    module.walk([&](func::CallOp call) {
      if (llvm::is_contained(names, call.getCallee()))
        calls.push_back(call);
    });
    for (func::CallOp call : calls) {
      if (!call->getParentOfType<gpu::LaunchOp>()) {
        call.emitError("'") << call.getCallee() << "' outside a gpu.launch";
        return signalPassFailure();
      }
      OpBuilder b(call);
      Location loc = call.getLoc();
      if (call.getCallee() == raspc::kDeferredGPUBarrier) {
        gpu::BarrierOp::create(b, loc);
      } else if (call.getCallee() == raspc::kDeferredCpAsyncCommit) {
        NVVM::CpAsyncCommitGroupOp::create(b, loc);
      } else {
        APInt pending;
        if (call.getNumOperands() != 1 ||
            !matchPattern(call.getOperand(0), m_ConstantInt(&pending))) {
          call.emitError("'") << call.getCallee() << "' needs a constant group count";
          return signalPassFailure();
        }
        NVVM::CpAsyncWaitGroupOp::create(b, loc, pending.getSExtValue());
      }
      call.erase();
    }
    for (StringRef name : names)
      if (auto decl = module.lookupSymbol<func::FuncOp>(name))
        decl.erase();
  }
};

} // namespace
