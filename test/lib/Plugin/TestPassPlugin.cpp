//===- TestPassPlugin.cpp - a pass plugin for the test suite ----*- C++ -*-===//
//
// Registers `test-count-attn-ops`, which reports through a remark how many
// operations of the attn dialect each function holds. It works on generic
// operations, so it needs nothing but libMLIR.so.
//
//===----------------------------------------------------------------------===//

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Tools/Plugins/PassPlugin.h"

using namespace mlir;

namespace {
struct CountAttnOpsPass
    : public PassWrapper<CountAttnOpsPass, InterfacePass<FunctionOpInterface>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CountAttnOpsPass)

  StringRef getArgument() const final { return "test-count-attn-ops"; }
  StringRef getDescription() const final {
    return "Reports the number of attn operations in each function (a test "
           "of pass plugins)";
  }
  void runOnOperation() override {
    unsigned count = 0;
    getOperation()->walk([&](Operation *op) {
      if (op->getName().getDialectNamespace() == "attn")
        ++count;
    });
    emitRemark(getOperation()->getLoc())
        << "function '" << getOperation().getName() << "' holds " << count
        << " attn operations";
  }
};
} // namespace

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "RaspcTestPassPlugin", LLVM_VERSION_STRING,
          []() { PassRegistration<CountAttnOpsPass>(); }};
}
