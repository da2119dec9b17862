//===- AST.cpp - the syntax tree of the raspc language ----------*- C++ -*-===//

#include "AST.h"

#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace raspc::ast;

const char *raspc::ast::spelling(UnaryOp op) {
  switch (op) {
  case UnaryOp::Neg: return "-";
  case UnaryOp::Plus: return "+";
  case UnaryOp::Not: return "not";
  }
  return "?";
}

const char *raspc::ast::spelling(BinaryOp op) {
  switch (op) {
  case BinaryOp::Add: return "+";
  case BinaryOp::Sub: return "-";
  case BinaryOp::Mul: return "*";
  case BinaryOp::Div: return "/";
  case BinaryOp::Mod: return "%";
  case BinaryOp::MatMul: return "@";
  case BinaryOp::Eq: return "==";
  case BinaryOp::Ne: return "!=";
  case BinaryOp::Lt: return "<";
  case BinaryOp::Le: return "<=";
  case BinaryOp::Gt: return ">";
  case BinaryOp::Ge: return ">=";
  case BinaryOp::And: return "and";
  case BinaryOp::Or: return "or";
  }
  return "?";
}

bool raspc::ast::isComparison(BinaryOp op) {
  return op == BinaryOp::Eq || op == BinaryOp::Ne || op == BinaryOp::Lt ||
         op == BinaryOp::Le || op == BinaryOp::Gt || op == BinaryOp::Ge;
}

namespace {
class Dumper {
public:
  Dumper(const llvm::SourceMgr &sm, llvm::raw_ostream &os) : sm(sm), os(os) {}

  void module(const Module &m) {
    os << "Module\n";
    for (const Decl &d : m.decls)
      decl(d, 1);
  }

private:
  const llvm::SourceMgr &sm;
  llvm::raw_ostream &os;

  llvm::raw_ostream &line(unsigned depth, Loc loc) {
    os.indent(2 * depth);
    if (loc.isValid()) {
      auto [l, c] = sm.getLineAndColumn(loc);
      os << "<" << l << ":" << c << "> ";
    }
    return os;
  }

  void type(const TypeRef *t) {
    if (!t) {
      os << "<untyped>";
      return;
    }
    os << t->name;
    if (!t->hasDims)
      return;
    os << "[";
    for (size_t i = 0; i < t->dims.size(); ++i) {
      if (i)
        os << ", ";
      if (auto *n = std::get_if<int64_t>(&t->dims[i].value))
        os << *n;
      else
        os << std::get<std::string>(t->dims[i].value);
    }
    os << "]";
  }

  void decl(const Decl &d, unsigned depth) {
    switch (d.kind) {
    case DeclKind::Vocab:
      line(depth, d.loc) << "Vocab " << d.name << "\n";
      for (const ExprPtr &w : d.words)
        expr(*w, depth + 1);
      return;
    case DeclKind::Def:
    case DeclKind::Model:
      line(depth, d.loc) << (d.kind == DeclKind::Def ? "Def " : "Model ")
                         << d.name << "(";
      for (size_t i = 0; i < d.params.size(); ++i) {
        os << (i ? ", " : "") << d.params[i].name << ": ";
        type(d.params[i].type.get());
      }
      os << ")";
      if (d.result) {
        os << " -> ";
        type(d.result.get());
      }
      os << "\n";
      for (const Stmt &s : d.body)
        stmt(s, depth + 1);
      return;
    }
  }

  void stmt(const Stmt &s, unsigned depth) {
    switch (s.kind) {
    case StmtKind::Let:
      line(depth, s.loc) << "Let " << s.names[0] << "\n";
      expr(*s.value, depth + 1);
      return;
    case StmtKind::Param:
      line(depth, s.loc) << "Param";
      for (const std::string &n : s.names)
        os << " " << n;
      os << ": ";
      type(s.type.get());
      os << "\n";
      return;
    case StmtKind::Return:
      line(depth, s.loc) << "Return\n";
      expr(*s.value, depth + 1);
      return;
    }
  }

  void expr(const Expr &e, unsigned depth) {
    switch (e.kind) {
    case ExprKind::IntLit:
      line(depth, e.loc) << "Int " << static_cast<const IntLit &>(e).text << "\n";
      return;
    case ExprKind::FloatLit:
      line(depth, e.loc) << "Float " << static_cast<const FloatLit &>(e).value << "\n";
      return;
    case ExprKind::StringLit:
      line(depth, e.loc) << "String \"";
      os.write_escaped(static_cast<const StringLit &>(e).value);
      os << "\"\n";
      return;
    case ExprKind::BoolLit:
      line(depth, e.loc) << "Bool "
                         << (static_cast<const BoolLit &>(e).value ? "true" : "false")
                         << "\n";
      return;
    case ExprKind::Name:
      line(depth, e.loc) << "Name " << static_cast<const Name &>(e).name << "\n";
      return;
    case ExprKind::Unary: {
      auto &u = static_cast<const Unary &>(e);
      line(depth, e.loc) << "Unary " << spelling(u.op) << "\n";
      expr(*u.operand, depth + 1);
      return;
    }
    case ExprKind::Binary: {
      auto &b = static_cast<const Binary &>(e);
      line(depth, e.loc) << "Binary " << spelling(b.op) << "\n";
      expr(*b.lhs, depth + 1);
      expr(*b.rhs, depth + 1);
      return;
    }
    case ExprKind::Call: {
      auto &c = static_cast<const Call &>(e);
      line(depth, e.loc) << "Call " << c.callee << "\n";
      for (const Argument &a : c.args)
        argument(a, depth + 1);
      return;
    }
    case ExprKind::Index: {
      auto &i = static_cast<const Index &>(e);
      line(depth, e.loc) << "Index\n";
      expr(*i.base, depth + 1);
      expr(*i.index, depth + 1);
      return;
    }
    case ExprKind::Cond: {
      auto &c = static_cast<const Cond &>(e);
      line(depth, e.loc) << "Cond\n";
      expr(*c.then, depth + 1);
      expr(*c.cond, depth + 1);
      expr(*c.otherwise, depth + 1);
      return;
    }
    case ExprKind::Scored: {
      auto &s = static_cast<const Scored &>(e);
      line(depth, e.loc) << "Scored\n";
      expr(*s.selector, depth + 1);
      expr(*s.score, depth + 1);
      return;
    }
    case ExprKind::Dict: {
      auto &d = static_cast<const Dict &>(e);
      line(depth, e.loc) << "Dict\n";
      for (auto &[k, v] : d.entries) {
        expr(*k, depth + 1);
        expr(*v, depth + 2);
      }
      return;
    }
    }
  }

  void argument(const Argument &a, unsigned depth) {
    switch (a.kind) {
    case Argument::Kind::Positional:
      expr(*a.value, depth);
      return;
    case Argument::Kind::Keyword:
      line(depth, a.loc) << "Keyword " << a.keyword << "\n";
      expr(*a.value, depth + 1);
      return;
    case Argument::Kind::Lambda:
      line(depth, a.loc) << "Lambda (";
      for (size_t i = 0; i < a.lambdaParams.size(); ++i)
        os << (i ? ", " : "") << a.lambdaParams[i];
      os << ")\n";
      expr(*a.value, depth + 1);
      return;
    case Argument::Kind::Comparison:
      line(depth, a.loc) << "Comparison " << spelling(a.comparison) << "\n";
      return;
    }
  }
};
} // namespace

void raspc::ast::dump(const Module &module, const llvm::SourceMgr &sourceMgr,
                      llvm::raw_ostream &os) {
  Dumper(sourceMgr, os).module(module);
}
