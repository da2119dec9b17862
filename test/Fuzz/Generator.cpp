//===- Generator.cpp - random well-typed sequence programs ------*- C++ -*-===//
//
// Builds programs from the sequence built-ins of docs/language.md with
// typed random choices, and prints them as raspc source. Two constants
// never meet in one operation, so nothing is folded at compile time (a
// constant `5 % 0` is a compile-time error by design).
//
//===----------------------------------------------------------------------===//

#include "FuzzProgram.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <functional>

namespace raspc::fuzz {
namespace {

NodePtr node(Op op, Ty ty) {
  auto n = std::make_unique<Node>();
  n->op = op;
  n->ty = ty;
  return n;
}

NodePtr node(Op op, Ty ty, NodePtr a, NodePtr b = nullptr, NodePtr c = nullptr) {
  NodePtr n = node(op, ty);
  n->kids.push_back(std::move(a));
  if (b)
    n->kids.push_back(std::move(b));
  if (c)
    n->kids.push_back(std::move(c));
  return n;
}

bool isConstant(const Node &n) {
  return n.op == Op::IntLit || n.op == Op::FloatLit || n.op == Op::BoolLit ||
         n.op == Op::Length;
}

const Op kComparisons[] = {Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge};

/// `map(s, p0 => "x" if p0 == <its first value> else "yy")`: open tokens.
NodePtr openMap(NodePtr s) {
  Ty t = s->ty;
  NodePtr n = node(Op::Map, Ty::Open);
  n->paramTys = {t};
  NodePtr p = node(Op::Param, t);
  NodePtr c;
  if (t == Ty::Letters) {
    c = node(Op::StringLit, t);
    c->sval = "a";
  } else {
    c = node(Op::IntLit, Ty::Int);
    c->ival = 1;
  }
  NodePtr x = node(Op::StringLit, Ty::Open), y = node(Op::StringLit, Ty::Open);
  x->sval = "x";
  y->sval = "yy";
  n->kids.push_back(std::move(s));
  n->kids.push_back(node(Op::Cond, Ty::Open, std::move(x),
                         node(Op::Eq, Ty::Bool, std::move(p), std::move(c)), std::move(y)));
  return n;
}

} // namespace

Program Generator::program() {
  Program p;
  current = &p;
  int lets = 1 + pick(5);
  for (int i = 0; i < lets; ++i)
    p.lets.push_back(seq(anyTy(), 1 + pick(4)));
  current = nullptr;
  return p;
}

const std::vector<std::string> &letters() {
  static const std::vector<std::string> words = {"a", "b", "c"};
  return words;
}

Ty Generator::anyTy() {
  if (chance(0.15))
    return chance(0.5) ? Ty::Letters : Ty::Open;
  return static_cast<Ty>(pick(3));
}

/// Whether a sequence of `ty` can be made here: inside a helper, letters
/// come only from a parameter (the input `w` belongs to main).
bool Generator::canMake(Ty ty) const {
  if (ty != Ty::Letters || !helperParams)
    return true;
  return std::find(helperParams->begin(), helperParams->end(), ty) != helperParams->end();
}

NodePtr Generator::literal(Ty ty) {
  if (isToken(ty)) {
    static const char *kOpen[] = {"a", "x", "yy", "no"};
    NodePtr n = node(Op::StringLit, ty);
    n->sval = ty == Ty::Letters ? letters()[pick(3)] : kOpen[pick(4)];
    return n;
  }
  if (ty == Ty::Bool) {
    NodePtr n = node(Op::BoolLit, ty);
    n->ival = chance(0.5);
    return n;
  }
  if (ty == Ty::Int) {
    static const int64_t kInts[] = {0, 1, 2, 3, -1, -2, 5, 7, 100, 1000000007,
                                    4611686018427387904LL, -2147483648LL};
    NodePtr n = node(Op::IntLit, ty);
    n->ival = kInts[pick(std::size(kInts))];
    return n;
  }
  static const float kFloats[] = {0.0f, 1.0f, 0.5f, -1.5f, 2.0f, 3.25f, 1e30f,
                                  -1e-3f, 1e-30f, 100.0f};
  NodePtr n = node(Op::FloatLit, ty);
  n->fval = kFloats[pick(std::size(kFloats))];
  return n;
}

NodePtr Generator::leafSeq(Ty ty) {
  if (helperParams) {
    // Inside a helper: its parameters, indices, and what follows from them.
    std::vector<int> matching;
    for (size_t i = 0; i < helperParams->size(); ++i)
      if ((*helperParams)[i] == ty)
        matching.push_back(static_cast<int>(i));
    if (!matching.empty() && chance(0.8)) {
      NodePtr n = node(Op::HelperParam, ty);
      n->ival = matching[pick(matching.size())];
      return n;
    }
    if (ty == Ty::Int)
      return node(Op::Indices, ty);
    if (ty == Ty::Float)
      return node(Op::ToFloat, ty, leafSeq(Ty::Int));
    if (ty == Ty::Open)
      return openMap(leafSeq(Ty::Int));
    return node(kComparisons[pick(6)], ty, leafSeq(numericTy()), literal(Ty::Int));
  }
  std::vector<int> lets;
  for (size_t i = 0; i < current->lets.size(); ++i)
    if (current->lets[i]->ty == ty)
      lets.push_back(static_cast<int>(i));
  if (!lets.empty() && chance(0.4)) {
    NodePtr n = node(Op::LetRef, ty);
    n->ival = lets[pick(lets.size())];
    return n;
  }
  switch (ty) {
  case Ty::Int:
    return node(chance(0.6) ? Op::Tokens : Op::Indices, ty);
  case Ty::Float:
    return chance(0.7) ? node(Op::X, ty) : node(Op::ToFloat, ty, leafSeq(Ty::Int));
  case Ty::Bool:
    return node(kComparisons[pick(6)], ty, leafSeq(numericTy()), literal(Ty::Int));
  case Ty::Letters:
    return node(Op::W, ty);
  case Ty::Open:
    return openMap(chance(0.5) ? node(Op::W, Ty::Letters) : leafSeq(Ty::Int));
  case Ty::Sel:
    break;
  }
  return selector(0);
}

/// Sequence-level expressions. `scalar` builds the same element-wise
/// operations over a lambda's parameters; sequence-level operands may also
/// be a constant or `length`, on one side only.
NodePtr Generator::seq(Ty ty, int depth) {
  if (depth <= 0 || chance(0.2))
    return leafSeq(ty);
  auto operand = [&](Ty t) -> NodePtr {
    if (t != Ty::Bool && chance(0.25))
      return t == Ty::Int && chance(0.3) ? node(Op::Length, Ty::Int) : literal(t);
    return seq(t, depth - 1);
  };
  // A binary operation with at most one constant side.
  auto binary = [&](Op op, Ty ty, Ty a, Ty b) {
    NodePtr l = seq(a, depth - 1), r = operand(b);
    if (chance(0.5) && a == b)
      std::swap(l, r);
    return node(op, ty, std::move(l), std::move(r));
  };
  auto map = [&](Ty ty) {
    NodePtr n = node(Op::Map, ty);
    int arity = 1 + pick(chance(0.3) ? 3 : 1);
    for (int i = 0; i < arity; ++i) {
      Ty t = anyTy();
      if (!canMake(t))
        t = Ty::Int;
      n->paramTys.push_back(t);
      n->kids.push_back(seq(t, depth - 1));
    }
    n->kids.push_back(scalar(ty, 2, n->paramTys));
    return n;
  };
  switch (ty) {
  case Ty::Int:
    switch (pick(12)) {
    case 0: return binary(Op::Add, ty, ty, ty);
    case 1: return binary(Op::Sub, ty, ty, ty);
    case 2: return binary(Op::Mul, ty, ty, ty);
    case 3: return binary(Op::Mod, ty, ty, ty);
    case 4: return node(chance(0.5) ? Op::Neg : Op::Abs, ty, seq(ty, depth - 1));
    case 5: return node(Op::ToInt, ty, seq(chance(0.7) ? Ty::Float : Ty::Bool, depth - 1));
    case 6: return binary(chance(0.5) ? Op::Max : Op::Min, ty, ty, ty);
    case 7: return node(Op::Cond, ty, seq(ty, depth - 1), seq(Ty::Bool, depth - 1), operand(ty));
    case 8: return map(ty);
    case 9: return chance(0.5) ? node(Op::Width, ty, selector(depth - 1)) : call(ty, depth);
    case 10: return lookup(ty, depth);
    default: {
      NodePtr n = node(Op::Aggregate, ty, oneKeySelector(depth - 1), seq(ty, depth - 1));
      if (chance(0.3))
        n->kids.push_back(literal(ty)); // default=
      return n;
    }
    }
  case Ty::Float:
    switch (pick(12)) {
    case 0: return binary(Op::Add, ty, ty, numericTy());
    case 1: return binary(Op::Sub, ty, numericTy(), ty);
    case 2: return binary(Op::Mul, ty, ty, numericTy());
    case 3: return binary(Op::Div, ty, numericTy(), numericTy());
    case 4: return node(chance(0.5) ? Op::Neg : Op::Abs, ty, seq(ty, depth - 1));
    case 5: return node(Op::ToFloat, ty, seq(chance(0.7) ? Ty::Int : Ty::Bool, depth - 1));
    case 6: {
      static const Op kMath[] = {Op::Exp, Op::Sqrt, Op::Tanh};
      return node(kMath[pick(3)], ty, seq(ty, depth - 1));
    }
    case 7: return binary(chance(0.5) ? Op::Max : Op::Min, ty, ty, numericTy());
    case 8: return node(Op::Cond, ty, seq(numericTy(), depth - 1), seq(Ty::Bool, depth - 1),
                        operand(ty));
    case 9: return chance(0.7) ? map(ty) : call(ty, depth);
    case 10: return lookup(ty, depth);
    default: {
      NodePtr values = seq(chance(0.8) ? numericTy() : Ty::Bool, depth - 1);
      bool numerical = values->ty != Ty::Float || chance(0.8);
      NodePtr n = node(Op::Aggregate, ty,
                       numerical ? selector(depth - 1) : oneKeySelector(depth - 1),
                       std::move(values));
      n->numerical = numerical;
      if (chance(0.3))
        n->kids.push_back(literal(Ty::Float)); // default=
      return n;
    }
    }
  case Ty::Bool:
    switch (pick(7)) {
    case 0:
      if (NodePtr n = tokenComparison(depth))
        return n;
      [[fallthrough]];
    case 1: return binary(kComparisons[pick(6)], ty, numericTy(), numericTy());
    case 2: return binary(chance(0.5) ? Op::And : Op::Or, ty, ty, ty);
    case 3: return node(Op::Not, ty, seq(ty, depth - 1));
    case 4: return chance(0.7) ? map(ty) : call(ty, depth);
    case 5: return lookup(ty, depth);
    default: {
      NodePtr n = node(Op::Aggregate, ty, oneKeySelector(depth - 1), seq(ty, depth - 1));
      if (chance(0.3))
        n->kids.push_back(literal(ty)); // default=
      return n;
    }
    }
  case Ty::Letters:
  case Ty::Open: {
    auto tokenOperand = [&] { return chance(0.3) ? literal(ty) : seq(ty, depth - 1); };
    switch (pick(4)) {
    case 0:
      return node(Op::Cond, ty, seq(ty, depth - 1), seq(Ty::Bool, depth - 1), tokenOperand());
    case 1: {
      NodePtr n = node(Op::Aggregate, ty, oneKeySelector(depth - 1), seq(ty, depth - 1));
      if (chance(0.2))
        n->kids.push_back(literal(ty)); // default=
      return n;
    }
    case 2:
      // A map of literals gives open tokens (a string literal takes its
      // vocabulary from the other branch only); lookup tables hold numbers
      // and bools only.
      if (ty == Ty::Open)
        return openMap(seq(canMake(Ty::Letters) && chance(0.5) ? Ty::Letters : Ty::Int,
                           depth - 1));
      return leafSeq(ty);
    default:
      return leafSeq(ty);
    }
  }
  case Ty::Sel:
    break;
  }
  return selector(depth);
}

NodePtr Generator::tokenComparison(int depth) {
  Ty t = chance(0.5) ? Ty::Letters : Ty::Open;
  if (!canMake(t))
    return nullptr;
  NodePtr l = seq(t, depth - 1);
  NodePtr r = chance(0.5) ? literal(t) : seq(t, depth - 1);
  return node(chance(0.5) ? Op::Eq : Op::Ne, Ty::Bool, std::move(l), std::move(r));
}

NodePtr Generator::scalar(Ty ty, int depth, const std::vector<Ty> &params) {
  std::vector<int> matching;
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i] == ty || (ty == Ty::Float && params[i] == Ty::Int))
      matching.push_back(static_cast<int>(i));
  if (depth <= 0 || chance(0.3)) {
    if (matching.empty() || chance(0.15))
      return literal(ty);
    int i = matching[pick(matching.size())];
    NodePtr p = node(Op::Param, params[i]);
    p->ival = i;
    return p->ty == ty ? std::move(p) : node(Op::ToFloat, ty, std::move(p));
  }
  NodePtr n = scalarOp(ty, depth, params);
  // An operation on constants alone would be folded at compile time, where
  // `5 % 0` and `sqrt(-1.0)` are errors: give it a parameter.
  if (!hasParam(*n))
    n->kids[0] = paramLeaf(n->kids[0]->ty, params);
  return n;
}

bool Generator::hasParam(const Node &n) {
  if (n.op == Op::Param)
    return true;
  for (const NodePtr &kid : n.kids)
    if (hasParam(*kid))
      return true;
  return false;
}

NodePtr Generator::paramLeaf(Ty ty, const std::vector<Ty> &params) {
  int i = pick(params.size());
  NodePtr p = node(Op::Param, params[i]);
  p->ival = i;
  if (params[i] == ty)
    return p;
  if (isToken(ty)) { // "x" if <the parameter's test> else "yy" (of its type)
    NodePtr test = paramLeaf(Ty::Bool, params);
    return node(Op::Cond, ty, literal(ty), std::move(test), literal(ty));
  }
  if (isToken(params[i])) { // a test of the word
    NodePtr word = literal(params[i]);
    NodePtr test = node(Op::Eq, Ty::Bool, std::move(p), std::move(word));
    if (ty == Ty::Bool)
      return test;
    return node(ty == Ty::Int ? Op::ToInt : Op::ToFloat, ty, std::move(test));
  }
  switch (ty) {
  case Ty::Int:
    return node(Op::ToInt, ty, std::move(p));
  case Ty::Float:
    return node(Op::ToFloat, ty, std::move(p));
  default:
    if (params[i] == Ty::Bool)
      return p;
    return node(kComparisons[pick(6)], ty, std::move(p), literal(Ty::Int));
  }
}

NodePtr Generator::scalarOp(Ty ty, int depth, const std::vector<Ty> &params) {
  if (isToken(ty)) // a word, a parameter of this type, or a choice of them
    return node(Op::Cond, ty, scalar(ty, depth - 1, params), scalar(Ty::Bool, depth - 1, params),
                scalar(ty, depth - 1, params));
  auto sub = [&](Ty t) { return scalar(t, depth - 1, params); };
  auto binary = [&](Op op, Ty ty, Ty a, Ty b) {
    return node(op, ty, sub(a), sub(b));
  };
  switch (ty) {
  case Ty::Int:
    switch (pick(7)) {
    case 0: return binary(Op::Add, ty, ty, ty);
    case 1: return binary(Op::Mul, ty, ty, ty);
    case 2: return binary(Op::Mod, ty, ty, ty);
    case 3: return binary(chance(0.5) ? Op::Sub : Op::Max, ty, ty, ty);
    case 4: return node(Op::ToInt, ty, sub(chance(0.7) ? Ty::Float : Ty::Bool));
    case 5: return node(Op::Cond, ty, sub(ty), sub(Ty::Bool), sub(ty));
    default: return node(chance(0.5) ? Op::Neg : Op::Abs, ty, sub(ty));
    }
  case Ty::Float:
    switch (pick(7)) {
    case 0: return binary(Op::Add, ty, ty, numericTy());
    case 1: return binary(Op::Mul, ty, numericTy(), ty);
    case 2: return binary(Op::Div, ty, numericTy(), numericTy());
    case 3: return binary(chance(0.5) ? Op::Min : Op::Sub, ty, ty, ty);
    case 4: {
      static const Op kMath[] = {Op::Exp, Op::Sqrt, Op::Tanh, Op::Abs, Op::Neg};
      return node(kMath[pick(5)], ty, sub(ty));
    }
    case 5: return node(Op::Cond, ty, sub(ty), sub(Ty::Bool), sub(numericTy()));
    default: return node(Op::ToFloat, ty, sub(Ty::Int));
    }
  case Ty::Bool:
    switch (pick(4)) {
    case 0:
      for (Ty t : params)
        if (isToken(t) && chance(0.6)) {
          NodePtr l = paramLeaf(t, params);
          return node(chance(0.5) ? Op::Eq : Op::Ne, ty, std::move(l), literal(t));
        }
      [[fallthrough]];
    case 1: return binary(kComparisons[pick(6)], ty, numericTy(), numericTy());
    case 2: return binary(chance(0.5) ? Op::And : Op::Or, ty, ty, ty);
    default: return node(Op::Not, ty, sub(ty));
    }
  case Ty::Sel:
    break;
  }
  return literal(Ty::Bool);
}

/// A call of a new helper `def` of one to three parameters, or of an
/// earlier one whose result has this type (with new arguments of its
/// parameters' types). Helpers are generic: Sema checks each call.
NodePtr Generator::call(Ty ty, int depth) {
  if (helperParams || depth <= 0)
    return leafSeq(ty); // helpers do not call helpers here
  std::vector<int> same;
  for (size_t i = 0; i < current->helpers.size(); ++i)
    if (current->helpers[i].body->ty == ty)
      same.push_back(static_cast<int>(i));
  int index;
  if (!same.empty() && chance(0.5)) {
    index = same[pick(same.size())];
  } else {
    Helper h;
    for (int i = 0, n = 1 + pick(3); i < n; ++i)
      h.params.push_back(static_cast<Ty>(pick(3)));
    helperParams = &h.params;
    h.body = seq(ty, depth);
    helperParams = nullptr;
    index = static_cast<int>(current->helpers.size());
    current->helpers.push_back(std::move(h));
  }
  NodePtr n = node(Op::Call, ty);
  n->ival = index;
  for (Ty t : current->helpers[index].params)
    n->kids.push_back(seq(t, depth - 1));
  return n;
}

/// Categorical aggregates move the one selected value; with several the
/// result is left open, so they mostly get a selector of at most one key.
NodePtr Generator::oneKeySelector(int depth) {
  if (chance(0.3))
    return selector(depth);
  NodePtr n = node(Op::Select, Ty::Sel, node(Op::Indices, Ty::Int), seq(Ty::Int, depth - 1));
  n->cmp = Op::Eq;
  return n;
}

/// `lookup(key, {k: v, ...}, default=d)` with distinct constant keys.
NodePtr Generator::lookup(Ty ty, int depth) {
  Ty keyTy = chance(0.6) ? Ty::Int : chance(0.5) && canMake(Ty::Letters) ? Ty::Letters : Ty::Float;
  NodePtr n = node(Op::Lookup, ty, seq(keyTy, depth - 1));
  std::vector<std::string> seen;
  for (int i = 0, entries = 1 + pick(3); i < entries; ++i) {
    NodePtr key = literal(keyTy);
    std::string spelled = key->op == Op::IntLit     ? std::to_string(key->ival)
                          : key->op == Op::StringLit ? key->sval
                                                     : std::to_string(key->fval);
    if (std::find(seen.begin(), seen.end(), spelled) != seen.end())
      continue;
    seen.push_back(spelled);
    n->kids.push_back(std::move(key));
    n->kids.push_back(literal(ty));
  }
  n->kids.push_back(literal(ty));
  return n;
}

NodePtr Generator::selector(int depth) {
  if (depth > 0 && chance(0.2)) {
    if (chance(0.3))
      return node(Op::SelNot, Ty::Sel, selector(depth - 1));
    return node(chance(0.5) ? Op::SelAnd : Op::SelOr, Ty::Sel, selector(depth - 1),
                selector(depth - 1));
  }
  if (chance(0.1) && canMake(Ty::Letters)) {
    // Tokens are compared with == and != only.
    NodePtr n = node(Op::Select, Ty::Sel, seq(Ty::Letters, depth - 1),
                     seq(Ty::Letters, depth - 1));
    n->cmp = chance(0.5) ? Op::Eq : Op::Ne;
    return n;
  }
  Ty t = chance(0.75) ? Ty::Int : Ty::Float;
  NodePtr n = node(Op::Select, Ty::Sel, seq(t, depth - 1), seq(t, depth - 1));
  double r = std::uniform_real_distribution<>(0, 1)(rng);
  if (r < 0.6) {
    n->cmp = kComparisons[pick(6)];
  } else if (r < 0.7) {
    n->bareTrue = true;
  } else {
    n->paramTys = {t, t};
    n->lambda = chance(0.5);
    n->kids.push_back(scalar(Ty::Bool, 2, n->paramTys));
  }
  return n;
}

//===----------------------------------------------------------------------===//
// Printing
//===----------------------------------------------------------------------===//

namespace {

std::string floatLiteral(float v) {
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e6f)
    std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(v));
  else
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  std::string s = buf;
  if (auto e = s.find("e+"); e != std::string::npos)
    s.erase(e + 1, 1);
  return s[0] == '-' ? "(" + s + ")" : s;
}

const char *spelling(Op op) {
  switch (op) {
  case Op::Add: return "+";
  case Op::Sub: return "-";
  case Op::Mul: return "*";
  case Op::Div: return "/";
  case Op::Mod: return "%";
  case Op::Eq: return "==";
  case Op::Ne: return "!=";
  case Op::Lt: return "<";
  case Op::Le: return "<=";
  case Op::Gt: return ">";
  case Op::Ge: return ">=";
  case Op::And: case Op::SelAnd: return "and";
  case Op::Or: case Op::SelOr: return "or";
  case Op::Max: return "max";
  case Op::Min: return "min";
  case Op::ToInt: return "int";
  case Op::ToFloat: return "float";
  case Op::Exp: return "exp";
  case Op::Sqrt: return "sqrt";
  case Op::Tanh: return "tanh";
  case Op::Abs: return "abs";
  default: return "?";
  }
}

struct Printer {
  /// Parameter names of the lambda or predicate being printed.
  std::vector<std::string> params;

  std::string operator()(const Node &n) {
    switch (n.op) {
    case Op::Tokens: return "tokens";
    case Op::X: return "x";
    case Op::W: return "w";
    case Op::StringLit: return "\"" + n.sval + "\"";
    case Op::Indices: return "indices";
    case Op::Length: return "length";
    case Op::IntLit:
      // INT_MIN-like literals do not fit as written; spell them as a difference.
      return n.ival < 0 ? "(-" + std::to_string(-n.ival) + ")" : std::to_string(n.ival);
    case Op::FloatLit: return floatLiteral(n.fval);
    case Op::BoolLit: return n.ival ? "true" : "false";
    case Op::Param: return params[n.ival];
    case Op::LetRef: return "v" + std::to_string(n.ival);
    case Op::HelperParam: return "a" + std::to_string(n.ival);
    case Op::Call: {
      std::string s = "h" + std::to_string(n.ival) + "(";
      for (size_t i = 0; i < n.kids.size(); ++i)
        s += (i ? ", " : "") + (*this)(*n.kids[i]);
      return s + ")";
    }
    case Op::Neg: return "(-" + (*this)(*n.kids[0]) + ")";
    case Op::Not: return "(not " + (*this)(*n.kids[0]) + ")";
    case Op::SelNot: return "(not " + (*this)(*n.kids[0]) + ")";
    case Op::Add: case Op::Sub: case Op::Mul: case Op::Div: case Op::Mod:
    case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
    case Op::And: case Op::Or: case Op::SelAnd: case Op::SelOr:
      return "(" + (*this)(*n.kids[0]) + " " + spelling(n.op) + " " + (*this)(*n.kids[1]) + ")";
    case Op::Cond:
      return "(" + (*this)(*n.kids[0]) + " if " + (*this)(*n.kids[1]) + " else " +
             (*this)(*n.kids[2]) + ")";
    case Op::Max: case Op::Min:
      return std::string(spelling(n.op)) + "(" + (*this)(*n.kids[0]) + ", " +
             (*this)(*n.kids[1]) + ")";
    case Op::ToInt: case Op::ToFloat: case Op::Exp: case Op::Sqrt: case Op::Tanh:
    case Op::Abs:
      return std::string(spelling(n.op)) + "(" + (*this)(*n.kids[0]) + ")";
    case Op::Map: {
      size_t arity = n.paramTys.size();
      std::string s = arity == 1 ? "map(" : "sequence_map(";
      std::vector<std::string> names;
      for (size_t i = 0; i < arity; ++i) {
        s += (*this)(*n.kids[i]) + ", ";
        names.push_back("p" + std::to_string(i));
      }
      std::string list;
      for (size_t i = 0; i < arity; ++i)
        list += (i ? ", " : "") + names[i];
      s += arity == 1 ? list + " => " : "(" + list + ") => ";
      std::swap(params, names);
      s += (*this)(*n.kids[arity]) + ")";
      std::swap(params, names);
      return s;
    }
    case Op::Select: {
      std::string s = "select(" + (*this)(*n.kids[0]) + ", " + (*this)(*n.kids[1]) + ", ";
      if (n.bareTrue)
        return s + "true)";
      if (n.kids.size() == 2)
        return s + spelling(n.cmp) + ")";
      std::vector<std::string> names = n.lambda ? std::vector<std::string>{"k", "q"}
                                                : std::vector<std::string>{"key", "query"};
      std::swap(params, names);
      std::string body = (*this)(*n.kids[2]);
      std::swap(params, names);
      return s + (n.lambda ? "(k, q) => " : "") + body + ")";
    }
    case Op::Aggregate:
      return "aggregate(" + (*this)(*n.kids[0]) + ", " +
             (n.numerical ? "numerical(" : "categorical(") + (*this)(*n.kids[1]) + ")" +
             (n.kids.size() > 2 ? ", default=" + (*this)(*n.kids[2]) : "") + ")";
    case Op::Width: return "selector_width(" + (*this)(*n.kids[0]) + ")";
    case Op::Lookup: {
      std::string s = "lookup(" + (*this)(*n.kids[0]) + ", {";
      for (size_t i = 1; i + 1 < n.kids.size(); i += 2)
        s += (i > 1 ? ", " : "") + (*this)(*n.kids[i]) + ": " + (*this)(*n.kids[i + 1]);
      return s + "}, default=" + (*this)(*n.kids.back()) + ")";
    }
    }
    return "?";
  }
};

} // namespace

std::string print(const Node &n, const std::vector<std::string> &params) {
  Printer printer;
  printer.params = params;
  return printer(n);
}

std::string Program::source() const {
  std::string s;
  Printer print;
  for (size_t i = 0; i < helpers.size(); ++i) {
    s += "def h" + std::to_string(i) + "(";
    for (size_t p = 0; p < helpers[i].params.size(); ++p)
      s += (p ? ", a" : "a") + std::to_string(p);
    s += ") {\n  return " + print(*helpers[i].body) + ";\n}\n";
  }
  s = "vocab letters = {\"a\", \"b\", \"c\"};\n" + s;
  s += "def main(tokens: int, x: float, w: letters) {\n";
  for (size_t i = 0; i < lets.size(); ++i)
    s += "  let v" + std::to_string(i) + " = " + print(*lets[i]) + ";\n";
  s += "  return v" + std::to_string(lets.size() - 1) + ";\n}\n";
  return s;
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

AttentionProgram Generator::attention() {
  AttentionProgram a;
  static const int kHeads[] = {1, 2, 4};
  static const int kDims[] = {1, 3, 4, 8, 16, 32, 64};
  a.heads = kHeads[pick(3)];
  a.keyHeads = chance(0.3) ? a.heads : (chance(0.5) ? 1 : std::max(1, a.heads / 2));
  a.dim = kDims[pick(std::size(kDims))];
  a.valueDim = chance(0.7) ? a.dim : kDims[pick(std::size(kDims))];
  a.cross = chance(0.2);
  static const Norm kNorms[] = {Norm::Softmax, Norm::Softmax, Norm::Softmax, Norm::Mean,
                                Norm::Sigmoid, Norm::LinearElu, Norm::LinearRelu,
                                Norm::LinearExp};
  a.norm = kNorms[pick(std::size(kNorms))];
  bool linear = a.norm == Norm::LinearElu || a.norm == Norm::LinearRelu ||
                a.norm == Norm::LinearExp;
  a.usesDoc = chance(0.3);
  // Mask parameters: head, query_pos, key_pos[, doc[key_pos], doc[query_pos]].
  std::vector<Ty> maskParams(a.usesDoc ? 5 : 3, Ty::Int);
  double r = std::uniform_real_distribution<>(0, 1)(rng);
  if (r < 0.1) {
    a.maskTrue = true;
  } else if (r < 0.3) {
    a.bareCmp = kComparisons[pick(6)];
  } else {
    a.mask = scalar(Ty::Bool, 3, maskParams);
    if (!hasParam(*a.mask)) // a constant; `false` is a compile-time error
      a.mask = nullptr;
  }
  if (!a.mask)
    a.usesDoc = false;
  if (a.usesDoc) {
    // Only a mask that reads doc[...] declares it.
    std::function<bool(const Node &)> readsDoc = [&](const Node &n) {
      if (n.op == Op::Param && n.ival >= 3)
        return true;
      for (const NodePtr &kid : n.kids)
        if (readsDoc(*kid))
          return true;
      return false;
    };
    a.usesDoc = readsDoc(*a.mask);
  }
  if (!linear && a.norm != Norm::Mean && chance(0.6)) { // neither reads a score
    std::vector<Ty> scoreParams(a.usesDoc ? 6 : 4, Ty::Int);
    scoreParams[0] = Ty::Float;
    if (chance(0.5)) {
      // The usual forms: a scaled dot product, optionally plus a bias.
      NodePtr dot = node(Op::Param, Ty::Float);
      NodePtr scale = node(Op::FloatLit, Ty::Float);
      static const float kScales[] = {0.125f, 0.5f, 1.0f, 2.0f, 0.03125f};
      scale->fval = kScales[pick(std::size(kScales))];
      a.score = node(Op::Mul, Ty::Float, std::move(dot), std::move(scale));
      if (chance(0.5))
        a.score = node(Op::Add, Ty::Float, std::move(a.score),
                       node(Op::ToFloat, Ty::Float, scalar(Ty::Int, 2, scoreParams)));
    } else {
      a.score = scalar(Ty::Float, 2, scoreParams);
    }
  }
  return a;
}

namespace {

const char *spelling(Norm n) {
  switch (n) {
  case Norm::Softmax: return "softmax";
  case Norm::Mean: return "mean";
  case Norm::Sigmoid: return "sigmoid";
  case Norm::LinearElu: return "linear(elu_plus_one)";
  case Norm::LinearRelu: return "linear(relu)";
  case Norm::LinearExp: return "linear(exp)";
  }
  return "?";
}

} // namespace

std::string AttentionProgram::source() const {
  auto str = [](int v) { return std::to_string(v); };
  std::string keyLen = cross ? "S" : "T";
  std::string s = "model main(q: f32[T, " + str(heads * dim) + "], k: f32[" + keyLen + ", " +
                  str(keyHeads * dim) + "], v: f32[" + keyLen + ", " +
                  str(keyHeads * valueDim) + "]" + (usesDoc ? ", doc: i32[T]" : "") +
                  ") -> f32[T, " + str(heads * valueDim) + "] {\n";
  s += "  let qh = heads(q, " + str(heads) + ");\n";
  s += "  let kh = heads(k, " + str(keyHeads) + ");\n";
  std::vector<std::string> names = {"head", "query_pos", "key_pos", "doc[key_pos]",
                                    "doc[query_pos]"};
  std::string maskText = maskTrue ? "true" : mask ? print(*mask, names) : spelling(bareCmp);
  s += "  let s = select(kh, qh, " + maskText + ")";
  if (score) {
    names.insert(names.begin(), "dot(qh, kh)");
    s += " scored " + print(*score, names);
  }
  s += ";\n  return merge_heads(aggregate(s, heads(v, " + str(keyHeads) + "), " +
       spelling(norm) + "));\n}\n";
  return s;
}

//===----------------------------------------------------------------------===//
// Models
//===----------------------------------------------------------------------===//

ModelProgram Generator::model() {
  static const int kWidths[] = {1, 2, 3, 4, 8, 15, 16, 17, 32, 33, 64, 100};
  auto width = [&] { return kWidths[pick(std::size(kWidths))]; };
  ModelProgram m;
  m.inputWidth = width();
  if (chance(0.3)) {
    static const int kVocabs[] = {1, 5, 1000};
    m.vocab = kVocabs[pick(3)];
    // 100 rows: the 130-position inputs are rejected, by name.
    m.positionRows = chance(0.5) ? (chance(0.5) ? 100 : 256) : 0;
  }
  std::vector<int> widths = {m.inputWidth}; // of h0, h1, ...
  for (int i = 0, n = 1 + pick(5); i < n; ++i) {
    ModelStep s;
    int c = widths.back();
    s.width = c;
    switch (pick(10)) {
    case 0: s.kind = ModelStep::MatMul; s.width = width(); break;
    case 1:
      s.kind = ModelStep::Linear;
      s.width = width();
      s.bias = chance(0.7);
      break;
    case 2: s.kind = ModelStep::Bias; break;
    case 3: {
      static const float kConstants[] = {0.5f, 2.0f, -1.0f, 0.125f};
      s.kind = ModelStep::Scale;
      s.constant = kConstants[pick(std::size(kConstants))];
      break;
    }
    case 4: {
      static const char *kFunctions[] = {"relu", "gelu", "silu", "sigmoid", "tanh", "abs"};
      s.kind = ModelStep::Activation;
      s.function = kFunctions[pick(std::size(kFunctions))];
      break;
    }
    case 5: s.kind = ModelStep::LayerNorm; break;
    case 6: s.kind = ModelStep::RmsNorm; break;
    case 7: s.kind = ModelStep::L2Normalize; break;
    case 8: {
      s.kind = ModelStep::Attention;
      static const int kHeads[] = {1, 2, 4};
      s.heads = kHeads[pick(3)];
      if (c % s.heads != 0)
        s.heads = 1;
      s.causal = chance(0.7);
      static const float kScales[] = {0.125f, 0.5f, 1.0f};
      s.constant = kScales[pick(3)];
      if ((c / s.heads) % 2 == 0 && chance(0.4))
        s.ropeBase = chance(0.5) ? 10000.0f : 100.0f;
      break;
    }
    default: {
      std::vector<int> same;
      for (size_t j = 0; j + 1 < widths.size(); ++j)
        if (widths[j] == c)
          same.push_back(static_cast<int>(j));
      if (same.empty()) {
        s.kind = ModelStep::Bias;
      } else {
        s.kind = ModelStep::Residual;
        s.from = same[pick(same.size())];
      }
      break;
    }
    }
    widths.push_back(s.width);
    m.steps.push_back(s);
  }
  if (chance(0.3)) {
    m.pool = static_cast<ModelProgram::Pool>(1 + pick(3));
    m.poolMask = chance(0.5);
  }
  m.helpers = chance(0.4);
  return m;
}

std::vector<ModelProgram::Param> ModelProgram::params() const {
  std::vector<Param> out;
  int c = inputWidth;
  if (vocab > 0) {
    out.push_back({"emb", {vocab, c}});
    if (positionRows > 0)
      out.push_back({"pos", {positionRows, c}});
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    const ModelStep &s = steps[i];
    std::string n = std::to_string(i);
    switch (s.kind) {
    case ModelStep::MatMul: out.push_back({"w" + n, {c, s.width}}); break;
    case ModelStep::Linear:
      out.push_back({"w" + n, {s.width, c}});
      if (s.bias)
        out.push_back({"b" + n, {s.width}});
      break;
    case ModelStep::Bias: out.push_back({"b" + n, {c}}); break;
    case ModelStep::LayerNorm:
      out.push_back({"g" + n, {c}});
      out.push_back({"b" + n, {c}});
      break;
    case ModelStep::RmsNorm: out.push_back({"g" + n, {c}}); break;
    default: break;
    }
    c = s.width;
  }
  return out;
}

std::string ModelProgram::source() const {
  auto str = [](int64_t v) { return std::to_string(v); };
  std::string result = pool != None ? "f32[" + str(width()) + "]"
                                    : "f32[T, " + str(width()) + "]";
  std::string input = vocab > 0 ? "ids: i32[T]" : "x: f32[T, " + str(inputWidth) + "]";
  std::string s = "model main(" + input + (pool != None && poolMask ? ", m: i32[T]" : "") +
                  ") -> " + result + " {\n";
  // Step i's weights end in i (w0, b0, g0); with helpers, its def declares them.
  auto declare = [&](const Param &p) {
    std::string d = "  param " + p.name + ": f32[";
    for (size_t i = 0; i < p.shape.size(); ++i)
      d += (i ? ", " : "") + str(p.shape[i]);
    return d + "];\n";
  };
  auto stepOf = [](const Param &p) {
    return std::isdigit(static_cast<unsigned char>(p.name.back())) ? std::stoi(p.name.substr(1))
                                                                  : -1;
  };
  std::vector<Param> all = params();
  for (const Param &p : all)
    if (!helpers || stepOf(p) < 0)
      s += declare(p);
  std::string defs;
  if (vocab == 0)
    s += "  let h0 = x;\n";
  else if (positionRows == 0)
    s += "  let h0 = embed(ids, emb);\n";
  else
    s += "  let h0 = embed(ids, emb) + embed(positions(ids), pos);\n";
  for (size_t i = 0; i < steps.size(); ++i) {
    const ModelStep &st = steps[i];
    std::string h = "h" + str(i), n = str(i), e;
    std::string body; // the step's own lets
    switch (st.kind) {
    case ModelStep::MatMul: e = h + " @ w" + n; break;
    case ModelStep::Linear:
      e = "linear(" + h + ", w" + n + (st.bias ? ", b" + n : "") + ")";
      break;
    case ModelStep::Bias: e = h + " + b" + n; break;
    case ModelStep::Scale: e = h + " * " + floatLiteral(st.constant); break;
    case ModelStep::Activation: e = st.function + "(" + h + ")"; break;
    case ModelStep::LayerNorm: e = "layernorm(" + h + ", g" + n + ", b" + n + ", eps=1e-5)"; break;
    case ModelStep::RmsNorm: e = "rmsnorm(" + h + ", g" + n + ", eps=1e-6)"; break;
    case ModelStep::L2Normalize: e = "l2_normalize(" + h + ")"; break;
    case ModelStep::Residual: e = h + " + h" + str(st.from); break;
    case ModelStep::Attention: {
      std::string hh = h + "h", qk = hh;
      body += "  let " + hh + " = heads(" + h + ", " + str(st.heads) + ");\n";
      if (st.ropeBase > 0) {
        qk = h + "r";
        body += "  let " + qk + " = rope(" + hh + ", base=" + floatLiteral(st.ropeBase) + ");\n";
      }
      e = "merge_heads(aggregate(select(" + qk + ", " + qk + ", " +
          (st.causal ? "<=" : "true") + ") scored dot(" + qk + ", " + qk + ") * " +
          floatLiteral(st.constant) + ", " + hh + ", softmax))";
      break;
    }
    }
    if (helpers && st.kind != ModelStep::Residual) {
      defs += "def step" + n + "(" + h + ") {\n";
      for (const Param &p : all)
        if (stepOf(p) == static_cast<int>(i))
          defs += declare(p);
      defs += body + "  return " + e + ";\n}\n";
      e = "step" + n + "(" + h + ")";
    } else {
      s += body;
    }
    s += "  let h" + str(i + 1) + " = " + e + ";\n";
  }
  std::string last = "h" + str(steps.size());
  if (pool != None) {
    static const char *kPools[] = {"", "sum_pool", "mean_pool", "max_pool"};
    last = std::string(kPools[pool]) + "(" + last + (poolMask ? ", mask=m" : "") + ")";
  }
  return defs + s + "  return " + last + ";\n}\n";
}

} // namespace raspc::fuzz
