//===- Sema.h - names, types and shapes of a program ------------*- C++ -*-===//

#ifndef RASPC_FRONTEND_SEMA_H
#define RASPC_FRONTEND_SEMA_H

#include "AST.h"
#include "Program.h"

#include "llvm/ADT/StringRef.h"

#include <memory>

namespace raspc {

class Diagnostics;

/// Checks `module` and elaborates its entry point: `entry` if given, else a
/// `def` or `model` named `main`, else the last one in the file. Reports
/// every independent error; returns null if there was any. `packedBatch`:
/// a model's entry runs a batch of examples packed along their positions
/// (CompileOptions::packedBatch).
std::unique_ptr<program::Program> analyze(const ast::Module &module, llvm::StringRef entry,
                                          bool packedBatch, Diagnostics &diags);

} // namespace raspc

#endif // RASPC_FRONTEND_SEMA_H
