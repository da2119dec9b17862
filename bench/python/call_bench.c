/* raspc-bench-call: the cost of one call through the C API, for
 * bench/python/overhead.py to set beside the same call from Python.
 *
 *   raspc-bench-call PROGRAM.rasp LENGTH CALLS
 *
 * Compiles the program, gives every argument its declared shape (symbolic
 * sizes = LENGTH) filled with small values, calls raspc_run CALLS times
 * (after 100 warm-up calls), releasing each result as a host would, and
 * prints JSON: the median and minimum microseconds per call over 20
 * rounds of CALLS / 20. */
#include "raspc/raspc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s PROGRAM.rasp LENGTH CALLS\n", argv[0]);
    return 2;
  }
  long length = atol(argv[2]), calls = atol(argv[3]);
  char *errors = NULL;
  raspc_program *program = raspc_compile_file(argv[1], NULL, &errors);
  if (!program) {
    fprintf(stderr, "%s", errors ? errors : "compile failed\n");
    return 1;
  }
  size_t count = raspc_program_argument_count(program);
  rasprt_tensor *tensors = calloc(count, sizeof(rasprt_tensor));
  const rasprt_tensor **arguments = calloc(count, sizeof(rasprt_tensor *));
  for (size_t i = 0; i < count; ++i) {
    rasprt_dtype dtype;
    int64_t shape[RASPRT_MAX_RANK];
    int rank = raspc_program_argument_shape(program, i, &dtype, shape);
    for (int d = 0; d < rank; ++d)
      if (shape[d] < 0)
        shape[d] = length;
    if (rasprt_tensor_alloc(&tensors[i], dtype, rank, shape) != RASPRT_OK) {
      fprintf(stderr, "%s\n", rasprt_last_error());
      return 1;
    }
    if (dtype == RASPRT_F32)
      for (int64_t e = 0; e < rasprt_tensor_numel(&tensors[i]); ++e)
        ((float *)tensors[i].data)[e] = (float)((e * 7 % 13) - 6) / 64.0f;
    arguments[i] = &tensors[i];
  }
  enum { ROUNDS = 20 };
  double rounds[ROUNDS];
  long per_round = calls / ROUNDS > 0 ? calls / ROUNDS : 1;
  for (long c = -100; c < ROUNDS * per_round; ++c) {
    static double start;
    if (c >= 0 && c % per_round == 0)
      start = now_us();
    rasprt_tensor out;
    char *error = NULL;
    if (raspc_run(program, arguments, count, &out, &error) != 0) {
      fprintf(stderr, "%s\n", error ? error : "run failed");
      return 1;
    }
    rasprt_tensor_free(&out);
    if (c >= 0 && c % per_round == per_round - 1)
      rounds[c / per_round] = (now_us() - start) / per_round;
  }
  qsort(rounds, ROUNDS, sizeof(double), compare);
  printf("{\"median_us\": %.3f, \"min_us\": %.3f}\n", (rounds[ROUNDS / 2 - 1] + rounds[ROUNDS / 2]) / 2,
         rounds[0]);
  for (size_t i = 0; i < count; ++i)
    rasprt_tensor_free(&tensors[i]);
  raspc_program_free(program);
  return 0;
}
