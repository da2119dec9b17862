// RUN: rasp-opt %s --split-input-file --convert-parallel-to-rasprt | FileCheck %s
// RUN: rasp-opt %s --split-input-file --convert-parallel-to-rasprt --raspc-pipeline='from=loops' | FileCheck %s --check-prefix=LLVM

// The loop becomes a call into the runtime's pool; the memref and the float
// it uses travel in a context struct, the constant is cloned, the scratch
// alloca moves to the body's entry, and iteration t runs at lb + t * step.
// CHECK: llvm.func @rasprt_parallel_for(i64, i64, !llvm.ptr, !llvm.ptr)
// CHECK-LABEL: func.func @scale
// CHECK-SAME: (%[[BUF:.*]]: memref<?xf32>, %[[X:.*]]: f32, %[[LB:.*]]: index, %[[N:.*]]: index)
// CHECK: %[[RANGE:.*]] = arith.subi %[[N]], %[[LB]]
// CHECK: %[[COUNT:.*]] = arith.ceildivsi %[[RANGE]], %{{.*}}
// CHECK: %[[CTX:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(i64, struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>, f32)>
// CHECK: builtin.unrealized_conversion_cast %[[LB]] : index to i64
// CHECK: llvm.store
// CHECK: builtin.unrealized_conversion_cast %[[BUF]] : memref<?xf32> to !llvm.struct
// CHECK: llvm.store
// CHECK: builtin.unrealized_conversion_cast %[[X]] : f32 to f32
// CHECK: %[[FN:.*]] = constant @scale_parallel : (i64, i64, !llvm.ptr) -> ()
// CHECK: %[[FNPTR:.*]] = builtin.unrealized_conversion_cast %[[FN]] : (i64, i64, !llvm.ptr) -> () to !llvm.ptr
// CHECK: %[[COUNT64:.*]] = arith.index_cast %[[COUNT]] : index to i64
// CHECK: llvm.call @rasprt_parallel_for(%[[COUNT64]], %{{.*}}, %[[FNPTR]], %[[CTX]])
// CHECK-NOT: scf.parallel
// CHECK-LABEL: func.func private @scale_parallel
// CHECK-SAME: (%[[BEGIN:.*]]: i64, %[[END:.*]]: i64, %[[C:.*]]: !llvm.ptr) attributes {llvm.linkage = #llvm.linkage<internal>}
// CHECK: %[[TWO:.*]] = arith.constant 2 : index
// CHECK: llvm.getelementptr %[[C]][0, 1]
// CHECK: %[[SCRATCH:.*]] = memref.alloca() : memref<4xf32>
// CHECK: scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[MUL:.*]] = arith.muli %[[T]], %[[TWO]]
// CHECK: %[[IV:.*]] = arith.addi %{{.*}}, %[[MUL]]
// CHECK: memref.store %{{.*}}, %{{.*}}[%[[IV]]]
// LLVM: llvm.func internal @scale(
// LLVM: llvm.mlir.addressof @scale_parallel
// LLVM: llvm.call @rasprt_parallel_for(
// LLVM: llvm.func internal @scale_parallel(%{{.*}}: i64, %{{.*}}: i64, %{{.*}}: !llvm.ptr)
// LLVM-NOT: unrealized_conversion_cast
func.func @scale(%buf: memref<?xf32>, %x: f32, %lb: index, %n: index) {
  %c2 = arith.constant 2 : index
  scf.parallel (%i) = (%lb) to (%n) step (%c2) {
    %scratch = memref.alloca() : memref<4xf32>
    %v = memref.load %buf[%i] : memref<?xf32>
    %y = arith.mulf %v, %x : f32
    memref.store %y, %buf[%i] : memref<?xf32>
  }
  return
}

// -----

// No captures: a null context.
// CHECK-LABEL: func.func @nothing
// CHECK: llvm.mlir.zero : !llvm.ptr
// CHECK: llvm.call @rasprt_parallel_for
func.func @nothing() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
  }
  return
}

// -----

// Two layers' loops that differ only in what they capture share one body
// (compiled once); a loop that computes something else gets its own.
// CHECK-LABEL: func.func @layers
// CHECK: constant @[[BODY:layers_parallel]] :
// CHECK: llvm.call @rasprt_parallel_for
// CHECK: constant @[[BODY]] :
// CHECK: llvm.call @rasprt_parallel_for
// CHECK: constant @[[OTHER:layers_parallel_[0-9]+]] :
// CHECK: llvm.call @rasprt_parallel_for
// CHECK: func.func private @[[OTHER]](
// CHECK: arith.addf
// CHECK: func.func private @[[BODY]](
// CHECK: arith.mulf
// CHECK-NOT: func.func private
func.func @layers(%a: memref<?xf32>, %b: memref<?xf32>, %x: f32, %y: f32, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %a[%i] : memref<?xf32>
    %r = arith.mulf %v, %x : f32
    memref.store %r, %a[%i] : memref<?xf32>
  }
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %b[%i] : memref<?xf32>
    %r = arith.mulf %v, %y : f32
    memref.store %r, %b[%i] : memref<?xf32>
  }
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %b[%i] : memref<?xf32>
    %r = arith.addf %v, %y : f32
    memref.store %r, %b[%i] : memref<?xf32>
  }
  return
}
