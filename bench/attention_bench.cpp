//===- attention_bench.cpp - raspc's attention, timed ----------*- C++ -*-===//
//
// Compiles one attention layer per (variant, L, D) through the JIT and
// prints one CSV line per shape: variant, L, D, best milliseconds, GFLOP/s
// (of the pairs the mask keeps), compile seconds. bench/run.py runs it next
// to the peers and makes the table.
//
//===----------------------------------------------------------------------===//

#include "raspc/Jit.h"

#include <algorithm>
#include <cstring>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> split(const std::string &s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty())
      out.push_back(item);
  return out;
}

/// The language text of the layer, or "" for an unknown variant.
std::string layer(const std::string &variant, int heads, int dim, int window,
                  const std::string &dtype) {
  std::string width = std::to_string(heads * dim);
  std::string mask, score = "dot(q, k) / sqrt(" + std::to_string(dim) + ")",
                    normalizer = "softmax";
  if (variant == "full")
    mask = "true";
  else if (variant == "causal")
    mask = "<=";
  else if (variant == "window")
    mask = "key_pos <= query_pos and query_pos - key_pos < " + std::to_string(window);
  else if (variant == "alibi") {
    mask = "true";
    score += " - alibi_slope(head, " + std::to_string(heads) + ") * (query_pos - key_pos)";
  } else if (variant == "linear" || variant == "causal_linear") {
    mask = variant == "linear" ? "true" : "<=";
    normalizer = "linear(elu_plus_one)";
  } else if (variant == "sigmoid" || variant == "causal_sigmoid") {
    mask = variant == "sigmoid" ? "true" : "<=";
    normalizer = "sigmoid";
  } else
    return "";
  std::string scored = normalizer.rfind("linear", 0) != 0 ? " scored " + score : "";
  std::string t = dtype + "[T, " + width + "]";
  return "model layer(xq: " + t + ", xk: " + t + ", xv: " + t + ") -> " + t +
         " {\n  let q = heads(xq, " + std::to_string(heads) +
         ");\n  let k = heads(xk, " + std::to_string(heads) + ");\n  let v = heads(xv, " +
         std::to_string(heads) + ");\n  let s = select(k, q, " + mask + ")" + scored +
         ";\n  return merge_heads(aggregate(s, v, " + normalizer + "));\n}\n";
}

/// Visible (query, key) pairs; for linear attention, the FLOPs / (4 D) of
/// its linear-time form (S and z built, then read: 4 D E per position).
double pairs(const std::string &variant, double L, double window) {
  if (variant == "linear" || variant == "causal_linear")
    return L * 64; // head size 64 = E in the benchmark's layers
  if (variant == "causal" || variant == "causal_sigmoid")
    return L * (L + 1) / 2;
  if (variant == "window")
    return std::min(L, window) * (std::min(L, window) + 1) / 2 + std::max(0.0, L - window) * window;
  return L * L;
}

} // namespace

int main(int argc, char **argv) {
  std::string variants = "full,causal,window,alibi", lengths = "512,1024,2048,4096",
              dims = "64,128";
  int heads = 8, window = 256, repeat = 5;
  std::string dtype = "f32";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char *flag) -> const char * {
      size_t n = std::strlen(flag);
      return a.compare(0, n, flag) == 0 ? argv[i] + n : nullptr;
    };
    if (const char *v = value("--variants="))
      variants = v;
    else if (const char *v = value("--lengths="))
      lengths = v;
    else if (const char *v = value("--dims="))
      dims = v;
    else if (const char *v = value("--heads="))
      heads = std::atoi(v);
    else if (const char *v = value("--window="))
      window = std::atoi(v);
    else if (const char *v = value("--repeat="))
      repeat = std::atoi(v);
    else if (const char *v = value("--dtype="))
      dtype = v;
    else {
      std::fprintf(stderr,
                   "usage: %s [--variants=full,causal,window,alibi,sigmoid,causal_sigmoid,linear,causal_linear] "
                   "[--lengths=512,...] "
                   "[--dims=64,128] [--heads=8] [--window=256] [--repeat=5] "
                   "[--dtype=f32|bf16]\n",
                   argv[0]);
      return a == "--help" ? 0 : 2;
    }
  }
  if (dtype != "f32" && dtype != "bf16") {
    std::fprintf(stderr, "--dtype is f32 or bf16, not '%s'\n", dtype.c_str());
    return 2;
  }
  std::printf("impl,variant,L,D,ms,gflops,compile_s\n");
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (const std::string &variant : split(variants))
    for (const std::string &dimText : split(dims)) {
      int dim = std::stoi(dimText);
      std::string source = layer(variant, heads, dim, window, dtype);
      if (source.empty()) {
        std::fprintf(stderr, "unknown variant '%s'\n", variant.c_str());
        return 2;
      }
      std::string errors;
      auto start = Clock::now();
      raspc::JitOptions options;
      options.optLevel = 3;
      auto program = raspc::JitProgram::compile(source, "layer.rasp", options, &errors);
      double compileSeconds = std::chrono::duration<double>(Clock::now() - start).count();
      if (!program) {
        std::fprintf(stderr, "%s", errors.c_str());
        return 1;
      }
      for (const std::string &lengthText : split(lengths)) {
        int64_t L = std::stoll(lengthText);
        int64_t shape[2] = {L, static_cast<int64_t>(heads) * dim};
        // f32 values, or their upper halves for bf16 (truncation is fine
        // for random inputs).
        size_t elementSize = dtype == "bf16" ? 2 : 4;
        std::vector<char> q(L * heads * dim * elementSize), k(q.size()), v(q.size());
        for (auto *x : {&q, &k, &v})
          for (size_t i = 0; i < x->size(); i += elementSize) {
            float f = dist(rng);
            std::memcpy(x->data() + i, reinterpret_cast<char *>(&f) + 4 - elementSize,
                        elementSize);
          }
        rasprt_dtype type = dtype == "bf16" ? RASPRT_BF16 : RASPRT_F32;
        rasprt_tensor tq, tk, tv;
        rasprt_tensor_view(&tq, q.data(), type, 2, shape);
        rasprt_tensor_view(&tk, k.data(), type, 2, shape);
        rasprt_tensor_view(&tv, v.data(), type, 2, shape);
        double best = 1e30;
        for (int r = 0; r < repeat + 1; ++r) { // the first run warms up
          rasprt_tensor out;
          auto t0 = Clock::now();
          if (!program->run({&tq, &tk, &tv}, &out, &errors)) {
            std::fprintf(stderr, "%s\n", errors.c_str());
            return 1;
          }
          double s = std::chrono::duration<double>(Clock::now() - t0).count();
          rasprt_tensor_free(&out);
          if (r > 0)
            best = std::min(best, s);
        }
        double flops = 4.0 * heads * dim * pairs(variant, static_cast<double>(L), window);
        std::printf("raspc,%s,%lld,%d,%.3f,%.1f,%.3f\n", variant.c_str(),
                    static_cast<long long>(L), dim, best * 1e3, flops / best * 1e-9,
                    compileSeconds);
        std::fflush(stdout);
      }
    }
  return 0;
}
