//===- AttentionNumericsTest.cpp - models against naive loops ---*- C++ -*-===//
//
// A grouped-query attention layer compiled by raspc, checked against a plain
// reference written here with loops (projections, masks, score, normalizer,
// merge), on random inputs at lengths that are not multiples of anything.
//
//===----------------------------------------------------------------------===//

#include "raspc/Jit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int kModel = 16, kHeads = 4, kKeyHeads = 2, kHeadDim = 4;

struct Variant {
  const char *name;
  const char *mask;       // language text
  const char *score;      // language text, after 'scored', or "" for none
  const char *normalizer; // language text
  std::function<bool(int i, int j)> visible;
  std::function<float(float s, int h, int i, int j)> scoreFn;
  enum { Softmax, Mean, Sigmoid, LinearElu } kind;
};

// Test names show the variant's name, not its bytes.
void PrintTo(const Variant &v, std::ostream *os) { *os << v.name; }

std::vector<float> randomVector(size_t n, float scale, std::mt19937 &rng) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

/// out = a[rows, inner] @ b[inner, cols]
std::vector<float> matmul(const std::vector<float> &a, const std::vector<float> &b,
                          int rows, int inner, int cols) {
  std::vector<float> out(rows * cols, 0.0f);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      double acc = 0;
      for (int k = 0; k < inner; ++k)
        acc += static_cast<double>(a[r * inner + k]) * b[k * cols + c];
      out[r * cols + c] = static_cast<float>(acc);
    }
  return out;
}

double phi(double x) { return x > 0 ? x + 1 : std::exp(x); }

std::vector<float> reference(const Variant &v, const std::vector<float> &x, int length,
                             const std::vector<float> &wq, const std::vector<float> &wk,
                             const std::vector<float> &wv) {
  const int keyWidth = kKeyHeads * kHeadDim;
  std::vector<float> q = matmul(x, wq, length, kModel, kModel);
  std::vector<float> k = matmul(x, wk, length, kModel, keyWidth);
  std::vector<float> val = matmul(x, wv, length, kModel, keyWidth);
  std::vector<float> out(length * kModel, 0.0f);
  for (int h = 0; h < kHeads; ++h) {
    int kh = h / (kHeads / kKeyHeads);
    for (int i = 0; i < length; ++i) {
      std::vector<double> w(length, 0.0);
      double total = 0, max = -INFINITY;
      std::vector<double> s(length, 0.0);
      for (int j = 0; j < length; ++j) {
        if (!v.visible(i, j))
          continue;
        double dot = 0;
        for (int d = 0; d < kHeadDim; ++d) {
          double a = q[i * kModel + h * kHeadDim + d], b = k[j * keyWidth + kh * kHeadDim + d];
          dot += v.kind == Variant::LinearElu ? phi(a) * phi(b) : a * b;
        }
        s[j] = v.scoreFn ? v.scoreFn(static_cast<float>(dot), h, i, j) : dot;
        max = std::max(max, s[j]);
      }
      for (int j = 0; j < length; ++j) {
        if (!v.visible(i, j))
          continue;
        switch (v.kind) {
        case Variant::Softmax: w[j] = std::exp(s[j] - max); break;
        case Variant::Mean: w[j] = 1; break;
        case Variant::Sigmoid: w[j] = 1 / (1 + std::exp(-s[j])); break;
        case Variant::LinearElu: w[j] = s[j]; break;
        }
        total += w[j];
      }
      for (int e = 0; e < kHeadDim; ++e) {
        double acc = 0;
        for (int j = 0; j < length; ++j)
          acc += w[j] * val[j * keyWidth + kh * kHeadDim + e];
        if (v.kind != Variant::Sigmoid)
          acc = total == 0 ? 0 : acc / total;
        out[i * kModel + h * kHeadDim + e] = static_cast<float>(acc);
      }
    }
  }
  return out;
}

std::string source(const Variant &v) {
  std::string s = "model layer(x: f32[T, 16]) -> f32[T, 16] {\n"
                  "  param wq: f32[16, 16];\n"
                  "  param wk, wv: f32[16, 8];\n"
                  "  let q = heads(x @ wq, 4);\n"
                  "  let k = heads(x @ wk, 2);\n"
                  "  let v = heads(x @ wv, 2);\n"
                  "  let s = select(k, q, ";
  s += v.mask;
  s += ")";
  if (*v.score)
    s += std::string(" scored ") + v.score;
  s += ";\n  return merge_heads(aggregate(s, v, ";
  s += v.normalizer;
  s += "));\n}\n";
  return s;
}

rasprt_tensor wrap(std::vector<float> &data, std::vector<int64_t> shape) {
  rasprt_tensor t;
  rasprt_tensor_view(&t, data.data(), RASPRT_F32, static_cast<int32_t>(shape.size()),
                     shape.data());
  return t;
}

/// A layer's input and weights, random.
struct Layer {
  int length;
  std::vector<float> x, wq, wk, wv;
  Layer(int length, float xScale, float qkScale, float vScale, unsigned seed)
      : length(length) {
    std::mt19937 rng(seed);
    x = randomVector(length * kModel, xScale, rng);
    wq = randomVector(kModel * kModel, qkScale, rng);
    wk = randomVector(kModel * 8, qkScale, rng);
    wv = randomVector(kModel * 8, vScale, rng);
  }
  bool run(const raspc::JitProgram &program, rasprt_tensor *out, std::string *error) {
    rasprt_tensor tx = wrap(x, {length, kModel}), tq = wrap(wq, {kModel, kModel}),
                  tk = wrap(wk, {kModel, 8}), tv = wrap(wv, {kModel, 8});
    return program.run({&tx, &tq, &tk, &tv}, out, error);
  }
};

const Variant kVariants[] = {
    {"causal_softmax_scaled", "key_pos <= query_pos", "dot(q, k) / 2", "softmax",
     [](int i, int j) { return j <= i; }, [](float s, int, int, int) { return s / 2; },
     Variant::Softmax},
    {"window_alibi", "key_pos <= query_pos and query_pos - key_pos < 5",
     "dot(q, k) - alibi_slope(head, 4) * (query_pos - key_pos)", "softmax",
     [](int i, int j) { return j <= i && i - j < 5; },
     [](float s, int h, int i, int j) {
       return s - std::exp2(-8.0f * (h + 1) / 4) * static_cast<float>(i - j);
     },
     Variant::Softmax},
    {"strictly_causal_softcap", "key_pos < query_pos", "3 * tanh(dot(q, k) / 3)", "softmax",
     [](int i, int j) { return j < i; },
     [](float s, int, int, int) { return 3 * std::tanh(s / 3); }, Variant::Softmax},
    {"all_mean", "true", "", "mean", [](int, int) { return true; }, nullptr, Variant::Mean},
    {"prefix_sigmoid", "key_pos <= query_pos or key_pos < 3", "", "sigmoid",
     [](int i, int j) { return j <= i || j < 3; }, nullptr, Variant::Sigmoid},
    {"causal_linear", "<=", "", "linear(elu_plus_one)", [](int i, int j) { return j <= i; },
     nullptr, Variant::LinearElu},
    {"all_linear", "true", "", "linear(elu_plus_one)", [](int, int) { return true; }, nullptr,
     Variant::LinearElu},
};

class AttentionNumericsTest
    : public ::testing::TestWithParam<std::tuple<Variant, int>> {};

TEST_P(AttentionNumericsTest, MatchesNaiveReference) {
  const Variant &v = std::get<0>(GetParam());
  int length = std::get<1>(GetParam());
  std::string errors;
  auto program = raspc::JitProgram::compile(source(v), "layer.rasp", {}, &errors);
  ASSERT_TRUE(program) << errors;

  Layer layer(length, 1.0f, 0.5f, 0.5f, length * 31 + 7);
  rasprt_tensor out;
  std::string error;
  ASSERT_TRUE(layer.run(*program, &out, &error)) << error;
  ASSERT_EQ(out.rank, 2);
  ASSERT_EQ(out.shape[0], length);
  ASSERT_EQ(out.shape[1], kModel);
  std::vector<float> expected = reference(v, layer.x, length, layer.wq, layer.wk, layer.wv);
  const float *got = static_cast<const float *>(out.data);
  for (int i = 0; i < length * kModel; ++i) {
    ASSERT_FALSE(std::isnan(got[i])) << "element " << i;
    ASSERT_NEAR(got[i], expected[i], 1e-4f + 1e-4f * std::abs(expected[i]))
        << "position " << i / kModel << ", feature " << i % kModel;
  }
  rasprt_tensor_free(&out);
}

INSTANTIATE_TEST_SUITE_P(
    Variants, AttentionNumericsTest,
    ::testing::Combine(::testing::ValuesIn(kVariants), ::testing::Values(1, 7, 64, 1000)),
    [](const auto &info) {
      return std::string(std::get<0>(info.param).name) + "_L" +
             std::to_string(std::get<1>(info.param));
    });

/// bf16 <-> float: the upper half of the float's bits, rounded to nearest
/// even (no NaNs here).
uint16_t toBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  bits += 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}
float fromBF16(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// bf16 tensors in, bf16 out, f32 inside (the fast path widens when it packs
// and rounds once when it stores): within bf16's rounding of the exact
// result of the bf16 inputs.
class HalfPrecisionTest : public ::testing::TestWithParam<int> {};

TEST_P(HalfPrecisionTest, CausalBF16MatchesReference) {
  const int length = GetParam(), heads = 4, dim = 8, width = heads * dim;
  std::string src = "model layer(xq: bf16[T, 32], xk: bf16[T, 32], xv: bf16[T, 32]) "
                    "-> bf16[T, 32] {\n"
                    "  let q = heads(xq, 4);\n  let k = heads(xk, 4);\n  let v = heads(xv, 4);\n"
                    "  let s = select(k, q, <=) scored dot(q, k) / sqrt(8);\n"
                    "  return merge_heads(aggregate(s, v, softmax));\n}\n";
  std::string errors;
  auto program = raspc::JitProgram::compile(src, "bf16.rasp", {}, &errors);
  ASSERT_TRUE(program) << errors;

  std::mt19937 rng(length);
  std::vector<std::vector<uint16_t>> data(3);
  std::vector<rasprt_tensor> tensors(3);
  int64_t shape[2] = {length, width};
  for (int t = 0; t < 3; ++t) {
    for (float x : randomVector(length * width, 2.0f, rng))
      data[t].push_back(toBF16(x));
    ASSERT_EQ(rasprt_tensor_view(&tensors[t], data[t].data(), RASPRT_BF16, 2, shape), RASPRT_OK);
  }
  rasprt_tensor out;
  std::string error;
  ASSERT_TRUE(program->run({&tensors[0], &tensors[1], &tensors[2]}, &out, &error)) << error;
  ASSERT_EQ(out.dtype, RASPRT_BF16);
  const uint16_t *got = static_cast<const uint16_t *>(out.data);
  auto at = [&](int t, int i, int h, int d) { return fromBF16(data[t][i * width + h * dim + d]); };
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < length; ++i) {
      std::vector<double> w(i + 1);
      double max = -INFINITY, total = 0;
      for (int j = 0; j <= i; ++j) {
        double dot = 0;
        for (int d = 0; d < dim; ++d)
          dot += static_cast<double>(at(0, i, h, d)) * at(1, j, h, d);
        w[j] = dot / std::sqrt(8.0);
        max = std::max(max, w[j]);
      }
      for (double &x : w)
        total += x = std::exp(x - max);
      for (int e = 0; e < dim; ++e) {
        double expected = 0;
        for (int j = 0; j <= i; ++j)
          expected += w[j] * at(2, j, h, e);
        expected /= total;
        float value = fromBF16(got[i * width + h * dim + e]);
        ASSERT_NEAR(value, expected, 1e-3 + std::abs(expected) / 128)
            << "position " << i << ", head " << h << ", feature " << e;
      }
    }
  rasprt_tensor_free(&out);
}

INSTANTIATE_TEST_SUITE_P(Lengths, HalfPrecisionTest, ::testing::Values(1, 7, 64, 300));

// bf16 projections take the register-tiled GEMM (operands widened as they
// are read and packed, f32 sums, one rounding at the end) with a bias along
// the columns: within bf16's rounding of the exact result of the bf16
// inputs.
TEST_P(HalfPrecisionTest, BF16ProjectionMatchesReference) {
  const int length = GetParam(), K = 40, N = 80;
  std::string src = "model proj(x: bf16[T, 40]) -> bf16[T, 80] {\n"
                    "  param w: bf16[40, 80];\n  param b: bf16[80];\n"
                    "  return x @ w + b;\n}\n";
  std::string errors;
  auto program = raspc::JitProgram::compile(src, "proj.rasp", {}, &errors);
  ASSERT_TRUE(program) << errors;
  std::mt19937 rng(length + 11);
  std::vector<uint16_t> x, w, bias;
  for (float v : randomVector(length * K, 2.0f, rng))
    x.push_back(toBF16(v));
  for (float v : randomVector(K * N, 1.0f, rng))
    w.push_back(toBF16(v));
  for (float v : randomVector(N, 1.0f, rng))
    bias.push_back(toBF16(v));
  int64_t xShape[2] = {length, K}, wShape[2] = {K, N}, bShape[1] = {N};
  rasprt_tensor tx, tw, tb;
  ASSERT_EQ(rasprt_tensor_view(&tx, x.data(), RASPRT_BF16, 2, xShape), RASPRT_OK);
  ASSERT_EQ(rasprt_tensor_view(&tw, w.data(), RASPRT_BF16, 2, wShape), RASPRT_OK);
  ASSERT_EQ(rasprt_tensor_view(&tb, bias.data(), RASPRT_BF16, 1, bShape), RASPRT_OK);
  rasprt_tensor out;
  std::string error;
  ASSERT_TRUE(program->run({&tx, &tw, &tb}, &out, &error)) << error;
  ASSERT_EQ(out.dtype, RASPRT_BF16);
  const uint16_t *got = static_cast<const uint16_t *>(out.data);
  for (int i = 0; i < length; ++i)
    for (int e = 0; e < N; ++e) {
      double product = 0;
      for (int d = 0; d < K; ++d)
        product += static_cast<double>(fromBF16(x[i * K + d])) * fromBF16(w[d * N + e]);
      // The product is rounded to bf16 before the bias is added (each op
      // of the model rounds its result), then the sum.
      double expected = fromBF16(toBF16(static_cast<float>(product))) + fromBF16(bias[e]);
      ASSERT_NEAR(fromBF16(got[i * N + e]), expected, 1e-3 + std::abs(expected) / 128)
          << "row " << i << ", column " << e;
    }
  rasprt_tensor_free(&out);
}

TEST(AttentionSemantics, FullyMaskedRowsAreZeroAndHugeScoresStayFinite) {
  // Row 0 sees no key (key_pos < query_pos); scores are scaled to +-1e4.
  Variant v = kVariants[2];
  std::string src = source(v);
  src.replace(src.find("3 * tanh(dot(q, k) / 3)"), 23, "dot(q, k) * 100");
  std::string errors;
  auto program = raspc::JitProgram::compile(src, "huge.rasp", {}, &errors);
  ASSERT_TRUE(program) << errors;
  const int length = 9;
  Layer layer(length, 3.0f, 3.0f, 1.0f, 5);
  rasprt_tensor out;
  std::string error;
  ASSERT_TRUE(layer.run(*program, &out, &error)) << error;
  const float *got = static_cast<const float *>(out.data);
  for (int e = 0; e < kModel; ++e)
    EXPECT_EQ(got[e], 0.0f) << "the first row has no visible key";
  for (int i = 0; i < length * kModel; ++i)
    ASSERT_TRUE(std::isfinite(got[i])) << "element " << i;
  rasprt_tensor_free(&out);
}

TEST(AttentionSemantics, WrongShapesAndDtypesAreRejected) {
  std::string errors;
  auto program = raspc::JitProgram::compile(source(kVariants[0]), "layer.rasp", {}, &errors);
  ASSERT_TRUE(program) << errors;
  std::vector<float> x(3 * 12), w(16 * 16), k(16 * 8);
  rasprt_tensor tx = wrap(x, {3, 12}), tq = wrap(w, {16, 16}), tk = wrap(k, {16, 8});
  rasprt_tensor out;
  std::string error;
  // Each failure also says its kind, which the Python package turns into
  // ValueError or TypeError.
  raspc::JitProgram::RunError kind = raspc::JitProgram::RunError::None;
  EXPECT_FALSE(program->run({&tx, &tq, &tk, &tk}, &out, &error, &kind));
  EXPECT_EQ(error, "input 'x' must have shape [T, 16], not [3, 12]");
  EXPECT_EQ(kind, raspc::JitProgram::RunError::Value);
  rasprt_tensor tx2 = wrap(x, {2, 16});
  tx2.dtype = RASPRT_I32;
  EXPECT_FALSE(program->run({&tx2, &tq, &tk, &tk}, &out, &error, &kind));
  EXPECT_EQ(error, "input 'x' must be f32, not i32");
  EXPECT_EQ(kind, raspc::JitProgram::RunError::Type);
  EXPECT_FALSE(program->run({&tq}, &out, &error, &kind));
  EXPECT_EQ(error, "'layer' takes 4 arguments, got 1");
  EXPECT_EQ(kind, raspc::JitProgram::RunError::Type);
  tx2.dtype = RASPRT_F32;
  ASSERT_TRUE(program->run({&tx2, &tq, &tk, &tk}, &out, &error, &kind)) << error;
  EXPECT_EQ(kind, raspc::JitProgram::RunError::None);
  rasprt_tensor_free(&out);
}

TEST(AttentionSemantics, InputsSharingASymbolMustAgree) {
  std::string errors;
  auto program = raspc::JitProgram::compile(
      "model m(x: f32[T, 4], doc: i32[T]) -> f32[T, 4] {\n"
      "  let h = heads(x, 1);\n"
      "  return merge_heads(aggregate(select(h, h, doc[key_pos] == doc[query_pos]), h));\n"
      "}\n",
      "doc.rasp", {}, &errors);
  ASSERT_TRUE(program) << errors;
  std::vector<float> x(3 * 4, 1.0f);
  std::vector<int32_t> doc(5, 0);
  rasprt_tensor tx = wrap(x, {3, 4});
  rasprt_tensor td{};
  td.data = doc.data();
  td.dtype = RASPRT_I32;
  td.rank = 1;
  td.shape[0] = 5;
  td.strides[0] = 1;
  rasprt_tensor out;
  std::string error;
  EXPECT_FALSE(program->run({&tx, &td}, &out, &error));
  EXPECT_EQ(error, "input 'doc' has T = 5 but input 'x' has T = 3");
  td.shape[0] = 3;
  ASSERT_TRUE(program->run({&tx, &td}, &out, &error)) << error;
  rasprt_tensor_free(&out);
}

} // namespace
