/* libraspc.so opened as plugins and language bindings open a library:
 * dlopen() with RTLD_LOCAL, so none of its symbols (nor those of the
 * libraries it pulls in: rasprt, libm) are visible to the process. Code the
 * JIT compiles must still find the runtime's allocator, its thread pool and
 * the math library. This program links nothing of raspc: every function is
 * looked up in the handle. Usage: DlopenLocalTest path/to/libraspc.so */
#include "raspc/raspc.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define LOOKUP(handle, name) ((__typeof__(&name))dlsym(handle, #name))

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s libraspc.so\n", argv[0]);
    return 2;
  }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  __typeof__(&raspc_compile) compile = LOOKUP(lib, raspc_compile);
  __typeof__(&raspc_run) run = LOOKUP(lib, raspc_run);
  __typeof__(&raspc_program_free) programFree = LOOKUP(lib, raspc_program_free);
  __typeof__(&raspc_free_string) freeString = LOOKUP(lib, raspc_free_string);
  __typeof__(&rasprt_tensor_view) view = LOOKUP(lib, rasprt_tensor_view);
  __typeof__(&rasprt_tensor_free) tensorFree = LOOKUP(lib, rasprt_tensor_free);
  if (!compile || !run || !programFree || !freeString || !view || !tensorFree) {
    fprintf(stderr, "dlsym: %s\n", dlerror());
    return 1;
  }

  /* Element-wise math (libm's expf, tanhf, erff where the code stays
     scalar), results allocated by the runtime. This program does not link
     libm itself (the expected values are exp(x) + tanh(x) + gelu(x), worked
     out beforehand), so libm is as hidden as the rest. */
  char *errors = NULL;
  raspc_program *program =
      compile("model m(x: f32[T, 3]) -> f32[T, 3] {\n"
              "  return exp(x) + tanh(x) + gelu(x);\n"
              "}\n",
              "local.rasp", NULL, &errors);
  if (!program) {
    fprintf(stderr, "compile failed: %s\n", errors ? errors : "");
    return 1;
  }
  float xs[] = {0.0f, 0.5f, -1.0f, 2.0f, 0.25f, -0.75f};
  int64_t shape[] = {2, 3};
  rasprt_tensor x, y;
  view(&x, xs, RASPRT_F32, 2, shape);
  const rasprt_tensor *arguments[] = {&x};
  char *error = NULL;
  if (run(program, arguments, 1, &y, &error) != 0) {
    fprintf(stderr, "run failed: %s\n", error ? error : "");
    return 1;
  }
  int failures = 0;
  const double expected[] = {1, 2.45656966, -0.552369969, 10.3075834, 1.67862066, -0.332752914};
  for (int i = 0; i < 6; ++i) {
    double got = ((const float *)y.data)[i];
    double diff = got > expected[i] ? got - expected[i] : expected[i] - got;
    if (!(diff <= 1e-5)) {
      fprintf(stderr, "element %d: %g, expected %g\n", i, got, expected[i]);
      ++failures;
    }
  }
  tensorFree(&y);
  programFree(program);
  if (failures == 0)
    printf("ok\n");
  return failures != 0;
}
