// RUN: rasp-opt --show-dialects | FileCheck %s
// RUN: rasp-opt --help | FileCheck %s --check-prefix=HELP

// rasp-opt registers our dialect beside every upstream one.
// CHECK: Available Dialects:
// CHECK-SAME: arith
// CHECK-SAME: attn
// CHECK-SAME: linalg
// CHECK-SAME: nvvm

// HELP: raspc optimizer driver
// HELP: --convert-linalg-to-loops
// HELP: --load-pass-plugin
