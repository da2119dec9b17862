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
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void raspc::buildBufferizationPipeline(OpPassManager &pm) {
  pm.addPass(raspc::createCloneSharedInits());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferDeallocationPipelineOptions deallocation;
  bufferization::buildBufferDeallocationPipeline(pm, deallocation);
  pm.addPass(createConvertBufferizationToMemRefPass());
}

void raspc::buildCPUTiledStage(OpPassManager &pm, const PipelineOptions &options) {
  if (options.beforeTiling)
    options.beforeTiling(pm);
  raspc::SelectAttentionStrategyOptions strategy;
  strategy.vectorWidth = options.vectorWidth;
  pm.addNestedPass<func::FuncOp>(raspc::createSelectAttentionStrategy(strategy));
  pm.addNestedPass<func::FuncOp>(raspc::createConvertAttentionToFlashLoops());
  pm.addNestedPass<func::FuncOp>(raspc::createConvertLinearAttentionToLoops());
  // RASP selects of index ranges as scans, before the dense lowering.
  pm.addNestedPass<func::FuncOp>(raspc::createConvertSelectsToScans());
  pm.addNestedPass<func::FuncOp>(raspc::createConvertAttnToLinalg());
  // Elementwise chains (bias, activation, residual) one generic each, so
  // that a projection's becomes its GEMM's epilogue.
  pm.addPass(raspc::createFuseElementwiseOps());
  // The model's matmuls by the same register-tile micro-kernel.
  raspc::ConvertMatmulToTiledLoopsOptions matmul;
  matmul.vectorWidth = options.vectorWidth;
  // A module pass: the matmuls share one block-product function.
  pm.addPass(raspc::createConvertMatmulToTiledLoops(matmul));
  // Norms (mean, variance, normalization) as vector row kernels.
  raspc::ConvertRowReductionsToLoopsOptions rows;
  rows.vectorWidth = options.vectorWidth;
  pm.addNestedPass<func::FuncOp>(raspc::createConvertRowReductionsToLoops(rows));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.afterTiling)
    options.afterTiling(pm);
}

void raspc::buildCPULoopsStage(OpPassManager &pm, const PipelineOptions &options) {
  // Long programs as calls of bounded parts: bufferization and LLVM grow
  // faster than linearly in the size of one function.
  pm.addPass(raspc::createSplitLongFunctions());
  raspc::buildBufferizationPipeline(pm);
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(createCanonicalizerPass());
  if (options.beforeLLVM)
    options.beforeLLVM(pm);
}

void raspc::buildCPULLVMDialectStage(OpPassManager &pm, const PipelineOptions &) {
  // C interfaces for the program's functions, everything else internal
  // (before the parallel bodies and the runtime's entry point come).
  pm.addPass(raspc::createExportEntryPoints());
  pm.addPass(raspc::createConvertParallelToRasprt());
  pm.addPass(raspc::createOutlineLoopNests());
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
