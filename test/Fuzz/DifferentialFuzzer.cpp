//===- DifferentialFuzzer.cpp - compile, run and compare random programs --===//
//
// raspc-diff-fuzzer generates random well-typed sequence programs, compiles
// each with the JIT, runs it on inputs of many lengths and values (0, 1, 2,
// odd and long sequences; huge, negative, NaN and Inf values) and compares
// every element with the fuzzer's own evaluation (Evaluator.cpp). A
// mismatch, a program the compiler rejects, a failed run, or a compile or
// run that takes over a minute stops it with the program, the input and the
// command that reproduces it. A crash leaves the program in OUT/last.rasp.
//
//   raspc-diff-fuzzer --seed 1 --programs 300       # the CI run
//   raspc-diff-fuzzer --seed 7 --seconds 3600       # scripts/fuzz.sh
//   raspc-diff-fuzzer --seed 7 --first 1234 --programs 1 --print
//
//===----------------------------------------------------------------------===//

#include "FuzzProgram.h"

#include "raspc/Jit.h"

#include <atomic>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>

using namespace raspc::fuzz;

namespace {

enum class Kind { All, Sequence, Attention, Model };

struct Options {
  Kind kind = Kind::All;
  uint64_t seed = 1;
  uint64_t first = 0;
  uint64_t programs = UINT64_MAX;
  double seconds = 0;
  std::string out = ".";
  bool print = false;
};

[[noreturn]] void usage(int status) {
  std::fprintf(status ? stderr : stdout,
               "usage: raspc-diff-fuzzer [--seed S] [--first K] [--programs N] "
               "[--seconds T] [--kind all|sequence|attention|model] [--out DIR] [--print]\n"
               "  Generates programs K, K+1, ... of seed S (each one reproducible alone),\n"
               "  until N programs or T seconds: sequence programs (def), attention\n"
               "  layers and chains of model layers, in turn with --kind all;\n"
               "  --print shows each program.\n"
               "  Exits 1 at the first mismatch, rejection, run failure or hang.\n");
  std::exit(status);
}

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char * {
      if (i + 1 >= argc)
        usage(2);
      return argv[++i];
    };
    if (a == "--seed") o.seed = std::strtoull(value(), nullptr, 10);
    else if (a == "--first") o.first = std::strtoull(value(), nullptr, 10);
    else if (a == "--programs") o.programs = std::strtoull(value(), nullptr, 10);
    else if (a == "--seconds") o.seconds = std::strtod(value(), nullptr);
    else if (a == "--out") o.out = value();
    else if (a == "--print") o.print = true;
    else if (a == "--kind") {
      std::string k = value();
      o.kind = k == "sequence" ? Kind::Sequence : k == "attention" ? Kind::Attention
             : k == "model" ? Kind::Model : k == "all" ? Kind::All : (usage(2), Kind::All);
    }
    else if (a == "--help" || a == "-h") usage(0);
    else usage(2);
  }
  if (o.programs == UINT64_MAX && o.seconds == 0)
    o.programs = 100;
  return o;
}

/// The inputs one program runs on: several lengths, each with values drawn
/// from a few distributions (small ints with repeats, wide ints, the ends of
/// the int range; ordinary floats and NaN, +-Inf, huge, tiny and -0).
std::vector<Inputs> inputsFor(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return std::uniform_int_distribution<>(0, n - 1)(rng); };
  static const int kLengths[] = {0, 1, 2, 3, 5, 8, 17, 64, 130};
  static const int64_t kExtremeInts[] = {INT64_MIN, INT64_MAX, 0, -1, 1,
                                         int64_t(1) << 62, -(int64_t(1) << 40)};
  static const float kSpecials[] = {NAN, INFINITY, -INFINITY, 3e38f, -1e30f, 1e-40f,
                                    -0.0f, 0.0f};
  std::vector<Inputs> all;
  for (int length : kLengths)
    for (int kind = 0; kind < 3; ++kind) {
      Inputs in;
      for (int p = 0; p < length; ++p) {
        in.w.push_back(pick(3));
        switch (kind) {
        case 0:
          in.tokens.push_back(pick(7) - 3);
          in.x.push_back(static_cast<float>(pick(9) - 4) * 0.5f);
          break;
        case 1:
          in.tokens.push_back(std::uniform_int_distribution<int64_t>(-1000000, 1000000)(rng));
          in.x.push_back(std::normal_distribution<float>(0, 10)(rng));
          break;
        default:
          in.tokens.push_back(pick(3) ? pick(5) - 2 : kExtremeInts[pick(std::size(kExtremeInts))]);
          in.x.push_back(pick(3) ? std::normal_distribution<float>(0, 2)(rng)
                                 : kSpecials[pick(std::size(kSpecials))]);
          break;
        }
      }
      all.push_back(std::move(in));
      if (length == 0)
        break;
    }
  return all;
}

std::string describe(const Inputs &in) {
  std::string s = "w = [";
  for (size_t i = 0; i < in.w.size(); ++i)
    s += (i ? ", " : "") + letters()[in.w[i]];
  s += "]\ntokens = [";
  for (size_t i = 0; i < in.tokens.size(); ++i)
    s += (i ? ", " : "") + std::to_string(in.tokens[i]);
  s += "]\nx = [";
  char buf[32];
  for (size_t i = 0; i < in.x.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(in.x[i]));
    s += (i ? ", " : "") + std::string(buf);
  }
  return s + "]";
}

std::string show(const Val &v, Ty ty) {
  if (v.unknown)
    return "(unknown)";
  if (isToken(ty))
    return "'" + tokenWord(v.i) + "'";
  char buf[64];
  if (ty == Ty::Float)
    std::snprintf(buf, sizeof buf, "%.9g (+- %.3g)", static_cast<double>(v.f), v.err);
  else
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v.i));
  return buf;
}

/// Whether the compiled element `got` agrees with the reference `want`.
bool agrees(const Val &want, const Val &got, Ty ty) {
  if (want.unknown)
    return true;
  if (ty != Ty::Float)
    return want.i == got.i;
  if (std::isnan(want.f) || std::isnan(got.f))
    return std::isnan(want.f) && std::isnan(got.f);
  if (std::isinf(want.f) || std::isinf(got.f))
    return want.f == got.f;
  // Approximations of exp, erf and tanh may flush results in the subnormal
  // range to 0 (sigmoid(-100) is 4e-44): a difference below FLT_MIN is not
  // a mismatch.
  return std::fabs(static_cast<double>(want.f) - got.f) <= want.err + FLT_MIN;
}

/// Watches for a compile or run that does not finish.
struct Watchdog {
  std::atomic<int64_t> startedMs{-1};
  std::string lastPath;
  std::thread thread;
  std::atomic<bool> done{false};
  static int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  explicit Watchdog(std::string path) : lastPath(std::move(path)) {
    thread = std::thread([this] {
      while (!done) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        int64_t started = startedMs;
        if (started >= 0 && nowMs() - started > 60000) {
          std::fprintf(stderr, "HANG: over 60 s compiling or running %s\n", lastPath.c_str());
          std::_Exit(1);
        }
      }
    });
  }
  ~Watchdog() {
    done = true;
    thread.join();
  }
};

/// Inputs for one attention program: query lengths from 1 to past two
/// blocks, values ordinary, scaled up (sharp softmax), or with NaN and Inf
/// in values, NaN in queries and keys and keys large enough to overflow a
/// score; `doc` in runs of equal ids.
std::vector<AttentionInputs> attentionInputsFor(const AttentionProgram &a, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return std::uniform_int_distribution<>(0, n - 1)(rng); };
  static const int kLengths[] = {0, 1, 2, 3, 5, 16, 17, 64, 65, 130};
  std::vector<AttentionInputs> all;
  for (int length : kLengths)
    for (int kind = 0; kind < 3; ++kind) {
      AttentionInputs in;
      in.queries = length;
      in.keys = a.cross ? kLengths[pick(std::size(kLengths))] : length;
      std::normal_distribution<float> normal(0, kind == 1 ? 4.0f : 1.0f);
      auto fill = [&](std::vector<float> &x, size_t n) {
        x.resize(n);
        for (float &f : x)
          f = normal(rng);
      };
      fill(in.q, in.queries * a.heads * a.dim);
      fill(in.k, in.keys * a.keyHeads * a.dim);
      fill(in.v, in.keys * a.keyHeads * a.valueDim);
      if (kind == 2 && in.queries > 0 && in.keys > 0) {
        static const float kValues[] = {NAN, INFINITY, -INFINITY};
        for (int n = 1 + pick(3); n-- > 0;)
          in.v[pick(in.v.size())] = kValues[pick(3)];
        if (pick(3) == 0)
          in.q[pick(in.q.size())] = NAN;
        if (pick(3) == 0)
          in.k[pick(in.k.size())] = NAN;
        if (pick(4) == 0) {
          // One key row large enough that its scores overflow f32.
          int64_t row = pick(in.keys * a.keyHeads);
          for (int d = 0; d < a.dim; ++d)
            in.k[row * a.dim + d] = 1e30f;
        }
      }
      if (a.usesDoc) {
        int id = 0;
        for (int64_t p = 0; p < in.queries; ++p) {
          if (pick(4) == 0)
            id += 1 + pick(2);
          in.doc.push_back(id);
        }
      }
      all.push_back(std::move(in));
    }
  return all;
}

std::string describe(const AttentionInputs &in) {
  std::string s = "T = " + std::to_string(in.queries) + ", S = " + std::to_string(in.keys);
  auto list = [&](const char *name, const auto &x) {
    s += std::string("\n") + name + " = [";
    char buf[32];
    for (size_t i = 0; i < x.size() && i < 64; ++i) {
      std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(x[i]));
      s += (i ? ", " : "") + std::string(buf);
    }
    s += x.size() > 64 ? ", ...]" : "]";
  };
  list("q", in.q);
  list("k", in.k);
  list("v", in.v);
  if (!in.doc.empty())
    list("doc", in.doc);
  return s;
}

struct Counts {
  uint64_t programs = 0, executions = 0, compared = 0, open = 0;
};

/// Compares a result tensor with the reference; prints the first mismatch.
bool compare(const rasprt_tensor &result, const Seq &want, Ty ty, Counts &counts,
             const std::string &context, const std::vector<std::string> *vocab = nullptr) {
  for (size_t p = 0; p < want.size(); ++p) {
    Val got;
    switch (result.dtype) {
    case RASPRT_I32: {
      // Tokens: the result vocabulary's word, as the reference's id.
      int32_t id = static_cast<const int32_t *>(result.data)[p];
      if (!vocab || id >= static_cast<int32_t>(vocab->size())) {
        std::fprintf(stderr, "token id %d outside the result vocabulary\n%s\n", id,
                     context.c_str());
        return false;
      }
      got.i = id < 0 ? -1 : tokenId((*vocab)[id]);
      break;
    }
    case RASPRT_I64: got.i = static_cast<const int64_t *>(result.data)[p]; break;
    case RASPRT_BOOL: got.i = static_cast<const uint8_t *>(result.data)[p]; break;
    case RASPRT_F32: got.f = static_cast<const float *>(result.data)[p]; break;
    default:
      std::fprintf(stderr, "unexpected result dtype %s\n", rasprt_dtype_name(result.dtype));
      return false;
    }
    if (want[p].unknown) {
      ++counts.open;
      continue;
    }
    ++counts.compared;
    if (!agrees(want[p], got, ty)) {
      std::fprintf(stderr, "MISMATCH at element %zu: expected %s, compiled code gave %s\n%s\n", p,
                   show(want[p], ty).c_str(), show(got, ty).c_str(), context.c_str());
      return false;
    }
  }
  return true;
}

/// Compiles `source`; prints why not.
/// How one program is compiled: its optimization level and, for models
/// other than cross-attention, whether it runs a packed batch.
struct Setup {
  raspc::JitOptions options;
  std::string flags() const {
    return " (-O" + std::to_string(options.optLevel) +
           (options.packedBatch ? " --packed-batch)" : ")");
  }
};

std::shared_ptr<const raspc::JitProgram> compile(const std::string &source,
                                                 const std::string &again,
                                                 const Setup &setup) {
  std::string errors;
  auto jit = raspc::JitProgram::compile(source, "fuzz.rasp", setup.options, &errors);
  if (!jit)
    std::fprintf(stderr,
                 "REJECTED: the compiler rejects a program the language allows%s\n%s\n%s\n"
                 "reproduce: %s\n",
                 setup.flags().c_str(), source.c_str(), errors.c_str(), again.c_str());
  return jit;
}

/// Runs one call and compares its result with `want`. A run may instead
/// fail with a message containing `allowedError` (when not null), and must
/// when `mustFail`.
bool runAndCompare(const raspc::JitProgram &jit,
                   const std::vector<const rasprt_tensor *> &arguments, const Seq &want,
                   Ty ty, const std::string &context, const char *allowedError,
                   Watchdog &watchdog, Counts &counts, bool mustFail = false,
                   const std::vector<std::string> *vocab = nullptr) {
  rasprt_tensor result;
  std::string error;
  watchdog.startedMs = Watchdog::nowMs();
  if (!jit.run(arguments, &result, &error)) {
    if (allowedError && error.find(allowedError) != std::string::npos) {
      ++counts.executions;
      return true;
    }
    std::fprintf(stderr, "RUN FAILED: %s\n%s\n", error.c_str(), context.c_str());
    return false;
  }
  if (mustFail) {
    std::fprintf(stderr, "ACCEPTED a call that must fail with '%s'\n%s\n", allowedError,
                 context.c_str());
    rasprt_tensor_free(&result);
    return false;
  }
  ++counts.executions;
  bool ok = compare(result, want, ty, counts, context, vocab);
  rasprt_tensor_free(&result);
  return ok;
}

std::string describe(const ModelInputs &in);

/// The program, how it was compiled, a batch's examples and how to get it again.
template <typename In>
std::string batchContext(const std::string &source, const Setup &setup,
                         const std::vector<const In *> &group, const std::string &again) {
  std::string context = source + setup.flags() + "\n";
  for (const In *example : group)
    context += describe(*example) + "\n";
  return context + "reproduce: " + again;
}

bool checkSequenceProgram(const Program &program, const std::string &source, uint64_t seed,
                          const std::string &again, const Setup &setup, Watchdog &watchdog,
                          Counts &counts) {
  auto jit = compile(source, again, setup);
  if (!jit)
    return false;
  for (const Inputs &in : inputsFor(seed)) {
    int64_t length = static_cast<int64_t>(in.tokens.size());
    rasprt_tensor tokens, x, w;
    rasprt_tensor_view(&tokens, const_cast<int64_t *>(in.tokens.data()), RASPRT_I64, 1, &length);
    rasprt_tensor_view(&x, const_cast<float *>(in.x.data()), RASPRT_F32, 1, &length);
    rasprt_tensor_view(&w, const_cast<int32_t *>(in.w.data()), RASPRT_I32, 1, &length);
    std::string context = source + setup.flags() + "\n" + describe(in) + "\nreproduce: " + again;
    if (!runAndCompare(*jit, {&tokens, &x, &w}, evaluate(program, in), program.resultTy(),
                       context, nullptr, watchdog, counts, false,
                       &jit->signature().result.vocab))
      return false;
  }
  return true;
}

/// Examples packed one after another along their positions, with their
/// lengths, and the reference result of each, one after another.
template <typename In> struct Batch {
  In packed;
  std::vector<int32_t> lengths;
  Seq want;
};

/// Groups `all` into batches of 1 to 4 examples (one each when unpacked).
template <typename In>
std::vector<std::vector<const In *>> groups(const std::vector<In> &all, bool packed,
                                            uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0xBA7C4);
  std::vector<std::vector<const In *>> out;
  for (size_t i = 0; i < all.size();) {
    size_t n = packed ? 1 + rng() % 4 : 1;
    out.emplace_back();
    for (; n > 0 && i < all.size(); --n)
      out.back().push_back(&all[i++]);
  }
  return out;
}

template <typename T> void append(std::vector<T> &to, const std::vector<T> &from) {
  to.insert(to.end(), from.begin(), from.end());
}

bool checkAttentionProgram(const AttentionProgram &program, const std::string &source,
                           uint64_t seed, const std::string &again, const Setup &setup,
                           Watchdog &watchdog, Counts &counts) {
  auto jit = compile(source, again, setup);
  if (!jit)
    return false;
  bool packed = setup.options.packedBatch;
  std::vector<AttentionInputs> all = attentionInputsFor(program, seed);
  for (const auto &group : groups(all, packed, seed)) {
    Batch<AttentionInputs> b;
    for (const AttentionInputs *in : group) {
      b.packed.queries += in->queries;
      b.packed.keys += in->keys;
      append(b.packed.q, in->q);
      append(b.packed.k, in->k);
      append(b.packed.v, in->v);
      append(b.packed.doc, in->doc);
      b.lengths.push_back(static_cast<int32_t>(in->queries));
      append(b.want, evaluate(program, *in));
    }
    const AttentionInputs &in = b.packed;
    int64_t qShape[] = {in.queries, program.heads * program.dim};
    int64_t kShape[] = {in.keys, program.keyHeads * program.dim};
    int64_t vShape[] = {in.keys, program.keyHeads * program.valueDim};
    int64_t docShape[] = {in.queries};
    int64_t batch = static_cast<int64_t>(b.lengths.size());
    rasprt_tensor q, k, v, doc, lengths;
    rasprt_tensor_view(&q, const_cast<float *>(in.q.data()), RASPRT_F32, 2, qShape);
    rasprt_tensor_view(&k, const_cast<float *>(in.k.data()), RASPRT_F32, 2, kShape);
    rasprt_tensor_view(&v, const_cast<float *>(in.v.data()), RASPRT_F32, 2, vShape);
    rasprt_tensor_view(&doc, const_cast<int32_t *>(in.doc.data()), RASPRT_I32, 1, docShape);
    rasprt_tensor_view(&lengths, b.lengths.data(), RASPRT_I32, 1, &batch);
    std::vector<const rasprt_tensor *> arguments = {&q, &k, &v};
    if (program.usesDoc)
      arguments.push_back(&doc);
    if (packed)
      arguments.push_back(&lengths);
    // An empty input indexed by position is rejected (docs/language.md).
    const char *allowed = program.usesDoc && in.queries == 0 ? "must not be empty" : nullptr;
    if (!runAndCompare(*jit, arguments, b.want, Ty::Float,
                       batchContext(source, setup, group, again), allowed, watchdog, counts))
      return false;
  }
  return true;
}

/// Inputs for a model: lengths across the GEMM and row kernels' blocks,
/// values ordinary, large, or with NaN and Inf; weights scaled by fan-in.
std::vector<ModelInputs> modelInputsFor(const ModelProgram &m, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return std::uniform_int_distribution<>(0, n - 1)(rng); };
  std::normal_distribution<float> normal(0, 1);
  std::vector<std::vector<float>> params;
  for (const ModelProgram::Param &p : m.params()) {
    std::vector<float> values(p.shape.size() == 2 ? p.shape[0] * p.shape[1] : p.shape[0]);
    char kind = p.name[0];
    // Weights keep activations near unit size whichever side is the fan-in.
    float scale = kind == 'w' ? 1.0f / std::sqrt(0.5f * (p.shape[0] + p.shape[1]))
                  : kind == 'g' ? 0.3f
                                : 0.5f;
    for (float &v : values)
      v = (kind == 'g' ? 1.0f : 0.0f) + scale * normal(rng);
    params.push_back(std::move(values));
  }
  static const int kLengths[] = {0, 1, 2, 3, 7, 16, 17, 33, 64, 100, 130};
  std::vector<ModelInputs> all;
  for (int length : kLengths)
    for (int kind = 0; kind < 3; ++kind) {
      ModelInputs in;
      in.length = length;
      in.params = params;
      if (m.vocab > 0) {
        for (int p = 0; p < length; ++p)
          in.ids.push_back(pick(m.vocab));
        // Now and then an id outside the table, which the call must reject.
        if (kind == 2 && length > 0 && pick(3) == 0) {
          in.ids[pick(length)] = pick(2) ? m.vocab : -1;
          in.badId = true;
        }
      } else {
        in.x.resize(length * m.inputWidth);
        for (float &x : in.x)
          x = normal(rng) * (kind == 1 ? 1000.0f : 1.0f);
      }
      if (kind == 2 && m.vocab == 0 && length > 0) {
        static const float kValues[] = {NAN, INFINITY, -INFINITY};
        for (int n = 1 + pick(2); n-- > 0;)
          in.x[pick(in.x.size())] = kValues[pick(3)];
      }
      if (m.poolMask) {
        bool none = pick(5) == 0;
        for (int p = 0; p < length; ++p)
          in.mask.push_back(none ? 0 : pick(2));
      }
      all.push_back(std::move(in));
    }
  return all;
}

std::string describe(const ModelInputs &in) {
  std::string s = "T = " + std::to_string(in.length);
  if (!in.ids.empty()) {
    s += "\nids = [";
    for (size_t i = 0; i < in.ids.size(); ++i)
      s += (i ? ", " : "") + std::to_string(in.ids[i]);
    s += "]";
  }
  s += "\nx = [";
  char buf[32];
  for (size_t i = 0; i < in.x.size() && i < 64; ++i) {
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(in.x[i]));
    s += (i ? ", " : "") + std::string(buf);
  }
  s += in.x.size() > 64 ? ", ...]" : "]";
  if (!in.mask.empty()) {
    s += "\nm = [";
    for (size_t i = 0; i < in.mask.size(); ++i)
      s += (i ? ", " : "") + std::to_string(in.mask[i]);
    s += "]";
  }
  return s;
}

bool checkModelProgram(const ModelProgram &program, const std::string &source, uint64_t seed,
                       const std::string &again, const Setup &setup, Watchdog &watchdog,
                       Counts &counts) {
  auto jit = compile(source, again, setup);
  if (!jit)
    return false;
  bool packed = setup.options.packedBatch;
  std::vector<ModelProgram::Param> params = program.params();
  std::vector<std::string> names = jit->argumentNames();
  std::vector<ModelInputs> all = modelInputsFor(program, seed);
  for (const auto &group : groups(all, packed, seed)) {
    Batch<ModelInputs> b;
    b.packed.params = group[0]->params;
    // A call with an id outside its table, or an example longer than the
    // position table, must be rejected before any kernel runs.
    // Either check may come first; both messages say "rows" of the table.
    const char *mustFailWith = nullptr;
    for (const ModelInputs *in : group)
      if (in->badId || (program.positionRows > 0 && in->length > program.positionRows))
        mustFailWith = " rows";
    for (const ModelInputs *in : group) {
      b.packed.length += in->length;
      append(b.packed.x, in->x);
      append(b.packed.ids, in->ids);
      append(b.packed.mask, in->mask);
      b.lengths.push_back(static_cast<int32_t>(in->length));
      if (!mustFailWith)
        append(b.want, evaluate(program, *in));
    }
    ModelInputs &in = b.packed;
    int64_t xShape[] = {in.length, program.inputWidth};
    int64_t batch = static_cast<int64_t>(b.lengths.size());
    std::vector<rasprt_tensor> tensors(names.size());
    for (size_t a = 0; a < names.size(); ++a) {
      rasprt_tensor &t = tensors[a];
      if (names[a] == "x") {
        rasprt_tensor_view(&t, in.x.data(), RASPRT_F32, 2, xShape);
        continue;
      }
      if (names[a] == "m") {
        rasprt_tensor_view(&t, in.mask.data(), RASPRT_I32, 1, &in.length);
        continue;
      }
      if (names[a] == "ids") {
        rasprt_tensor_view(&t, in.ids.data(), RASPRT_I32, 1, &in.length);
        continue;
      }
      if (names[a] == "lengths" && packed) {
        rasprt_tensor_view(&t, b.lengths.data(), RASPRT_I32, 1, &batch);
        continue;
      }
      size_t p = 0;
      while (p < params.size() && params[p].name != names[a])
        ++p;
      if (p == params.size()) {
        std::fprintf(stderr, "the compiled program takes an unknown argument '%s'\n%s\n",
                     names[a].c_str(), source.c_str());
        return false;
      }
      rasprt_tensor_view(&t, in.params[p].data(), RASPRT_F32,
                         static_cast<int32_t>(params[p].shape.size()), params[p].shape.data());
    }
    std::vector<const rasprt_tensor *> arguments;
    for (const rasprt_tensor &t : tensors)
      arguments.push_back(&t);
    if (!runAndCompare(*jit, arguments, b.want, Ty::Float,
                       batchContext(source, setup, group, again), mustFailWith, watchdog,
                       counts, mustFailWith != nullptr))
      return false;
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  Options o = parse(argc, argv);
  std::string lastPath = o.out + "/last.rasp";
  Watchdog watchdog(lastPath);
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  Counts counts;
  auto report = [&](const char *end) {
    double t = elapsed();
    std::printf("%llu programs, %llu executions, %llu elements compared (%llu left open) "
                "in %.1f s: %.1f programs/s, %.0f executions/s%s\n",
                static_cast<unsigned long long>(counts.programs),
                static_cast<unsigned long long>(counts.executions),
                static_cast<unsigned long long>(counts.compared),
                static_cast<unsigned long long>(counts.open), t, counts.programs / t,
                counts.executions / t, end);
    std::fflush(stdout);
  };
  double lastReport = 0;
  for (uint64_t k = o.first; counts.programs < o.programs; ++k) {
    if (o.seconds > 0 && elapsed() >= o.seconds)
      break;
    // Long runs say how far they are once a minute.
    if (elapsed() - lastReport >= 60) {
      if (lastReport > 0 || k > o.first)
        report(" so far");
      lastReport = elapsed();
    }
    uint64_t programSeed = o.seed * 0x9E3779B97F4A7C15ULL + k;
    Kind kind = o.kind != Kind::All ? o.kind
                : k % 3 == 0             ? Kind::Sequence
                : k % 3 == 1             ? Kind::Attention
                                         : Kind::Model;
    Generator generator(programSeed);
    Program program;
    AttentionProgram layer;
    ModelProgram model;
    std::string source;
    if (kind == Kind::Attention) {
      layer = generator.attention();
      source = layer.source();
    } else if (kind == Kind::Model) {
      model = generator.model();
      source = model.source();
    } else {
      program = generator.program();
      source = program.source();
    }
    static const char *kKinds[] = {"", " --kind sequence", " --kind attention", " --kind model"};
    std::string again = "raspc-diff-fuzzer --seed " + std::to_string(o.seed) + " --first " +
                        std::to_string(k) + " --programs 1 --print" +
                        kKinds[static_cast<int>(o.kind)];
    {
      std::ofstream last(lastPath);
      last << "# " << again << "\n" << source;
    }
    if (o.print)
      std::printf("# program %llu\n%s", static_cast<unsigned long long>(k), source.c_str());
    // Optimization levels and packed batches, by the program's own seed.
    Setup setup;
    std::mt19937_64 setupRng(programSeed ^ 0x5E7);
    setup.options.optLevel = static_cast<int>(setupRng() % 4);
    setup.options.packedBatch =
        (kind == Kind::Model || (kind == Kind::Attention && !layer.cross)) && setupRng() % 3 == 0;
    watchdog.startedMs = Watchdog::nowMs();
    bool ok =
        kind == Kind::Attention
            ? checkAttentionProgram(layer, source, programSeed, again, setup, watchdog, counts)
        : kind == Kind::Model
            ? checkModelProgram(model, source, programSeed, again, setup, watchdog, counts)
            : checkSequenceProgram(program, source, programSeed, again, setup, watchdog, counts);
    if (!ok)
      return 1;
    watchdog.startedMs = -1;
    ++counts.programs;
  }
  report("; no mismatch");
  return 0;
}
