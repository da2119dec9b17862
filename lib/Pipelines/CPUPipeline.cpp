//===- CPUPipeline.cpp - attn to LLVM for CPUs ------------------*- C++ -*-===//
//
// Today's CPU pipeline is the reference lowering: attn ops by definition
// (convert-attn-to-linalg), upstream one-shot bufferization with ownership-
// based deallocation, loops, and the upstream conversions to LLVM. Tiling,
// fusion and vectorization slot in between the first two steps.
//
//===----------------------------------------------------------------------===//

#include "CPUPipeline.h"

#include "Conversion/AttnToLinalg/AttnToLinalg.h"

#include "mlir/Conversion/Passes.h"
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

using namespace mlir;

void raspc::buildCPULoopsPipeline(OpPassManager &pm, const CPUPipelineOptions &options) {
  if (options.beforeTiling)
    options.beforeTiling(pm);
  pm.addNestedPass<func::FuncOp>(raspc::createConvertAttnToLinalg());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.afterTiling)
    options.afterTiling(pm);

  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferDeallocationPipelineOptions deallocation;
  bufferization::buildBufferDeallocationPipeline(pm, deallocation);
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(createCanonicalizerPass());
}

void raspc::buildCPULLVMPipeline(OpPassManager &pm, const CPUPipelineOptions &options) {
  if (options.beforeLLVM)
    options.beforeLLVM(pm);
  // Reshapes expand into affine.apply on sizes and strides, so affine goes
  // after them.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  if (options.emitCInterface)
    pm.addNestedPass<func::FuncOp>(LLVM::createLLVMRequestCWrappersPass());
  // What LLVM has intrinsics for first; the rest (tanh, erf) from libm.
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
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
