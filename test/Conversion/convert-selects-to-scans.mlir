// RUN: rasp-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(convert-selects-to-scans))' | FileCheck %s

// A prefix mean (frac_prevs): `indices <= indices` selects keys [0, q]. One
// scan writes the running sums (sums[i + 1] = sums[i] + v[i], in key
// order), then each query reads sums[q + 1] and divides by q + 1. No
// selector matrix is left.
// CHECK-LABEL: func.func @prefix_mean
// CHECK-NOT: attn.
// CHECK: %[[EMPTY:.*]] = tensor.empty(%{{.*}}) : tensor<?xf32>
// CHECK: %[[INIT:.*]] = tensor.insert %{{.*}} into %[[EMPTY]][%c0{{.*}}]
// CHECK: %[[SUMS:.*]]:2 = scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[T:.*]] = %[[INIT]], %[[S:.*]] = %{{.*}}) -> (tensor<?xf32>, f32)
// CHECK: %[[V:.*]] = tensor.extract %{{.*}}[%[[I]]] : tensor<?xi1>
// CHECK: arith.uitofp %[[V]] : i1 to f32
// CHECK: %[[ADD:.*]] = arith.addf %[[S]], %{{.*}} : f32
// CHECK: %[[NEXT:.*]] = arith.addi %[[I]], %c1
// CHECK: tensor.insert %[[ADD]] into %[[T]][%[[NEXT]]]
// CHECK: tensor.generate
// CHECK: ^bb0(%[[Q:.*]]: index):
// CHECK: %[[Q1:.*]] = arith.addi %[[Q]], %c1
// CHECK: tensor.extract %[[SUMS]]#0[%[[Q1]]]
// CHECK: arith.divf
// CHECK-NOT: attn.
func.func @prefix_mean(%v: tensor<?xi1>) -> tensor<?xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %v, %c0 : tensor<?xi1>
  %idx = tensor.generate %n {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<?xi64>
  %sel = attn.select %idx, %idx, le : tensor<?xi64>, tensor<?xi64>
  %r = attn.aggregate mean %sel, %v : tensor<?xi1> -> tensor<?xf32> default 0.0
  return %r : tensor<?xf32>
}

// -----

// `!=` reads the sums on both sides of the query: a prefix sum and a suffix
// sum (added from the end), sums[q] + suffix[q + 1], over L - 1 keys.
// CHECK-LABEL: func.func @all_but_self
// CHECK: scf.for
// CHECK: scf.for
// CHECK: tensor.generate
// CHECK: arith.addi
// CHECK: %[[BEFORE:.*]] = tensor.extract
// CHECK: %[[AFTER:.*]] = tensor.extract
// CHECK: arith.addi %[[BEFORE]], %[[AFTER]] : i64
// CHECK: arith.divsi
func.func @all_but_self(%v: tensor<?xi64>) -> tensor<?xi64> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %v, %c0 : tensor<?xi64>
  %idx = tensor.generate %n {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<?xi64>
  %sel = attn.select %idx, %idx, ne : tensor<?xi64>, tensor<?xi64>
  %r = attn.aggregate categorical %sel, %v : tensor<?xi64> -> tensor<?xi64> default 0
  return %r : tensor<?xi64>
}

// -----

// Selecting every key, the width is the length, whatever the sequences
// compared (RASP's `length`): no scan, no matrix.
// CHECK-LABEL: func.func @length
// CHECK-NOT: attn.
// CHECK-NOT: scf.for
// CHECK: %[[N:.*]] = tensor.dim %{{.*}}, %c0
// CHECK: tensor.generate %[[N]]
// CHECK: arith.index_cast %[[N]] : index to i64
func.func @length(%t: tensor<?xi32>) -> tensor<?xi64> {
  %sel = attn.select %t, %t, always : tensor<?xi32>, tensor<?xi32>
  %w = attn.selector_width %sel : tensor<?xi64>
  return %w : tensor<?xi64>
}

// -----

// Other selects (tokens ordered by `<`) stay for the dense lowering, and so
// does a select that a materialize still reads.
// CHECK-LABEL: func.func @left_alone
// CHECK: %[[SEL:.*]] = attn.select %{{.*}}, %{{.*}}, lt
// CHECK: attn.selector_width %[[SEL]]
// CHECK: %[[IDX:.*]] = attn.select %{{.*}}, %{{.*}}, lt
// CHECK-NOT: attn.selector_width
// CHECK: attn.materialize %[[IDX]]
func.func @left_alone(%t: tensor<?xi32>) -> (tensor<?xi64>, tensor<?xi64>, tensor<?x?xi1>) {
  %sel = attn.select %t, %t, lt : tensor<?xi32>, tensor<?xi32>
  %w = attn.selector_width %sel : tensor<?xi64>
  %c0 = arith.constant 0 : index
  %n = tensor.dim %t, %c0 : tensor<?xi32>
  %idx = tensor.generate %n {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<?xi64>
  %prev = attn.select %idx, %idx, lt : tensor<?xi64>, tensor<?xi64>
  %v = attn.selector_width %prev : tensor<?xi64>
  %m = attn.materialize %prev : tensor<?x?xi1>
  return %w, %v, %m : tensor<?xi64>, tensor<?xi64>, tensor<?x?xi1>
}

// -----

// `==` on tokens (a histogram) groups: one pass finds the keys' least value
// and span; where the span is under 4 L + 1024 buckets, one pass counts the
// keys per bucket and each query reads its value's bucket (0 outside);
// else the dense select and width run, marked so that the pass leaves them
// to convert-attn-to-linalg.
// CHECK-LABEL: func.func @histogram
// CHECK: %[[MINMAX:.*]]:2 = scf.for {{.*}} -> (i64, i64)
// CHECK: arith.minsi
// CHECK: arith.maxsi
// CHECK: %[[SMALL:.*]] = arith.cmpi ult, %{{.*}}, %{{.*}} : i64
// CHECK: %[[R:.*]] = scf.if %[[SMALL]] -> (tensor<?xi64>)
// CHECK: linalg.fill
// CHECK: scf.for {{.*}} -> (tensor<?xi64>)
// CHECK: tensor.insert
// CHECK: tensor.generate
// CHECK: arith.cmpi ult
// CHECK: } else {
// CHECK: %[[DENSE:.*]] = attn.select %{{.*}}, %{{.*}}, eq {raspc.dense_fallback}
// CHECK: attn.selector_width %[[DENSE]] {raspc.dense_fallback}
// CHECK: return %[[R]]
func.func @histogram(%t: tensor<?xi32>) -> tensor<?xi64> {
  %sel = attn.select %t, %t, eq : tensor<?xi32>, tensor<?xi32>
  %w = attn.selector_width %sel : tensor<?xi64>
  return %w : tensor<?xi64>
}

// -----

// A predicate `key == f(query)` (shift_by's `key == query - 2`) groups the
// same way: each query reads the bucket of f of its value, f's ops cloned
// per query. A predicate that reads the key elsewhere stays dense.
// CHECK-LABEL: func.func @shift
// CHECK: scf.if
// CHECK: tensor.generate
// CHECK: %[[QV:.*]] = tensor.extract %{{.*}}[%{{.*}}] : tensor<?xi64>
// CHECK: %[[F:.*]] = arith.subi %[[QV]], %{{.*}} : i64
// CHECK: arith.subi %[[F]], %{{.*}} : i64
// CHECK: } else {
// CHECK: attn.select {{.*}} {raspc.dense_fallback}
// CHECK-LABEL: func.func @not_a_function_of_the_query
// CHECK-NOT: scf.if
// CHECK: attn.select
// CHECK: attn.aggregate
func.func @shift(%v: tensor<?xi32>) -> tensor<?xi32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %v, %c0 : tensor<?xi32>
  %idx = tensor.generate %n {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<?xi64>
  %sel = attn.select %idx, %idx : tensor<?xi64>, tensor<?xi64> where {
  ^bb0(%k: i64, %q: i64):
    %two = arith.constant 2 : i64
    %f = arith.subi %q, %two : i64
    %b = arith.cmpi eq, %k, %f : i64
    attn.yield %b : i1
  }
  %r = attn.aggregate categorical %sel, %v : tensor<?xi32> -> tensor<?xi32> default -1
  return %r : tensor<?xi32>
}
func.func @not_a_function_of_the_query(%t: tensor<?xi64>, %v: tensor<?xi64>) -> tensor<?xi64> {
  %sel = attn.select %t, %t : tensor<?xi64>, tensor<?xi64> where {
  ^bb0(%k: i64, %q: i64):
    %s = arith.addi %k, %q : i64
    %b = arith.cmpi eq, %k, %s : i64
    attn.yield %b : i1
  }
  %r = attn.aggregate categorical %sel, %v : tensor<?xi64> -> tensor<?xi64> default 0
  return %r : tensor<?xi64>
}
