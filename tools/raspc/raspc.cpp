//===- raspc.cpp - the raspc compiler driver --------------------*- C++ -*-===//
//
// raspc FILE [--emit=STAGE] [--target=cpu|cuda] [--entry NAME] [-o OUT]
// raspc run FILE [--entry NAME] [--] TOKEN...
// raspc run MODEL.rasp [--input NAME=X.npy]... [--params W.safetensors]
//                       [--random-params SEED] [--output Y.npy]
//
// Reads a program (`-` is standard input) and compiles it to the requested
// stage through the compile API (include/raspc/Compiler.h), or compiles it
// with the JIT and runs it: the flags become CompileOptions and nothing else.
// Every mistake in the program is reported as `file:line:col: error: ...`
// with the source line and a caret, and the exit status is 1; nothing is
// written to the output file then.
//
//===----------------------------------------------------------------------===//

#include "Conversion/Passes.h"
#include "raspc/Compiler.h"
#include "raspc/Jit.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>

using namespace llvm;

namespace {
using raspc::Stage;

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
               clEnumValN(Stage::Tiled, "tiled",
                          "MLIR with attention tiled (CPU loops or GPU kernels) and the "
                          "rest in linalg, on tensors"),
               clEnumValN(Stage::Loops, "loops",
                          "MLIR bufferized: loops over memrefs (for cuda: GPU launches)"),
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

cl::opt<std::string> cudaToolkit(
    "cuda-toolkit",
    cl::desc("The CUDA toolkit whose libdevice and ptxas --target=cuda uses (default: the one "
             "found when raspc was built)"),
    cl::value_desc("dir"), cl::init(""), cl::sub(cl::SubCommand::getTopLevel()),
    cl::sub(runCommand), cl::cat(category));

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

cl::opt<bool> packedBatch(
    "packed-batch",
    cl::desc("Models: one call runs a batch of examples packed one after another along "
             "their positions, with an input 'lengths' (i32[B]) after the others"),
    cl::init(false), cl::sub(cl::SubCommand::getTopLevel()), cl::sub(runCommand),
    cl::cat(category));

cl::opt<unsigned> optLevel("O", cl::desc("Optimization level, 0 to 3 (default 2)"),
                           cl::Prefix, cl::init(2), cl::sub(cl::SubCommand::getTopLevel()),
                           cl::sub(runCommand), cl::cat(category));

cl::opt<std::string> outputFile("o", cl::desc("Output file (default: stdout)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::cat(category));

cl::opt<std::string> entry(
    "entry",
    cl::desc("The def or model to compile (default: 'main', else the last "
             "one in the file)"),
    cl::value_desc("name"), cl::init(""), cl::sub(cl::SubCommand::getTopLevel()),
    cl::sub(runCommand), cl::cat(category));

//===--- raspc run -------------------------------------------------------===//



cl::opt<std::string> runFile(cl::Positional, cl::Required, cl::desc("<program.rasp>"),
                             cl::sub(runCommand), cl::cat(category));
cl::list<std::string> runTokens(cl::Positional, cl::desc("<token>..."),
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
cl::opt<std::string> runSelectorsSvg(
    "selectors-svg",
    cl::desc("Also draw every selector as an SVG picture in this directory "
             "(created if missing): <n>-<name>.svg, queries down and keys across"),
    cl::value_desc("dir"), cl::init(""), cl::sub(runCommand), cl::cat(category));
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

/// Reads `paths` (one input's files, in order) and packs their rows one
/// after another into `out`; `rows` gets each file's row count.
static bool readPacked(const std::string &name, const std::vector<std::string> &paths,
                       rasprt_tensor &out, std::vector<int32_t> &rows) {
  std::vector<rasprt_tensor> parts(paths.size());
  bool ok = true;
  int64_t total = 0;
  for (size_t f = 0; f < paths.size() && ok; ++f) {
    ok = rasprt_npy_read(paths[f].c_str(), &parts[f]) == RASPRT_OK;
    if (!ok) {
      errs() << "raspc run: error: input '" << name << "': " << rasprt_last_error() << "\n";
      break;
    }
    const rasprt_tensor &t = parts[f], &first = parts[0];
    ok = t.rank >= 1 && t.dtype == first.dtype && t.rank == first.rank &&
         std::equal(t.shape + 1, t.shape + t.rank, first.shape + 1);
    if (!ok)
      errs() << "raspc run: error: input '" << name << "': " << paths[f]
             << " does not pack with " << paths[0]
             << " (the files must agree in dtype and in every dimension but the first)\n";
    rows.push_back(ok ? static_cast<int32_t>(t.shape[0]) : 0);
    total += ok ? t.shape[0] : 0;
  }
  if (ok) {
    std::vector<int64_t> shape(parts[0].shape, parts[0].shape + parts[0].rank);
    shape[0] = total;
    ok = rasprt_tensor_alloc(&out, parts[0].dtype, parts[0].rank, shape.data()) == RASPRT_OK;
    if (!ok)
      errs() << "raspc run: error: input '" << name << "': " << rasprt_last_error() << "\n";
    char *at = ok ? static_cast<char *>(out.data) : nullptr;
    for (size_t f = 0; ok && f < parts.size(); ++f) {
      size_t bytes = rasprt_tensor_numel(&parts[f]) * rasprt_dtype_size(parts[f].dtype);
      std::memcpy(at, parts[f].data, bytes);
      at += bytes;
    }
  }
  for (rasprt_tensor &t : parts)
    rasprt_tensor_free(&t);
  return ok;
}

static int runModel(const raspc::JitProgram &program) {
  // With --packed-batch an input may be given once per example: the files
  // are packed one after another and, unless given, their row counts are
  // the lengths.
  std::map<std::string, std::vector<std::string>> files;
  for (const std::string &spec : runInputs) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos) {
      errs() << "raspc run: error: --input takes name=file.npy, not '" << spec << "'\n";
      return 1;
    }
    std::vector<std::string> &paths = files[spec.substr(0, eq)];
    if (!paths.empty() && !packedBatch) {
      errs() << "raspc run: error: --input " << spec.substr(0, eq) << "= is given twice ('"
             << paths.front() << "' and '" << spec.substr(eq + 1)
             << "'); with --packed-batch the files of a batch's examples are packed\n";
      return 1;
    }
    paths.push_back(spec.substr(eq + 1));
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
  std::vector<int32_t> exampleRows; // packed: the first packed input's
  int status = 0;
  for (size_t i = 0; i < names.size() && status == 0; ++i) {
    bool isParam = std::find(params.begin(), params.end(), names[i]) != params.end();
    auto file = files.find(names[i]);
    if (packedBatch && names[i] == "lengths" && file == files.end() && !exampleRows.empty()) {
      int64_t count = static_cast<int64_t>(exampleRows.size());
      if (rasprt_tensor_alloc(&storage[i], RASPRT_I32, 1, &count) != RASPRT_OK) {
        errs() << "raspc run: error: input 'lengths': " << rasprt_last_error() << "\n";
        status = 1;
      } else {
        std::copy(exampleRows.begin(), exampleRows.end(), static_cast<int32_t *>(storage[i].data));
      }
      arguments.push_back(&storage[i]);
      continue;
    }
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
      std::vector<int32_t> rows;
      if (!readPacked(names[i], file->second, storage[i], rows))
        status = 1;
      else if (exampleRows.empty() && names[i] != "lengths")
        exampleRows = rows;
    } else if (runRandomParams.getNumOccurrences()) {
      // The declared shape, with symbolic sizes set to --random-length.
      std::vector<int64_t> shape = program.argumentShape(i);
      for (int64_t &d : shape)
        if (d < 0)
          d = runRandomLength;
      if (rasprt_tensor_alloc(&storage[i], program.argumentDtype(i),
                              static_cast<int32_t>(shape.size()), shape.data()) != RASPRT_OK) {
        errs() << "raspc run: error: " << (isParam ? "parameter '" : "input '") << names[i]
               << "': " << rasprt_last_error() << "\n";
        status = 1;
      } else {
        fillRandom(storage[i], rng);
      }
    } else {
      errs() << "raspc run: error: no value for " << (isParam ? "parameter" : "input")
             << " '" << names[i] << "'; give "
             << (isParam ? "--params weights.safetensors holding it, --input " + names[i] +
                               "=file.npy or --random-params SEED"
                         : "--input " + names[i] + "=file.npy")
             << "\n";
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

/// The flags as compile options: the one place the driver reads them.
/// `timing` is the manager --mlir-timing and friends set up; when enabled,
/// the compile is timed under its root.
static std::optional<raspc::CompileOptions>
compileOptionsFromFlags(mlir::DefaultTimingManager &timing, mlir::TimingScope &timingRoot) {
  raspc::CompileOptions options;
  std::optional<raspc::Target::Kind> kind = raspc::parseTargetKind(target);
  if (!kind) {
    errs() << "raspc: error: unknown target '" << target << "' (cpu or cuda)\n";
    return std::nullopt;
  }
  options.stage = emit;
  options.target.kind = *kind;
  options.target.cpu.cpu = mcpu;
  options.target.cuda.arch = gpuArch;
  options.target.cuda.binary = gpuBinary;
  // The toolkit: the flag, else the environment's (as CUDA's own tools
  // read it), else the one found when raspc was built (the library's
  // default). The library itself never reads the environment.
  options.target.cuda.toolkitPath = cudaToolkit;
  for (const char *name : {"CUDA_HOME", "CUDA_ROOT", "CUDA_PATH"})
    if (const char *value = std::getenv(name);
        options.target.cuda.toolkitPath.empty() && value && *value)
      options.target.cuda.toolkitPath = value;
  options.target.cuda.wgmma = gpuWgmma;
  options.target.cuda.wgmmaOverlap = gpuWgmmaOverlap;
  options.target.cuda.flashRowTiles = gpuFlashRowTiles;
  options.entry = entry;
  options.optLevel = static_cast<int>(std::min(optLevel.getValue(), 3u));
  options.exposeSelectors = runPrintSelectors || !runSelectorsSvg.empty();
  options.packedBatch = packedBatch;
  options.insertBeforeTiling = insertBeforeTiling;
  options.insertAfterTiling = insertAfterTiling;
  options.insertBeforeLLVM = insertBeforeLLVM;
  options.passPlugins = passPlugins;
  // --mlir-print-ir-after-all and friends.
  options.configurePassManager = [](mlir::PassManager &pm) {
    return succeeded(mlir::applyPassManagerCLOptions(pm));
  };
  // --mlir-timing: the compile times the front end and LLVM as well as the
  // passes; the manager prints the report when it goes (also after errors).
  mlir::applyDefaultTimingManagerCLOptions(timing);
  if (timing.isEnabled()) {
    timingRoot = timing.getRootScope();
    options.timing = &timingRoot;
  }
  return options;
}

/// --selectors-svg: one picture per selector, named by its order and its
/// `let` (the place in the source dropped from the file name).
static bool writeSelectorPictures(const std::vector<raspc::SelectorMatrix> &selectors) {
  if (std::error_code ec = llvm::sys::fs::create_directories(runSelectorsSvg)) {
    errs() << "raspc run: error: cannot create '" << runSelectorsSvg << "': " << ec.message()
           << "\n";
    return false;
  }
  for (size_t i = 0; i < selectors.size(); ++i) {
    std::string name = selectors[i].name.substr(0, selectors[i].name.find(" ("));
    for (char &c : name)
      if (!llvm::isAlnum(c) && c != '_' && c != '-')
        c = '_';
    SmallString<128> path(runSelectorsSvg);
    llvm::sys::path::append(path, std::to_string(i + 1) + "-" + name + ".svg");
    std::error_code ec;
    llvm::raw_fd_ostream file(path, ec);
    if (ec) {
      errs() << "raspc run: error: cannot write '" << path << "': " << ec.message() << "\n";
      return false;
    }
    file << raspc::selectorSvg(selectors[i], runTokens);
  }
  return true;
}

static int runMain() {
  mlir::DefaultTimingManager timing;
  mlir::TimingScope timingRoot;
  std::optional<raspc::CompileOptions> options = compileOptionsFromFlags(timing, timingRoot);
  if (!options)
    return 1;
  std::string errors;
  auto program = raspc::JitProgram::compileFile(runFile, *options, &errors);
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
  if (!runSelectorsSvg.empty() && !writeSelectorPictures(selectors))
    return 1;
  if (!runPrintSelectors)
    return 0;
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
      "  cat prog.rasp | raspc - --entry sort\n"
      "  raspc model.rasp --emit=obj -o m.o --mlir-timing   # where compile time goes\n");

  if (runCommand)
    return runMain();

  mlir::DefaultTimingManager timing;
  mlir::TimingScope timingRoot;
  std::optional<raspc::CompileOptions> options = compileOptionsFromFlags(timing, timingRoot);
  if (!options)
    return 1;
  std::string diagnostics;
  std::unique_ptr<raspc::Artifact> artifact =
      raspc::compileFile(inputFile, *options, diagnostics);
  errs() << diagnostics;
  if (!artifact)
    return 1;

  // Only a successful compile touches the output file.
  std::string errorMessage;
  auto out = mlir::openOutputFile(outputFile, &errorMessage);
  if (!out) {
    errs() << "raspc: error: " << errorMessage << "\n";
    return 1;
  }
  artifact->write(out->os());
  out->keep();
  return 0;
}
