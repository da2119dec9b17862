//===- Diagnostics.cpp - errors with file:line:col and a caret --*- C++ -*-===//

#include "Diagnostics.h"

#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace raspc;

Diagnostics::Diagnostics(llvm::SourceMgr &sourceMgr, llvm::raw_ostream &os)
    : sourceMgr(sourceMgr), os(os) {}

void Diagnostics::error(llvm::SMLoc loc, const llvm::Twine &message) {
  if (errors > limit)
    return;
  if (errors++ == limit) {
    os << "error: too many errors (" << limit << "), stopping\n";
    droppedNotes = true;
    return;
  }
  droppedNotes = false;
  if (!loc.isValid() && sourceMgr.getNumBuffers() > 0) {
    // About the program as a whole (say, a missing entry point): name the
    // file, but no line.
    os << sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())->getBufferIdentifier()
       << ": error: " << message << "\n";
    return;
  }
  sourceMgr.PrintMessage(os, loc, llvm::SourceMgr::DK_Error, message);
}

void Diagnostics::note(llvm::SMLoc loc, const llvm::Twine &message) {
  // A note belongs to the error before it; drop it with that error.
  if (droppedNotes || errors > limit)
    return;
  sourceMgr.PrintMessage(os, loc, llvm::SourceMgr::DK_Note, message);
}
