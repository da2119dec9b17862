//===- CompileOptions.cpp - checking and resolving compile options --------===//
//
// Messages name the options as raspc's flags spell them; the JIT's fields
// and rasp-opt's raspc-pipeline options carry the same names.
//
//===----------------------------------------------------------------------===//

#include "CompileOptions.h"

#include "CPUTarget.h"
#include "CUDAPipeline.h"
#include "Conversion/Passes.h"

#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Tools/Plugins/PassPlugin.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

#include <mutex>

using namespace raspc;

namespace {
struct StageInfo {
  Stage stage;
  const char *name;
};
constexpr StageInfo kStages[] = {
    {Stage::AST, "ast"},       {Stage::Attn, "attn"},
    {Stage::Header, "header"}, {Stage::Tiled, "tiled"},
    {Stage::Loops, "loops"},   {Stage::LLVMDialect, "llvm-dialect"},
    {Stage::LLVM, "llvm"},     {Stage::Asm, "asm"},
    {Stage::Obj, "obj"},       {Stage::Lib, "lib"},
    {Stage::PTX, "ptx"},
};

std::mutex &passRegistryMutex() {
  static std::mutex mutex;
  return mutex;
}
} // namespace

const char *raspc::stageName(Stage stage) {
  for (const StageInfo &info : kStages)
    if (info.stage == stage)
      return info.name;
  return "?";
}

std::optional<Stage> raspc::parseStage(std::string_view name) {
  for (const StageInfo &info : kStages)
    if (name == info.name)
      return info.stage;
  return std::nullopt;
}

const std::vector<Stage> &raspc::irStages() {
  static const std::vector<Stage> stages = {Stage::Attn, Stage::Tiled,
                                            Stage::Loops, Stage::LLVMDialect};
  return stages;
}

bool raspc::isIRStage(Stage stage) { return llvm::is_contained(irStages(), stage); }

std::optional<Target::Kind> raspc::parseTargetKind(std::string_view name) {
  if (name == "cpu")
    return Target::Kind::CPU;
  if (name == "cuda")
    return Target::Kind::CUDA;
  return std::nullopt;
}

const char *raspc::targetName(Target::Kind kind) {
  return kind == Target::Kind::CUDA ? "cuda" : "cpu";
}

bool raspc::validateOptions(const CompileOptions &options,
                            llvm::raw_ostream &errors) {
  bool cuda = options.target.kind == Target::Kind::CUDA;
  const CUDATarget &gpu = options.target.cuda;
  auto fail = [&]() -> llvm::raw_ostream & {
    return errors << "raspc: error: ";
  };
  if (options.optLevel < 0 || options.optLevel > 3) {
    fail() << "the optimization level must be 0 to 3, not " << options.optLevel << "\n";
    return false;
  }
  if (!cuda) {
    if (options.stage == Stage::PTX) {
      fail() << "--emit=ptx needs --target=cuda\n";
      return false;
    }
    return true;
  }
  if (!isKnownGPUArch(gpu.arch)) {
    fail() << "unknown GPU architecture '" << gpu.arch
           << "' (sm_XY or sm_XYa, e.g. sm_80, sm_90a)\n";
    return false;
  }
  std::optional<std::string> format = gpuBinaryFormat(gpu.binary);
  if (!format) {
    fail() << "unknown --gpu-binary '" << gpu.binary
           << "' (ptx, cubin or fatbin)\n";
    return false;
  }
  if (options.stage == Stage::PTX && *format != "isa") {
    fail() << "--emit=ptx prints PTX; --gpu-binary=" << gpu.binary
           << " is for objects (--emit=obj, lib)\n";
    return false;
  }
  if (gpu.flashRowTiles > 2) {
    fail() << "--gpu-flash-row-tiles must be 1 or 2, not " << gpu.flashRowTiles
           << "\n";
    return false;
  }
  if (gpu.wgmma && gpu.arch != "sm_90a") {
    fail()
        << "--gpu-wgmma needs --gpu-arch=sm_90a (wgmma exists there only), not "
        << gpu.arch << "\n";
    return false;
  }
  return true;
}

PipelineOptions raspc::resolvePipelineOptions(
    const CompileOptions &options,
    std::function<void(const std::string &)> onError) {
  PipelineOptions resolved;
  resolved.target = options.target;
  resolved.optLevel = std::clamp(options.optLevel, 0, 3);
  CPUTargetOptions cpu;
  cpu.cpu = options.target.cpu.cpu;
  if (int64_t width = vectorWidthFor(cpu))
    resolved.vectorWidth = width;
  auto hook =
      [&](const std::string &text,
          const char *flag) -> std::function<void(mlir::OpPassManager &)> {
    if (text.empty())
      return nullptr;
    return [text, flag, onError](mlir::OpPassManager &pm) {
      std::string message;
      llvm::raw_string_ostream os(message);
      if (failed(mlir::parsePassPipeline(text, pm, os)))
        onError("raspc: error: cannot parse the " + std::string(flag) +
                " pipeline '" + text +
                "': " + llvm::StringRef(message).trim().str());
    };
  };
  resolved.beforeTiling =
      hook(options.insertBeforeTiling, "insert-before-tiling");
  resolved.afterTiling = hook(options.insertAfterTiling, "insert-after-tiling");
  resolved.beforeLLVM = hook(options.insertBeforeLLVM, "insert-before-llvm");
  return resolved;
}

std::unique_lock<std::mutex> raspc::lockPassRegistry() {
  return std::unique_lock<std::mutex>(passRegistryMutex());
}

bool raspc::preparePassRegistry(const CompileOptions &options,
                                llvm::raw_ostream &errors) {
  bool inserts = !options.insertBeforeTiling.empty() ||
                 !options.insertAfterTiling.empty() ||
                 !options.insertBeforeLLVM.empty();
  if (!inserts && options.passPlugins.empty())
    return true;
  std::lock_guard<std::mutex> lock(passRegistryMutex());
  // Inserted pipelines may name any upstream pass; registered the first time
  // a compile asks, to keep every other start-up short.
  static bool allRegistered = false;
  if (!allRegistered) {
    mlir::registerAllPasses();
    registerConversionPasses();
    allRegistered = true;
  }
  static llvm::StringMap<bool> loaded;
  for (const std::string &path : options.passPlugins) {
    if (loaded.count(path))
      continue;
    auto plugin = mlir::PassPlugin::load(path);
    if (!plugin) {
      errors << "raspc: error: cannot load pass plugin '" << path
             << "': " << llvm::toString(plugin.takeError()) << "\n";
      return false;
    }
    plugin->registerPassRegistryCallbacks();
    loaded[path] = true;
  }
  return true;
}
