//===- CPUPipeline.cpp - attn to LLVM for CPUs ------------------*- C++ -*-===//
//
// Softmax and sigmoid attention take the fast path (convert-attention-to-flash-loops:
// tiled online softmax, vector GEMMs, parallel tasks); every other attn op
// the reference lowering (convert-attn-to-linalg). Then upstream one-shot
// bufferization with ownership-based deallocation, loops, parallel loops
// onto the runtime's threads, and the upstream conversions to LLVM.
//
//===----------------------------------------------------------------------===//

#include "CPUPipeline.h"

#include "Conversion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

std::function<void(OpPassManager &)>
raspc::pipelineHook(const std::string &text, std::function<void(const std::string &)> onError) {
  if (text.empty())
    return nullptr;
  return [text, onError](OpPassManager &pm) {
    std::string message;
    llvm::raw_string_ostream os(message);
    if (failed(parsePassPipeline(text, pm, os)))
      onError(message);
  };
}

void raspc::buildBufferizationPipeline(OpPassManager &pm) {
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferDeallocationPipelineOptions deallocation;
  bufferization::buildBufferDeallocationPipeline(pm, deallocation);
  pm.addPass(createConvertBufferizationToMemRefPass());
}

void raspc::buildCPULoopsPipeline(OpPassManager &pm, const CPUPipelineOptions &options) {
  if (options.beforeTiling)
    options.beforeTiling(pm);
  if (options.fastAttention) {
    raspc::SelectAttentionStrategyOptions strategy;
    strategy.vectorWidth = options.vectorWidth;
    pm.addNestedPass<func::FuncOp>(raspc::createSelectAttentionStrategy(strategy));
    pm.addNestedPass<func::FuncOp>(raspc::createConvertAttentionToFlashLoops());
    pm.addNestedPass<func::FuncOp>(raspc::createConvertLinearAttentionToLoops());
  }
  pm.addNestedPass<func::FuncOp>(raspc::createConvertAttnToLinalg());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.afterTiling)
    options.afterTiling(pm);

  buildBufferizationPipeline(pm);
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(createCanonicalizerPass());
}

void raspc::buildCPULLVMPipeline(OpPassManager &pm, const CPUPipelineOptions &options) {
  if (options.beforeLLVM)
    options.beforeLLVM(pm);
  // C wrappers for the program's functions only, not for the parallel
  // bodies and the runtime's entry point that come next.
  if (options.emitCInterface)
    pm.addNestedPass<func::FuncOp>(LLVM::createLLVMRequestCWrappersPass());
  pm.addPass(raspc::createConvertParallelToRasprt());
  // Reshapes expand into affine.apply on sizes and strides, so affine goes
  // after them.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  // bf16 arithmetic (the reference lowering's matmuls, norms, residuals on
  // bf16 tensors) in f32, rounded per operation as LLVM would; then the
  // conversions as integer arithmetic: LLVM would call compiler-rt's
  // __truncsfbf2, which neither the JIT nor a plain link provides.
  arith::ArithEmulateUnsupportedFloatsOptions emulate;
  emulate.sourceTypeStrs = {"bf16"};
  pm.addPass(arith::createArithEmulateUnsupportedFloats(emulate));
  pm.addPass(raspc::createExpandBF16Conversions());
  // What LLVM has intrinsics for first; the rest (tanh, erf) from libm.
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  // Buffers through rasprt's allocator, which reuses large blocks across
  // calls (see runtime/cpu/Memory.cpp).
  FinalizeMemRefToLLVMConversionPassOptions memrefOptions;
  memrefOptions.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefOptions));
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void raspc::buildCPUPipeline(OpPassManager &pm, const CPUPipelineOptions &options) {
  buildCPULoopsPipeline(pm, options);
  buildCPULLVMPipeline(pm, options);
}

void raspc::registerCPUPipelineExtensions(DialectRegistry &registry) {
  // Upstream attaches these models (bufferization, allocation, conversion
  // to LLVM) to dialects in dozens of places; the all-in-one entry points
  // register them without loading anything, and a dialect only pays when
  // the pipeline loads it.
  registerAllDialects(registry);
  registerAllExtensions(registry);
}

void raspc::registerCPUPipelines() {
  PassPipelineRegistration<>(
      "raspc-cpu-loops", "raspc's CPU lowering up to loops over memrefs",
      [](OpPassManager &pm) { buildCPULoopsPipeline(pm, {}); });
  PassPipelineRegistration<>(
      "raspc-cpu-llvm", "raspc's CPU lowering from loops to the LLVM dialect",
      [](OpPassManager &pm) { buildCPULLVMPipeline(pm, {}); });
  PassPipelineRegistration<>(
      "raspc-cpu", "raspc's CPU lowering from attn to the LLVM dialect",
      [](OpPassManager &pm) { buildCPUPipeline(pm, {}); });
}
