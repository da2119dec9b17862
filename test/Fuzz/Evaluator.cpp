//===- Evaluator.cpp - the fuzzer's reference semantics ---------*- C++ -*-===//
//
// Evaluates a generated program by the rules of docs/language.md, written
// from the documentation alone:
//
//  - ints are 64-bit and wrap; `x % 0` and `x % -1` are 0, otherwise `%`
//    takes the sign of the left operand; `abs` and `-` wrap at INT_MIN;
//  - floats are f32; an int meeting a float becomes one (rounded to f32);
//    `/` is true division in f32; `int(f)` truncates toward zero, NaN gives
//    0 and values beyond the int range give the nearest end;
//  - `max(a, b)` is `a if a >= b else b`, `min(a, b)` is `a if a <= b else b`;
//  - a numerical aggregate is the mean of the selected values (0 where none
//    is selected); a categorical one moves the one selected value (0 or
//    false where none is); selector_width counts the selected keys.
//
// Every float carries a bound on how far a correct compiled result may lie
// from it: each operation is evaluated at the ends of its operands' bounds
// and widened by a relative slack for rounding and approximate exp/tanh.
// Where the ends disagree on NaN, Inf or a comparison's answer, the element
// is unknown and not compared.
//
//===----------------------------------------------------------------------===//

#include "FuzzProgram.h"

#include <cfloat>
#include <cmath>
#include <functional>
#include <map>
#include <limits>

namespace raspc::fuzz {
namespace {

std::vector<std::string> &words() {
  static std::vector<std::string> all;
  return all;
}

/// Relative slack per float operation: a few ulps of f32, for rounding in
/// another order, contraction into FMAs and approximate exp and tanh.
constexpr double kSlack = 1.0 / (1 << 20);

int64_t wrap(uint64_t u) { return static_cast<int64_t>(u); }

enum class Class { Finite, NaN, PosInf, NegInf };
Class classify(float f) {
  if (std::isnan(f))
    return Class::NaN;
  if (std::isinf(f))
    return f > 0 ? Class::PosInf : Class::NegInf;
  return Class::Finite;
}

/// An int or bool as a float, as the language promotes it.
Val asFloat(const Val &v, Ty ty) {
  if (v.unknown || ty == Ty::Float)
    return v;
  return Val::ofFloat(static_cast<float>(v.i));
}

} // namespace

/// f of float operands, evaluated in double and rounded to f32, with its
/// bound from the corners of the operands' bounds.
Val floatOp(const std::function<double(double, double)> &f, Val a, Val b) {
  if (a.unknown || b.unknown)
    return Val::open();
  float c = static_cast<float>(f(a.f, b.f));
  double deviation = 0;
  for (int sa = -1; sa <= 1; sa += 2)
    for (int sb = -1; sb <= 1; sb += 2)
      for (int ss = -1; ss <= 1; ss += 2) {
        double d = f(a.f + sa * a.err, b.f + sb * b.err) * (1 + ss * kSlack);
        float corner = static_cast<float>(d);
        if (classify(corner) != classify(c))
          return Val::open();
        if (std::isfinite(c))
          deviation = std::max(deviation, std::fabs(static_cast<double>(corner) - c));
      }
  return Val::ofFloat(c, deviation + std::fabs(static_cast<double>(c)) * kSlack);
}

namespace {

/// A float comparison; unknown where the operands' bounds allow either answer.
Val floatCmp(Op op, Val a, Val b) {
  if (a.unknown || b.unknown)
    return Val::open();
  auto cmp = [op](double x, double y) {
    switch (op) {
    case Op::Eq: return x == y;
    case Op::Ne: return x != y;
    case Op::Lt: return x < y;
    case Op::Le: return x <= y;
    case Op::Gt: return x > y;
    default: return x >= y;
    }
  };
  bool c = cmp(a.f, b.f);
  // Within each other's bounds, a different rounding may give either answer.
  if (std::isfinite(a.f) && std::isfinite(b.f) &&
      std::fabs(static_cast<double>(a.f) - b.f) <= a.err + b.err && (a.err + b.err) > 0)
    return Val::open();
  return Val::ofInt(c);
}

Val intCmp(Op op, int64_t a, int64_t b) {
  switch (op) {
  case Op::Eq: return Val::ofInt(a == b);
  case Op::Ne: return Val::ofInt(a != b);
  case Op::Lt: return Val::ofInt(a < b);
  case Op::Le: return Val::ofInt(a <= b);
  case Op::Gt: return Val::ofInt(a > b);
  default: return Val::ofInt(a >= b);
  }
}

int64_t truncToInt(double f) {
  if (std::isnan(f))
    return 0;
  if (f >= 9223372036854775808.0)
    return std::numeric_limits<int64_t>::max();
  if (f < -9223372036854775808.0)
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(f);
}

bool isComparison(Op op) {
  return op == Op::Eq || op == Op::Ne || op == Op::Lt || op == Op::Le || op == Op::Gt ||
         op == Op::Ge;
}

/// One element-wise operation of `n` on its operands' values.
Val applyOp(const Node &n, const std::vector<Val> &args) {
  auto tyOf = [&](size_t i) { return n.kids[i]->ty; };
  for (const Val &v : args)
    if (v.unknown && n.op != Op::And && n.op != Op::Or && n.op != Op::Cond)
      return Val::open();
  bool anyFloat = false;
  for (size_t i = 0; i < args.size(); ++i)
    anyFloat |= tyOf(i) == Ty::Float;

  if (isComparison(n.op)) {
    if (anyFloat)
      return floatCmp(n.op, asFloat(args[0], tyOf(0)), asFloat(args[1], tyOf(1)));
    return intCmp(n.op, args[0].i, args[1].i);
  }
  switch (n.op) {
  case Op::Neg:
    if (n.ty == Ty::Int)
      return Val::ofInt(wrap(0 - static_cast<uint64_t>(args[0].i)));
    return Val::ofFloat(-args[0].f, args[0].err);
  case Op::Abs:
    if (n.ty == Ty::Int)
      return Val::ofInt(args[0].i < 0 ? wrap(0 - static_cast<uint64_t>(args[0].i)) : args[0].i);
    return Val::ofFloat(std::fabs(args[0].f), args[0].err);
  case Op::Not:
    return Val::ofInt(!args[0].i);
  case Op::And:
  case Op::Or: {
    // A known deciding operand decides, whatever the other one is.
    int64_t decides = n.op == Op::And ? 0 : 1;
    for (const Val &v : args)
      if (!v.unknown && v.i == decides)
        return Val::ofInt(decides);
    if (args[0].unknown || args[1].unknown)
      return Val::open();
    return Val::ofInt(1 - decides);
  }
  case Op::Add: case Op::Sub: case Op::Mul:
    if (n.ty == Ty::Int) {
      uint64_t a = args[0].i, b = args[1].i;
      return Val::ofInt(wrap(n.op == Op::Add ? a + b : n.op == Op::Sub ? a - b : a * b));
    }
    return floatOp(
        [op = n.op](double a, double b) {
          // Each operand is an f32 value, so the double result rounds to the
          // correctly rounded f32 result.
          return op == Op::Add ? a + b : op == Op::Sub ? a - b : a * b;
        },
        asFloat(args[0], tyOf(0)), asFloat(args[1], tyOf(1)));
  case Op::Div: {
    Val a = asFloat(args[0], tyOf(0)), b = asFloat(args[1], tyOf(1));
    if (b.err > 0 && std::fabs(b.f) <= b.err)
      return Val::open(); // the divisor's bound holds 0
    return floatOp([](double x, double y) { return x / y; }, a, b);
  }
  case Op::Mod: {
    int64_t a = args[0].i, b = args[1].i;
    if (b == 0 || b == -1)
      return Val::ofInt(0);
    return Val::ofInt(a % b);
  }
  case Op::Max:
  case Op::Min: {
    Op cmp = n.op == Op::Max ? Op::Ge : Op::Le;
    if (!anyFloat)
      return intCmp(cmp, args[0].i, args[1].i).i ? args[0] : args[1];
    Val a = asFloat(args[0], tyOf(0)), b = asFloat(args[1], tyOf(1));
    Val first = floatCmp(cmp, a, b);
    if (!first.unknown)
      return first.i ? a : b;
    // Close enough that rounding may pick either: both are right to within
    // their distance.
    bool exact = cmp == Op::Ge ? a.f >= b.f : a.f <= b.f;
    Val v = exact ? a : b;
    v.err = std::max(a.err, b.err) + std::fabs(static_cast<double>(a.f) - b.f);
    return v;
  }
  case Op::Cond: {
    if (args[1].unknown)
      return Val::open();
    size_t chosen = args[1].i ? 0 : 2;
    if (args[chosen].unknown)
      return Val::open();
    return n.ty == Ty::Float ? asFloat(args[chosen], tyOf(chosen)) : args[chosen];
  }
  case Op::ToFloat:
    return asFloat(args[0], tyOf(0));
  case Op::ToInt: {
    if (tyOf(0) == Ty::Bool)
      return args[0];
    const Val &a = args[0];
    int64_t i = truncToInt(a.f);
    if (truncToInt(a.f - a.err) != i || truncToInt(a.f + a.err) != i)
      return Val::open();
    return Val::ofInt(i);
  }
  case Op::Lookup: {
    // The first entry whose key equals the value; keys are constants.
    for (size_t i = 1; i + 1 < args.size(); i += 2) {
      Val eq = tyOf(0) == Ty::Float
                   ? floatCmp(Op::Eq, asFloat(args[0], tyOf(0)), asFloat(args[i], tyOf(i)))
                   : intCmp(Op::Eq, args[0].i, args[i].i);
      if (eq.unknown)
        return Val::open();
      if (eq.i)
        return args[i + 1];
    }
    return args.back();
  }
  case Op::Exp:
    return floatOp([](double a, double) { return std::exp(a); }, args[0]);
  case Op::Sqrt:
    return floatOp([](double a, double) { return std::sqrt(a); }, args[0]);
  case Op::Tanh:
    return floatOp([](double a, double) { return std::tanh(a); }, args[0]);
  default:
    return Val::open();
  }
}

class Evaluator {
public:
  Evaluator(const Program &program, const Inputs &in)
      : program(program), in(in), length(static_cast<int64_t>(in.tokens.size())) {}

  Seq run() {
    for (const NodePtr &let : program.lets)
      lets.push_back(seq(*let));
    return lets.back();
  }

private:
  using Matrix = std::vector<Seq>; // [query][key]

  Seq seq(const Node &n) {
    Seq out(length);
    switch (n.op) {
    case Op::Tokens:
      for (int64_t p = 0; p < length; ++p)
        out[p] = Val::ofInt(in.tokens[p]);
      return out;
    case Op::X:
      for (int64_t p = 0; p < length; ++p)
        out[p] = Val::ofFloat(in.x[p]);
      return out;
    case Op::Indices:
      for (int64_t p = 0; p < length; ++p)
        out[p] = Val::ofInt(p);
      return out;
    case Op::W:
      for (int64_t p = 0; p < length; ++p)
        out[p] = Val::ofInt(tokenId(letters()[in.w[p]]));
      return out;
    case Op::Length: case Op::IntLit: case Op::FloatLit: case Op::BoolLit: case Op::StringLit:
      return Seq(length, scalar(n, {}));
    case Op::LetRef:
      return lets[n.ival];
    case Op::HelperParam:
      return helperArgs.back()[n.ival];
    case Op::Call: {
      std::vector<Seq> args;
      for (const NodePtr &kid : n.kids)
        args.push_back(seq(*kid));
      helperArgs.push_back(std::move(args));
      Seq result = seq(*program.helpers[n.ival].body);
      helperArgs.pop_back();
      return result;
    }
    case Op::Map: {
      size_t arity = n.paramTys.size();
      std::vector<Seq> operands;
      for (size_t i = 0; i < arity; ++i)
        operands.push_back(seq(*n.kids[i]));
      std::vector<Val> params(arity);
      for (int64_t p = 0; p < length; ++p) {
        bool unknownParam = false;
        for (size_t i = 0; i < arity; ++i) {
          params[i] = operands[i][p];
          unknownParam |= params[i].unknown;
        }
        out[p] = unknownParam ? Val::open() : scalar(*n.kids[arity], params);
      }
      return out;
    }
    case Op::Width: {
      Matrix s = selector(*n.kids[0]);
      for (int64_t q = 0; q < length; ++q) {
        int64_t count = 0;
        bool known = true;
        for (const Val &v : s[q]) {
          known &= !v.unknown;
          count += v.i;
        }
        out[q] = known ? Val::ofInt(count) : Val::open();
      }
      return out;
    }
    case Op::Aggregate:
      return aggregate(n);
    default: {
      // Element-wise on sequences: the operation at each position.
      std::vector<Seq> operands;
      for (const NodePtr &kid : n.kids)
        operands.push_back(seq(*kid));
      std::vector<Val> args(n.kids.size());
      for (int64_t p = 0; p < length; ++p) {
        for (size_t i = 0; i < args.size(); ++i)
          args[i] = operands[i][p];
        out[p] = applyOp(n, args);
      }
      return out;
    }
    }
  }

  /// Evaluates a lambda body (or a constant) on its parameters' values.
  Val scalar(const Node &n, const std::vector<Val> &params) {
    if (n.op == Op::Length)
      return Val::ofInt(length);
    return evaluateScalar(n, params);
  }

  Matrix selector(const Node &n) {
    Matrix out(length, Seq(length));
    if (n.op == Op::SelNot || n.op == Op::SelAnd || n.op == Op::SelOr) {
      Matrix a = selector(*n.kids[0]);
      if (n.op == Op::SelNot) {
        for (auto &row : a)
          for (Val &v : row)
            if (!v.unknown)
              v.i = !v.i;
        return a;
      }
      Matrix b = selector(*n.kids[1]);
      int64_t decides = n.op == Op::SelAnd ? 0 : 1;
      for (int64_t q = 0; q < length; ++q)
        for (int64_t k = 0; k < length; ++k) {
          const Val &x = a[q][k], &y = b[q][k];
          if ((!x.unknown && x.i == decides) || (!y.unknown && y.i == decides))
            out[q][k] = Val::ofInt(decides);
          else if (x.unknown || y.unknown)
            out[q][k] = Val::open();
          else
            out[q][k] = Val::ofInt(1 - decides);
        }
      return out;
    }
    Seq keys = seq(*n.kids[0]), queries = seq(*n.kids[1]);
    Node compare;
    compare.op = n.cmp;
    compare.ty = Ty::Bool;
    for (int i = 0; i < 2; ++i) {
      compare.kids.push_back(std::make_unique<Node>());
      compare.kids.back()->ty = n.kids[0]->ty;
    }
    for (int64_t q = 0; q < length; ++q)
      for (int64_t k = 0; k < length; ++k) {
        if (n.bareTrue)
          out[q][k] = Val::ofInt(1);
        else if (keys[k].unknown || queries[q].unknown)
          out[q][k] = Val::open();
        else if (n.kids.size() == 2)
          out[q][k] = applyOp(compare, {keys[k], queries[q]});
        else
          out[q][k] = scalar(*n.kids[2], {keys[k], queries[q]});
      }
    return out;
  }

  Seq aggregate(const Node &n) {
    Matrix s = selector(*n.kids[0]);
    Seq values = seq(*n.kids[1]);
    Ty valueTy = n.kids[1]->ty;
    // What a query that selects nothing reads: `default=`, else 0 (false).
    Val fallback = n.kids.size() > 2 ? scalar(*n.kids[2], {})
                   : n.numerical || valueTy == Ty::Float ? Val::ofFloat(0)
                   : isToken(valueTy)                    ? Val::ofInt(-1) // no token
                                                         : Val::ofInt(0);
    if (n.numerical || valueTy == Ty::Float)
      fallback = asFloat(fallback, n.kids.size() > 2 ? n.kids[2]->ty : Ty::Float);
    Seq out(length);
    for (int64_t q = 0; q < length; ++q) {
      std::vector<int64_t> chosen;
      bool known = true;
      for (int64_t k = 0; k < length; ++k) {
        known &= !s[q][k].unknown;
        if (s[q][k].i)
          chosen.push_back(k);
      }
      for (int64_t k : chosen)
        known &= !values[k].unknown;
      if (!known) {
        out[q] = Val::open();
        continue;
      }
      if (!n.numerical) {
        // Categorical: the one selected value; several are left open.
        if (chosen.empty())
          out[q] = fallback;
        else if (chosen.size() == 1)
          out[q] = values[chosen[0]];
        else
          out[q] = Val::open();
        continue;
      }
      out[q] = chosen.empty() ? fallback : mean(values, valueTy, chosen);
    }
    return out;
  }

  static Val mean(const Seq &values, Ty ty, const std::vector<int64_t> &chosen) {
    if (chosen.empty())
      return Val::ofFloat(0);
    bool nan = false, posInf = false, negInf = false;
    double sum = 0, magnitude = 0, err = 0;
    for (int64_t k : chosen) {
      Val v = asFloat(values[k], ty);
      nan |= std::isnan(v.f);
      posInf |= v.f == INFINITY;
      negInf |= v.f == -INFINITY;
      if (std::isfinite(v.f)) {
        sum += v.f;
        magnitude += std::fabs(v.f);
        err += v.err;
      }
    }
    if (nan || (posInf && negInf))
      return Val::ofFloat(NAN);
    // Partial sums of the finite values in another order could overflow
    // f32 (and meet an Inf of the other sign).
    if (magnitude + err >= FLT_MAX / 2)
      return Val::open();
    if (posInf || negInf)
      return Val::ofFloat(posInf ? INFINITY : -INFINITY);
    double n = static_cast<double>(chosen.size());
    float m = static_cast<float>(sum / n);
    double bound = err / n + (n + 2) * FLT_EPSILON * magnitude / n +
                   std::fabs(static_cast<double>(m)) * kSlack;
    return Val::ofFloat(m, bound);
  }

  const Program &program;
  const Inputs &in;
  int64_t length;
  std::vector<Seq> lets;
  std::vector<std::vector<Seq>> helperArgs; // of the helper calls being evaluated
};

} // namespace

int64_t tokenId(const std::string &word) {
  static std::map<std::string, int64_t> ids;
  auto [it, added] = ids.emplace(word, static_cast<int64_t>(ids.size()));
  if (added)
    words().push_back(word);
  return it->second;
}

const std::string &tokenWord(int64_t id) {
  static const std::string none = "(no token)";
  return id < 0 ? none : words()[id];
}

Val evaluateScalar(const Node &n, const std::vector<Val> &params) {
  switch (n.op) {
  case Op::IntLit: return Val::ofInt(n.ival);
  case Op::StringLit: return Val::ofInt(tokenId(n.sval));
  case Op::BoolLit: return Val::ofInt(n.ival);
  case Op::FloatLit: return Val::ofFloat(n.fval);
  case Op::Param: return params[n.ival];
  default: {
    std::vector<Val> args;
    for (const NodePtr &kid : n.kids)
      args.push_back(evaluateScalar(*kid, params));
    return applyOp(n, args);
  }
  }
}

Seq evaluate(const Program &program, const Inputs &in) {
  return Evaluator(program, in).run();
}

} // namespace raspc::fuzz
