//===- AttentionEvaluator.cpp - the fuzzer's reference attention -*- C++ -*-===//
//
// One attention layer by the formulas of docs/language.md, in double, from
// the documentation alone:
//
//  - heads(x, H) takes columns h*D .. h*D+D-1 as head h; query head h reads
//    key head h / (H / Hk); merge_heads puts head h back at h*Dv;
//  - a hidden key does not exist; a key scored -Inf weighs 0 (softmax,
//    sigmoid); a row with no key of nonzero weight is exactly 0;
//  - softmax: exp(s - max) / sum over the visible keys (a NaN score makes the
//    row NaN); mean: every visible key weighs 1 / count; sigmoid:
//    1 / (1 + exp(-s)), not normalized; linear(phi): phi(q) . sum phi(k) v /
//    phi(q) . sum phi(k) over the visible keys, 0 where the divisor is 0;
//  - a position outside `doc` reads its nearest end.
//
// Each element gets a bound from the scores' bounds and the rounding of
// f32 dot products and exponentials; a NaN/Inf value whose weight is too
// small for f32 to tell from 0 leaves its element open.
//
//===----------------------------------------------------------------------===//

#include "FuzzProgram.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

namespace raspc::fuzz {
namespace {

double phi(Norm norm, double x) {
  switch (norm) {
  case Norm::LinearElu: return x > 0 ? x + 1 : std::exp(x);
  case Norm::LinearRelu: return std::isnan(x) || x > 0 ? x : 0; // NaN propagates
  default: return std::exp(x);
  }
}

} // namespace

Seq evaluate(const AttentionProgram &a, const AttentionInputs &in) {
  const int64_t T = in.queries, S = in.keys;
  const int H = a.heads, Hk = a.keyHeads, D = a.dim, Dv = a.valueDim;
  const bool linear = a.norm == Norm::LinearElu || a.norm == Norm::LinearRelu ||
                      a.norm == Norm::LinearExp;
  Seq out(T * H * Dv);
  auto docAt = [&](int64_t p) -> int64_t {
    if (in.doc.empty())
      return 0;
    return in.doc[std::clamp<int64_t>(p, 0, static_cast<int64_t>(in.doc.size()) - 1)];
  };
  auto q = [&](int h, int64_t i, int d) -> double { return in.q[(i * H + h) * D + d]; };
  auto k = [&](int g, int64_t j, int d) -> double { return in.k[(j * Hk + g) * D + d]; };
  auto v = [&](int g, int64_t j, int e) -> double { return in.v[(j * Hk + g) * Dv + e]; };

  for (int h = 0; h < H; ++h) {
    int g = h / (H / Hk);
    for (int64_t i = 0; i < T; ++i) {
      Val *row = &out[(i * H + h) * Dv];
      auto rowIs = [&](const Val &x) {
        for (int e = 0; e < Dv; ++e)
          row[e] = x;
      };
      // Which keys the query sees, and their scores.
      std::vector<int64_t> keys;
      std::vector<Val> scores;
      bool rowUnknown = false;
      for (int64_t j = 0; j < S; ++j) {
        std::vector<Val> params = {Val::ofInt(h), Val::ofInt(i), Val::ofInt(j), Val::ofInt(docAt(j)),
                                   Val::ofInt(docAt(i))};
        bool visible = true;
        if (a.mask) {
          Val m = evaluateScalar(*a.mask, params);
          if (m.unknown) {
            rowUnknown = true;
            break;
          }
          visible = m.i;
        } else if (!a.maskTrue) {
          int64_t kp = j, qp = i;
          switch (a.bareCmp) {
          case Op::Eq: visible = kp == qp; break;
          case Op::Ne: visible = kp != qp; break;
          case Op::Lt: visible = kp < qp; break;
          case Op::Le: visible = kp <= qp; break;
          case Op::Gt: visible = kp > qp; break;
          default: visible = kp >= qp; break;
          }
        }
        if (!visible)
          continue;
        keys.push_back(j);
        if (linear || a.norm == Norm::Mean)
          continue;
        double dot = 0, magnitude = 0;
        for (int d = 0; d < D; ++d) {
          dot += q(h, i, d) * k(g, j, d);
          magnitude += std::fabs(q(h, i, d) * k(g, j, d));
        }
        Val s;
        s.f = static_cast<float>(dot);
        s.err = std::isfinite(s.f) ? 2 * (D + 2) * FLT_EPSILON * magnitude : 0;
        if (std::isfinite(s.f) && std::fabs(dot) + s.err >= FLT_MAX)
          s.unknown = true; // an f32 dot product may or may not overflow
        if (a.score && !s.unknown) {
          params.insert(params.begin(), s);
          s = evaluateScalar(*a.score, params);
        }
        if (s.unknown) {
          rowUnknown = true;
          break;
        }
        scores.push_back(s);
      }
      if (rowUnknown) {
        rowIs(Val::open());
        continue;
      }

      // Weights, and how far the compiled ones may be from them (relative).
      std::vector<double> w(keys.size(), 1.0);
      double relErr = 1e-5 + 2 * (keys.size() + 2) * FLT_EPSILON;
      if (a.norm == Norm::Softmax || a.norm == Norm::Sigmoid) {
        bool nan = false;
        double max = -INFINITY, worst = 0;
        for (const Val &s : scores) {
          nan |= std::isnan(s.f);
          max = std::max(max, static_cast<double>(s.f));
          if (std::isfinite(s.f))
            worst = std::max(worst, s.err + 4 * FLT_EPSILON * std::fabs(s.f));
        }
        if (a.norm == Norm::Softmax && nan) {
          Val x;
          x.f = NAN;
          rowIs(x);
          continue;
        }
        relErr += 4 * worst;
        for (size_t n = 0; n < keys.size(); ++n) {
          double s = scores[n].f;
          w[n] = a.norm == Norm::Softmax ? (max == -INFINITY ? 0 : std::exp(s - max))
                                         : 1 / (1 + std::exp(-s));
        }
      }
      if (linear) {
        // phi(q) . phi(k_j) is key j's weight; the divisor is their sum.
        for (size_t n = 0; n < keys.size(); ++n) {
          double dot = 0;
          for (int d = 0; d < D; ++d)
            dot += phi(a.norm, q(h, i, d)) * phi(a.norm, k(g, keys[n], d));
          w[n] = dot;
        }
        relErr += 1e-4;
      }
      double total = 0;
      for (double x : w)
        total += x;
      bool normalized = a.norm != Norm::Sigmoid;
      if (linear && !std::isnan(total) && total != 0) {
        // Sums of phi products in another order: a divisor near 0 relative
        // to its terms may be 0 or of either sign in f32.
        double magnitude = 0;
        for (double x : w)
          magnitude += std::fabs(x);
        if (std::fabs(total) <= 1e-3 * magnitude || !std::isfinite(total)) {
          rowIs(Val::open());
          continue;
        }
      }
      for (int e = 0; e < Dv; ++e) {
        double acc = 0, magnitude = 0;
        bool open = false;
        for (size_t n = 0; n < keys.size(); ++n) {
          double x = v(g, keys[n], e);
          if ((a.norm == Norm::Softmax || a.norm == Norm::Sigmoid) &&
              scores[n].f == -INFINITY)
            continue; // scored -Inf: weighs 0, as a hidden key
          if (!std::isfinite(x) && std::fabs(w[n]) < 1e-30 * std::max(1.0, std::fabs(total)))
            open = true; // a weight that is or may round to 0 meets NaN or Inf
          // Linear attention sums phi(k) v first: where an Inf value meets a
          // zero phi(q) component depends on that order (docs/language.md).
          if (linear && std::isinf(x))
            open = true;
          acc += w[n] * x;
          magnitude += std::fabs(w[n] * x);
        }
        Val r;
        if (open) {
          r.unknown = true;
        } else if (normalized && (total == 0 || keys.empty())) {
          r.f = 0;
        } else {
          double value = normalized ? acc / total : acc;
          double scale = normalized ? magnitude / std::fabs(total) : magnitude;
          r.f = static_cast<float>(value);
          r.err = std::isfinite(r.f) ? relErr * scale + 1e-30 : 0;
          if (std::isfinite(r.f) && std::fabs(value) + r.err >= FLT_MAX / 2)
            r.unknown = true;
          if (!std::isfinite(value) && std::isfinite(scale) && std::isfinite(acc))
            r.unknown = true; // overflow of the division, near the f32 range
        }
        row[e] = r;
      }
    }
  }
  return out;
}

} // namespace raspc::fuzz
