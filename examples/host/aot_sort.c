/* aot_sort: a host program that links a model compiled ahead of time.
 *
 *   raspc examples/rasp/sort.rasp --emit=obj -o sort.o
 *   raspc examples/rasp/sort.rasp --emit=header -o sort.h
 *   cc aot_sort.c sort.o -lrasprt -lm -o aot-sort
 *   ./aot-sort 3 1 2 1          # prints: 1 1 2 3
 *
 * It needs only the object file and the runtime: no LLVM, no MLIR.
 */
#include "sort.h"

#include "rasprt/rasprt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  int64_t n = argc - 1;
  rasprt_tensor tokens;
  if (rasprt_tensor_alloc(&tokens, RASPRT_I64, 1, &n) != RASPRT_OK) {
    fprintf(stderr, "aot-sort: %s\n", rasprt_last_error());
    return 1;
  }
  int64_t *values = (int64_t *)tokens.data;
  for (int64_t i = 0; i < n; ++i) {
    char *end;
    values[i] = strtoll(argv[i + 1], &end, 10);
    if (*end) {
      fprintf(stderr, "aot-sort: '%s' is not an integer\n", argv[i + 1]);
      return 1;
    }
  }

  raspc_memref_1d input, result;
  rasprt_descriptor_from_tensor(&tokens, (int64_t *)&input);
  _mlir_ciface_sort(&result, &input);

  rasprt_tensor sorted;
  rasprt_tensor_from_descriptor((const int64_t *)&result, RASPRT_I64, 1, &sorted);
  for (int64_t i = 0; i < sorted.shape[0]; ++i)
    printf("%s%" PRId64, i ? " " : "", ((const int64_t *)sorted.data)[i * sorted.strides[0]]);
  printf("\n");
  if (result.allocated != input.allocated) {
    if (!sorted.owns_data)
      free(result.allocated);
    rasprt_tensor_free(&sorted);
  }
  rasprt_tensor_free(&tokens);
  return 0;
}
