//===- AttnDialect.cpp - the attn dialect -----------------------*- C++ -*-===//

#include "Attn/IR/AttnDialect.h"
#include "Attn/IR/AttnOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::attn;

#include "Attn/IR/AttnDialect.cpp.inc"
#include "Attn/IR/AttnEnums.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "Attn/IR/AttnTypes.cpp.inc"

void AttnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "Attn/IR/AttnOps.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "Attn/IR/AttnTypes.cpp.inc"
      >();
}
