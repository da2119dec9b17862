//===- Diagnostics.h - errors with file:line:col and a caret ----*- C++ -*-===//
//
// Every user-facing message of the front end goes through here, so that all
// of them look like `file:line:col: error: ...` followed by the source line
// and a caret, and so that a run stops after a bounded number of errors.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_FRONTEND_DIAGNOSTICS_H
#define RASPC_FRONTEND_DIAGNOSTICS_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/SMLoc.h"

namespace llvm {
class SourceMgr;
class raw_ostream;
} // namespace llvm

namespace raspc {

class Diagnostics {
public:
  /// Messages go to `os` through `sourceMgr`, which holds the program text.
  Diagnostics(llvm::SourceMgr &sourceMgr, llvm::raw_ostream &os);

  void error(llvm::SMLoc loc, const llvm::Twine &message);
  void note(llvm::SMLoc loc, const llvm::Twine &message);

  unsigned errorCount() const { return errors; }
  bool hadErrors() const { return errors != 0; }
  /// True once the error limit is reached; later errors are dropped.
  bool atLimit() const { return errors >= limit; }

  llvm::SourceMgr &getSourceMgr() { return sourceMgr; }

  /// The most errors reported in one run.
  static constexpr unsigned limit = 20;

private:
  llvm::SourceMgr &sourceMgr;
  llvm::raw_ostream &os;
  unsigned errors = 0;
  bool droppedNotes = false;
};

} // namespace raspc

#endif // RASPC_FRONTEND_DIAGNOSTICS_H
