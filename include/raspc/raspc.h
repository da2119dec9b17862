/*===- raspc.h - the raspc JIT as a C API ------------------------*- C -*-===*\
|*                                                                            *|
|* The C face of include/raspc/Jit.h. Strings returned through `char **`    *|
|* are malloc'd and released with raspc_free_string / raspc_free_strings.    *|
|* Functions returning int return 0 on success.                               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef RASPC_RASPC_H
#define RASPC_RASPC_H

#include "rasprt/rasprt.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct raspc_program raspc_program;

/* Compiles `source` (named `file_name` in diagnostics) for this CPU; `entry`
   may be NULL. On failure returns NULL and sets `*errors` to the
   diagnostics. */
raspc_program *raspc_compile(const char *source, const char *file_name,
                             const char *entry, char **errors);
raspc_program *raspc_compile_file(const char *path, const char *entry,
                                  char **errors);
void raspc_program_free(raspc_program *program);

/* Options beyond the entry (JitOptions in C++); zero-initialize and set
   what you need. */
typedef struct raspc_compile_options {
  const char *entry; /* NULL: `main`, else the last def or model */
  int opt_level;     /* 0 to 3; 0 here means the default, 2 */
  /* Models: one call runs a batch of examples packed one after another
     along their positions, with an input `lengths` (i32[B]) after the
     others (docs/language.md, "Batches"). */
  int packed_batch;
} raspc_compile_options;

raspc_program *raspc_compile_with(const char *source, const char *file_name,
                                  const raspc_compile_options *options, char **errors);
raspc_program *raspc_compile_file_with(const char *path,
                                       const raspc_compile_options *options,
                                       char **errors);

/* The arguments raspc_run takes, in order: inputs, then a model's
   parameters. The name is the program's (valid while it lives); the shape's
   symbolic sizes are -1. Returns the rank, or -1 for an index out of
   range; `shape` may be NULL, else has room for RASPRT_MAX_RANK sizes. */
size_t raspc_program_argument_count(const raspc_program *program);
const char *raspc_program_argument_name(const raspc_program *program, size_t index);
int raspc_program_argument_shape(const raspc_program *program, size_t index,
                                 rasprt_dtype *dtype, int64_t *shape);

/* Runs a sequence program on `count` tokens; `*outputs` receives
   `*output_count` strings. */
int raspc_run_tokens(const raspc_program *program, const char *const *tokens,
                     size_t count, char ***outputs, size_t *output_count,
                     char **error);

/* Runs a program on tensors (inputs, then parameters); `*output` is
   allocated (release with rasprt_tensor_free). */
int raspc_run(const raspc_program *program, const rasprt_tensor *const *arguments,
              size_t count, rasprt_tensor *output, char **error);

void raspc_free_string(char *string);
void raspc_free_strings(char **strings, size_t count);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RASPC_RASPC_H */
