//===- CPUTarget.h - LLVM IR, assembly and objects for the host -*- C++ -*-===//

#ifndef RASPC_TARGET_CPU_CPUTARGET_H
#define RASPC_TARGET_CPU_CPUTARGET_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/SmallVector.h"

#include <memory>
#include <string>

namespace llvm {
class LLVMContext;
class Module;
} // namespace llvm

namespace raspc {

struct CPUTargetOptions {
  /// The CPU to generate code for; empty: the host's (e.g. znver5).
  std::string cpu;
  /// LLVM optimization level, 0 to 3.
  int optLevel = 2;
};

enum class MachineCodeKind { Assembly, Object };

/// Translates a module in the LLVM dialect to LLVM IR for the target CPU and
/// optimizes it. Returns null with a message in `*error` on failure.
/// f32 lanes of the widest vectors of the CPU `options` name (16 with
/// AVX-512, else 8), for the pipeline's vectorWidth; 0 if the CPU is unknown.
int64_t vectorWidthFor(const CPUTargetOptions &options);

std::unique_ptr<llvm::Module> translateToLLVMIR(mlir::ModuleOp module,
                                                llvm::LLVMContext &context,
                                                const CPUTargetOptions &options,
                                                std::string *error);

/// Emits assembly or an object file for `module`.
bool emitMachineCode(llvm::Module &module, MachineCodeKind kind,
                     const CPUTargetOptions &options,
                     llvm::SmallVectorImpl<char> &out, std::string *error);

} // namespace raspc

#endif // RASPC_TARGET_CPU_CPUTARGET_H
