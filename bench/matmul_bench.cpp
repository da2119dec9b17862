//===- matmul_bench.cpp - the model's matmuls through the JIT ---*- C++ -*-===//
//
// `x @ w` (and `x @ w + b` followed by GELU, a feed-forward's first half)
// at the shapes of a MiniLM-size model, compiled by the JIT and called as a
// host would (raspc_run's path: argument checks, the result handed over as
// a rasprt tensor). Prints CSV: impl, what, M, K, N, ms (best of at least
// --repeat calls after a quarter-second warm-up), GFLOP/s of the product.
// Compare it with the machine's sgemm and FMA peak in the same session
// (bench/README.md says how).
//
//===----------------------------------------------------------------------===//

#include "raspc/Jit.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Shape {
  int64_t m, k, n;
};

std::vector<Shape> parseShapes(const std::string &text) {
  std::vector<Shape> shapes;
  std::stringstream all(text);
  std::string one;
  while (std::getline(all, one, ',')) {
    Shape s{};
    if (std::sscanf(one.c_str(), "%ldx%ldx%ld", &s.m, &s.k, &s.n) == 3)
      shapes.push_back(s);
  }
  return shapes;
}

std::string program(const std::string &what, const Shape &s) {
  std::string k = std::to_string(s.k), n = std::to_string(s.n);
  std::string out = "model mm(x: f32[T, " + k + "]) -> f32[T, " + n + "] {\n" +
                    "  param w: f32[" + k + ", " + n + "];\n";
  if (what == "matmul")
    return out + "  return x @ w;\n}\n";
  return out + "  param b: f32[" + n + "];\n  return gelu(x @ w + b);\n}\n";
}

} // namespace

int main(int argc, char **argv) {
  std::string shapes =
      "128x384x384,1024x384x384,1024x384x1536,1024x1536x384,4096x384x1536,"
      "2048x2048x2048";
  std::string whats = "matmul,ffn";
  int repeat = 10;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--shapes=", 0) == 0)
      shapes = a.substr(9);
    else if (a.rfind("--what=", 0) == 0)
      whats = a.substr(7);
    else if (a.rfind("--repeat=", 0) == 0)
      repeat = std::max(1, std::atoi(a.c_str() + 9));
    else {
      std::fprintf(
          stderr,
          "usage: %s [--shapes=MxKxN,...] [--what=matmul,ffn] [--repeat=10]\n",
          argv[0]);
      return a == "--help" ? 0 : 2;
    }
  }
  std::printf("impl,what,M,K,N,ms,gflops\n");
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::stringstream whatList(whats);
  std::string what;
  while (std::getline(whatList, what, ',')) {
    for (const Shape &s : parseShapes(shapes)) {
      std::string errors;
      raspc::JitOptions options;
      options.optLevel = 3;
      auto compiled = raspc::JitProgram::compile(program(what, s), "mm.rasp",
                                                 options, &errors);
      if (!compiled) {
        std::fprintf(stderr, "%s", errors.c_str());
        return 1;
      }
      std::vector<float> x(s.m * s.k), w(s.k * s.n), b(s.n);
      for (auto *v : {&x, &w, &b})
        for (float &f : *v)
          f = dist(rng);
      int64_t xShape[2] = {s.m, s.k}, wShape[2] = {s.k, s.n}, bShape[1] = {s.n};
      rasprt_tensor tx, tw, tb;
      rasprt_tensor_view(&tx, x.data(), RASPRT_F32, 2, xShape);
      rasprt_tensor_view(&tw, w.data(), RASPRT_F32, 2, wShape);
      rasprt_tensor_view(&tb, b.data(), RASPRT_F32, 1, bShape);
      std::vector<const rasprt_tensor *> args = {&tx, &tw};
      if (what != "matmul")
        args.push_back(&tb);
      // Calls for a quarter of a second first: caches, the allocator's
      // blocks, the pool's threads and the cores' clocks settle (the first
      // shapes measured 40 % slow without).
      auto call = [&]() -> double {
        rasprt_tensor out;
        auto start = Clock::now();
        if (!compiled->run(args, &out, &errors)) {
          std::fprintf(stderr, "%s\n", errors.c_str());
          std::exit(1);
        }
        double seconds =
            std::chrono::duration<double>(Clock::now() - start).count();
        rasprt_tensor_free(&out);
        return seconds;
      };
      for (auto warmUp = Clock::now();
           Clock::now() - warmUp < std::chrono::milliseconds(250);)
        call();
      double best = 1e30;
      for (int r = 0; r < repeat; ++r)
        best = std::min(best, call());
      double gflops = 2.0 * s.m * s.k * s.n / best / 1e9;
      std::printf("raspc,%s,%ld,%ld,%ld,%.3f,%.1f\n", what.c_str(), s.m, s.k,
                  s.n, best * 1e3, gflops);
      std::fflush(stdout);
    }
  }
  return 0;
}
