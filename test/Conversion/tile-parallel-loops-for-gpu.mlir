// RUN: rasp-opt %s --split-input-file --tile-parallel-loops-for-gpu | FileCheck %s
// RUN: rasp-opt %s --split-input-file --tile-parallel-loops-for-gpu=threads=64 | FileCheck %s --check-prefix=T64
// RUN: not rasp-opt %s --split-input-file --tile-parallel-loops-for-gpu=threads=100 2>&1 | FileCheck %s --check-prefix=BAD

// A dynamic 1-D loop: blocks of 256 threads, an in-bounds check inside.
// CHECK-LABEL: func.func @dynamic(
// CHECK-SAME: %{{.*}}: memref<?xf32>, %[[N:.*]]: index
// CHECK: %[[C256:.*]] = arith.constant 256 : index
// CHECK: %[[TILE:.*]] = arith.muli %{{.*}}, %[[C256]]
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%[[N]]) step (%[[TILE]])
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%[[TILE]]) step
// CHECK: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %[[N]]
// CHECK: scf.if
// CHECK: memref.store
// T64-LABEL: func.func @dynamic(
// T64: %[[C64:.*]] = arith.constant 64 : index
// T64: arith.muli %{{.*}}, %[[C64]]
// BAD: error: tile-parallel-loops-for-gpu: threads must be a power of two, not 100
func.func @dynamic(%m: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    memref.store %f, %m[%i] : memref<?xf32>
  }
  return
}

// -----

// The innermost dimension first: 32 iterations take 32 threads, the outer
// dynamic one the remaining 8.
// CHECK-LABEL: func.func @inner_static(
// CHECK: %[[C8:.*]] = arith.constant 8 : index
// CHECK: %[[C32:.*]] = arith.constant 32 : index
// CHECK: %[[T0:.*]] = arith.muli %{{.*}}, %[[C8]]
// CHECK: %[[T1:.*]] = arith.muli %{{.*}}, %[[C32]]
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}) to (%{{.*}}, %{{.*}}) step (%[[T0]], %[[T1]])
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}) to (%[[T0]], %[[T1]])
func.func @inner_static(%m: memref<?x32xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c32) step (%c1, %c1) {
    memref.store %f, %m[%i, %j] : memref<?x32xf32>
  }
  return
}
