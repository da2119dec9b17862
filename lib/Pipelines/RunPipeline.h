//===- RunPipeline.h - running a pipeline on a user's program ---*- C++ -*-===//

#ifndef RASPC_PIPELINES_RUNPIPELINE_H
#define RASPC_PIPELINES_RUNPIPELINE_H

namespace mlir {
class ModuleOp;
class PassManager;
} // namespace mlir

namespace raspc {

enum class PipelineResult { Success, ProgramError, InternalError };

/// Runs `pm` on `module`. Errors that passes report on the program (a custom
/// normalizer that nothing lowered) still reach the context's other handlers,
/// which print them at their source; a failure without one is an internal
/// error, which the caller reports.
PipelineResult runPipeline(mlir::PassManager &pm, mlir::ModuleOp module);

} // namespace raspc

#endif // RASPC_PIPELINES_RUNPIPELINE_H
