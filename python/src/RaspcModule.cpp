//===- RaspcModule.cpp - the raspc._raspc extension module ---------------===//
//
// The native half of the Python package: the JIT (include/raspc/Jit.h) and
// the compile API (include/raspc/Compiler.h) over nanobind. It stays close
// to the C++ API; the Python half (raspc/__init__.py) gives it the shape
// Python users expect (keyword options, parameters bound by name,
// exceptions with locations).
//
// Arrays cross as DLPack / buffer-protocol views (nb::ndarray): NumPy
// arrays and PyTorch CPU tensors are read in place, and a result is the
// buffer the compiled code allocated, handed to NumPy or PyTorch with a
// capsule that frees it. The GIL is released while compiling and running.
//
//===----------------------------------------------------------------------===//

#include "raspc/Compiler.h"
#include "raspc/Jit.h"
#include "rasprt/rasprt.h"

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace nb = nanobind;
using raspc::JitProgram;

namespace {

/// raspc.Error and raspc.RuntimeError (also a builtins.RuntimeError).
PyObject *errorType = nullptr;
PyObject *runtimeErrorType = nullptr;
/// Raised by run() in its fast mode for an argument it cannot read in place
/// (not a C-contiguous array of a dtype DLPack names); the Python half then
/// prepares the arguments and calls again.
PyObject *needsPreparationType = nullptr;

/// Whether `object` is a PyTorch tensor (torch imported, and an instance).
bool isTorchTensor(nb::handle object) {
  static PyObject *tensorType = nullptr;
  if (!tensorType) {
    PyObject *modules = PyImport_GetModuleDict();
    PyObject *torch = PyDict_GetItemString(modules, "torch"); // borrowed
    if (!torch)
      return false;
    tensorType = PyObject_GetAttrString(torch, "Tensor"); // kept for the process
    if (!tensorType) {
      PyErr_Clear();
      return false;
    }
  }
  return PyObject_IsInstance(object.ptr(), tensorType) == 1;
}

[[noreturn]] void raise(PyObject *type, const std::string &message) {
  PyErr_SetString(type, message.c_str());
  throw nb::python_error();
}

/// A compiled entry point, and the parameters bound to it (by argument
/// index), described once so that calls read only their inputs.
struct PanelCacheDeleter {
  void operator()(rasprt_panel_cache *cache) const { rasprt_panel_cache_free(cache); }
};

struct Program {
  std::shared_ptr<const JitProgram> jit;
  std::vector<nb::object> boundOwners;
  std::vector<rasprt_tensor> boundTensors;
  std::vector<bool> isBound;
  /// The bound parameters, for GEMMs to pack once (rasprt_panel_cache);
  /// made anew at each bind, so that a rebound array is packed again.
  std::unique_ptr<rasprt_panel_cache, PanelCacheDeleter> panels;
};

/// The compile options Python passes by keyword, each one of
/// raspc::CompileOptions: one table, for setting them and for listing them.
struct OptionSetter {
  const char *name;
  void (*set)(raspc::CompileOptions &, nb::handle);
};
template <typename T> T as(nb::handle value) { return nb::cast<T>(value); }
const OptionSetter optionSetters[] = {
    {"entry", [](auto &o, nb::handle v) { o.entry = as<std::string>(v); }},
    {"target",
     [](auto &o, nb::handle v) {
       std::string target = as<std::string>(v);
       auto kind = raspc::parseTargetKind(target);
       if (!kind)
         raise(PyExc_ValueError, "target must be \"cpu\" or \"cuda\", not \"" + target + "\"");
       o.target.kind = *kind;
     }},
    {"cpu", [](auto &o, nb::handle v) { o.target.cpu.cpu = as<std::string>(v); }},
    {"opt_level", [](auto &o, nb::handle v) { o.optLevel = as<int>(v); }},
    {"packed_batch", [](auto &o, nb::handle v) { o.packedBatch = as<bool>(v); }},
    {"expose_selectors", [](auto &o, nb::handle v) { o.exposeSelectors = as<bool>(v); }},
    {"gpu_arch", [](auto &o, nb::handle v) { o.target.cuda.arch = as<std::string>(v); }},
    {"gpu_binary", [](auto &o, nb::handle v) { o.target.cuda.binary = as<std::string>(v); }},
    {"cuda_toolkit",
     [](auto &o, nb::handle v) { o.target.cuda.toolkitPath = as<std::string>(v); }},
    {"gpu_wgmma", [](auto &o, nb::handle v) { o.target.cuda.wgmma = as<bool>(v); }},
    {"plugins",
     [](auto &o, nb::handle v) { o.passPlugins = as<std::vector<std::string>>(v); }},
    {"insert_before_tiling",
     [](auto &o, nb::handle v) { o.insertBeforeTiling = as<std::string>(v); }},
    {"insert_after_tiling",
     [](auto &o, nb::handle v) { o.insertAfterTiling = as<std::string>(v); }},
    {"insert_before_llvm",
     [](auto &o, nb::handle v) { o.insertBeforeLLVM = as<std::string>(v); }},
};

raspc::CompileOptions toOptions(const nb::dict &given) {
  raspc::CompileOptions options;
  for (auto [key, value] : given) {
    std::string name = nb::cast<std::string>(key);
    if (value.is_none())
      continue;
    auto setter = std::find_if(std::begin(optionSetters), std::end(optionSetters),
                               [&](const OptionSetter &s) { return name == s.name; });
    if (setter == std::end(optionSetters)) {
      std::string known;
      for (const OptionSetter &s : optionSetters)
        known += std::string(known.empty() ? "" : ", ") + s.name;
      raise(PyExc_TypeError, "unknown compile option '" + name + "' (options: " + known + ")");
    }
    setter->set(options, value);
  }
  return options;
}

nb::dict describe(const raspc::ValueSignature &value) {
  nb::dict d;
  d["name"] = value.name;
  d["parameter"] = value.isParam;
  d["dtype"] = rasprt_dtype_name(value.dtype);
  nb::list shape;
  for (size_t i = 0; i < value.shape.size(); ++i) {
    if (value.shape[i] >= 0)
      shape.append(value.shape[i]);
    else if (i < value.symbols.size() && !value.symbols[i].empty())
      shape.append(value.symbols[i]);
    else
      shape.append(nb::none());
  }
  d["shape"] = nb::tuple(shape);
  d["vocab"] = value.vocab;
  d["open_vocab"] = value.openVocab;
  d["numerical"] = value.numerical;
  return d;
}

/// The rasprt dtype of a DLPack dtype. UInt16 is taken for bf16 (the bits
/// of ml_dtypes.bfloat16 arrays, which NumPy cannot export as bf16) where
/// the program wants bf16.
bool dtypeOf(nb::dlpack::dtype dtype, rasprt_dtype wanted, rasprt_dtype &out) {
  using Code = nb::dlpack::dtype_code;
  auto code = static_cast<Code>(dtype.code);
  if (dtype.lanes != 1)
    return false;
  if (code == Code::Float && dtype.bits == 32)
    out = RASPRT_F32;
  else if (code == Code::Float && dtype.bits == 16)
    out = RASPRT_F16;
  else if (code == Code::Bfloat && dtype.bits == 16)
    out = RASPRT_BF16;
  else if (code == Code::UInt && dtype.bits == 16 && wanted == RASPRT_BF16)
    out = RASPRT_BF16;
  else if (code == Code::Int && dtype.bits == 32)
    out = RASPRT_I32;
  else if (code == Code::Int && dtype.bits == 64)
    out = RASPRT_I64;
  else if (code == Code::Bool && dtype.bits == 8)
    out = RASPRT_BOOL;
  else
    return false;
  return true;
}

std::string dlpackName(nb::dlpack::dtype dtype) {
  using Code = nb::dlpack::dtype_code;
  std::string kind;
  switch (static_cast<Code>(dtype.code)) {
  case Code::Int: kind = "int"; break;
  case Code::UInt: kind = "uint"; break;
  case Code::Float: kind = "float"; break;
  case Code::Bfloat: kind = "bfloat"; break;
  case Code::Complex: kind = "complex"; break;
  case Code::Bool: return "bool";
  default: kind = "dtype" + std::to_string(dtype.code) + "_"; break;
  }
  return kind + std::to_string(dtype.bits);
}

nb::dlpack::dtype dlpackOf(rasprt_dtype dtype) {
  using Code = nb::dlpack::dtype_code;
  auto make = [](Code code, uint8_t bits) {
    nb::dlpack::dtype d;
    d.code = static_cast<uint8_t>(code);
    d.bits = bits;
    d.lanes = 1;
    return d;
  };
  switch (dtype) {
  case RASPRT_F32: return make(Code::Float, 32);
  case RASPRT_F16: return make(Code::Float, 16);
  case RASPRT_BF16: return make(Code::UInt, 16); // NumPy has no bf16
  case RASPRT_I32: return make(Code::Int, 32);
  case RASPRT_I64: return make(Code::Int, 64);
  case RASPRT_BOOL: return make(Code::Bool, 8);
  }
  return make(Code::Float, 32);
}

/// Hands a runtime-allocated tensor to NumPy (bf16 as uint16 bits, which
/// the Python half views as ml_dtypes.bfloat16 or torch.bfloat16) without a
/// copy: the capsule frees it when the array dies. The Python half makes
/// PyTorch tensors of it with torch.from_numpy, also without a copy, and
/// several times faster than nanobind's export through torch's DLPack
/// import.
nb::object toArray(const rasprt_tensor &tensor) {
  auto *owned = new rasprt_tensor(tensor);
  nb::capsule owner(owned, [](void *p) noexcept {
    auto *t = static_cast<rasprt_tensor *>(p);
    rasprt_tensor_free(t);
    delete t;
  });
  size_t shape[RASPRT_MAX_RANK];
  for (int32_t d = 0; d < tensor.rank; ++d)
    shape[d] = static_cast<size_t>(tensor.shape[d]);
  return nb::cast(nb::ndarray<nb::numpy>(tensor.data, tensor.rank, shape, owner, nullptr,
                                         dlpackOf(tensor.dtype)));
}

/// Describes `object` (an array: NumPy, a PyTorch tensor, DLPack) as `t`
/// for argument `info`, or raises: TypeError for what is not an array of a
/// dtype raspc takes, NeedsPreparation instead when `fast`. PyTorch tensors
/// are read through Tensor.numpy(), a view of their memory, kept in
/// `owner`: several times cheaper than their __dlpack__ protocol (which
/// also asks __dlpack_device__); tensors numpy() refuses (grad, bf16)
/// take DLPack. Returns whether `object` is a PyTorch tensor.
bool describeArgument(nb::handle object, const raspc::ValueSignature &info, bool fast,
                      nb::object &owner, rasprt_tensor &t) {
  auto what = [&] {
    return std::string(info.isParam ? "parameter '" : "input '") + info.name + "'";
  };
  bool tensor = isTorchTensor(object);
  owner = nb::borrow(object);
  if (tensor) {
    if (PyObject *view = PyObject_CallMethod(object.ptr(), "numpy", nullptr))
      owner = nb::steal(view);
    else
      PyErr_Clear();
  }
  nb::ndarray<nb::ro> array;
  if (!nb::try_cast(owner, array, /*convert=*/false)) {
    if (fast)
      raise(needsPreparationType, what());
    raise(PyExc_TypeError, what() + " must be an array (NumPy, a PyTorch tensor, DLPack), not " +
                               std::string(nb::type_name(object.type()).c_str()));
  }
  if (!dtypeOf(array.dtype(), info.dtype, t.dtype)) {
    if (fast)
      raise(needsPreparationType, what());
    raise(PyExc_TypeError, what() + " must be " + rasprt_dtype_name(info.dtype) + ", not " +
                               dlpackName(array.dtype()));
  }
  if (array.device_type() != nb::device::cpu::value)
    raise(PyExc_TypeError, what() + " is on another device; this program runs on the CPU");
  if (array.ndim() > RASPRT_MAX_RANK)
    raise(PyExc_ValueError, what() + " has " + std::to_string(array.ndim()) +
                                " dimensions; raspc takes at most " +
                                std::to_string(RASPRT_MAX_RANK));
  t.data = const_cast<void *>(array.data());
  t.rank = static_cast<int32_t>(array.ndim());
  for (int32_t d = 0; d < t.rank; ++d) {
    t.shape[d] = static_cast<int64_t>(array.shape(d));
    t.strides[d] = array.stride(d);
  }
  t.owns_data = 0;
  if (fast && !rasprt_tensor_is_contiguous(&t))
    raise(needsPreparationType, what());
  return tensor;
}

/// Binds parameter `index` to `value` (a C-contiguous array, kept) for
/// calls that pass only the inputs.
void bind(Program &program, size_t index, nb::handle value) {
  const raspc::EntrySignature &signature = program.jit->signature();
  if (index >= signature.arguments.size() || !signature.arguments[index].isParam)
    raise(PyExc_IndexError, "argument " + std::to_string(index) + " is not a parameter");
  size_t count = signature.arguments.size();
  program.boundOwners.resize(count);
  program.boundTensors.resize(count);
  program.isBound.resize(count, false);
  nb::object owner;
  rasprt_tensor t;
  describeArgument(value, signature.arguments[index], false, owner, t);
  if (!rasprt_tensor_is_contiguous(&t))
    raise(PyExc_ValueError, "parameter '" + signature.arguments[index].name +
                                "' must be contiguous to be bound");
  program.boundOwners[index] = std::move(owner);
  program.boundTensors[index] = t;
  program.isBound[index] = true;
  program.panels.reset(rasprt_panel_cache_create());
  if (!program.panels)
    raise(PyExc_MemoryError, "cannot allocate a panel cache");
  for (size_t i = 0; i < count; ++i)
    if (program.isBound[i] &&
        rasprt_panel_cache_add(program.panels.get(), &program.boundTensors[i]) != RASPRT_OK)
      raise(PyExc_ValueError, rasprt_last_error());
}

/// Runs `program` on `arguments`, in argument order: all of them, or only
/// the inputs when every parameter is bound. Returns (the result as a NumPy
/// array, whether any input is a PyTorch tensor). In the fast mode an
/// argument that cannot be read in place (strided, not an array, NumPy's
/// bf16) raises NeedsPreparation instead of an error.
nb::tuple run(const Program &program, const nb::list &arguments, bool fast) {
  bool torch = false;
  const raspc::EntrySignature &signature = program.jit->signature();
  size_t total = signature.arguments.size(), given = arguments.size();
  size_t inputs = 0;
  while (inputs < total && !signature.arguments[inputs].isParam)
    ++inputs;
  bool fromBound = given == inputs && given < total &&
                   std::count(program.isBound.begin(), program.isBound.end(), true) ==
                       static_cast<std::ptrdiff_t>(total - inputs);
  if (given != total && !fromBound)
    raise(PyExc_TypeError, "'" + signature.name + "' takes " + std::to_string(total) +
                               " arguments, got " + std::to_string(given));
  std::vector<rasprt_tensor> tensors(given);
  std::vector<const rasprt_tensor *> pointers(total);
  std::vector<nb::object> owners(given); // alive for the call
  for (size_t i = 0; i < given; ++i) {
    bool tensor = describeArgument(arguments[i], signature.arguments[i], fast, owners[i],
                                   tensors[i]);
    torch = torch || (tensor && !signature.arguments[i].isParam);
    pointers[i] = &tensors[i];
  }
  for (size_t i = given; i < total; ++i)
    pointers[i] = &program.boundTensors[i];
  rasprt_tensor output;
  std::string error;
  JitProgram::RunError kind = JitProgram::RunError::None;
  bool ok;
  {
    nb::gil_scoped_release release;
    // Bound weights are read from panels packed once; others (passed in
    // this call) are not in the cache, and are packed per call.
    rasprt_panel_cache *previous = rasprt_panel_cache_use(program.panels.get());
    ok = program.jit->run(pointers, &output, &error, &kind);
    rasprt_panel_cache_use(previous);
  }
  if (!ok)
    raise(kind == JitProgram::RunError::Type    ? PyExc_TypeError
          : kind == JitProgram::RunError::Value ? PyExc_ValueError
                                                : runtimeErrorType,
          error);
  return nb::make_tuple(toArray(output), torch);
}

/// Runs a sequence program on tokens written as text; the selectors (with
/// expose_selectors) as (name, boolean [queries, keys] array) pairs.
nb::tuple runTokens(const Program &program, const std::vector<std::string> &tokens) {
  std::vector<std::string> outputs;
  std::vector<raspc::SelectorMatrix> selectors;
  std::string error;
  bool ok;
  {
    nb::gil_scoped_release release;
    ok = program.jit->runTokens(tokens, outputs, &selectors, &error);
  }
  if (!ok)
    raise(PyExc_ValueError, error);
  nb::list matrices;
  for (const raspc::SelectorMatrix &m : selectors) {
    rasprt_tensor t;
    int64_t shape[2] = {m.queries, m.keys};
    if (rasprt_tensor_alloc(&t, RASPRT_BOOL, 2, shape) != RASPRT_OK)
      raise(PyExc_MemoryError, rasprt_last_error());
    std::copy(m.selected.begin(), m.selected.end(), static_cast<unsigned char *>(t.data));
    matrices.append(nb::make_tuple(m.name, toArray(t)));
  }
  return nb::make_tuple(outputs, matrices);
}

/// Loads the program's parameters from a .safetensors file by name, each
/// checked against its declaration; name -> NumPy array (bf16 as bits).
nb::dict loadSafetensors(const Program &program, const std::string &path) {
  rasprt_safetensors *file = nullptr;
  rasprt_status status;
  {
    nb::gil_scoped_release release;
    status = rasprt_safetensors_open(path.c_str(), &file);
  }
  if (status != RASPRT_OK)
    raise(status == RASPRT_ERROR_IO ? PyExc_OSError : PyExc_ValueError, rasprt_last_error());
  std::unique_ptr<rasprt_safetensors, void (*)(rasprt_safetensors *)> closer(
      file, rasprt_safetensors_close);
  nb::dict params;
  for (const raspc::ValueSignature &info : program.jit->signature().arguments) {
    if (!info.isParam)
      continue;
    rasprt_tensor t;
    {
      nb::gil_scoped_release release;
      status = rasprt_safetensors_load(file, info.name.c_str(), info.dtype,
                                       static_cast<int32_t>(info.shape.size()),
                                       info.shape.data(), &t);
    }
    if (status != RASPRT_OK)
      raise(status == RASPRT_ERROR_IO ? PyExc_OSError : PyExc_ValueError, rasprt_last_error());
    params[info.name.c_str()] = toArray(t);
  }
  return params;
}

/// Compiles to `stage` and returns what `raspc --emit=stage` writes, with
/// the diagnostics: (text or bytes or None, diagnostics).
nb::tuple emit(const std::string &source, const std::string &fileName, const nb::dict &given,
               const std::string &stageName) {
  raspc::CompileOptions options = toOptions(given);
  auto stage = raspc::parseStage(stageName);
  if (!stage)
    raise(PyExc_ValueError,
          "unknown stage '" + stageName +
              "' (stages: ast, attn, header, tiled, loops, llvm-dialect, llvm, asm, obj, lib, ptx)");
  options.stage = *stage;
  std::string diagnostics, text;
  bool ok;
  {
    nb::gil_scoped_release release;
    auto artifact = raspc::compile(source, fileName, options, diagnostics);
    ok = artifact != nullptr;
    if (ok)
      text = artifact->str();
  }
  if (!ok)
    return nb::make_tuple(nb::none(), diagnostics);
  if (*stage == raspc::Stage::Obj || *stage == raspc::Stage::Lib)
    return nb::make_tuple(nb::bytes(text.data(), text.size()), diagnostics);
  return nb::make_tuple(text, diagnostics);
}

} // namespace

NB_MODULE(_raspc, m) {
  m.doc() = "The native part of raspc: the JIT and the compile API (use the raspc package)";
  // Programs registered as PyTorch operators (raspc.torch) live in torch's
  // operator registry until the process ends, after nanobind's leak check
  // at shutdown would run: not leaks, so not reported.
  nb::set_leak_warnings(false);

  errorType = PyErr_NewException("raspc.Error", PyExc_Exception, nullptr);
  nb::object bases = nb::make_tuple(nb::handle(errorType), nb::handle(PyExc_RuntimeError));
  runtimeErrorType = PyErr_NewException("raspc.RuntimeError", bases.ptr(), nullptr);
  needsPreparationType = PyErr_NewException("raspc._raspc.NeedsPreparation", nullptr, nullptr);
  m.attr("Error") = nb::handle(errorType);
  m.attr("RuntimeError") = nb::handle(runtimeErrorType);
  m.attr("NeedsPreparation") = nb::handle(needsPreparationType);


  nb::class_<Program>(m, "Program")
      .def_prop_ro("name", [](const Program &p) { return p.jit->name(); })
      .def_prop_ro("is_model", [](const Program &p) { return p.jit->isModel(); })
      .def_prop_ro("arguments",
                   [](const Program &p) {
                     nb::list list;
                     for (const raspc::ValueSignature &a : p.jit->signature().arguments)
                       list.append(describe(a));
                     return list;
                   })
      .def_prop_ro("result", [](const Program &p) { return describe(p.jit->signature().result); })
      .def("run", &run, nb::arg("arguments"), nb::arg("fast") = false)
      .def("bind", &bind, nb::arg("index"), nb::arg("value"))
      .def("run_tokens", &runTokens, nb::arg("tokens"))
      .def("load_safetensors", &loadSafetensors, nb::arg("path"));

  m.def(
      "compile",
      [](const std::string &source, const std::string &fileName, const nb::dict &given) {
        raspc::CompileOptions options = toOptions(given);
        std::string diagnostics;
        std::shared_ptr<const JitProgram> jit;
        {
          nb::gil_scoped_release release;
          jit = JitProgram::compile(source, fileName, options, &diagnostics);
        }
        nb::object program = jit ? nb::cast(Program{jit}) : nb::none();
        return nb::make_tuple(program, diagnostics);
      },
      nb::arg("source"), nb::arg("file_name"), nb::arg("options"),
      "Compiles for this machine: (Program or None, diagnostics).");
  m.def("emit", &emit, nb::arg("source"), nb::arg("file_name"), nb::arg("options"),
        nb::arg("stage"));
  m.def(
      "selector_svg",
      [](const std::string &name, const std::vector<std::string> &tokens,
         nb::ndarray<const bool, nb::ndim<2>, nb::c_contig, nb::device::cpu> selected) {
        raspc::SelectorMatrix matrix;
        matrix.name = name;
        matrix.queries = static_cast<int64_t>(selected.shape(0));
        matrix.keys = static_cast<int64_t>(selected.shape(1));
        matrix.selected.assign(selected.data(), selected.data() + selected.size());
        return raspc::selectorSvg(matrix, tokens);
      },
      nb::arg("name"), nb::arg("tokens"), nb::arg("selected"),
      "A selector ([queries, keys] bools) as the SVG picture raspc run --selectors-svg draws.");
  m.def("num_threads", &rasprt_num_threads,
        "The threads compiled programs use (RASPRT_NUM_THREADS, else the machine's).");
  m.def(
      "set_num_threads",
      [](int32_t count) {
        if (count < 1)
          raise(PyExc_ValueError, "set_num_threads needs at least 1 thread");
        rasprt_set_num_threads(count);
      },
      nb::arg("count"));
}
