//===- raspc.cpp - the raspc compiler driver --------------------*- C++ -*-===//
//
// raspc FILE [--emit=ast|attn] [--entry NAME] [-o OUT]
//
// Reads a program (`-` is standard input), checks it and prints the
// requested stage. Every mistake in the program is reported as
// `file:line:col: error: ...` with the source line and a caret, and the exit
// status is 1; nothing is written to the output file then.
//
//===----------------------------------------------------------------------===//

#include "Diagnostics.h"
#include "MLIRGen.h"
#include "Parser.h"
#include "Sema.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {
enum class Stage { AST, Attn };

cl::OptionCategory category("raspc options");

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<program.rasp>"),
                               cl::init("-"), cl::cat(category));

cl::opt<Stage> emit(
    "emit", cl::desc("What to produce (default: attn)"), cl::init(Stage::Attn),
    cl::values(clEnumValN(Stage::AST, "ast",
                          "the syntax tree, after parsing (no checks)"),
               clEnumValN(Stage::Attn, "attn",
                          "the checked program as MLIR in the attn dialect")),
    cl::cat(category));

cl::opt<std::string> outputFile("o", cl::desc("Output file (default: stdout)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::cat(category));

cl::opt<std::string> entry(
    "entry",
    cl::desc("The def or model to compile (default: 'main', else the last "
             "one in the file)"),
    cl::value_desc("name"), cl::init(""), cl::cat(category));
} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  cl::HideUnrelatedOptions({&category, &cl::getGeneralCategory()});
  cl::ParseCommandLineOptions(
      argc, argv,
      "raspc: compile RASP programs and attention models\n\n"
      "  raspc examples/rasp/reverse.rasp              # print the attn IR\n"
      "  raspc --emit=ast model.rasp -o model.ast\n"
      "  cat prog.rasp | raspc - --entry sort\n");

  std::string errorMessage;
  auto file = mlir::openInputFile(inputFile, &errorMessage);
  if (!file) {
    errs() << "raspc: error: " << errorMessage << "\n";
    return 1;
  }
  SourceMgr sourceMgr;
  unsigned bufferId = sourceMgr.AddNewSourceBuffer(std::move(file), SMLoc());
  raspc::Diagnostics diags(sourceMgr, errs());

  std::unique_ptr<raspc::ast::Module> module = raspc::parseModule(bufferId, diags);
  if (!module)
    return 1;

  std::string output;
  raw_string_ostream os(output);
  if (emit == Stage::AST) {
    raspc::ast::dump(*module, sourceMgr, os);
  } else {
    std::unique_ptr<raspc::program::Program> program =
        raspc::analyze(*module, entry, diags);
    if (!program)
      return 1;
    mlir::DialectRegistry registry;
    raspc::registerMLIRGenDialects(registry);
    mlir::MLIRContext context(registry);
    context.loadAllAvailableDialects();
    mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
    mlir::OwningOpRef<mlir::ModuleOp> ir =
        raspc::generateMLIR(context, *program, sourceMgr, bufferId);
    if (!ir || failed(mlir::verify(*ir))) {
      errs() << "raspc: internal error: the generated IR does not verify; "
                "please report this with the program\n";
      return 1;
    }
    ir->print(os);
  }

  // Only a successful run touches the output file.
  auto out = mlir::openOutputFile(outputFile, &errorMessage);
  if (!out) {
    errs() << "raspc: error: " << errorMessage << "\n";
    return 1;
  }
  out->os() << output;
  out->keep();
  return 0;
}
