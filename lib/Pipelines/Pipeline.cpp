//===- Pipeline.cpp - the pass pipeline of each compile stage ---*- C++ -*-===//

#include "Pipeline.h"

#include "CPUPipeline.h"
#include "CUDAPipeline.h"

#include "llvm/Support/ErrorHandling.h"

void raspc::buildStagePipeline(mlir::OpPassManager &pm, Stage stage,
                               const PipelineOptions &options) {
  bool cuda = options.target.kind == Target::Kind::CUDA;
  switch (stage) {
  case Stage::Tiled:
    return cuda ? buildCUDATiledStage(pm, options)
                : buildCPUTiledStage(pm, options);
  case Stage::Loops:
    return cuda ? buildCUDALoopsStage(pm, options)
                : buildCPULoopsStage(pm, options);
  case Stage::LLVMDialect:
    return cuda ? buildCUDALLVMDialectStage(pm, options)
                : buildCPULLVMDialectStage(pm, options);
  default:
    llvm_unreachable(
        "only the tiled, loops and llvm-dialect stages run passes");
  }
}
