//===- CUDAPipeline.h - attn to PTX kernels for NVIDIA GPUs -----*- C++ -*-===//
//
// The CUDA pipeline as a library function, like the CPU one: raspc, rasp-opt
// (`raspc-cuda`) and, later, the JIT build the same pass list.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_PIPELINES_CUDAPIPELINE_H
#define RASPC_PIPELINES_CUDAPIPELINE_H

#include <optional>
#include <string>

namespace mlir {
class ModuleOp;
class OpPassManager;
} // namespace mlir

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace raspc {

struct CUDAPipelineOptions {
  /// The GPU architecture, e.g. sm_80 or sm_90a.
  std::string chip = "sm_80";
  /// PTX ISA features for the NVPTX backend (PTX 8.0 covers sm_80 and
  /// sm_90a).
  std::string features = "+ptx80";
  /// What gpu.binary holds: "isa" (PTX text), "bin" (cubin) or "fatbin";
  /// the last two need the CUDA toolkit's ptxas when MLIR serializes.
  std::string format = "isa";
  /// NVVM optimization level, 0 to 3.
  int optLevel = 2;
  /// The CUDA toolkit whose libdevice kernels link for math functions;
  /// empty: the one found when raspc was built, or the environment's
  /// CUDA_ROOT / CUDA_HOME / CUDA_PATH.
  std::string toolkitPath;
  /// Tuning: MMA tiles of 16 query rows per warp in the tensor-core flash
  /// kernels (1 or 2; 0: by head size).
  unsigned flashRowTiles = 0;
  /// Tuning: f16/bf16 attention and matmuls by warpgroup MMA (wgmma) where
  /// chip is sm_90a, instead of mma.sync.
  bool wgmma = false;
  /// Tuning: with wgmma, MMAs in flight under other work (attention: each
  /// key block's softmax under the MMAs of the block before; matmuls: the
  /// next K step's loads under the last one's MMAs).
  bool wgmmaOverlap = true;
};

/// The toolkit `options` resolve to ("" when there is none).
std::string cudaToolkitPath(const CUDAPipelineOptions &options);

/// The gpu.binary format ("isa", "bin", "fatbin") for what raspc's
/// --gpu-binary names ("ptx", "cubin", "fatbin"); nothing for other names.
std::optional<std::string> gpuBinaryFormat(const std::string &name);

/// Whether `chip` names an architecture raspc compiles for (sm_XY[a]).
bool isKnownGPUArch(const std::string &chip);

/// attn (tensors) -> the reference lowering -> bufferized memrefs ->
/// parallel loops mapped to blocks and threads -> kernels outlined into a
/// gpu.module -> NVVM -> gpu.binary, with the host side in the LLVM dialect
/// calling the upstream GPU runtime ABI (mgpu*).
void buildCUDAPipeline(mlir::OpPassManager &pm, const CUDAPipelineOptions &options);

/// Writes the PTX of every gpu.binary in `module` (compiled with format
/// "isa") to `os`, one kernel module after another. Returns false when the
/// module holds none.
bool printPTX(mlir::ModuleOp module, llvm::raw_ostream &os);

/// Registers `raspc-cuda` in rasp-opt.
void registerCUDAPipelines();

} // namespace raspc

#endif // RASPC_PIPELINES_CUDAPIPELINE_H
