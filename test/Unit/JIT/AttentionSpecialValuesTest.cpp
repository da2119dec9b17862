//===- AttentionSpecialValuesTest.cpp - NaN, Inf, overflow, masks -*- C++ -*-===//
//
// The rules of docs/language.md ("Special values in attention") against a
// plain double-precision reference written here: a masked key never enters
// the arithmetic (its score, weight and value are not read, so a NaN there
// changes nothing), nor is the value of a key scored -inf; a NaN or Inf the
// mask keeps propagates as the formula says; a row whose keys all weigh
// nothing (masked, or scored -inf) is exactly 0. Every mask and normalizer, at lengths that cross the fast
// path's tiles, with one kind of special value injected at a time.
//
//===----------------------------------------------------------------------===//

#include "raspc/Jit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int kDim = 8;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

enum class Kind { Softmax, Sigmoid, Mean, LinearElu };

struct Mask {
  const char *name, *text;
  std::function<bool(int i, int j)> visible;
};

struct Normalizer {
  const char *name, *text;
  Kind kind;
};

// Test names show the case's name, not its bytes.
void PrintTo(const Mask &m, std::ostream *os) { *os << m.name; }
void PrintTo(const Normalizer &n, std::ostream *os) { *os << n.name; }

const Mask kMasks[] = {
    {"causal", "<=", [](int i, int j) { return j <= i; }},
    {"strict", "<", [](int i, int j) { return j < i; }},
    {"future", ">=", [](int i, int j) { return j >= i; }},
    {"all", "true", [](int, int) { return true; }},
    {"window", "key_pos <= query_pos and query_pos - key_pos < 5",
     [](int i, int j) { return j <= i && i - j < 5; }},
};

const Normalizer kNormalizers[] = {
    {"softmax", "softmax", Kind::Softmax},
    {"sigmoid", "sigmoid", Kind::Sigmoid},
    {"mean", "mean", Kind::Mean},
    {"linear", "linear(elu_plus_one)", Kind::LinearElu},
};

/// One special value written into q (0), k (1) or v (2) at a position (or,
/// position -1, at every one), in one feature or (feature -1) in all of them.
struct Injection {
  int tensor, position, feature;
  float value;
};

struct Scenario {
  const char *name;
  std::vector<Injection> injections;
};

const Scenario kScenarios[] = {
    {"nan_value", {{2, 3, 2, kNaN}}},
    {"inf_values", {{2, 5, 1, kInf}, {2, 5, 2, -kInf}}},
    {"nan_key", {{1, 4, 0, kNaN}}},
    {"nan_query", {{0, 2, 5, kNaN}}},
    {"inf_key", {{1, 6, -1, kInf}}},
    {"neg_inf_key", {{1, 6, -1, -kInf}}},
    // Key 6 is scored -inf by every query (q's feature 0 is 1 everywhere)
    // and its value is Inf: under softmax and sigmoid it weighs 0, as a
    // hidden key, and its value is not read (the fast kernels' fix-up for
    // non-finite values used to add 0 * Inf = NaN; found by the
    // differential fuzzer).
    {"neg_inf_score_inf_value", {{0, -1, 0, 1.0f}, {1, 6, 0, -kInf}, {2, 6, -1, kInf}}},
    {"huge_key", {{1, 6, -1, 1e20f}}},
    // q[3] . k[5] = 8e40 overflows f32 (the other scores are about 1e20).
    {"overflowing_score", {{0, 3, -1, 1e20f}, {1, 5, -1, 1e20f}}},
    // Key 0 is all NaN: the rows that do not see it are untouched.
    {"nan_first_key", {{1, 0, -1, kNaN}, {2, 0, -1, kNaN}}},
    {"nan_last_value", {{2, 69, 0, kNaN}, {2, 299, 7, kNaN}}},
};

double phi(double x) { return x > 0 ? x + 1 : std::exp(x); }

/// out[i] per the documented formula, in double; the score is rounded to
/// f32 (scores are f32 values in the program), so an overflow is an Inf.
std::vector<float> reference(const Mask &mask, Kind kind, int length,
                             const std::vector<float> &q, const std::vector<float> &k,
                             const std::vector<float> &v) {
  std::vector<float> out(length * kDim);
  for (int i = 0; i < length; ++i) {
    std::vector<double> s(length), w(length, 0.0);
    double max = -INFINITY;
    bool nanScore = false;
    for (int j = 0; j < length; ++j) {
      if (!mask.visible(i, j))
        continue;
      double dot = 0;
      for (int d = 0; d < kDim; ++d) {
        double a = q[i * kDim + d], b = k[j * kDim + d];
        dot += kind == Kind::LinearElu ? phi(a) * phi(b) : a * b;
      }
      s[j] = static_cast<float>(dot);
      nanScore |= std::isnan(s[j]);
      max = std::max(max, s[j]);
    }
    if (kind == Kind::Softmax && nanScore)
      max = NAN;
    // A softmax whose visible scores are all -inf (or that sees no key)
    // weighs every key 0.
    bool nothing = kind == Kind::Softmax && max == -INFINITY;
    double total = 0;
    std::vector<bool> used(length, false);
    for (int j = 0; j < length; ++j) {
      if (!mask.visible(i, j) || nothing)
        continue;
      used[j] = true;
      switch (kind) {
      case Kind::Softmax: w[j] = std::exp(s[j] - max); break;
      case Kind::Sigmoid: w[j] = 1 / (1 + std::exp(-s[j])); break;
      case Kind::Mean: w[j] = 1; break;
      case Kind::LinearElu: w[j] = s[j]; break;
      }
      total += w[j];
    }
    for (int e = 0; e < kDim; ++e) {
      double acc = 0;
      // Softmax and sigmoid do not read the value of a key of weight 0.
      for (int j = 0; j < length; ++j)
        if (used[j] && !(w[j] == 0 && (kind == Kind::Softmax || kind == Kind::Sigmoid)))
          acc += w[j] * v[j * kDim + e];
      if (kind != Kind::Sigmoid)
        acc = total == 0 ? 0 : acc / total;
      out[i * kDim + e] = static_cast<float>(acc);
    }
  }
  return out;
}

std::string source(const Mask &mask, const Normalizer &normalizer) {
  return std::string("model m(xq: f32[T, 8], xk: f32[T, 8], xv: f32[T, 8]) -> f32[T, 8] {\n"
                     "  let q = heads(xq, 1);\n  let k = heads(xk, 1);\n"
                     "  let v = heads(xv, 1);\n  let s = select(k, q, ") +
         mask.text + ");\n  return merge_heads(aggregate(s, v, " + normalizer.text + "));\n}\n";
}

/// "nan", "inf", "-inf" or "finite": the class a result must match exactly.
const char *classOf(float x) {
  if (std::isnan(x))
    return "nan";
  if (std::isinf(x))
    return x > 0 ? "inf" : "-inf";
  return "finite";
}

class AttentionSpecialValuesTest
    : public ::testing::TestWithParam<std::tuple<Mask, Normalizer>> {};

TEST_P(AttentionSpecialValuesTest, MatchesTheDocumentedRules) {
  const Mask &mask = std::get<0>(GetParam());
  const Normalizer &normalizer = std::get<1>(GetParam());
  std::string errors;
  auto program = raspc::JitProgram::compile(source(mask, normalizer), "special.rasp", {},
                                            &errors);
  ASSERT_TRUE(program) << errors;
  for (int length : {1, 7, 70, 300}) {
    std::mt19937 rng(length);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> clean[3];
    for (auto &t : clean)
      for (int n = 0; n < length * kDim; ++n)
        t.push_back(dist(rng));
    for (const Scenario &scenario : kScenarios) {
      // Linear attention never forms a score: it sums phi(k) v^T first, so
      // where a score would overflow depends on that order.
      // Likewise an Inf value meets phi(k) = 0 in that sum.
      if (normalizer.kind == Kind::LinearElu &&
          (std::string(scenario.name) == "overflowing_score" ||
           std::string(scenario.name) == "neg_inf_score_inf_value"))
        continue;
      std::vector<float> data[3] = {clean[0], clean[1], clean[2]};
      for (const Injection &in : scenario.injections) {
        if (in.position >= length)
          continue;
        for (int p = 0; p < length; ++p)
          for (int d = 0; d < kDim; ++d)
            if ((in.position < 0 || in.position == p) && (in.feature < 0 || in.feature == d))
              data[in.tensor][p * kDim + d] = in.value;
      }
      int64_t shape[2] = {length, kDim};
      rasprt_tensor t[3];
      for (int n = 0; n < 3; ++n)
        ASSERT_EQ(rasprt_tensor_view(&t[n], data[n].data(), RASPRT_F32, 2, shape), RASPRT_OK);
      rasprt_tensor out;
      std::string error;
      ASSERT_TRUE(program->run({&t[0], &t[1], &t[2]}, &out, &error)) << error;
      std::vector<float> expected =
          reference(mask, normalizer.kind, length, data[0], data[1], data[2]);
      const float *got = static_cast<const float *>(out.data);
      for (int n = 0; n < length * kDim; ++n) {
        SCOPED_TRACE(::testing::Message() << scenario.name << ", L = " << length
                                          << ", position " << n / kDim << ", feature "
                                          << n % kDim << ": expected " << expected[n]
                                          << ", got " << got[n]);
        ASSERT_STREQ(classOf(got[n]), classOf(expected[n]));
        if (std::isfinite(expected[n]))
          ASSERT_NEAR(got[n], expected[n], 1e-4f + 1e-4f * std::abs(expected[n]));
      }
      rasprt_tensor_free(&out);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    MasksAndNormalizers, AttentionSpecialValuesTest,
    ::testing::Combine(::testing::ValuesIn(kMasks), ::testing::ValuesIn(kNormalizers)),
    [](const auto &info) {
      return std::string(std::get<0>(info.param).name) + "_" + std::get<1>(info.param).name;
    });

} // namespace
