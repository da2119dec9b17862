//===- rasp-opt.cpp - mlir-opt with the attn dialect ------------*- C++ -*-===//
//
// The driver for writing and testing passes: every upstream dialect, pass and
// extension, plus raspc's own passes and `raspc-pipeline` (the compile API's
// stages). `--load-pass-plugin` and `--load-dialect-plugin` come from
// MlirOptMain.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Passes.h"
#include "raspc/Compiler.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  raspc::registerConversionPasses();
  raspc::registerPipelines();

  mlir::DialectRegistry registry;
  raspc::registerCompilerDialects(registry);

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "raspc optimizer driver: the attn dialect and its passes\n",
      registry));
}
