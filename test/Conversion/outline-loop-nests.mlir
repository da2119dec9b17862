// RUN: rasp-opt %s --outline-loop-nests=min-nests=3 | FileCheck %s
// RUN: rasp-opt %s --outline-loop-nests | FileCheck %s --check-prefix=FEW

// Three top-level nests: each becomes a call. The two that differ only in
// the buffer they write share one function; the one that returns a value
// gets its own, with the result. Constants are cloned, not passed.
// CHECK-LABEL: func.func @main
// CHECK-SAME: (%[[A:.*]]: memref<?xf32>, %[[B:.*]]: memref<?xf32>, %[[N:.*]]: index)
// CHECK-NOT: scf.for
// CHECK: call @main_nest(%[[N]], %[[A]]) : (index, memref<?xf32>) -> ()
// CHECK: call @main_nest(%[[N]], %[[B]]) : (index, memref<?xf32>) -> ()
// CHECK: %[[SUM:.*]] = call @[[OTHER:main_nest_[0-9]+]](%[[N]], %[[A]]) : (index, memref<?xf32>) -> f32
// CHECK: return %[[SUM]]
// CHECK: func.func private @main_nest(%[[N2:.*]]: index, %[[X:.*]]: memref<?xf32>)
// CHECK-SAME: attributes {llvm.linkage = #llvm.linkage<internal>, passthrough = ["noinline"]}
// CHECK: arith.constant 1.000000e+00 : f32
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[N2]]
// CHECK: memref.store %{{.*}}, %[[X]]
// CHECK: return
// CHECK: func.func private @[[OTHER]](%{{.*}}: index, %{{.*}}: memref<?xf32>) -> f32
// CHECK: %[[R:.*]] = scf.for
// CHECK: return %[[R]] : f32
// CHECK-NOT: func.func private

// With the default threshold (16 nests) a short function stays as it is.
// FEW-LABEL: func.func @main
// FEW-COUNT-3: scf.for
// FEW-NOT: call
func.func @main(%a: memref<?xf32>, %b: memref<?xf32>, %n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %n step %c1 {
    memref.store %one, %a[%i] : memref<?xf32>
  }
  scf.for %i = %c0 to %n step %c1 {
    memref.store %one, %b[%i] : memref<?xf32>
  }
  %sum = scf.for %i = %c0 to %n step %c1 iter_args(%s = %zero) -> f32 {
    %x = memref.load %a[%i] : memref<?xf32>
    %t = arith.addf %s, %x : f32
    scf.yield %t : f32
  }
  return %sum : f32
}
