//===- raspc.cpp - the raspc compiler driver --------------------*- C++ -*-===//
//
// raspc FILE [--emit=ast|attn] [--entry NAME] [-o OUT]
// raspc run FILE [--entry NAME] [--] TOKEN...
// raspc run MODEL.rasp [--input NAME=X.npy]... [--params W.safetensors]
//                       [--random-params SEED] [--output Y.npy]
//
// Reads a program (`-` is standard input), checks it and prints the
// requested stage, or compiles it for this CPU and runs it. Every mistake in
// the program is reported as `file:line:col: error: ...` with the source
// line and a caret, and the exit status is 1; nothing is written to the
// output file then.
//
//===----------------------------------------------------------------------===//

#include "CPUPipeline.h"
#include "CPUTarget.h"
#include "CUDAPipeline.h"
#include "RunPipeline.h"
#include "Conversion/Passes.h"
#include "Diagnostics.h"
#include "HeaderEmitter.h"
#include "MLIRGen.h"
#include "Parser.h"
#include "Sema.h"
#include "raspc/Jit.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/Timing.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <random>

using namespace llvm;

namespace {
enum class Stage { AST, Attn, Header, Loops, LLVMDialect, LLVM, Asm, Obj, Lib, PTX };

cl::OptionCategory category("raspc options");

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<program.rasp>"),
                               cl::init("-"), cl::cat(category));

cl::opt<Stage> emit(
    "emit", cl::desc("What to produce (default: attn)"), cl::init(Stage::Attn),
    cl::values(clEnumValN(Stage::AST, "ast",
                          "the syntax tree, after parsing (no checks)"),
               clEnumValN(Stage::Attn, "attn",
                          "the checked program as MLIR in the attn dialect"),
               clEnumValN(Stage::Header, "header",
                          "a C header declaring the entry point (see docs/abi.md)"),
               clEnumValN(Stage::Loops, "loops",
                          "MLIR after lowering to loops over memrefs (CPU)"),
               clEnumValN(Stage::LLVMDialect, "llvm-dialect",
                          "MLIR in the LLVM dialect (for cuda: host code and "
                          "gpu.binary)"),
               clEnumValN(Stage::LLVM, "llvm", "optimized LLVM IR of the host code"),
               clEnumValN(Stage::Asm, "asm", "assembly for the host CPU"),
               clEnumValN(Stage::Obj, "obj",
                          "an object file (for cuda: host code with the kernels' "
                          "PTX embedded; link with rasprt)"),
               clEnumValN(Stage::Lib, "lib",
                          "a shared library (links the object with the system's cc)"),
               clEnumValN(Stage::PTX, "ptx", "PTX of the GPU kernels (--target=cuda)")),
    cl::cat(category));


cl::opt<std::string> mcpu("mcpu",
                          cl::desc("The CPU to compile for (default: this "
                                   "machine's, e.g. znver5)"),
                          cl::value_desc("name"), cl::init(""), cl::cat(category));

// `raspc run`; its own options are below.
cl::SubCommand runCommand(
    "run", "Compile a program for this CPU (or --target=cuda) and run it.\n\n"
           "  raspc run examples/rasp/reverse.rasp a b c        # prints: c b a\n"
           "  raspc run examples/rasp/sort.rasp -- 3 -1 2       # '--' before tokens like -1\n"
           "  raspc run model.rasp --input x=x.npy --params w.safetensors --output y.npy\n"
           "  raspc run model.rasp --random-params 7     # random weights and inputs\n");

cl::opt<std::string> target("target",
                            cl::desc("The target: cpu (the default) or cuda (NVIDIA GPUs)"),
                            cl::init("cpu"), cl::sub(cl::SubCommand::getTopLevel()),
                            cl::sub(runCommand), cl::cat(category));

cl::opt<std::string> gpuArch("gpu-arch",
                             cl::desc("The GPU architecture for --target=cuda (default sm_80; "
                                      "e.g. sm_90a)"),
                             cl::value_desc("sm_XY"), cl::init("sm_80"),
                             cl::sub(cl::SubCommand::getTopLevel()), cl::sub(runCommand),
                             cl::cat(category));

cl::opt<std::string> gpuBinary(
    "gpu-binary",
    cl::desc("What CUDA objects embed: ptx (the default: the driver compiles it for the GPU "
             "it finds, sm_XY and newer), cubin (compiled here by the CUDA toolkit's ptxas "
             "for exactly --gpu-arch; no compile at load) or fatbin (both)"),
    cl::value_desc("ptx|cubin|fatbin"), cl::init("ptx"), cl::sub(cl::SubCommand::getTopLevel()),
    cl::sub(runCommand), cl::cat(category));

cl::opt<unsigned> gpuFlashRowTiles(
    "gpu-flash-row-tiles",
    cl::desc("Tuning: MMA tiles of 16 query rows per warp in the tensor-core flash kernels, "
             "1 or 2 (default: 2 at head sizes up to 64, else 1)"),
    cl::init(0), cl::Hidden, cl::cat(category));

cl::opt<bool> gpuWgmma(
    "gpu-wgmma",
    cl::desc("Tuning: f16/bf16 attention and matmuls by warpgroup MMA (wgmma.mma_async) "
             "with --gpu-arch=sm_90a, instead of mma.sync"),
    cl::init(false), cl::Hidden, cl::cat(category));

cl::opt<bool> gpuWgmmaOverlap(
    "gpu-wgmma-overlap",
    cl::desc("Tuning: with --gpu-wgmma, keep MMAs in flight under other work: attention runs "
             "each key block's softmax while the tensor cores add the block before it "
             "(FlashAttention-3's pipelining), matmuls load the next K step while the last "
             "one's MMAs finish (=false: one after the other)"),
    cl::init(true), cl::Hidden, cl::cat(category));

cl::list<std::string> passPlugins(
    "load-pass-plugin",
    cl::desc("Load passes from a plugin (see --insert-before-tiling and friends)"),
    cl::value_desc("plugin.so"), cl::sub(cl::SubCommand::getTopLevel()), cl::sub(runCommand),
    cl::cat(category));

cl::opt<std::string> insertBeforeTiling(
    "insert-before-tiling",
    cl::desc("A pass pipeline to run on the attn dialect, before lowering"),
    cl::value_desc("pipeline"), cl::init(""), cl::sub(cl::SubCommand::getTopLevel()),
    cl::sub(runCommand), cl::cat(category));
cl::opt<std::string> insertAfterTiling(
    "insert-after-tiling",
    cl::desc("A pass pipeline to run on linalg on tensors, after attn is lowered"),
    cl::value_desc("pipeline"), cl::init(""), cl::sub(cl::SubCommand::getTopLevel()),
    cl::sub(runCommand), cl::cat(category));
cl::opt<std::string> insertBeforeLLVM(
    "insert-before-llvm",
    cl::desc("A pass pipeline to run on loops over memrefs, before LLVM"),
    cl::value_desc("pipeline"), cl::init(""), cl::sub(cl::SubCommand::getTopLevel()),
    cl::sub(runCommand), cl::cat(category));

cl::opt<unsigned> optLevel("O", cl::desc("LLVM optimization level, 0 to 3 (default 2)"),
                           cl::Prefix, cl::init(2), cl::cat(category));

cl::opt<std::string> outputFile("o", cl::desc("Output file (default: stdout)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::cat(category));

cl::opt<std::string> entry(
    "entry",
    cl::desc("The def or model to compile (default: 'main', else the last "
             "one in the file)"),
    cl::value_desc("name"), cl::init(""), cl::cat(category));

//===--- raspc run -------------------------------------------------------===//



cl::opt<std::string> runFile(cl::Positional, cl::Required, cl::desc("<program.rasp>"),
                             cl::sub(runCommand), cl::cat(category));
cl::list<std::string> runTokens(cl::Positional, cl::desc("<token>..."),
                                cl::sub(runCommand), cl::cat(category));
cl::opt<std::string> runEntry("entry", cl::desc("The def or model to run"),
                              cl::value_desc("name"), cl::init(""),
                              cl::sub(runCommand), cl::cat(category));
cl::list<std::string> runInputs(
    "input", cl::desc("A model input from a .npy file (repeat per input)"),
    cl::value_desc("name=file.npy"), cl::sub(runCommand), cl::cat(category));
cl::opt<std::string> runOutput("output",
                               cl::desc("Write a model's result to this .npy file"),
                               cl::value_desc("file.npy"), cl::init(""),
                               cl::sub(runCommand), cl::cat(category));
cl::opt<std::string> runParams(
    "params", cl::desc("Load model parameters by name from a .safetensors file"),
    cl::value_desc("weights.safetensors"), cl::init(""), cl::sub(runCommand), cl::cat(category));
cl::opt<unsigned> runRandomParams(
    "random-params",
    cl::desc("Fill every model parameter with uniform values in [-0.1, 0.1] "
             "from this seed (a demo without weights)"),
    cl::value_desc("seed"), cl::sub(runCommand), cl::cat(category));
cl::opt<unsigned> runRandomLength(
    "random-length",
    cl::desc("With --random-params: the length of random inputs that are not "
             "given with --input (default 8)"),
    cl::value_desc("n"), cl::init(8), cl::sub(runCommand), cl::cat(category));
cl::opt<bool> runPrintSelectors(
    "print-selectors",
    cl::desc("Also print every selector as a matrix, queries down and keys "
             "across, as the RASP REPL does"),
    cl::init(false), cl::sub(runCommand), cl::cat(category));
cl::opt<int> runOptLevel("O", cl::desc("Optimization level, 0 to 3 (default 2)"),
                         cl::Prefix, cl::init(2), cl::sub(runCommand), cl::cat(category));
} // namespace

/// Fills `t` with uniform values in [-0.1, 0.1] (floats) or small ints.
static void fillRandom(rasprt_tensor &t, std::mt19937_64 &rng) {
  std::uniform_real_distribution<float> uniform(-0.1f, 0.1f);
  int64_t n = rasprt_tensor_numel(&t);
  for (int64_t i = 0; i < n; ++i) {
    if (t.dtype == RASPRT_F32)
      static_cast<float *>(t.data)[i] = uniform(rng);
    else if (t.dtype == RASPRT_I32)
      static_cast<int32_t *>(t.data)[i] = static_cast<int32_t>(i / 4);
  }
}

static int runModel(const raspc::JitProgram &program) {
  std::map<std::string, std::string> files;
  for (const std::string &spec : runInputs) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos) {
      errs() << "raspc run: error: --input takes name=file.npy, not '" << spec << "'\n";
      return 1;
    }
    files[spec.substr(0, eq)] = spec.substr(eq + 1);
  }
  std::vector<std::string> names = program.argumentNames();
  std::vector<std::string> params = program.parameterNames();
  for (auto &[name, file] : files)
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      errs() << "raspc run: error: '" << program.name() << "' has no input named '"
             << name << "'\n";
      return 1;
    }
  rasprt_safetensors *weights = nullptr;
  if (!runParams.empty() && rasprt_safetensors_open(runParams.c_str(), &weights) != RASPRT_OK) {
    errs() << "raspc run: error: " << rasprt_last_error() << "\n";
    return 1;
  }
  std::mt19937_64 rng(runRandomParams.getValue());
  std::vector<rasprt_tensor> storage(names.size());
  std::vector<const rasprt_tensor *> arguments;
  int status = 0;
  for (size_t i = 0; i < names.size() && status == 0; ++i) {
    bool isParam = std::find(params.begin(), params.end(), names[i]) != params.end();
    auto file = files.find(names[i]);
    if (isParam && weights) {
      std::vector<int64_t> shape = program.argumentShape(i);
      if (rasprt_safetensors_load(weights, names[i].c_str(), program.argumentDtype(i),
                                  static_cast<int32_t>(shape.size()), shape.data(),
                                  &storage[i]) != RASPRT_OK) {
        errs() << "raspc run: error: parameter '" << names[i] << "': " << rasprt_last_error()
               << "\n";
        status = 1;
      }
    } else if (file != files.end()) {
      if (rasprt_npy_read(file->second.c_str(), &storage[i]) != RASPRT_OK) {
        errs() << "raspc run: error: input '" << names[i] << "': " << rasprt_last_error() << "\n";
        status = 1;
      }
    } else if (runRandomParams.getNumOccurrences()) {
      // The declared shape, with symbolic sizes set to --random-length.
      std::vector<int64_t> shape = program.argumentShape(i);
      for (int64_t &d : shape)
        if (d < 0)
          d = runRandomLength;
      if (rasprt_tensor_alloc(&storage[i], program.argumentDtype(i),
                              static_cast<int32_t>(shape.size()), shape.data()) != RASPRT_OK) {
        errs() << "raspc run: error: " << rasprt_last_error() << "\n";
        status = 1;
      } else {
        fillRandom(storage[i], rng);
      }
    } else {
      errs() << "raspc run: error: no value for " << (isParam ? "parameter" : "input")
             << " '" << names[i] << "'; give --input " << names[i]
             << "=file.npy" << (isParam ? " or --random-params SEED" : "") << "\n";
      status = 1;
    }
    arguments.push_back(&storage[i]);
  }
  rasprt_safetensors_close(weights);
  rasprt_tensor output{};
  std::string error;
  if (status == 0 && !program.run(arguments, &output, &error)) {
    errs() << "raspc run: error: " << error << "\n";
    status = 1;
  }
  for (rasprt_tensor &t : storage)
    rasprt_tensor_free(&t);
  if (status)
    return status;
  if (!runOutput.empty()) {
    if (rasprt_npy_write(runOutput.c_str(), &output) != RASPRT_OK) {
      errs() << "raspc run: error: " << rasprt_last_error() << "\n";
      status = 1;
    }
  } else {
    outs() << rasprt_dtype_name(output.dtype) << "[";
    for (int32_t d = 0; d < output.rank; ++d)
      outs() << (d ? ", " : "") << output.shape[d];
    outs() << "]";
    int64_t n = rasprt_tensor_numel(&output);
    for (int64_t i = 0; i < std::min<int64_t>(n, 8); ++i)
      if (output.dtype == RASPRT_F32)
        outs() << " " << format("%g", static_cast<float *>(output.data)[i]);
    outs() << (n > 8 ? " ...\n" : "\n");
  }
  rasprt_tensor_free(&output);
  return status;
}

/// Whether kernels call libdevice's math functions that were not linked.
static bool hasUnlinkedLibdevice(mlir::ModuleOp module) {
  std::string ptx;
  raw_string_ostream os(ptx);
  raspc::printPTX(module, os);
  return StringRef(ptx).contains("__nv_");
}

/// Links an object file into a shared library with the system's C compiler
/// driver (it knows the platform's linker flags); the library's bytes end
/// up in `library`.
static bool linkSharedLibrary(const SmallVectorImpl<char> &object, std::string &library) {
  auto cc = sys::findProgramByName("cc");
  if (!cc) {
    errs() << "raspc: error: --emit=lib needs a C compiler driver ('cc') to link; "
              "install build-essential or use --emit=obj\n";
    return false;
  }
  SmallString<128> objectPath, libraryPath;
  if (sys::fs::createTemporaryFile("raspc", "o", objectPath) ||
      sys::fs::createTemporaryFile("raspc", "so", libraryPath)) {
    errs() << "raspc: error: cannot create temporary files\n";
    return false;
  }
  FileRemover removeObject(objectPath), removeLibrary(libraryPath);
  {
    std::error_code ec;
    raw_fd_ostream out(objectPath, ec);
    out << StringRef(object.data(), object.size());
  }
  std::string message;
  StringRef args[] = {*cc, "-shared", "-o", libraryPath, objectPath, "-lm"};
  if (sys::ExecuteAndWait(*cc, args, std::nullopt, {}, 0, 0, &message) != 0) {
    errs() << "raspc: error: linking the shared library failed"
           << (message.empty() ? "" : ": " + message) << "\n";
    return false;
  }
  auto buffer = MemoryBuffer::getFile(libraryPath);
  if (!buffer) {
    errs() << "raspc: error: cannot read the linked library\n";
    return false;
  }
  library.append((*buffer)->getBufferStart(), (*buffer)->getBufferEnd());
  return true;
}

static int runMain() {
  std::string errors;
  raspc::JitOptions options;
  options.entry = runEntry;
  options.optLevel = runOptLevel;
  options.exposeSelectors = runPrintSelectors;
  options.insertBeforeTiling = insertBeforeTiling;
  options.insertAfterTiling = insertAfterTiling;
  options.insertBeforeLLVM = insertBeforeLLVM;
  options.target = target;
  options.gpuArch = gpuArch;
  options.gpuBinary = gpuBinary;
  auto program = raspc::JitProgram::compileFile(runFile, options, &errors);
  if (!program) {
    errs() << errors;
    return 1;
  }
  if (program->isModel())
    return runModel(*program);
  std::vector<std::string> outputs;
  std::vector<raspc::SelectorMatrix> selectors;
  std::string error;
  if (!program->runTokens(runTokens, outputs, &selectors, &error)) {
    errs() << "raspc run: error: " << error << "\n";
    return 1;
  }
  for (size_t i = 0; i < outputs.size(); ++i)
    outs() << (i ? " " : "") << outputs[i];
  outs() << "\n";
  for (const raspc::SelectorMatrix &m : selectors) {
    // Queries down, keys across, labelled with the input tokens.
    size_t width = 1;
    for (const std::string &t : runTokens)
      width = std::max(width, t.size());
    outs() << "\n" << m.name << ":\n" << std::string(width + 3, ' ');
    for (int64_t k = 0; k < m.keys; ++k)
      outs() << left_justify(k < (int64_t)runTokens.size() ? runTokens[k] : "?", width) << " ";
    outs() << "\n";
    for (int64_t q = 0; q < m.queries; ++q) {
      outs() << left_justify(q < (int64_t)runTokens.size() ? runTokens[q] : "?", width) << " | ";
      for (int64_t k = 0; k < m.keys; ++k)
        outs() << left_justify(m.selected[q * m.keys + k] ? "1" : ".", width) << " ";
      outs() << "\n";
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  // --mlir-print-ir-after-all, --mlir-timing and friends, for the pipeline.
  // Passes first: --mlir-print-ir-after=... takes the names known then.
  raspc::registerConversionPasses();
  mlir::registerPassManagerCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();
  // libLLVM registers hundreds of options of its own; --help shows ours.
  cl::HideUnrelatedOptions(category);
  cl::HideUnrelatedOptions(category, runCommand);
  cl::ParseCommandLineOptions(
      argc, argv,
      "raspc: compile RASP programs and attention models\n\n"
      "  raspc examples/rasp/reverse.rasp              # print the attn IR\n"
      "  raspc --emit=ast model.rasp -o model.ast\n"
      "  cat prog.rasp | raspc - --entry sort\n");

  for (const std::string &path : passPlugins) {
    auto plugin = mlir::PassPlugin::load(path);
    if (!plugin) {
      errs() << "raspc: error: cannot load pass plugin '" << path
             << "': " << toString(plugin.takeError()) << "\n";
      return 1;
    }
    plugin->registerPassRegistryCallbacks();
  }
  // Inserted pipelines may name any upstream pass; register them only when
  // asked, to keep the common start-up short.
  if (!insertBeforeTiling.empty() || !insertAfterTiling.empty() || !insertBeforeLLVM.empty())
    mlir::registerAllPasses();

  if (runCommand)
    return runMain();

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
    if (target != "cpu" && target != "cuda") {
      errs() << "raspc: error: unknown target '" << target << "' (cpu or cuda)\n";
      return 1;
    }
    bool cuda = target == "cuda";
    if (cuda && emit == Stage::Loops) {
      errs() << "raspc: error: --emit=loops is a CPU stage; for --target=cuda emit "
                "llvm-dialect, ptx, llvm, asm, obj, lib or header\n";
      return 1;
    }
    if (cuda && (!insertBeforeTiling.empty() || !insertAfterTiling.empty() ||
                 !insertBeforeLLVM.empty())) {
      errs() << "raspc: error: --insert-* pipelines run in the CPU pipeline; "
                "--target=cuda does not take them yet\n";
      return 1;
    }
    if (!cuda && emit == Stage::PTX) {
      errs() << "raspc: error: --emit=ptx needs --target=cuda\n";
      return 1;
    }
    if (cuda && !raspc::isKnownGPUArch(gpuArch)) {
      errs() << "raspc: error: unknown GPU architecture '" << gpuArch
             << "' (sm_XY or sm_XYa, e.g. sm_80, sm_90a)\n";
      return 1;
    }
    std::optional<std::string> binaryFormat = raspc::gpuBinaryFormat(gpuBinary);
    if (!binaryFormat) {
      errs() << "raspc: error: unknown --gpu-binary '" << gpuBinary
             << "' (ptx, cubin or fatbin)\n";
      return 1;
    }
    if (gpuFlashRowTiles > 2) {
      errs() << "raspc: error: --gpu-flash-row-tiles must be 1 or 2, not " << gpuFlashRowTiles
             << "\n";
      return 1;
    }
    if (gpuWgmma && gpuArch != "sm_90a") {
      errs() << "raspc: error: --gpu-wgmma needs --gpu-arch=sm_90a (wgmma exists there only), "
                "not "
             << gpuArch << "\n";
      return 1;
    }
    if (emit == Stage::PTX && *binaryFormat != "isa") {
      errs() << "raspc: error: --emit=ptx prints PTX; --gpu-binary=" << gpuBinary
             << " is for objects (--emit=obj, lib)\n";
      return 1;
    }
    mlir::DialectRegistry registry;
    raspc::registerMLIRGenDialects(registry);
    if (emit > Stage::Attn) {
      raspc::registerCPUPipelineExtensions(registry);
      mlir::registerBuiltinDialectTranslation(registry);
      mlir::registerLLVMDialectTranslation(registry);
    }
    if (cuda) // kernels (NVVM) and their launches (GPU) translate to LLVM IR
      mlir::registerAllToLLVMIRTranslations(registry);
    mlir::MLIRContext context(registry);
    // Errors on the program point at its source; the IR is not the user's.
    context.printOpOnDiagnostic(false);
    raspc::loadMLIRGenDialects(context);
    mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
    mlir::OwningOpRef<mlir::ModuleOp> ir =
        raspc::generateMLIR(context, *program, sourceMgr, bufferId);
    if (!ir || failed(mlir::verify(*ir))) {
      errs() << "raspc: internal error: the generated IR does not verify; "
                "please report this with the program\n";
      return 1;
    }
    raspc::CUDAPipelineOptions cudaOptions;
    cudaOptions.chip = gpuArch;
    cudaOptions.format = *binaryFormat;
    cudaOptions.optLevel = std::min(optLevel.getValue(), 3u);
    cudaOptions.flashRowTiles = gpuFlashRowTiles;
    cudaOptions.wgmma = gpuWgmma;
    cudaOptions.wgmmaOverlap = gpuWgmmaOverlap;
    if (emit == Stage::Attn) {
      ir->print(os);
    } else if (emit == Stage::Header) {
      raspc::emitCHeader(*ir->getOps<mlir::func::FuncOp>().begin(), os, cuda);
    } else {
      mlir::PassManager pm(&context);
      if (failed(mlir::applyPassManagerCLOptions(pm)))
        return 1;
      mlir::DefaultTimingManager timing;
      mlir::applyDefaultTimingManagerCLOptions(timing);
      mlir::TimingScope timingScope = timing.getRootScope();
      pm.enableTiming(timingScope);
      raspc::CPUPipelineOptions pipelineOptions;
      bool pipelineError = false;
      auto insert = [&](const std::string &text, const char *flag) {
        return raspc::pipelineHook(text, [&, flag](const std::string &message) {
          errs() << "raspc: error: in --" << flag << ": " << message << "\n";
          pipelineError = true;
        });
      };
      pipelineOptions.beforeTiling = insert(insertBeforeTiling, "insert-before-tiling");
      pipelineOptions.afterTiling = insert(insertAfterTiling, "insert-after-tiling");
      pipelineOptions.beforeLLVM = insert(insertBeforeLLVM, "insert-before-llvm");
      if (!mcpu.empty()) {
        raspc::CPUTargetOptions cpu;
        cpu.cpu = mcpu;
        pipelineOptions.vectorWidth = raspc::vectorWidthFor(cpu);
      }
      if (cuda)
        raspc::buildCUDAPipeline(pm, cudaOptions);
      else if (emit == Stage::Loops)
        raspc::buildCPULoopsPipeline(pm, pipelineOptions);
      else
        raspc::buildCPUPipeline(pm, pipelineOptions);
      if (pipelineError)
        return 1;
      if (raspc::PipelineResult r = raspc::runPipeline(pm, *ir);
          r != raspc::PipelineResult::Success) {
        if (r == raspc::PipelineResult::InternalError)
          errs() << "raspc: internal error: lowering" << (cuda ? " for CUDA" : "")
                 << " failed; please report this with the program\n";
        return 1;
      }
      if (cuda && raspc::cudaToolkitPath(cudaOptions).empty() && hasUnlinkedLibdevice(*ir))
        errs() << "raspc: warning: no CUDA toolkit found, so the kernels' math "
                  "functions (__nv_*) are not linked from libdevice; set CUDA_HOME\n";
      if (emit == Stage::PTX) {
        if (!raspc::printPTX(*ir, os))
          os << "// raspc: the program has no GPU kernels\n";
      } else if (emit <= Stage::LLVMDialect) {
        ir->print(os);
      } else {
        raspc::CPUTargetOptions targetOptions;
        targetOptions.cpu = mcpu;
        targetOptions.optLevel = static_cast<int>(optLevel);
        llvm::LLVMContext llvmContext;
        std::string error;
        std::unique_ptr<llvm::Module> llvmModule =
            raspc::translateToLLVMIR(*ir, llvmContext, targetOptions, &error);
        if (!llvmModule) {
          errs() << "raspc: error: " << error << "\n";
          return 1;
        }
        if (emit == Stage::LLVM) {
          llvmModule->print(os, nullptr);
        } else {
          SmallVector<char> code;
          auto kind = emit == Stage::Asm ? raspc::MachineCodeKind::Assembly
                                         : raspc::MachineCodeKind::Object;
          if (!raspc::emitMachineCode(*llvmModule, kind, targetOptions, code, &error)) {
            errs() << "raspc: error: " << error << "\n";
            return 1;
          }
          if (emit == Stage::Lib) {
            if (!linkSharedLibrary(code, output)) // replaces `code` by the library
              return 1;
          } else {
            os << StringRef(code.data(), code.size());
          }
        }
      }
    }
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
