//===- Sema.cpp - names, types and shapes of a program ----------*- C++ -*-===//
//
// Elaborates the entry point of a module into a Program: resolves names,
// inlines calls to `def`s (each call typed by its arguments), checks
// sequence vs selector, categorical vs numerical, element types, tensor
// shapes and the arity of every built-in, and reports each problem at the
// place it was written.
//
// Errors poison values (Type::Kind::Error) instead of stopping, so that one
// run reports every independent mistake without cascades.
//
//===----------------------------------------------------------------------===//

#include "Sema.h"
#include "Parser.h"

#include "Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/SourceMgr.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <set>

using namespace raspc;
using namespace raspc::program;
using ast::BinaryOp;
using ast::Loc;
using ast::UnaryOp;

//===----------------------------------------------------------------------===//
// Program.h helpers
//===----------------------------------------------------------------------===//

const char *raspc::program::spelling(Elem elem) {
  switch (elem) {
  case Elem::Int: return "int";
  case Elem::Float: return "float";
  case Elem::Bool: return "bool";
  case Elem::Token: return "token";
  }
  return "?";
}

const char *raspc::program::spelling(DType dtype) {
  switch (dtype) {
  case DType::F32: return "f32";
  case DType::F16: return "f16";
  case DType::BF16: return "bf16";
  case DType::I32: return "i32";
  }
  return "?";
}

int64_t Vocab::idOf(const std::string &word) {
  for (size_t i = 0; i < words.size(); ++i)
    if (words[i] == word)
      return static_cast<int64_t>(i);
  if (!open)
    return -1;
  words.push_back(word);
  return static_cast<int64_t>(words.size() - 1);
}

std::string Type::str() const {
  auto elemName = [&]() -> std::string {
    if (elem == Elem::Token && vocab && !vocab->open)
      return "token of '" + vocab->name + "'";
    return spelling(elem);
  };
  switch (kind) {
  case Kind::Error: return "<error>";
  case Kind::Scalar: return elemName();
  case Kind::Sequence:
    return std::string(numerical ? "numerical" : "categorical") +
           " sequence of " + elemName();
  case Kind::Selector: return "selector";
  case Kind::AttnSelector: return "attention selector";
  case Kind::Tensor: {
    std::string s = spelling(dtype);
    s += "[";
    for (size_t i = 0; i < dims.size(); ++i)
      s += (i ? ", " : "") + dims[i].str();
    return s + "]";
  }
  }
  return "?";
}

namespace {

/// A number as a message shows it: `-1`, `0.5`, `1e-12`.
std::string formatNumber(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", v);
  return buffer;
}

struct Value {
  Node *node = nullptr;
  Type type;
  Value() = default;
  Value(Node *node) : node(node), type(node ? node->type : Type::error()) {}
  Value(Node *node, Type type) : node(node), type(std::move(type)) {}
  bool isError() const { return !node || type.isError(); }
};

/// Names visible in one instantiation of a `def` or `model`.
struct Scope {
  llvm::StringMap<Value> values;
  llvm::StringMap<Loc> definedAt;
  bool isModel = false;
};

/// Set while elaborating a per-element body.
struct Body {
  enum class Kind { Lambda, Predicate, Mask, Score } kind;
  llvm::StringMap<Node *> names; // lambda parameters, key/query, positions
  Node *query = nullptr, *key = nullptr; // Score: the operands of dot()
  Node *score = nullptr;                 // Score: the raw dot product
  /// Packed batches: where the query's example starts. The positions a
  /// mask or score reads count from there; an input packed along the
  /// positions is indexed at that start plus the position.
  Node *packedStart = nullptr;
};

bool isNumeric(Elem e) { return e == Elem::Int || e == Elem::Float; }

DType dtypeFromName(llvm::StringRef name, bool &ok) {
  ok = true;
  if (name == "f32") return DType::F32;
  if (name == "f16") return DType::F16;
  if (name == "bf16") return DType::BF16;
  if (name == "i32") return DType::I32;
  ok = false;
  return DType::F32;
}

class Sema {
public:
  Sema(const ast::Module &module, bool packedBatch, Diagnostics &diags)
      : module(module), diags(diags), packedBatch(packedBatch) {}

  std::unique_ptr<Program> run(llvm::StringRef entryName);

private:
  const ast::Module &module;
  Diagnostics &diags;
  std::unique_ptr<Program> program;
  llvm::StringMap<const ast::Decl *> functions;
  llvm::StringMap<Vocab *> vocabs;
  Vocab *openVocab = nullptr;
  Node *indicesNode = nullptr, *lengthNode = nullptr;
  /// Packed batches (CompileOptions::packedBatch): examples one after
  /// another along `program->packedSymbol`.
  bool packedBatch = false;
  Scope *scope = nullptr;
  Body *body = nullptr;
  std::vector<std::pair<const ast::Decl *, Loc>> callStack;
  std::set<std::pair<const char *, std::string>> reported;
  /// Parameters by their full (checkpoint) name: a helper's `param` gets
  /// the `prefix=` of its calls in front, and one name is one parameter.
  llvm::StringMap<Node *> paramsByName;
  std::string paramPrefix;
  bool checkingUnusedDecls = false;
  /// Models: the call from the entry point being elaborated (Node::callInstance).
  int currentCall = 0;

  //===--- Diagnostics ----------------------------------------------------===//

  Value error(Loc loc, const llvm::Twine &message) {
    std::string text = message.str();
    // An error inside a def called twice is reported once.
    if (reported.insert({loc.getPointer(), text}).second) {
      diags.error(loc, text);
      // The innermost calls, and where the chain started.
      std::vector<std::pair<const ast::Decl *, Loc>> calls;
      for (auto it = callStack.rbegin(); it != callStack.rend(); ++it)
        if (it->second != it->first->loc) // entries, not calls
          calls.push_back(*it);
      constexpr size_t kShown = 8;
      for (size_t i = 0; i < calls.size() && i < kShown; ++i)
        diags.note(calls[i].second, "in the call of '" + calls[i].first->name + "' here");
      if (calls.size() > kShown)
        diags.note(calls.back().second, "and " + std::to_string(calls.size() - kShown) +
                                            " more calls, starting with this one");
    }
    return Value();
  }

  //===--- Node construction ----------------------------------------------===//

  Node *create(Op op, Type type, Loc loc) {
    Node *n = program->create(op, std::move(type), loc);
    bool ofEntry = op == Op::Input || op == Op::Param || op == Op::Indices || op == Op::Length;
    n->callInstance = ofEntry ? 0 : currentCall;
    return n;
  }
  Node *constantInt(int64_t v, Loc loc) {
    Node *n = create(Op::Constant, Type::scalar(Elem::Int), loc);
    n->intValue = v;
    return n;
  }
  Node *constantFloat(double v, Loc loc) {
    Node *n = create(Op::Constant, Type::scalar(Elem::Float), loc);
    n->floatValue = v;
    return n;
  }
  Node *constantBool(bool v, Loc loc) {
    Node *n = create(Op::Constant, Type::scalar(Elem::Bool), loc);
    n->boolValue = v;
    return n;
  }
  static bool isConstant(const Value &v) {
    return v.node && v.node->op == Op::Constant;
  }
  static double constantAsDouble(const Node *n) {
    if (n->type.elem == Elem::Float) return n->floatValue;
    if (n->type.elem == Elem::Bool) return n->boolValue;
    return static_cast<double>(n->intValue);
  }
  /// `int(f)` of a constant, by the rule generated code follows: toward
  /// zero, NaN gives 0, values beyond the int range the nearest end.
  static int64_t truncateToInt(double f) {
    if (std::isnan(f))
      return 0;
    if (f >= 0x1p63)
      return std::numeric_limits<int64_t>::max();
    if (f < -0x1p63)
      return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(f);
  }
  Node *cast(Node *n, Elem to, Loc loc) {
    if (n->type.elem == to)
      return n;
    if (n->op == Op::Constant) {
      if (to == Elem::Float)
        return constantFloat(constantAsDouble(n), n->loc);
      if (to == Elem::Int)
        return constantInt(truncateToInt(constantAsDouble(n)), n->loc);
    }
    Node *c = create(Op::Cast, Type::scalar(to), loc);
    c->operands = {n};
    return c;
  }

  //===--- Declarations ---------------------------------------------------===//

  void collectDeclarations();
  const ast::Decl *chooseEntry(llvm::StringRef entryName);
  void checkUnusedDecls(const ast::Decl *entry);
  bool elaborateEntry(const ast::Decl &decl);
  Value elaborateBody(const ast::Decl &decl, Scope &fnScope);
  Value callFunction(const ast::Decl &decl, const ast::Call &call);
  std::optional<Type> sequenceType(const ast::TypeRef &ref);
  std::optional<Type> tensorType(const ast::TypeRef &ref);
  bool define(llvm::StringRef name, Loc loc, Value value);
  void declareParams(const ast::Stmt &stmt);
  /// Packed batches: the `lengths` input and what is derived from it.
  bool declarePackedBatch(const ast::Decl &decl);
  bool isPacked(const Dim &d) const {
    return packedBatch && !d.isStatic() && d.symbol == program->packedSymbol;
  }
  /// Packed batches: query_pos and key_pos in a mask or score count from
  /// their example's start.
  void localizePositions(Body &b, Loc loc);
  /// `bounds` (an ExampleBounds node) read at the query position.
  Node *atQuery(Node *bounds, Node *queryPos, Loc loc);

  //===--- Expressions ----------------------------------------------------===//

  Value expr(const ast::Expr &e);
  Value name(const ast::Name &e);
  Value literal(const ast::Expr &e);
  Value unary(const ast::Unary &e);
  Value binary(const ast::Binary &e);
  Value conditional(const ast::Cond &e);
  Value scalarConditional(Value cond, Value then, Value otherwise, Loc loc);
  Value binaryValues(BinaryOp op, Value lhs, Value rhs, Loc loc);
  Value scalarBinary(BinaryOp op, Value lhs, Value rhs, Loc loc);
  Value tensorBinary(BinaryOp op, Value lhs, Value rhs, Loc loc);
  Value index(const ast::Index &e);
  Value scored(const ast::Scored &e);
  Value call(const ast::Call &e);
  Node *liftIntoMap(const Value &v, std::vector<Node *> &operands);
  Value mapOf(std::vector<Value> inputs, llvm::function_ref<Value(std::vector<Value>)> fn,
              Loc loc, bool numerical);
  Value resolveTokenLiteral(Value literal, const Type &other, Loc loc);

  //===--- Built-ins ------------------------------------------------------===//

  bool checkArity(const ast::Call &c, size_t min, size_t max,
                  llvm::ArrayRef<llvm::StringRef> keywords = {});
  const ast::Argument *keyword(const ast::Call &c, llvm::StringRef name);
  Value positional(const ast::Call &c, size_t i);
  const ast::Expr *positionalExpr(const ast::Call &c, size_t i);
  std::optional<double> constantNumber(const ast::Expr &e, llvm::StringRef what);
  /// The keyword argument `name`, a positive constant (`what` in messages),
  /// or `fallback` when it is absent; nullopt after reporting an error.
  std::optional<double> positiveKeyword(const ast::Call &c, llvm::StringRef name,
                                        llvm::StringRef what, double fallback);

  Value builtinSelect(const ast::Call &c);
  Value sequenceSelect(const ast::Call &c, Value keys, Value queries);
  Value attentionSelect(const ast::Call &c, Value keys, Value queries);
  Value builtinAggregate(const ast::Call &c);
  Value builtinMap(const ast::Call &c, unsigned arity);
  Value builtinLookup(const ast::Call &c);
  Value builtinUnaryFunction(const ast::Call &c);
  Value builtinTensorFunction(const ast::Call &c);
  Value builtinLayer(const ast::Call &c);
  Value rowOf(const ast::Index &e, Value base);
  Value lambdaBody(const ast::Argument &lambda, llvm::ArrayRef<Type> paramTypes);
  Value predicateBody(const ast::Expr &e, Body &b, llvm::StringRef what);
};

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

void Sema::collectDeclarations() {
  llvm::StringMap<Loc> seen;
  for (const ast::Decl &d : module.decls) {
    auto [it, inserted] = seen.try_emplace(d.name, d.loc);
    if (!inserted) {
      error(d.loc, "redefinition of '" + d.name + "'");
      diags.note(it->second, "'" + d.name + "' was first defined here");
      continue;
    }
    if (d.kind != ast::DeclKind::Vocab) {
      functions[d.name] = &d;
      continue;
    }
    auto vocab = std::make_unique<Vocab>();
    vocab->name = d.name;
    llvm::StringSet<> words;
    for (const ast::ExprPtr &w : d.words) {
      std::string word;
      if (w->kind == ast::ExprKind::StringLit)
        word = static_cast<const ast::StringLit &>(*w).value;
      else if (w->kind == ast::ExprKind::IntLit)
        word = static_cast<const ast::IntLit &>(*w).text;
      else {
        error(w->loc, "a vocabulary lists strings or integers");
        continue;
      }
      if (!words.insert(word).second)
        error(w->loc, "'" + word + "' appears twice in vocabulary '" + d.name + "'");
      vocab->words.push_back(word);
    }
    vocabs[d.name] = vocab.get();
    program->vocabs.push_back(std::move(vocab));
  }
}

const ast::Decl *Sema::chooseEntry(llvm::StringRef entryName) {
  if (!entryName.empty()) {
    auto it = functions.find(entryName);
    if (it != functions.end())
      return it->second;
    std::string known;
    for (const ast::Decl &d : module.decls)
      if (d.kind != ast::DeclKind::Vocab)
        known += (known.empty() ? "" : ", ") + d.name;
    diags.error(Loc(), "entry point '" + entryName.str() + "' is not defined" +
                           (known.empty() ? "" : " (defined: " + known + ")"));
    return nullptr;
  }
  if (auto it = functions.find("main"); it != functions.end())
    return it->second;
  for (auto it = module.decls.rbegin(); it != module.decls.rend(); ++it)
    if (it->kind != ast::DeclKind::Vocab)
      return &*it;
  diags.error(Loc(), "the program defines no 'def' or 'model' to run");
  return nullptr;
}

std::optional<Type> Sema::sequenceType(const ast::TypeRef &ref) {
  if (ref.hasDims) {
    error(ref.loc, "a 'def' works on sequences; tensor types such as '" +
                       ref.name + "[...]' belong in a 'model'");
    return std::nullopt;
  }
  if (ref.name == "int") return Type::sequence(Elem::Int, false);
  if (ref.name == "float") return Type::sequence(Elem::Float, true);
  if (ref.name == "bool") return Type::sequence(Elem::Bool, false);
  if (ref.name == "token") return Type::sequence(Elem::Token, false, openVocab);
  if (auto it = vocabs.find(ref.name); it != vocabs.end())
    return Type::sequence(Elem::Token, false, it->second);
  error(ref.loc, "unknown type '" + ref.name +
                     "' (expected int, float, bool, token or a vocabulary)");
  return std::nullopt;
}

std::optional<Type> Sema::tensorType(const ast::TypeRef &ref) {
  bool ok;
  DType dtype = dtypeFromName(ref.name, ok);
  if (!ok) {
    error(ref.loc, "unknown element type '" + ref.name +
                       "' (expected f32, f16, bf16 or i32)");
    return std::nullopt;
  }
  if (!ref.hasDims || ref.dims.empty()) {
    error(ref.loc, "a model tensor needs a shape, e.g. '" + ref.name + "[T, 64]'");
    return std::nullopt;
  }
  if (ref.dims.size() > 2) {
    error(ref.dims[2].loc, "model tensors have at most 2 dimensions "
                           "(positions and features)");
    return std::nullopt;
  }
  std::vector<Dim> dims;
  for (const ast::Dim &d : ref.dims) {
    Dim dim;
    if (auto *size = std::get_if<int64_t>(&d.value)) {
      if (*size <= 0) {
        error(d.loc, "dimension sizes must be positive integers");
        return std::nullopt;
      }
      dim.size = *size;
    } else {
      dim.symbol = std::get<std::string>(d.value);
    }
    dims.push_back(dim);
  }
  return Type::tensor(dtype, std::move(dims));
}

bool Sema::define(llvm::StringRef name, Loc loc, Value value) {
  auto [it, inserted] = scope->definedAt.try_emplace(name, loc);
  if (!inserted) {
    error(loc, "redefinition of '" + name + "'");
    diags.note(it->second, "'" + name.str() + "' was first defined here");
    scope->values[name] = Value(); // later uses are poisoned, not cascaded
    return false;
  }
  if (value.node && value.node->label.empty())
    value.node->label = name.str();
  scope->values[name] = std::move(value);
  return true;
}

void Sema::declareParams(const ast::Stmt &stmt) {
  if (!program->isModel || checkingUnusedDecls) {
    error(stmt.loc, "'param' declares model weights; it is only allowed in a "
                    "'model' or in a 'def' that a model calls");
    return;
  }
  std::optional<Type> type = tensorType(*stmt.type);
  if (type)
    for (const Dim &d : type->dims)
      if (!d.isStatic()) {
        error(stmt.type->loc, "parameter shapes must be static; '" + d.symbol +
                                  "' is a symbolic size");
        break;
      }
  for (size_t i = 0; i < stmt.names.size(); ++i) {
    if (!type) {
      define(stmt.names[i], stmt.nameLocs[i], Value());
      continue;
    }
    // Called twice with one prefix (or none), a helper's parameter is the
    // same tensor both times: tied weights, as checkpoints have them.
    std::string fullName = paramPrefix + stmt.names[i];
    auto [it, inserted] = paramsByName.try_emplace(fullName, nullptr);
    if (inserted) {
      it->second = create(Op::Param, *type, stmt.nameLocs[i]);
      it->second->name = fullName;
      program->params.push_back(it->second);
    } else if (it->second->type.dtype != type->dtype || it->second->type.dims != type->dims) {
      error(stmt.nameLocs[i], "parameter '" + fullName + "' is declared as " + type->str() +
                                  " here but as " + it->second->type.str() + " before");
      diags.note(it->second->loc, "'" + fullName + "' was first declared here");
      define(stmt.names[i], stmt.nameLocs[i], Value());
      continue;
    }
    define(stmt.names[i], stmt.nameLocs[i], Value(it->second));
  }
}

bool Sema::declarePackedBatch(const ast::Decl &decl) {
  if (!program->isModel) {
    error(decl.loc, "packed batches run models; '" + decl.name + "' is a sequence program");
    return false;
  }
  for (Node *input : program->inputs)
    if (!input->type.dims.empty() && !input->type.dims[0].isStatic()) {
      program->packedSymbol = input->type.dims[0].symbol;
      break;
    }
  if (program->packedSymbol.empty()) {
    error(decl.loc, "a packed batch needs an input whose first dimension is its positions "
                    "(a symbol such as T)");
    return false;
  }
  if (llvm::is_contained(program->inputNames, "lengths")) {
    error(decl.loc, "in a packed batch 'lengths' is the input of the examples' lengths; "
                    "rename the model's input 'lengths'");
    return false;
  }
  std::string batch = "B";
  for (Node *input : program->inputs)
    for (const Dim &d : input->type.dims)
      if (d.symbol == batch)
        batch = "examples";
  const Dim positions{-1, program->packedSymbol};
  Node *lengths = create(Op::Input, Type::tensor(DType::I32, {Dim{-1, batch}}), decl.loc);
  lengths->intValue = static_cast<int64_t>(program->inputs.size());
  lengths->label = "lengths";
  program->inputs.push_back(lengths);
  program->inputNames.push_back("lengths");
  program->lengths = lengths;
  for (bool end : {false, true}) {
    Node *bound = create(Op::ExampleBounds, Type::tensor(DType::I32, {positions}), decl.loc);
    bound->operands = {lengths};
    bound->boolValue = end;
    (end ? program->exampleEnds : program->exampleStarts) = bound;
  }
  Node *local = create(Op::Positions, Type::tensor(DType::I32, {positions}), decl.loc);
  local->operands = {program->exampleStarts};
  local->boolValue = true;
  program->localPositions = local;
  return true;
}

Node *Sema::atQuery(Node *bounds, Node *queryPos, Loc loc) {
  Node *e = create(Op::Extract, Type::scalar(Elem::Int), loc);
  e->operands = {bounds, queryPos};
  return e;
}

void Sema::localizePositions(Body &b, Loc loc) {
  if (!packedBatch || !program->exampleStarts)
    return;
  // Both less the start of the query's example: where the key is in
  // another example the mask is false whatever these are (sameExample),
  // and a value read at the query is the same for a row of keys (vectors
  // along the keys need no gather).
  Node *start = atQuery(program->exampleStarts, b.names["query_pos"], loc);
  b.packedStart = start;
  for (const char *name : {"query_pos", "key_pos"}) {
    Node *local = create(Op::Binary, Type::scalar(Elem::Int), loc);
    local->binaryOp = BinaryOp::Sub;
    local->operands = {b.names[name], start};
    b.names[name] = local;
  }
}

Value Sema::elaborateBody(const ast::Decl &decl, Scope &fnScope) {
  Scope *saved = scope;
  scope = &fnScope;
  Value result;
  bool returned = false;
  for (const ast::Stmt &stmt : decl.body) {
    if (returned) {
      error(stmt.loc, "statement after 'return' is never reached");
      break;
    }
    switch (stmt.kind) {
    case ast::StmtKind::Let:
      define(stmt.names[0], stmt.nameLocs[0], expr(*stmt.value));
      break;
    case ast::StmtKind::Param:
      declareParams(stmt);
      break;
    case ast::StmtKind::Return:
      result = expr(*stmt.value);
      returned = true;
      if (!result.isError() && result.type.kind == Type::Kind::Selector)
        error(stmt.value->loc, "a program returns a sequence; aggregate the "
                               "selector or count it with selector_width()");
      break;
    }
  }
  if (!returned)
    error(decl.loc, "'" + decl.name + "' has no 'return' statement");
  scope = saved;
  return result;
}

bool Sema::elaborateEntry(const ast::Decl &decl) {
  program->name = decl.name;
  program->isModel = decl.kind == ast::DeclKind::Model;
  program->loc = decl.loc;
  Scope fnScope;
  fnScope.isModel = program->isModel;
  callStack.push_back({&decl, decl.loc});
  scope = &fnScope;
  for (const ast::Param &p : decl.params) {
    std::optional<Type> type;
    if (program->isModel) {
      if (!p.type)
        error(p.loc, "model inputs need a tensor type, e.g. '" + p.name +
                         ": f32[T, 64]'");
      else
        type = tensorType(*p.type);
    } else {
      // An untyped entry input is a sequence of tokens of any spelling.
      type = p.type ? sequenceType(*p.type)
                    : Type::sequence(Elem::Token, false, openVocab);
    }
    Value v;
    if (type) {
      Node *input = create(Op::Input, *type, p.loc);
      input->intValue = static_cast<int64_t>(program->inputs.size());
      program->inputs.push_back(input);
      program->inputNames.push_back(p.name);
      v = Value(input);
    }
    define(p.name, p.loc, v);
  }
  if (packedBatch && !declarePackedBatch(decl)) {
    callStack.pop_back();
    scope = nullptr;
    return false;
  }
  if (!program->isModel && decl.params.empty())
    error(decl.loc, "entry point '" + decl.name +
                        "' takes no input sequence; declare one, e.g. 'def " +
                        decl.name + "(tokens)'");
  scope = nullptr;
  Value result = elaborateBody(decl, fnScope);
  callStack.pop_back();
  if (result.isError())
    return false;

  // The declared result type, if any, must match.
  if (decl.result) {
    std::optional<Type> declared =
        program->isModel ? tensorType(*decl.result) : sequenceType(*decl.result);
    if (declared) {
      bool same = declared->kind == result.type.kind;
      // A packed batch's pools give a row per example: the declared
      // result is one example's.
      std::vector<Dim> dims = result.type.dims;
      if (packedBatch && program->lengths && !dims.empty() &&
          dims.front() == program->lengths->type.dims[0])
        dims.erase(dims.begin());
      if (same && declared->isTensor())
        same = declared->dtype == result.type.dtype && declared->dims == dims;
      if (same && declared->isSequence())
        same = declared->elem == result.type.elem;
      if (!same) {
        error(decl.result->loc, "'" + decl.name + "' declares its result as " +
                                    declared->str() + " but returns " +
                                    result.type.str());
        return false;
      }
    }
  }
  if (!program->isModel && !result.type.isSequence()) {
    error(decl.loc, "entry point '" + decl.name +
                        "' must return a sequence, not " + result.type.str());
    return false;
  }
  if (program->isModel && !result.type.isTensor()) {
    error(decl.loc, "model '" + decl.name + "' must return a tensor, not " +
                        result.type.str());
    return false;
  }
  program->result = result.node;
  if (result.type.numerical != result.node->type.numerical)
    program->result->type.numerical = result.type.numerical;
  return true;
}

void Sema::checkUnusedDecls(const ast::Decl *entry) {
  // Defs with fully typed parameters are checked even when nothing calls
  // them, so that their mistakes surface now.
  for (const ast::Decl &d : module.decls) {
    if (&d == entry || d.kind != ast::DeclKind::Def)
      continue;
    if (!llvm::all_of(d.params, [](const ast::Param &p) { return p.type != nullptr; }))
      continue;
    // Helpers that declare weights are checked where a model calls them.
    if (llvm::any_of(d.body, [](const ast::Stmt &s) { return s.kind == ast::StmtKind::Param; }))
      continue;
    Scope fnScope;
    scope = &fnScope;
    callStack.push_back({&d, d.loc});
    checkingUnusedDecls = true;
    for (const ast::Param &p : d.params) {
      std::optional<Type> type = sequenceType(*p.type);
      Node *n = type ? create(Op::Input, *type, p.loc) : nullptr;
      define(p.name, p.loc, n ? Value(n) : Value());
    }
    scope = nullptr;
    elaborateBody(d, fnScope);
    callStack.pop_back();
    checkingUnusedDecls = false;
  }
}

Value Sema::callFunction(const ast::Decl &decl, const ast::Call &call) {
  if (decl.kind == ast::DeclKind::Model)
    return error(call.calleeLoc, "'" + decl.name +
                                     "' is a model; models are entry points "
                                     "and cannot be called");
  for (auto &[active, site] : callStack)
    if (active == &decl)
      return error(call.calleeLoc,
                   "'" + decl.name + "' calls itself; programs are unrolled at "
                                     "compile time, so recursion is not allowed");
  if (callStack.size() > kMaxCallDepth)
    return error(call.calleeLoc, "calls nested more than " + std::to_string(kMaxCallDepth) +
                                     " deep; programs are unrolled at compile time, so "
                                     "flatten the chain of helpers");
  // `prefix="encoder.layer.0."` names the weights the helper declares.
  std::vector<const ast::Argument *> args;
  std::string prefix;
  bool ok = true;
  for (const ast::Argument &arg : call.args) {
    if (arg.kind == ast::Argument::Kind::Keyword && arg.keyword == "prefix") {
      if (arg.value->kind != ast::ExprKind::StringLit) {
        error(arg.value->loc, "prefix= is a string, e.g. prefix=\"encoder.layer.0.\"");
        ok = false;
        continue;
      }
      prefix = static_cast<const ast::StringLit &>(*arg.value).value;
      continue;
    }
    if (arg.kind != ast::Argument::Kind::Positional) {
      error(arg.loc, arg.kind == ast::Argument::Kind::Keyword
                         ? "'" + decl.name + "' has no argument named '" + arg.keyword +
                               "' (a helper takes its values in order, and prefix=)"
                         : "'" + decl.name + "' takes plain values as arguments");
      ok = false;
      continue;
    }
    args.push_back(&arg);
  }
  if (!ok)
    return Value();
  if (args.size() != decl.params.size())
    return error(call.calleeLoc, "'" + decl.name + "' takes " +
                                     std::to_string(decl.params.size()) +
                                     " argument(s) but " +
                                     std::to_string(args.size()) +
                                     " were given");
  Scope fnScope;
  fnScope.isModel = false;
  for (size_t i = 0; i < decl.params.size(); ++i) {
    const ast::Argument &arg = *args[i];
    Value v = expr(*arg.value);
    if (v.isError()) {
      ok = false;
      continue;
    }
    const ast::Param &p = decl.params[i];
    if (p.type) {
      std::optional<Type> want = sequenceType(*p.type);
      if (want && (!v.type.isSequence() || v.type.elem != want->elem ||
                   (want->elem == Elem::Token && want->vocab != openVocab &&
                    want->vocab != v.type.vocab))) {
        error(arg.loc, "argument '" + p.name + "' of '" + decl.name +
                           "' must be a " + want->str() + ", not " + v.type.str());
        ok = false;
        continue;
      }
    }
    fnScope.values[p.name] = v;
    fnScope.definedAt[p.name] = p.loc;
  }
  if (!ok)
    return Value();
  Scope *saved = scope;
  Body *savedBody = body;
  body = nullptr;
  callStack.push_back({&decl, call.calleeLoc});
  std::string outerPrefix = paramPrefix;
  paramPrefix += prefix;
  int outerCall = currentCall;
  if (program->isModel && currentCall == 0 && !checkingUnusedDecls) {
    program->callNames.push_back(decl.name);
    currentCall = static_cast<int>(program->callNames.size());
  }
  Value result = elaborateBody(decl, fnScope);
  currentCall = outerCall;
  paramPrefix = std::move(outerPrefix);
  callStack.pop_back();
  scope = saved;
  body = savedBody;
  return result;
}

std::unique_ptr<Program> Sema::run(llvm::StringRef entryName) {
  program = std::make_unique<Program>();
  auto open = std::make_unique<Vocab>();
  open->name = "token";
  open->open = true;
  openVocab = open.get();
  program->vocabs.push_back(std::move(open));

  collectDeclarations();
  const ast::Decl *entry = chooseEntry(entryName);
  if (!entry)
    return nullptr;
  bool ok = elaborateEntry(*entry);
  checkUnusedDecls(entry);
  if (!ok || diags.hadErrors())
    return nullptr;
  return std::move(program);
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

Value Sema::expr(const ast::Expr &e) {
  switch (e.kind) {
  case ast::ExprKind::IntLit:
  case ast::ExprKind::FloatLit:
  case ast::ExprKind::StringLit:
  case ast::ExprKind::BoolLit:
    return literal(e);
  case ast::ExprKind::Name:
    return name(static_cast<const ast::Name &>(e));
  case ast::ExprKind::Unary:
    return unary(static_cast<const ast::Unary &>(e));
  case ast::ExprKind::Binary:
    return binary(static_cast<const ast::Binary &>(e));
  case ast::ExprKind::Call:
    return call(static_cast<const ast::Call &>(e));
  case ast::ExprKind::Index:
    return index(static_cast<const ast::Index &>(e));
  case ast::ExprKind::Scored:
    return scored(static_cast<const ast::Scored &>(e));
  case ast::ExprKind::Dict:
    return error(e.loc, "a table '{...}' can only be the second argument of "
                        "lookup()");
  case ast::ExprKind::Cond:
    return conditional(static_cast<const ast::Cond &>(e));
  }
  return Value();
}

Value Sema::conditional(const ast::Cond &e) {
  Value then = expr(*e.then);
  Value cond = expr(*e.cond);
  Value otherwise = expr(*e.otherwise);
  if (then.isError() || cond.isError() || otherwise.isError())
    return Value();
  std::pair<const Value *, const ast::Expr *> parts[] = {
      {&then, e.then.get()}, {&cond, e.cond.get()}, {&otherwise, e.otherwise.get()}};
  for (auto [value, part] : parts)
    if (value->type.kind != Type::Kind::Scalar && !value->type.isSequence())
      return error(part->loc, "'if ... else' chooses between numbers, bools, tokens "
                              "and sequences of them, not " + value->type.str());
  if (cond.type.elem != Elem::Bool)
    return error(e.cond->loc, "the condition of 'if ... else' must be a bool, not " +
                                  cond.type.str());
  bool numerical = then.type.isNumericalSequence() || otherwise.type.isNumericalSequence();
  return mapOf({cond, then, otherwise}, [&](std::vector<Value> xs) {
    return scalarConditional(xs[0], xs[1], xs[2], e.loc);
  }, e.loc, numerical);
}

Value Sema::scalarConditional(Value cond, Value then, Value otherwise, Loc loc) {
  // A string takes the other branch's vocabulary; two strings, the open one.
  Type openToken = Type::scalar(Elem::Token, openVocab);
  auto resolve = [&](const Value &v, const Value &other) {
    bool vocabulary = other.type.elem == Elem::Token && other.type.vocab;
    return resolveTokenLiteral(v, vocabulary ? other.type : openToken, loc);
  };
  then = resolve(then, otherwise);
  if (then.isError())
    return then;
  otherwise = resolve(otherwise, then);
  if (otherwise.isError())
    return otherwise;
  Elem a = then.type.elem, b = otherwise.type.elem;
  Elem result = a;
  if (a != b || then.type.vocab != otherwise.type.vocab) {
    if (!isNumeric(a) || !isNumeric(b))
      return error(loc, "the two branches of 'if ... else' must have one type, not " +
                            then.type.str() + " and " + otherwise.type.str());
    result = Elem::Float; // an int and a float
  }
  Node *n = create(Op::Where, Type::scalar(result, then.type.vocab), loc);
  n->operands = {cond.node, cast(then.node, result, loc), cast(otherwise.node, result, loc)};
  return Value(n);
}

Value Sema::literal(const ast::Expr &e) {
  switch (e.kind) {
  case ast::ExprKind::IntLit: {
    long long v;
    if (llvm::StringRef(static_cast<const ast::IntLit &>(e).text).getAsInteger(10, v))
      return error(e.loc, "integer literal is too large for 64 bits");
    return Value(constantInt(v, e.loc));
  }
  case ast::ExprKind::FloatLit: {
    double v = static_cast<const ast::FloatLit &>(e).value;
    if (!std::isfinite(v))
      return error(e.loc, "floating-point literal is out of range");
    return Value(constantFloat(v, e.loc));
  }
  case ast::ExprKind::StringLit: {
    // A token literal; its vocabulary is fixed by what it is compared with.
    Node *n = create(Op::Constant, Type::scalar(Elem::Token), e.loc);
    n->name = static_cast<const ast::StringLit &>(e).value;
    n->intValue = -1;
    return Value(n);
  }
  case ast::ExprKind::BoolLit:
    return Value(constantBool(static_cast<const ast::BoolLit &>(e).value, e.loc));
  default:
    return Value();
  }
}

Value Sema::name(const ast::Name &e) {
  if (body) {
    if (auto it = body->names.find(e.name); it != body->names.end())
      return Value(it->second);
  }
  if (scope) {
    if (auto it = scope->values.find(e.name); it != scope->values.end()) {
      Value v = it->second;
      if (v.isError())
        return Value(); // already reported where it was defined
      if (body && !v.type.isScalar() &&
          !(body->kind == Body::Kind::Mask || body->kind == Body::Kind::Score))
        return error(e.loc, "'" + e.name + "' is a " + v.type.str() +
                                "; inside a per-element expression only "
                                "single values can be used");
      return v;
    }
  }
  if (e.name == "indices" || e.name == "length") {
    if (scope && scope->isModel)
      return error(e.loc, "'" + e.name + "' belongs to sequence programs; in models use "
                                         "positions(x), and query_pos and key_pos in "
                                         "attention masks");
    // One node each, however often the program names them.
    if (e.name == "length") {
      if (!lengthNode)
        lengthNode = create(Op::Length, Type::scalar(Elem::Int), e.loc);
      return Value(lengthNode);
    }
    if (body)
      return error(e.loc, "'indices' is a sequence; inside a per-element "
                          "expression use a lambda argument instead");
    if (!indicesNode)
      indicesNode = create(Op::Indices, Type::sequence(Elem::Int, false), e.loc);
    return Value(indicesNode);
  }
  if (e.name == "query_pos" || e.name == "key_pos" || e.name == "head")
    return error(e.loc, "'" + e.name + "' is only defined inside the predicate "
                                       "or score of an attention select");
  if (e.name == "key" || e.name == "query")
    return error(e.loc, "'" + e.name + "' is only defined inside the predicate "
                                       "of a select");
  if (functions.count(e.name))
    return error(e.loc, "'" + e.name + "' is a function; call it with "
                                       "arguments in parentheses");
  // Suggest the closest visible name.
  std::string best;
  unsigned bestDistance = 3;
  auto consider = [&](llvm::StringRef candidate) {
    unsigned d = llvm::StringRef(e.name).edit_distance(candidate, true, bestDistance);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate.str();
    }
  };
  if (scope)
    for (auto &entry : scope->values)
      consider(entry.getKey());
  if (body)
    for (auto &entry : body->names)
      consider(entry.getKey());
  for (llvm::StringRef builtin : {"indices", "length", "tokens"})
    consider(builtin);
  return error(e.loc, "unknown name '" + e.name + "'" +
                          (best.empty() ? "" : "; did you mean '" + best + "'?"));
}

Value Sema::unary(const ast::Unary &e) {
  Value v = expr(*e.operand);
  if (v.isError())
    return v;
  if (e.op == UnaryOp::Plus) {
    if (v.type.isTensor() || ((v.type.isScalar() || v.type.isSequence()) &&
                              isNumeric(v.type.elem)))
      return v;
    return error(e.loc, "unary '+' needs a number, not " + v.type.str());
  }
  if (e.op == UnaryOp::Not) {
    if (v.type.kind == Type::Kind::Selector) {
      Node *n = create(Op::SelectorNot, Type::selector(), e.loc);
      n->operands = {v.node};
      return Value(n);
    }
    if ((v.type.isScalar() || v.type.isSequence()) && v.type.elem == Elem::Bool)
      return mapOf({v}, [&](std::vector<Value> xs) -> Value {
        Node *n = create(Op::Unary, Type::scalar(Elem::Bool), e.loc);
        n->unaryOp = UnaryOp::Not;
        n->operands = {xs[0].node};
        return Value(n);
      }, e.loc, false);
    return error(e.loc, "'not' needs a bool or a selector, not " + v.type.str());
  }
  // Negation: 0 - v keeps one code path for numbers, sequences and tensors.
  if (v.type.isTensor()) {
    Node *n = create(Op::Elementwise, v.type, e.loc);
    n->name = "neg";
    n->operands = {v.node};
    return Value(n);
  }
  if (!(v.type.isScalar() || v.type.isSequence()) || !isNumeric(v.type.elem))
    return error(e.loc, "unary '-' needs a number, not " + v.type.str());
  if (isConstant(v))
    return v.type.elem == Elem::Int
               ? Value(constantInt(static_cast<int64_t>(0 - uint64_t(v.node->intValue)), e.loc))
               : Value(constantFloat(-v.node->floatValue, e.loc));
  return binaryValues(BinaryOp::Sub, Value(constantInt(0, e.loc)), v, e.loc);
}

Value Sema::binary(const ast::Binary &e) {
  Value lhs = expr(*e.lhs);
  Value rhs = expr(*e.rhs);
  if (lhs.isError() || rhs.isError())
    return Value();
  return binaryValues(e.op, lhs, rhs, e.loc);
}

Value Sema::resolveTokenLiteral(Value literal, const Type &other, Loc loc) {
  if (!(literal.node->op == Op::Constant && literal.type.elem == Elem::Token &&
        !literal.type.vocab))
    return literal;
  if (other.elem != Elem::Token || !other.vocab)
    return error(loc, "the string \"" + literal.node->name +
                          "\" can only be compared with tokens, not with " +
                          other.str());
  int64_t id = other.vocab->idOf(literal.node->name);
  if (id < 0)
    return error(literal.node->loc, "\"" + literal.node->name +
                                        "\" is not in vocabulary '" +
                                        other.vocab->name + "'");
  Node *n = create(Op::Constant, Type::scalar(Elem::Token, other.vocab),
                   literal.node->loc);
  n->intValue = id;
  n->name = literal.node->name;
  return Value(n);
}

Value Sema::binaryValues(BinaryOp op, Value lhs, Value rhs, Loc loc) {
  const Type &a = lhs.type, &b = rhs.type;
  // Selectors combine with and/or.
  if (a.kind == Type::Kind::Selector || b.kind == Type::Kind::Selector) {
    if (a.kind != b.kind || (op != BinaryOp::And && op != BinaryOp::Or))
      return error(loc, "selectors combine only with 'and', 'or' and 'not'; "
                        "cannot apply '" + std::string(ast::spelling(op)) +
                        "' to " + a.str() + " and " + b.str());
    Node *n = create(op == BinaryOp::And ? Op::SelectorAnd : Op::SelectorOr,
                     Type::selector(), loc);
    n->operands = {lhs.node, rhs.node};
    return Value(n);
  }
  if (a.kind == Type::Kind::AttnSelector || b.kind == Type::Kind::AttnSelector)
    return error(loc, "attention selectors cannot be combined; write one "
                      "predicate in select(), e.g. 'key_pos <= query_pos and "
                      "query_pos - key_pos < 256'");
  if (a.isTensor() || b.isTensor())
    return tensorBinary(op, lhs, rhs, loc);
  if (op == BinaryOp::MatMul)
    return error(loc, "'@' multiplies model tensors, not " + a.str() + " and " +
                          b.str());
  // Sequences and scalars.
  if (a.isSequence() || b.isSequence()) {
    bool numerical = a.isNumericalSequence() || b.isNumericalSequence();
    if (ast::isComparison(op) || op == BinaryOp::And || op == BinaryOp::Or)
      numerical = false;
    return mapOf({lhs, rhs}, [&](std::vector<Value> xs) {
      return scalarBinary(op, xs[0], xs[1], loc);
    }, loc, numerical);
  }
  return scalarBinary(op, lhs, rhs, loc);
}

Value Sema::scalarBinary(BinaryOp op, Value lhs, Value rhs, Loc loc) {
  lhs = resolveTokenLiteral(lhs, rhs.type, loc);
  if (lhs.isError()) return lhs;
  rhs = resolveTokenLiteral(rhs, lhs.type, loc);
  if (rhs.isError()) return rhs;
  Elem a = lhs.type.elem, b = rhs.type.elem;
  std::string opName = ast::spelling(op);
  auto mismatch = [&](const char *what) {
    return error(loc, "'" + opName + "' " + what + ", not " + lhs.type.str() +
                          " and " + rhs.type.str());
  };
  Elem result;
  Elem operandElem = a;
  if (op == BinaryOp::And || op == BinaryOp::Or) {
    if (a != Elem::Bool || b != Elem::Bool)
      return mismatch("needs two bools");
    result = Elem::Bool;
  } else if (ast::isComparison(op)) {
    if (a == Elem::Token || b == Elem::Token) {
      if (a != b || lhs.type.vocab != rhs.type.vocab)
        return mismatch("compares tokens with tokens of the same vocabulary");
      if (op != BinaryOp::Eq && op != BinaryOp::Ne)
        return error(loc, "tokens are only compared with '==' and '!='; "
                          "declare the input as 'int' to order it");
    } else if (a == Elem::Bool || b == Elem::Bool) {
      if (a != b || (op != BinaryOp::Eq && op != BinaryOp::Ne))
        return mismatch("compares bools only with '==' and '!=' to bools");
    } else {
      operandElem = (a == Elem::Float || b == Elem::Float) ? Elem::Float : Elem::Int;
    }
    result = Elem::Bool;
  } else {
    if (!isNumeric(a) || !isNumeric(b))
      return mismatch("needs numbers");
    if (op == BinaryOp::Mod && (a != Elem::Int || b != Elem::Int))
      return mismatch("needs two ints");
    // '/' is true division, as in Python.
    result = (op == BinaryOp::Div || a == Elem::Float || b == Elem::Float)
                 ? Elem::Float : Elem::Int;
    operandElem = result;
  }
  Node *l = cast(lhs.node, operandElem, loc);
  Node *r = cast(rhs.node, operandElem, loc);
  // Fold constants so that `1 / sqrt(64)` costs nothing at run time.
  if (l->op == Op::Constant && r->op == Op::Constant && isNumeric(operandElem) &&
      !ast::isComparison(op)) {
    if (operandElem == Elem::Int) {
      // Wrapping, as the compiled 64-bit arithmetic does (in C++ an
      // overflow would be undefined).
      int64_t x = l->intValue, y = r->intValue;
      auto wrap = [](uint64_t v) { return static_cast<int64_t>(v); };
      switch (op) {
      case BinaryOp::Add: return Value(constantInt(wrap(uint64_t(x) + uint64_t(y)), loc));
      case BinaryOp::Sub: return Value(constantInt(wrap(uint64_t(x) - uint64_t(y)), loc));
      case BinaryOp::Mul: return Value(constantInt(wrap(uint64_t(x) * uint64_t(y)), loc));
      case BinaryOp::Mod:
        if (y == 0) return error(loc, "remainder by zero");
        // Every integer is a multiple of -1; x % -1 would trap at INT64_MIN.
        return Value(constantInt(y == -1 ? 0 : x % y, loc));
      default: break;
      }
    } else {
      double x = l->floatValue, y = r->floatValue;
      switch (op) {
      case BinaryOp::Add: return Value(constantFloat(x + y, loc));
      case BinaryOp::Sub: return Value(constantFloat(x - y, loc));
      case BinaryOp::Mul: return Value(constantFloat(x * y, loc));
      case BinaryOp::Div:
        if (y == 0) return error(loc, "division by zero");
        return Value(constantFloat(x / y, loc));
      default: break;
      }
    }
  }
  Node *n = create(Op::Binary, Type::scalar(result), loc);
  n->binaryOp = op;
  n->operands = {l, r};
  return Value(n);
}

Node *Sema::liftIntoMap(const Value &v, std::vector<Node *> &operands) {
  if (!v.type.isSequence())
    return v.node;
  auto it = llvm::find(operands, v.node);
  size_t index = it - operands.begin();
  if (it == operands.end())
    operands.push_back(v.node);
  Node *arg = create(Op::Arg, Type::scalar(v.type.elem, v.type.vocab), v.node->loc);
  arg->intValue = static_cast<int64_t>(index);
  return arg;
}

Value Sema::mapOf(std::vector<Value> inputs,
                  llvm::function_ref<Value(std::vector<Value>)> fn, Loc loc,
                  bool numerical) {
  if (!llvm::any_of(inputs, [](const Value &v) { return v.type.isSequence(); }))
    return fn(inputs);
  std::vector<Node *> operands;
  std::vector<Value> elements;
  for (const Value &v : inputs)
    elements.push_back(Value(liftIntoMap(v, operands), Type::scalar(v.type.elem, v.type.vocab)));
  Value element = fn(elements);
  if (element.isError())
    return element;
  Node *map = create(Op::Map,
                     Type::sequence(element.type.elem, numerical, element.type.vocab),
                     loc);
  map->operands = std::move(operands);
  map->body = element.node;
  return Value(map);
}

Value Sema::tensorBinary(BinaryOp op, Value lhs, Value rhs, Loc loc) {
  const Type &a = lhs.type, &b = rhs.type;
  std::string opName = ast::spelling(op);
  if (op == BinaryOp::MatMul) {
    if (!a.isTensor() || !b.isTensor() || a.dims.size() != 2 || b.dims.size() != 2)
      return error(loc, "'@' multiplies two 2-D tensors, not " + a.str() +
                            " and " + b.str());
    if (a.dtype != b.dtype)
      return error(loc, "'@' needs one element type, not " + a.str() + " and " + b.str());
    // Integer products would need an integer accumulator no lowering has.
    if (a.dtype == DType::I32)
      return error(loc, "'@' multiplies f32, f16 or bf16 tensors, not " + a.str());
    if (a.dims[1] != b.dims[0])
      return error(loc, "'@' needs the inner dimensions to agree: " + a.str() +
                            " @ " + b.str() + " (" + a.dims[1].str() + " vs " +
                            b.dims[0].str() + ")");
    Node *n = create(Op::MatMul, Type::tensor(a.dtype, {a.dims[0], b.dims[1]}), loc);
    n->operands = {lhs.node, rhs.node};
    return Value(n);
  }
  if (ast::isComparison(op) || op == BinaryOp::And || op == BinaryOp::Or ||
      op == BinaryOp::Mod)
    return error(loc, "'" + opName + "' is not defined on model tensors");
  // One side may be a number; a rank-1 tensor broadcasts over rows.
  Value tensorSide = a.isTensor() ? lhs : rhs;
  Value other = a.isTensor() ? rhs : lhs;
  if (other.type.isScalar()) {
    if (!isConstant(other) || !isNumeric(other.type.elem))
      return error(loc, "a model tensor combines with numbers or tensors, not " +
                            other.type.str());
    Node *c = cast(other.node, Elem::Float, loc);
    Node *n = create(Op::Elementwise, tensorSide.type, loc);
    n->binaryOp = op;
    n->operands = a.isTensor() ? std::vector<Node *>{lhs.node, c}
                               : std::vector<Node *>{c, rhs.node};
    return Value(n);
  }
  if (!other.type.isTensor())
    return error(loc, "'" + opName + "' cannot combine " + a.str() + " and " + b.str());
  if (a.dtype != b.dtype)
    return error(loc, "'" + opName + "' needs one element type, not " + a.str() +
                          " and " + b.str());
  bool same = a.dims == b.dims;
  bool broadcast = b.dims.size() == 1 && a.dims.size() == 2 && a.dims[1] == b.dims[0];
  if (!same && !broadcast)
    return error(loc, "'" + opName + "' needs equal shapes, or a vector matching "
                          "the last dimension on the right; got " + a.str() +
                          " and " + b.str());
  Node *n = create(Op::Elementwise, a, loc);
  n->binaryOp = op;
  n->operands = {lhs.node, rhs.node};
  return Value(n);
}

Value Sema::rowOf(const ast::Index &e, Value base) {
  const Type &t = base.type;
  if (!t.isTensor() || t.dims.size() != 2)
    return error(e.base->loc, "outside attention predicates, indexing takes a row of a "
                              "2-D model tensor, not " + t.str());
  std::optional<double> row = constantNumber(*e.index, "a row index");
  if (!row)
    return Value();
  if (*row != static_cast<int64_t>(*row) || *row < 0 || !t.dims[0].isStatic() ||
      *row >= static_cast<double>(t.dims[0].size))
    return error(e.index->loc, "row " + formatNumber(*row) + " is not a row of " + t.str() +
                                   (t.dims[0].isStatic() ? "" : " (its size is known at run time)"));
  Node *n = create(Op::Row, Type::tensor(t.dtype, {t.dims[1]}), e.loc);
  n->intValue = static_cast<int64_t>(*row);
  n->operands = {base.node};
  return Value(n);
}

Value Sema::index(const ast::Index &e) {
  if (!body) {
    Value base = expr(*e.base);
    if (base.isError())
      return Value();
    if (base.type.isTensor())
      return rowOf(e, base);
  }
  if (!body || (body->kind != Body::Kind::Mask && body->kind != Body::Kind::Score))
    return error(e.loc, "indexing reads a model input at a position; it is "
                        "only allowed in attention predicates and scores");
  Value base = expr(*e.base);
  Value position = expr(*e.index);
  if (base.isError() || position.isError())
    return Value();
  if (!base.type.isTensor() || base.type.dims.size() != 1 ||
      (base.node->op != Op::Input && base.node->op != Op::Param))
    return error(e.base->loc, "only rank-1 model inputs and parameters (e.g. "
                              "'doc: i32[T]') can be indexed, not " + base.type.str());
  if (!position.type.isScalar() || position.type.elem != Elem::Int)
    return error(e.index->loc, "a position must be an int, not " + position.type.str());
  Elem elem = base.type.dtype == DType::I32 ? Elem::Int : Elem::Float;
  Node *n = create(Op::Extract, Type::scalar(elem), e.loc);
  n->operands = {base.node, position.node};
  // A packed input holds every example: its element for a position of
  // this example is at the example's start plus the position.
  if (body->packedStart && isPacked(base.type.dims[0])) {
    Node *packed = create(Op::Binary, Type::scalar(Elem::Int), e.loc);
    packed->binaryOp = BinaryOp::Add;
    packed->operands = {position.node, body->packedStart};
    n->operands[1] = packed;
  }
  return Value(n);
}

Value Sema::scored(const ast::Scored &e) {
  Value sel = expr(*e.selector);
  if (sel.isError())
    return Value();
  if (sel.type.kind != Type::Kind::AttnSelector)
    return error(e.loc, "'scored' applies to an attention select over query "
                        "and key tensors, not to a " + sel.type.str());
  if (sel.node->scoreBody)
    return error(e.loc, "this selector already has a score");
  Body b;
  b.kind = Body::Kind::Score;
  b.query = sel.node->operands[1];
  b.key = sel.node->operands[0];
  b.score = create(Op::Arg, Type::scalar(Elem::Float), e.loc);
  b.score->intValue = 0;
  for (auto [name, index] : {std::pair<const char *, int>{"head", 2},
                             {"query_pos", 3}, {"key_pos", 4}}) {
    Node *arg = create(Op::Arg, Type::scalar(Elem::Int), e.loc);
    arg->intValue = index;
    b.names[name] = arg;
  }
  if (isPacked(b.query->type.dims[1]))
    localizePositions(b, e.loc);
  Value score = predicateBody(*e.score, b, "score");
  if (score.isError())
    return Value();
  if (!isNumeric(score.type.elem))
    return error(e.score->loc, "a score must be a number, not " + score.type.str());
  Node *n = create(Op::AttnSelect, sel.type, sel.node->loc);
  *n = *sel.node;
  n->scoreBody = cast(score.node, Elem::Float, e.loc);
  return Value(n);
}

//===----------------------------------------------------------------------===//
// Calls and built-ins
//===----------------------------------------------------------------------===//

bool Sema::checkArity(const ast::Call &c, size_t min, size_t max,
                      llvm::ArrayRef<llvm::StringRef> keywords) {
  size_t positional = 0;
  bool ok = true;
  for (const ast::Argument &a : c.args) {
    if (a.kind == ast::Argument::Kind::Keyword) {
      if (!llvm::is_contained(keywords, a.keyword)) {
        std::string allowed;
        for (llvm::StringRef k : keywords)
          allowed += (allowed.empty() ? "" : ", ") + k.str();
        error(a.loc, "'" + c.callee + "' has no argument named '" + a.keyword +
                         "'" + (allowed.empty() ? "" : " (it takes: " + allowed + ")"));
        ok = false;
      }
    } else {
      ++positional;
    }
  }
  if (positional < min || positional > max) {
    std::string expected = min == max ? std::to_string(min)
                                      : std::to_string(min) + " to " + std::to_string(max);
    error(c.calleeLoc, "'" + c.callee + "' takes " + expected + " argument(s) but " +
                           std::to_string(positional) + " were given");
    return false;
  }
  return ok;
}

const ast::Argument *Sema::keyword(const ast::Call &c, llvm::StringRef name) {
  for (const ast::Argument &a : c.args)
    if (a.kind == ast::Argument::Kind::Keyword && a.keyword == name)
      return &a;
  return nullptr;
}

/// The i-th positional argument as an expression; lambdas and bare
/// comparisons are reported and give null.
const ast::Expr *Sema::positionalExpr(const ast::Call &c, size_t i) {
  size_t seen = 0;
  for (const ast::Argument &a : c.args) {
    if (a.kind == ast::Argument::Kind::Keyword || seen++ != i)
      continue;
    if (a.kind == ast::Argument::Kind::Lambda) {
      error(a.loc, "'" + c.callee + "' does not take a function here");
      return nullptr;
    }
    if (a.kind == ast::Argument::Kind::Comparison) {
      error(a.loc, "a bare comparison is only an argument of select()");
      return nullptr;
    }
    return a.value.get();
  }
  return nullptr;
}

/// The i-th positional argument as a value; lambdas and bare comparisons are
/// reported.
Value Sema::positional(const ast::Call &c, size_t i) {
  const ast::Expr *e = positionalExpr(c, i);
  return e ? expr(*e) : Value();
}

std::optional<double> Sema::constantNumber(const ast::Expr &e, llvm::StringRef what) {
  Value v = expr(e);
  if (v.isError())
    return std::nullopt;
  if (!isConstant(v) || !isNumeric(v.type.elem)) {
    error(e.loc, what + " must be a constant number");
    return std::nullopt;
  }
  return constantAsDouble(v.node);
}

std::optional<double> Sema::positiveKeyword(const ast::Call &c, llvm::StringRef name,
                                            llvm::StringRef what, double fallback) {
  const ast::Argument *a = keyword(c, name);
  if (!a)
    return fallback;
  std::optional<double> v = constantNumber(*a->value, what);
  if (!v)
    return std::nullopt;
  if (!(*v > 0)) {
    error(a->value->loc, what + " must be positive, not " + formatNumber(*v));
    return std::nullopt;
  }
  return v;
}

Value Sema::call(const ast::Call &c) {
  if (auto it = functions.find(c.callee); it != functions.end())
    return callFunction(*it->second, c);
  llvm::StringRef callee = c.callee;
  if (callee == "select")
    return builtinSelect(c);
  if (callee == "aggregate")
    return builtinAggregate(c);
  if (callee == "selector_width") {
    if (!checkArity(c, 1, 1))
      return Value();
    Value sel = positional(c, 0);
    if (sel.isError())
      return sel;
    if (sel.type.kind != Type::Kind::Selector)
      return error(c.args[0].loc, "selector_width() counts a selector, not a " +
                                      sel.type.str());
    Node *n = create(Op::SelectorWidth, Type::sequence(Elem::Int, false), c.loc);
    n->operands = {sel.node};
    return Value(n);
  }
  if (callee == "map")
    return builtinMap(c, 1);
  if (callee == "sequence_map") // of two sequences or more
    return builtinMap(c, std::max<unsigned>(2, c.args.size() > 1 ? c.args.size() - 1 : 2));
  if (callee == "lookup")
    return builtinLookup(c);
  if (callee == "numerical" || callee == "categorical") {
    if (!checkArity(c, 1, 1))
      return Value();
    Value v = positional(c, 0);
    if (v.isError())
      return v;
    if (!v.type.isSequence())
      return error(c.args[0].loc, "'" + c.callee + "' marks a sequence, not a " +
                                      v.type.str());
    if (callee == "numerical" && !(isNumeric(v.type.elem) || v.type.elem == Elem::Bool))
      return error(c.args[0].loc, "a numerical sequence holds numbers or bools, "
                                  "not " + v.type.str());
    v.type.numerical = callee == "numerical";
    return v;
  }
  if (callee == "max" || callee == "min") {
    // Element-wise, of two numbers or numeric sequences: `a if a >= b else
    // b` (or <=), so an int and a float give a float.
    if (!checkArity(c, 2, 2))
      return Value();
    Value a = positional(c, 0), b = positional(c, 1);
    if (a.isError() || b.isError())
      return Value();
    for (unsigned i = 0; i < 2; ++i) {
      const Type &t = (i ? b : a).type;
      if (!(t.isScalar() || t.isSequence()) || !isNumeric(t.elem))
        return error(c.args[i].loc, "'" + callee + "' takes numbers or sequences of "
                                    "numbers, not " + t.str());
    }
    BinaryOp keepFirst = callee == "max" ? BinaryOp::Ge : BinaryOp::Le;
    bool numerical = a.type.isNumericalSequence() || b.type.isNumericalSequence();
    return mapOf({a, b}, [&](std::vector<Value> xs) {
      Value first = scalarBinary(keepFirst, xs[0], xs[1], c.loc);
      if (first.isError())
        return first;
      return scalarConditional(first, xs[0], xs[1], c.loc);
    }, c.loc, numerical);
  }
  if (callee == "int" || callee == "float") {
    if (!checkArity(c, 1, 1))
      return Value();
    Value v = positional(c, 0);
    if (v.isError())
      return v;
    Elem to = callee == "int" ? Elem::Int : Elem::Float;
    if (!(v.type.isScalar() || v.type.isSequence()) || v.type.elem == Elem::Token)
      return error(c.args[0].loc, "'" + c.callee + "' converts numbers and bools, "
                                  "not " + v.type.str());
    return mapOf({v}, [&](std::vector<Value> xs) {
      return Value(cast(xs[0].node, to, c.loc));
    }, c.loc, v.type.numerical);
  }
  if (callee == "exp" || callee == "tanh" || callee == "sqrt" || callee == "relu" ||
      callee == "gelu" || callee == "silu" || callee == "sigmoid" || callee == "abs")
    return builtinUnaryFunction(c);
  if (callee == "heads" || callee == "merge_heads" || callee == "layernorm" ||
      callee == "rmsnorm" || callee == "rope")
    return builtinTensorFunction(c);
  if (callee == "linear" || callee == "transpose" || callee == "embed" ||
      callee == "positions" || callee == "sum_pool" || callee == "mean_pool" ||
      callee == "max_pool" || callee == "l2_normalize")
    return builtinLayer(c);
  if (callee == "dot") {
    if (!body || body->kind != Body::Kind::Score)
      return error(c.calleeLoc, "dot(q, k) is the attention score; it is only "
                                "defined after 'scored'");
    if (!checkArity(c, 2, 2))
      return Value();
    Value q = positional(c, 0), k = positional(c, 1);
    if (q.isError() || k.isError())
      return Value();
    if (q.node != body->query || k.node != body->key)
      return error(c.calleeLoc, "dot() takes the query and the key of this "
                                "select, in that order");
    return Value(body->score);
  }
  if (callee == "alibi_slope") {
    // 2^(-8 (h + 1) / H): the ALiBi slope of head h of H.
    if (!checkArity(c, 2, 2))
      return Value();
    Value h = positional(c, 0);
    const ast::Expr *count = positionalExpr(c, 1);
    std::optional<double> heads =
        count ? constantNumber(*count, "the head count") : std::nullopt;
    if (h.isError() || !heads)
      return Value();
    if (!h.type.isScalar() || h.type.elem != Elem::Int)
      return error(c.args[0].loc, "alibi_slope() takes a head index, not " + h.type.str());
    Value hp1 = scalarBinary(BinaryOp::Add, h, Value(constantInt(1, c.loc)), c.loc);
    Value exponent = scalarBinary(BinaryOp::Mul, hp1,
                                  Value(constantFloat(-8.0 / *heads, c.loc)), c.loc);
    Node *n = create(Op::Unary, Type::scalar(Elem::Float), c.loc);
    n->name = "exp2";
    n->operands = {exponent.node};
    return Value(n);
  }
  return error(c.calleeLoc, "unknown function '" + c.callee + "'");
}

Value Sema::builtinSelect(const ast::Call &c) {
  if (!checkArity(c, 3, 3))
    return Value();
  Value keys = positional(c, 0), queries = positional(c, 1);
  if (keys.isError() || queries.isError())
    return Value();
  if (keys.type.isSequence() && queries.type.isSequence())
    return sequenceSelect(c, keys, queries);
  if (keys.type.isTensor() && queries.type.isTensor())
    return attentionSelect(c, keys, queries);
  return error(c.calleeLoc, "select() compares two sequences, or the keys and "
                            "queries of attention (tensors from heads()); got " +
                            keys.type.str() + " and " + queries.type.str());
}

Value Sema::predicateBody(const ast::Expr &e, Body &b, llvm::StringRef what) {
  Body *saved = body;
  body = &b;
  Value v = expr(e);
  body = saved;
  if (v.isError())
    return v;
  if (!v.type.isScalar())
    return error(e.loc, "a " + what + " computes one value per element, not a " +
                            v.type.str());
  return v;
}

Value Sema::sequenceSelect(const ast::Call &c, Value keys, Value queries) {
  const ast::Argument &pred = c.args[2];
  Node *n = create(Op::Select, Type::selector(), c.loc);
  n->operands = {keys.node, queries.node};
  bool isBoolLiteral = pred.kind == ast::Argument::Kind::Positional &&
                       pred.value->kind == ast::ExprKind::BoolLit;
  if (pred.kind == ast::Argument::Kind::Comparison || isBoolLiteral) {
    n->hasComparison = true;
    if (isBoolLiteral) {
      n->name = static_cast<const ast::BoolLit &>(*pred.value).value ? "always" : "never";
      return Value(n);
    }
    n->comparison = pred.comparison;
    // Check the comparison on one key and one query, as the op will.
    Body b;
    b.kind = Body::Kind::Predicate;
    Node *k = create(Op::Arg, Type::scalar(keys.type.elem, keys.type.vocab), pred.loc);
    Node *q = create(Op::Arg, Type::scalar(queries.type.elem, queries.type.vocab), pred.loc);
    Body *saved = body;
    body = &b;
    Value check = scalarBinary(pred.comparison, Value(k), Value(q), pred.loc);
    body = saved;
    if (check.isError())
      return check;
    if (keys.type.elem != queries.type.elem) {
      // Mixed int/float comparisons go through a predicate with the casts.
      n->hasComparison = false;
      k->intValue = 0;
      q->intValue = 1;
      n->body = check.node;
    }
    return Value(n);
  }
  if (pred.kind == ast::Argument::Kind::Lambda) {
    // (k, q) => ...: the predicate as a function of one key and one query.
    Value v = lambdaBody(pred, {keys.type, queries.type});
    if (v.isError())
      return v;
    if (v.type.elem != Elem::Bool)
      return error(pred.value->loc, "a select predicate must be a bool, not " +
                                        v.type.str());
    n->body = v.node;
    return Value(n);
  }
  if (pred.kind != ast::Argument::Kind::Positional)
    return error(pred.loc, "the third argument of select() is a comparison "
                           "(==, <, ...), true/false, or a predicate over "
                           "'key' and 'query'");
  Body b;
  b.kind = Body::Kind::Predicate;
  Node *k = create(Op::Arg, Type::scalar(keys.type.elem, keys.type.vocab), pred.loc);
  k->intValue = 0;
  Node *q = create(Op::Arg, Type::scalar(queries.type.elem, queries.type.vocab), pred.loc);
  q->intValue = 1;
  b.names["key"] = k;
  b.names["query"] = q;
  Value v = predicateBody(*pred.value, b, "select predicate");
  if (v.isError())
    return v;
  if (v.type.elem != Elem::Bool)
    return error(pred.value->loc, "a select predicate must be a bool, not " +
                                      v.type.str());
  n->body = v.node;
  return Value(n);
}

Value Sema::attentionSelect(const ast::Call &c, Value keys, Value queries) {
  const Type &k = keys.type, &q = queries.type;
  if (k.dims.size() != 3 || q.dims.size() != 3) {
    // heads() produces rank 3; tensors here are rank <= 2 as written.
    return error(c.calleeLoc, "attention select() takes keys and queries split "
                              "into heads, e.g. select(heads(k, 8), heads(q, 8), "
                              "...); got " + k.str() + " and " + q.str());
  }
  if (k.dims[2] != q.dims[2])
    return error(c.calleeLoc, "queries and keys need the same head size, got " +
                                  q.str() + " and " + k.str());
  if (k.dims[0].isStatic() && q.dims[0].isStatic() && q.dims[0].size % k.dims[0].size)
    return error(c.calleeLoc, "the key head count (" + k.dims[0].str() +
                                  ") must divide the query head count (" +
                                  q.dims[0].str() + ")");
  Type selType;
  selType.kind = Type::Kind::AttnSelector;
  Node *n = create(Op::AttnSelect, selType, c.loc);
  n->operands = {keys.node, queries.node};
  const ast::Argument &pred = c.args[2];
  bool packed = isPacked(q.dims[1]) || isPacked(k.dims[1]);
  if (packed && q.dims[1] != k.dims[1])
    return error(c.calleeLoc, "in a packed batch, attention stays within each example: "
                              "queries and keys must both be the packed positions (" +
                                  program->packedSymbol + ")");
  Body b;
  b.kind = Body::Kind::Mask;
  for (auto [name, index] : {std::pair<const char *, int>{"head", 1},
                             {"query_pos", 2}, {"key_pos", 3}}) {
    Node *arg = create(Op::Arg, Type::scalar(Elem::Int), pred.loc);
    arg->intValue = index;
    b.names[name] = arg;
  }
  // A packed batch: keys of the query's own example only, as an interval
  // of key positions (the flash loops skip the blocks outside it).
  Node *sameExample = nullptr;
  if (packed) {
    auto compare = [&](BinaryOp op, Node *x, Node *y) {
      Node *c = create(Op::Binary, Type::scalar(Elem::Bool), pred.loc);
      c->binaryOp = op;
      c->operands = {x, y};
      return c;
    };
    Node *key = b.names["key_pos"], *query = b.names["query_pos"];
    sameExample = compare(BinaryOp::And,
                          compare(BinaryOp::Ge, key, atQuery(program->exampleStarts, query, pred.loc)),
                          compare(BinaryOp::Lt, key, atQuery(program->exampleEnds, query, pred.loc)));
    localizePositions(b, pred.loc);
  }
  auto withExample = [&](Node *mask) {
    if (!sameExample)
      return mask;
    if (!mask)
      return sameExample;
    Node *both = create(Op::Binary, Type::scalar(Elem::Bool), pred.loc);
    both->binaryOp = BinaryOp::And;
    both->operands = {sameExample, mask};
    return both;
  };
  if (pred.kind == ast::Argument::Kind::Positional &&
      pred.value->kind == ast::ExprKind::BoolLit) {
    if (!static_cast<const ast::BoolLit &>(*pred.value).value)
      return error(pred.loc, "'false' would hide every key; attention needs a "
                             "predicate that selects something");
    n->body = withExample(nullptr);
    return Value(n);
  }
  Value mask;
  if (pred.kind == ast::Argument::Kind::Comparison) {
    // select(k, q, <=) compares positions: key_pos <= query_pos.
    Body *saved = body;
    body = &b;
    mask = scalarBinary(pred.comparison, Value(b.names["key_pos"]),
                        Value(b.names["query_pos"]), pred.loc);
    body = saved;
  } else if (pred.kind == ast::Argument::Kind::Positional) {
    mask = predicateBody(*pred.value, b, "mask");
  } else {
    return error(pred.loc, "the third argument of select() is a predicate over "
                           "query_pos, key_pos and head");
  }
  if (mask.isError())
    return mask;
  if (mask.type.elem != Elem::Bool)
    return error(pred.loc, "a mask must be a bool, not " + mask.type.str());
  n->body = withExample(mask.node);
  return Value(n);
}

Value Sema::builtinAggregate(const ast::Call &c) {
  if (!checkArity(c, 2, 3, {"default"}))
    return Value();
  Value sel = positional(c, 0), values = positional(c, 1);
  if (sel.isError() || values.isError())
    return Value();
  if (sel.type.kind == Type::Kind::AttnSelector) {
    if (!values.type.isTensor() || values.type.dims.size() != 3)
      return error(c.args[1].loc, "attention aggregates values split into heads, "
                                  "not " + values.type.str());
    Node *q = sel.node->operands[1], *k = sel.node->operands[0];
    const Type &kt = k->type, &vt = values.type;
    if (kt.dims[0] != vt.dims[0] || kt.dims[1] != vt.dims[1])
      return error(c.args[1].loc, "values need the keys' heads and positions: "
                                  "keys are " + kt.str() + ", values " + vt.str());
    if (kt.dtype != vt.dtype || q->type.dtype != vt.dtype)
      return error(c.args[1].loc, "queries, keys and values need one element type");
    std::string normalizer = "softmax", featureMap, customName;
    if (keyword(c, "default"))
      return error(keyword(c, "default")->loc, "attention has no default: a query "
                                               "that sees no key gets zeros");
    if (c.args.size() > 2 && c.args[2].kind == ast::Argument::Kind::Positional) {
      const ast::Expr &e = *c.args[2].value;
      if (e.kind == ast::ExprKind::Name) {
        normalizer = static_cast<const ast::Name &>(e).name;
        if (normalizer != "softmax" && normalizer != "mean" && normalizer != "sigmoid")
          return error(e.loc, "unknown normalizer '" + normalizer +
                                  "' (softmax, mean, sigmoid, linear(feature map) or "
                                  "custom(name))");
      } else if (e.kind == ast::ExprKind::Call &&
                 static_cast<const ast::Call &>(e).callee == "custom") {
        // A normalizer lowered by a pass plugin (docs/passes.md).
        auto &cc = static_cast<const ast::Call &>(e);
        normalizer = "custom";
        if (cc.args.size() != 1 || cc.args[0].kind != ast::Argument::Kind::Positional ||
            cc.args[0].value->kind != ast::ExprKind::Name)
          return error(cc.calleeLoc, "custom() takes the name of a normalizer that a "
                                     "pass plugin lowers, e.g. custom(sinkhorn)");
        customName = static_cast<const ast::Name &>(*cc.args[0].value).name;
      } else if (e.kind == ast::ExprKind::Call &&
                 static_cast<const ast::Call &>(e).callee == "linear") {
        auto &lc = static_cast<const ast::Call &>(e);
        normalizer = "linear";
        if (lc.args.size() != 1 || lc.args[0].kind != ast::Argument::Kind::Positional ||
            lc.args[0].value->kind != ast::ExprKind::Name)
          return error(lc.calleeLoc, "linear() takes a feature map: elu_plus_one, "
                                     "relu or exp");
        featureMap = static_cast<const ast::Name &>(*lc.args[0].value).name;
        if (featureMap != "elu_plus_one" && featureMap != "relu" && featureMap != "exp")
          return error(lc.args[0].loc, "unknown feature map '" + featureMap +
                                           "' (elu_plus_one, relu or exp)");
      } else {
        return error(e.loc, "the normalizer is softmax, mean, sigmoid, "
                            "linear(feature map) or custom(name)");
      }
    }
    if (sel.node->scoreBody && (normalizer == "mean" || normalizer == "linear"))
      return error(c.args[2].loc, "the " + normalizer + " normalizer does not use "
                                  "scores; drop 'scored'");
    Node *n = create(Op::Attention,
                     Type::tensor(vt.dtype, {q->type.dims[0], q->type.dims[1], vt.dims[2]}),
                     c.loc);
    n->operands = {q, k, values.node};
    n->body = sel.node->body;
    n->scoreBody = sel.node->scoreBody;
    n->name = normalizer;
    n->featureMap = featureMap;
    n->customName = customName;
    return Value(n);
  }
  if (sel.type.kind != Type::Kind::Selector)
    return error(c.args[0].loc, "aggregate() takes a selector first, not a " +
                                    sel.type.str());
  if (!values.type.isSequence())
    return error(c.args[1].loc, "aggregate() moves a sequence, not a " +
                                    values.type.str());
  if (c.args.size() > 2 && c.args[2].kind != ast::Argument::Kind::Keyword)
    return error(c.args[2].loc, "a normalizer is for attention over tensors; "
                                "sequence aggregates are mean (numerical) or "
                                "categorical");
  Node *n = create(Op::Aggregate, values.type, c.loc);
  n->operands = {sel.node, values.node};
  n->numericalAggregate = values.type.numerical;
  if (values.type.numerical) {
    if (values.type.elem == Elem::Token)
      return error(c.args[1].loc, "a numerical aggregate averages numbers, not tokens");
    n->type = Type::sequence(Elem::Float, true);
  }
  Elem elem = n->type.elem;
  Node *dflt = nullptr;
  if (const ast::Argument *d = keyword(c, "default")) {
    Value v = expr(*d->value);
    if (v.isError())
      return v;
    v = resolveTokenLiteral(v, n->type, d->loc);
    if (v.isError())
      return v;
    if (!isConstant(v) || !(v.type.elem == elem || (isNumeric(elem) && isNumeric(v.type.elem))))
      return error(d->value->loc, "the default must be a constant " +
                                      std::string(spelling(elem)) + ", not " + v.type.str());
    dflt = cast(v.node, elem, d->loc);
  } else {
    // RASP leaves empty selections as None; ints and floats read 0, tokens
    // print as '_' (id -1).
    dflt = create(Op::Constant, Type::scalar(elem, n->type.vocab), c.loc);
    dflt->intValue = elem == Elem::Token ? -1 : 0;
  }
  n->defaultValue = dflt;
  return Value(n);
}

Value Sema::lambdaBody(const ast::Argument &lambda, llvm::ArrayRef<Type> paramTypes) {
  if (lambda.kind != ast::Argument::Kind::Lambda)
    return error(lambda.loc, "expected a function such as 'x => x + 1'");
  if (lambda.lambdaParams.size() != paramTypes.size())
    return error(lambda.loc, "this function must take " +
                                 std::to_string(paramTypes.size()) +
                                 " parameter(s), not " +
                                 std::to_string(lambda.lambdaParams.size()));
  Body b;
  b.kind = Body::Kind::Lambda;
  for (size_t i = 0; i < paramTypes.size(); ++i) {
    Node *arg = create(Op::Arg, Type::scalar(paramTypes[i].elem, paramTypes[i].vocab),
                       lambda.lambdaParamLocs[i]);
    arg->intValue = static_cast<int64_t>(i);
    if (!b.names.try_emplace(lambda.lambdaParams[i], arg).second)
      return error(lambda.lambdaParamLocs[i],
                   "parameter '" + lambda.lambdaParams[i] + "' appears twice");
  }
  return predicateBody(*lambda.value, b, "function");
}

Value Sema::builtinMap(const ast::Call &c, unsigned arity) {
  if (c.args.size() != arity + 1)
    return error(c.calleeLoc, "'" + c.callee + "' takes " +
                                  (arity == 1 ? "1 sequence" : "2 or more sequences") +
                                  " and a function, e.g. " +
                                  (arity == 1 ? "map(tokens, x => x + 1)"
                                              : "sequence_map(a, b, (x, y) => x + y)"));
  std::vector<Value> inputs;
  std::vector<Type> types;
  for (unsigned i = 0; i < arity; ++i) {
    Value v = positional(c, i);
    if (v.isError())
      return v;
    if (!v.type.isSequence())
      return error(c.args[i].loc, "'" + c.callee + "' applies a function to a "
                                  "sequence, not to a " + v.type.str());
    inputs.push_back(v);
    types.push_back(v.type);
  }
  Value element = lambdaBody(c.args[arity], types);
  if (element.isError())
    return element;
  // A function giving a string gives a token of the open vocabulary, which
  // the word joins (it printed as '_', a token no vocabulary had).
  element = resolveTokenLiteral(element, Type::scalar(Elem::Token, openVocab), c.loc);
  if (element.isError())
    return element;
  Node *map = create(Op::Map, Type::sequence(element.type.elem, false, element.type.vocab),
                     c.loc);
  for (const Value &v : inputs)
    map->operands.push_back(v.node);
  // sequence_map(a, a, ...) passes one sequence twice; Map operands stay
  // positional so the body's Arg indices match.
  map->body = element.node;
  return Value(map);
}

Value Sema::builtinLookup(const ast::Call &c) {
  if (!checkArity(c, 2, 2, {"default"}))
    return Value();
  Value key = positional(c, 0);
  if (key.isError())
    return key;
  const ast::Argument &tableArg = c.args[1];
  if (tableArg.kind != ast::Argument::Kind::Positional ||
      tableArg.value->kind != ast::ExprKind::Dict)
    return error(tableArg.loc, "lookup() takes a table such as {\"(\": 1, \")\": -1}");
  auto &dict = static_cast<const ast::Dict &>(*tableArg.value);
  if (!(key.type.isScalar() || key.type.isSequence()))
    return error(c.args[0].loc, "lookup() maps a sequence or a value, not a " +
                                    key.type.str());
  std::vector<std::pair<Node *, Node *>> table;
  std::optional<Elem> valueElem;
  Type keyType = Type::scalar(key.type.elem, key.type.vocab);
  for (auto &[k, v] : dict.entries) {
    Value kv = expr(*k), vv = expr(*v);
    if (kv.isError() || vv.isError())
      return Value();
    kv = resolveTokenLiteral(kv, keyType, k->loc);
    if (kv.isError())
      return kv;
    if (!isConstant(kv) || kv.type.elem != key.type.elem)
      return error(k->loc, "table keys must be constants of the looked-up type (" +
                               std::string(spelling(key.type.elem)) + ")");
    if (!isConstant(vv) || vv.type.elem == Elem::Token)
      return error(v->loc, "table values must be constant numbers or bools");
    if (!valueElem)
      valueElem = vv.type.elem;
    else if (*valueElem != vv.type.elem) {
      if (isNumeric(*valueElem) && isNumeric(vv.type.elem))
        valueElem = Elem::Float;
      else
        return error(v->loc, "table values must all have one type");
    }
    table.push_back({kv.node, vv.node});
  }
  Node *dflt = nullptr;
  if (const ast::Argument *d = keyword(c, "default")) {
    Value v = expr(*d->value);
    if (v.isError())
      return v;
    if (!isConstant(v) || v.type.elem == Elem::Token ||
        (valueElem && isNumeric(*valueElem) != isNumeric(v.type.elem)))
      return error(d->value->loc, "the default must be a constant like the table values");
    dflt = v.node;
  } else {
    return error(c.calleeLoc, "lookup() needs default=... for keys missing from "
                              "the table");
  }
  Elem out = *valueElem;
  if (isNumeric(out) && dflt->type.elem == Elem::Float)
    out = Elem::Float;
  for (auto &entry : table)
    entry.second = cast(entry.second, out, c.loc);
  dflt = cast(dflt, out, c.loc);
  return mapOf({key}, [&](std::vector<Value> xs) {
    Node *n = create(Op::Lookup, Type::scalar(out), c.loc);
    n->operands = {xs[0].node};
    n->table = table;
    n->defaultValue = dflt;
    return Value(n);
  }, c.loc, key.type.numerical);
}

Value Sema::builtinUnaryFunction(const ast::Call &c) {
  if (!checkArity(c, 1, 1))
    return Value();
  Value v = positional(c, 0);
  if (v.isError())
    return v;
  if (v.type.isTensor()) {
    Node *n = create(Op::Elementwise, v.type, c.loc);
    n->name = c.callee;
    n->operands = {v.node};
    return Value(n);
  }
  if (!(v.type.isScalar() || v.type.isSequence()) || !isNumeric(v.type.elem))
    return error(c.args[0].loc, "'" + c.callee + "' needs numbers, not " + v.type.str());
  if (isConstant(v) && c.callee == "sqrt") {
    double x = constantAsDouble(v.node);
    if (x < 0)
      return error(c.args[0].loc, "square root of a negative number");
    return Value(constantFloat(std::sqrt(x), c.loc));
  }
  Elem out = c.callee == "abs" ? v.type.elem : Elem::Float;
  return mapOf({v}, [&](std::vector<Value> xs) {
    Node *n = create(Op::Unary, Type::scalar(out), c.loc);
    n->name = c.callee;
    n->operands = {cast(xs[0].node, out, c.loc)};
    return Value(n);
  }, c.loc, v.type.numerical);
}

Value Sema::builtinTensorFunction(const ast::Call &c) {
  llvm::StringRef f = c.callee;
  size_t arity = f == "heads" ? 2 : f == "merge_heads" || f == "rope" ? 1
               : f == "layernorm" ? 3 : 2;
  llvm::SmallVector<llvm::StringRef> keywords;
  if (f == "layernorm" || f == "rmsnorm")
    keywords.push_back("eps");
  if (f == "rope")
    keywords.push_back("base");
  if (!checkArity(c, arity, arity, keywords))
    return Value();
  Value x = positional(c, 0);
  if (x.isError())
    return x;
  if (!x.type.isTensor())
    return error(c.args[0].loc, "'" + c.callee + "' works on model tensors, not " +
                                    x.type.str());
  const Type &t = x.type;
  if (f == "heads") {
    const ast::Expr *count = positionalExpr(c, 1);
    std::optional<double> h = count ? constantNumber(*count, "the head count")
                                    : std::nullopt;
    if (!h)
      return Value();
    int64_t heads = static_cast<int64_t>(*h);
    if (heads <= 0 || heads != *h)
      return error(c.args[1].loc, "the head count must be a positive integer");
    if (t.dims.size() != 2)
      return error(c.args[0].loc, "heads() splits a [positions, features] tensor, "
                                  "not " + t.str());
    if (!t.dims[1].isStatic() || t.dims[1].size % heads)
      return error(c.args[1].loc, std::to_string(heads) + " heads do not divide " +
                                      t.dims[1].str() + " features");
    Node *n = create(Op::Heads,
                     Type::tensor(t.dtype, {Dim{heads, ""}, t.dims[0],
                                            Dim{t.dims[1].size / heads, ""}}),
                     c.loc);
    n->intValue = heads;
    n->operands = {x.node};
    return Value(n);
  }
  if (f == "merge_heads" || f == "rope") {
    if (t.dims.size() != 3)
      return error(c.args[0].loc, "'" + c.callee + "' takes a tensor split into "
                                  "heads, not " + t.str());
    if (f == "merge_heads") {
      Node *n = create(Op::MergeHeads,
                       Type::tensor(t.dtype, {t.dims[1],
                                              Dim{t.dims[0].size * t.dims[2].size, ""}}),
                       c.loc);
      n->operands = {x.node};
      return Value(n);
    }
    if (t.dims[2].size % 2)
      return error(c.args[0].loc, "rotary embeddings need an even head size, not " +
                                      t.dims[2].str());
    // The angles are position / base^(2i/D): a base <= 0 makes them NaN.
    std::optional<double> base = positiveKeyword(c, "base", "the rotary base", 10000.0);
    if (!base)
      return Value();
    Node *n = create(Op::Rope, t, c.loc);
    n->floatValue = *base;
    n->operands = {x.node};
    // A packed batch rotates by the position in each example.
    if (isPacked(t.dims[1]))
      n->operands.push_back(program->localPositions);
    return Value(n);
  }
  // layernorm(x, gain, bias) and rmsnorm(x, gain) over the last dimension.
  if (t.dims.size() != 2)
    return error(c.args[0].loc, "'" + c.callee + "' normalizes a [positions, "
                                "features] tensor, not " + t.str());
  std::vector<Node *> operands = {x.node};
  for (size_t i = 1; i < arity; ++i) {
    Value p = positional(c, i);
    if (p.isError())
      return p;
    if (!p.type.isTensor() || p.type.dims.size() != 1 || p.type.dims[0] != t.dims[1] ||
        p.type.dtype != t.dtype)
      return error(c.args[i].loc, "expected a " + std::string(spelling(t.dtype)) + "[" +
                                      t.dims[1].str() + "] vector, not " + p.type.str());
    operands.push_back(p.node);
  }
  // The norm divides by sqrt(variance + eps): eps <= 0 divides a constant
  // row by zero (or takes the root of a negative number).
  std::optional<double> eps = positiveKeyword(c, "eps", "eps", f == "layernorm" ? 1e-5 : 1e-6);
  if (!eps)
    return Value();
  Node *n = create(f == "layernorm" ? Op::LayerNorm : Op::RMSNorm, t, c.loc);
  n->operands = std::move(operands);
  n->floatValue = *eps;
  return Value(n);
}

/// The layers of real checkpoints: `linear` with PyTorch's [out, in]
/// weights, embedding lookups, pooling over positions, L2 normalization.
Value Sema::builtinLayer(const ast::Call &c) {
  llvm::StringRef f = c.callee;
  bool pool = f.ends_with("_pool");
  size_t minArity = f == "linear" || f == "embed" ? 2 : 1;
  size_t maxArity = f == "linear" ? 3 : minArity;
  llvm::SmallVector<llvm::StringRef> keywords;
  if (pool)
    keywords.push_back("mask");
  if (f == "l2_normalize")
    keywords.push_back("eps");
  if (!checkArity(c, minArity, maxArity, keywords))
    return Value();
  std::vector<Value> args;
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (i >= maxArity)
      break;
    const ast::Expr *e = positionalExpr(c, i);
    if (!e)
      break;
    args.push_back(expr(*e));
    if (args.back().isError())
      return Value();
  }
  if (args.size() < minArity)
    return Value();
  auto argLoc = [&](size_t i) {
    size_t seen = 0;
    for (const ast::Argument &a : c.args)
      if (a.kind != ast::Argument::Kind::Keyword && seen++ == i)
        return a.loc;
    return c.loc;
  };
  auto isFloatTensor = [](const Type &t) { return t.isTensor() && t.dtype != DType::I32; };
  const Type &x = args[0].type;

  if (f == "positions") {
    if (!x.isTensor())
      return error(argLoc(0), "positions() counts the rows of a model tensor, not " + x.str());
    // A packed batch counts from each example's start.
    if (isPacked(x.dims[0]))
      return Value(program->localPositions);
    Node *n = create(Op::Positions, Type::tensor(DType::I32, {x.dims[0]}), c.loc);
    n->operands = {args[0].node};
    return Value(n);
  }
  if (f == "embed") {
    const Type &table = args[1].type;
    if (!x.isTensor() || x.dtype != DType::I32 || x.dims.size() != 1)
      return error(argLoc(0), "embed() looks up i32[T] ids (e.g. an input 'ids: i32[T]' or "
                              "positions(x)), not " + x.str());
    if (!isFloatTensor(table) || table.dims.size() != 2)
      return error(argLoc(1), "embed() reads rows of a [vocabulary, features] table of "
                              "f32, f16 or bf16, not " + table.str());
    Node *n = create(Op::Embed, Type::tensor(table.dtype, {x.dims[0], table.dims[1]}), c.loc);
    n->operands = {args[0].node, args[1].node};
    return Value(n);
  }
  if (!isFloatTensor(x))
    return error(argLoc(0), "'" + c.callee + "' works on f32, f16 or bf16 model tensors, "
                            "not " + x.str());
  if (f == "transpose") {
    if (x.dims.size() != 2)
      return error(argLoc(0), "transpose() swaps the dimensions of a 2-D tensor, not " +
                                  x.str());
    Node *n = create(Op::Transpose, Type::tensor(x.dtype, {x.dims[1], x.dims[0]}), c.loc);
    n->operands = {args[0].node};
    return Value(n);
  }
  if (f == "linear") {
    // x @ transpose(w) + b, with w as PyTorch's nn.Linear stores it.
    const Type &w = args[1].type;
    if (x.dims.size() != 2)
      return error(argLoc(0), "linear() maps the rows of a [positions, features] tensor, "
                              "not " + x.str());
    if (!w.isTensor() || w.dims.size() != 2 || w.dtype != x.dtype || w.dims[1] != x.dims[1])
      return error(argLoc(1), "linear() takes weights as [out, in] with in = " +
                                  x.dims[1].str() + " (PyTorch's layout) and " +
                                  spelling(x.dtype) + " elements, not " + w.str());
    Node *wt = create(Op::Transpose, Type::tensor(w.dtype, {w.dims[1], w.dims[0]}), c.loc);
    wt->operands = {args[1].node};
    Node *product = create(Op::MatMul, Type::tensor(x.dtype, {x.dims[0], w.dims[0]}), c.loc);
    product->operands = {args[0].node, wt};
    if (args.size() < 3)
      return Value(product);
    const Type &b = args[2].type;
    if (!b.isTensor() || b.dims.size() != 1 || b.dims[0] != w.dims[0] || b.dtype != x.dtype)
      return error(argLoc(2), "linear() takes a bias of " + std::string(spelling(x.dtype)) +
                                  "[" + w.dims[0].str() + "], not " + b.str());
    Node *n = create(Op::Elementwise, product->type, c.loc);
    n->binaryOp = BinaryOp::Add;
    n->operands = {product, args[2].node};
    return Value(n);
  }
  if (pool) {
    if (x.dims.size() != 2)
      return error(argLoc(0), "'" + c.callee + "' reduces the positions of a [positions, "
                              "features] tensor, not " + x.str());
    Node *n = create(Op::Pool, Type::tensor(x.dtype, {x.dims[1]}), c.loc);
    n->name = f.drop_back(5).str();
    n->operands = {args[0].node};
    if (const ast::Argument *m = keyword(c, "mask")) {
      Value mask = expr(*m->value);
      if (mask.isError())
        return Value();
      if (!mask.type.isTensor() || mask.type.dtype != DType::I32 ||
          mask.type.dims.size() != 1 || mask.type.dims[0] != x.dims[0])
        return error(m->value->loc, "the mask of '" + c.callee + "' is an i32[" +
                                        x.dims[0].str() + "] tensor (nonzero: the position "
                                        "counts), not " + mask.type.str());
      n->operands.push_back(mask.node);
    }
    // A packed batch: a row per example.
    if (isPacked(x.dims[0])) {
      n->type.dims.insert(n->type.dims.begin(), program->lengths->type.dims[0]);
      n->operands.push_back(program->lengths);
      n->boolValue = true;
    }
    return Value(n);
  }
  // l2_normalize: x / max(||x||, eps)
  std::optional<double> eps = positiveKeyword(c, "eps", "eps", 1e-12);
  if (!eps)
    return Value();
  Node *n = create(Op::L2Normalize, x, c.loc);
  n->floatValue = *eps;
  n->operands = {args[0].node};
  return Value(n);
}

} // namespace

std::unique_ptr<Program> raspc::analyze(const ast::Module &module, llvm::StringRef entry,
                                        bool packedBatch, Diagnostics &diags) {
  return Sema(module, packedBatch, diags).run(entry);
}
