//===- CPUPipeline.h - the CPU target's stages ------------------*- C++ -*-===//
//
// attn -> tiled -> loops -> llvm-dialect for CPUs. Reached through
// buildStagePipeline (Pipeline.h); never assembled inside a tool.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_PIPELINES_CPUPIPELINE_H
#define RASPC_PIPELINES_CPUPIPELINE_H

#include "Pipeline.h"

namespace raspc {

/// The CPU passes of each stage, from the IR stage before it:
/// attn -> tiled: softmax and sigmoid attention to tiled vector loops,
/// linear attention to its scans, the rest to linalg; on tensors.
void buildCPUTiledStage(mlir::OpPassManager &pm, const PipelineOptions &options);
/// tiled -> loops: bufferized; linalg to scf loops.
void buildCPULoopsStage(mlir::OpPassManager &pm, const PipelineOptions &options);
/// loops -> llvm-dialect: parallel loops onto rasprt's threads, the C
/// interface, the upstream conversions to LLVM.
void buildCPULLVMDialectStage(mlir::OpPassManager &pm, const PipelineOptions &options);

/// Tensors to buffers across function boundaries (identity layouts), with
/// ownership-based deallocation: shared by the CPU and CUDA pipelines.
void buildBufferizationPipeline(mlir::OpPassManager &pm);

} // namespace raspc

#endif // RASPC_PIPELINES_CPUPIPELINE_H
