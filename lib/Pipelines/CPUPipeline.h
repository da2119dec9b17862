//===- CPUPipeline.h - attn to LLVM for CPUs --------------------*- C++ -*-===//
//
// The CPU lowering as library functions, shared by raspc, rasp-opt and the
// JIT, so that a pipeline is never assembled inside a tool.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_PIPELINES_CPUPIPELINE_H
#define RASPC_PIPELINES_CPUPIPELINE_H

#include <functional>
#include <string>

namespace mlir {
class DialectRegistry;
class OpPassManager;
} // namespace mlir

namespace raspc {

struct CPUPipelineOptions {
  /// Emit C-interface wrappers (`_mlir_ciface_<name>`) for every function:
  /// the ABI the JIT and the runtime call through.
  bool emitCInterface = true;

  /// Lower softmax attention through convert-attention-to-flash-loops
  /// (tiled, vectorized, parallel). Off: everything takes the reference
  /// lowering, convert-attn-to-linalg.
  bool fastAttention = true;

  /// f32 lanes of the target's vectors for the fast attention path
  /// (select-attention-strategy); 0: this machine's.
  int64_t vectorWidth = 0;

  /// Insertion points for passes from outside (plugins, `raspc
  /// --insert-*`), each a callback that adds passes to the module pass
  /// manager at that point:
  ///  * beforeTiling: on the attn dialect, before anything is lowered;
  ///  * afterTiling: after attn ops are lowered to tiled loops (softmax
  ///    attention) and linalg on tensors (the rest);
  ///  * beforeLLVM: on loops over memrefs, before the conversion to LLVM.
  std::function<void(mlir::OpPassManager &)> beforeTiling, afterTiling, beforeLLVM;
};

/// The hook for an insertion point from a textual pipeline, e.g.
/// "func.func(my-pass)"; none for "". When the hook runs and the text does
/// not parse, `onError` gets the parser's message.
std::function<void(mlir::OpPassManager &)>
pipelineHook(const std::string &text, std::function<void(const std::string &)> onError);

/// Tensors to buffers across function boundaries (identity layouts), with
/// ownership-based deallocation: shared by the CPU and CUDA pipelines.
void buildBufferizationPipeline(mlir::OpPassManager &pm);

/// attn (tensors) -> linalg -> bufferized memrefs -> scf loops: the `loops`
/// stage of `raspc --emit`.
void buildCPULoopsPipeline(mlir::OpPassManager &pm, const CPUPipelineOptions &options);

/// The `loops` stage -> the LLVM dialect, ready for translation to LLVM IR.
void buildCPULLVMPipeline(mlir::OpPassManager &pm, const CPUPipelineOptions &options);

/// Both, in order: attn to the LLVM dialect.
void buildCPUPipeline(mlir::OpPassManager &pm, const CPUPipelineOptions &options);

/// The interfaces the pipeline relies on (bufferization models of tensor,
/// linalg and arith ops, conversions to LLVM), for contexts that do not load
/// everything as rasp-opt does.
void registerCPUPipelineExtensions(mlir::DialectRegistry &registry);

/// Registers `raspc-cpu-loops`, `raspc-cpu-llvm` and `raspc-cpu` for
/// rasp-opt's --pass-pipeline.
void registerCPUPipelines();

} // namespace raspc

#endif // RASPC_PIPELINES_CPUPIPELINE_H
