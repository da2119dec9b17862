//===- CompileOptions.h - checking and resolving compile options ---------===//
//
// Between the user's CompileOptions (include/raspc/Compiler.h) and the
// stage pipelines' PipelineOptions: what every client of the compile API
// (the driver, the JIT, rasp-opt's raspc-pipeline) checks and resolves the
// same way.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_COMPILER_COMPILEOPTIONS_H
#define RASPC_COMPILER_COMPILEOPTIONS_H

#include "Pipeline.h"

#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace raspc {

/// Checks what can be checked of `options` before any work (a known
/// architecture and binary format, a stage the target has, tuning values in
/// range); writes `raspc: error: ...` lines to `errors` and returns false
/// otherwise.
bool validateOptions(const CompileOptions &options, llvm::raw_ostream &errors);

/// Resolves `options` for the stage pipelines: the CPU's vector width, the
/// inserted pipelines as callbacks (parsed when the pipeline is built; a
/// parse error goes to `onError` with what to print).
PipelineOptions
resolvePipelineOptions(const CompileOptions &options,
                       std::function<void(const std::string &)> onError);

/// Loads the options' pass plugins and registers what inserted pipelines
/// may name, once per process; false with a message in `errors` when a
/// plugin does not load.
bool preparePassRegistry(const CompileOptions &options,
                         llvm::raw_ostream &errors);

/// Held while building a pipeline that parses pass names (the registry is
/// global; plugins add to it).
std::unique_lock<std::mutex> lockPassRegistry();

/// The IR stages in pipeline order: attn, tiled, loops, llvm-dialect.
const std::vector<Stage> &irStages();

} // namespace raspc

#endif // RASPC_COMPILER_COMPILEOPTIONS_H
