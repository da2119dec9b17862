//===- Program.h - a checked, elaborated program ----------------*- C++ -*-===//
//
// What Sema hands to MLIRGen: the entry point with every call to a `def`
// inlined, every name resolved and every value typed, as a graph of nodes.
// RASP programs are computation graphs in the first place (as in the RASP
// paper and Tracr); inlining at this level gives each instantiation of a
// generic `def` its own types.
//
// Per-element computations (map lambdas, select predicates, attention masks
// and score modifiers) are *bodies*: scalar expression trees whose leaves are
// Arg nodes (the element, or the query/key positions), constants, or values
// read from outside (the sequence length, an indexed input).
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_FRONTEND_PROGRAM_H
#define RASPC_FRONTEND_PROGRAM_H

#include "AST.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace raspc::program {

/// Element types of sequences and of scalars in bodies.
enum class Elem { Int, Float, Bool, Token };

/// Element types of model tensors.
enum class DType { F32, F16, BF16, I32 };

const char *spelling(Elem elem);
const char *spelling(DType dtype);

/// The strings a token sequence draws from; a token is its index here. An
/// open vocabulary (`token`) also accepts strings first seen at run time,
/// which the runtime appends.
struct Vocab {
  std::string name;
  std::vector<std::string> words;
  bool open = false;
  /// The id of `word`, adding it to an open vocabulary; -1 if a closed one
  /// lacks it.
  int64_t idOf(const std::string &word);
};

/// A static size, or a symbolic one such as `T`.
struct Dim {
  int64_t size = -1; // >= 0: static
  std::string symbol;
  bool isStatic() const { return size >= 0; }
  bool operator==(const Dim &other) const {
    return size == other.size && symbol == other.symbol;
  }
  bool operator!=(const Dim &other) const { return !(*this == other); }
  std::string str() const { return isStatic() ? std::to_string(size) : symbol; }
};

struct Type {
  enum class Kind {
    Error,       // a value whose errors were reported
    Scalar,      // one value (constant, the length, an element in a body)
    Sequence,    // one value per position (RASP)
    Selector,    // a RASP selector
    Tensor,      // a model tensor
    AttnSelector // a selector between attention queries and keys
  };
  Kind kind = Kind::Error;
  Elem elem = Elem::Int;          // Scalar, Sequence
  bool numerical = false;         // Sequence: RASP's numerical encoding
  Vocab *vocab = nullptr;         // Token scalars and sequences
  DType dtype = DType::F32;       // Tensor
  std::vector<Dim> dims;          // Tensor

  static Type error() { return Type(); }
  static Type scalar(Elem elem, Vocab *vocab = nullptr) {
    Type t;
    t.kind = Kind::Scalar;
    t.elem = elem;
    t.vocab = vocab;
    return t;
  }
  static Type sequence(Elem elem, bool numerical, Vocab *vocab = nullptr) {
    Type t = scalar(elem, vocab);
    t.kind = Kind::Sequence;
    t.numerical = numerical;
    return t;
  }
  static Type selector() {
    Type t;
    t.kind = Kind::Selector;
    return t;
  }
  static Type tensor(DType dtype, std::vector<Dim> dims) {
    Type t;
    t.kind = Kind::Tensor;
    t.dtype = dtype;
    t.dims = std::move(dims);
    return t;
  }
  bool isError() const { return kind == Kind::Error; }
  bool isScalar() const { return kind == Kind::Scalar; }
  bool isSequence() const { return kind == Kind::Sequence; }
  bool isNumericalSequence() const { return isSequence() && numerical; }
  bool isTensor() const { return kind == Kind::Tensor; }
  /// How a person would name this type in a message: `sequence of int`,
  /// `f32[T, 64]`, `selector`.
  std::string str() const;
};

enum class Op {
  // Sequence level.
  Input,         // entry argument `index`
  Indices,       // 0, 1, ..., length - 1
  Length,        // the sequence length (a scalar)
  Constant,      // scalar: intValue / floatValue / boolValue by elem
  Map,           // per-element `body` over the sequence `operands`
  Select,        // operands: keys, queries; `comparison` or `body`
  SelectorAnd,   // operands: two selectors
  SelectorOr,
  SelectorNot,
  SelectorWidth, // operand: selector
  Aggregate,     // operands: selector, values; `numericalAggregate`, `defaultValue`
  // Inside bodies.
  Arg,           // argument `index` of the enclosing body
  Unary,         // `unaryOp` or the function `name` (exp, tanh, ...)
  Binary,        // `binaryOp`
  Lookup,        // operand: key; `table` of constant pairs; `defaultValue`
  Cast,          // operand converted to this node's scalar type
  Extract,       // operands: a rank-1 tensor input, a position
  Where,         // operands: condition, then, otherwise (`a if c else b`)
  // Model level.
  Param,         // a named parameter (`name`), loaded at run time
  MatMul,        // [M, K] @ [K, N]
  Elementwise,   // `name` (unary function) or `binaryOp`, broadcasting
  LayerNorm,     // operands: x, gain, bias; floatValue = epsilon
  RMSNorm,       // operands: x, gain; floatValue = epsilon
  Heads,         // [T, H * D] -> [H, T, D]; intValue = H
  MergeHeads,    // [H, T, D] -> [T, H * D]
  Rope,          // rotary embedding of [H, T, D]; floatValue = base
  Transpose,     // [M, N] -> [N, M]
  Embed,         // operands: ids i32[T], table [V, D] -> [T, D]; out-of-range ids read zeros
  Positions,     // operand: x [T, ...] -> i32[T]: 0, 1, ..., T - 1; packed
                 // batches (boolValue): t - starts[t], operand the ExampleBounds starts
  ExampleBounds, // packed batches: operand lengths i32[B] -> i32[T], where each
                 // position's example starts (or, boolValue, ends)
  Row,           // operand: [M, N] -> [N], row intValue (a constant)
  Pool,          // operands: x [T, D] (, mask [T]) -> [D]; `name` sum, mean or max;
                 // packed batches: [B, D], `lengths` the last operand
  L2Normalize,   // x / max(||x||, floatValue) over the last dimension
  AttnSelect,    // operands: q, k; `body` mask, `scoreBody` (not emitted)
  Attention,     // operands: q, k, v; `body` mask, `scoreBody`; `name` normalizer
};

struct Node {
  Node(Op op, Type type, ast::Loc loc) : op(op), type(std::move(type)), loc(loc) {}

  Op op;
  Type type;
  ast::Loc loc;
  std::vector<Node *> operands;

  // Attributes; which ones are meaningful depends on `op`.
  int64_t intValue = 0;
  double floatValue = 0;
  bool boolValue = false;
  std::string name;
  ast::UnaryOp unaryOp = ast::UnaryOp::Neg;
  ast::BinaryOp binaryOp = ast::BinaryOp::Add;
  bool hasComparison = false;         // Select with a bare comparison
  ast::BinaryOp comparison = ast::BinaryOp::Eq;
  bool numericalAggregate = false;    // Aggregate: mean, else categorical
  Node *defaultValue = nullptr;       // Aggregate, Lookup (a Constant)
  std::vector<std::pair<Node *, Node *>> table; // Lookup
  Node *body = nullptr;               // Map, Select, Attention (mask)
  Node *scoreBody = nullptr;          // Attention
  std::string featureMap;             // Attention with the linear normalizer
  std::string customName;             // Attention with a custom normalizer
  std::string label;                  // the `let` name it was first bound to
  /// Models: which call of a helper from the entry point made this node
  /// (1-based, an index into Program::callNames), 0 for the entry's own
  /// nodes. Calls inside that helper count as part of it. Inputs,
  /// parameters, indices and the length belong to the entry.
  int callInstance = 0;
};

/// An elaborated entry point.
struct Program {
  std::string name;
  bool isModel = false;
  ast::Loc loc;
  std::vector<std::string> inputNames;
  std::vector<Node *> inputs; // Input nodes, in order
  std::vector<Node *> params; // Param nodes, in declaration order
  Node *result = nullptr;
  /// Packed batches: the symbol of the packed positions (`T`), the
  /// `lengths` input (the last of `inputs`), and per position where its
  /// example starts and ends.
  std::string packedSymbol;
  Node *lengths = nullptr;
  Node *exampleStarts = nullptr, *exampleEnds = nullptr;
  Node *localPositions = nullptr; // each position from its example's start
  /// Models: the helper of each call from the entry point (Node::callInstance).
  std::vector<std::string> callNames;

  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<std::unique_ptr<Vocab>> vocabs;

  Node *create(Op op, Type type, ast::Loc loc) {
    nodes.push_back(std::make_unique<Node>(op, std::move(type), loc));
    return nodes.back().get();
  }
};

} // namespace raspc::program

#endif // RASPC_FRONTEND_PROGRAM_H
