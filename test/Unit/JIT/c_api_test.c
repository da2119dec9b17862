/* The C API from C: compile, run, errors. A plain C program, so it also
 * proves raspc.h is valid C. */
#include "raspc/raspc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

int main(void) {
  char *errors = NULL;
  raspc_program *reverse = raspc_compile(
      "def reverse(tokens) {\n"
      "  return aggregate(select(indices, length - indices - 1, ==), tokens);\n"
      "}\n",
      "reverse.rasp", NULL, &errors);
  CHECK(reverse != NULL);
  const char *tokens[] = {"x", "y", "z"};
  char **out = NULL;
  size_t n = 0;
  CHECK(raspc_run_tokens(reverse, tokens, 3, &out, &n, &errors) == 0);
  CHECK(n == 3 && strcmp(out[0], "z") == 0 && strcmp(out[2], "x") == 0);
  raspc_free_strings(out, n);
  raspc_program_free(reverse);

  raspc_program *bad = raspc_compile("def f(t) { return u; }", "bad.rasp", NULL, &errors);
  CHECK(bad == NULL);
  CHECK(errors && strstr(errors, "bad.rasp:1:19: error: unknown name 'u'"));
  raspc_free_string(errors);

  /* A packed batch through the options: two examples of 2 and 1
     positions, mean-pooled each; arguments listed by name. */
  raspc_compile_options options;
  memset(&options, 0, sizeof options);
  options.packed_batch = 1;
  raspc_program *pool = raspc_compile_with(
      "model m(x: f32[T, 2]) -> f32[2] {\n  param scale: f32[2];\n"
      "  return mean_pool(x) * scale;\n}\n",
      "pool.rasp", &options, &errors);
  CHECK(pool != NULL);
  CHECK(raspc_program_argument_count(pool) == 3);
  CHECK(strcmp(raspc_program_argument_name(pool, 0), "x") == 0);
  CHECK(strcmp(raspc_program_argument_name(pool, 1), "lengths") == 0);
  CHECK(strcmp(raspc_program_argument_name(pool, 2), "scale") == 0);
  CHECK(raspc_program_argument_name(pool, 3) == NULL);
  rasprt_dtype dtype = RASPRT_F32;
  int64_t shape[RASPRT_MAX_RANK];
  CHECK(raspc_program_argument_shape(pool, 1, &dtype, shape) == 1);
  CHECK(dtype == RASPRT_I32 && shape[0] == -1);
  CHECK(raspc_program_argument_shape(pool, 7, &dtype, shape) == -1);
  float xs[] = {1, 2, 3, 4, 10, 20}, scales[] = {1, 10};
  int32_t lengths[] = {2, 1};
  int64_t xShape[] = {3, 2}, lengthsShape[] = {2}, scaleShape[] = {2};
  rasprt_tensor x, lens, scale, result;
  rasprt_tensor_view(&x, xs, RASPRT_F32, 2, xShape);
  rasprt_tensor_view(&lens, lengths, RASPRT_I32, 1, lengthsShape);
  rasprt_tensor_view(&scale, scales, RASPRT_F32, 1, scaleShape);
  const rasprt_tensor *args[] = {&x, &lens, &scale};
  CHECK(raspc_run(pool, args, 3, &result, &errors) == 0);
  CHECK(result.rank == 2 && result.shape[0] == 2 && result.shape[1] == 2);
  const float *y = (const float *)result.data;
  CHECK(y[0] == 2 && y[1] == 30 && y[2] == 10 && y[3] == 200);
  rasprt_tensor_free(&result);
  raspc_program_free(pool);

  printf("%s\n", failures ? "FAILED" : "c-api: all checks passed");
  return failures != 0;
}
