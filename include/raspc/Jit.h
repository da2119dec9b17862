//===- Jit.h - compile and run raspc programs in process --------*- C++ -*-===//
//
// The JIT door into raspc: compile a program's source text for the host CPU
// (or an NVIDIA GPU) and call it, with no files and no Python in between.
//
//   std::string errors;
//   auto sort = raspc::JitProgram::compileFile("sort.rasp", {}, &errors);
//   std::vector<std::string> out;
//   sort->runTokens({"3", "1", "2"}, out, &errors);   // out = {"1", "2", "3"}
//
// Compiled programs are cached per process (same source and options give
// the same program) and may be called from several threads at once.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_JIT_H
#define RASPC_JIT_H

#include "raspc/Compiler.h"
#include "rasprt/rasprt.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace raspc {

/// A JIT compile takes the compile API's options (Compiler.h): the target
/// ("cpu", this machine, or "cuda": kernels run on the GPU through the CUDA
/// driver, which must be present, with arguments copied to GPU-reachable
/// memory for each call and results coming back as host tensors), the
/// entry, the optimization level, inserted pipelines and plugins. `stage`
/// is ignored: the JIT always compiles to machine code.
using JitOptions = CompileOptions;

/// A selector's pattern after a run: `selected[q * keys + k]` is 1 when query
/// position q selects key position k.
struct SelectorMatrix {
  std::string name; // the `let` name and the place it was written
  int64_t queries = 0, keys = 0;
  std::vector<unsigned char> selected;
};

/// `selector` as an SVG picture: queries down, keys across, a filled cell
/// where the query selects the key, labelled with `tokens` (positions where
/// there are fewer).
std::string selectorSvg(const SelectorMatrix &selector, const std::vector<std::string> &tokens);

class JitProgram {
public:
  /// Compiles `source`; diagnostics name it `fileName`. On failure returns
  /// null and appends the diagnostics (`file:line:col: error: ...` with the
  /// source line and a caret) to `*errors`; warnings are appended on
  /// success too.
  static std::shared_ptr<const JitProgram>
  compile(std::string_view source, std::string_view fileName,
          const JitOptions &options, std::string *errors);
  /// Reads and compiles a file.
  static std::shared_ptr<const JitProgram>
  compileFile(const std::string &path, const JitOptions &options,
              std::string *errors);

  ~JitProgram();
  JitProgram(const JitProgram &) = delete;
  JitProgram &operator=(const JitProgram &) = delete;

  /// The entry point's name.
  const std::string &name() const;
  /// The entry point's arguments and result as declared (names, dtypes,
  /// shapes with their symbols, vocabularies).
  const EntrySignature &signature() const;
  /// True for a `model`, false for a sequence program (`def`).
  bool isModel() const;
  /// The names of the inputs, then (models) of the parameters, in call order.
  std::vector<std::string> argumentNames() const;
  /// For models: the parameters' names; empty for sequence programs.
  std::vector<std::string> parameterNames() const;
  /// The declared shape of argument `i` (-1 for a symbolic size) and its
  /// element type.
  std::vector<int64_t> argumentShape(size_t i) const;
  rasprt_dtype argumentDtype(size_t i) const;

  /// Runs a sequence program with one input on tokens written as text:
  /// words of the input's vocabulary, integers, numbers or true/false,
  /// by the input's type. Fills `outputs` with one string per position:
  /// tokens, integers, numbers (%g) or 0/1; `_` where a categorical
  /// aggregate selected nothing. Returns false with a message in `*error`
  /// for tokens the program does not accept.
  bool runTokens(const std::vector<std::string> &tokens,
                 std::vector<std::string> &outputs, std::string *error) const;
  /// The same, and fills `selectors` when compiled with exposeSelectors.
  bool runTokens(const std::vector<std::string> &tokens,
                 std::vector<std::string> &outputs,
                 std::vector<SelectorMatrix> *selectors, std::string *error) const;

  /// Why a run failed, for hosts that report kinds of errors differently
  /// (the Python package raises TypeError, ValueError or RuntimeError).
  enum class RunError {
    None,
    /// Arguments of the wrong number or dtype.
    Type,
    /// Arguments of the wrong shape, or values the program cannot take
    /// (ids outside their table, lengths that do not add up), found before
    /// any kernel runs.
    Value,
    /// The run itself failed: memory, the GPU.
    Execution
  };

  /// Runs the program on tensors given in argumentNames() order. Shapes and
  /// dtypes are checked against the declarations; the result is allocated
  /// into `*output` (release it with rasprt_tensor_free). On failure the
  /// message goes to `*error` and its kind to `*kind` (either may be null).
  bool run(const std::vector<const rasprt_tensor *> &arguments,
           rasprt_tensor *output, std::string *error, RunError *kind = nullptr) const;

  struct Impl;

private:
  explicit JitProgram(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace raspc

#endif // RASPC_JIT_H
