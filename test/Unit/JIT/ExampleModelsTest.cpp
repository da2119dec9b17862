//===- ExampleModelsTest.cpp - shipped models vs. loops ---------*- C++ -*-===//
//
// The encoder, decoder and MiniLM examples from examples/models/, run with
// random weights and compared with a reference assembled here from plain
// loops.
//
//===----------------------------------------------------------------------===//

#include "raspc/Jit.h"

#include <gtest/gtest.h>

#include <algorithm>
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
  std::map<std::string, std::vector<int32_t>> ids;
  std::map<std::string, std::vector<int64_t>> shapes;
  const Matrix get(const std::string &name) const {
    return Matrix(data.at(name).begin(), data.at(name).end());
  }
};

/// Runs an example with random weights (from the program's own parameter
/// list and shapes) and inputs of `T` rows: f32 ones uniform, i32 ones ids
/// below `idLimit`. Returns the inputs and weights in `w` and the result,
/// which has `resultShape`.
/// `packedLengths`: compiled for packed batches, the examples' lengths as
/// the input `lengths` (T is their sum).
Matrix runExample(const std::string &file, int T, std::vector<int64_t> resultShape, Weights &w,
                  int idLimit = 0, std::vector<int32_t> packedLengths = {}) {
  std::string errors;
  raspc::JitOptions options;
  options.packedBatch = !packedLengths.empty();
  auto program = raspc::JitProgram::compileFile(std::string(RASPC_SOURCE_DIR) + "/" + file,
                                                options, &errors);
  EXPECT_TRUE(program) << errors;
  if (!program)
    return {};
  std::mt19937 rng(T * 7 + 1);
  std::uniform_real_distribution<float> dist(-0.3f, 0.3f);
  std::vector<std::string> names = program->argumentNames();
  std::vector<std::vector<float>> storage(names.size());
  std::vector<std::vector<int32_t>> ids(names.size());
  std::uniform_int_distribution<int32_t> idDist(0, std::max(idLimit - 1, 0));
  std::vector<rasprt_tensor> tensors(names.size());
  std::vector<const rasprt_tensor *> args;
  for (size_t i = 0; i < names.size(); ++i) {
    bool isLengths = options.packedBatch && names[i] == "lengths";
    std::vector<int64_t> shape = program->argumentShape(i);
    for (int64_t &d : shape)
      if (d < 0)
        d = isLengths ? static_cast<int64_t>(packedLengths.size()) : T;
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    w.shapes[names[i]] = shape;
    if (program->argumentDtype(i) == RASPRT_I32) {
      ids[i].resize(n);
      for (int32_t &v : ids[i])
        v = idDist(rng);
      if (isLengths)
        ids[i] = packedLengths;
      w.ids[names[i]] = ids[i];
      rasprt_tensor_view(&tensors[i], ids[i].data(), RASPRT_I32,
                         static_cast<int32_t>(shape.size()), shape.data());
    } else {
      storage[i].resize(n);
      for (float &v : storage[i])
        v = dist(rng);
      w.data[names[i]] = storage[i];
      rasprt_tensor_view(&tensors[i], storage[i].data(), RASPRT_F32,
                         static_cast<int32_t>(shape.size()), shape.data());
    }
    args.push_back(&tensors[i]);
  }
  rasprt_tensor out;
  std::string error;
  EXPECT_TRUE(program->run(args, &out, &error)) << error;
  if (!error.empty())
    return {};
  EXPECT_EQ(std::vector<int64_t>(out.shape, out.shape + out.rank), resultShape);
  Matrix y(static_cast<float *>(out.data),
           static_cast<float *>(out.data) + rasprt_tensor_numel(&out));
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
  Matrix got = runExample("examples/models/encoder_block.rasp", T, {T, D}, w);
  Matrix x = w.get("x");
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
  Matrix got = runExample("examples/models/decoder_gqa_rope.rasp", T, {T, D}, w);
  Matrix x = w.get("x");
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

/// nn.Linear: x [rows, in] times weights stored [out, in], plus the bias.
Matrix linear(const Matrix &x, const Matrix &weight, const Matrix &bias, int rows, int in,
              int out) {
  Matrix y(rows * out);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double acc = bias[o];
      for (int i = 0; i < in; ++i)
        acc += x[r * in + i] * weight[o * in + i];
      y[r * out + o] = acc;
    }
  return y;
}

/// MiniLM's sentence embedding of the ids in [begin, end) as Hugging Face
/// and sentence-transformers compute it: token + position + type-0
/// embeddings, post-norm layers, mean pooling, L2 norm.
Matrix miniLMReference(const Weights &w, const std::vector<int32_t> &ids, int begin, int end) {
  const int T = end - begin, D = 384, F = 1536, H = 12;
  Matrix words = w.get("embeddings.word_embeddings.weight");
  Matrix positions = w.get("embeddings.position_embeddings.weight");
  Matrix types = w.get("embeddings.token_type_embeddings.weight");
  Matrix e(T * D);
  for (int t = 0; t < T; ++t)
    for (int d = 0; d < D; ++d)
      e[t * D + d] = words[ids[begin + t] * D + d] + positions[t * D + d] + types[d];
  Matrix eb = w.get("embeddings.LayerNorm.bias");
  Matrix h = norm(e, T, D, w.get("embeddings.LayerNorm.weight"), &eb, 1e-12);
  for (int layer = 0; layer < 6; ++layer) {
    std::string p = "encoder.layer." + std::to_string(layer) + ".";
    auto dense = [&](const Matrix &x, const std::string &name, int in, int out) {
      return linear(x, w.get(p + name + ".weight"), w.get(p + name + ".bias"), T, in, out);
    };
    Matrix q = dense(h, "attention.self.query", D, D), k = dense(h, "attention.self.key", D, D),
           v = dense(h, "attention.self.value", D, D);
    Matrix a = dense(attention(q, k, v, T, H, H, 32, 1 / std::sqrt(32.0), false),
                     "attention.output.dense", D, D);
    for (int i = 0; i < T * D; ++i)
      a[i] += h[i];
    Matrix ab = w.get(p + "attention.output.LayerNorm.bias");
    Matrix x1 = norm(a, T, D, w.get(p + "attention.output.LayerNorm.weight"), &ab, 1e-12);
    Matrix inner = dense(x1, "intermediate.dense", D, F);
    for (double &v : inner)
      v = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    Matrix out = dense(inner, "output.dense", F, D);
    for (int i = 0; i < T * D; ++i)
      out[i] += x1[i];
    Matrix ob = w.get(p + "output.LayerNorm.bias");
    h = norm(out, T, D, w.get(p + "output.LayerNorm.weight"), &ob, 1e-12);
  }
  Matrix pooled(D, 0.0);
  for (int t = 0; t < T; ++t)
    for (int d = 0; d < D; ++d)
      pooled[d] += h[t * D + d] / T;
  double length = 0;
  for (double v : pooled)
    length += v * v;
  for (double &v : pooled)
    v /= std::sqrt(length);
  return pooled;
}

TEST_P(ExampleModelsTest, MiniLMSentenceEmbedding) {
  const int T = GetParam();
  Weights w;
  Matrix got = runExample("examples/models/minilm/minilm.rasp", T, {384}, w, 30522);
  expectNear(got, miniLMReference(w, w.ids.at("ids"), 0, T));
}

// A packed batch (--packed-batch): sentences of 1, 7 and T tokens one after
// another, one call; each row of the result is that sentence's embedding
// alone (attention within it, positions from its start, its own mean).
TEST_P(ExampleModelsTest, MiniLMPackedBatch) {
  const std::vector<int32_t> lengths = {1, 7, GetParam()};
  const int total = 8 + GetParam();
  Weights w;
  Matrix got = runExample("examples/models/minilm/minilm.rasp", total, {3, 384}, w, 30522,
                          lengths);
  Matrix want;
  for (int e = 0, begin = 0; e < 3; begin += lengths[e++]) {
    Matrix one = miniLMReference(w, w.ids.at("ids"), begin, begin + lengths[e]);
    want.insert(want.end(), one.begin(), one.end());
  }
  expectNear(got, want);
}

INSTANTIATE_TEST_SUITE_P(Lengths, ExampleModelsTest, ::testing::Values(1, 7, 64));

} // namespace
