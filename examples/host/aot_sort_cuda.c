/* aot_sort_cuda: aot_sort on an NVIDIA GPU, from the same program.
 *
 *   raspc examples/rasp/sort.rasp --target=cuda --emit=obj -o sort_cuda.o
 *   raspc examples/rasp/sort.rasp --target=cuda --emit=header -o sort_cuda.h
 *   cc aot_sort_cuda.c sort_cuda.o -lrasprt -o aot-sort-cuda
 *   ./aot-sort-cuda 3 1 2 1          # prints: 1 1 2 3
 *
 * The object carries the kernels as PTX, which the CUDA driver compiles
 * when the program starts; rasprt opens the driver at run time, so this
 * links (and reports a missing GPU) on any machine. What changes from the
 * CPU host: inputs go to device memory, the result comes back with
 * rasprt_cuda_copy, and rasprt_cuda_check says whether the GPU work ran.
 */
#include "sort_cuda.h"

#include "rasprt/rasprt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static int cudaFailed(void) {
  if (rasprt_cuda_check() == RASPRT_OK)
    return 0;
  fprintf(stderr, "aot-sort-cuda: %s\n", rasprt_last_error());
  return 1;
}

int main(int argc, char **argv) {
  int64_t n = argc - 1;
  size_t bytes = (size_t)n * sizeof(int64_t);
  int64_t *values = malloc(bytes + 1);
  for (int64_t i = 0; i < n; ++i) {
    char *end;
    values[i] = strtoll(argv[i + 1], &end, 10);
    if (*end) {
      fprintf(stderr, "aot-sort-cuda: '%s' is not an integer\n", argv[i + 1]);
      free(values);
      return 1;
    }
  }
  if (rasprt_cuda_init() != RASPRT_OK) {
    fprintf(stderr, "aot-sort-cuda: %s\n", rasprt_last_error());
    free(values);
    return 1;
  }

  void *device = rasprt_cuda_alloc(bytes);
  rasprt_tensor tokens;
  if (rasprt_cuda_copy(device, values, bytes) != RASPRT_OK ||
      rasprt_tensor_view(&tokens, device, RASPRT_I64, 1, &n) != RASPRT_OK) {
    fprintf(stderr, "aot-sort-cuda: %s\n", rasprt_last_error());
    rasprt_buffer_free(device);
    free(values);
    return 1;
  }
  raspc_memref_1d input, result;
  rasprt_descriptor_from_tensor(&tokens, (int64_t *)&input);
  _mlir_ciface_sort(&result, &input);

  /* The result: result.sizes[0] elements, result.strides[0] apart. After a
     CUDA failure its contents are meaningless, but it is still released. */
  int status = cudaFailed();
  int64_t count = result.sizes[0], stride = result.strides[0];
  int64_t span = count ? (count - 1) * stride + 1 : 0;
  int64_t *sorted = malloc((size_t)span * sizeof(int64_t) + 1);
  if (status == 0 && rasprt_cuda_copy(sorted, (int64_t *)result.aligned + result.offset,
                                      (size_t)span * sizeof(int64_t)) != RASPRT_OK) {
    fprintf(stderr, "aot-sort-cuda: %s\n", rasprt_last_error());
    status = 1;
  }
  for (int64_t i = 0; status == 0 && i < count; ++i)
    printf("%s%" PRId64, i ? " " : "", sorted[i * stride]);
  if (status == 0)
    printf("\n");
  if (result.allocated != input.allocated)
    rasprt_buffer_free(result.allocated);
  rasprt_buffer_free(device);
  free(sorted);
  free(values);
  return status;
}
