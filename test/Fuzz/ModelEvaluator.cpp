//===- ModelEvaluator.cpp - the fuzzer's reference model layers -*- C++ -*-===//
//
// The layers of docs/language.md ("Models", "Checkpoint layers") in double,
// from the documentation alone:
//
//   a @ w; linear(x, w, b) = x @ transpose(w) + b; x + b broadcast over
//   rows; relu (NaN stays NaN), gelu (exact, erf), silu, sigmoid, tanh, abs;
//   layernorm(x, g, b, eps) = (x - mean) / sqrt(var + eps) * g + b;
//   rmsnorm(x, g, eps) = x / sqrt(mean(x^2) + eps) * g;
//   l2_normalize(x) = x / max(|x|, 1e-12); pools over the positions whose
//   mask is nonzero, 0 where none is.
//
// Each element's bound grows by first-order error propagation through each
// layer plus the rounding of its f32 sums.
//
//===----------------------------------------------------------------------===//

#include "FuzzProgram.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

namespace raspc::fuzz {
namespace {

constexpr double kEps = FLT_EPSILON;

/// A float element from a double value and its bound; open where f32 and
/// the bound put it too near the end of the f32 range to say Inf or not.
Val rounded(double value, double err) {
  Val v;
  v.f = static_cast<float>(value);
  if (!std::isfinite(v.f))
    return std::isfinite(value) && std::fabs(value) < 2.0 * FLT_MAX ? Val::open() : v;
  if (std::fabs(value) + err >= FLT_MAX / 2)
    return Val::open();
  v.err = err + std::fabs(value) * kEps;
  return v;
}

struct Tensor {
  int64_t rows = 0, cols = 0;
  Seq data;
  Val &at(int64_t r, int64_t c) { return data[r * cols + c]; }
  const Val &at(int64_t r, int64_t c) const { return data[r * cols + c]; }
  bool rowKnown(int64_t r) const {
    for (int64_t c = 0; c < cols; ++c)
      if (at(r, c).unknown)
        return false;
    return true;
  }
};

Tensor make(int64_t rows, int64_t cols) {
  Tensor t;
  t.rows = rows;
  t.cols = cols;
  t.data.resize(rows * cols);
  return t;
}

/// out[r][n] = sum_c h[r][c] * w(c, n) (+ bias[n]).
template <typename W>
Tensor matmul(const Tensor &h, int64_t width, W w, const std::vector<float> *bias) {
  Tensor out = make(h.rows, width);
  for (int64_t r = 0; r < h.rows; ++r) {
    bool known = h.rowKnown(r);
    for (int64_t n = 0; n < width; ++n) {
      if (!known) {
        out.at(r, n) = Val::open();
        continue;
      }
      double sum = bias ? (*bias)[n] : 0.0, magnitude = std::fabs(sum), err = 0;
      for (int64_t c = 0; c < h.cols; ++c) {
        double x = h.at(r, c).f, wc = w(c, n);
        sum += x * wc;
        magnitude += std::fabs(x * wc);
        err += std::fabs(wc) * h.at(r, c).err;
      }
      if (std::isfinite(magnitude) && magnitude >= FLT_MAX / 4) {
        out.at(r, n) = Val::open(); // partial f32 sums may overflow
        continue;
      }
      out.at(r, n) = rounded(sum, err + 2 * (h.cols + 2) * kEps * magnitude);
    }
  }
  return out;
}

/// A normalization over each row: y = f(row) per element, with `bound`
/// giving each element's error from the row's largest input error.
Tensor norm(const Tensor &h, ModelStep::Kind kind, const std::vector<float> *gain,
            const std::vector<float> *bias) {
  Tensor out = make(h.rows, h.cols);
  const int64_t n = h.cols;
  for (int64_t r = 0; r < h.rows; ++r) {
    if (!h.rowKnown(r)) {
      for (int64_t c = 0; c < n; ++c)
        out.at(r, c) = Val::open();
      continue;
    }
    double mean = 0, maxAbs = 0, maxErr = 0, squares = 0;
    for (int64_t c = 0; c < n; ++c) {
      double x = h.at(r, c).f;
      mean += x;
      maxAbs = std::max(maxAbs, std::fabs(x));
      maxErr = std::max(maxErr, h.at(r, c).err);
      squares += x * x;
    }
    mean /= n;
    // f32 sums of squares may overflow where double's do not.
    bool overflow = std::isfinite(squares) && squares >= FLT_MAX / 4;
    double var = 0;
    for (int64_t c = 0; c < n; ++c)
      var += (h.at(r, c).f - mean) * (h.at(r, c).f - mean);
    var /= n;
    double denom, center = kind == ModelStep::LayerNorm ? mean : 0;
    if (kind == ModelStep::LayerNorm)
      denom = std::sqrt(var + 1e-5);
    else if (kind == ModelStep::RmsNorm)
      denom = std::sqrt(squares / n + 1e-6);
    else
      denom = std::max(std::sqrt(squares), 1e-12);
    for (int64_t c = 0; c < n; ++c) {
      if (overflow) {
        out.at(r, c) = Val::open();
        continue;
      }
      double yhat = (h.at(r, c).f - center) / denom;
      double g = gain ? (*gain)[c] : 1.0, b = bias ? (*bias)[c] : 0.0;
      // dy_i/dx_j = (delta_ij - [1/n] - yhat_i yhat_j / n) / denom summed
      // over j is at most (2 + |yhat_i| sqrt(n)) / denom; the sums' rounding
      // moves x - mean by about n eps max|x|.
      double spread = kind == ModelStep::L2Normalize ? std::sqrt(static_cast<double>(n)) : 1.0;
      double sensitivity = (2 + std::fabs(yhat) * spread) / denom;
      // A row holding Inf divides by Inf: its finite elements are exactly 0.
      double err = std::isfinite(maxAbs)
                       ? std::fabs(g) * sensitivity * (maxErr + 4 * (n + 2) * kEps * maxAbs)
                       : 0;
      out.at(r, c) = rounded(yhat * g + b, err + std::fabs(b) * kEps);
    }
  }
  return out;
}

/// Self-attention of h's heads (q = k = v) by AttentionEvaluator, its
/// bound widened by how far h's own bounds move the scores and values:
/// d out = sum_j w_j (d v_j + (v_j - out) d s_j), so at most
/// maxErr (1 + 4 scale D max|h|^2).
Tensor attention(const Tensor &h, const ModelStep &s) {
  Tensor out = make(h.rows, h.cols);
  AttentionProgram a;
  a.heads = a.keyHeads = s.heads;
  a.dim = a.valueDim = static_cast<int>(h.cols) / s.heads;
  a.maskTrue = !s.causal;
  a.bareCmp = Op::Le;
  a.score = std::make_unique<Node>();
  a.score->op = Op::Mul;
  a.score->ty = Ty::Float;
  a.score->kids.push_back(std::make_unique<Node>());
  a.score->kids.back()->op = Op::Param; // the dot product
  a.score->kids.back()->ty = Ty::Float;
  a.score->kids.push_back(std::make_unique<Node>());
  a.score->kids.back()->op = Op::FloatLit;
  a.score->kids.back()->ty = Ty::Float;
  a.score->kids.back()->fval = s.constant;
  AttentionInputs in;
  in.queries = in.keys = h.rows;
  double maxErr = 0, maxAbs = 0;
  for (const Val &v : h.data) {
    if (v.unknown) {
      for (Val &o : out.data)
        o = Val::open();
      return out;
    }
    in.q.push_back(v.f);
    maxErr = std::max(maxErr, v.err);
    if (std::isfinite(v.f))
      maxAbs = std::max(maxAbs, std::fabs(static_cast<double>(v.f)));
  }
  in.k = in.v = in.q;
  if (s.ropeBase > 0) {
    // rope: pairs (i, i + D/2) of each head turned by p * base^(-2i/D) at
    // position p; cos and sin round to about 1e-7 of |x| per element.
    const int D = a.dim, half = D / 2;
    for (int64_t p = 0; p < h.rows; ++p)
      for (int hd = 0; hd < s.heads; ++hd)
        for (int i = 0; i < half; ++i) {
          double theta = p * std::pow(static_cast<double>(s.ropeBase), -2.0 * i / D);
          size_t lo = p * h.cols + hd * D + i, hi = lo + half;
          double x1 = in.v[lo], x2 = in.v[hi];
          in.q[lo] = static_cast<float>(x1 * std::cos(theta) - x2 * std::sin(theta));
          in.q[hi] = static_cast<float>(x2 * std::cos(theta) + x1 * std::sin(theta));
        }
    in.k = in.q;
    // The angle p * theta is rounded to f32 before its cos and sin.
    maxErr += maxAbs * (1e-6 + h.rows * 4 * kEps);
  }
  out.data = evaluate(a, in);
  double widen = maxErr * (1 + 4 * s.constant * a.dim * maxAbs * maxAbs);
  for (Val &o : out.data)
    if (!o.unknown && std::isfinite(o.f))
      o.err += widen;
  return out;
}

double activation(const std::string &f, double x) {
  if (f == "relu") return std::isnan(x) || x > 0 ? x : 0;
  if (f == "gelu") return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  if (f == "silu") return x / (1 + std::exp(-x));
  if (f == "sigmoid") return 1 / (1 + std::exp(-x));
  if (f == "tanh") return std::tanh(x);
  return std::fabs(x);
}

} // namespace

Seq evaluate(const ModelProgram &m, const ModelInputs &in) {
  std::vector<ModelProgram::Param> params = m.params();
  auto param = [&](const std::string &name) -> const std::vector<float> & {
    for (size_t i = 0; i < params.size(); ++i)
      if (params[i].name == name)
        return in.params[i];
    static const std::vector<float> none;
    return none;
  };
  std::vector<Tensor> h;
  h.push_back(make(in.length, m.inputWidth));
  if (m.vocab > 0) {
    // embed(ids, emb) [+ embed(positions(ids), pos)]
    const std::vector<float> &emb = param("emb"), &pos = param("pos");
    for (int64_t t = 0; t < in.length; ++t)
      for (int64_t c = 0; c < m.inputWidth; ++c) {
        float e = emb[in.ids[t] * m.inputWidth + c];
        h[0].at(t, c) = m.positionRows > 0
                            ? floatOp([](double a, double b) { return a + b; }, Val::ofFloat(e),
                                      Val::ofFloat(pos[t * m.inputWidth + c]))
                            : Val::ofFloat(e);
      }
  } else {
    for (int64_t i = 0; i < in.length * m.inputWidth; ++i)
      h[0].data[i].f = in.x[i];
  }

  for (size_t i = 0; i < m.steps.size(); ++i) {
    const ModelStep &s = m.steps[i];
    const Tensor &x = h.back();
    std::string n = std::to_string(i);
    Tensor y;
    switch (s.kind) {
    case ModelStep::MatMul: {
      const std::vector<float> &w = param("w" + n);
      y = matmul(x, s.width, [&](int64_t c, int64_t o) { return w[c * s.width + o]; }, nullptr);
      break;
    }
    case ModelStep::Linear: {
      const std::vector<float> &w = param("w" + n);
      int64_t in = x.cols;
      y = matmul(x, s.width, [&](int64_t c, int64_t o) { return w[o * in + c]; },
                 s.bias ? &param("b" + n) : nullptr);
      break;
    }
    case ModelStep::Bias:
    case ModelStep::Scale:
    case ModelStep::Residual:
    case ModelStep::Activation: {
      y = make(x.rows, x.cols);
      const std::vector<float> &b = param("b" + n);
      for (int64_t r = 0; r < x.rows; ++r)
        for (int64_t c = 0; c < x.cols; ++c) {
          const Val &a = x.at(r, c);
          Val other;
          if (s.kind == ModelStep::Bias)
            other.f = b[c];
          else if (s.kind == ModelStep::Scale)
            other.f = s.constant;
          else if (s.kind == ModelStep::Residual)
            other = h[s.from].at(r, c);
          if (s.kind == ModelStep::Activation) {
            y.at(r, c) = floatOp(
                [f = s.function](double v, double) { return activation(f, v); }, a);
            // gelu is x/2 (1 + erf(x / sqrt 2)): an f32 erf's absolute error
            // (about 1e-7) becomes |x| 1e-7 where 1 + erf cancels.
            if (s.function == "gelu" && std::isfinite(a.f))
              y.at(r, c).err += 1e-6 * std::fabs(a.f);
            // 1 / (1 + exp(-x)) in f32 is 0 once exp(-x) overflows (x < -88),
            // where the value is below 1e-36.
            if ((s.function == "sigmoid" || s.function == "silu") && a.f < -80)
              y.at(r, c).err += std::fabs(y.at(r, c).f);
          }
          else if (s.kind == ModelStep::Scale)
            y.at(r, c) = floatOp([](double p, double q) { return p * q; }, a, other);
          else
            y.at(r, c) = floatOp([](double p, double q) { return p + q; }, a, other);
        }
      break;
    }
    case ModelStep::Attention:
      y = attention(x, s);
      break;
    case ModelStep::LayerNorm:
      y = norm(x, s.kind, &param("g" + n), &param("b" + n));
      break;
    case ModelStep::RmsNorm:
      y = norm(x, s.kind, &param("g" + n), nullptr);
      break;
    case ModelStep::L2Normalize:
      y = norm(x, s.kind, nullptr, nullptr);
      break;
    }
    h.push_back(std::move(y));
  }

  const Tensor &last = h.back();
  if (m.pool == ModelProgram::None)
    return last.data;
  Seq out(last.cols);
  for (int64_t c = 0; c < last.cols; ++c) {
    double sum = 0, magnitude = 0, err = 0, max = -INFINITY;
    int64_t count = 0;
    bool known = true, nan = false;
    for (int64_t r = 0; r < last.rows; ++r) {
      if (m.poolMask && in.mask[r] == 0)
        continue;
      const Val &v = last.at(r, c);
      known &= !v.unknown;
      ++count;
      sum += v.f;
      magnitude += std::fabs(v.f);
      err = m.pool == ModelProgram::Max ? std::max(err, v.err) : err + v.err;
      nan |= std::isnan(v.f);
      max = std::max(max, static_cast<double>(v.f));
    }
    if (!known) {
      out[c] = Val::open();
    } else if (count == 0) {
      out[c] = Val(); // a pool over no position is 0
    } else if (m.pool == ModelProgram::Max) {
      out[c] = rounded(nan ? NAN : max, err);
    } else {
      if (std::isfinite(magnitude) && magnitude >= FLT_MAX / 4) {
        out[c] = Val::open();
        continue;
      }
      double scale = m.pool == ModelProgram::Mean ? 1.0 / count : 1.0;
      out[c] = rounded(sum * scale, (err + 2 * (count + 2) * kEps * magnitude) * scale);
    }
  }
  return out;
}

} // namespace raspc::fuzz
