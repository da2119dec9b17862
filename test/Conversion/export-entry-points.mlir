// RUN: rasp-opt %s --export-entry-points | FileCheck %s

// The public function gets a C interface, and it and the helper internal
// linkage; a declaration is left alone.
// CHECK-LABEL: func.func @model
// CHECK-SAME: attributes {llvm.emit_c_interface, llvm.linkage = #llvm.linkage<internal>}
// CHECK-LABEL: func.func private @helper
// CHECK-SAME: attributes {llvm.linkage = #llvm.linkage<internal>}
// CHECK: func.func private @runtime(memref<?xf32>)
// CHECK-NOT: attributes
func.func @model(%x: memref<?xf32>) {
  func.call @helper(%x) : (memref<?xf32>) -> ()
  return
}
func.func private @helper(%x: memref<?xf32>) {
  func.call @runtime(%x) : (memref<?xf32>) -> ()
  return
}
func.func private @runtime(memref<?xf32>)
