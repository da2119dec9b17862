//===- ASTBuilder.cpp - ANTLR parse tree to syntax tree ---------*- C++ -*-===//
//
// The only file that sees ANTLR. It checks the encoding, lexes and checks the
// tokens (unknown characters, unterminated strings, nesting limits), parses,
// and turns the parse tree into the owned AST.
//
// ASTBuilder derives from the generated RaspVisitor, whose methods are all
// pure: a grammar rule without a visit method does not compile. Each visit
// method returns the node it built as a raw owning pointer in the Any; the
// typed helpers (expr(), typeRef(), ...) take ownership at once.
//
//===----------------------------------------------------------------------===//

#include "Parser.h"

#include "AST.h"
#include "Diagnostics.h"

#include "RaspLexer.h"
#include "RaspParser.h"
#include "RaspVisitor.h"
#include "antlr4-runtime.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/SourceMgr.h"

#include <mutex>

using namespace raspc;
using namespace raspc::ast;
using raspc::grammar::RaspLexer;
using raspc::grammar::RaspParser;

namespace {

/// Maps ANTLR's code-point offsets to source locations.
class LocationMap {
public:
  LocationMap(const char *start, std::vector<uint32_t> codePointToByte)
      : start(start), codePointToByte(std::move(codePointToByte)) {}

  Loc at(size_t codePointIndex) const {
    if (codePointIndex >= codePointToByte.size())
      return Loc::getFromPointer(start + (codePointToByte.empty() ? 0 : codePointToByte.back()));
    return Loc::getFromPointer(start + codePointToByte[codePointIndex]);
  }
  Loc at(const antlr4::Token *token) const {
    return at(token->getStartIndex());
  }

private:
  const char *start;
  std::vector<uint32_t> codePointToByte;
};

/// Reports ANTLR's syntax errors through Diagnostics.
class SyntaxErrorListener : public antlr4::BaseErrorListener {
public:
  SyntaxErrorListener(Diagnostics &diags, const LocationMap &locations)
      : diags(diags), locations(locations) {}

  void syntaxError(antlr4::Recognizer *, antlr4::Token *offending, size_t,
                   size_t, const std::string &message,
                   std::exception_ptr) override {
    std::string text = message;
    // ANTLR says <EOF>; people say end of file.
    for (size_t pos; (pos = text.find("<EOF>")) != std::string::npos;)
      text.replace(pos, 5, "end of file");
    Loc loc = offending ? locations.at(offending) : Loc();
    diags.error(loc, "syntax error: " + text);
  }

private:
  Diagnostics &diags;
  const LocationMap &locations;
};

BinaryOp binaryOpFromToken(const std::string &text) {
  static const std::pair<const char *, BinaryOp> table[] = {
      {"+", BinaryOp::Add}, {"-", BinaryOp::Sub},  {"*", BinaryOp::Mul},
      {"/", BinaryOp::Div}, {"%", BinaryOp::Mod},  {"@", BinaryOp::MatMul},
      {"==", BinaryOp::Eq}, {"!=", BinaryOp::Ne},  {"<", BinaryOp::Lt},
      {"<=", BinaryOp::Le}, {">", BinaryOp::Gt},   {">=", BinaryOp::Ge},
      {"and", BinaryOp::And}, {"or", BinaryOp::Or}};
  for (auto &[spelling, op] : table)
    if (text == spelling)
      return op;
  return BinaryOp::Add; // unreachable: the grammar admits only these
}

/// Resolves the escapes of a quoted string literal.
std::string unquote(const std::string &quoted) {
  std::string out;
  for (size_t i = 1; i + 1 < quoted.size(); ++i) {
    char c = quoted[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    char e = quoted[++i];
    switch (e) {
    case 'n': out += '\n'; break;
    case 't': out += '\t'; break;
    case '0': out += '\0'; break;
    default: out += e; break; // \\ \" \' and any other character as itself
    }
  }
  return out;
}

class ASTBuilder : public raspc::grammar::RaspVisitor {
public:
  explicit ASTBuilder(const LocationMap &locations) : locations(locations) {}

  std::unique_ptr<Module> build(RaspParser::Module_Context *ctx) {
    return std::unique_ptr<Module>(visit(ctx).as<Module *>());
  }

private:
  const LocationMap &locations;

  Loc loc(antlr4::Token *token) const { return locations.at(token); }
  Loc loc(antlr4::ParserRuleContext *ctx) const { return loc(ctx->getStart()); }
  Loc loc(antlr4::tree::TerminalNode *node) const { return loc(node->getSymbol()); }

  ExprPtr expr(antlr4::ParserRuleContext *ctx) {
    return ExprPtr(visit(ctx).as<Expr *>());
  }
  std::unique_ptr<TypeRef> typeRef(RaspParser::TypeRefContext *ctx) {
    return std::unique_ptr<TypeRef>(visit(ctx).as<TypeRef *>());
  }
  ExprPtr binary(antlr4::Token *op, RaspParser::ExprContext *lhs,
                 RaspParser::ExprContext *rhs) {
    return std::make_unique<Binary>(loc(op), binaryOpFromToken(op->getText()),
                                    expr(lhs), expr(rhs));
  }
  /// The keyword token after the first operand (`and`, `or`, `scored`,
  /// the `if` of a conditional).
  antlr4::Token *middleToken(antlr4::ParserRuleContext *ctx) {
    return static_cast<antlr4::tree::TerminalNode *>(ctx->children[1])->getSymbol();
  }
  template <typename T> antlrcpp::Any give(std::unique_ptr<T> node) {
    return node.release();
  }
  antlrcpp::Any giveExpr(ExprPtr node) { return node.release(); }

  //===--- Declarations ---------------------------------------------------===//

  antlrcpp::Any visitModule_(RaspParser::Module_Context *ctx) override {
    auto module = std::make_unique<Module>();
    for (auto *item : ctx->item()) {
      std::unique_ptr<Decl> decl(visit(item).as<Decl *>());
      module->decls.push_back(std::move(*decl));
    }
    return give(std::move(module));
  }

  antlrcpp::Any visitItem(RaspParser::ItemContext *ctx) override {
    return visitChildren(ctx);
  }

  antlrcpp::Any visitVocabDecl(RaspParser::VocabDeclContext *ctx) override {
    auto decl = std::make_unique<Decl>();
    decl->kind = DeclKind::Vocab;
    decl->loc = loc(ctx->name);
    decl->name = ctx->name->getText();
    for (auto *literal : ctx->literal())
      decl->words.push_back(expr(literal));
    return give(std::move(decl));
  }

  void buildFunction(Decl &decl, antlr4::Token *name,
                     RaspParser::ParamListContext *params,
                     RaspParser::TypeRefContext *result,
                     RaspParser::BlockContext *block) {
    decl.loc = loc(name);
    decl.name = name->getText();
    if (params)
      for (auto *param : params->param()) {
        std::unique_ptr<Param> p(visit(param).as<Param *>());
        decl.params.push_back(std::move(*p));
      }
    if (result)
      decl.result = typeRef(result);
    std::unique_ptr<std::vector<Stmt>> body(
        visit(block).as<std::vector<Stmt> *>());
    decl.body = std::move(*body);
  }

  antlrcpp::Any visitDefDecl(RaspParser::DefDeclContext *ctx) override {
    auto decl = std::make_unique<Decl>();
    decl->kind = DeclKind::Def;
    buildFunction(*decl, ctx->name, ctx->paramList(), ctx->result, ctx->block());
    return give(std::move(decl));
  }

  antlrcpp::Any visitModelDecl(RaspParser::ModelDeclContext *ctx) override {
    auto decl = std::make_unique<Decl>();
    decl->kind = DeclKind::Model;
    buildFunction(*decl, ctx->name, ctx->paramList(), ctx->result, ctx->block());
    return give(std::move(decl));
  }

  antlrcpp::Any visitParamList(RaspParser::ParamListContext *ctx) override {
    // Parameters are collected by buildFunction.
    return visitChildren(ctx);
  }

  antlrcpp::Any visitParam(RaspParser::ParamContext *ctx) override {
    auto param = std::make_unique<Param>();
    param->loc = loc(ctx->name);
    param->name = ctx->name->getText();
    if (ctx->typeRef())
      param->type = typeRef(ctx->typeRef());
    return give(std::move(param));
  }

  antlrcpp::Any visitTypeRef(RaspParser::TypeRefContext *ctx) override {
    auto type = std::make_unique<TypeRef>();
    type->loc = loc(ctx->name);
    type->name = ctx->name->getText();
    type->hasDims = ctx->getStart() != ctx->getStop();
    for (auto *dim : ctx->dim()) {
      std::unique_ptr<Dim> d(visit(dim).as<Dim *>());
      type->dims.push_back(std::move(*d));
    }
    return give(std::move(type));
  }

  antlrcpp::Any visitDim(RaspParser::DimContext *ctx) override {
    auto dim = std::make_unique<Dim>();
    dim->loc = loc(ctx);
    if (ctx->ID()) {
      dim->value = ctx->ID()->getText();
    } else {
      // Out-of-range sizes become -1, which Sema rejects with a location.
      long long value = -1;
      if (llvm::StringRef(ctx->INT()->getText()).getAsInteger(10, value))
        value = -1;
      dim->value = static_cast<int64_t>(value);
    }
    return give(std::move(dim));
  }

  antlrcpp::Any visitBlock(RaspParser::BlockContext *ctx) override {
    auto stmts = std::make_unique<std::vector<Stmt>>();
    for (auto *stmt : ctx->stmt()) {
      std::unique_ptr<Stmt> s(visit(stmt).as<Stmt *>());
      stmts->push_back(std::move(*s));
    }
    return stmts.release();
  }

  //===--- Statements -----------------------------------------------------===//

  antlrcpp::Any visitLetStmt(RaspParser::LetStmtContext *ctx) override {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = StmtKind::Let;
    stmt->loc = loc(ctx);
    stmt->names.push_back(ctx->name->getText());
    stmt->nameLocs.push_back(loc(ctx->name));
    stmt->value = expr(ctx->expr());
    return give(std::move(stmt));
  }

  antlrcpp::Any visitParamStmt(RaspParser::ParamStmtContext *ctx) override {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = StmtKind::Param;
    stmt->loc = loc(ctx);
    for (auto *id : ctx->ID()) {
      stmt->names.push_back(id->getText());
      stmt->nameLocs.push_back(loc(id));
    }
    stmt->type = typeRef(ctx->typeRef());
    return give(std::move(stmt));
  }

  antlrcpp::Any visitReturnStmt(RaspParser::ReturnStmtContext *ctx) override {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = StmtKind::Return;
    stmt->loc = loc(ctx);
    stmt->value = expr(ctx->expr());
    return give(std::move(stmt));
  }

  //===--- Expressions ----------------------------------------------------===//

  antlrcpp::Any visitAtomExpr(RaspParser::AtomExprContext *ctx) override {
    return visit(ctx->primary());
  }

  antlrcpp::Any visitIndexExpr(RaspParser::IndexExprContext *ctx) override {
    return giveExpr(std::make_unique<Index>(loc(ctx->index->getStart()),
                                           expr(ctx->base), expr(ctx->index)));
  }

  antlrcpp::Any visitUnaryExpr(RaspParser::UnaryExprContext *ctx) override {
    UnaryOp op = ctx->op->getText() == "-" ? UnaryOp::Neg : UnaryOp::Plus;
    return giveExpr(std::make_unique<Unary>(loc(ctx->op), op, expr(ctx->operand)));
  }

  antlrcpp::Any visitNotExpr(RaspParser::NotExprContext *ctx) override {
    return giveExpr(
        std::make_unique<Unary>(loc(ctx), UnaryOp::Not, expr(ctx->operand)));
  }

  antlrcpp::Any visitMulExpr(RaspParser::MulExprContext *ctx) override {
    return giveExpr(binary(ctx->op, ctx->lhs, ctx->rhs));
  }
  antlrcpp::Any visitAddExpr(RaspParser::AddExprContext *ctx) override {
    return giveExpr(binary(ctx->op, ctx->lhs, ctx->rhs));
  }
  antlrcpp::Any visitCmpExpr(RaspParser::CmpExprContext *ctx) override {
    return giveExpr(binary(ctx->op, ctx->lhs, ctx->rhs));
  }
  antlrcpp::Any visitAndExpr(RaspParser::AndExprContext *ctx) override {
    return giveExpr(binary(middleToken(ctx), ctx->lhs, ctx->rhs));
  }
  antlrcpp::Any visitOrExpr(RaspParser::OrExprContext *ctx) override {
    return giveExpr(binary(middleToken(ctx), ctx->lhs, ctx->rhs));
  }

  antlrcpp::Any visitCondExpr(RaspParser::CondExprContext *ctx) override {
    return giveExpr(std::make_unique<Cond>(loc(middleToken(ctx)), expr(ctx->then),
                                           expr(ctx->cond), expr(ctx->otherwise)));
  }

  antlrcpp::Any visitScoredExpr(RaspParser::ScoredExprContext *ctx) override {
    return giveExpr(std::make_unique<Scored>(
        loc(middleToken(ctx)), expr(ctx->selector), expr(ctx->score)));
  }

  antlrcpp::Any visitLiteralPrimary(RaspParser::LiteralPrimaryContext *ctx) override {
    return visit(ctx->literal());
  }

  antlrcpp::Any visitCallPrimary(RaspParser::CallPrimaryContext *ctx) override {
    auto call = std::make_unique<Call>(loc(ctx->callee), ctx->callee->getText(),
                                       loc(ctx->callee));
    for (auto *arg : ctx->argument()) {
      std::unique_ptr<Argument> a(visit(arg).as<Argument *>());
      call->args.push_back(std::move(*a));
    }
    return giveExpr(std::move(call));
  }

  antlrcpp::Any visitNamePrimary(RaspParser::NamePrimaryContext *ctx) override {
    return giveExpr(std::make_unique<Name>(loc(ctx), ctx->getText()));
  }

  antlrcpp::Any visitParenPrimary(RaspParser::ParenPrimaryContext *ctx) override {
    return visit(ctx->expr());
  }

  antlrcpp::Any visitDictPrimary(RaspParser::DictPrimaryContext *ctx) override {
    auto dict = std::make_unique<Dict>(loc(ctx));
    for (auto *entry : ctx->dictEntry()) {
      std::unique_ptr<std::pair<ExprPtr, ExprPtr>> e(
          visit(entry).as<std::pair<ExprPtr, ExprPtr> *>());
      dict->entries.push_back(std::move(*e));
    }
    return giveExpr(std::move(dict));
  }

  antlrcpp::Any visitDictEntry(RaspParser::DictEntryContext *ctx) override {
    return new std::pair<ExprPtr, ExprPtr>(expr(ctx->key), expr(ctx->value));
  }

  antlrcpp::Any visitIntLiteral(RaspParser::IntLiteralContext *ctx) override {
    return giveExpr(std::make_unique<IntLit>(loc(ctx), ctx->getText()));
  }

  antlrcpp::Any visitFloatLiteral(RaspParser::FloatLiteralContext *ctx) override {
    double value = 0;
    // The lexer only admits well-formed literals; huge ones become inf,
    // which Sema reports.
    if (llvm::StringRef(ctx->getText()).getAsDouble(value, /*AllowInexact=*/true))
      value = std::numeric_limits<double>::infinity();
    return giveExpr(std::make_unique<FloatLit>(loc(ctx), value));
  }

  antlrcpp::Any visitStringLiteral(RaspParser::StringLiteralContext *ctx) override {
    return giveExpr(std::make_unique<StringLit>(loc(ctx), unquote(ctx->getText())));
  }

  antlrcpp::Any visitBoolLiteral(RaspParser::BoolLiteralContext *ctx) override {
    return giveExpr(std::make_unique<BoolLit>(loc(ctx), ctx->getText() == "true"));
  }

  //===--- Call arguments -------------------------------------------------===//

  antlrcpp::Any visitKeywordArgument(RaspParser::KeywordArgumentContext *ctx) override {
    auto arg = std::make_unique<Argument>();
    arg->kind = Argument::Kind::Keyword;
    arg->loc = loc(ctx->name);
    arg->keyword = ctx->name->getText();
    arg->value = expr(ctx->expr());
    return give(std::move(arg));
  }

  antlrcpp::Any visitLambdaArgument(RaspParser::LambdaArgumentContext *ctx) override {
    std::unique_ptr<Argument> arg(visit(ctx->lambdaParams()).as<Argument *>());
    arg->kind = Argument::Kind::Lambda;
    arg->loc = loc(ctx);
    arg->value = expr(ctx->body);
    return give(std::move(arg));
  }

  antlrcpp::Any visitLambdaParams(RaspParser::LambdaParamsContext *ctx) override {
    auto arg = std::make_unique<Argument>();
    for (auto *id : ctx->ID()) {
      arg->lambdaParams.push_back(id->getText());
      arg->lambdaParamLocs.push_back(loc(id));
    }
    return give(std::move(arg));
  }

  antlrcpp::Any visitComparisonArgument(RaspParser::ComparisonArgumentContext *ctx) override {
    auto arg = std::make_unique<Argument>();
    arg->kind = Argument::Kind::Comparison;
    arg->loc = loc(ctx->op);
    arg->comparison = binaryOpFromToken(ctx->op->getText());
    return give(std::move(arg));
  }

  antlrcpp::Any visitExprArgument(RaspParser::ExprArgumentContext *ctx) override {
    auto arg = std::make_unique<Argument>();
    arg->kind = Argument::Kind::Positional;
    arg->loc = loc(ctx);
    arg->value = expr(ctx->expr());
    return give(std::move(arg));
  }
};

/// Validates UTF-8 and records where each code point starts. Reports the
/// first invalid byte.
bool decodeSource(llvm::StringRef text, const char *bufferStart,
                  Diagnostics &diags, std::vector<uint32_t> &codePointToByte) {
  codePointToByte.reserve(text.size() + 1);
  const auto *begin = reinterpret_cast<const llvm::UTF8 *>(text.begin());
  const auto *end = reinterpret_cast<const llvm::UTF8 *>(text.end());
  for (const llvm::UTF8 *p = begin; p < end;) {
    llvm::UTF32 codePoint;
    const llvm::UTF8 *start = p;
    if (llvm::convertUTF8Sequence(&p, end, &codePoint, llvm::strictConversion) !=
        llvm::conversionOK) {
      diags.error(Loc::getFromPointer(bufferStart + (start - begin)),
                  "invalid UTF-8 byte 0x" + llvm::utohexstr(*start, false, 2) +
                      " in the program text");
      return false;
    }
    codePointToByte.push_back(static_cast<uint32_t>(start - begin));
  }
  codePointToByte.push_back(static_cast<uint32_t>(text.size()));
  return true;
}

/// "character '$'" for printable text, "byte 0x00" for control bytes.
std::string describeCharacter(const std::string &utf8) {
  unsigned char c = utf8.empty() ? 0 : utf8[0];
  if (utf8.size() == 1 && (c < 0x20 || c == 0x7f))
    return "byte 0x" + llvm::utohexstr(c, false, 2);
  return "character '" + utf8 + "'";
}

/// Reports lexical errors and enforces the nesting limits. Returns false if
/// anything was reported.
bool checkTokens(const std::vector<antlr4::Token *> &tokens,
                 const LocationMap &locations, Diagnostics &diags) {
  bool ok = true;
  unsigned depth = 0, operators = 0;
  bool reportedNesting = false, reportedLength = false;
  for (antlr4::Token *token : tokens) {
    size_t type = token->getType();
    if (type == RaspLexer::ERROR_CHAR) {
      diags.error(locations.at(token),
                  "unexpected " + describeCharacter(token->getText()));
      ok = false;
      continue;
    }
    if (type == RaspLexer::UNTERMINATED_STRING) {
      diags.error(locations.at(token),
                  "unterminated string literal: it needs a closing quote on "
                  "the same line");
      ok = false;
      continue;
    }
    std::string text = type == antlr4::Token::EOF ? "" : token->getText();
    if (text == "(" || text == "[" || text == "{") {
      if (++depth > kMaxNesting && !reportedNesting) {
        diags.error(locations.at(token),
                    "brackets nested too deeply (the limit is " +
                        std::to_string(kMaxNesting) + " levels)");
        reportedNesting = true;
        ok = false;
      }
    } else if (text == ")" || text == "]" || text == "}") {
      if (depth)
        --depth;
    }
    if (text == ";" || text == "{" || text == "}") {
      operators = 0;
    } else if (type != RaspLexer::ID && type != RaspLexer::INT &&
               type != RaspLexer::FLOAT && type != RaspLexer::STRING &&
               ++operators > kMaxOperatorsPerStatement && !reportedLength) {
      diags.error(locations.at(token),
                  "statement too long (more than " +
                      std::to_string(kMaxOperatorsPerStatement) +
                      " operators); split it with 'let'");
      reportedLength = true;
      ok = false;
    }
  }
  return ok;
}

} // namespace

std::unique_ptr<Module> raspc::parseModule(unsigned bufferId,
                                           Diagnostics &diags) {
  const llvm::MemoryBuffer *buffer =
      diags.getSourceMgr().getMemoryBuffer(bufferId);
  llvm::StringRef text = buffer->getBuffer();

  std::vector<uint32_t> codePointToByte;
  if (!decodeSource(text, text.data(), diags, codePointToByte))
    return nullptr;
  LocationMap locations(text.data(), std::move(codePointToByte));

  // ANTLR's prediction caches are static and shared by every parser in the
  // process (and cleared below): one parse at a time. Parsing is a small
  // part of a compile, so concurrent compiles still overlap everywhere else.
  static std::mutex antlrMutex;
  std::lock_guard<std::mutex> lock(antlrMutex);
  try {
    // ANTLR's own UTF-8 decoder throws on invalid input; the text is valid
    // by now.
    antlr4::ANTLRInputStream input;
    input.load(std::string(text.data(), text.size()));
    RaspLexer lexer(&input);
    lexer.removeErrorListeners(); // ERROR_CHAR makes the lexer total
    antlr4::CommonTokenStream tokens(&lexer);
    tokens.fill();
    if (!checkTokens(tokens.getTokens(), locations, diags))
      return nullptr;

    RaspParser parser(&tokens);
    parser.removeErrorListeners();
    SyntaxErrorListener listener(diags, locations);
    parser.addErrorListener(&listener);
    RaspParser::Module_Context *tree = parser.module_();
    std::unique_ptr<Module> module;
    if (!diags.hadErrors())
      module = ASTBuilder(locations).build(tree);
    // ANTLR caches prediction DFAs and contexts in static tables that grow
    // with every new input shape; a long-lived process (the JIT, the fuzzer)
    // would grow without bound. Programs are small, so start fresh each time.
    auto *parserSim = parser.getInterpreter<antlr4::atn::ParserATNSimulator>();
    parserSim->clearDFA();
    parserSim->getSharedContextCache().clear();
    lexer.getInterpreter<antlr4::atn::LexerATNSimulator>()->clearDFA();
    return module;
  } catch (const std::exception &e) {
    diags.error(Loc::getFromPointer(text.data()),
                std::string("internal error while parsing: ") + e.what());
    return nullptr;
  }
}
