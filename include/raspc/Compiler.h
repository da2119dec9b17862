//===- Compiler.h - the one way to compile a raspc program ------*- C++ -*-===//
//
// Every client compiles through this API: the driver (`raspc`), the JIT
// (`Jit.h`, `raspc.h`), rasp-opt's registered `raspc-pipeline` and the
// Python package. A compile takes source text (or a module already in the
// attn dialect) and typed options and gives an artifact: the IR of an
// intermediate stage, or the bytes of a file, or located diagnostics.
//
//   raspc::CompileOptions options;
//   options.stage = raspc::Stage::Obj;
//   std::string diagnostics;
//   auto artifact = raspc::compileFile("sort.rasp", options, diagnostics);
//   if (artifact) artifact->write(out);    // else: print `diagnostics`
//
// The stages, in pipeline order (each one's IR is verified before the next
// runs; see docs/design.md for the passes of each):
//
//   ast          the syntax tree, as parsed (no checks)
//   attn         the checked program in the attn dialect (MLIRGen)
//   header       a C header for the entry point (from attn)
//   tiled        attention lowered to tiled loops / GPU kernels, the rest to
//                linalg, all on tensors
//   loops        bufferized: loops over memrefs (CPU), GPU launches (CUDA)
//   llvm-dialect the LLVM dialect (CUDA: host code and the kernels' binary)
//   llvm, asm, obj, lib   LLVM IR, assembly, an object, a shared library
//   ptx          the kernels' PTX (CUDA)
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_COMPILER_H
#define RASPC_COMPILER_H

#include "rasprt/rasprt.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace mlir {
class DialectRegistry;
class MLIRContext;
class ModuleOp;
class PassManager;
class TimingScope;
} // namespace mlir

namespace raspc {

/// Where a compile stops. IR stages (attn .. llvm-dialect) keep a module;
/// the others produce bytes.
enum class Stage {
  AST,
  Attn,
  Header,
  Tiled,
  Loops,
  LLVMDialect,
  LLVM,
  Asm,
  Obj,
  Lib,
  PTX
};

/// The stage's name as `raspc --emit=` and `raspc-pipeline{to=}` spell it.
const char *stageName(Stage stage);
/// The stage named `name`; nothing for unknown names.
std::optional<Stage> parseStage(std::string_view name);
/// Whether the stage's artifact is a module (attn, tiled, loops,
/// llvm-dialect).
bool isIRStage(Stage stage);

/// A CPU to compile for.
struct CPUTarget {
  /// LLVM's name of the CPU (e.g. znver5, x86-64-v2); empty: this machine,
  /// with all of its features (AVX-512 where present).
  std::string cpu;
};

/// An NVIDIA GPU to compile for.
struct CUDATarget {
  /// The architecture: sm_XY or sm_XYa (sm_80, sm_90a).
  std::string arch = "sm_80";
  /// What objects embed: "ptx" (the driver compiles it for the GPU it
  /// finds), "cubin" (ptxas compiles it now, for exactly `arch`) or
  /// "fatbin" (both).
  std::string binary = "ptx";
  /// The CUDA toolkit that provides libdevice and ptxas; empty: the one
  /// found when raspc was built (if any). Never read from the environment
  /// by raspc itself.
  std::string toolkitPath;
  /// Tuning: f16/bf16 attention and matmuls by warpgroup MMA (wgmma), which
  /// needs arch sm_90a; else mma.sync.
  bool wgmma = false;
  /// Tuning: with wgmma, MMAs in flight under other work.
  bool wgmmaOverlap = true;
  /// Tuning: MMA tiles of 16 query rows per warp in the tensor-core flash
  /// kernels, 1 or 2; 0: by head size.
  unsigned flashRowTiles = 0;
};

/// The machine a program is compiled for.
struct Target {
  enum class Kind { CPU, CUDA };
  Kind kind = Kind::CPU;
  CPUTarget cpu;   // for Kind::CPU (and CUDA host code)
  CUDATarget cuda; // for Kind::CUDA
};

/// "cpu" or "cuda"; nothing for other names.
std::optional<Target::Kind> parseTargetKind(std::string_view name);
const char *targetName(Target::Kind kind);

struct CompileOptions {
  /// Where to stop (the JIT always compiles to machine code).
  Stage stage = Stage::Obj;
  Target target;
  /// The def or model to compile; empty: `main`, else the last one.
  std::string entry;
  /// Optimization level, 0 to 3 (LLVM and NVVM).
  int optLevel = 2;
  /// Sequence programs also return every selector they build, as
  /// [queries, keys] booleans (`raspc run --print-selectors`).
  bool exposeSelectors = false;
  /// Models: one call runs a batch of examples packed one after another
  /// along their positions, with an input `lengths: i32[B]` after the
  /// others (docs/language.md, "Batches"): attention stays within each
  /// example, positions count from each one's start, pools give one row per
  /// example. No padding; the matmuls see every example's rows at once.
  bool packedBatch = false;

  /// Extension points for passes from outside (plugins, experiments), each a
  /// pipeline in MLIR's textual form such as "func.func(my-pass)":
  ///  * insertBeforeTiling: on the attn dialect, before anything is lowered;
  ///  * insertAfterTiling: at the end of the tiled stage (linalg on tensors);
  ///  * insertBeforeLLVM: at the end of the loops stage (memrefs).
  std::string insertBeforeTiling, insertAfterTiling, insertBeforeLLVM;
  /// Pass plugins to load first (each once per process) so that the
  /// pipelines above can name their passes.
  std::vector<std::string> passPlugins;

  /// Where compile time goes: when set, the front end, each stage with its
  /// passes, LLVM and machine code are timed under this scope (the driver
  /// passes the root of an mlir::DefaultTimingManager set up by
  /// --mlir-timing, which prints the report).
  mlir::TimingScope *timing = nullptr;
  /// Called on every pass manager before it runs, e.g. to apply MLIR's
  /// command-line options (--mlir-print-ir-after-all); returning false
  /// fails the compile.
  std::function<bool(mlir::PassManager &)> configurePassManager;
  /// Called with the module after each IR stage it reaches.
  std::function<void(Stage, mlir::ModuleOp)> afterStage;
};

/// One argument or the result of a compiled entry point, as declared.
struct ValueSignature {
  /// The input's or parameter's name (empty for the result).
  std::string name;
  bool isParam = false;
  rasprt_dtype dtype = RASPRT_F32;
  /// -1 for a symbolic size.
  std::vector<int64_t> shape;
  /// Per dimension: the size's symbol (`T`), or "" for a static size.
  std::vector<std::string> symbols;
  /// Token sequences: the vocabulary (a token is its index) and whether
  /// words first seen at run time are accepted.
  std::vector<std::string> vocab;
  bool openVocab = false;
  /// Sequences in RASP's numerical encoding.
  bool numerical = false;
  /// Read at a position in a mask or score (`doc[key_pos]`): must not be
  /// empty.
  bool indexed = false;
  /// i32 inputs that embed() looks up directly: every id must lie in
  /// [0, idBound), the rows of the table `idTable`; -1: not checked.
  int64_t idBound = -1;
  std::string idTable;
  /// Packed batches: the `lengths` input names the packed symbol (they add
  /// up to its size) and, where positions index a table, each length's
  /// bound (maxLength >= 0) and that table.
  std::string lengthsOf;
  int64_t maxLength = -1;
  std::string maxLengthTable;
};

/// A symbolic size that indexes a table by position (`embed(positions(x),
/// table)`) may not exceed the table's rows.
struct SizeBound {
  std::string symbol;
  int64_t max = 0;
  std::string table;
};

struct EntrySignature {
  std::string name;
  bool isModel = false;
  /// Inputs, then (models) parameters, in call order.
  std::vector<ValueSignature> arguments;
  ValueSignature result;
  /// With exposeSelectors: the selectors returned after the result.
  std::vector<std::string> selectors;
  std::vector<SizeBound> sizeBounds;
};

/// What a compile produced.
class Artifact {
public:
  ~Artifact();
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;

  Stage stage() const;
  /// IR stages: the module (owned by the artifact, in its context).
  mlir::ModuleOp module() const;
  mlir::MLIRContext &context() const;
  /// Other stages: the file's contents (text or binary).
  const std::string &bytes() const;
  /// Writes the artifact as `raspc --emit` does: IR printed, or the bytes.
  void write(llvm::raw_ostream &os) const;
  /// What write() writes, as a string (for clients without LLVM's streams).
  std::string str() const;
  /// The entry point; empty for the ast stage.
  const EntrySignature &signature() const;

  struct Impl;
  explicit Artifact(std::unique_ptr<Impl> impl);

private:
  std::unique_ptr<Impl> impl;
};

/// Checks `options` alone (a known architecture and binary format, a stage
/// the target has, tuning values in range), as every compile does first;
/// false with `raspc: error: ...` lines appended to `diagnostics`.
bool checkOptions(const CompileOptions &options, std::string &diagnostics);

/// Compiles `source` (named `fileName` in diagnostics) up to
/// `options.stage`. On failure returns null; either way appends the
/// diagnostics (`file:line:col: error: ...` with the source line and a
/// caret, warnings, option errors as `raspc: error: ...`) to `diagnostics`.
/// Safe to call from several threads at once.
std::unique_ptr<Artifact> compile(std::string_view source,
                                  std::string_view fileName,
                                  const CompileOptions &options,
                                  std::string &diagnostics);
/// Reads `path` (`-`: standard input) and compiles it.
std::unique_ptr<Artifact> compileFile(const std::string &path,
                                      const CompileOptions &options,
                                      std::string &diagnostics);
/// Lowers `module`, a program in the attn dialect whose context the caller
/// owns (and keeps alive as long as the artifact), in place from the attn
/// stage to `options.stage`. The context needs the dialects and interfaces
/// of registerCompilerDialects().
std::unique_ptr<Artifact> compileModule(mlir::ModuleOp module,
                                        const CompileOptions &options,
                                        std::string &diagnostics);

/// Registers what a context needs to hold and lower raspc's IR (dialects,
/// their interfaces, translations to LLVM IR).
void registerCompilerDialects(mlir::DialectRegistry &registry);

/// Registers `raspc-pipeline` for --pass-pipeline (rasp-opt): the IR stages
/// from `from` (default attn) to `to` (default llvm-dialect), with the
/// compile options as pipeline options named as raspc's flags (`target`,
/// `mcpu`, `O`, `gpu-arch`, `gpu-binary`, `cuda-toolkit`, `gpu-wgmma`, ...).
void registerPipelines();

} // namespace raspc

#endif // RASPC_COMPILER_H
