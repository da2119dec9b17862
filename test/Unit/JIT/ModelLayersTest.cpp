//===- ModelLayersTest.cpp - model building blocks vs. loops ----*- C++ -*-===//
//
// Each layer the example models are built from (norms, activations, bias
// broadcasts, rotary embeddings, cross-attention, data-dependent masks),
// compiled by raspc and compared with plain loops written here, at lengths
// 1, 7, 64 and 1000.
//
//===----------------------------------------------------------------------===//

#include "raspc/Jit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

using Matrix = std::vector<float>; // row-major

struct Input {
  std::vector<float> f32;
  std::vector<int32_t> i32;
  std::vector<int64_t> shape;
  rasprt_tensor tensor() {
    rasprt_tensor t;
    rasprt_tensor_view(&t,
                       i32.empty() ? static_cast<void *>(f32.data())
                                   : static_cast<void *>(i32.data()),
                       i32.empty() ? RASPRT_F32 : RASPRT_I32,
                       static_cast<int32_t>(shape.size()), shape.data());
    return t;
  }
};

Input randomInput(std::vector<int64_t> shape, std::mt19937 &rng, float scale = 1.0f) {
  Input in;
  in.shape = shape;
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  std::uniform_real_distribution<float> dist(-scale, scale);
  in.f32.resize(n);
  for (float &x : in.f32)
    x = dist(rng);
  return in;
}

/// Compiles `source`, runs it on `inputs` and returns the f32 result.
Matrix runModel(const std::string &source, std::vector<Input> &inputs,
                std::vector<int64_t> expectedShape, const raspc::JitOptions &options = {}) {
  std::string errors;
  auto program = raspc::JitProgram::compile(source, "layer.rasp", options, &errors);
  EXPECT_TRUE(program) << errors;
  if (!program)
    return {};
  std::vector<rasprt_tensor> tensors;
  for (Input &in : inputs)
    tensors.push_back(in.tensor());
  std::vector<const rasprt_tensor *> args;
  for (rasprt_tensor &t : tensors)
    args.push_back(&t);
  rasprt_tensor out;
  std::string error;
  EXPECT_TRUE(program->run(args, &out, &error)) << error;
  if (!error.empty())
    return {};
  EXPECT_EQ(std::vector<int64_t>(out.shape, out.shape + out.rank), expectedShape);
  Matrix result(static_cast<const float *>(out.data),
                static_cast<const float *>(out.data) + rasprt_tensor_numel(&out));
  rasprt_tensor_free(&out);
  return result;
}

/// x @ w (+ bias along the columns), [T, K] @ [K, N], in double precision.
std::vector<double> referenceProduct(const Input &x, const Input &w, const Input *bias, int T,
                                     int K, int N) {
  std::vector<double> out(T * N);
  for (int t = 0; t < T; ++t)
    for (int e = 0; e < N; ++e) {
      double acc = bias ? bias->f32[e] : 0.0;
      for (int d = 0; d < K; ++d)
        acc += static_cast<double>(x.f32[t * K + d]) * w.f32[d * N + e];
      out[t * N + e] = acc;
    }
  return out;
}

void expectNear(const Matrix &got, const Matrix &want, float tolerance = 2e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tolerance * (1 + std::abs(want[i]))) << "element " << i;
}

class ModelLayersTest : public ::testing::TestWithParam<int> {
protected:
  int length() const { return GetParam(); }
  std::mt19937 rng{static_cast<unsigned>(GetParam()) * 17 + 3};
};

TEST_P(ModelLayersTest, LayerNormWithGainAndBias) {
  const int T = length(), D = 12;
  std::vector<Input> in = {randomInput({T, D}, rng, 3.0f), randomInput({D}, rng),
                           randomInput({D}, rng)};
  Matrix got = runModel("model m(x: f32[T, 12]) -> f32[T, 12] {\n"
                        "  param g, b: f32[12];\n"
                        "  return layernorm(x, g, b, eps=1e-3);\n}\n",
                        in, {T, D});
  Matrix want(T * D);
  for (int t = 0; t < T; ++t) {
    double mean = 0, var = 0;
    for (int d = 0; d < D; ++d)
      mean += in[0].f32[t * D + d] / D;
    for (int d = 0; d < D; ++d)
      var += std::pow(in[0].f32[t * D + d] - mean, 2) / D;
    for (int d = 0; d < D; ++d)
      want[t * D + d] = static_cast<float>((in[0].f32[t * D + d] - mean) / std::sqrt(var + 1e-3) *
                                               in[1].f32[d] + in[2].f32[d]);
  }
  expectNear(got, want, 1e-4f);
}

TEST_P(ModelLayersTest, RMSNormAndActivations) {
  const int T = length(), D = 8;
  std::vector<Input> in = {randomInput({T, D}, rng, 2.0f), randomInput({D}, rng)};
  Matrix got = runModel("model m(x: f32[T, 8]) -> f32[T, 8] {\n"
                        "  param g: f32[8];\n"
                        "  let n = rmsnorm(x, g);\n"
                        "  return gelu(n) + silu(n) * 2 - relu(n) / 4 + sigmoid(x) + tanh(x);\n}\n",
                        in, {T, D});
  Matrix want(T * D);
  for (int t = 0; t < T; ++t) {
    double ms = 0;
    for (int d = 0; d < D; ++d)
      ms += std::pow(in[0].f32[t * D + d], 2) / D;
    for (int d = 0; d < D; ++d) {
      double x = in[0].f32[t * D + d];
      double n = x / std::sqrt(ms + 1e-6) * in[1].f32[d];
      double gelu = 0.5 * n * (1 + std::erf(n / std::sqrt(2.0)));
      double sig = 1 / (1 + std::exp(-n));
      want[t * D + d] = static_cast<float>(gelu + n * sig * 2 - std::max(n, 0.0) / 4 +
                                           1 / (1 + std::exp(-x)) + std::tanh(x));
    }
  }
  expectNear(got, want, 1e-4f);
}

TEST_P(ModelLayersTest, MatMulWithBiasBroadcast) {
  const int T = length(), D = 6, E = 5;
  std::vector<Input> in = {randomInput({T, D}, rng), randomInput({D, E}, rng),
                           randomInput({E}, rng)};
  Matrix got = runModel("model m(x: f32[T, 6]) -> f32[T, 5] {\n"
                        "  param w: f32[6, 5];\n  param b: f32[5];\n"
                        "  return x @ w + b;\n}\n",
                        in, {T, E});
  std::vector<double> want = referenceProduct(in[0], in[1], &in[2], T, D, E);
  expectNear(got, Matrix(want.begin(), want.end()));
}

// Matmuls whose width is a multiple of the vector width take the
// register-tiled GEMM (convert-matmul-to-tiled-loops): whole and partial
// register tiles of rows (T), column blocks of a register tile's width or
// all of N with its remaining vectors, reductions of one element and more.
TEST_P(ModelLayersTest, TiledMatmulShapes) {
  const int T = length();
  for (auto [K, N] : std::vector<std::pair<int, int>>{{1, 16}, {5, 48}, {384, 64}, {33, 192}}) {
    std::vector<Input> in = {randomInput({T, K}, rng), randomInput({K, N}, rng),
                             randomInput({N}, rng)};
    std::string k = std::to_string(K), n = std::to_string(N);
    Matrix got = runModel("model m(x: f32[T, " + k + "]) -> f32[T, " + n + "] {\n"
                          "  param w: f32[" + k + ", " + n + "];\n  param b: f32[" + n + "];\n"
                          "  return x @ w + b;\n}\n",
                          in, {T, N});
    std::vector<double> want = referenceProduct(in[0], in[1], &in[2], T, K, N);
    SCOPED_TRACE("K = " + k + ", N = " + n);
    expectNear(got, Matrix(want.begin(), want.end()), 1e-4f);
  }
}

// linear() with nn.Linear's [out, in] weights takes the same GEMM, which
// reads the weights as they are: squares of one vector width transposed
// into its panel, and the rest of the reduction (K not a multiple of the
// width) one element at a time.
TEST_P(ModelLayersTest, TiledLinearShapes) {
  const int T = length();
  for (auto [K, N] : std::vector<std::pair<int, int>>{{1, 16}, {5, 48}, {384, 64}, {33, 192}}) {
    std::vector<Input> in = {randomInput({T, K}, rng), randomInput({N, K}, rng),
                             randomInput({N}, rng)};
    std::string k = std::to_string(K), n = std::to_string(N);
    Matrix got = runModel("model m(x: f32[T, " + k + "]) -> f32[T, " + n + "] {\n"
                          "  param w: f32[" + n + ", " + k + "];\n  param b: f32[" + n + "];\n"
                          "  return gelu(linear(x, w, b));\n}\n",
                          in, {T, N});
    Matrix want(T * N);
    for (int t = 0; t < T; ++t)
      for (int o = 0; o < N; ++o) {
        double acc = in[2].f32[o];
        for (int i = 0; i < K; ++i)
          acc += static_cast<double>(in[0].f32[t * K + i]) * in[1].f32[o * K + i];
        want[t * N + o] = static_cast<float>(0.5 * acc * (1 + std::erf(acc / std::sqrt(2.0))));
      }
    SCOPED_TRACE("K = " + k + ", N = " + n);
    expectNear(got, want, 1e-4f);
  }
}

// Weights a host keeps in a panel cache are packed once, at the first call,
// and the GEMMs read them from there: the same numbers as a reference in
// double precision, at the first call and at the next. The reduction is
// one or more depth blocks of 128 with a shorter last one, and the columns
// end in a narrower block where the vector width makes one (40 with 8
// lanes, 48 with 16).
TEST_P(ModelLayersTest, WeightsPackedOnce) {
  const int T = length();
  for (auto [K, N] : std::vector<std::pair<int, int>>{{5, 48}, {130, 40}, {384, 64}}) {
    std::vector<Input> in = {randomInput({T, K}, rng), randomInput({N, K}, rng),
                             randomInput({K, N}, rng), randomInput({N}, rng)};
    std::string k = std::to_string(K), n = std::to_string(N);
    std::string errors;
    auto program = raspc::JitProgram::compile(
        "model m(x: f32[T, " + k + "]) -> f32[T, " + n + "] {\n"
        "  param w: f32[" + n + ", " + k + "];\n  param v: f32[" + k + ", " + n + "];\n"
        "  param b: f32[" + n + "];\n"
        "  return linear(x, w, b) + x @ v;\n}\n",
        "packed.rasp", {}, &errors);
    ASSERT_TRUE(program) << errors;
    std::vector<rasprt_tensor> tensors;
    for (Input &input : in)
      tensors.push_back(input.tensor());
    std::vector<const rasprt_tensor *> args;
    for (rasprt_tensor &t : tensors)
      args.push_back(&t);
    rasprt_panel_cache *cache = rasprt_panel_cache_create();
    for (size_t i = 1; i < tensors.size(); ++i)
      ASSERT_EQ(rasprt_panel_cache_add(cache, &tensors[i]), RASPRT_OK);
    Matrix want(T * N);
    for (int t = 0; t < T; ++t)
      for (int o = 0; o < N; ++o) {
        double acc = in[3].f32[o];
        for (int i = 0; i < K; ++i)
          acc += static_cast<double>(in[0].f32[t * K + i]) *
                 (in[1].f32[o * K + i] + static_cast<double>(in[2].f32[i * N + o]));
        want[t * N + o] = static_cast<float>(acc);
      }
    SCOPED_TRACE("K = " + k + ", N = " + n);
    rasprt_panel_cache_use(cache);
    for (int call = 0; call < 2; ++call) {
      rasprt_tensor out;
      std::string error;
      ASSERT_TRUE(program->run(args, &out, &error)) << error;
      Matrix got(static_cast<const float *>(out.data),
                 static_cast<const float *>(out.data) + rasprt_tensor_numel(&out));
      rasprt_tensor_free(&out);
      expectNear(got, want, 1e-4f);
    }
    rasprt_panel_cache_use(nullptr);
    // Both weights were packed, once; N = 40 is tiled only with 8 lanes.
    size_t bytes = rasprt_panel_cache_bytes(cache), both = 2u * K * N * sizeof(float);
    if (N % 16 == 0)
      EXPECT_EQ(bytes, both);
    else
      EXPECT_TRUE(bytes == 0 || bytes == both) << bytes;
    rasprt_panel_cache_free(cache);
  }
}

// What follows a matmul element by element runs on its register tiles'
// vectors (the GEMM's epilogue): a bias along the columns, exact GELU (erf
// by upstream's polynomial), tanh, a residual read as it is. Each is checked
// against libm in double precision.
TEST_P(ModelLayersTest, TiledMatmulEpilogues) {
  const int T = length(), K = 32, N = 48;
  std::vector<Input> in = {randomInput({T, K}, rng), randomInput({T, N}, rng, 3.0f),
                           randomInput({K, N}, rng, 0.5f), randomInput({N}, rng)};
  Matrix got = runModel("model m(x: f32[T, 32], r: f32[T, 48]) -> f32[T, 48] {\n"
                        "  param w: f32[32, 48];\n  param b: f32[48];\n"
                        "  return gelu(x @ w + b) + tanh(x @ w) * 0.5 + r;\n}\n",
                        in, {T, N});
  std::vector<double> product = referenceProduct(in[0], in[2], nullptr, T, K, N);
  Matrix want(T * N);
  for (int t = 0; t < T; ++t)
    for (int e = 0; e < N; ++e) {
      double p = product[t * N + e];
      double h = p + in[3].f32[e];
      want[t * N + e] = static_cast<float>(0.5 * h * (1 + std::erf(h / std::sqrt(2.0))) +
                                           std::tanh(p) * 0.5 + in[1].f32[t * N + e]);
    }
  expectNear(got, want, 1e-5f);
}

TEST_P(ModelLayersTest, RotaryEmbeddingRotatesHalves) {
  const int T = length(), H = 2, Dh = 8, D = H * Dh;
  const double base = 100.0;
  std::vector<Input> in = {randomInput({T, D}, rng)};
  Matrix got = runModel("model m(x: f32[T, 16]) -> f32[T, 16] {\n"
                        "  return merge_heads(rope(heads(x, 2), base=100));\n}\n",
                        in, {T, D});
  Matrix want(T * D);
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < H; ++h)
      for (int d = 0; d < Dh; ++d) {
        int half = Dh / 2, i = d % half;
        double angle = t * std::pow(base, -2.0 * i / Dh);
        double x = in[0].f32[t * D + h * Dh + d];
        double partner = in[0].f32[t * D + h * Dh + (d < half ? d + half : d - half)];
        double rotated = d < half ? x * std::cos(angle) - partner * std::sin(angle)
                                  : x * std::cos(angle) + partner * std::sin(angle);
        want[t * D + h * Dh + d] = static_cast<float>(rotated);
      }
  expectNear(got, want, 1e-4f);
}

TEST_P(ModelLayersTest, CrossAttentionWithDocumentMask) {
  // Queries of length T attend to a memory of length S = T + 3, within
  // their document, with scaled softmax.
  const int T = length(), S = length() + 3, D = 4;
  std::vector<Input> in = {randomInput({T, D}, rng), randomInput({S, D}, rng)};
  Input qdoc, kdoc;
  qdoc.shape = {T};
  kdoc.shape = {S};
  for (int t = 0; t < T; ++t)
    qdoc.i32.push_back(t / 3);
  for (int s = 0; s < S; ++s)
    kdoc.i32.push_back(s / 4);
  in.push_back(qdoc);
  in.push_back(kdoc);
  Matrix got = runModel(
      "model m(x: f32[T, 4], mem: f32[S, 4], qdoc: i32[T], kdoc: i32[S]) -> f32[T, 4] {\n"
      "  let q = heads(x, 1);\n  let k = heads(mem, 1);\n"
      "  let s = select(k, q, kdoc[key_pos] == qdoc[query_pos]) scored dot(q, k) * 0.5;\n"
      "  return merge_heads(aggregate(s, k));\n}\n",
      in, {T, D});
  Matrix want(T * D, 0.0f);
  for (int t = 0; t < T; ++t) {
    std::vector<double> w(S, 0.0);
    double max = -INFINITY, total = 0;
    for (int s = 0; s < S; ++s) {
      if (kdoc.i32[s] != qdoc.i32[t])
        continue;
      double dot = 0;
      for (int d = 0; d < D; ++d)
        dot += static_cast<double>(in[0].f32[t * D + d]) * in[1].f32[s * D + d];
      w[s] = dot * 0.5;
      max = std::max(max, w[s]);
    }
    for (int s = 0; s < S; ++s)
      if (kdoc.i32[s] == qdoc.i32[t])
        total += (w[s] = std::exp(w[s] - max));
      else
        w[s] = 0;
    for (int d = 0; d < D; ++d) {
      double acc = 0;
      for (int s = 0; s < S; ++s)
        acc += w[s] * in[1].f32[s * D + d];
      want[t * D + d] = total == 0 ? 0.0f : static_cast<float>(acc / total);
    }
  }
  expectNear(got, want, 1e-4f);
}

// Checkpoint layers: nn.Linear's [out, in] weights, embedding lookups by
// id and by position, a constant row of a table.
TEST_P(ModelLayersTest, LinearAndEmbeddings) {
  const int T = length(), V = 11, D = 16, E = 32;
  Input ids;
  ids.shape = {T};
  for (int t = 0; t < T; ++t)
    ids.i32.push_back((t * 7 + 3) % V);
  std::vector<Input> in = {ids, randomInput({V, D}, rng), randomInput({1000, D}, rng),
                           randomInput({2, D}, rng), randomInput({E, D}, rng),
                           randomInput({E}, rng)};
  Matrix got = runModel("model m(ids: i32[T]) -> f32[T, 32] {\n"
                        "  param words: f32[11, 16];\n  param where: f32[1000, 16];\n"
                        "  param types: f32[2, 16];\n"
                        "  param proj.weight: f32[32, 16];\n  param proj.bias: f32[32];\n"
                        "  let e = embed(ids, words) + embed(positions(ids), where) + types[1];\n"
                        "  return linear(e, proj.weight, proj.bias);\n}\n",
                        in, {T, E});
  Matrix want(T * E);
  for (int t = 0; t < T; ++t)
    for (int o = 0; o < E; ++o) {
      double acc = in[5].f32[o];
      for (int d = 0; d < D; ++d) {
        double e = static_cast<double>(in[1].f32[ids.i32[t] * D + d]) + in[2].f32[t * D + d] +
                   in[3].f32[D + d];
        acc += e * in[4].f32[o * D + d];
      }
      want[t * E + o] = static_cast<float>(acc);
    }
  expectNear(got, want, 1e-4f);
}

// Pooling over positions, all of them or those a mask counts (none counted:
// 0), and L2 normalization of rows and of a vector.
TEST_P(ModelLayersTest, PoolingAndL2Normalize) {
  const int T = length(), D = 16;
  Input mask;
  mask.shape = {T};
  for (int t = 0; t < T; ++t)
    mask.i32.push_back(t % 3 != 1);
  Input none;
  none.shape = {T};
  none.i32.assign(T, 0);
  std::vector<Input> in = {randomInput({T, D}, rng, 2.0f), mask, none};
  Matrix got = runModel(
      "model m(x: f32[T, 16], mask: i32[T], none: i32[T]) -> f32[T, 16] {\n"
      "  let pools = mean_pool(x) + sum_pool(x, mask=mask) * 2 + max_pool(x, mask=mask) * 3\n"
      "            + mean_pool(x, mask=mask) * 4 + max_pool(x, mask=none) + mean_pool(x, mask=none);\n"
      "  return l2_normalize(x) + l2_normalize(pools);\n}\n",
      in, {T, D});
  Matrix want(T * D);
  std::vector<double> pools(D);
  double poolNorm = 0;
  for (int d = 0; d < D; ++d) {
    double all = 0, sum = 0, max = -INFINITY;
    int counted = 0;
    for (int t = 0; t < T; ++t) {
      double x = in[0].f32[t * D + d];
      all += x / T;
      if (mask.i32[t]) {
        sum += x;
        max = std::max(max, x);
        ++counted;
      }
    }
    pools[d] = all + sum * 2 + (counted ? max * 3 + sum / counted * 4 : 0);
    poolNorm += pools[d] * pools[d];
  }
  for (int t = 0; t < T; ++t) {
    double rowNorm = 0;
    for (int d = 0; d < D; ++d)
      rowNorm += std::pow(in[0].f32[t * D + d], 2);
    for (int d = 0; d < D; ++d)
      want[t * D + d] = static_cast<float>(in[0].f32[t * D + d] / std::sqrt(rowNorm) +
                                           pools[d] / std::sqrt(poolNorm));
  }
  expectNear(got, want, 1e-4f);
}

// A packed batch (JitOptions::packedBatch): examples of 3, 1 and T
// positions one after another with their lengths. Within each example:
// rotary angles and mask positions count from its start (key_pos < 1 is
// its first key), attention never crosses into another, and pools give a
// row per example (a masked max over nothing: 0).
TEST_P(ModelLayersTest, PackedBatchStaysWithinExamples) {
  const std::vector<int32_t> lengths = {3, 1, length()};
  const int total = 4 + length(), D = 8;
  std::vector<Input> in = {randomInput({total, D}, rng)};
  Input keep, lens;
  keep.shape = {total};
  for (int t = 0; t < total; ++t)
    keep.i32.push_back(t % 3 == 0 || t == 1);
  lens.shape = {3};
  lens.i32 = lengths;
  in.push_back(keep);
  in.push_back(lens);
  raspc::JitOptions options;
  options.packedBatch = true;
  const std::string source =
      "model m(x: f32[T, 8], keep: i32[T]) -> f32[8] {\n"
      "  let q = rope(heads(x, 1), base=100);\n"
      "  let s = select(q, q, key_pos <= query_pos and query_pos - key_pos < 3 or key_pos < 1)\n"
      "          scored dot(q, q) * 0.5;\n"
      "  let a = merge_heads(aggregate(s, heads(x, 1)));\n"
      "  return max_pool(a, mask=keep) + mean_pool(a);\n}\n";
  Matrix got = runModel(source, in, {3, D}, options);

  Matrix want;
  for (int e = 0, begin = 0; e < 3; begin += lengths[e++]) {
    const int T = lengths[e];
    auto x = [&](int t, int d) { return static_cast<double>(in[0].f32[(begin + t) * D + d]); };
    std::vector<double> q(T * D);
    for (int t = 0; t < T; ++t)
      for (int d = 0; d < D; ++d) {
        double angle = t * std::pow(100.0, -2.0 * (d % 4) / D);
        double partner = d < 4 ? -x(t, d + 4) : x(t, d - 4);
        q[t * D + d] = x(t, d) * std::cos(angle) + partner * std::sin(angle);
      }
    std::vector<double> a(T * D, 0.0), maxed(D, -INFINITY), mean(D, 0.0);
    std::vector<bool> any(D, false);
    for (int i = 0; i < T; ++i) {
      std::vector<double> w(T, 0.0);
      double top = -INFINITY, sum = 0;
      for (int j = 0; j < T; ++j) {
        if (!((j <= i && i - j < 3) || j < 1))
          continue;
        double dot = 0;
        for (int d = 0; d < D; ++d)
          dot += q[i * D + d] * q[j * D + d];
        w[j] = dot * 0.5;
        top = std::max(top, w[j]);
      }
      for (int j = 0; j < T; ++j)
        if ((j <= i && i - j < 3) || j < 1)
          sum += (w[j] = std::exp(w[j] - top));
        else
          w[j] = 0;
      for (int d = 0; d < D; ++d) {
        for (int j = 0; j < T; ++j)
          a[i * D + d] += w[j] / sum * x(j, d);
        mean[d] += a[i * D + d] / T;
        if (keep.i32[begin + i]) {
          maxed[d] = std::max(maxed[d], a[i * D + d]);
          any[d] = true;
        }
      }
    }
    for (int d = 0; d < D; ++d)
      want.push_back(static_cast<float>((any[d] ? maxed[d] : 0.0) + mean[d]));
  }
  expectNear(got, want, 1e-4f);

  // The lengths must add up to the positions, and none may be negative.
  std::string errors;
  auto program = raspc::JitProgram::compile(source, "layer.rasp", options, &errors);
  ASSERT_TRUE(program) << errors;
  std::vector<rasprt_tensor> tensors;
  for (Input &i : in)
    tensors.push_back(i.tensor());
  rasprt_tensor out;
  std::string error;
  lens.i32 = {3, 1, length() + 1};
  tensors[2] = lens.tensor();
  EXPECT_FALSE(program->run({&tensors[0], &tensors[1], &tensors[2]}, &out, &error));
  EXPECT_EQ(error, "input 'lengths' adds up to " + std::to_string(total + 1) +
                       " positions, but input 'x' has T = " + std::to_string(total));
  lens.i32 = {5, -1, length()};
  tensors[2] = lens.tensor();
  EXPECT_FALSE(program->run({&tensors[0], &tensors[1], &tensors[2]}, &out, &error));
  EXPECT_EQ(error, "input 'lengths': example 1 has length -1");
}

// A packed input indexed in a mask reads its own example's element: a
// document mask over two packed examples of 5 and T positions, whose
// document ids restart in each.
TEST_P(ModelLayersTest, PackedBatchDocumentMask) {
  const std::vector<int32_t> lengths = {5, length()};
  const int total = 5 + length(), D = 4;
  std::vector<Input> in = {randomInput({total, D}, rng)};
  Input doc, lens;
  doc.shape = {total};
  for (int e = 0, begin = 0; e < 2; begin += lengths[e++])
    for (int t = 0; t < lengths[e]; ++t)
      doc.i32.push_back(t / 2);
  lens.shape = {2};
  lens.i32 = lengths;
  in.push_back(doc);
  in.push_back(lens);
  raspc::JitOptions options;
  options.packedBatch = true;
  Matrix got = runModel("model m(x: f32[T, 4], doc: i32[T]) -> f32[T, 4] {\n"
                        "  let h = heads(x, 1);\n"
                        "  let s = select(h, h, doc[key_pos] == doc[query_pos]) scored dot(h, h);\n"
                        "  return merge_heads(aggregate(s, h));\n}\n",
                        in, {total, D}, options);
  Matrix want(total * D);
  for (int e = 0, begin = 0; e < 2; begin += lengths[e++])
    for (int i = begin; i < begin + lengths[e]; ++i) {
      std::vector<double> w(total, 0.0);
      double top = -INFINITY, sum = 0;
      for (int j = begin; j < begin + lengths[e]; ++j)
        if (doc.i32[j] == doc.i32[i]) {
          double dot = 0;
          for (int d = 0; d < D; ++d)
            dot += static_cast<double>(in[0].f32[i * D + d]) * in[0].f32[j * D + d];
          w[j] = dot;
          top = std::max(top, dot);
        }
      for (int j = begin; j < begin + lengths[e]; ++j)
        if (doc.i32[j] == doc.i32[i])
          sum += (w[j] = std::exp(w[j] - top));
      for (int d = 0; d < D; ++d) {
        double acc = 0;
        for (int j = begin; j < begin + lengths[e]; ++j)
          if (doc.i32[j] == doc.i32[i])
            acc += w[j] / sum * in[0].f32[j * D + d];
        want[i * D + d] = static_cast<float>(acc);
      }
    }
  expectNear(got, want, 1e-4f);
}

// Ids are checked before any kernel runs: an id outside its table, and more
// positions than a position table has rows, are errors that name them.
TEST(ModelLayersErrors, IdsOutsideTheirTable) {
  std::string errors;
  auto program = raspc::JitProgram::compile(
      "model m(ids: i32[T]) -> f32[T, 4] {\n"
      "  param words: f32[5, 4];\n  param where: f32[3, 4];\n"
      "  return embed(ids, words) + embed(positions(ids), where);\n}\n",
      "embed.rasp", {}, &errors);
  ASSERT_TRUE(program) << errors;
  std::mt19937 rng(1);
  Input words = randomInput({5, 4}, rng), where = randomInput({3, 4}, rng);
  auto run = [&](std::vector<int32_t> values) {
    Input ids;
    ids.shape = {static_cast<int64_t>(values.size())};
    ids.i32 = values;
    rasprt_tensor t[3] = {ids.tensor(), words.tensor(), where.tensor()};
    rasprt_tensor out;
    std::string error;
    if (program->run({&t[0], &t[1], &t[2]}, &out, &error))
      rasprt_tensor_free(&out);
    return error;
  };
  EXPECT_EQ(run({0, 4, 2}), "");
  EXPECT_EQ(run({0, 5, 2}), "input 'ids' at position 1 holds 5, outside the 5 rows of 'words'");
  EXPECT_EQ(run({0, 1, -1}), "input 'ids' at position 2 holds -1, outside the 5 rows of 'words'");
  EXPECT_EQ(run({0, 1, 2, 3}), "input 'ids' has T = 4 positions, but 'where' has 3 rows, one per "
                               "position");

  // Packed: the example and the position in it; each length is bounded.
  raspc::JitOptions options;
  options.packedBatch = true;
  auto packed = raspc::JitProgram::compile(
      "model m(ids: i32[T]) -> f32[T, 4] {\n"
      "  param words: f32[5, 4];\n  param where: f32[3, 4];\n"
      "  return embed(ids, words) + embed(positions(ids), where);\n}\n",
      "embed.rasp", options, &errors);
  ASSERT_TRUE(packed) << errors;
  auto runPacked = [&](std::vector<int32_t> values, std::vector<int32_t> lengths) {
    Input ids, lens;
    ids.shape = {static_cast<int64_t>(values.size())};
    ids.i32 = values;
    lens.shape = {static_cast<int64_t>(lengths.size())};
    lens.i32 = lengths;
    rasprt_tensor t[4] = {ids.tensor(), lens.tensor(), words.tensor(), where.tensor()};
    rasprt_tensor out;
    std::string error;
    if (packed->run({&t[0], &t[1], &t[2], &t[3]}, &out, &error))
      rasprt_tensor_free(&out);
    return error;
  };
  EXPECT_EQ(runPacked({0, 1, 2, 3, 4}, {3, 2}), "");
  EXPECT_EQ(runPacked({0, 1, 2, 3, 9}, {3, 2}),
            "input 'ids' in example 1 at position 1 holds 9, outside the 5 rows of 'words'");
  EXPECT_EQ(runPacked({0, 1, 2, 3, 4}, {1, 4}),
            "input 'lengths': example 1 has 4 positions, but 'where' has 3 rows, one per "
            "position");
}

INSTANTIATE_TEST_SUITE_P(Lengths, ModelLayersTest, ::testing::Values(1, 7, 64, 1000));

} // namespace
