//===- ExampleModelsTest.cpp - shipped models vs. loops ---------*- C++ -*-===//
//
// The encoder and decoder examples from examples/models/, run with random
// weights and compared with a reference assembled here from plain loops.
//
//===----------------------------------------------------------------------===//

#include "raspc/Jit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using Matrix = std::vector<double>; // row-major

Matrix matmul(const Matrix &a, const Matrix &b, int rows, int inner, int cols) {
  Matrix out(rows * cols, 0.0);
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < inner; ++k)
      for (int c = 0; c < cols; ++c)
        out[r * cols + c] += a[r * inner + k] * b[k * cols + c];
  return out;
}

Matrix addRow(Matrix a, const Matrix &v, int cols) {
  for (size_t i = 0; i < a.size(); ++i)
    a[i] += v[i % cols];
  return a;
}

Matrix norm(const Matrix &x, int rows, int cols, const Matrix &g, const Matrix *b, double eps) {
  Matrix out(x.size());
  for (int r = 0; r < rows; ++r) {
    double mean = 0, spread = 0;
    if (b)
      for (int c = 0; c < cols; ++c)
        mean += x[r * cols + c] / cols;
    for (int c = 0; c < cols; ++c)
      spread += std::pow(x[r * cols + c] - mean, 2) / cols;
    for (int c = 0; c < cols; ++c)
      out[r * cols + c] = (x[r * cols + c] - mean) / std::sqrt(spread + eps) * g[c] +
                          (b ? (*b)[c] : 0.0);
  }
  return out;
}

/// Rotate-half rotary embedding of columns grouped in heads of `dim`.
Matrix rope(Matrix x, int rows, int heads, int dim) {
  Matrix out = x;
  int half = dim / 2;
  for (int t = 0; t < rows; ++t)
    for (int h = 0; h < heads; ++h)
      for (int d = 0; d < dim; ++d) {
        double angle = t * std::pow(10000.0, -2.0 * (d % half) / dim);
        int base = t * heads * dim + h * dim;
        double partner = x[base + (d < half ? d + half : d - half)];
        out[base + d] = x[base + d] * std::cos(angle) +
                        (d < half ? -partner : partner) * std::sin(angle);
      }
  return out;
}

/// Softmax attention over columns split into heads; k/v have keyHeads.
Matrix attention(const Matrix &q, const Matrix &k, const Matrix &v, int T, int heads,
                 int keyHeads, int dim, double scale, bool causal) {
  Matrix out(T * heads * dim, 0.0);
  for (int h = 0; h < heads; ++h) {
    int kh = h / (heads / keyHeads);
    for (int i = 0; i < T; ++i) {
      std::vector<double> w(T, 0.0);
      double max = -INFINITY, total = 0;
      int last = causal ? i : T - 1;
      for (int j = 0; j <= last; ++j) {
        double dot = 0;
        for (int d = 0; d < dim; ++d)
          dot += q[i * heads * dim + h * dim + d] * k[j * keyHeads * dim + kh * dim + d];
        w[j] = dot * scale;
        max = std::max(max, w[j]);
      }
      for (int j = 0; j <= last; ++j)
        total += (w[j] = std::exp(w[j] - max));
      for (int d = 0; d < dim; ++d) {
        double acc = 0;
        for (int j = 0; j <= last; ++j)
          acc += w[j] * v[j * keyHeads * dim + kh * dim + d];
        out[i * heads * dim + h * dim + d] = acc / total;
      }
    }
  }
  return out;
}

struct Weights {
  std::map<std::string, std::vector<float>> data;
  std::map<std::string, std::vector<int64_t>> shapes;
  const Matrix get(const std::string &name) const {
    return Matrix(data.at(name).begin(), data.at(name).end());
  }
};

/// Runs an example with random weights (from the program's own parameter
/// list and shapes) and input x of `T` rows; returns x, the weights and y.
Matrix runExample(const std::string &file, int T, int width, Weights &w, Matrix &x) {
  std::string errors;
  auto program = raspc::JitProgram::compileFile(std::string(RASPC_SOURCE_DIR) + "/" + file,
                                                {}, &errors);
  EXPECT_TRUE(program) << errors;
  if (!program)
    return {};
  std::mt19937 rng(T * 7 + 1);
  std::uniform_real_distribution<float> dist(-0.3f, 0.3f);
  std::vector<std::string> names = program->argumentNames();
  std::vector<std::vector<float>> storage(names.size());
  std::vector<rasprt_tensor> tensors(names.size());
  std::vector<const rasprt_tensor *> args;
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<int64_t> shape = program->argumentShape(i);
    for (int64_t &d : shape)
      if (d < 0)
        d = T;
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    storage[i].resize(n);
    for (float &v : storage[i])
      v = dist(rng);
    w.data[names[i]] = storage[i];
    w.shapes[names[i]] = shape;
    rasprt_tensor_view(&tensors[i], storage[i].data(), RASPRT_F32,
                       static_cast<int32_t>(shape.size()), shape.data());
    args.push_back(&tensors[i]);
  }
  x = w.get("x");
  rasprt_tensor out;
  std::string error;
  EXPECT_TRUE(program->run(args, &out, &error)) << error;
  if (!error.empty())
    return {};
  EXPECT_EQ(out.shape[0], T);
  EXPECT_EQ(out.shape[1], width);
  Matrix y(static_cast<float *>(out.data), static_cast<float *>(out.data) + T * width);
  rasprt_tensor_free(&out);
  return y;
}

void expectNear(const Matrix &got, const Matrix &want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 2e-4 * (1 + std::abs(want[i]))) << "element " << i;
}

class ExampleModelsTest : public ::testing::TestWithParam<int> {};

TEST_P(ExampleModelsTest, EncoderBlock) {
  const int T = GetParam(), D = 256;
  Weights w;
  Matrix x;
  Matrix got = runExample("examples/models/encoder_block.rasp", T, D, w, x);
  Matrix lnb1 = w.get("ln1_b"), lnb2 = w.get("ln2_b");
  Matrix h = norm(x, T, D, w.get("ln1_g"), &lnb1, 1e-5);
  Matrix q = matmul(h, w.get("wq"), T, D, D), k = matmul(h, w.get("wk"), T, D, D),
         v = matmul(h, w.get("wv"), T, D, D);
  Matrix a = matmul(attention(q, k, v, T, 4, 4, 64, 1.0 / 8, false), w.get("wo"), T, D, D);
  Matrix x1 = x;
  for (size_t i = 0; i < x1.size(); ++i)
    x1[i] += a[i];
  Matrix m = addRow(matmul(norm(x1, T, D, w.get("ln2_g"), &lnb2, 1e-5), w.get("w1"), T, D, 1024),
                    w.get("b1"), 1024);
  for (double &e : m)
    e = 0.5 * e * (1 + std::erf(e / std::sqrt(2.0)));
  Matrix y = addRow(matmul(m, w.get("w2"), T, 1024, D), w.get("b2"), D);
  for (size_t i = 0; i < y.size(); ++i)
    y[i] += x1[i];
  expectNear(got, y);
}

TEST_P(ExampleModelsTest, DecoderGqaRope) {
  const int T = GetParam(), D = 512;
  Weights w;
  Matrix x;
  Matrix got = runExample("examples/models/decoder_gqa_rope.rasp", T, D, w, x);
  Matrix h = norm(x, T, D, w.get("norm1"), nullptr, 1e-6);
  Matrix q = rope(matmul(h, w.get("wq"), T, D, D), T, 8, 64);
  Matrix k = rope(matmul(h, w.get("wk"), T, D, 128), T, 2, 64);
  Matrix v = matmul(h, w.get("wv"), T, D, 128);
  Matrix a = matmul(attention(q, k, v, T, 8, 2, 64, 1.0 / 8, true), w.get("wo"), T, D, D);
  Matrix x1 = x;
  for (size_t i = 0; i < x1.size(); ++i)
    x1[i] += a[i];
  Matrix g = norm(x1, T, D, w.get("norm2"), nullptr, 1e-6);
  Matrix gate = matmul(g, w.get("w_gate"), T, D, 1024), up = matmul(g, w.get("w_up"), T, D, 1024);
  for (size_t i = 0; i < gate.size(); ++i)
    gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
  Matrix y = matmul(gate, w.get("w_down"), T, 1024, D);
  for (size_t i = 0; i < y.size(); ++i)
    y[i] += x1[i];
  expectNear(got, y);
}

INSTANTIATE_TEST_SUITE_P(Lengths, ExampleModelsTest, ::testing::Values(1, 7, 64));

} // namespace
