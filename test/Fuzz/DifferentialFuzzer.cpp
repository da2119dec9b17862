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

struct Options {
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
               "[--seconds T] [--out DIR] [--print]\n"
               "  Generates programs K, K+1, ... of seed S (each one reproducible alone),\n"
               "  until N programs or T seconds; --print shows each program.\n"
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
  static const int kLengths[] = {0, 1, 2, 3, 5, 8, 17, 64};
  static const int64_t kExtremeInts[] = {INT64_MIN, INT64_MAX, 0, -1, 1,
                                         int64_t(1) << 62, -(int64_t(1) << 40)};
  static const float kSpecials[] = {NAN, INFINITY, -INFINITY, 3e38f, -1e30f, 1e-40f,
                                    -0.0f, 0.0f};
  std::vector<Inputs> all;
  for (int length : kLengths)
    for (int kind = 0; kind < 3; ++kind) {
      Inputs in;
      for (int p = 0; p < length; ++p) {
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
  std::string s = "tokens = [";
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
  return std::fabs(static_cast<double>(want.f) - got.f) <= want.err;
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

} // namespace

int main(int argc, char **argv) {
  Options o = parse(argc, argv);
  std::string lastPath = o.out + "/last.rasp";
  Watchdog watchdog(lastPath);
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  uint64_t programs = 0, executions = 0, compared = 0, skipped = 0;
  for (uint64_t k = o.first; programs < o.programs; ++k) {
    if (o.seconds > 0 && elapsed() >= o.seconds)
      break;
    uint64_t programSeed = o.seed * 0x9E3779B97F4A7C15ULL + k;
    Program program = Generator(programSeed).program();
    std::string source = program.source();
    std::string again = "raspc-diff-fuzzer --seed " + std::to_string(o.seed) + " --first " +
                        std::to_string(k) + " --programs 1 --print";
    {
      std::ofstream last(lastPath);
      last << "# " << again << "\n" << source;
    }
    if (o.print)
      std::printf("# program %llu\n%s", static_cast<unsigned long long>(k), source.c_str());

    watchdog.startedMs = Watchdog::nowMs();
    std::string errors;
    auto jit = raspc::JitProgram::compile(source, "fuzz.rasp", {}, &errors);
    if (!jit) {
      std::fprintf(stderr, "REJECTED: the compiler rejects a program the language allows\n%s\n%s\nreproduce: %s\n",
                   source.c_str(), errors.c_str(), again.c_str());
      return 1;
    }
    Ty ty = program.resultTy();
    for (const Inputs &in : inputsFor(programSeed)) {
      int64_t length = static_cast<int64_t>(in.tokens.size());
      rasprt_tensor tokens, x, result;
      rasprt_tensor_view(&tokens, const_cast<int64_t *>(in.tokens.data()), RASPRT_I64, 1, &length);
      rasprt_tensor_view(&x, const_cast<float *>(in.x.data()), RASPRT_F32, 1, &length);
      std::string error;
      watchdog.startedMs = Watchdog::nowMs();
      if (!jit->run({&tokens, &x}, &result, &error)) {
        std::fprintf(stderr, "RUN FAILED: %s\n%s%s\nreproduce: %s\n", error.c_str(),
                     source.c_str(), describe(in).c_str(), again.c_str());
        return 1;
      }
      ++executions;
      Seq want = evaluate(program, in);
      for (int64_t p = 0; p < length; ++p) {
        Val got;
        switch (result.dtype) {
        case RASPRT_I64: got.i = static_cast<const int64_t *>(result.data)[p]; break;
        case RASPRT_BOOL: got.i = static_cast<const uint8_t *>(result.data)[p]; break;
        case RASPRT_F32: got.f = static_cast<const float *>(result.data)[p]; break;
        default:
          std::fprintf(stderr, "unexpected result dtype %s\n", rasprt_dtype_name(result.dtype));
          return 1;
        }
        if (want[p].unknown) {
          ++skipped;
          continue;
        }
        ++compared;
        if (!agrees(want[p], got, ty)) {
          std::fprintf(stderr,
                       "MISMATCH at position %lld: expected %s, compiled code gave %s\n%s%s\n"
                       "reproduce: %s\n",
                       static_cast<long long>(p), show(want[p], ty).c_str(),
                       show(got, ty).c_str(), source.c_str(), describe(in).c_str(),
                       again.c_str());
          return 1;
        }
      }
      rasprt_tensor_free(&result);
    }
    watchdog.startedMs = -1;
    ++programs;
  }
  double t = elapsed();
  std::printf("%llu programs, %llu executions, %llu elements compared (%llu left open) "
              "in %.1f s: %.1f programs/s, %.0f executions/s; no mismatch\n",
              static_cast<unsigned long long>(programs),
              static_cast<unsigned long long>(executions),
              static_cast<unsigned long long>(compared),
              static_cast<unsigned long long>(skipped), t, programs / t, executions / t);
  return 0;
}
