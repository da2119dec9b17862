//===- frontend-fuzzer.cpp - libFuzzer target for the front end -*- C++ -*-===//
//
// Feeds arbitrary bytes through the whole front end: encoding checks,
// lexing, parsing, Sema, MLIRGen and the verifier. Any crash, sanitizer
// report, or generated IR that fails to verify is a bug. Built by
// scripts/fuzz.sh with clang (-DRASPC_BUILD_FUZZERS=ON).
//
//===----------------------------------------------------------------------===//

#include "Diagnostics.h"
#include "MLIRGen.h"
#include "Parser.h"
#include "Sema.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>

/// The dialects, registered once; each input gets a fresh context so that
/// nothing (uniqued attributes, locations) accumulates across inputs.
static const mlir::DialectRegistry &registry() {
  static mlir::DialectRegistry *r = [] {
    auto *reg = new mlir::DialectRegistry();
    raspc::registerMLIRGenDialects(*reg);
    return reg;
  }();
  return *r;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.rasp"),
      llvm::SMLoc());
  std::string messages;
  llvm::raw_string_ostream os(messages);
  raspc::Diagnostics diags(sourceMgr, os);
  std::unique_ptr<raspc::ast::Module> module = raspc::parseModule(1, diags);
  if (!module)
    return 0;
  std::unique_ptr<raspc::program::Program> program =
      raspc::analyze(*module, "", /*packedBatch=*/false, diags);
  if (!program)
    return 0;
  mlir::MLIRContext context(registry(), mlir::MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  // Verifier failures are reported below; keep the fuzzer's output quiet.
  context.printOpOnDiagnostic(false);
  mlir::OwningOpRef<mlir::ModuleOp> ir =
      raspc::generateMLIR(context, *program, sourceMgr, 1);
  if (!ir || mlir::failed(mlir::verify(*ir))) {
    std::fprintf(stderr, "generated IR does not verify\n");
    std::abort();
  }
  return 0;
}
