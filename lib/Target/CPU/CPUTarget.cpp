//===- CPUTarget.cpp - LLVM IR, assembly and objects for the host ---------===//

#include "CPUTarget.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <mutex>

using namespace raspc;

namespace {

std::unique_ptr<llvm::TargetMachine> createTargetMachine(const CPUTargetOptions &options,
                                                         std::string *error) {
  static std::once_flag init;
  std::call_once(init, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string lookupError;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, lookupError);
  if (!target) {
    *error = lookupError;
    return nullptr;
  }
  std::string cpu = options.cpu.empty() ? llvm::sys::getHostCPUName().str() : options.cpu;
  std::string features;
  if (options.cpu.empty()) {
    // The host's own features, so that e.g. AVX-512 is used where present.
    llvm::StringMap<bool> hostFeatures = llvm::sys::getHostCPUFeatures();
    for (auto &feature : hostFeatures)
      features += (feature.second ? "+" : "-") + feature.first().str() + ",";
  }
  auto level = static_cast<llvm::CodeGenOptLevel>(std::clamp(options.optLevel, 0, 3));
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, cpu, features, llvm::TargetOptions(), llvm::Reloc::PIC_, std::nullopt, level));
  if (!machine)
    *error = "cannot create a target machine for CPU '" + cpu + "'";
  return machine;
}

} // namespace

int64_t raspc::vectorWidthFor(const CPUTargetOptions &options) {
  std::string error;
  std::unique_ptr<llvm::TargetMachine> machine = createTargetMachine(options, &error);
  if (!machine)
    return 0;
  return machine->getMCSubtargetInfo()->checkFeatures("+avx512f") ? 16 : 8;
}

std::unique_ptr<llvm::Module> raspc::translateToLLVMIR(mlir::ModuleOp module,
                                                       llvm::LLVMContext &context,
                                                       const CPUTargetOptions &options,
                                                       std::string *error) {
  std::unique_ptr<llvm::TargetMachine> machine = createTargetMachine(options, error);
  if (!machine)
    return nullptr;
  std::unique_ptr<llvm::Module> llvmModule = mlir::translateModuleToLLVMIR(module, context);
  if (!llvmModule) {
    *error = "translation to LLVM IR failed";
    return nullptr;
  }
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple());
  auto optimize = mlir::makeOptimizingTransformer(std::clamp(options.optLevel, 0, 3), 0,
                                                  machine.get());
  if (llvm::Error err = optimize(llvmModule.get())) {
    *error = llvm::toString(std::move(err));
    return nullptr;
  }
  return llvmModule;
}

bool raspc::emitMachineCode(llvm::Module &module, MachineCodeKind kind,
                            const CPUTargetOptions &options,
                            llvm::SmallVectorImpl<char> &out, std::string *error) {
  std::unique_ptr<llvm::TargetMachine> machine = createTargetMachine(options, error);
  if (!machine)
    return false;
  llvm::raw_svector_ostream os(out);
  llvm::legacy::PassManager pm;
  auto fileType = kind == MachineCodeKind::Assembly ? llvm::CodeGenFileType::AssemblyFile
                                                    : llvm::CodeGenFileType::ObjectFile;
  if (machine->addPassesToEmitFile(pm, os, nullptr, fileType)) {
    *error = "the target cannot emit this kind of file";
    return false;
  }
  pm.run(module);
  return true;
}
