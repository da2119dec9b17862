//===- HostBuffersToGPU.cpp - buffers kernels can reach ---------*- C++ -*-===//
//
// Device memory, not managed memory: no page migration in the kernels, and
// nothing of the host side of a program reads data (it reads sizes from
// descriptors; copies become kernels). The caller moves inputs and results
// (docs/abi.md, "CUDA").
//
//===----------------------------------------------------------------------===//

#include "Conversion/GPU/HostBuffersToGPU.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace raspc {
#define GEN_PASS_DEF_CONVERTHOSTBUFFERSTOGPU
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

struct ConvertHostBuffersToGPU
    : raspc::impl::ConvertHostBuffersToGPUBase<ConvertHostBuffersToGPU> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    // Code that becomes kernels (linalg ops, parallel loops) or already is
    // one keeps its accesses and private buffers.
    getOperation().walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp, scf::ParallelOp, linalg::LinalgOp>(op))
        return WalkResult::skip();
      if (isa<memref::AllocOp, memref::DeallocOp, memref::CopyOp, memref::AllocaOp,
              memref::GetGlobalOp, memref::LoadOp, memref::StoreOp>(op))
        ops.push_back(op);
      return WalkResult::advance();
    });
    bool failed = false;
    for (Operation *op : ops) {
      OpBuilder b(op);
      Location loc = op->getLoc();
      // Synchronous forms: gpu-async-region chains them with the launches
      // on the call's stream (upstream lowers them only in that form).
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        auto gpuAlloc = gpu::AllocOp::create(b, loc, alloc.getType(), /*asyncToken=*/Type(),
                                             ValueRange(), alloc.getDynamicSizes(),
                                             alloc.getSymbolOperands(), /*hostShared=*/false);
        alloc.replaceAllUsesWith(gpuAlloc.getMemref());
      } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        gpu::DeallocOp::create(b, loc, /*asyncToken=*/Type(), ValueRange(), dealloc.getMemref());
      } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
        linalg::CopyOp::create(b, loc, copy.getSource(), copy.getTarget());
      } else {
        op->emitError() << "the CUDA target cannot run '" << op->getName()
                        << "' on the host: its buffers live on the GPU";
        failed = true;
        continue;
      }
      op->erase();
    }
    if (failed)
      signalPassFailure();
  }
};

} // namespace
