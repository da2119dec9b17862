//===- CUDAPipeline.cpp - attn to PTX kernels for NVIDIA GPUs ---*- C++ -*-===//
//
// Softmax attention on f16/bf16 becomes tensor-core flash kernels
// (convert-attention-to-gpu-flash), as the flash loops do on the CPU; other
// attn ops take the reference lowering, every linalg op becomes an
// scf.parallel nest that upstream maps to blocks and threads, and upstream's
// NVVM pipeline outlines, lowers and serializes the kernels.
//
//===----------------------------------------------------------------------===//

#include "CUDAPipeline.h"
#include "CPUPipeline.h"

#include "Conversion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Pipelines/Passes.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

std::optional<std::string> raspc::gpuBinaryFormat(const std::string &name) {
  if (name == "ptx")
    return "isa";
  if (name == "cubin")
    return "bin";
  if (name == "fatbin")
    return "fatbin";
  return std::nullopt;
}

bool raspc::isKnownGPUArch(const std::string &chip) {
  return llvm::Regex("^sm_[0-9]{2,3}a?$").match(chip);
}

std::string raspc::cudaToolkitPath(const CUDATarget &target) {
  if (!target.toolkitPath.empty())
    return target.toolkitPath;
#ifdef RASPC_CUDA_TOOLKIT_DIR
  if (llvm::sys::fs::is_directory(RASPC_CUDA_TOOLKIT_DIR))
    return RASPC_CUDA_TOOLKIT_DIR;
#endif
  return "";
}

void raspc::buildCUDATiledStage(OpPassManager &pm, const PipelineOptions &options) {
  const raspc::CUDATarget &cuda = options.target.cuda;
  if (options.beforeTiling)
    options.beforeTiling(pm);
  raspc::ConvertAttentionToGPUFlashOptions flash;
  flash.chip = cuda.arch;
  flash.rowTiles = cuda.flashRowTiles;
  flash.wgmma = cuda.wgmma;
  flash.wgmmaOverlap = cuda.wgmmaOverlap;
  // Transposes past elementwise ops (a rotary embedding after `heads`) to
  // where the flash kernels read through them.
  pm.addPass(raspc::createSinkTransposes());
  // A module pass: its kernels' barrier calls need a declaration there.
  pm.addPass(raspc::createConvertAttentionToGPUFlash(flash));
  // Linear attention: two chunked kernels instead of a [T, T] matrix.
  raspc::ConvertLinearAttentionToGPUOptions linear;
  linear.chip = cuda.arch;
  pm.addPass(raspc::createConvertLinearAttentionToGPU(linear));
  pm.addNestedPass<func::FuncOp>(raspc::createConvertAttnToLinalg());
  // Elementwise chains (bias, activation, residual, rounding) one generic
  // each, so that a projection's becomes its kernel's epilogue.
  pm.addPass(raspc::createFuseElementwiseOps());
  // Matmuls (the model's projections): tensor cores for f16/bf16.
  raspc::ConvertMatmulToGPUOptions matmul;
  matmul.chip = cuda.arch;
  matmul.wgmma = cuda.wgmma;
  matmul.wgmmaOverlap = cuda.wgmmaOverlap;
  pm.addPass(raspc::createConvertMatmulToGPU(matmul));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Row reductions (norms) a warp per row; the other linalg ops take the
  // loops below.
  pm.addNestedPass<func::FuncOp>(raspc::createConvertRowReductionsToGPU());
  // The kernels' sizes are tensor.dims of the reductions' inits: folded to
  // the sizes they come from, a zero fill nothing reads any more is gone
  // (else it is a kernel of its own).
  pm.addPass(createCanonicalizerPass());
  if (options.afterTiling)
    options.afterTiling(pm);
}

void raspc::buildCUDALoopsStage(OpPassManager &pm, const PipelineOptions &options) {
  raspc::buildBufferizationPipeline(pm);
  pm.addPass(raspc::createConvertDeferredGPUSync());
  pm.addNestedPass<func::FuncOp>(raspc::createConvertHostBuffersToGPU());

  // Parallel dimensions of every linalg op onto blocks (outer) and threads
  // (inner, after tiling); reductions stay sequential loops inside the
  // kernel.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(raspc::createTileParallelLoopsForGPU());
  pm.addNestedPass<func::FuncOp>(createGpuMapParallelLoopsPass());
  pm.addPass(createConvertParallelLoopToGpuPass());
  pm.addPass(createCanonicalizerPass());
  if (options.beforeLLVM)
    options.beforeLLVM(pm);
}

void raspc::buildCUDALLVMDialectStage(OpPassManager &pm, const PipelineOptions &options) {
  const raspc::CUDATarget &cuda = options.target.cuda;
  // Constants and dims the launches use back into them: canonicalization
  // hoisted them to the host function, and as kernel operands they would be
  // run-time values (a tile size divided by becomes a 64-bit division).
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  // One PTX module per program (upstream's pipeline below outlines nothing
  // more once the launches are kernels).
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(raspc::createMergeGPUModules());
  // One stream per call: launches, allocations and frees queue behind each
  // other and the host waits once, at the end (not per kernel).
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
  // The C interface of docs/abi.md, as on the CPU (the host functions only:
  // kernels are gpu.func).
  pm.addPass(raspc::createExportEntryPoints());

  // Upstream's nvgpu lowering (inside the NVVM pipeline) has no bf16 MMA.
  pm.addPass(raspc::createConvertBF16MmaSyncToNVVM());

  gpu::GPUToNVVMPipelineOptions nvvm;
  nvvm.cubinChip = cuda.arch;
  nvvm.cubinFeatures = "+ptx80"; // PTX 8.0 covers sm_80 and sm_90a
  nvvm.cubinFormat = *raspc::gpuBinaryFormat(cuda.binary);
  nvvm.optLevel = options.optLevel;
  size_t before = pm.size();
  gpu::buildLowerToNVVMPassPipeline(pm, nvvm);
  // Upstream's builder has no toolkit option (without one, serialization
  // looks in the environment); the gpu-module-to-binary pass it adds has:
  // that is where libdevice and ptxas come from.
  std::string toolkit = raspc::cudaToolkitPath(cuda);
  if (toolkit.empty())
    return;
  for (auto [i, pass] : llvm::enumerate(pm.getPasses())) {
    if (i < before || pass.getArgument() != "gpu-module-to-binary")
      continue;
    [[maybe_unused]] LogicalResult set = pass.initializeOptions(
        "toolkit=\"" + toolkit + "\"", [](const llvm::Twine &) { return failure(); });
    assert(succeeded(set) && "gpu-module-to-binary takes a toolkit");
  }
}

bool raspc::printPTX(ModuleOp module, llvm::raw_ostream &os) {
  bool found = false;
  module.walk([&](gpu::BinaryOp binary) {
    for (Attribute attr : binary.getObjects()) {
      auto object = cast<gpu::ObjectAttr>(attr);
      os << "// raspc: kernels of '" << binary.getName() << "' for " << object.getTarget()
         << "\n"
         << object.getObject().getValue();
      found = true;
    }
  });
  return found;
}

