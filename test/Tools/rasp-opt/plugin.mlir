// RUN: rasp-opt %s --load-pass-plugin=%raspc_lib_dir/RaspcTestPassPlugin.so \
// RUN:   --pass-pipeline='builtin.module(func.func(test-count-attn-ops))' \
// RUN:   -o /dev/null 2>&1 | FileCheck %s
// RUN: rasp-opt %s --load-pass-plugin=%t.missing.so -o /dev/null 2>&1 \
// RUN:   | FileCheck %s --check-prefix=MISSING

// A pass plugin built against libMLIR.so loads into rasp-opt and sees the
// attn operations.

// CHECK: remark: function 'two' holds 2 attn operations
func.func @two(%k: tensor<?xi64>) -> tensor<?xi64> {
  %s = attn.select %k, %k, le : tensor<?xi64>, tensor<?xi64>
  %w = attn.selector_width %s : tensor<?xi64>
  return %w : tensor<?xi64>
}

// CHECK: remark: function 'none' holds 0 attn operations
func.func @none() {
  return
}

// MISSING: Failed to load passes from '{{.*}}.missing.so'
