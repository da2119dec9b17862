//===- Pipeline.cpp - the pass pipeline of each compile stage ---*- C++ -*-===//

#include "Pipeline.h"

#include "CPUPipeline.h"
#include "CUDAPipeline.h"

void raspc::buildStagePipeline(mlir::OpPassManager &pm, Stage stage,
                               const PipelineOptions &options) {
  if (options.target.kind == Target::Kind::CUDA)
    buildCUDAStage(pm, stage, options);
  else
    buildCPUStage(pm, stage, options);
}
