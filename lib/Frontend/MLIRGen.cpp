//===- MLIRGen.cpp - a checked program to the attn dialect ------*- C++ -*-===//
//
// Emits a Program as a func.func: RASP operations become attn ops on rank-1
// tensors, per-element work becomes linalg.generic bodies, and model layers
// become linalg/tensor ops around attn.attention. Sema has already checked
// everything a user can get wrong, so failures here are compiler bugs and
// surface as verifier errors at the node's location.
//
//===----------------------------------------------------------------------===//

#include "MLIRGen.h"

#include "Attn/IR/AttnOps.h"
#include "Conversion/Utils/OutlinedFunctions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/SourceMgr.h"

#include <cmath>
#include <limits>


using namespace mlir;
using namespace raspc;
using program::Dim;
using program::DType;
using program::Elem;
using program::Node;
using program::Program;
using program::Vocab;
using NodeOp = program::Op;
using ast::BinaryOp;

void raspc::registerMLIRGenDialects(DialectRegistry &registry) {
  registry.insert<attn::AttnDialect, func::FuncDialect, arith::ArithDialect,
                  math::MathDialect, tensor::TensorDialect,
                  linalg::LinalgDialect, scf::SCFDialect>();
}

void raspc::loadMLIRGenDialects(MLIRContext &context) {
  context.loadDialect<attn::AttnDialect, func::FuncDialect, arith::ArithDialect,
                      math::MathDialect, tensor::TensorDialect,
                      linalg::LinalgDialect, scf::SCFDialect>();
}

namespace {

using utils::IteratorType;

class Generator {
public:
  Generator(MLIRContext &context, const Program &program,
            const llvm::SourceMgr &sourceMgr, unsigned bufferId, bool exposeSelectors,
            bool outlineCalls)
      : context(context), builder(&context), program(program),
        sourceMgr(sourceMgr), bufferId(bufferId), exposeSelectors(exposeSelectors),
        outlineCalls(outlineCalls) {}

  OwningOpRef<ModuleOp> run();

private:
  MLIRContext &context;
  OpBuilder builder;
  const Program &program;
  const llvm::SourceMgr &sourceMgr;
  unsigned bufferId;
  bool exposeSelectors;
  bool outlineCalls;
  /// Selectors in the order they were emitted, for exposeSelectors.
  SmallVector<std::pair<const Node *, Value>> selectors;

  func::FuncOp function;
  llvm::DenseMap<const Node *, Value> values; // outside bodies
  /// Inside a body: the block arguments that Arg nodes read, and values
  /// emitted in this body.
  struct BodyState {
    llvm::SmallVector<Value> args;
    llvm::DenseMap<const Node *, Value> values;
  };
  BodyState *currentBody = nullptr;

  /// A model's call of a helper from its entry point (Node::callInstance),
  /// emitted as a function of its own when `outline` (see emitCall).
  struct Call {
    std::string name; // the helper's
    bool outline = false;
    bool emitted = false;
    /// Nodes of the entry (or of other calls) that its nodes read.
    llvm::SetVector<const Node *> inputs;
    /// Its nodes that the entry (or other calls) read.
    llvm::SetVector<const Node *> exports;
  };
  std::vector<Call> calls; // by Node::callInstance - 1
  /// While a call's function is emitted: its entry block, and per argument
  /// the entry's value the call passes.
  struct CallState {
    int id;
    Block *entry;
    llvm::DenseMap<const Node *, Value> outerValues;
    SmallVector<Value> operands;
  };
  CallState *currentCall = nullptr;
  std::optional<SymbolTable> symbols;
  /// Functions emitted for calls, one per distinct body.
  raspc::OutlinedFunctions callFunctions;

  Location loc(ast::Loc l) {
    if (!l.isValid())
      return builder.getUnknownLoc();
    auto [line, column] = sourceMgr.getLineAndColumn(l, bufferId);
    return FileLineColLoc::get(
        &context, sourceMgr.getMemoryBuffer(bufferId)->getBufferIdentifier(),
        line, column);
  }

  //===--- Types ----------------------------------------------------------===//

  Type elemType(Elem e) {
    switch (e) {
    case Elem::Int: return builder.getI64Type();
    case Elem::Float: return builder.getF32Type();
    case Elem::Bool: return builder.getI1Type();
    case Elem::Token: return builder.getI32Type();
    }
    return {};
  }
  Type dtype(DType d) {
    switch (d) {
    case DType::F32: return builder.getF32Type();
    case DType::F16: return builder.getF16Type();
    case DType::BF16: return builder.getBF16Type();
    case DType::I32: return builder.getI32Type();
    }
    return {};
  }
  RankedTensorType sequenceType(Elem e) {
    return RankedTensorType::get({ShapedType::kDynamic}, elemType(e));
  }
  RankedTensorType tensorType(const program::Type &t) {
    SmallVector<int64_t> shape;
    for (const Dim &d : t.dims)
      shape.push_back(d.isStatic() ? d.size : ShapedType::kDynamic);
    return RankedTensorType::get(shape, dtype(t.dtype));
  }
  Type selectorType() { return attn::SelectorType::get(&context); }
  RankedTensorType typeOf(const Node *n) {
    if (n->type.isTensor())
      return tensorType(n->type);
    return sequenceType(n->type.elem);
  }

  //===--- Helpers --------------------------------------------------------===//

  /// Dimension `d` of `v`: where `v` was written into a tensor.empty
  /// (through the destination-style ops that wrote it: maps, matmuls,
  /// fills), the size that one was made with, else a tensor.dim. A chain of
  /// maps or matmuls then shares one size rather than a chain of
  /// tensor.dims of each other's results, which upstream's dim resolution
  /// (in fusion) unwinds one op at a time: quadratic, 4.5 s for a
  /// 1000-term sum and 6 s for 1000 chained matmuls.
  Value dimOf(Location l, Value v, int64_t d) {
    Value source = v;
    while (auto result = dyn_cast<OpResult>(source)) {
      auto dps = dyn_cast<DestinationStyleOpInterface>(result.getOwner());
      if (!dps || !dps.hasPureTensorSemantics())
        break;
      source = dps.getDpsInitOperand(result.getResultNumber())->get();
    }
    if (auto empty = source.getDefiningOp<tensor::EmptyOp>()) {
      Region *here = builder.getInsertionBlock()->getParent();
      if (empty.getType() == v.getType() && empty.getType().isDynamicDim(d)) {
        Value size = empty.getDynamicSize(d);
        if (size.getParentRegion()->isAncestor(here))
          return size;
      }
    }
    return tensor::DimOp::create(builder, l, v, d);
  }
  /// The sizes of the dynamic dimensions of `v`, for tensor.empty.
  SmallVector<Value> dynamicSizes(Location l, Value v) {
    SmallVector<Value> sizes;
    auto type = cast<RankedTensorType>(v.getType());
    for (int64_t i = 0; i < type.getRank(); ++i)
      if (type.isDynamicDim(i))
        sizes.push_back(dimOf(l, v, i));
    return sizes;
  }
  Value emptyLike(Location l, Value shapeSource, Type elem) {
    auto type = cast<RankedTensorType>(shapeSource.getType());
    return tensor::EmptyOp::create(builder, l, type.getShape(), elem,
                                   dynamicSizes(l, shapeSource));
  }
  /// The sequence length, read from the first input.
  Value length(Location l) {
    Value input = function.getArgument(0);
    return dimOf(l, input, 0);
  }
  Value constantFloat(Location l, Type type, double v) {
    return arith::ConstantOp::create(builder, l, type, builder.getFloatAttr(type, v));
  }
  Value constantInt(Location l, Type type, int64_t v) {
    return arith::ConstantOp::create(builder, l, type, builder.getIntegerAttr(type, v));
  }

  //===--- Emission -------------------------------------------------------===//

  /// Emits what `root` is computed from (not `root` itself), without
  /// recursion, so that emit(root) finds every operand emitted.
  void emitOperandsFirst(const Node *root);
  Value emit(const Node *n);
  /// The first two operands, emitted in order (C++ leaves the order of
  /// function arguments unspecified, and IR order should not depend on it).
  std::pair<Value, Value> emitPair(const Node *n) {
    Value first = emit(n->operands[0]);
    Value second = emit(n->operands[1]);
    return {first, second};
  }
  /// `n`'s value if it has been emitted; inside a call's function, a value
  /// of the entry becomes an argument at its first use.
  Value lookup(const Node *n);
  /// The call (1-based) that emits `n` as a function, if not the one being
  /// emitted; else 0.
  int outlinedCall(const Node *n) const {
    int id = n->callInstance;
    if (id == 0 || calls.empty() || !calls[id - 1].outline ||
        (currentCall && currentCall->id == id))
      return 0;
    return id;
  }
  void planCalls();
  void emitCall(int id);
  Value emitOutside(const Node *n);
  Value emitScalar(const Node *n);
  Value emitMap(const Node *n);
  Value emitSelect(const Node *n);
  Value emitAggregate(const Node *n);
  Value emitUnary(Location l, const Node *n, Value x);
  Value floatToInt(Location l, Value x, Type type);
  Value emitBinary(Location l, BinaryOp op, Value a, Value b);
  Value emitElementwise(const Node *n);
  Value emitMatMul(const Node *n);
  Value emitNorm(const Node *n);
  Value emitHeads(const Node *n);
  Value emitMergeHeads(const Node *n);
  Value emitRope(const Node *n);
  Value emitAttention(const Node *n);
  Value emitTranspose(const Node *n);
  Value emitEmbed(const Node *n);
  Value emitPositions(const Node *n);
  Value emitExampleBounds(const Node *n);
  /// Packed batches: the sum of lengths[0 .. example), as an index.
  Value exampleStart(OpBuilder &b, Location l, Value lengths, Value example);
  Value emitPackedPool(const Node *n);
  Value emitRow(const Node *n);
  Value emitPool(const Node *n);
  Value emitL2Normalize(const Node *n);
  /// What the runtime checks before a call: ids looked up directly from an
  /// input, and sizes that index a table by position.
  void annotateLookupBounds();
  void annotateIndexedInputs();
  /// Emits `body` into a new block of `region` with `argTypes`, mapping Arg
  /// index i to block argument `argMap(i)`, and terminates it with `yield`.
  void emitBodyRegion(Region &region, TypeRange argTypes, const Node *body,
                      llvm::function_ref<Value(Block &, int64_t)> argFor,
                      Location l);
};

OwningOpRef<ModuleOp> Generator::run() {
  Location moduleLoc = loc(program.loc);
  OwningOpRef<ModuleOp> module = ModuleOp::create(moduleLoc);
  builder.setInsertionPointToEnd(module->getBody());

  SmallVector<Type> argTypes;
  for (const Node *input : program.inputs)
    argTypes.push_back(typeOf(input));
  for (const Node *param : program.params)
    argTypes.push_back(tensorType(param->type));
  Type resultType = typeOf(program.result);
  function = func::FuncOp::create(builder, moduleLoc, program.name,
                                  builder.getFunctionType(argTypes, resultType));
  symbols.emplace(*module);
  planCalls();

  // The ABI: inputs in order, then parameters; their names, vocabularies and
  // encodings ride on attributes for the runtime and for people.
  unsigned argIndex = 0;
  auto vocabAttr = [&](const Vocab *vocab) {
    SmallVector<Attribute> words;
    for (const std::string &w : vocab->words)
      words.push_back(builder.getStringAttr(w));
    return builder.getArrayAttr(words);
  };
  for (auto [i, input] : llvm::enumerate(program.inputs)) {
    function.setArgAttr(argIndex, "raspc.input",
                        builder.getStringAttr(program.inputNames[i]));
    // Symbolic sizes by name: inputs sharing one must agree at run time.
    // Sequences all have the length T.
    SmallVector<Attribute> symbols;
    if (input->type.isTensor()) {
      for (const Dim &d : input->type.dims)
        symbols.push_back(builder.getStringAttr(d.isStatic() ? "" : d.symbol));
    } else {
      symbols.push_back(builder.getStringAttr("T"));
    }
    function.setArgAttr(argIndex, "raspc.symbols", builder.getArrayAttr(symbols));
    if (input->type.elem == Elem::Token && input->type.vocab && !input->type.isTensor()) {
      function.setArgAttr(argIndex, "raspc.vocab", vocabAttr(input->type.vocab));
      if (input->type.vocab->open)
        function.setArgAttr(argIndex, "raspc.open_vocab", builder.getUnitAttr());
    }
    ++argIndex;
  }
  for (const Node *param : program.params)
    function.setArgAttr(argIndex++, "raspc.param", builder.getStringAttr(param->name));
  if (program.lengths)
    function.setArgAttr(static_cast<unsigned>(program.lengths->intValue), "raspc.lengths_of",
                        builder.getStringAttr(program.packedSymbol));
  annotateLookupBounds();
  annotateIndexedInputs();
  const program::Type &rt = program.result->type;
  // The result's symbolic sizes too, so that hosts know its shape before a
  // call (the Python package's PyTorch op). A packed batch's pool has one
  // row per example: the lengths' size.
  if (auto shaped = dyn_cast<RankedTensorType>(resultType)) {
    SmallVector<Dim> dims(rt.dims.begin(), rt.dims.end());
    if (!rt.isTensor())
      dims = {Dim{-1, "T"}};
    if (program.lengths && shaped.getRank() == static_cast<int64_t>(dims.size()) + 1)
      dims.insert(dims.begin(), program.lengths->type.dims[0]);
    bool symbolic = llvm::any_of(dims, [](const Dim &d) { return !d.isStatic(); });
    if (symbolic && shaped.getRank() == static_cast<int64_t>(dims.size())) {
      SmallVector<Attribute> symbols;
      for (const Dim &d : dims)
        symbols.push_back(builder.getStringAttr(d.isStatic() ? "" : d.symbol));
      function.setResultAttr(0, "raspc.symbols", builder.getArrayAttr(symbols));
    }
  }
  if (rt.isSequence()) {
    function.setResultAttr(0, "raspc.encoding",
                           builder.getStringAttr(rt.numerical ? "numerical" : "categorical"));
    if (rt.elem == Elem::Token && rt.vocab)
      function.setResultAttr(0, "raspc.vocab", vocabAttr(rt.vocab));
  }

  Block *entry = function.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  for (auto [i, input] : llvm::enumerate(program.inputs))
    values[input] = entry->getArgument(i);
  for (auto [i, param] : llvm::enumerate(program.params))
    values[param] = entry->getArgument(program.inputs.size() + i);
  // A packed batch's example of each position and position in it are read
  // by mask and score bodies: emitted before anything needs them.
  if (program.exampleStarts) {
    emit(program.exampleStarts);
    emit(program.exampleEnds);
    emit(program.localPositions);
  }
  emitOperandsFirst(program.result);
  Value result = emit(program.result);
  SmallVector<Value> results = {result};
  if (exposeSelectors) {
    auto matrixType = RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                            builder.getI1Type());
    SmallVector<std::string> names;
    for (auto &[node, selector] : selectors) {
      results.push_back(attn::MaterializeOp::create(builder, loc(node->loc), matrixType,
                                                    selector));
      auto [line, column] = sourceMgr.getLineAndColumn(node->loc, bufferId);
      names.push_back((node->label.empty() ? std::string("selector") : node->label) +
                      " (line " + std::to_string(line) + ", column " +
                      std::to_string(column) + ")");
    }
    // The result attributes of the first result survive the type change.
    DictionaryAttr resultAttrs = function.getResultAttrDict(0);
    SmallVector<Type> types = {resultType};
    types.append(names.size(), matrixType);
    function.setFunctionType(builder.getFunctionType(argTypes, types));
    SmallVector<DictionaryAttr> attrs = {resultAttrs};
    for (const std::string &name : names)
      attrs.push_back(builder.getDictionaryAttr(
          builder.getNamedAttr("raspc.selector", builder.getStringAttr(name))));
    function.setAllResultAttrs(attrs);
  }
  func::ReturnOp::create(builder, loc(program.result->loc), results);
  return module;
}

void Generator::emitOperandsFirst(const Node *root) {
  // Operands before their users, in the order the emitters take them, with
  // an explicit stack: emit() recursing once per `let` of a chain overflowed
  // the stack at about 17 000 of them. Scalars (constants, the length) are
  // left to their users, which fold them in as they need.
  auto isValue = [](const Node *n) {
    return n->type.isSequence() || n->type.isTensor() ||
           n->type.kind == program::Type::Kind::Selector;
  };
  // An item is a node, or a call emitted as a function: the call stands for
  // all its nodes, and what it reads are its operands.
  struct Item {
    const Node *node; // null for a call
    int call;
    size_t next;
  };
  std::vector<Item> stack;
  llvm::DenseSet<const Node *> seen;
  auto push = [&](const Node *n) {
    if (!isValue(n) || values.count(n))
      return;
    // Inside a call's function, the entry's values are arguments.
    if (currentCall && n->callInstance != currentCall->id)
      return;
    if (int id = outlinedCall(n)) {
      if (!calls[id - 1].emitted) {
        calls[id - 1].emitted = true;
        stack.push_back({nullptr, id, 0});
      }
      return;
    }
    if (seen.insert(n).second)
      stack.push_back({n, 0, 0});
  };
  if (outlinedCall(root))
    push(root);
  else
    stack.push_back({root, 0, 0});
  while (!stack.empty()) {
    Item &item = stack.back();
    size_t next = item.next++;
    if (item.node && next < item.node->operands.size()) {
      push(item.node->operands[next]);
      continue;
    }
    if (!item.node && next < calls[item.call - 1].inputs.size()) {
      push(calls[item.call - 1].inputs[next]);
      continue;
    }
    Item done = stack.back();
    stack.pop_back();
    if (!done.node)
      emitCall(done.call);
    else if (done.node != root)
      emit(done.node);
  }
}

void Generator::planCalls() {
  if (!outlineCalls || !program.isModel || program.callNames.empty())
    return;
  calls.resize(program.callNames.size());
  for (auto [call, name] : llvm::zip(calls, program.callNames))
    call.name = name;
  // Which nodes each call reads from outside it, and which of its nodes
  // are read outside it, over everything the result is computed from.
  std::vector<const Node *> work = {program.result};
  llvm::DenseSet<const Node *> visited = {program.result};
  auto visit = [&](const Node *user, const Node *n) {
    if (!n)
      return;
    if (n->callInstance != user->callInstance) {
      if (user->callInstance)
        calls[user->callInstance - 1].inputs.insert(n);
      if (n->callInstance)
        calls[n->callInstance - 1].exports.insert(n);
    }
    if (visited.insert(n).second)
      work.push_back(n);
  };
  while (!work.empty()) {
    const Node *n = work.back();
    work.pop_back();
    for (const Node *o : n->operands)
      visit(n, o);
    visit(n, n->body);
    visit(n, n->scoreBody);
    visit(n, n->defaultValue);
    for (auto &[key, value] : n->table) {
      visit(n, key);
      visit(n, value);
    }
  }
  if (program.result->callInstance)
    calls[program.result->callInstance - 1].exports.insert(program.result);
  // Tensors in, tensors out: a call that reads a scalar or a selector of
  // the entry's (the length, a mask built outside) stays inline.
  auto isTensor = [](const Node *n) { return n->type.isTensor(); };
  for (Call &call : calls)
    call.outline = !call.exports.empty() && llvm::all_of(call.exports, isTensor) &&
                   llvm::all_of(call.inputs, isTensor);
}

/// A call of a model helper from the entry point becomes a private function
/// and a func.call, and calls whose functions come out the same but for
/// their arguments (a model's layers, each with its own weights) share one.
/// LLVM then compiles each layer once: most of a model's compile time.
void Generator::emitCall(int id) {
  Call &call = calls[id - 1];
  call.emitted = true;
  Location l = loc(call.exports.front()->loc);
  OpBuilder::InsertPoint caller = builder.saveInsertionPoint();
  builder.setInsertionPointToEnd(function->getParentOfType<ModuleOp>().getBody());
  auto callee = func::FuncOp::create(builder, l, program.name + "_" + call.name,
                                     builder.getFunctionType({}, {}));
  callee.setPrivate();
  // LLVM would inline a function called once straight back.
  callee->setAttr("passthrough", builder.getStrArrayAttr({"noinline"}));
  symbols->insert(callee); // renames on a clash
  CallState state{id, callee.addEntryBlock(), std::move(values), {}};
  values.clear();
  currentCall = &state;
  builder.setInsertionPointToStart(state.entry);
  SmallVector<Value> results;
  for (const Node *e : call.exports) {
    emitOperandsFirst(e);
    results.push_back(emit(e));
  }
  func::ReturnOp::create(builder, l, results);
  callee.setFunctionType(
      builder.getFunctionType(state.entry->getArgumentTypes(), ValueRange(results).getTypes()));
  currentCall = nullptr;
  values = std::move(state.outerValues);

  if (func::FuncOp earlier = callFunctions.findEquivalent(callee)) {
    symbols->erase(callee);
    callee = earlier;
  }

  builder.restoreInsertionPoint(caller);
  auto op = func::CallOp::create(builder, l, callee, state.operands);
  for (auto [e, result] : llvm::zip(call.exports, op.getResults()))
    values[e] = result;
}

Value Generator::lookup(const Node *n) {
  if (auto it = values.find(n); it != values.end())
    return it->second;
  if (!currentCall || n->callInstance == currentCall->id)
    return {};
  // The entry's value (emitted before the call, emitOperandsFirst saw to
  // it) as a new argument.
  Value outer = currentCall->outerValues.lookup(n);
  assert(outer && "a call reads a value the entry has not emitted");
  Value arg = currentCall->entry->addArgument(outer.getType(), outer.getLoc());
  currentCall->operands.push_back(outer);
  values[n] = arg;
  return arg;
}

Value Generator::emit(const Node *n) {
  if (currentBody) {
    if (auto it = currentBody->values.find(n); it != currentBody->values.end())
      return it->second;
    // Values of the enclosing function (inputs) are visible inside bodies.
    if (Value v = lookup(n))
      return v;
    Value v = emitScalar(n);
    currentBody->values[n] = v;
    return v;
  }
  if (Value v = lookup(n))
    return v;
  if (int id = outlinedCall(n)) {
    emitCall(id); // its inputs are emitted (emitOperandsFirst)
    return values.lookup(n);
  }
  Value v = emitOutside(n);
  values[n] = v;
  if (isa<attn::SelectorType>(v.getType()))
    selectors.push_back({n, v});
  return v;
}

Value Generator::emitOutside(const Node *n) {
  Location l = loc(n->loc);
  switch (n->op) {
  case NodeOp::Indices: {
    Value len = length(l);
    auto gen = tensor::GenerateOp::create(builder, l, sequenceType(Elem::Int),
                                          ValueRange{len});
    OpBuilder::InsertionGuard guard(builder);
    Block *block = builder.createBlock(&gen.getBody(), {}, {builder.getIndexType()}, {l});
    Value i = arith::IndexCastOp::create(builder, l, builder.getI64Type(),
                                         block->getArgument(0));
    tensor::YieldOp::create(builder, l, i);
    return gen;
  }
  case NodeOp::Map:
    return emitMap(n);
  case NodeOp::Select:
    return emitSelect(n);
  case NodeOp::SelectorAnd: {
    auto [lhs, rhs] = emitPair(n);
    return attn::AndOp::create(builder, l, selectorType(), lhs, rhs);
  }
  case NodeOp::SelectorOr: {
    auto [lhs, rhs] = emitPair(n);
    return attn::OrOp::create(builder, l, selectorType(), lhs, rhs);
  }
  case NodeOp::SelectorNot:
    return attn::NotOp::create(builder, l, selectorType(), emit(n->operands[0]));
  case NodeOp::SelectorWidth:
    return attn::SelectorWidthOp::create(builder, l, sequenceType(Elem::Int),
                                         emit(n->operands[0]));
  case NodeOp::Aggregate:
    return emitAggregate(n);
  case NodeOp::MatMul:
    return emitMatMul(n);
  case NodeOp::Elementwise:
    return emitElementwise(n);
  case NodeOp::LayerNorm:
  case NodeOp::RMSNorm:
    return emitNorm(n);
  case NodeOp::Heads:
    return emitHeads(n);
  case NodeOp::MergeHeads:
    return emitMergeHeads(n);
  case NodeOp::Rope:
    return emitRope(n);
  case NodeOp::Attention:
    return emitAttention(n);
  case NodeOp::Transpose:
    return emitTranspose(n);
  case NodeOp::Embed:
    return emitEmbed(n);
  case NodeOp::Positions:
    return emitPositions(n);
  case NodeOp::ExampleBounds:
    return emitExampleBounds(n);
  case NodeOp::Row:
    return emitRow(n);
  case NodeOp::Pool:
    return emitPool(n);
  case NodeOp::L2Normalize:
    return emitL2Normalize(n);
  default:
    // Scalars used outside a body (a sequence of one constant, say) are
    // broadcast by Sema into a Map; the rest are scalars proper.
    return emitScalar(n);
  }
}

Value Generator::emitScalar(const Node *n) {
  Location l = loc(n->loc);
  switch (n->op) {
  case NodeOp::Arg:
    return currentBody->args[n->intValue];
  case NodeOp::Constant: {
    Type type = elemType(n->type.elem);
    switch (n->type.elem) {
    case Elem::Float: return constantFloat(l, type, n->floatValue);
    case Elem::Bool: return constantInt(l, type, n->boolValue);
    default: return constantInt(l, type, n->intValue);
    }
  }
  case NodeOp::Length:
    return arith::IndexCastOp::create(builder, l, builder.getI64Type(), length(l));
  case NodeOp::Unary:
    return emitUnary(l, n, emit(n->operands[0]));
  case NodeOp::Binary: {
    auto [lhs, rhs] = emitPair(n);
    return emitBinary(l, n->binaryOp, lhs, rhs);
  }
  case NodeOp::Where: {
    Value cond = emit(n->operands[0]);
    Value then = emit(n->operands[1]);
    Value otherwise = emit(n->operands[2]);
    return arith::SelectOp::create(builder, l, cond, then, otherwise);
  }
  case NodeOp::Cast: {
    Value x = emit(n->operands[0]);
    Elem from = n->operands[0]->type.elem, to = n->type.elem;
    Type type = elemType(to);
    if (to == Elem::Float)
      return from == Elem::Bool
                 ? Value(arith::UIToFPOp::create(builder, l, type, x))
                 : Value(arith::SIToFPOp::create(builder, l, type, x));
    if (to == Elem::Int)
      return from == Elem::Bool ? Value(arith::ExtUIOp::create(builder, l, type, x))
                                : floatToInt(l, x, type);
    return x;
  }
  case NodeOp::Lookup: {
    Value key = emit(n->operands[0]);
    Value result = emit(n->defaultValue);
    for (auto it = n->table.rbegin(); it != n->table.rend(); ++it) {
      Value match = emitBinary(l, BinaryOp::Eq, key, emit(it->first));
      Value value = emit(it->second);
      result = arith::SelectOp::create(builder, l, match, value, result);
    }
    return result;
  }
  case NodeOp::Extract: {
    // Positions outside the tensor read its nearest end: a relative-bias
    // table indexed by query_pos - key_pos saturates instead of reading
    // out of bounds.
    Value input = emit(n->operands[0]);
    Value pos = emit(n->operands[1]);
    Type i64 = builder.getI64Type();
    Value last = arith::SubIOp::create(
        builder, l,
        arith::IndexCastOp::create(builder, l, i64,
                                   dimOf(l, input, 0)),
        constantInt(l, i64, 1));
    pos = arith::MaxSIOp::create(builder, l, pos, constantInt(l, i64, 0));
    pos = arith::MinSIOp::create(builder, l, pos, last);
    pos = arith::IndexCastOp::create(builder, l, builder.getIndexType(), pos);
    Value v = tensor::ExtractOp::create(builder, l, input, ValueRange{pos});
    if (n->type.elem == Elem::Int)
      return arith::ExtSIOp::create(builder, l, builder.getI64Type(), v);
    if (v.getType() != builder.getF32Type())
      return arith::ExtFOp::create(builder, l, builder.getF32Type(), v);
    return v;
  }
  default:
    llvm_unreachable("not a scalar node");
  }
}

/// `int(f)`: truncates toward zero; NaN gives 0 and a value beyond the int
/// range the nearest end. `fptosi` alone gives poison there, which became
/// whatever the instruction left (INT64_MIN on x86).
Value Generator::floatToInt(Location l, Value x, Type type) {
  Type floatType = x.getType();
  unsigned bits = type.getIntOrFloatBitWidth();
  auto intConstant = [&](const APInt &v) -> Value {
    return arith::ConstantOp::create(builder, l, type, builder.getIntegerAttr(type, v));
  };
  // 2^(bits-1) is exact in every float type; every float below it fits.
  Value limit = constantFloat(l, floatType, std::ldexp(1.0, bits - 1));
  Value negLimit = constantFloat(l, floatType, -std::ldexp(1.0, bits - 1));
  Value truncated = arith::FPToSIOp::create(builder, l, type, x);
  Value tooBig = arith::CmpFOp::create(builder, l, arith::CmpFPredicate::OGE, x, limit);
  Value tooSmall = arith::CmpFOp::create(builder, l, arith::CmpFPredicate::OLT, x, negLimit);
  Value isNaN = arith::CmpFOp::create(builder, l, arith::CmpFPredicate::UNO, x, x);
  Value r = arith::SelectOp::create(builder, l, tooBig,
                                    intConstant(APInt::getSignedMaxValue(bits)), truncated);
  r = arith::SelectOp::create(builder, l, tooSmall,
                              intConstant(APInt::getSignedMinValue(bits)), r);
  return arith::SelectOp::create(builder, l, isNaN, intConstant(APInt(bits, 0)), r);
}

Value Generator::emitUnary(Location l, const Node *n, Value x) {
  Type type = x.getType();
  if (n->name.empty()) { // `not`
    Value one = constantInt(l, type, 1);
    return arith::XOrIOp::create(builder, l, x, one);
  }
  const std::string &f = n->name;
  if (f == "exp") return math::ExpOp::create(builder, l, x);
  if (f == "exp2") return math::Exp2Op::create(builder, l, x);
  if (f == "tanh") return math::TanhOp::create(builder, l, x);
  if (f == "sqrt") return math::SqrtOp::create(builder, l, x);
  if (f == "abs")
    return isa<FloatType>(type) ? Value(math::AbsFOp::create(builder, l, x))
                                : Value(math::AbsIOp::create(builder, l, x));
  if (f == "relu")
    return arith::MaximumFOp::create(builder, l, x, constantFloat(l, type, 0.0));
  if (f == "sigmoid" || f == "silu") {
    Value neg = arith::NegFOp::create(builder, l, x);
    Value e = math::ExpOp::create(builder, l, neg);
    Value den = arith::AddFOp::create(builder, l, constantFloat(l, type, 1.0), e);
    Value sig = arith::DivFOp::create(builder, l, constantFloat(l, type, 1.0), den);
    return f == "sigmoid" ? sig : Value(arith::MulFOp::create(builder, l, x, sig));
  }
  if (f == "gelu") { // exact: x/2 (1 + erf(x / sqrt 2))
    Value scaled = arith::MulFOp::create(builder, l, x,
                                         constantFloat(l, type, 0.70710678118654752440));
    Value erf = math::ErfOp::create(builder, l, scaled);
    Value onePlus = arith::AddFOp::create(builder, l, constantFloat(l, type, 1.0), erf);
    Value half = arith::MulFOp::create(builder, l, x, constantFloat(l, type, 0.5));
    return arith::MulFOp::create(builder, l, half, onePlus);
  }
  if (f == "neg")
    return arith::NegFOp::create(builder, l, x);
  llvm_unreachable("unknown unary function");
}

Value Generator::emitBinary(Location l, BinaryOp op, Value a, Value b) {
  bool isFloat = isa<FloatType>(a.getType());
  auto cmpi = [&](arith::CmpIPredicate p) {
    return Value(arith::CmpIOp::create(builder, l, p, a, b));
  };
  auto cmpf = [&](arith::CmpFPredicate p) {
    return Value(arith::CmpFOp::create(builder, l, p, a, b));
  };
  switch (op) {
  case BinaryOp::Add:
    return isFloat ? Value(arith::AddFOp::create(builder, l, a, b))
                   : Value(arith::AddIOp::create(builder, l, a, b));
  case BinaryOp::Sub:
    return isFloat ? Value(arith::SubFOp::create(builder, l, a, b))
                   : Value(arith::SubIOp::create(builder, l, a, b));
  case BinaryOp::Mul:
    return isFloat ? Value(arith::MulFOp::create(builder, l, a, b))
                   : Value(arith::MulIOp::create(builder, l, a, b));
  case BinaryOp::Div:
    return arith::DivFOp::create(builder, l, a, b);
  case BinaryOp::Mod: {
    // Defined for every divisor, on every path: x % 0 is 0 (NumPy's
    // answer), and x % -1 is 0 (the remainder instruction traps on
    // INT64_MIN % -1). Both are x % 1.
    Type type = b.getType();
    // A constant divisor other than 0 and -1 needs none of it (and the mask
    // analyses read `x % c` only with c a constant).
    APInt known;
    if (matchPattern(b, m_ConstantInt(&known)) && !known.isZero() && !known.isAllOnes())
      return arith::RemSIOp::create(builder, l, a, b);
    auto constant = [&](int64_t v) -> Value {
      return arith::ConstantOp::create(builder, l, type, builder.getIntegerAttr(type, v));
    };
    Value zero = arith::CmpIOp::create(builder, l, arith::CmpIPredicate::eq, b, constant(0));
    Value minusOne =
        arith::CmpIOp::create(builder, l, arith::CmpIPredicate::eq, b, constant(-1));
    Value special = arith::OrIOp::create(builder, l, zero, minusOne);
    Value divisor = arith::SelectOp::create(builder, l, special, constant(1), b);
    return arith::RemSIOp::create(builder, l, a, divisor);
  }
  case BinaryOp::And:
    return arith::AndIOp::create(builder, l, a, b);
  case BinaryOp::Or:
    return arith::OrIOp::create(builder, l, a, b);
  case BinaryOp::Eq:
    return isFloat ? cmpf(arith::CmpFPredicate::OEQ) : cmpi(arith::CmpIPredicate::eq);
  case BinaryOp::Ne:
    return isFloat ? cmpf(arith::CmpFPredicate::UNE) : cmpi(arith::CmpIPredicate::ne);
  case BinaryOp::Lt:
    return isFloat ? cmpf(arith::CmpFPredicate::OLT) : cmpi(arith::CmpIPredicate::slt);
  case BinaryOp::Le:
    return isFloat ? cmpf(arith::CmpFPredicate::OLE) : cmpi(arith::CmpIPredicate::sle);
  case BinaryOp::Gt:
    return isFloat ? cmpf(arith::CmpFPredicate::OGT) : cmpi(arith::CmpIPredicate::sgt);
  case BinaryOp::Ge:
    return isFloat ? cmpf(arith::CmpFPredicate::OGE) : cmpi(arith::CmpIPredicate::sge);
  case BinaryOp::MatMul:
    break;
  }
  llvm_unreachable("not a scalar binary operator");
}

void Generator::emitBodyRegion(Region &region, TypeRange argTypes, const Node *body,
                               llvm::function_ref<Value(Block &, int64_t)> argFor,
                               Location l) {
  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Location> locs(argTypes.size(), l);
  Block *block = builder.createBlock(&region, {}, argTypes, locs);
  BodyState state;
  BodyState *saved = currentBody;
  currentBody = &state;
  // Arg indices are dense and small; materialize each lazily through argFor.
  for (int64_t i = 0; i < 5; ++i)
    state.args.push_back(Value());
  llvm::DenseSet<const Node *> visited;
  std::function<void(const Node *)> collect = [&](const Node *n) {
    if (!visited.insert(n).second)
      return;
    if (n->op == NodeOp::Arg && !state.args[n->intValue])
      state.args[n->intValue] = argFor(*block, n->intValue);
    for (const Node *o : n->operands)
      collect(o);
    if (n->defaultValue)
      collect(n->defaultValue);
    for (auto &[k, v] : n->table) {
      collect(k);
      collect(v);
    }
  };
  collect(body);
  Value result = emit(body);
  currentBody = saved;
  if (isa<linalg::GenericOp>(region.getParentOp()))
    linalg::YieldOp::create(builder, l, result);
  else
    attn::YieldOp::create(builder, l, result);
}

Value Generator::emitMap(const Node *n) {
  Location l = loc(n->loc);
  SmallVector<Value> inputs;
  SmallVector<Type> argTypes;
  for (const Node *o : n->operands) {
    inputs.push_back(emit(o));
    argTypes.push_back(elemType(o->type.elem));
  }
  Type resultElem = elemType(n->type.elem);
  argTypes.push_back(resultElem);
  Value init = emptyLike(l, inputs[0], resultElem);
  AffineMap identity = builder.getMultiDimIdentityMap(1);
  SmallVector<AffineMap> maps(inputs.size() + 1, identity);
  auto generic = linalg::GenericOp::create(builder, l, TypeRange{init.getType()},
                                           inputs, ValueRange{init}, maps,
                                           {IteratorType::parallel});
  emitBodyRegion(generic.getRegion(), argTypes, n->body,
                 [](Block &b, int64_t i) { return b.getArgument(i); }, l);
  return generic.getResult(0);
}

Value Generator::emitSelect(const Node *n) {
  Location l = loc(n->loc);
  Value keys = emit(n->operands[0]), queries = emit(n->operands[1]);
  attn::ComparisonAttr comparison;
  if (n->hasComparison) {
    attn::Comparison c = attn::Comparison::eq;
    if (n->name == "always") c = attn::Comparison::always;
    else if (n->name == "never") c = attn::Comparison::never;
    else switch (n->comparison) {
      case BinaryOp::Eq: c = attn::Comparison::eq; break;
      case BinaryOp::Ne: c = attn::Comparison::ne; break;
      case BinaryOp::Lt: c = attn::Comparison::lt; break;
      case BinaryOp::Le: c = attn::Comparison::le; break;
      case BinaryOp::Gt: c = attn::Comparison::gt; break;
      case BinaryOp::Ge: c = attn::Comparison::ge; break;
      default: break;
      }
    comparison = attn::ComparisonAttr::get(&context, c);
  }
  auto select = attn::SelectOp::create(builder, l, selectorType(), keys, queries, comparison);
  if (!n->hasComparison) {
    Type argTypes[] = {elemType(n->operands[0]->type.elem),
                       elemType(n->operands[1]->type.elem)};
    emitBodyRegion(select.getPredicate(), argTypes, n->body,
                   [](Block &b, int64_t i) { return b.getArgument(i); }, l);
  }
  return select;
}

Value Generator::emitAggregate(const Node *n) {
  Location l = loc(n->loc);
  Type elem = elemType(n->type.elem);
  TypedAttr dflt;
  const Node *d = n->defaultValue;
  if (n->type.elem == Elem::Float)
    dflt = builder.getFloatAttr(elem, d->floatValue);
  else if (n->type.elem == Elem::Bool)
    dflt = builder.getIntegerAttr(elem, d->boolValue);
  else
    dflt = builder.getIntegerAttr(elem, d->intValue);
  auto kind = n->numericalAggregate ? attn::AggregateKind::mean
                                    : attn::AggregateKind::categorical;
  auto [selector, values] = emitPair(n);
  return attn::AggregateOp::create(builder, l, sequenceType(n->type.elem), kind,
                                   selector, values, dflt);
}

//===----------------------------------------------------------------------===//
// Model layers
//===----------------------------------------------------------------------===//

Value Generator::emitElementwise(const Node *n) {
  Location l = loc(n->loc);
  Value result0 = emit(n->operands[0]->type.isTensor() ? n->operands[0] : n->operands[1]);
  auto resultType = cast<RankedTensorType>(result0.getType());
  Type elem = resultType.getElementType();
  int64_t rank = resultType.getRank();
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  SmallVector<Value> scalars; // constants, by operand position
  for (const Node *o : n->operands) {
    if (!o->type.isTensor()) {
      scalars.push_back(constantFloat(l, elem, o->floatValue));
      continue;
    }
    scalars.push_back(Value());
    Value v = emit(o);
    inputs.push_back(v);
    auto t = cast<RankedTensorType>(v.getType());
    if (t.getRank() == rank)
      maps.push_back(builder.getMultiDimIdentityMap(rank));
    else // a vector broadcast over rows
      maps.push_back(AffineMap::get(rank, 0, {builder.getAffineDimExpr(rank - 1)}, &context));
  }
  maps.push_back(builder.getMultiDimIdentityMap(rank));
  Value init = emptyLike(l, result0, elem);
  SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      builder, l, TypeRange{resultType}, inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &b, Location bl, ValueRange args) {
        OpBuilder::InsertionGuard guard(builder);
        builder.setInsertionPoint(b.getInsertionBlock(), b.getInsertionPoint());
        SmallVector<Value> operands;
        unsigned next = 0;
        for (Value s : scalars)
          operands.push_back(s ? s : args[next++]);
        Value r;
        if (n->operands.size() == 1) {
          r = emitUnary(bl, n, operands[0]);
        } else {
          r = emitBinary(bl, n->binaryOp, operands[0], operands[1]);
        }
        linalg::YieldOp::create(builder, bl, r);
      });
  return generic.getResult(0);
}

Value Generator::emitMatMul(const Node *n) {
  Location l = loc(n->loc);
  Value a = emit(n->operands[0]), b = emit(n->operands[1]);
  RankedTensorType type = tensorType(n->type);
  SmallVector<Value> sizes;
  if (type.isDynamicDim(0))
    sizes.push_back(dimOf(l, a, 0));
  // f16 and bf16 products accumulate in f32 and are rounded once, as
  // frameworks and tensor cores do: a sum of hundreds of terms rounded at
  // every step to 8 significant bits would lose most of them.
  Type element = type.getElementType();
  Type accumulator = isa<Float16Type, BFloat16Type>(element) ? builder.getF32Type() : element;
  Value empty = tensor::EmptyOp::create(builder, l, type.getShape(), accumulator, sizes);
  Value zero = constantFloat(l, accumulator, 0.0);
  Value init = linalg::FillOp::create(builder, l, zero, empty).getResult(0);
  Value product = linalg::MatmulOp::create(builder, l, TypeRange{init.getType()},
                                           ValueRange{a, b}, ValueRange{init})
                      .getResult(0);
  if (accumulator == element)
    return product;
  Value rounded = tensor::EmptyOp::create(builder, l, type.getShape(), element, sizes);
  AffineMap identity = builder.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> parallel(type.getRank(), utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             builder, l, TypeRange{type}, ValueRange{product}, ValueRange{rounded},
             ArrayRef<AffineMap>{identity, identity}, parallel,
             [&](OpBuilder &nested, Location nl, ValueRange args) {
               Value r = arith::TruncFOp::create(nested, nl, element, args[0]);
               linalg::YieldOp::create(nested, nl, r);
             })
      .getResult(0);
}

Value Generator::emitNorm(const Node *n) {
  // mean/variance (layernorm) or mean square (rmsnorm) over the last
  // dimension, in f32, then the normalized, scaled (and shifted) rows.
  Location l = loc(n->loc);
  Value x = emit(n->operands[0]);
  auto type = cast<RankedTensorType>(x.getType());
  Type elem = type.getElementType();
  Type f32 = builder.getF32Type();
  double width = static_cast<double>(type.getDimSize(1));
  bool isLayerNorm = n->op == NodeOp::LayerNorm;
  AffineMap id2 = builder.getMultiDimIdentityMap(2);
  AffineMap row = AffineMap::get(2, 0, {builder.getAffineDimExpr(0)}, &context);
  AffineMap col = AffineMap::get(2, 0, {builder.getAffineDimExpr(1)}, &context);
  SmallVector<Value> rowSizes;
  if (type.isDynamicDim(0))
    rowSizes.push_back(dimOf(l, x, 0));
  auto rowType = RankedTensorType::get({type.getDimSize(0)}, f32);
  auto extend = [&](OpBuilder &b, Location bl, Value v) -> Value {
    return v.getType() == f32 ? v : Value(arith::ExtFOp::create(b, bl, f32, v));
  };
  // Reduce f(x) over each row into an f32 vector.
  auto rowReduce = [&](Value extra,
                       llvm::function_ref<Value(OpBuilder &, Location, Value, Value)> f) {
    Value empty = tensor::EmptyOp::create(builder, l, rowType.getShape(), f32, rowSizes);
    Value init = linalg::FillOp::create(builder, l, constantFloat(l, f32, 0.0), empty)
                     .getResult(0);
    SmallVector<Value> ins = {x};
    SmallVector<AffineMap> maps = {id2};
    if (extra) {
      ins.push_back(extra);
      maps.push_back(row);
    }
    maps.push_back(row);
    auto g = linalg::GenericOp::create(
        builder, l, TypeRange{rowType}, ins, ValueRange{init}, maps,
        {IteratorType::parallel, IteratorType::reduction},
        [&](OpBuilder &b, Location bl, ValueRange args) {
          Value v = extend(b, bl, args[0]);
          Value term = f(b, bl, v, extra ? args[1] : Value());
          Value acc = arith::AddFOp::create(b, bl, args.back(), term);
          linalg::YieldOp::create(b, bl, acc);
        });
    return g.getResult(0);
  };
  Value mean;
  if (isLayerNorm)
    mean = rowReduce(Value(), [&](OpBuilder &b, Location bl, Value v, Value) {
      return Value(arith::DivFOp::create(b, bl, v, constantFloat(l, f32, width)));
    });
  Value spread = rowReduce(mean, [&](OpBuilder &b, Location bl, Value v, Value m) {
    Value centered = m ? Value(arith::SubFOp::create(b, bl, v, m)) : v;
    Value sq = arith::MulFOp::create(b, bl, centered, centered);
    return Value(arith::DivFOp::create(b, bl, sq, constantFloat(l, f32, width)));
  });
  Value eps = constantFloat(l, f32, n->floatValue);
  Value init = emptyLike(l, x, elem);
  SmallVector<Value> ins = {x, spread, emit(n->operands[1])};
  SmallVector<AffineMap> maps = {id2, row, col};
  if (isLayerNorm) {
    ins.push_back(mean);
    maps.push_back(row);
    ins.push_back(emit(n->operands[2]));
    maps.push_back(col);
  }
  maps.push_back(id2);
  auto g = linalg::GenericOp::create(
      builder, l, TypeRange{type}, ins, ValueRange{init}, maps,
      {IteratorType::parallel, IteratorType::parallel},
      [&](OpBuilder &b, Location bl, ValueRange args) {
        Value v = extend(b, bl, args[0]);
        if (isLayerNorm)
          v = arith::SubFOp::create(b, bl, v, args[3]);
        Value denom = math::RsqrtOp::create(b, bl, arith::AddFOp::create(b, bl, args[1], eps));
        Value y = arith::MulFOp::create(b, bl, v, denom);
        y = arith::MulFOp::create(b, bl, y, extend(b, bl, args[2]));
        if (isLayerNorm)
          y = arith::AddFOp::create(b, bl, y, extend(b, bl, args[4]));
        if (y.getType() != elem)
          y = arith::TruncFOp::create(b, bl, elem, y);
        linalg::YieldOp::create(b, bl, y);
      });
  return g.getResult(0);
}

Value Generator::emitHeads(const Node *n) {
  // [T, H * D] -> [T, H, D] -> [H, T, D]
  Location l = loc(n->loc);
  Value x = emit(n->operands[0]);
  auto type = cast<RankedTensorType>(x.getType());
  int64_t heads = n->intValue, dim = type.getDimSize(1) / heads;
  auto split = RankedTensorType::get({type.getDimSize(0), heads, dim},
                                     type.getElementType());
  SmallVector<OpFoldResult> outShape;
  if (type.isDynamicDim(0))
    outShape.push_back(dimOf(l, x, 0));
  else
    outShape.push_back(builder.getIndexAttr(type.getDimSize(0)));
  outShape.push_back(builder.getIndexAttr(heads));
  outShape.push_back(builder.getIndexAttr(dim));
  Value expanded = tensor::ExpandShapeOp::create(
      builder, l, split, x, SmallVector<ReassociationIndices>{{0}, {1, 2}}, outShape);
  RankedTensorType result = tensorType(n->type);
  SmallVector<Value> sizes;
  if (result.isDynamicDim(1))
    sizes.push_back(dimOf(l, x, 0));
  Value init = tensor::EmptyOp::create(builder, l, result.getShape(),
                                       result.getElementType(), sizes);
  return linalg::TransposeOp::create(builder, l, expanded, init,
                                     ArrayRef<int64_t>{1, 0, 2})
      .getResult()[0];
}

Value Generator::emitMergeHeads(const Node *n) {
  // [H, T, D] -> [T, H, D] -> [T, H * D]
  Location l = loc(n->loc);
  Value x = emit(n->operands[0]);
  auto type = cast<RankedTensorType>(x.getType());
  auto swapped = RankedTensorType::get(
      {type.getDimSize(1), type.getDimSize(0), type.getDimSize(2)}, type.getElementType());
  SmallVector<Value> sizes;
  if (swapped.isDynamicDim(0))
    sizes.push_back(dimOf(l, x, 1));
  Value init = tensor::EmptyOp::create(builder, l, swapped.getShape(),
                                       swapped.getElementType(), sizes);
  Value transposed = linalg::TransposeOp::create(builder, l, x, init,
                                                 ArrayRef<int64_t>{1, 0, 2})
                         .getResult()[0];
  return tensor::CollapseShapeOp::create(builder, l, tensorType(n->type), transposed,
                                         SmallVector<ReassociationIndices>{{0}, {1, 2}});
}

Value Generator::emitRope(const Node *n) {
  // Rotary embedding, rotate-half convention: for d < D/2 the pair is
  // (x[d], x[d + D/2]) rotated by the angle pos * base^(-2d/D).
  Location l = loc(n->loc);
  Value x = emit(n->operands[0]);
  auto type = cast<RankedTensorType>(x.getType());
  Type elem = type.getElementType();
  Type f32 = builder.getF32Type();
  int64_t dim = type.getDimSize(2), half = dim / 2;
  double logBase = std::log(n->floatValue);
  Value positions = n->operands.size() > 1 ? emit(n->operands[1]) : Value();
  Value init = emptyLike(l, x, elem);
  AffineMap id3 = builder.getMultiDimIdentityMap(3);
  auto g = linalg::GenericOp::create(
      builder, l, TypeRange{type}, ValueRange{x}, ValueRange{init},
      SmallVector<AffineMap>{id3, id3},
      {IteratorType::parallel, IteratorType::parallel, IteratorType::parallel},
      [&](OpBuilder &b, Location bl, ValueRange args) {
        Value h = linalg::IndexOp::create(b, bl, 0);
        Value t = linalg::IndexOp::create(b, bl, 1);
        Value position = t;
        if (positions) // a packed batch: the position in its example
          position = arith::IndexCastOp::create(
              b, bl, b.getIndexType(), tensor::ExtractOp::create(b, bl, positions, ValueRange{t}));
        Value d = linalg::IndexOp::create(b, bl, 2);
        Value halfIdx = arith::ConstantIndexOp::create(b, bl, half);
        Value lower = arith::CmpIOp::create(b, bl, arith::CmpIPredicate::ult, d, halfIdx);
        Value partnerUp = arith::AddIOp::create(b, bl, d, halfIdx);
        Value partnerDown = arith::SubIOp::create(b, bl, d, halfIdx);
        Value partner = arith::SelectOp::create(b, bl, lower, partnerUp, partnerDown);
        Value freqIdx = arith::RemUIOp::create(b, bl, d, halfIdx);
        auto toF32 = [&](Value index) {
          Value i = arith::IndexCastOp::create(b, bl, b.getI64Type(), index);
          return Value(arith::SIToFPOp::create(b, bl, f32, i));
        };
        // angle = t * exp(-(2 * freqIdx / D) * ln(base))
        Value exponent = arith::MulFOp::create(
            b, bl, toF32(freqIdx), constantFloat(bl, f32, -2.0 * logBase / dim));
        Value angle = arith::MulFOp::create(b, bl, toF32(position),
                                            math::ExpOp::create(b, bl, exponent));
        Value cos = math::CosOp::create(b, bl, angle);
        Value sin = math::SinOp::create(b, bl, angle);
        Value self = args[0], other = tensor::ExtractOp::create(b, bl, x, ValueRange{h, t, partner});
        if (elem != f32) {
          self = arith::ExtFOp::create(b, bl, f32, self);
          other = arith::ExtFOp::create(b, bl, f32, other);
        }
        // lower half: x cos - x' sin; upper half: x cos + x' sin
        Value sign = arith::SelectOp::create(b, bl, lower, constantFloat(bl, f32, -1.0),
                                             constantFloat(bl, f32, 1.0));
        Value rotated = arith::MulFOp::create(b, bl, arith::MulFOp::create(b, bl, other, sin), sign);
        Value y = arith::AddFOp::create(b, bl, arith::MulFOp::create(b, bl, self, cos), rotated);
        if (elem != f32)
          y = arith::TruncFOp::create(b, bl, elem, y);
        linalg::YieldOp::create(b, bl, y);
      });
  return g.getResult(0);
}

Value Generator::emitAttention(const Node *n) {
  // attn.attention works on [batch, heads, positions, dim]; a model is one
  // sequence, so batch is 1.
  Location l = loc(n->loc);
  auto addBatch = [&](Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    auto withBatch = RankedTensorType::get(
        {1, t.getDimSize(0), t.getDimSize(1), t.getDimSize(2)}, t.getElementType());
    SmallVector<OpFoldResult> shape = {builder.getIndexAttr(1),
                                       builder.getIndexAttr(t.getDimSize(0))};
    if (t.isDynamicDim(1))
      shape.push_back(dimOf(l, v, 1));
    else
      shape.push_back(builder.getIndexAttr(t.getDimSize(1)));
    shape.push_back(builder.getIndexAttr(t.getDimSize(2)));
    return Value(tensor::ExpandShapeOp::create(
        builder, l, withBatch, v, SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}},
        shape));
  };
  Value q = emit(n->operands[0]), k = emit(n->operands[1]), v = emit(n->operands[2]);
  Value q4 = addBatch(q), k4 = addBatch(k), v4 = addBatch(v);
  RankedTensorType result = tensorType(n->type);
  auto result4 = RankedTensorType::get({1, result.getDimSize(0), result.getDimSize(1),
                                        result.getDimSize(2)},
                                       result.getElementType());
  SmallVector<Value> sizes;
  if (result4.isDynamicDim(2))
    sizes.push_back(dimOf(l, q4, 2));
  Value init = tensor::EmptyOp::create(builder, l, result4.getShape(),
                                       result4.getElementType(), sizes);
  attn::Normalizer normalizer = *attn::symbolizeNormalizer(n->name);
  attn::FeatureMapAttr featureMap;
  if (!n->featureMap.empty())
    featureMap = attn::FeatureMapAttr::get(&context,
                                           *attn::symbolizeFeatureMap(n->featureMap));
  StringAttr customName;
  if (!n->customName.empty())
    customName = builder.getStringAttr(n->customName);
  auto op = attn::AttentionOp::create(
      builder, l, result4, q4, k4, v4, init,
      attn::NormalizerAttr::get(&context, normalizer), featureMap, customName);
  Type index = builder.getIndexType();
  auto positionArg = [&](Block &b, int64_t i) -> Value {
    // Bodies compute on i64; the region hands out index values.
    return arith::IndexCastOp::create(builder, l, builder.getI64Type(), b.getArgument(i));
  };
  if (n->body) {
    Type types[] = {index, index, index, index};
    emitBodyRegion(op.getMask(), types, n->body, positionArg, l);
  }
  if (n->scoreBody) {
    Type types[] = {builder.getF32Type(), index, index, index, index};
    emitBodyRegion(op.getScore(), types, n->scoreBody,
                   [&](Block &b, int64_t i) {
                     return i == 0 ? b.getArgument(0) : positionArg(b, i);
                   },
                   l);
  }
  return tensor::CollapseShapeOp::create(builder, l, result, op.getResult(),
                                         SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}});
}

} // namespace

/// Inputs and parameters read at a position in masks and scores
/// (`doc[key_pos]`) are marked `raspc.indexed`: a position outside one reads
/// its nearest end, which an empty one does not have, so the runtime
/// rejects an empty one before any kernel runs.
void Generator::annotateIndexedInputs() {
  for (const std::unique_ptr<Node> &node : program.nodes) {
    if (node->op != NodeOp::Extract)
      continue;
    const Node *base = node->operands[0];
    if (base->type.dims[0].isStatic())
      continue; // never empty: declared sizes are positive
    auto input = llvm::find(program.inputs, base);
    auto param = llvm::find(program.params, base);
    unsigned arg;
    if (input != program.inputs.end())
      arg = static_cast<unsigned>(input - program.inputs.begin());
    else if (param != program.params.end())
      arg = static_cast<unsigned>(program.inputs.size() + (param - program.params.begin()));
    else
      continue; // a packed batch's own bounds, never empty
    function.setArgAttr(arg, "raspc.indexed", builder.getUnitAttr());
  }
}

void Generator::annotateLookupBounds() {
  auto tableName = [](const Node *table) {
    if (table->op == NodeOp::Param)
      return table->name;
    if (table->op == NodeOp::Input)
      return table->label;
    return std::string("the table");
  };
  llvm::StringMap<std::pair<int64_t, std::string>> sizeBounds;
  for (const std::unique_ptr<Node> &node : program.nodes) {
    if (node->op != NodeOp::Embed)
      continue;
    const Node *ids = node->operands[0], *table = node->operands[1];
    const Dim &rows = table->type.dims[0];
    if (!rows.isStatic())
      continue;
    if (ids->op == NodeOp::Input) {
      unsigned arg = static_cast<unsigned>(ids->intValue);
      auto bound = function.getArgAttrOfType<IntegerAttr>(arg, "raspc.id_bound");
      if (bound && bound.getInt() <= rows.size)
        continue;
      function.setArgAttr(arg, "raspc.id_bound", builder.getI64IntegerAttr(rows.size));
      function.setArgAttr(arg, "raspc.id_table", builder.getStringAttr(tableName(table)));
    } else if (ids->op == NodeOp::Positions && ids->boolValue) {
      // A packed batch: each example's length is bounded.
      unsigned arg = static_cast<unsigned>(program.lengths->intValue);
      auto bound = function.getArgAttrOfType<IntegerAttr>(arg, "raspc.max_length");
      if (bound && bound.getInt() <= rows.size)
        continue;
      function.setArgAttr(arg, "raspc.max_length", builder.getI64IntegerAttr(rows.size));
      function.setArgAttr(arg, "raspc.max_length_table", builder.getStringAttr(tableName(table)));
    } else if (ids->op == NodeOp::Positions && !ids->type.dims[0].isStatic()) {
      auto [it, inserted] = sizeBounds.try_emplace(ids->type.dims[0].symbol, rows.size,
                                                   tableName(table));
      if (!inserted && it->second.first > rows.size)
        it->second = {rows.size, tableName(table)};
    }
  }
  if (sizeBounds.empty())
    return;
  // {T = [512, "embeddings.position_embeddings.weight"]}: T may not exceed
  // the rows of the table that positions index.
  SmallVector<NamedAttribute> bounds;
  for (auto &entry : sizeBounds)
    bounds.push_back(builder.getNamedAttr(
        entry.getKey(), builder.getArrayAttr({builder.getI64IntegerAttr(entry.second.first),
                                              builder.getStringAttr(entry.second.second)})));
  function->setAttr("raspc.size_bounds", builder.getDictionaryAttr(bounds));
}

Value Generator::emitTranspose(const Node *n) {
  Location l = loc(n->loc);
  Value x = emit(n->operands[0]);
  RankedTensorType type = tensorType(n->type);
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < 2; ++d)
    if (type.isDynamicDim(d))
      sizes.push_back(dimOf(l, x, 1 - d));
  Value init = tensor::EmptyOp::create(builder, l, type.getShape(), type.getElementType(), sizes);
  return linalg::TransposeOp::create(builder, l, x, init, ArrayRef<int64_t>{1, 0})
      .getResult()[0];
}

Value Generator::emitEmbed(const Node *n) {
  // out[t, d] = table[ids[t], d]. An id outside the table reads a row of
  // zeros: the runtime rejects such ids in inputs before the call, and this
  // keeps a computed id from reading outside the buffer.
  Location l = loc(n->loc);
  auto [ids, table] = emitPair(n);
  RankedTensorType type = tensorType(n->type);
  SmallVector<Value> sizes;
  if (type.isDynamicDim(0))
    sizes.push_back(dimOf(l, ids, 0));
  if (type.isDynamicDim(1))
    sizes.push_back(dimOf(l, table, 1));
  Value init = tensor::EmptyOp::create(builder, l, type.getShape(), type.getElementType(), sizes);
  Value rows = dimOf(l, table, 0);
  AffineMap id2 = builder.getMultiDimIdentityMap(2);
  AffineMap row = AffineMap::get(2, 0, {builder.getAffineDimExpr(0)}, &context);
  return linalg::GenericOp::create(
             builder, l, TypeRange{type}, ValueRange{ids}, ValueRange{init},
             ArrayRef<AffineMap>{row, id2}, {IteratorType::parallel, IteratorType::parallel},
             [&](OpBuilder &b, Location bl, ValueRange args) {
               Value id = arith::IndexCastOp::create(b, bl, b.getIndexType(), args[0]);
               Value zero = arith::ConstantIndexOp::create(b, bl, 0);
               Value inRange = arith::AndIOp::create(
                   b, bl,
                   arith::CmpIOp::create(b, bl, arith::CmpIPredicate::sge, id, zero),
                   arith::CmpIOp::create(b, bl, arith::CmpIPredicate::slt, id, rows));
               Value safe = arith::SelectOp::create(b, bl, inRange, id, zero);
               Value column = linalg::IndexOp::create(b, bl, 1);
               Value v = tensor::ExtractOp::create(b, bl, table, ValueRange{safe, column});
               Value none = arith::ConstantOp::create(
                   b, bl, type.getElementType(), b.getFloatAttr(type.getElementType(), 0.0));
               linalg::YieldOp::create(b, bl,
                                       Value(arith::SelectOp::create(b, bl, inRange, v, none)));
             })
      .getResult(0);
}

Value Generator::exampleStart(OpBuilder &b, Location l, Value lengths, Value example) {
  Type i32 = b.getI32Type();
  Value c0 = arith::ConstantIndexOp::create(b, l, 0);
  Value c1 = arith::ConstantIndexOp::create(b, l, 1);
  auto loop = scf::ForOp::create(
      b, l, c0, example, c1, ValueRange{arith::ConstantOp::create(b, l, b.getIntegerAttr(i32, 0))},
      [&](OpBuilder &nb, Location nl, Value e, ValueRange sum) {
        Value len = tensor::ExtractOp::create(nb, nl, lengths, ValueRange{e});
        scf::YieldOp::create(nb, nl, ValueRange{arith::AddIOp::create(nb, nl, sum[0], len)});
      });
  return arith::IndexCastOp::create(b, l, b.getIndexType(), loop.getResult(0));
}

Value Generator::emitExampleBounds(const Node *n) {
  // Where the example of position t starts (ends): the one whose [start,
  // start + length) holds t. The runtime checks that the lengths add up to
  // the positions.
  Location l = loc(n->loc);
  Value lengths = emit(n->operands[0]);
  Value size;
  for (const Node *input : program.inputs)
    if (input->type.isTensor() && !input->type.dims.empty() &&
        input->type.dims[0].symbol == program.packedSymbol) {
      size = dimOf(l, values[input], 0);
      break;
    }
  auto gen = tensor::GenerateOp::create(builder, l, tensorType(n->type), ValueRange{size});
  OpBuilder::InsertionGuard guard(builder);
  Block *block = builder.createBlock(&gen.getBody(), {}, {builder.getIndexType()}, {l});
  Type i32 = builder.getI32Type();
  Value t = arith::IndexCastOp::create(builder, l, i32, block->getArgument(0));
  Value zero = arith::ConstantOp::create(builder, l, builder.getIntegerAttr(i32, 0));
  Value examples = dimOf(l, lengths, 0);
  // Carried: the next example's start, and the bounds found so far.
  auto loop = scf::ForOp::create(
      builder, l, arith::ConstantIndexOp::create(builder, l, 0), examples,
      arith::ConstantIndexOp::create(builder, l, 1), ValueRange{zero, zero, zero},
      [&](OpBuilder &b, Location bl, Value e, ValueRange carried) {
        Value begin = carried[0];
        Value end = arith::AddIOp::create(
            b, bl, begin, tensor::ExtractOp::create(b, bl, lengths, ValueRange{e}));
        Value inside = arith::AndIOp::create(
            b, bl, arith::CmpIOp::create(b, bl, arith::CmpIPredicate::sge, t, begin),
            arith::CmpIOp::create(b, bl, arith::CmpIPredicate::slt, t, end));
        scf::YieldOp::create(
            b, bl,
            ValueRange{end, arith::SelectOp::create(b, bl, inside, begin, carried[1]),
                       arith::SelectOp::create(b, bl, inside, end, carried[2])});
      });
  tensor::YieldOp::create(builder, l, loop.getResult(n->boolValue ? 2 : 1));
  return gen;
}

Value Generator::emitPositions(const Node *n) {
  Location l = loc(n->loc);
  if (n->boolValue) {
    // A packed batch: t - (the start of t's example).
    Value starts = emit(n->operands[0]);
    SmallVector<Value> sizes = {dimOf(l, starts, 0)};
    auto gen = tensor::GenerateOp::create(builder, l, tensorType(n->type), sizes);
    OpBuilder::InsertionGuard guard(builder);
    Block *block = builder.createBlock(&gen.getBody(), {}, {builder.getIndexType()}, {l});
    Value t = arith::IndexCastOp::create(builder, l, builder.getI32Type(), block->getArgument(0));
    Value start = tensor::ExtractOp::create(builder, l, starts, ValueRange{block->getArgument(0)});
    tensor::YieldOp::create(builder, l, Value(arith::SubIOp::create(builder, l, t, start)));
    return gen;
  }
  Value x = emit(n->operands[0]);
  RankedTensorType type = tensorType(n->type);
  SmallVector<Value> sizes;
  if (type.isDynamicDim(0))
    sizes.push_back(dimOf(l, x, 0));
  auto gen = tensor::GenerateOp::create(builder, l, type, sizes);
  OpBuilder::InsertionGuard guard(builder);
  Block *block = builder.createBlock(&gen.getBody(), {}, {builder.getIndexType()}, {l});
  Value i = arith::IndexCastOp::create(builder, l, builder.getI32Type(), block->getArgument(0));
  tensor::YieldOp::create(builder, l, i);
  return gen;
}

Value Generator::emitRow(const Node *n) {
  Location l = loc(n->loc);
  Value x = emit(n->operands[0]);
  auto type = cast<RankedTensorType>(x.getType());
  OpFoldResult width = type.isDynamicDim(1)
                           ? OpFoldResult(dimOf(l, x, 1))
                           : OpFoldResult(builder.getIndexAttr(type.getDimSize(1)));
  return tensor::ExtractSliceOp::create(
      builder, l, tensorType(n->type), x,
      ArrayRef<OpFoldResult>{builder.getIndexAttr(n->intValue), builder.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{builder.getIndexAttr(1), width},
      ArrayRef<OpFoldResult>{builder.getIndexAttr(1), builder.getIndexAttr(1)});
}

Value Generator::emitPackedPool(const Node *n) {
  // out[e, d] over the rows of example e, in f32; a pool over no position
  // is 0, as unpacked.
  Location l = loc(n->loc);
  Value x = emit(n->operands[0]);
  bool masked = n->operands.size() > 2;
  Value mask = masked ? emit(n->operands[1]) : Value();
  Value lengths = emit(n->operands.back());
  RankedTensorType type = tensorType(n->type);
  Type elem = type.getElementType(), f32 = builder.getF32Type();
  bool isMax = n->name == "max";
  SmallVector<Value> sizes = {dimOf(l, lengths, 0)};
  if (type.isDynamicDim(1))
    sizes.push_back(dimOf(l, x, 1));
  auto gen = tensor::GenerateOp::create(builder, l, type, sizes);
  OpBuilder::InsertionGuard guard(builder);
  Block *block = builder.createBlock(&gen.getBody(), {},
                                     {builder.getIndexType(), builder.getIndexType()}, {l, l});
  OpBuilder &b = builder;
  Value e = block->getArgument(0), d = block->getArgument(1);
  Value start = exampleStart(b, l, lengths, e);
  Value end = arith::AddIOp::create(
      b, l, start,
      arith::IndexCastOp::create(b, l, b.getIndexType(),
                                 tensor::ExtractOp::create(b, l, lengths, ValueRange{e})));
  Value first = constantFloat(l, f32, isMax ? -std::numeric_limits<double>::infinity() : 0.0);
  Value zero = constantFloat(l, f32, 0.0), one = constantFloat(l, f32, 1.0);
  auto loop = scf::ForOp::create(
      b, l, start, end, arith::ConstantIndexOp::create(b, l, 1), ValueRange{first, zero},
      [&](OpBuilder &nb, Location nl, Value t, ValueRange carried) {
        Value v = tensor::ExtractOp::create(nb, nl, x, ValueRange{t, d});
        if (v.getType() != f32)
          v = arith::ExtFOp::create(nb, nl, f32, v);
        Value next = isMax ? Value(arith::MaximumFOp::create(nb, nl, carried[0], v))
                           : Value(arith::AddFOp::create(nb, nl, carried[0], v));
        Value count = arith::AddFOp::create(nb, nl, carried[1], one);
        if (mask) {
          Value m = tensor::ExtractOp::create(nb, nl, mask, ValueRange{t});
          Value keep = arith::CmpIOp::create(
              nb, nl, arith::CmpIPredicate::ne, m,
              arith::ConstantOp::create(nb, nl, nb.getIntegerAttr(m.getType(), 0)));
          next = arith::SelectOp::create(nb, nl, keep, next, carried[0]);
          count = arith::SelectOp::create(nb, nl, keep, count, carried[1]);
        }
        scf::YieldOp::create(nb, nl, ValueRange{next, count});
      });
  Value v = loop.getResult(0), count = loop.getResult(1);
  if (n->name == "mean")
    v = arith::DivFOp::create(b, l, v, arith::MaximumFOp::create(b, l, count, one));
  Value none = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, count, zero);
  v = arith::SelectOp::create(b, l, none, zero, v);
  if (elem != f32)
    v = arith::TruncFOp::create(b, l, elem, v);
  tensor::YieldOp::create(b, l, v);
  return gen;
}

Value Generator::emitPool(const Node *n) {
  if (n->boolValue)
    return emitPackedPool(n);
  // Over the positions (d0) of x [T, D], in f32: the sum (or maximum) of
  // the counted rows and how many were counted. A pool over no position is
  // 0, for every kind.
  Location l = loc(n->loc);
  Value x = emit(n->operands[0]);
  Value mask = n->operands.size() > 1 ? emit(n->operands[1]) : Value();
  auto type = cast<RankedTensorType>(x.getType());
  Type elem = type.getElementType(), f32 = builder.getF32Type();
  bool isMax = n->name == "max";
  SmallVector<Value> sizes;
  if (type.isDynamicDim(1))
    sizes.push_back(dimOf(l, x, 1));
  auto vectorType = RankedTensorType::get({type.getDimSize(1)}, f32);
  auto filled = [&](double v) {
    Value empty = tensor::EmptyOp::create(builder, l, vectorType.getShape(), f32, sizes);
    return linalg::FillOp::create(builder, l, constantFloat(l, f32, v), empty).getResult(0);
  };
  Value acc = filled(isMax ? -std::numeric_limits<double>::infinity() : 0.0);
  Value count = filled(0.0);
  AffineMap id2 = builder.getMultiDimIdentityMap(2);
  AffineMap position = AffineMap::get(2, 0, {builder.getAffineDimExpr(0)}, &context);
  AffineMap feature = AffineMap::get(2, 0, {builder.getAffineDimExpr(1)}, &context);
  SmallVector<Value> ins = {x};
  SmallVector<AffineMap> maps = {id2};
  if (mask) {
    ins.push_back(mask);
    maps.push_back(position);
  }
  maps.append({feature, feature});
  auto reduced = linalg::GenericOp::create(
      builder, l, TypeRange{vectorType, vectorType}, ins, ValueRange{acc, count}, maps,
      {IteratorType::reduction, IteratorType::parallel},
      [&](OpBuilder &b, Location bl, ValueRange args) {
        Value v = args[0];
        if (v.getType() != f32)
          v = arith::ExtFOp::create(b, bl, f32, v);
        Value a = args[ins.size()], c = args[ins.size() + 1];
        Value next = isMax ? Value(arith::MaximumFOp::create(b, bl, a, v))
                           : Value(arith::AddFOp::create(b, bl, a, v));
        Value one = arith::ConstantOp::create(b, bl, f32, b.getF32FloatAttr(1.0));
        Value nextCount = arith::AddFOp::create(b, bl, c, one);
        if (mask) {
          Value zero = arith::ConstantOp::create(b, bl, args[1].getType(),
                                                 b.getIntegerAttr(args[1].getType(), 0));
          Value keep = arith::CmpIOp::create(b, bl, arith::CmpIPredicate::ne, args[1], zero);
          next = arith::SelectOp::create(b, bl, keep, next, a);
          nextCount = arith::SelectOp::create(b, bl, keep, nextCount, c);
        }
        linalg::YieldOp::create(b, bl, ValueRange{next, nextCount});
      });
  RankedTensorType resultType = tensorType(n->type);
  Value init = tensor::EmptyOp::create(builder, l, resultType.getShape(), elem, sizes);
  AffineMap id1 = builder.getMultiDimIdentityMap(1);
  return linalg::GenericOp::create(
             builder, l, TypeRange{resultType}, reduced.getResults(), ValueRange{init},
             ArrayRef<AffineMap>{id1, id1, id1}, {IteratorType::parallel},
             [&](OpBuilder &b, Location bl, ValueRange args) {
               Value v = args[0], c = args[1];
               Value zero = arith::ConstantOp::create(b, bl, f32, b.getF32FloatAttr(0.0));
               Value one = arith::ConstantOp::create(b, bl, f32, b.getF32FloatAttr(1.0));
               if (n->name == "mean")
                 v = arith::DivFOp::create(b, bl, v, arith::MaximumFOp::create(b, bl, c, one));
               Value empty = arith::CmpFOp::create(b, bl, arith::CmpFPredicate::OEQ, c, zero);
               v = arith::SelectOp::create(b, bl, empty, zero, v);
               if (elem != f32)
                 v = arith::TruncFOp::create(b, bl, elem, v);
               linalg::YieldOp::create(b, bl, v);
             })
      .getResult(0);
}

Value Generator::emitL2Normalize(const Node *n) {
  // x / max(||x||, eps) over the last dimension, as torch's F.normalize.
  Location l = loc(n->loc);
  Value x = emit(n->operands[0]);
  auto type = cast<RankedTensorType>(x.getType());
  Type elem = type.getElementType(), f32 = builder.getF32Type();
  int64_t rank = type.getRank();
  SmallVector<Value> sizes;
  SmallVector<AffineExpr> outer;
  SmallVector<int64_t> outerShape;
  for (int64_t d = 0; d + 1 < rank; ++d) {
    outer.push_back(builder.getAffineDimExpr(d));
    outerShape.push_back(type.getDimSize(d));
    if (type.isDynamicDim(d))
      sizes.push_back(dimOf(l, x, d));
  }
  auto normsType = RankedTensorType::get(outerShape, f32);
  Value empty = tensor::EmptyOp::create(builder, l, outerShape, f32, sizes);
  Value zeros = linalg::FillOp::create(builder, l, constantFloat(l, f32, 0.0), empty)
                    .getResult(0);
  AffineMap all = builder.getMultiDimIdentityMap(rank);
  AffineMap rows = AffineMap::get(rank, 0, outer, &context);
  SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
  iterators.back() = IteratorType::reduction;
  auto extend = [&](OpBuilder &b, Location bl, Value v) -> Value {
    return v.getType() == f32 ? v : Value(arith::ExtFOp::create(b, bl, f32, v));
  };
  Value squares = linalg::GenericOp::create(
                      builder, l, TypeRange{normsType}, ValueRange{x}, ValueRange{zeros},
                      ArrayRef<AffineMap>{all, rows}, iterators,
                      [&](OpBuilder &b, Location bl, ValueRange args) {
                        Value v = extend(b, bl, args[0]);
                        Value sum = arith::AddFOp::create(
                            b, bl, args[1], arith::MulFOp::create(b, bl, v, v));
                        linalg::YieldOp::create(b, bl, sum);
                      })
                      .getResult(0);
  Value eps = constantFloat(l, f32, n->floatValue);
  iterators.back() = IteratorType::parallel;
  return linalg::GenericOp::create(
             builder, l, TypeRange{type}, ValueRange{x, squares},
             ValueRange{emptyLike(l, x, elem)}, ArrayRef<AffineMap>{all, rows, all}, iterators,
             [&](OpBuilder &b, Location bl, ValueRange args) {
               Value norm = arith::MaximumFOp::create(
                   b, bl, math::SqrtOp::create(b, bl, args[1]), eps);
               Value y = arith::DivFOp::create(b, bl, extend(b, bl, args[0]), norm);
               if (elem != f32)
                 y = arith::TruncFOp::create(b, bl, elem, y);
               linalg::YieldOp::create(b, bl, y);
             })
      .getResult(0);
}

OwningOpRef<ModuleOp> raspc::generateMLIR(MLIRContext &context, const Program &program,
                                          const llvm::SourceMgr &sourceMgr,
                                          unsigned bufferId, bool exposeSelectors,
                                          bool outlineCalls) {
  return Generator(context, program, sourceMgr, bufferId, exposeSelectors, outlineCalls)
      .run();
}
