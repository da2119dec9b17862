// RUN: rasp-opt %s --canonicalize --split-input-file | FileCheck %s

// The folders of the selector combinators.

// CHECK-LABEL: func.func @double_negation
// CHECK-SAME: (%[[S:.*]]: !attn.selector)
// CHECK-NOT: attn.not
// CHECK: return %[[S]]
func.func @double_negation(%s: !attn.selector) -> !attn.selector {
  %n = attn.not %s
  %nn = attn.not %n
  return %nn : !attn.selector
}

// -----

// CHECK-LABEL: func.func @single_negation_stays
// CHECK: %[[N:.*]] = attn.not
// CHECK: return %[[N]]
func.func @single_negation_stays(%s: !attn.selector) -> !attn.selector {
  %n = attn.not %s
  return %n : !attn.selector
}

// -----

// CHECK-LABEL: func.func @idempotent
// CHECK-SAME: (%[[S:.*]]: !attn.selector, %[[T:.*]]: !attn.selector)
// CHECK-NEXT: %[[AND:.*]] = attn.and %[[S]], %[[T]]
// CHECK-NEXT: return %[[S]], %[[S]], %[[AND]]
func.func @idempotent(%s: !attn.selector, %t: !attn.selector)
    -> (!attn.selector, !attn.selector, !attn.selector) {
  %a = attn.and %s, %s
  %o = attn.or %s, %s
  %st = attn.and %s, %t
  return %a, %o, %st : !attn.selector, !attn.selector, !attn.selector
}

// -----

// Selectors without users disappear: the ops are free of side effects.
// CHECK-LABEL: func.func @dead_selectors
// CHECK-NEXT: return
func.func @dead_selectors(%k: tensor<?xi64>) {
  %s = attn.select %k, %k, lt : tensor<?xi64>, tensor<?xi64>
  %w = attn.selector_width %s : tensor<?xi64>
  return
}
