//===- AttnOps.h - attn dialect operations ----------------------*- C++ -*-===//

#ifndef RASPC_ATTN_IR_ATTNOPS_H
#define RASPC_ATTN_IR_ATTNOPS_H

#include "Attn/IR/AttnDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "Attn/IR/AttnOps.h.inc"

#endif // RASPC_ATTN_IR_ATTNOPS_H
