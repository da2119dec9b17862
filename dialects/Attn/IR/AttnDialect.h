//===- AttnDialect.h - the attn dialect -------------------------*- C++ -*-===//
//
// Declares the attn dialect, its types and its enumerations.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_ATTN_IR_ATTNDIALECT_H
#define RASPC_ATTN_IR_ATTNDIALECT_H

#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectImplementation.h"

#include "Attn/IR/AttnDialect.h.inc"
#include "Attn/IR/AttnEnums.h.inc"

#define GET_TYPEDEF_CLASSES
#include "Attn/IR/AttnTypes.h.inc"

#endif // RASPC_ATTN_IR_ATTNDIALECT_H
