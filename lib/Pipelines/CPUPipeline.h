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

/// Adds the CPU passes that produce `stage` from the IR stage before it.
void buildCPUStage(mlir::OpPassManager &pm, Stage stage, const PipelineOptions &options);

/// Tensors to buffers across function boundaries (identity layouts), with
/// ownership-based deallocation: shared by the CPU and CUDA pipelines.
void buildBufferizationPipeline(mlir::OpPassManager &pm);

} // namespace raspc

#endif // RASPC_PIPELINES_CPUPIPELINE_H
