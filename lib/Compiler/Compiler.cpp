//===- Compiler.cpp - the one way to compile a raspc program ----*- C++ -*-===//
//
// Source -> parse (ast) -> check and emit (attn) -> the stage pipelines
// (tiled, loops, llvm-dialect; lib/Pipelines) -> LLVM IR, machine code or
// PTX. Each stage runs in a pass manager of its own, which verifies the IR
// after every pass, so a client that stops anywhere gets verified IR and the
// clients cannot drift apart.
//
//===----------------------------------------------------------------------===//

#include "raspc/Compiler.h"

#include "CPUTarget.h"
#include "CUDAPipeline.h"
#include "CompileOptions.h"
#include "Diagnostics.h"
#include "EntrySignature.h"
#include "HeaderEmitter.h"
#include "MLIRGen.h"
#include "Parser.h"
#include "Sema.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace raspc;

//===----------------------------------------------------------------------===//
// Artifact
//===----------------------------------------------------------------------===//

struct Artifact::Impl {
  Stage stage = Stage::AST;
  // Declared before the module so that the module goes first.
  std::unique_ptr<mlir::MLIRContext> ownedContext;
  mlir::MLIRContext *context = nullptr;
  mlir::OwningOpRef<mlir::ModuleOp> ownedModule;
  mlir::ModuleOp module;
  std::string bytes;
  EntrySignature signature;
};

Artifact::Artifact(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Artifact::~Artifact() = default;
Stage Artifact::stage() const { return impl->stage; }
mlir::ModuleOp Artifact::module() const { return impl->module; }
mlir::MLIRContext &Artifact::context() const { return *impl->context; }
const std::string &Artifact::bytes() const { return impl->bytes; }
const EntrySignature &Artifact::signature() const { return impl->signature; }

void Artifact::write(llvm::raw_ostream &os) const {
  if (isIRStage(impl->stage))
    impl->module.print(os);
  else
    os << impl->bytes;
}

std::string Artifact::str() const {
  if (!isIRStage(impl->stage))
    return impl->bytes;
  std::string text;
  llvm::raw_string_ostream os(text);
  write(os);
  return text;
}

void raspc::registerCompilerDialects(mlir::DialectRegistry &registry) {
  registerMLIRGenDialects(registry);
  // Upstream attaches the models the pipelines rely on (bufferization,
  // allocation, conversion to LLVM) to dialects in dozens of places; the
  // all-in-one entry points register them without loading anything, and a
  // dialect only costs when a pipeline loads it.
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // The LLVM dialect, and for CUDA the kernels (NVVM) and their launches
  // (GPU), translate to LLVM IR.
  mlir::registerAllToLLVMIRTranslations(registry);
}

//===----------------------------------------------------------------------===//
// The compile
//===----------------------------------------------------------------------===//

namespace {

/// The IR stage a stage is made from: itself for IR stages, attn for the
/// header, llvm-dialect for machine code and PTX, none for the syntax tree.
std::optional<Stage> lastIRStage(Stage stage) {
  switch (stage) {
  case Stage::AST:
    return std::nullopt;
  case Stage::Attn:
  case Stage::Header:
    return Stage::Attn;
  case Stage::Tiled:
  case Stage::Loops:
  case Stage::LLVMDialect:
    return stage;
  default:
    return Stage::LLVMDialect;
  }
}

/// Whether kernels call libdevice's math functions that were not linked.
bool hasUnlinkedLibdevice(mlir::ModuleOp module) {
  std::string ptx;
  llvm::raw_string_ostream os(ptx);
  printPTX(module, os);
  return llvm::StringRef(ptx).contains("__nv_");
}

/// Links an object into a shared library with the system's C compiler
/// driver, which knows the platform's linker flags.
bool linkSharedLibrary(llvm::StringRef object, std::string &library,
                       llvm::raw_ostream &diags) {
  auto cc = llvm::sys::findProgramByName("cc");
  if (!cc) {
    diags
        << "raspc: error: --emit=lib needs a C compiler driver ('cc') to link; "
           "install build-essential or use --emit=obj\n";
    return false;
  }
  llvm::SmallString<128> objectPath, libraryPath;
  if (llvm::sys::fs::createTemporaryFile("raspc", "o", objectPath) ||
      llvm::sys::fs::createTemporaryFile("raspc", "so", libraryPath)) {
    diags << "raspc: error: cannot create temporary files\n";
    return false;
  }
  llvm::FileRemover removeObject(objectPath), removeLibrary(libraryPath);
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(objectPath, ec);
    out << object;
  }
  std::string message;
  llvm::StringRef args[] = {*cc,         "-shared",  "-o",
                            libraryPath, objectPath, "-lm"};
  if (llvm::sys::ExecuteAndWait(*cc, args, std::nullopt, {}, 0, 0, &message) !=
      0) {
    diags << "raspc: error: linking the shared library failed"
          << (message.empty() ? "" : ": " + message) << "\n";
    return false;
  }
  auto buffer = llvm::MemoryBuffer::getFile(libraryPath);
  if (!buffer) {
    diags << "raspc: error: cannot read the linked library\n";
    return false;
  }
  library = (*buffer)->getBuffer().str();
  return true;
}

/// One compile: the stages from where it starts to options.stage, with the
/// timers and the diagnostics they share.
class Compilation {
public:
  Compilation(const CompileOptions &options, llvm::raw_ostream &diags)
      : options(options), diags(diags),
        result(std::make_unique<Artifact::Impl>()) {
    result->stage = options.stage;
    // Without a scope to nest under, the timers are no-ops.
    if (options.timing)
      root = options.timing->nest("compile");
  }

  /// Parses and checks `source`, and emits the attn stage (unless the
  /// syntax tree is all that was asked for).
  bool runFrontEnd(llvm::StringRef source, llvm::StringRef fileName);
  /// Adopts a module at the attn stage whose context the caller owns.
  bool adopt(mlir::ModuleOp module);
  /// The IR stages after attn, up to what options.stage needs.
  bool runPipelines();
  /// LLVM IR, assembly, objects, libraries, PTX.
  bool emitFiles();

  std::unique_ptr<Artifact> finish() {
    root.stop();
    return std::make_unique<Artifact>(std::move(result));
  }

private:
  const CompileOptions &options;
  llvm::raw_ostream &diags;
  std::unique_ptr<Artifact::Impl> result;
  mlir::TimingScope root;
  llvm::SourceMgr sourceMgr;
  std::unique_ptr<mlir::SourceMgrDiagnosticHandler> diagnosticHandler;
};

bool Compilation::runFrontEnd(llvm::StringRef source,
                              llvm::StringRef fileName) {
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(source, fileName), llvm::SMLoc());
  Diagnostics frontDiags(sourceMgr, diags);
  std::unique_ptr<ast::Module> syntax;
  {
    mlir::TimingScope scope = root.nest("parse");
    syntax = parseModule(1, frontDiags);
  }
  if (!syntax)
    return false;
  if (options.stage == Stage::AST) {
    llvm::raw_string_ostream os(result->bytes);
    ast::dump(*syntax, sourceMgr, os);
    return true;
  }
  std::unique_ptr<program::Program> checked;
  {
    mlir::TimingScope scope = root.nest("check");
    checked = analyze(*syntax, options.entry, options.packedBatch, frontDiags);
  }
  if (!checked)
    return false;

  mlir::TimingScope scope = root.nest("emit attn");
  // One registry for the process. Contexts run single-threaded: a program
  // is one function, so there is nothing to run in parallel inside one
  // compile, and concurrent compiles are the host's threads.
  static const mlir::DialectRegistry registry = [] {
    mlir::DialectRegistry r;
    registerCompilerDialects(r);
    return r;
  }();
  result->ownedContext = std::make_unique<mlir::MLIRContext>(
      registry, mlir::MLIRContext::Threading::DISABLED);
  result->context = result->ownedContext.get();
  // Errors on the program point at its source; the IR is not the user's.
  result->context->printOpOnDiagnostic(false);
  loadMLIRGenDialects(*result->context);
  diagnosticHandler = std::make_unique<mlir::SourceMgrDiagnosticHandler>(
      sourceMgr, result->context, diags);
  result->ownedModule =
      generateMLIR(*result->context, *checked, sourceMgr, 1,
                   options.exposeSelectors && !checked->isModel,
                   /*outlineCalls=*/options.target.kind == Target::Kind::CPU);
  result->module = result->ownedModule.get();
  if (!result->module || failed(mlir::verify(result->module))) {
    diags << "raspc: internal error: the generated IR does not verify; please "
             "report this "
             "with the program\n";
    return false;
  }
  auto entry = *result->module.getOps<mlir::func::FuncOp>().begin();
  result->signature = describeEntry(entry, checked->isModel);
  if (options.afterStage)
    options.afterStage(Stage::Attn, result->module);
  if (options.stage == Stage::Header) {
    llvm::raw_string_ostream os(result->bytes);
    emitCHeader(entry, os, options.target.kind == Target::Kind::CUDA);
  }
  return true;
}

bool Compilation::adopt(mlir::ModuleOp module) {
  result->context = module.getContext();
  result->module = module;
  diagnosticHandler = std::make_unique<mlir::SourceMgrDiagnosticHandler>(
      sourceMgr, result->context, diags);
  if (failed(mlir::verify(module)))
    return false;
  auto functions = module.getOps<mlir::func::FuncOp>();
  if (!functions.empty())
    result->signature = describeEntry(*functions.begin(), /*isModel=*/false);
  if (options.afterStage)
    options.afterStage(Stage::Attn, module);
  return true;
}

bool Compilation::runPipelines() {
  std::optional<Stage> last = lastIRStage(options.stage);
  if (!last || *last == Stage::Attn)
    return true;
  bool pipelineError = false;
  PipelineOptions pipeline =
      resolvePipelineOptions(options, [&](const std::string &message) {
        diags << message << "\n";
        pipelineError = true;
      });
  for (Stage stage : irStages()) {
    if (stage == Stage::Attn)
      continue;
    // Before the pass manager, which refers to it until it is gone.
    mlir::TimingScope scope = root.nest(stageName(stage));
    mlir::PassManager pm(result->context);
    {
      // Inserted pipelines read the global pass registry as they parse.
      std::unique_lock<std::mutex> lock;
      if (pipeline.beforeTiling || pipeline.afterTiling || pipeline.beforeLLVM)
        lock = lockPassRegistry();
      buildStagePipeline(pm, stage, pipeline);
    }
    if (pipelineError)
      return false;
    if (options.configurePassManager && !options.configurePassManager(pm)) {
      diags << "raspc: error: cannot configure the pass manager of the "
            << stageName(stage) << " stage\n";
      return false;
    }
    if (options.timing)
      pm.enableTiming(scope);
    // Errors the passes report on the program (a custom normalizer nothing
    // lowered) reach the source manager's handler, which prints them at
    // their source; a failure without one is ours.
    bool reported = false;
    {
      mlir::ScopedDiagnosticHandler noteErrors(
          result->context, [&](mlir::Diagnostic &d) {
            reported |= d.getSeverity() == mlir::DiagnosticSeverity::Error;
            return mlir::failure(); // not handled here: the next handler prints
                                    // it
          });
      if (failed(pm.run(result->module))) {
        if (!reported)
          diags << "raspc: internal error: lowering to the " << stageName(stage)
                << " stage"
                << (options.target.kind == Target::Kind::CUDA ? " for CUDA"
                                                              : "")
                << " failed; please report this with the program\n";
        return false;
      }
    }
    if (options.afterStage)
      options.afterStage(stage, result->module);
    if (stage == *last)
      break;
  }
  if (options.target.kind == Target::Kind::CUDA &&
      *last == Stage::LLVMDialect && hasUnlinkedLibdevice(result->module)) {
    std::string toolkit = cudaToolkitPath(options.target.cuda);
    diags << "raspc: warning: the kernels' math functions (__nv_*) are not "
             "linked: "
          << (toolkit.empty()
                  ? std::string("no CUDA toolkit found")
                  : "no libdevice in the CUDA toolkit '" + toolkit + "'")
          << "; pass the toolkit's path (--cuda-toolkit)\n";
  }
  return true;
}

bool Compilation::emitFiles() {
  Stage stage = options.stage;
  if (stage <= Stage::LLVMDialect)
    return true;
  if (stage == Stage::PTX) {
    llvm::raw_string_ostream os(result->bytes);
    if (!printPTX(result->module, os))
      os << "// raspc: the program has no GPU kernels\n";
    return true;
  }
  CPUTargetOptions target;
  target.cpu = options.target.cpu.cpu;
  target.optLevel = std::clamp(options.optLevel, 0, 3);
  llvm::LLVMContext llvmContext;
  std::string error;
  std::unique_ptr<llvm::Module> llvmModule;
  {
    mlir::TimingScope scope = root.nest("LLVM IR (translate, optimize)");
    llvmModule = translateToLLVMIR(result->module, llvmContext, target, &error);
  }
  if (!llvmModule) {
    diags << "raspc: error: " << error << "\n";
    return false;
  }
  if (stage == Stage::LLVM) {
    llvm::raw_string_ostream os(result->bytes);
    llvmModule->print(os, nullptr);
    return true;
  }
  llvm::SmallVector<char> code;
  {
    mlir::TimingScope scope = root.nest("machine code");
    auto kind = stage == Stage::Asm ? MachineCodeKind::Assembly
                                    : MachineCodeKind::Object;
    if (!emitMachineCode(*llvmModule, kind, target, code, &error)) {
      diags << "raspc: error: " << error << "\n";
      return false;
    }
  }
  llvm::StringRef bytes(code.data(), code.size());
  if (stage == Stage::Lib) {
    mlir::TimingScope scope = root.nest("link");
    return linkSharedLibrary(bytes, result->bytes, diags);
  }
  result->bytes = bytes.str();
  return true;
}

/// The checks and preparation every compile starts with.
bool prepare(const CompileOptions &options, llvm::raw_ostream &diags) {
  return validateOptions(options, diags) && preparePassRegistry(options, diags);
}

} // namespace

bool raspc::checkOptions(const CompileOptions &options,
                         std::string &diagnostics) {
  llvm::raw_string_ostream diags(diagnostics);
  return validateOptions(options, diags);
}

std::unique_ptr<Artifact> raspc::compile(std::string_view source,
                                         std::string_view fileName,
                                         const CompileOptions &options,
                                         std::string &diagnostics) {
  llvm::raw_string_ostream diags(diagnostics);
  if (!prepare(options, diags))
    return nullptr;
  Compilation compilation(options, diags);
  if (!compilation.runFrontEnd(
          llvm::StringRef(source.data(), source.size()),
          llvm::StringRef(fileName.data(), fileName.size())) ||
      !compilation.runPipelines() || !compilation.emitFiles())
    return nullptr;
  return compilation.finish();
}

std::unique_ptr<Artifact> raspc::compileFile(const std::string &path,
                                             const CompileOptions &options,
                                             std::string &diagnostics) {
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path);
  if (!buffer) {
    diagnostics += "raspc: error: cannot open input file '" + path +
                   "': " + buffer.getError().message() + "\n";
    return nullptr;
  }
  std::string_view name((*buffer)->getBufferIdentifier().data(),
                        (*buffer)->getBufferIdentifier().size());
  std::string_view text((*buffer)->getBufferStart(),
                        (*buffer)->getBufferSize());
  return compile(text, name, options, diagnostics);
}

std::unique_ptr<Artifact> raspc::compileModule(mlir::ModuleOp module,
                                               const CompileOptions &options,
                                               std::string &diagnostics) {
  llvm::raw_string_ostream diags(diagnostics);
  if (!prepare(options, diags))
    return nullptr;
  if (options.stage == Stage::AST || options.stage == Stage::Header) {
    diags << "raspc: error: --emit=" << stageName(options.stage)
          << " needs the program's source, not a module\n";
    return nullptr;
  }
  Compilation compilation(options, diags);
  if (!compilation.adopt(module) || !compilation.runPipelines() ||
      !compilation.emitFiles())
    return nullptr;
  return compilation.finish();
}
