/* The C API from C: compile, run, errors. A plain C program, so it also
 * proves raspc.h is valid C. */
#include "raspc/raspc.h"

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

  printf("%s\n", failures ? "FAILED" : "c-api: all checks passed");
  return failures != 0;
}
