//===- aot_runner.cpp - run compiled programs on the GPU and the CPU ------===//
//
// What the device script runs: programs compiled here ahead of time (raspc
// --emit=lib, once for the CPU and once with --target=cuda), loaded with
// dlopen, called through their C interface. Links rasprt only, so it runs
// on a GPU machine without LLVM or MLIR.
//
//   raspc-aot-runner check CPU.so CUDA.so ENTRY RESULT ARG... [--length N]
//       random inputs, both programs, results compared (exit 1 if they differ)
//   raspc-aot-runner bench CUDA.so ENTRY RESULT ARG... [--length N] [--repeat R]
//       best time of R calls in ms
//   raspc-aot-runner bench-cpu CPU.so ENTRY RESULT ARG... [--length N] [--repeat R]
//       the same for a library compiled for the CPU (no GPU needed; its
//       outlined parallel bodies keep their names for `perf`)
//
// RESULT is DTYPE:RANK (f32:2), each ARG DTYPE:DIMS[:VOCAB] (i64:T,
// f32:T,256, i32:T:5): a symbolic dimension takes --length. An integer ARG
// DTYPE:DIMS:/N (i32:T:/512) holds element index / N instead: ids of
// documents N long, one after the other.
//
//===----------------------------------------------------------------------===//

#include "rasprt/rasprt.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

struct Spec {
  rasprt_dtype dtype = RASPRT_F32;
  std::vector<int64_t> shape;
  int64_t vocab = 0;    // token ids in [0, vocab); 0: not tokens
  int64_t document = 0; // > 0: element i is i / document
};

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "raspc-aot-runner: %s\n", message.c_str());
  std::exit(2);
}

rasprt_dtype parseDtype(const std::string &name) {
  for (rasprt_dtype d : {RASPRT_F32, RASPRT_F16, RASPRT_BF16, RASPRT_I32, RASPRT_I64, RASPRT_BOOL})
    if (name == rasprt_dtype_name(d))
      return d;
  die("unknown dtype '" + name + "'");
}

std::vector<std::string> split(const std::string &text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t end; (end = text.find(sep, start)) != std::string::npos; start = end + 1)
    parts.push_back(text.substr(start, end - start));
  parts.push_back(text.substr(start));
  return parts;
}

Spec parseArg(const std::string &text, int64_t length) {
  std::vector<std::string> parts = split(text, ':');
  if (parts.size() < 2 || parts.size() > 3)
    die("argument '" + text + "' is not DTYPE:DIMS[:VOCAB]");
  Spec spec;
  spec.dtype = parseDtype(parts[0]);
  if (!parts[1].empty())
    for (const std::string &d : split(parts[1], ','))
      spec.shape.push_back(std::isdigit(static_cast<unsigned char>(d[0])) ? std::atoll(d.c_str())
                                                                          : length);
  if (parts.size() == 3 && parts[2].rfind('/', 0) == 0)
    spec.document = std::atoll(parts[2].c_str() + 1);
  else if (parts.size() == 3)
    spec.vocab = std::atoll(parts[2].c_str());
  return spec;
}

/// A host tensor with deterministic random contents.
rasprt_tensor randomTensor(const Spec &spec, std::mt19937_64 &rng) {
  rasprt_tensor t;
  if (rasprt_tensor_alloc(&t, spec.dtype, static_cast<int32_t>(spec.shape.size()),
                          spec.shape.data()) != RASPRT_OK)
    die(rasprt_last_error());
  int64_t n = rasprt_tensor_numel(&t);
  std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
  for (int64_t i = 0; i < n; ++i) {
    switch (spec.dtype) {
    case RASPRT_F32:
      static_cast<float *>(t.data)[i] = uniform(rng);
      break;
    case RASPRT_I32:
      static_cast<int32_t *>(t.data)[i] =
          static_cast<int32_t>(spec.document ? i / spec.document
                                             : rng() % (spec.vocab ? spec.vocab : 16));
      break;
    case RASPRT_I64:
      static_cast<int64_t *>(t.data)[i] = static_cast<int64_t>(rng() % (spec.vocab ? spec.vocab : 16));
      break;
    case RASPRT_BOOL:
      static_cast<uint8_t *>(t.data)[i] = rng() & 1;
      break;
    case RASPRT_BF16: {
      float f = uniform(rng);
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof bits);
      static_cast<uint16_t *>(t.data)[i] =
          static_cast<uint16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16); // nearest even
      break;
    }
    default:
      die(std::string("no random inputs of ") + rasprt_dtype_name(spec.dtype));
    }
  }
  return t;
}

/// Calls a C-interface entry (all parameters are descriptor pointers) with
/// the result's descriptor first.
template <size_t... I>
void callWith(void *entry, void **args, std::index_sequence<I...>) {
  using Fn = void (*)(decltype((void)I, static_cast<void *>(nullptr))...);
  reinterpret_cast<Fn>(entry)(args[I]...);
}
template <size_t N> void callIf(size_t count, void *entry, void **args) {
  if constexpr (N > 0) {
    if (count == N)
      return callWith(entry, args, std::make_index_sequence<N>());
    callIf<N - 1>(count, entry, args);
  }
}
// Whole checkpoints: MiniLM-L6 takes 102 arguments and the result.
constexpr size_t kMaxParameters = 128;

struct Program {
  void *entry = nullptr;
  bool cuda = false;
};

Program load(const std::string &path, const std::string &name, bool cuda) {
  void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library)
    die(std::string("cannot load ") + path + ": " + dlerror());
  Program p;
  p.entry = dlsym(library, ("_mlir_ciface_" + name).c_str());
  if (!p.entry)
    die(path + " has no entry '" + name + "'");
  p.cuda = cuda;
  if (cuda && rasprt_cuda_check() != RASPRT_OK) // the kernels load when the library does
    die(rasprt_last_error());
  return p;
}

/// Runs `program` on `inputs` and returns the result as a contiguous host
/// tensor (inputs are copied to device memory for CUDA).
rasprt_tensor run(const Program &program, const std::vector<rasprt_tensor> &inputs,
                  rasprt_dtype resultType, int32_t resultRank, double *milliseconds = nullptr,
                  int repeat = 1) {
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<void *> staged;
  for (const rasprt_tensor &t : inputs) {
    rasprt_tensor view = t;
    if (program.cuda) {
      size_t bytes = rasprt_tensor_numel(&t) * rasprt_dtype_size(t.dtype);
      void *device = rasprt_cuda_alloc(bytes);
      if (rasprt_cuda_copy(device, t.data, bytes) != RASPRT_OK)
        die(rasprt_last_error());
      staged.push_back(device);
      rasprt_tensor_view(&view, device, t.dtype, t.rank, t.shape);
    }
    descriptors.emplace_back(3 + 2 * t.rank);
    rasprt_descriptor_from_tensor(&view, descriptors.back().data());
  }
  std::vector<int64_t> result(3 + 2 * resultRank);
  std::vector<void *> args = {result.data()};
  for (auto &d : descriptors)
    args.push_back(d.data());
  if (args.size() > kMaxParameters)
    die("too many arguments");
  // A program may return one of its inputs: never free those.
  auto aliasesInput = [&](void *p) {
    for (void *s : staged)
      if (s == p)
        return true;
    for (const rasprt_tensor &t : inputs)
      if (t.data == p)
        return true;
    return false;
  };
  double best = 1e300;
  for (int r = 0; r < repeat; ++r) {
    auto start = std::chrono::steady_clock::now();
    callIf<kMaxParameters>(args.size(), program.entry, args.data());
    best = std::min(best, std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - start)
                              .count());
    if (program.cuda && rasprt_cuda_check() != RASPRT_OK)
      die(rasprt_last_error());
    if (r + 1 < repeat && !aliasesInput(reinterpret_cast<void *>(result[0])))
      rasprt_buffer_free(reinterpret_cast<void *>(result[0]));
  }
  if (milliseconds)
    *milliseconds = best;

  // The result, gathered through its strides into a row-major host tensor.
  std::vector<int64_t> shape(result.begin() + 3, result.begin() + 3 + resultRank);
  rasprt_tensor out;
  if (rasprt_tensor_alloc(&out, resultType, resultRank, shape.data()) != RASPRT_OK)
    die(rasprt_last_error());
  size_t size = rasprt_dtype_size(resultType);
  int64_t span = 1;
  for (int32_t d = 0; d < resultRank; ++d)
    span += (shape[d] - 1) * result[3 + resultRank + d];
  if (std::find(shape.begin(), shape.end(), 0) != shape.end())
    span = 0;
  std::vector<char> host(std::max<int64_t>(span, 1) * size);
  const char *source = reinterpret_cast<const char *>(result[1]) + result[2] * size;
  if (program.cuda && rasprt_cuda_copy(host.data(), source, span * size) != RASPRT_OK)
    die(rasprt_last_error());
  else if (span > 0)
    std::memcpy(host.data(), source, span * size);
  std::vector<int64_t> index(resultRank, 0);
  for (int64_t n = 0, total = rasprt_tensor_numel(&out); n < total; ++n) {
    int64_t offset = 0;
    for (int32_t d = 0; d < resultRank; ++d)
      offset += index[d] * result[3 + resultRank + d];
    std::memcpy(static_cast<char *>(out.data) + n * size, host.data() + offset * size, size);
    for (int32_t d = resultRank - 1; d >= 0 && ++index[d] == shape[d]; --d)
      index[d] = 0;
  }
  if (!aliasesInput(reinterpret_cast<void *>(result[0])))
    rasprt_buffer_free(reinterpret_cast<void *>(result[0]));
  for (void *p : staged)
    rasprt_buffer_free(p);
  return out;
}

double asDouble(const rasprt_tensor &t, int64_t i) {
  switch (t.dtype) {
  case RASPRT_F32:
    return static_cast<const float *>(t.data)[i];
  case RASPRT_I32:
    return static_cast<const int32_t *>(t.data)[i];
  case RASPRT_I64:
    return static_cast<const double>(static_cast<const int64_t *>(t.data)[i]);
  case RASPRT_BOOL:
    return static_cast<const uint8_t *>(t.data)[i];
  case RASPRT_BF16: {
    uint32_t bits = static_cast<uint32_t>(static_cast<const uint16_t *>(t.data)[i]) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
  default:
    return NAN;
  }
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> positional;
  int64_t length = 64;
  int repeat = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--length" && i + 1 < argc)
      length = std::atoll(argv[++i]);
    else if (a == "--repeat" && i + 1 < argc)
      repeat = std::atoi(argv[++i]);
    else
      positional.push_back(a);
  }
  bool check = !positional.empty() && positional[0] == "check";
  bool benchCPU = !positional.empty() && positional[0] == "bench-cpu";
  bool bench = !positional.empty() && (positional[0] == "bench" || benchCPU);
  size_t first = check ? 5 : 4; // index of the first ARG
  if ((!check && !bench) || positional.size() < first) {
    std::fprintf(stderr, "usage: raspc-aot-runner check CPU.so CUDA.so ENTRY RESULT ARG... "
                         "[--length N]\n"
                         "       raspc-aot-runner bench[-cpu] LIB.so ENTRY RESULT ARG... "
                         "[--length N] [--repeat R]\n");
    return 2;
  }
  const std::string &entry = positional[first - 2];
  std::vector<std::string> result = split(positional[first - 1], ':');
  if (result.size() != 2)
    die("RESULT is DTYPE:RANK, not '" + positional[first - 1] + "'");
  rasprt_dtype resultType = parseDtype(result[0]);
  int32_t resultRank = std::atoi(result[1].c_str());

  if (!benchCPU && rasprt_cuda_init() != RASPRT_OK)
    die(rasprt_last_error());
  std::mt19937_64 rng(7);
  std::vector<rasprt_tensor> inputs;
  for (size_t i = first; i < positional.size(); ++i)
    inputs.push_back(randomTensor(parseArg(positional[i], length), rng));

  if (bench) {
    Program program = load(positional[1], entry, /*cuda=*/!benchCPU);
    double ms = 0;
    rasprt_tensor out = run(program, inputs, resultType, resultRank, &ms, repeat);
    std::printf("%s L=%lld: %.3f ms\n", entry.c_str(), static_cast<long long>(length), ms);
    rasprt_tensor_free(&out);
    return 0;
  }

  Program cpu = load(positional[1], entry, /*cuda=*/false);
  Program gpu = load(positional[2], entry, /*cuda=*/true);
  rasprt_tensor expected = run(cpu, inputs, resultType, resultRank);
  rasprt_tensor actual = run(gpu, inputs, resultType, resultRank);
  int64_t n = rasprt_tensor_numel(&expected);
  bool sameShape = expected.rank == actual.rank &&
                   std::equal(expected.shape, expected.shape + expected.rank, actual.shape);
  double worst = 0;
  int64_t bad = -1;
  for (int64_t i = 0; sameShape && i < n; ++i) {
    double e = asDouble(expected, i), a = asDouble(actual, i);
    double diff = std::fabs(e - a);
    worst = std::max(worst, diff);
    // Integers exactly; f32 to the reference's tolerance (the CPU path
    // uses its own exp, the GPU libdevice's); bf16 to a few of its ulps (the
    // tensor cores see the probabilities in bf16, the CPU in f32).
    bool ok = resultType == RASPRT_F32    ? diff <= 1e-4 + 1e-3 * std::fabs(e)
              : resultType == RASPRT_BF16 ? diff <= 2e-2 + 2e-2 * std::fabs(e)
                                          : diff == 0;
    if (!ok && bad < 0)
      bad = i;
  }
  if (!sameShape || bad >= 0) {
    std::printf("%s L=%lld: MISMATCH", entry.c_str(), static_cast<long long>(length));
    if (bad >= 0)
      std::printf(" at element %lld: cpu %g, cuda %g", static_cast<long long>(bad),
                  asDouble(expected, bad), asDouble(actual, bad));
    else
      std::printf(": result shapes differ");
    std::printf("\n");
    return 1;
  }
  std::printf("%s L=%lld: ok (%lld elements, max |cpu - cuda| %.3g)\n", entry.c_str(),
              static_cast<long long>(length), static_cast<long long>(n), worst);
  return 0;
}
