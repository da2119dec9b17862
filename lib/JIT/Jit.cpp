//===- Jit.cpp - compile and run raspc programs in process ------*- C++ -*-===//
//
// The compile API (include/raspc/Compiler.h) to the LLVM dialect, then
// mlir::ExecutionEngine. Calls go through the
// C interface that the pipeline requests (`_mlir_ciface_<name>`), which
// takes a pointer to a memref descriptor per argument and one for the
// result: {allocated, aligned, offset, sizes[rank], strides[rank]}, all
// 64-bit on the hosts we support.
//
//===----------------------------------------------------------------------===//

#include "raspc/Jit.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include <dlfcn.h>

using namespace raspc;

namespace {

/// What compiled code calls outside itself: the runtime (its allocator,
/// thread pool and CUDA ABI) and the C math library (LLVM lowers math
/// intrinsics it does not expand to libm calls, and f16/bf16 conversions
/// without hardware support to libgcc's). The engine looks symbols up in
/// the process's global scope, which holds none of these when libraspc.so
/// was opened with RTLD_LOCAL, as Python extensions, ctypes and plugin
/// hosts open it; so they are looked up here, through the handle of the
/// library this code is in, whose search covers the libraries it depends
/// on. Names the handle does not have are left to the engine's own search.
llvm::orc::SymbolMap runtimeSymbols(llvm::orc::MangleAndInterner interner) {
  static const char *const runtime[] = {
      "_mlir_memref_to_llvm_alloc", "_mlir_memref_to_llvm_aligned_alloc",
      "_mlir_memref_to_llvm_free", "rasprt_parallel_for", "rasprt_buffer_alloc",
      "rasprt_buffer_free", "_mlir_ciface_rasprt_gemm_panels", "memrefCopy", "mgpuEventCreate",
      "mgpuEventDestroy", "mgpuEventRecord", "mgpuEventSynchronize", "mgpuLaunchKernel", "mgpuMemAlloc", "mgpuMemFree",
      "mgpuMemHostRegister", "mgpuMemHostUnregister", "mgpuMemcpy", "mgpuMemset16",
      "mgpuMemset32", "mgpuModuleGetFunction", "mgpuModuleLoad", "mgpuModuleLoadJIT",
      "mgpuModuleUnload", "mgpuSetDefaultDevice", "mgpuStreamCreate",
      "mgpuStreamDestroy", "mgpuStreamSynchronize", "mgpuStreamWaitEvent",
      "__truncsfbf2", "__truncdfbf2", "__extendhfsf2", "__truncsfhf2", "__truncdfhf2"};
  // Each in double and float ("f") form.
  static const char *const math[] = {
      "exp",   "exp2",  "expm1", "log",  "log2",  "log10", "log1p", "pow",
      "sin",   "cos",   "tan",   "asin", "acos",  "atan",  "atan2", "sinh",
      "cosh",  "tanh",  "erf",   "erfc", "cbrt",  "fmod",  "floor", "ceil",
      "trunc", "round", "roundeven", "rint", "nearbyint", "fma", "sqrt",
      "fmin",  "fmax",  "copysign", "ldexp", "sincos"};
  void *self = nullptr;
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&runtimeSymbols), &info) && info.dli_fname)
    self = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  llvm::orc::SymbolMap symbols;
  auto add = [&](const std::string &name) {
    void *address = self ? dlsym(self, name.c_str()) : nullptr;
    if (address)
      symbols[interner(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                                 llvm::JITSymbolFlags::Exported};
  };
  for (const char *name : runtime)
    add(name);
  for (const char *name : math) {
    add(name);
    add(std::string(name) + "f");
  }
  if (self)
    dlclose(self); // RTLD_NOLOAD took a reference
  return symbols;
}

/// A memref descriptor for the C interface: {allocated, aligned, offset,
/// sizes..., strides...}.
struct Descriptor {
  std::vector<int64_t> words;
  explicit Descriptor(int64_t rank) : words(3 + 2 * rank, 0) {}
  explicit Descriptor(const rasprt_tensor &tensor) : Descriptor(tensor.rank) {
    rasprt_descriptor_from_tensor(&tensor, words.data());
  }
  int64_t rank() const { return (static_cast<int64_t>(words.size()) - 3) / 2; }
  void *allocated() const { return reinterpret_cast<void *>(words[0]); }
  char *aligned() const { return reinterpret_cast<char *>(words[1]); }
  int64_t offset() const { return words[2]; }
  int64_t size(int64_t i) const { return words[3 + i]; }
  int64_t stride(int64_t i) const { return words[3 + rank() + i]; }
};

/// `[T, 4]`: a symbolic size by its symbol where it has one.
std::string shapeString(const std::vector<int64_t> &shape,
                        const std::vector<std::string> &symbols = {}) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    std::string size = shape[i] >= 0                                 ? std::to_string(shape[i])
                       : i < symbols.size() && !symbols[i].empty() ? symbols[i]
                                                                   : "?";
    s += (i ? ", " : "") + size;
  }
  return s + "]";
}

std::string formatFloat(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", v);
  return buffer;
}

/// Everything in `options` that changes the compiled program.
std::string cacheKey(std::string_view source, std::string_view fileName,
                     const CompileOptions &options) {
  std::string key;
  llvm::raw_string_ostream os(key);
  const Target &target = options.target;
  os << fileName << '\0' << options.entry << '\0' << options.optLevel << '\0'
     << options.exposeSelectors << options.packedBatch << '\0' << options.insertBeforeTiling << '\0'
     << options.insertAfterTiling << '\0' << options.insertBeforeLLVM << '\0'
     << targetName(target.kind) << '\0' << target.cpu.cpu << '\0' << target.cuda.arch << '\0'
     << target.cuda.binary << '\0' << target.cuda.toolkitPath << '\0' << target.cuda.wgmma
     << target.cuda.wgmmaOverlap << target.cuda.flashRowTiles << '\0';
  for (const std::string &plugin : options.passPlugins)
    os << plugin << '\0';
  os << source;
  return key;
}

} // namespace

struct JitProgram::Impl {
  EntrySignature signature;
  bool cuda = false; // arguments are staged in GPU-reachable memory
  std::unique_ptr<mlir::ExecutionEngine> engine;
  /// The entry's packed wrapper, looked up once: the lookup is what makes
  /// LLVM compile the module, which belongs to compiling, not to the first
  /// call.
  void (*entry)(void **) = nullptr;

  /// Calls the function on `args` (one descriptor each); fills `outs`, one
  /// descriptor per result. The C interface takes one pointer to all the
  /// results laid out one after the other (a struct of descriptors whose
  /// fields are all 64-bit, so there is no padding).
  bool invoke(std::vector<Descriptor> &args, std::vector<Descriptor> &outs,
              std::string *error) const {
    std::vector<int64_t> results;
    for (const Descriptor &d : outs)
      results.insert(results.end(), d.words.begin(), d.words.end());
    std::vector<void *> pointers = {results.data()};
    for (Descriptor &d : args)
      pointers.push_back(d.words.data());
    // Each packed argument points at the value of the parameter, which for
    // the C interface is a pointer.
    std::vector<void *> packed;
    for (void *&p : pointers)
      packed.push_back(&p);
    // Through the runtime's guard: a buffer the program cannot allocate
    // ends the call with an error instead of the process.
    struct Call {
      void (*entry)(void **);
      void **arguments;
    } call{entry, packed.data()};
    auto run = [](void *c) {
      auto *call = static_cast<Call *>(c);
      call->entry(call->arguments);
    };
    if (rasprt_guarded_call(run, &call) != RASPRT_OK) {
      if (error)
        *error = rasprt_last_error();
      finish({}, args);
      return false;
    }
    size_t offset = 0;
    for (Descriptor &d : outs) {
      std::copy(results.begin() + offset, results.begin() + offset + d.words.size(),
                d.words.begin());
      offset += d.words.size();
    }
    if (cuda && rasprt_cuda_check() != RASPRT_OK) {
      if (error)
        *error = rasprt_last_error();
      finish(outs, args);
      return false;
    }
    return true;
  }

  /// Appends the descriptor of each argument to `args`: the tensor itself on
  /// the CPU; for CUDA a copy in device memory (kernels cannot reach host
  /// buffers), released by finish(). Tensors must be contiguous. False, with
  /// what was staged released, when a copy fails.
  bool stage(const std::vector<const rasprt_tensor *> &tensors, std::vector<Descriptor> &args,
             std::string *error) const {
    for (const rasprt_tensor *tensor : tensors) {
      if (!cuda) {
        args.emplace_back(*tensor);
        continue;
      }
      size_t bytes = rasprt_tensor_numel(tensor) * rasprt_dtype_size(tensor->dtype);
      rasprt_tensor staged;
      rasprt_tensor_view(&staged, rasprt_cuda_alloc(bytes), tensor->dtype, tensor->rank,
                         tensor->shape);
      args.emplace_back(staged);
      if (rasprt_cuda_copy(staged.data, tensor->data, bytes) != RASPRT_OK) {
        if (error)
          *error = rasprt_last_error();
        finish({}, args);
        return false;
      }
    }
    return true;
  }

  /// A result the host can read: `d` itself on the CPU; for CUDA the
  /// elements it spans copied into `storage`, described from there. False
  /// (with the message in `*error`) when the copy fails.
  bool readable(const Descriptor &d, size_t elementSize, std::vector<char> &storage,
                Descriptor &host, std::string *error) const {
    host = d;
    if (!cuda)
      return true;
    int64_t span = 1; // elements from the first to the last one addressed
    for (int64_t i = 0; i < d.rank(); ++i)
      span += (d.size(i) - 1) * d.stride(i);
    for (int64_t i = 0; i < d.rank(); ++i)
      if (d.size(i) == 0)
        span = 0;
    storage.assign(std::max<int64_t>(span, 1) * elementSize, 0);
    if (rasprt_cuda_copy(storage.data(), d.aligned() + d.offset() * elementSize,
                         span * elementSize) != RASPRT_OK) {
      if (error)
        *error = rasprt_last_error();
      return false;
    }
    host.words[1] = reinterpret_cast<int64_t>(storage.data());
    host.words[2] = 0;
    return true;
  }

  /// Releases the results (each buffer once; a program may return an input
  /// or the same buffer twice) and the staged arguments.
  void finish(const std::vector<Descriptor> &outs, const std::vector<Descriptor> &args) const {
    std::vector<void *> freed;
    for (const Descriptor &d : args)
      freed.push_back(d.allocated());
    for (const Descriptor &d : outs) {
      if (std::find(freed.begin(), freed.end(), d.allocated()) != freed.end())
        continue;
      freed.push_back(d.allocated());
      rasprt_buffer_free(d.allocated());
    }
    if (cuda)
      for (const Descriptor &d : args)
        rasprt_buffer_free(d.allocated());
  }

};

JitProgram::JitProgram(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
JitProgram::~JitProgram() = default;

const std::string &JitProgram::name() const { return impl->signature.name; }
const EntrySignature &JitProgram::signature() const { return impl->signature; }
bool JitProgram::isModel() const { return impl->signature.isModel; }

std::vector<std::string> JitProgram::argumentNames() const {
  std::vector<std::string> names;
  for (const ValueSignature &a : impl->signature.arguments)
    names.push_back(a.name);
  return names;
}

std::vector<std::string> JitProgram::parameterNames() const {
  std::vector<std::string> names;
  for (const ValueSignature &a : impl->signature.arguments)
    if (a.isParam)
      names.push_back(a.name);
  return names;
}

std::vector<int64_t> JitProgram::argumentShape(size_t i) const {
  return impl->signature.arguments.at(i).shape;
}

rasprt_dtype JitProgram::argumentDtype(size_t i) const {
  return impl->signature.arguments.at(i).dtype;
}

std::shared_ptr<const JitProgram>
JitProgram::compile(std::string_view source, std::string_view fileName,
                    const JitOptions &options, std::string *errors) {
  // The cache is looked up and filled under the lock; the compile runs
  // outside it, so that several threads compile at once. Two threads
  // compiling the same program both compile it; the first to finish is
  // kept. Options that watch the compile (callbacks, timing) bypass it.
  static std::mutex cacheMutex;
  static std::map<std::string, std::weak_ptr<const JitProgram>> cache;
  bool cacheable = !options.afterStage && !options.configurePassManager && !options.timing;
  std::string key = cacheable ? cacheKey(source, fileName, options) : "";
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cacheMutex);
    if (auto it = cache.find(key); it != cache.end())
      if (auto cached = it->second.lock())
        return cached;
  }

  static std::once_flag nativeTarget;
  std::call_once(nativeTarget, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });

  std::string messages;
  llvm::raw_string_ostream os(messages);
  auto fail = [&]() -> std::shared_ptr<const JitProgram> {
    if (errors)
      *errors += messages;
    return nullptr;
  };
  bool cuda = options.target.kind == Target::Kind::CUDA;
  CompileOptions compileOptions = options;
  compileOptions.stage = Stage::LLVMDialect;
  // The options first, then the driver: without one there is nothing to
  // run on, so nothing is compiled.
  if (!checkOptions(compileOptions, messages))
    return fail();
  if (cuda && rasprt_cuda_init() != RASPRT_OK) {
    os << fileName << ": error: target cuda: " << rasprt_last_error() << "\n";
    return fail();
  }
  std::unique_ptr<Artifact> artifact = raspc::compile(source, fileName, compileOptions, messages);
  if (!artifact)
    return fail();
  if (errors) // warnings
    *errors += messages;
  messages.clear();

  auto impl = std::make_unique<Impl>();
  const EntrySignature &signature = artifact->signature();
  impl->signature = signature;
  impl->cuda = cuda;

  // The options hold a function_ref: the transformer lives here.
  std::function<llvm::Error(llvm::Module *)> transformer =
      mlir::makeOptimizingTransformer(std::clamp(options.optLevel, 0, 3), 0, nullptr);
  mlir::ExecutionEngineOptions engineOptions;
  engineOptions.transformer = transformer;
  auto engine = mlir::ExecutionEngine::create(artifact->module(), engineOptions);
  if (!engine) {
    os << fileName << ": internal error: JIT compilation failed: "
       << llvm::toString(engine.takeError()) << "\n";
    return fail();
  }
  impl->engine = std::move(*engine);
  impl->engine->registerSymbols(runtimeSymbols);
  auto entry = impl->engine->lookupPacked("_mlir_ciface_" + impl->signature.name);
  if (!entry) {
    os << fileName << ": internal error: JIT compilation failed: "
       << llvm::toString(entry.takeError()) << "\n";
    return fail();
  }
  impl->entry = *entry;
  // The module's constructors (CUDA: they load the kernels) run now, so
  // that PTX the driver rejects fails the compile rather than the first
  // call; the entry is called directly, not through invokePacked, which
  // would have run them.
  impl->engine->initialize();
  if (cuda && rasprt_cuda_check() != RASPRT_OK) {
    os << fileName << ": error: " << rasprt_last_error() << "\n";
    return fail();
  }
  std::shared_ptr<const JitProgram> result(new JitProgram(std::move(impl)));
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cacheMutex);
    std::weak_ptr<const JitProgram> &slot = cache[key];
    if (auto first = slot.lock())
      return first;
    slot = result;
  }
  return result;
}

std::shared_ptr<const JitProgram>
JitProgram::compileFile(const std::string &path, const JitOptions &options,
                        std::string *errors) {
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path);
  if (!buffer) {
    if (errors)
      *errors += "raspc: error: cannot open input file '" + path +
                 "': " + buffer.getError().message() + "\n";
    return nullptr;
  }
  return compile((*buffer)->getBuffer().str(), path, options, errors);
}

bool JitProgram::runTokens(const std::vector<std::string> &tokens,
                           std::vector<std::string> &outputs,
                           std::string *error) const {
  return runTokens(tokens, outputs, nullptr, error);
}

bool JitProgram::runTokens(const std::vector<std::string> &tokens,
                           std::vector<std::string> &outputs,
                           std::vector<SelectorMatrix> *selectors,
                           std::string *error) const {
  auto fail = [&](const std::string &message) {
    if (error)
      *error = message;
    return false;
  };
  const EntrySignature &signature = impl->signature;
  if (signature.isModel)
    return fail("'" + signature.name + "' is a model; run it on tensors, not tokens");
  if (signature.arguments.size() != 1)
    return fail("'" + signature.name + "' takes " + std::to_string(signature.arguments.size()) +
                " input sequences; runTokens runs programs with one");
  const ValueSignature &input = signature.arguments[0];
  std::vector<std::string> vocab = input.vocab; // extended per call: thread-safe
  size_t n = tokens.size();
  std::vector<char> data(std::max<size_t>(n, 1) * rasprt_dtype_size(input.dtype));
  for (size_t i = 0; i < n; ++i) {
    const std::string &token = tokens[i];
    char *slot = data.data() + i * rasprt_dtype_size(input.dtype);
    switch (input.dtype) {
    case RASPRT_I32: { // a token
      auto it = std::find(vocab.begin(), vocab.end(), token);
      if (it == vocab.end()) {
        if (!input.openVocab) {
          std::string known;
          for (const std::string &w : vocab)
            known += (known.empty() ? "" : ", ") + w;
          return fail("token '" + token + "' (position " + std::to_string(i) +
                      ") is not in the vocabulary of '" + input.name + "': " + known);
        }
        vocab.push_back(token);
        it = vocab.end() - 1;
      }
      int32_t id = static_cast<int32_t>(it - vocab.begin());
      std::memcpy(slot, &id, sizeof(id));
      break;
    }
    case RASPRT_I64: {
      char *end = nullptr;
      errno = 0;
      long long v = std::strtoll(token.c_str(), &end, 10);
      if (token.empty() || *end || errno)
        return fail("token '" + token + "' (position " + std::to_string(i) +
                    ") is not an integer, and '" + input.name + "' is declared int");
      int64_t value = v;
      std::memcpy(slot, &value, sizeof(value));
      break;
    }
    case RASPRT_F32: {
      char *end = nullptr;
      float v = std::strtof(token.c_str(), &end);
      if (token.empty() || *end)
        return fail("token '" + token + "' (position " + std::to_string(i) +
                    ") is not a number, and '" + input.name + "' is declared float");
      std::memcpy(slot, &v, sizeof(v));
      break;
    }
    case RASPRT_BOOL:
      if (token != "true" && token != "false" && token != "1" && token != "0")
        return fail("token '" + token + "' (position " + std::to_string(i) +
                    ") is not a bool (true, false, 1 or 0)");
      *slot = token == "true" || token == "1";
      break;
    default:
      return fail("unsupported input type");
    }
  }
  rasprt_tensor view;
  int64_t length = static_cast<int64_t>(n);
  rasprt_tensor_view(&view, data.data(), input.dtype, 1, &length);
  std::vector<Descriptor> args;
  if (!impl->stage({&view}, args, error))
    return false;
  std::vector<Descriptor> outs(1, Descriptor(1));
  outs.resize(1 + signature.selectors.size(), Descriptor(2));
  if (!impl->invoke(args, outs, error))
    return false;
  std::vector<char> outStorage;
  Descriptor out(1);
  if (!impl->readable(outs[0], rasprt_dtype_size(signature.result.dtype), outStorage, out, error)) {
    impl->finish(outs, args);
    return false;
  }
  if (selectors) {
    selectors->clear();
    for (size_t s = 0; s < signature.selectors.size(); ++s) {
      std::vector<char> storage;
      Descriptor m(2);
      if (!impl->readable(outs[1 + s], 1, storage, m, error)) {
        impl->finish(outs, args);
        return false;
      }
      SelectorMatrix matrix;
      matrix.name = signature.selectors[s];
      matrix.queries = m.size(0);
      matrix.keys = m.size(1);
      for (int64_t q = 0; q < matrix.queries; ++q)
        for (int64_t k = 0; k < matrix.keys; ++k)
          matrix.selected.push_back(
              m.aligned()[m.offset() + q * m.stride(0) + k * m.stride(1)] != 0);
      selectors->push_back(std::move(matrix));
    }
  }

  outputs.clear();
  const ValueSignature &result = signature.result;
  // Tokens in the result come from the input's vocabulary (its compile-time
  // words are the same), which this call may have extended.
  const std::vector<std::string> &words =
      result.vocab == input.vocab ? vocab : result.vocab;
  const char *base = out.aligned();
  for (int64_t i = 0; i < out.size(0); ++i) {
    const char *p = base + (out.offset() + i * out.stride(0)) * rasprt_dtype_size(result.dtype);
    switch (result.dtype) {
    case RASPRT_I32: {
      int32_t id;
      std::memcpy(&id, p, sizeof(id));
      outputs.push_back(id >= 0 && static_cast<size_t>(id) < words.size() ? words[id] : "_");
      break;
    }
    case RASPRT_I64: {
      int64_t v;
      std::memcpy(&v, p, sizeof(v));
      outputs.push_back(std::to_string(v));
      break;
    }
    case RASPRT_F32: {
      float v;
      std::memcpy(&v, p, sizeof(v));
      outputs.push_back(formatFloat(v));
      break;
    }
    case RASPRT_BOOL:
      outputs.push_back(*p ? "1" : "0");
      break;
    default:
      outputs.push_back("?");
    }
  }
  impl->finish(outs, args);
  return true;
}

bool JitProgram::run(const std::vector<const rasprt_tensor *> &arguments,
                     rasprt_tensor *output, std::string *error, RunError *kind) const {
  const EntrySignature &signature = impl->signature;
  if (kind)
    *kind = RunError::None;
  auto failWith = [&](RunError what, const std::string &message) {
    if (error)
      *error = message;
    if (kind)
      *kind = what;
    return false;
  };
  auto fail = [&](const std::string &message) { return failWith(RunError::Value, message); };
  auto wrongType = [&](const std::string &message) {
    return failWith(RunError::Type, message);
  };
  if (arguments.size() != signature.arguments.size())
    return wrongType("'" + signature.name + "' takes " +
                     std::to_string(signature.arguments.size()) + " arguments, got " +
                     std::to_string(arguments.size()));
  std::vector<Descriptor> args;
  std::map<std::string, std::pair<int64_t, std::string>> symbols; // size, who
  for (size_t i = 0; i < arguments.size(); ++i) {
    const ValueSignature &info = signature.arguments[i];
    const rasprt_tensor *t = arguments[i];
    std::string what = std::string(info.isParam ? "parameter '" : "input '") + info.name + "'";
    if (!t)
      return wrongType(what + " is missing");
    if (t->dtype != info.dtype)
      return wrongType(what + " must be " + rasprt_dtype_name(info.dtype) + ", not " +
                       rasprt_dtype_name(t->dtype));
    std::vector<int64_t> shape(t->shape, t->shape + t->rank);
    bool shapeOk = static_cast<size_t>(t->rank) == info.shape.size();
    for (size_t d = 0; shapeOk && d < info.shape.size(); ++d)
      shapeOk = info.shape[d] < 0 || info.shape[d] == shape[d];
    if (!shapeOk)
      return fail(what + " must have shape " + shapeString(info.shape, info.symbols) + ", not " +
                  shapeString(shape));
    if (!rasprt_tensor_is_contiguous(t))
      return fail(what + " must be contiguous");
    // The compiled code trusts that one symbol means one size.
    for (size_t d = 0; d < info.symbols.size() && d < shape.size(); ++d) {
      if (info.symbols[d].empty())
        continue;
      auto [it, inserted] = symbols.try_emplace(info.symbols[d], shape[d], what);
      if (!inserted && it->second.first != shape[d])
        return fail(what + " has " + info.symbols[d] + " = " + std::to_string(shape[d]) +
                    " but " + it->second.second + " has " + info.symbols[d] + " = " +
                    std::to_string(it->second.first));
    }
  }
  for (const SizeBound &bound : signature.sizeBounds)
    if (auto it = symbols.find(bound.symbol);
        it != symbols.end() && it->second.first > bound.max)
      return fail(it->second.second + " has " + bound.symbol + " = " +
                  std::to_string(it->second.first) + " positions, but '" + bound.table +
                  "' has " + std::to_string(bound.max) + " rows, one per position");
  // A packed batch's lengths: as many positions as the inputs have, none
  // longer than a position table.
  const rasprt_tensor *lengths = nullptr;
  for (size_t i = 0; i < arguments.size(); ++i) {
    const ValueSignature &info = signature.arguments[i];
    if (info.lengthsOf.empty() || info.dtype != RASPRT_I32)
      continue;
    lengths = arguments[i];
    const auto *l = static_cast<const int32_t *>(lengths->data);
    int64_t total = 0, count = rasprt_tensor_numel(lengths);
    for (int64_t e = 0; e < count; ++e) {
      if (l[e] < 0)
        return fail("input 'lengths': example " + std::to_string(e) + " has length " +
                    std::to_string(l[e]));
      if (info.maxLength >= 0 && l[e] > info.maxLength)
        return fail("input 'lengths': example " + std::to_string(e) + " has " +
                    std::to_string(l[e]) + " positions, but '" + info.maxLengthTable +
                    "' has " + std::to_string(info.maxLength) + " rows, one per position");
      total += l[e];
    }
    auto it = symbols.find(info.lengthsOf);
    if (it != symbols.end() && it->second.first != total)
      return fail("input 'lengths' adds up to " + std::to_string(total) + " positions, but " +
                  it->second.second + " has " + info.lengthsOf + " = " +
                  std::to_string(it->second.first));
  }
  // Ids index tables: one outside its table is the caller's mistake, found
  // here before any kernel runs (the kernel itself would read zeros). In a
  // packed batch (the lengths were checked above) the message names the
  // example and the position in it.
  auto where = [&](int64_t p) {
    if (!lengths)
      return "at position " + std::to_string(p);
    const auto *l = static_cast<const int32_t *>(lengths->data);
    int64_t example = 0, count = rasprt_tensor_numel(lengths);
    while (example + 1 < count && p >= l[example]) {
      p -= l[example];
      ++example;
    }
    return "in example " + std::to_string(example) + " at position " + std::to_string(p);
  };
  for (size_t i = 0; i < arguments.size(); ++i) {
    const ValueSignature &info = signature.arguments[i];
    if (info.indexed && rasprt_tensor_numel(arguments[i]) == 0)
      return fail(std::string(info.isParam ? "parameter '" : "input '") + info.name +
                  "' is read at a position in attention and must not be empty");
    if (info.idBound < 0 || info.dtype != RASPRT_I32)
      continue;
    const auto *ids = static_cast<const int32_t *>(arguments[i]->data);
    int64_t count = rasprt_tensor_numel(arguments[i]);
    for (int64_t p = 0; p < count; ++p)
      if (ids[p] < 0 || ids[p] >= info.idBound)
        return fail("input '" + info.name + "' " + where(p) + " holds " +
                    std::to_string(ids[p]) + ", outside the " + std::to_string(info.idBound) +
                    " rows of '" + info.idTable + "'");
  }
  // Staged only once all are checked: a CUDA copy would otherwise leak.
  // From here on a failure is the machine's (memory, the GPU), not the
  // arguments'; the step that failed has written `error`.
  auto executionFailed = [&] {
    if (kind)
      *kind = RunError::Execution;
    return false;
  };
  if (!impl->stage(arguments, args, error))
    return executionFailed();
  std::vector<Descriptor> outs(1, Descriptor(static_cast<int64_t>(signature.result.shape.size())));
  if (!impl->invoke(args, outs, error))
    return executionFailed();
  std::vector<char> outStorage;
  Descriptor out(0);
  if (!impl->readable(outs[0], rasprt_dtype_size(signature.result.dtype), outStorage, out, error)) {
    impl->finish(outs, args);
    return executionFailed();
  }
  std::vector<int64_t> shape;
  for (int64_t d = 0; d < out.rank(); ++d)
    shape.push_back(out.size(d));
  bool rowMajor = true;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1, expected = 1; d >= 0; --d) {
    rowMajor &= shape[d] == 1 || out.stride(d) == expected;
    expected *= shape[d];
  }
  // A row-major buffer of the program's own (not an argument, not a view
  // into a larger one) becomes the result as it is: a copy of a model's
  // output, into fresh pages, cost a tenth of a large matmul's call.
  bool ownBuffer = !impl->cuda && rowMajor && out.offset() == 0 &&
                   out.allocated() == static_cast<void *>(out.aligned()) &&
                   std::none_of(args.begin(), args.end(), [&](const Descriptor &arg) {
                     return arg.allocated() == out.allocated();
                   });
  if (ownBuffer) {
    rasprt_tensor result;
    rasprt_tensor_view(&result, out.allocated(), signature.result.dtype,
                       static_cast<int32_t>(shape.size()), shape.data());
    result.owns_data = 1; // released with rasprt_tensor_free, like the copy
    impl->finish({}, args);
    *output = result;
    return true;
  }
  rasprt_tensor result;
  if (rasprt_tensor_alloc(&result, signature.result.dtype, static_cast<int32_t>(shape.size()),
                          shape.data()) != RASPRT_OK) {
    impl->finish(outs, args);
    return failWith(RunError::Execution, rasprt_last_error());
  }
  size_t elementSize = rasprt_dtype_size(signature.result.dtype);
  int64_t numel = rasprt_tensor_numel(&result);
  // Row-major results copy in one block; others element by element through
  // the strides.
  if (rowMajor) {
    if (numel > 0)
      std::memcpy(result.data, out.aligned() + out.offset() * elementSize, numel * elementSize);
    numel = 0;
  }
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t n = 0; n < numel; ++n) {
    int64_t offset = out.offset();
    for (size_t d = 0; d < shape.size(); ++d)
      offset += index[d] * out.stride(d);
    std::memcpy(static_cast<char *>(result.data) + n * elementSize,
                out.aligned() + offset * elementSize, elementSize);
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
  impl->finish(outs, args);
  *output = result;
  return true;
}
