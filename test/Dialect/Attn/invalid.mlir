// RUN: rasp-opt %s --split-input-file --verify-diagnostics

// Every verifier error of the attn dialect, one per split.

func.func @select_both_predicates(%k: tensor<?xi64>) {
  // expected-error @+1 {{takes either a comparison or a 'where' predicate region, not both}}
  %s = attn.select %k, %k, lt : tensor<?xi64>, tensor<?xi64> where {
  ^bb0(%a: i64, %b: i64):
    %t = arith.constant true
    attn.yield %t : i1
  }
  return
}

// -----

func.func @select_no_predicate(%k: tensor<?xi64>) {
  // expected-error @+1 {{needs a comparison (eq, ne, lt, le, gt, ge, always, never) or a 'where' predicate region}}
  %s = attn.select %k, %k : tensor<?xi64>, tensor<?xi64>
  return
}

// -----

func.func @select_comparison_mixed_types(%k: tensor<?xi64>, %q: tensor<?xf32>) {
  // expected-error @+1 {{compares keys of type 'i64' with queries of type 'f32'; comparisons need one element type}}
  %s = attn.select %k, %q, eq : tensor<?xi64>, tensor<?xf32>
  return
}

// -----

func.func @select_region_arity(%k: tensor<?xi64>) {
  // expected-error @+1 {{predicate region must take 2 arguments (key element, query element), but it takes 1}}
  %s = attn.select %k, %k : tensor<?xi64>, tensor<?xi64> where {
  ^bb0(%a: i64):
    %t = arith.constant true
    attn.yield %t : i1
  }
  return
}

// -----

func.func @select_region_arg_type(%k: tensor<?xi64>, %q: tensor<?xi32>) {
  // expected-error @+1 {{predicate region argument #1 must be 'i32', but it is 'i64'}}
  %s = attn.select %k, %q : tensor<?xi64>, tensor<?xi32> where {
  ^bb0(%a: i64, %b: i64):
    %t = arith.constant true
    attn.yield %t : i1
  }
  return
}

// -----

func.func @select_region_yield_type(%k: tensor<?xi64>) {
  %s = attn.select %k, %k : tensor<?xi64>, tensor<?xi64> where {
  ^bb0(%a: i64, %b: i64):
    // expected-error @+1 {{in the predicate region must yield one 'i1' value}}
    attn.yield %a : i64
  }
  return
}

// -----

func.func @select_not_a_sequence(%k: tensor<?x?xi64>) {
  // expected-error @+1 {{operand #0 must be sequence (rank-1 tensor of integers or floats)}}
  %s = attn.select %k, %k, eq : tensor<?x?xi64>, tensor<?x?xi64>
  return
}

// -----

func.func @aggregate_mean_integer(%s: !attn.selector, %v: tensor<?xi64>) {
  // expected-error @+1 {{mean aggregate must produce a float sequence, but the result element type is 'i64'}}
  %r = attn.aggregate mean %s, %v : tensor<?xi64> -> tensor<?xi64> default 0
  return
}

// -----

func.func @aggregate_categorical_changes_type(%s: !attn.selector, %v: tensor<?xi64>) {
  // expected-error @+1 {{categorical aggregate moves values unchanged, so the result element type must be 'i64', not 'f32'}}
  %r = attn.aggregate categorical %s, %v : tensor<?xi64> -> tensor<?xf32> default 0.0
  return
}

// -----

func.func @aggregate_default_type(%s: !attn.selector, %v: tensor<?xf32>) {
  // expected-error @+1 {{default value has type 'i32' but the result element type is 'f32'}}
  %r = "attn.aggregate"(%s, %v) <{kind = 0 : i32, default_value = 1 : i32}>
         : (!attn.selector, tensor<?xf32>) -> tensor<?xf32>
  return
}

// -----

func.func @aggregate_default_not_a_number(%s: !attn.selector, %v: tensor<?xf32>) {
  // expected-error @+1 {{default must be an integer or float constant, not "x" : f32}}
  %r = attn.aggregate mean %s, %v : tensor<?xf32> -> tensor<?xf32> default "x"
  return
}

// -----

func.func @attention_element_types(%q: tensor<1x1x?x8xf32>, %k: tensor<1x1x?x8xf16>, %o: tensor<1x1x?x8xf32>) {
  // expected-error @+1 {{query, key and value must have one element type, got 'f32', 'f16' and 'f16'}}
  %r = attn.attention softmax ins(%q, %k, %k : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf16>, tensor<1x1x?x8xf16>)
         outs(%o : tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
  return
}

// -----

func.func @attention_batch(%q: tensor<2x1x?x8xf32>, %k: tensor<3x1x?x8xf32>, %o: tensor<2x1x?x8xf32>) {
  // expected-error @+1 {{query, key and value must have the same batch size, got 2, 3 and 3}}
  %r = attn.attention softmax ins(%q, %k, %k : tensor<2x1x?x8xf32>, tensor<3x1x?x8xf32>, tensor<3x1x?x8xf32>)
         outs(%o : tensor<2x1x?x8xf32>) -> tensor<2x1x?x8xf32>
  return
}

// -----

func.func @attention_kv_heads(%q: tensor<1x4x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<1x4x?x8xf32>, %o: tensor<1x4x?x8xf32>) {
  // expected-error @+1 {{key and value must have the same number of heads (2 vs 4)}}
  %r = attn.attention softmax ins(%q, %k, %v : tensor<1x4x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x4x?x8xf32>)
         outs(%o : tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
  return
}

// -----

func.func @attention_kv_positions(%q: tensor<1x1x?x8xf32>, %k: tensor<1x1x16x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x1x?x8xf32>) {
  // expected-error @+1 {{key and value must have the same number of positions (16 vs 32)}}
  %r = attn.attention softmax ins(%q, %k, %v : tensor<1x1x?x8xf32>, tensor<1x1x16x8xf32>, tensor<1x1x32x8xf32>)
         outs(%o : tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
  return
}

// -----

func.func @attention_head_dim(%q: tensor<1x1x?x8xf32>, %k: tensor<1x1x?x16xf32>, %o: tensor<1x1x?x16xf32>) {
  // expected-error @+1 {{query and key must have the same head dimension (8 vs 16)}}
  %r = attn.attention softmax ins(%q, %k, %k : tensor<1x1x?x8xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>)
         outs(%o : tensor<1x1x?x16xf32>) -> tensor<1x1x?x16xf32>
  return
}

// -----

func.func @attention_gqa_divisibility(%q: tensor<1x8x?x8xf32>, %k: tensor<1x3x?x8xf32>, %o: tensor<1x8x?x8xf32>) {
  // expected-error @+1 {{the number of key/value heads (3) must divide the number of query heads (8) for grouped-query attention}}
  %r = attn.attention softmax ins(%q, %k, %k : tensor<1x8x?x8xf32>, tensor<1x3x?x8xf32>, tensor<1x3x?x8xf32>)
         outs(%o : tensor<1x8x?x8xf32>) -> tensor<1x8x?x8xf32>
  return
}

// -----

func.func @attention_init_shape(%q: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x4xf32>, %o: tensor<1x2x?x8xf32>) {
  // expected-error @+1 {{init must have shape [batch, query heads, query positions, value dim] = [1, 2, ?, 4], but dimension 3 is 8}}
  %r = attn.attention softmax ins(%q, %q, %v : tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x4xf32>)
         outs(%o : tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  return
}

// -----

func.func @attention_result_type(%q: tensor<1x2x?x8xf32>, %o: tensor<1x2x?x8xf32>) {
  // expected-error @+1 {{result type 'tensor<1x2x?x8xf16>' must equal the init type 'tensor<1x2x?x8xf32>'}}
  %r = attn.attention softmax ins(%q, %q, %q : tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>)
         outs(%o : tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf16>
  return
}

// -----

func.func @attention_linear_needs_feature_map(%q: tensor<1x1x?x8xf32>) {
  // expected-error @+1 {{linear normalizer needs a feature_map (elu_plus_one, relu or exp)}}
  %r = attn.attention linear ins(%q, %q, %q : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>)
         outs(%q : tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
  return
}

// -----

func.func @attention_feature_map_on_softmax(%q: tensor<1x1x?x8xf32>) {
  // expected-error @+1 {{feature_map only applies to the linear normalizer, not softmax}}
  %r = attn.attention softmax feature_map(relu) ins(%q, %q, %q : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>)
         outs(%q : tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
  return
}

// -----

func.func @attention_linear_with_score(%q: tensor<1x1x?x8xf32>) {
  // expected-error @+1 {{linear attention computes no scores, so it takes no score region}}
  %r = attn.attention linear feature_map(relu) ins(%q, %q, %q : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>)
         outs(%q : tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
         score {
         ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
           attn.yield %s : f32
         }
  return
}

// -----

func.func @attention_mean_with_score(%q: tensor<1x1x?x8xf32>) {
  // expected-error @+1 {{mean normalizer ignores scores, so it takes no score region}}
  %r = attn.attention mean ins(%q, %q, %q : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>)
         outs(%q : tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
         score {
         ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
           attn.yield %s : f32
         }
  return
}

// -----

func.func @attention_mask_arity(%q: tensor<1x1x?x8xf32>) {
  // expected-error @+1 {{mask region must take 4 arguments (batch, head, query_pos, key_pos : index), but it takes 2}}
  %r = attn.attention softmax ins(%q, %q, %q : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>)
         outs(%q : tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
         mask {
         ^bb0(%i: index, %j: index):
           %c = arith.cmpi ule, %j, %i : index
           attn.yield %c : i1
         }
  return
}

// -----

func.func @attention_mask_arg_type(%q: tensor<1x1x?x8xf32>) {
  // expected-error @+1 {{mask region argument #3 must be 'index', but it is 'i64'}}
  %r = attn.attention softmax ins(%q, %q, %q : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>)
         outs(%q : tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
         mask {
         ^bb0(%b: index, %h: index, %i: index, %j: i64):
           %t = arith.constant true
           attn.yield %t : i1
         }
  return
}

// -----

func.func @attention_mask_yield(%q: tensor<1x1x?x8xf32>) {
  %r = attn.attention softmax ins(%q, %q, %q : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>)
         outs(%q : tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
         mask {
         ^bb0(%b: index, %h: index, %i: index, %j: index):
           // expected-error @+1 {{in the mask region must yield one 'i1' value}}
           attn.yield %i : index
         }
  return
}

// -----

func.func @attention_score_not_float(%q: tensor<1x1x?x8xf32>) {
  // expected-error @+1 {{score region must take the score as a float first argument, then (batch, head, query_pos, key_pos : index)}}
  %r = attn.attention softmax ins(%q, %q, %q : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>)
         outs(%q : tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
         score {
         ^bb0(%s: i32, %b: index, %h: index, %i: index, %j: index):
           attn.yield %s : i32
         }
  return
}

// -----

func.func @attention_score_yield(%q: tensor<1x1x?x8xf32>) {
  %r = attn.attention softmax ins(%q, %q, %q : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>)
         outs(%q : tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
         score {
         ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
           %d = arith.truncf %s : f32 to f16
           // expected-error @+1 {{in the score region must yield one 'f32' value}}
           attn.yield %d : f16
         }
  return
}

// -----

func.func @attention_score_arity(%q: tensor<1x1x?x8xf32>) {
  // expected-error @+1 {{score region must take 5 arguments (score : float, batch, head, query_pos, key_pos : index), but it takes 1}}
  %r = attn.attention softmax ins(%q, %q, %q : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>)
         outs(%q : tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
         score {
         ^bb0(%s: f32):
           attn.yield %s : f32
         }
  return
}

// -----

func.func @attention_rank(%q: tensor<?x8xf32>) {
  // expected-error @+1 {{operand #0 must be [batch, heads, positions, dim] float tensor}}
  %r = attn.attention softmax ins(%q, %q, %q : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>)
         outs(%q : tensor<?x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @attention_integer(%q: tensor<1x1x?x8xi32>) {
  // expected-error @+1 {{operand #0 must be [batch, heads, positions, dim] float tensor}}
  %r = attn.attention softmax ins(%q, %q, %q : tensor<1x1x?x8xi32>, tensor<1x1x?x8xi32>, tensor<1x1x?x8xi32>)
         outs(%q : tensor<1x1x?x8xi32>) -> tensor<1x1x?x8xi32>
  return
}

// -----

func.func @yield_outside() {
  // expected-error @+1 {{expects parent op to be one of 'attn.select, attn.attention'}}
  attn.yield
}

// -----

func.func @materialize_not_a_matrix(%s: !attn.selector) {
  // expected-error @+1 {{result #0 must be [queries, keys] tensor of 1-bit signless integer values, but got 'tensor<?xi1>'}}
  %m = attn.materialize %s : tensor<?xi1>
  return
}

// -----

func.func @custom_without_name(%q: tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32> {
  // expected-error @below {{custom normalizer needs a name}}
  %o = attn.attention custom
         ins(%q, %q, %q : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
         outs(%q : tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
  return %o : tensor<1x1x?x4xf32>
}

// -----

func.func @name_without_custom(%q: tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32> {
  // expected-error @below {{only a custom normalizer has a name, not softmax}}
  %o = attn.attention softmax "sinkhorn"
         ins(%q, %q, %q : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
         outs(%q : tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
  return %o : tensor<1x1x?x4xf32>
}
