//===- Parser.h - from program text to the syntax tree ----------*- C++ -*-===//

#ifndef RASPC_FRONTEND_PARSER_H
#define RASPC_FRONTEND_PARSER_H

#include "AST.h"

#include <memory>

namespace raspc {

class Diagnostics;

/// Limits that keep hostile input from exhausting the stack: brackets may
/// nest this deep, and one statement may hold this many operators.
constexpr unsigned kMaxNesting = 256;
/// Calls of defs nested in one another: Sema inlines each call recursively,
/// and 20 000 overflowed the stack (1000 did under AddressSanitizer, whose
/// frames are larger; a host's thread may have a smaller stack than 8 MiB).
constexpr unsigned kMaxCallDepth = 256;
constexpr unsigned kMaxOperatorsPerStatement = 4096;

/// Checks the encoding, lexes, parses and builds the syntax tree of buffer
/// `bufferId` of the diagnostics' source manager. Returns null after
/// reporting every problem found; never throws.
std::unique_ptr<ast::Module> parseModule(unsigned bufferId, Diagnostics &diags);

} // namespace raspc

#endif // RASPC_FRONTEND_PARSER_H
