//===- AST.h - the syntax tree of the raspc language ------------*- C++ -*-===//
//
// An owned, typed syntax tree: what the program says, with locations, before
// any name is resolved. Built by ASTBuilder from the ANTLR parse tree and
// read by Sema; nothing here knows about ANTLR or MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_FRONTEND_AST_H
#define RASPC_FRONTEND_AST_H

#include "llvm/Support/SMLoc.h"

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace llvm {
class raw_ostream;
class SourceMgr;
} // namespace llvm

namespace raspc::ast {

using Loc = llvm::SMLoc;

//===----------------------------------------------------------------------===//
// Types as written
//===----------------------------------------------------------------------===//

/// A dimension of a tensor type: a size or a symbol such as `T`.
struct Dim {
  Loc loc;
  std::variant<int64_t, std::string> value;
};

/// `int`, `token`, `letters`, `f32`, `f32[T, 512]`.
struct TypeRef {
  Loc loc;
  std::string name;
  bool hasDims = false;
  std::vector<Dim> dims;
};

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

enum class ExprKind {
  IntLit,
  FloatLit,
  StringLit,
  BoolLit,
  Name,
  Unary,
  Binary,
  Call,
  Index,
  Scored,
  Dict,
  Cond,
};

enum class UnaryOp { Neg, Plus, Not };
enum class BinaryOp {
  Add, Sub, Mul, Div, Mod, MatMul,
  Eq, Ne, Lt, Le, Gt, Ge,
  And, Or,
};

const char *spelling(UnaryOp op);
const char *spelling(BinaryOp op);
bool isComparison(BinaryOp op);

struct Expr {
  Expr(ExprKind kind, Loc loc) : kind(kind), loc(loc) {}
  virtual ~Expr() = default;
  const ExprKind kind;
  Loc loc;
};
using ExprPtr = std::unique_ptr<Expr>;

struct IntLit : Expr {
  IntLit(Loc loc, std::string text) : Expr(ExprKind::IntLit, loc), text(std::move(text)) {}
  std::string text; // kept as written; Sema checks the range
};

struct FloatLit : Expr {
  FloatLit(Loc loc, double value) : Expr(ExprKind::FloatLit, loc), value(value) {}
  double value;
};

struct StringLit : Expr {
  StringLit(Loc loc, std::string value)
      : Expr(ExprKind::StringLit, loc), value(std::move(value)) {}
  std::string value; // escapes resolved
};

struct BoolLit : Expr {
  BoolLit(Loc loc, bool value) : Expr(ExprKind::BoolLit, loc), value(value) {}
  bool value;
};

struct Name : Expr {
  Name(Loc loc, std::string name) : Expr(ExprKind::Name, loc), name(std::move(name)) {}
  std::string name;
};

struct Unary : Expr {
  Unary(Loc loc, UnaryOp op, ExprPtr operand)
      : Expr(ExprKind::Unary, loc), op(op), operand(std::move(operand)) {}
  UnaryOp op;
  ExprPtr operand;
};

struct Binary : Expr {
  Binary(Loc loc, BinaryOp op, ExprPtr lhs, ExprPtr rhs)
      : Expr(ExprKind::Binary, loc), op(op), lhs(std::move(lhs)), rhs(std::move(rhs)) {}
  BinaryOp op;
  ExprPtr lhs, rhs;
};

/// `then if cond else otherwise`, as in Python.
struct Cond : Expr {
  Cond(Loc loc, ExprPtr then, ExprPtr cond, ExprPtr otherwise)
      : Expr(ExprKind::Cond, loc), then(std::move(then)), cond(std::move(cond)),
        otherwise(std::move(otherwise)) {}
  ExprPtr then, cond, otherwise;
};

/// One argument of a call: an expression, `name = expr`, a lambda
/// `(x, y) => expr`, or a bare comparison operator such as `<`.
struct Argument {
  enum class Kind { Positional, Keyword, Lambda, Comparison };
  Kind kind = Kind::Positional;
  Loc loc;
  std::string keyword;                 // Keyword
  std::vector<std::string> lambdaParams; // Lambda
  std::vector<Loc> lambdaParamLocs;      // Lambda
  BinaryOp comparison = BinaryOp::Eq;    // Comparison
  ExprPtr value;                         // all but Comparison
};

struct Call : Expr {
  Call(Loc loc, std::string callee, Loc calleeLoc)
      : Expr(ExprKind::Call, loc), callee(std::move(callee)), calleeLoc(calleeLoc) {}
  std::string callee;
  Loc calleeLoc;
  std::vector<Argument> args;
};

struct Index : Expr {
  Index(Loc loc, ExprPtr base, ExprPtr index)
      : Expr(ExprKind::Index, loc), base(std::move(base)), index(std::move(index)) {}
  ExprPtr base, index;
};

/// `selector scored score`: an attention selector with a score expression.
struct Scored : Expr {
  Scored(Loc loc, ExprPtr selector, ExprPtr score)
      : Expr(ExprKind::Scored, loc), selector(std::move(selector)), score(std::move(score)) {}
  ExprPtr selector, score;
};

/// `{key: value, ...}`: a lookup table.
struct Dict : Expr {
  explicit Dict(Loc loc) : Expr(ExprKind::Dict, loc) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> entries;
};

//===----------------------------------------------------------------------===//
// Statements and declarations
//===----------------------------------------------------------------------===//

enum class StmtKind { Let, Param, Return };

struct Stmt {
  StmtKind kind;
  Loc loc;
  std::vector<std::string> names; // Let: one; Param: one or more
  std::vector<Loc> nameLocs;
  std::unique_ptr<TypeRef> type;  // Param
  ExprPtr value;                  // Let, Return
};

struct Param {
  Loc loc;
  std::string name;
  std::unique_ptr<TypeRef> type; // may be null for `def`
};

enum class DeclKind { Vocab, Def, Model };

struct Decl {
  DeclKind kind;
  Loc loc;
  std::string name;
  // Vocab: its words, as written (strings or integers).
  std::vector<ExprPtr> words;
  // Def and Model:
  std::vector<Param> params;
  std::unique_ptr<TypeRef> result;
  std::vector<Stmt> body;
};

struct Module {
  std::vector<Decl> decls;
};

/// Prints the tree as an indented outline with line:col locations, for
/// `raspc --emit=ast`.
void dump(const Module &module, const llvm::SourceMgr &sourceMgr,
          llvm::raw_ostream &os);

} // namespace raspc::ast

#endif // RASPC_FRONTEND_AST_H
