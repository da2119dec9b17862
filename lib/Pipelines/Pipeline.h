//===- Pipeline.h - the pass pipeline of each compile stage -----*- C++ -*-===//
//
// The compile API (include/raspc/Compiler.h) runs a module through the IR
// stages attn -> tiled -> loops -> llvm-dialect; this is where each stage's
// passes are listed, per target (CPUPipeline.cpp, CUDAPipeline.cpp). A new
// stage of lowering goes into one of these builders and nowhere else: the
// driver, the JIT and rasp-opt's `raspc-pipeline` all reach it through the
// compile API (lib/Compiler).
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_PIPELINES_PIPELINE_H
#define RASPC_PIPELINES_PIPELINE_H

#include "raspc/Compiler.h"

#include <functional>
#include <string>

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace raspc {

/// A compile's options as the stage pipelines take them: the target, and
/// what the options leave open resolved (vector width, inserted pipelines).
struct PipelineOptions {
  Target target;
  int optLevel = 2;
  /// CPU: f32 lanes of the target's vectors, for select-attention-strategy
  /// (16 with AVX-512, else 8).
  int64_t vectorWidth = 8;
  /// The compile options' inserted pipelines, as callbacks adding passes.
  std::function<void(mlir::OpPassManager &)> beforeTiling, afterTiling,
      beforeLLVM;
};

/// Adds the passes that take a module from the IR stage before `stage` to
/// `stage` (tiled, loops or llvm-dialect) for `options.target`.
void buildStagePipeline(mlir::OpPassManager &pm, Stage stage,
                        const PipelineOptions &options);

} // namespace raspc

#endif // RASPC_PIPELINES_PIPELINE_H
