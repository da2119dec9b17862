//===- CUDAPipeline.h - the CUDA target's stages ----------------*- C++ -*-===//
//
// attn -> tiled -> loops -> llvm-dialect for NVIDIA GPUs, like the CPU
// target's (CPUPipeline.h), and what only CUDA compiles need.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_PIPELINES_CUDAPIPELINE_H
#define RASPC_PIPELINES_CUDAPIPELINE_H

#include "Pipeline.h"

#include <optional>
#include <string>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace raspc {

/// The CUDA passes of each stage, from the IR stage before it:
/// attn -> tiled: attention, matmuls and row reductions to kernels, the rest
/// to linalg; on tensors.
void buildCUDATiledStage(mlir::OpPassManager &pm, const PipelineOptions &options);
/// tiled -> loops: bufferized; linalg to parallel loops mapped to blocks
/// and threads (gpu.launch).
void buildCUDALoopsStage(mlir::OpPassManager &pm, const PipelineOptions &options);
/// loops -> llvm-dialect: kernels outlined into one gpu.module, NVVM,
/// serialized; host code calling the mgpu* runtime ABI.
void buildCUDALLVMDialectStage(mlir::OpPassManager &pm, const PipelineOptions &options);

/// The toolkit `target` resolves to: its toolkitPath, else the one found
/// when raspc was built; "" when there is none.
std::string cudaToolkitPath(const CUDATarget &target);

/// The gpu.binary format ("isa", "bin", "fatbin") for what raspc's
/// --gpu-binary names ("ptx", "cubin", "fatbin"); nothing for other names.
std::optional<std::string> gpuBinaryFormat(const std::string &name);

/// Whether `chip` names an architecture raspc compiles for (sm_XY[a]).
bool isKnownGPUArch(const std::string &chip);

/// Writes the PTX of every gpu.binary in `module` (compiled with format
/// "isa") to `os`, one kernel module after another. Returns false when the
/// module holds none.
bool printPTX(mlir::ModuleOp module, llvm::raw_ostream &os);

} // namespace raspc

#endif // RASPC_PIPELINES_CUDAPIPELINE_H
