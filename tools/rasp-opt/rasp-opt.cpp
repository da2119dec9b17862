//===- rasp-opt.cpp - mlir-opt with the attn dialect ------------*- C++ -*-===//
//
// The driver for writing and testing passes: every upstream dialect, pass and
// extension, plus raspc's own. `--load-pass-plugin` and
// `--load-dialect-plugin` come from MlirOptMain.
//
//===----------------------------------------------------------------------===//

#include "Attn/IR/AttnDialect.h"
#include "CPUPipeline.h"
#include "CUDAPipeline.h"
#include "Conversion/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  raspc::registerConversionPasses();
  raspc::registerCPUPipelines();
  raspc::registerCUDAPipelines();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary translates kernels to LLVM IR.
  mlir::registerAllToLLVMIRTranslations(registry);
  registry.insert<mlir::attn::AttnDialect>();

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "raspc optimizer driver: the attn dialect and its passes\n",
      registry));
}
