//===- PipelineRegistration.cpp - rasp-opt's raspc-pipeline -----*- C++ -*-===//
//
// The compile API's stages as one registered pass pipeline, so that
// rasp-opt runs exactly what the driver and the JIT run:
//
//   rasp-opt m.mlir --pass-pipeline='builtin.module(raspc-pipeline{to=loops})'
//   rasp-opt m.mlir --pass-pipeline='builtin.module(raspc-pipeline{target=cuda
//       gpu-arch=sm_90a gpu-wgmma=true})'
//
// Its options carry the names of raspc's flags; they become CompileOptions,
// which are checked and resolved as for any other compile.
//
//===----------------------------------------------------------------------===//

#include "raspc/Compiler.h"

#include "CompileOptions.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/Support/raw_ostream.h"

using namespace raspc;

namespace {

struct RaspcPipelineOptions : mlir::PassPipelineOptions<RaspcPipelineOptions> {
  Option<std::string> from{
      *this, "from",
      llvm::cl::desc("The stage of the input IR: attn, tiled or loops"),
      llvm::cl::init("attn")};
  Option<std::string> to{
      *this, "to",
      llvm::cl::desc("The stage to stop at: tiled, loops or llvm-dialect"),
      llvm::cl::init("llvm-dialect")};
  Option<std::string> target{*this, "target", llvm::cl::desc("cpu or cuda"),
                             llvm::cl::init("cpu")};
  Option<std::string> mcpu{
      *this, "mcpu",
      llvm::cl::desc("The CPU to compile for (default: this machine's)"),
      llvm::cl::init("")};
  Option<int> optLevel{*this, "O", llvm::cl::desc("Optimization level, 0 to 3"),
                       llvm::cl::init(2)};
  Option<std::string> gpuArch{*this, "gpu-arch",
                              llvm::cl::desc("sm_XY or sm_XYa"),
                              llvm::cl::init("sm_80")};
  Option<std::string> gpuBinary{*this, "gpu-binary",
                                llvm::cl::desc("ptx, cubin or fatbin"),
                                llvm::cl::init("ptx")};
  Option<std::string> cudaToolkit{
      *this, "cuda-toolkit",
      llvm::cl::desc(
          "The CUDA toolkit (default: the one found when raspc was built)"),
      llvm::cl::init("")};
  Option<bool> gpuWgmma{*this, "gpu-wgmma",
                        llvm::cl::desc("Warpgroup MMA for f16/bf16 (sm_90a)"),
                        llvm::cl::init(false)};
  Option<bool> gpuWgmmaOverlap{
      *this, "gpu-wgmma-overlap",
      llvm::cl::desc("With gpu-wgmma, MMAs in flight under other work"),
      llvm::cl::init(true)};
  Option<unsigned> gpuFlashRowTiles{
      *this, "gpu-flash-row-tiles",
      llvm::cl::desc(
          "MMA tiles of 16 query rows per warp, 1 or 2 (0: by head size)"),
      llvm::cl::init(0)};
};

mlir::LogicalResult buildRaspcPipeline(
    mlir::OpPassManager &pm, llvm::StringRef text,
    llvm::function_ref<mlir::LogicalResult(const llvm::Twine &)> errorHandler) {
  RaspcPipelineOptions flags;
  if (failed(flags.parseFromString(text)))
    return mlir::failure();
  std::optional<Stage> from = parseStage(flags.from), to = parseStage(flags.to);
  auto position = [](std::optional<Stage> stage) {
    const std::vector<Stage> &stages = irStages();
    return stage ? std::find(stages.begin(), stages.end(), *stage) -
                       stages.begin()
                 : static_cast<std::ptrdiff_t>(stages.size());
  };
  std::ptrdiff_t first = position(from), last = position(to);
  std::ptrdiff_t count = static_cast<std::ptrdiff_t>(irStages().size());
  if (first >= count || last >= count || first > last)
    return errorHandler(
        "raspc-pipeline: from=" + flags.from + " to=" + flags.to +
        " is not a range of the stages attn, tiled, loops, llvm-dialect");
  std::optional<Target::Kind> kind = parseTargetKind(flags.target);
  if (!kind)
    return errorHandler("raspc-pipeline: unknown target '" + flags.target +
                        "' (cpu or cuda)");

  CompileOptions options;
  options.stage = *to;
  options.target.kind = *kind;
  options.target.cpu.cpu = flags.mcpu;
  options.optLevel = flags.optLevel;
  options.target.cuda.arch = flags.gpuArch;
  options.target.cuda.binary = flags.gpuBinary;
  options.target.cuda.toolkitPath = flags.cudaToolkit;
  options.target.cuda.wgmma = flags.gpuWgmma;
  options.target.cuda.wgmmaOverlap = flags.gpuWgmmaOverlap;
  options.target.cuda.flashRowTiles = flags.gpuFlashRowTiles;
  std::string errors;
  llvm::raw_string_ostream os(errors);
  if (!validateOptions(options, os)) {
    llvm::StringRef message = llvm::StringRef(errors).trim();
    message.consume_front("raspc: error: ");
    return errorHandler("raspc-pipeline: " + message);
  }
  PipelineOptions pipeline = resolvePipelineOptions(options, nullptr);
  for (std::ptrdiff_t i = first + 1; i <= last; ++i)
    buildStagePipeline(pm, irStages()[i], pipeline);
  return mlir::success();
}

} // namespace

void raspc::registerPipelines() {
  mlir::registerPassPipeline(
      "raspc-pipeline",
      "raspc's compile stages (attn -> tiled -> loops -> llvm-dialect) from "
      "`from` to `to`, "
      "as raspc and the JIT run them",
      buildRaspcPipeline,
      [](llvm::function_ref<void(const mlir::detail::PassOptions &)> print) {
        print(RaspcPipelineOptions());
      });
}
