//===- RunPipeline.cpp - running a pipeline on a user's program -*- C++ -*-===//

#include "RunPipeline.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"

raspc::PipelineResult raspc::runPipeline(mlir::PassManager &pm, mlir::ModuleOp module) {
  bool reported = false;
  mlir::ScopedDiagnosticHandler noteErrors(module.getContext(), [&](mlir::Diagnostic &d) {
    reported |= d.getSeverity() == mlir::DiagnosticSeverity::Error;
    return mlir::failure(); // not handled here: the next handler prints it
  });
  if (mlir::succeeded(pm.run(module)))
    return PipelineResult::Success;
  return reported ? PipelineResult::ProgramError : PipelineResult::InternalError;
}
