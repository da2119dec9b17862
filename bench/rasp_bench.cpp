//===- rasp_bench.cpp - RASP programs at scale, timed -----------*- C++ -*-===//
//
// Runs a sequence program (e.g. examples/rasp/sort.rasp) through the JIT on
// random integer tokens at each length and prints CSV: program, L, best
// milliseconds of a run (compile excluded), compile seconds. bench/run.py
// puts it next to a plain Python evaluation of the same program.
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

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s program.rasp L[,L...] [repeat]\n", argv[0]);
    return 2;
  }
  std::string path = argv[1];
  int repeat = argc > 3 ? std::atoi(argv[3]) : 3;
  std::string errors;
  auto t0 = std::chrono::steady_clock::now();
  auto program = raspc::JitProgram::compileFile(path, {}, &errors);
  double compileSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!program) {
    std::fprintf(stderr, "%s", errors.c_str());
    return 1;
  }
  std::printf("program,L,ms,compile_s\n");
  std::stringstream lengths(argv[2]);
  std::mt19937 rng(1);
  for (std::string item; std::getline(lengths, item, ',');) {
    int64_t L = std::stoll(item);
    std::vector<std::string> tokens(L), outputs;
    std::uniform_int_distribution<int> dist(0, 99);
    for (auto &t : tokens)
      t = std::to_string(dist(rng));
    double best = 1e30;
    for (int r = 0; r < repeat; ++r) {
      auto start = std::chrono::steady_clock::now();
      if (!program->runTokens(tokens, outputs, &errors)) {
        std::fprintf(stderr, "%s\n", errors.c_str());
        return 1;
      }
      best = std::min(best, std::chrono::duration<double>(
                                std::chrono::steady_clock::now() - start)
                                .count());
    }
    std::printf("%s,%lld,%.3f,%.3f\n", path.c_str(), static_cast<long long>(L), best * 1e3,
                compileSeconds);
    std::fflush(stdout);
  }
  return 0;
}
