//===- CloneSharedInits.h - one fresh init per destination ------*- C++ -*-===//

#ifndef RASPC_CONVERSION_CLONESHAREDINITS_H
#define RASPC_CONVERSION_CLONESHAREDINITS_H

#include "mlir/Pass/Pass.h"

namespace raspc {

#define GEN_PASS_DECL_CLONESHAREDINITS
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_CLONESHAREDINITS_H
