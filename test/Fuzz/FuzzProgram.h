//===- FuzzProgram.h - random sequence programs and their meaning -*- C++ -*-===//
//
// The differential fuzzer's own model of the language: a typed tree that the
// generator builds at random, prints as raspc source, and evaluates by the
// rules of docs/language.md. Nothing here uses the front end, MLIR or the
// JIT, so the whole compiler (parser, Sema, MLIRGen, every pass, the
// runtime) is what the fuzzer checks.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_TEST_FUZZ_FUZZPROGRAM_H
#define RASPC_TEST_FUZZ_FUZZPROGRAM_H

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace raspc::fuzz {

/// Element types of sequences, and selectors. Tokens come in two kinds:
/// words of the closed vocabulary `letters` (the input `w`), and open
/// `token`s that maps and lookups make from string literals.
enum class Ty { Int, Float, Bool, Sel, Letters, Open };

inline bool isToken(Ty t) { return t == Ty::Letters || t == Ty::Open; }

/// The closed vocabulary of the input `w`.
const std::vector<std::string> &letters();

/// Token values in the reference are ids of their words here; -1 is "no
/// token" (what a categorical aggregate that selects nothing reads).
int64_t tokenId(const std::string &word);
const std::string &tokenWord(int64_t id);

enum class Op {
  // Leaves.
  Tokens,  // the `tokens: int` input
  X,       // the `x: float` input
  W,       // the `w: letters` input
  StringLit,
  Indices,
  Length,
  IntLit,
  FloatLit,
  BoolLit,
  Param,   // a lambda's (or a select predicate's) parameter number `index`
  LetRef,  // the `let` number `index`
  HelperParam, // inside a helper `def`: its parameter number `index`
  // Element-wise, on sequences and inside lambdas.
  Neg, Not, Add, Sub, Mul, Div, Mod,
  Eq, Ne, Lt, Le, Gt, Ge, And, Or,
  Cond,    // kids: then, cond, otherwise
  Max, Min, ToInt, ToFloat, Exp, Sqrt, Tanh, Abs,
  Lookup,  // kids: key, then pairs of constant key and value, then default
  // Sequence built-ins.
  Map,     // kids: sequences..., then the body (in the lambda's scope)
  Select,  // kids: keys, queries[, predicate body]; `cmp` when bare
  SelAnd, SelOr, SelNot,
  Aggregate, // kids: selector, values[, default]; `numerical` says how
  Width,
  Call,      // of helper `index`; kids: its arguments
};

struct Node {
  Op op;
  Ty ty;
  std::vector<std::unique_ptr<Node>> kids;
  int64_t ival = 0; // IntLit, BoolLit, Param/LetRef index
  float fval = 0;   // FloatLit
  std::string sval; // StringLit
  Op cmp = Op::Eq;  // Select with a bare comparison
  bool bareTrue = false; // Select(k, q, true)
  bool lambda = false;   // Select with `(k, q) => body` rather than `key ... query`
  bool numerical = false; // Aggregate
  /// Types of the parameters of a Map body or Select predicate.
  std::vector<Ty> paramTys;
};
using NodePtr = std::unique_ptr<Node>;

/// `def main(tokens: int, x: float) { let v0 = ...; ... return vN; }`
/// `def hN(a0, a1, ...) { return body; }`: generic, typed by each call.
struct Helper {
  std::vector<Ty> params;
  NodePtr body;
};

struct Program {
  std::vector<Helper> helpers;
  std::vector<NodePtr> lets; // the last one is returned
  Ty resultTy() const { return lets.back()->ty; }
  std::string source() const;
};

/// The attention normalizers of docs/language.md.
enum class Norm { Softmax, Mean, Sigmoid, LinearElu, LinearRelu, LinearExp };

/// One attention layer over its query, key and value inputs:
///
///   model main(q: f32[T, H*D], k: f32[S, Hk*D], v: f32[S, Hk*Dv][, doc: i32[T]])
///       -> f32[T, H*Dv] {
///     let qh = heads(q, H); let kh = heads(k, Hk);
///     let s = select(kh, qh, MASK) scored SCORE;
///     return merge_heads(aggregate(s, heads(v, Hk), NORM));
///   }
///
/// The mask and score are element-wise trees (Node) whose parameters are,
/// in order: [the dot product,] head, query_pos, key_pos, doc[key_pos],
/// doc[query_pos].
struct AttentionProgram {
  int heads = 1, keyHeads = 1, dim = 4, valueDim = 4;
  bool cross = false;  // keys and values of their own length S
  bool usesDoc = false;
  bool maskTrue = false;
  Op bareCmp = Op::Le; // when `mask` is null and !maskTrue
  NodePtr mask;
  NodePtr score;       // null: the raw dot product
  Norm norm = Norm::Softmax;
  std::string source() const;
};

/// One step of a model chain: the value `h<i+1>` made from `h<i>` (and,
/// for a residual, an earlier value of the same width).
struct ModelStep {
  enum Kind {
    MatMul,     // h @ w: [c, n]
    Linear,     // linear(h, w[, b]): w [n, c], b [n]
    Bias,       // h + b: [c]
    Scale,      // h * constant
    Activation, // relu, gelu, silu, sigmoid, tanh, abs
    LayerNorm,  // layernorm(h, g, b, eps=1e-5)
    RmsNorm,    // rmsnorm(h, g, eps=1e-6)
    L2Normalize,
    Residual,   // h + h<from>
    Attention,  // self-attention of h's heads: q = k = v = heads(h, H)
  } kind;
  int width = 0;  // columns after the step
  int from = -1;  // Residual
  bool bias = true; // Linear
  float constant = 1; // Scale; Attention: the score's scale
  std::string function; // Activation
  int heads = 1;        // Attention
  bool causal = true;   // Attention: `<=`, else `true`
  float ropeBase = 0;   // Attention: rope(q and k, base=) when nonzero
};

/// A small model: a chain of layers over `x: f32[T, C]`, optionally pooled
/// over positions (with a mask input) to `[D]` at the end.
struct ModelProgram {
  int inputWidth = 4;
  /// With a vocabulary, the input is `ids: i32[T]` and h0 is
  /// `embed(ids, emb)` (plus `embed(positions(ids), pos)` with position rows).
  int vocab = 0, positionRows = 0;
  std::vector<ModelStep> steps;
  enum Pool { None, Sum, Mean, Max } pool = None;
  bool poolMask = false;
  /// Each step but residuals in a helper `def step<i>(h<i>)` that declares
  /// the step's weights: the calls a compile turns into functions, and
  /// steps alike but for their weights share one.
  bool helpers = false;
  struct Param {
    std::string name;
    std::vector<int64_t> shape;
  };
  /// The parameters in declaration order, and each step's names for them.
  std::vector<Param> params() const;
  int width() const { return steps.empty() ? inputWidth : steps.back().width; }
  std::string source() const;
};

/// Makes well-typed random programs; the same seed gives the same programs.
class Generator {
public:
  explicit Generator(uint64_t seed) : rng(seed) {}
  Program program();
  AttentionProgram attention();
  ModelProgram model();

private:
  NodePtr seq(Ty ty, int depth);
  NodePtr scalar(Ty ty, int depth, const std::vector<Ty> &params);
  NodePtr scalarOp(Ty ty, int depth, const std::vector<Ty> &params);
  NodePtr paramLeaf(Ty ty, const std::vector<Ty> &params);
  static bool hasParam(const Node &n);
  NodePtr selector(int depth);
  NodePtr oneKeySelector(int depth);
  NodePtr lookup(Ty ty, int depth);
  NodePtr leafSeq(Ty ty);
  NodePtr literal(Ty ty);
  bool chance(double p) { return std::uniform_real_distribution<>(0, 1)(rng) < p; }
  int pick(int n) { return std::uniform_int_distribution<>(0, n - 1)(rng); }
  Ty numericTy() { return chance(0.5) ? Ty::Int : Ty::Float; }

  NodePtr call(Ty ty, int depth);
  /// A bool comparing tokens, or null where no token sequence can be made.
  NodePtr tokenComparison(int depth);
  bool canMake(Ty ty) const;
  Ty anyTy();

  std::mt19937_64 rng;
  Program *current = nullptr;
  /// The parameters of the helper being generated (none in main).
  const std::vector<Ty> *helperParams = nullptr;
};

/// One element of a reference result. `err` bounds how far the compiled
/// f32 value may lie from `f` (rounding, reassociated sums, approximate
/// exp/tanh); `unknown` marks elements the language leaves open (a
/// categorical aggregate over several keys) or that a rounding difference
/// could flip (a float comparison closer than `err`): those are not compared.
struct Val {
  int64_t i = 0; // Int, and Bool as 0/1
  float f = 0;   // Float
  double err = 0;
  bool unknown = false;

  static Val open() {
    Val v;
    v.unknown = true;
    return v;
  }
  static Val ofInt(int64_t i) {
    Val v;
    v.i = i;
    return v;
  }
  static Val ofFloat(float f, double err = 0) {
    Val v;
    v.f = f;
    v.err = err;
    return v;
  }
};
using Seq = std::vector<Val>;

/// A program's inputs.
struct Inputs {
  std::vector<int64_t> tokens;
  std::vector<float> x;
  std::vector<int32_t> w; // indices into letters()
};

/// The program's result on `in`, by the language's rules.
Seq evaluate(const Program &program, const Inputs &in);

/// An element-wise tree on its parameters' values (lambda bodies, masks,
/// scores).
Val evaluateScalar(const Node &n, const std::vector<Val> &params);

/// f of f32 operands (evaluated in double, rounded to f32) with a bound
/// from the ends of the operands' bounds; unknown where those ends differ
/// in NaN or Inf. Unary f ignores its second argument.
Val floatOp(const std::function<double(double, double)> &f, Val a, Val b = Val());

/// An element-wise tree as source, its parameters spelled `params`.
std::string print(const Node &n, const std::vector<std::string> &params);

struct AttentionInputs {
  int64_t queries = 0, keys = 0; // T and S
  std::vector<float> q, k, v;    // row-major [T, H*D], [S, Hk*D], [S, Hk*Dv]
  std::vector<int32_t> doc;      // [T]
};

/// The attention program's result [T, H*Dv] by the rules of
/// docs/language.md ("Attention", "Special values").
Seq evaluate(const AttentionProgram &program, const AttentionInputs &in);

struct ModelInputs {
  int64_t length = 0;
  std::vector<float> x;                    // [T, C]
  std::vector<int32_t> ids;                // [T], when the model embeds ids
  bool badId = false;                      // an id outside the table
  std::vector<int32_t> mask;               // [T], when the pool has one
  std::vector<std::vector<float>> params;  // in ModelProgram::params() order
};

/// The model's result ([T, width] or, pooled, [width]) by docs/language.md.
Seq evaluate(const ModelProgram &program, const ModelInputs &in);

} // namespace raspc::fuzz

#endif // RASPC_TEST_FUZZ_FUZZPROGRAM_H
