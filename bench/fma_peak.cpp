//===- fma_peak.cpp - the machine's FP32 FMA peak ---------------*- C++ -*-===//
//
// Independent chains of 512-bit (else 256-bit) FMAs on every thread of the
// runtime's pool; prints GFLOP/s, the roofline attention is measured
// against. Chains outnumber the FMA latency times the ports, so the FMA
// units, not dependencies, set the rate, and with the two constants they
// still fit the register file (32 zmm; 16 ymm), so nothing spills.
//
//===----------------------------------------------------------------------===//

#include "rasprt/rasprt.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>

namespace {

constexpr int kChains512 = 24, kChains256 = 12;
constexpr long kIterations = 50'000'000;
std::atomic<float> sink{0};

__attribute__((target("avx512f"))) float chains512(long n) {
  constexpr int kChains = kChains512;
  __m512 acc[kChains], a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (auto &x : acc)
    x = _mm512_set1_ps(1.0f);
  for (long i = 0; i < n; ++i)
    for (auto &x : acc)
      x = _mm512_fmadd_ps(x, a, b);
  __m512 total = acc[0];
  for (int c = 1; c < kChains; ++c)
    total = _mm512_add_ps(total, acc[c]);
  return _mm512_reduce_add_ps(total);
}

__attribute__((target("avx2,fma"))) float chains256(long n) {
  constexpr int kChains = kChains256;
  __m256 acc[kChains], a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (auto &x : acc)
    x = _mm256_set1_ps(1.0f);
  for (long i = 0; i < n; ++i)
    for (auto &x : acc)
      x = _mm256_fmadd_ps(x, a, b);
  float out[8];
  __m256 total = acc[0];
  for (int c = 1; c < kChains; ++c)
    total = _mm256_add_ps(total, acc[c]);
  _mm256_storeu_ps(out, total);
  return out[0];
}

bool wide;

void body(int64_t begin, int64_t end, void *) {
  for (int64_t t = begin; t < end; ++t)
    sink = sink + (wide ? chains512(kIterations / 4) : chains256(kIterations / 4));
}

} // namespace

int main() {
  __builtin_cpu_init();
  wide = __builtin_cpu_supports("avx512f");
  int threads = rasprt_num_threads();
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    rasprt_parallel_for(threads, 1, body, nullptr);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double flops = 2.0 * (wide ? 16 * kChains512 : 8 * kChains256) * (kIterations / 4) * threads;
    best = std::max(best, flops / s * 1e-9);
  }
  std::printf("fma_peak,%s,%d,%.1f\n", wide ? "avx512" : "avx2", threads, best);
  return 0;
}
