//===- CAPI.cpp - the raspc JIT as a C API ----------------------*- C++ -*-===//

#include "raspc/raspc.h"

#include "raspc/Jit.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

struct raspc_program {
  std::shared_ptr<const raspc::JitProgram> program;
  std::vector<std::string> names; // for raspc_program_argument_name
};

namespace {
char *copyString(const std::string &s) {
  char *out = static_cast<char *>(std::malloc(s.size() + 1));
  if (out)
    std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

void setString(char **target, const std::string &s) {
  if (target)
    *target = copyString(s);
}

raspc_program *wrap(std::shared_ptr<const raspc::JitProgram> program,
                    const std::string &errors, char **errorsOut) {
  if (!program) {
    setString(errorsOut, errors);
    return nullptr;
  }
  auto *wrapped = new raspc_program{std::move(program), {}};
  wrapped->names = wrapped->program->argumentNames();
  return wrapped;
}

raspc::JitOptions jitOptions(const raspc_compile_options *options) {
  raspc::JitOptions jit;
  if (!options)
    return jit;
  jit.entry = options->entry ? options->entry : "";
  if (options->opt_level)
    jit.optLevel = options->opt_level;
  jit.packedBatch = options->packed_batch != 0;
  return jit;
}
} // namespace

extern "C" raspc_program *raspc_compile_with(const char *source, const char *fileName,
                                             const raspc_compile_options *options,
                                             char **errors) {
  std::string messages;
  auto program = raspc::JitProgram::compile(source ? source : "",
                                            fileName ? fileName : "<source>",
                                            jitOptions(options), &messages);
  return wrap(std::move(program), messages, errors);
}

extern "C" raspc_program *raspc_compile_file_with(const char *path,
                                                  const raspc_compile_options *options,
                                                  char **errors) {
  std::string messages;
  auto program =
      raspc::JitProgram::compileFile(path ? path : "", jitOptions(options), &messages);
  return wrap(std::move(program), messages, errors);
}

extern "C" size_t raspc_program_argument_count(const raspc_program *program) {
  return program ? program->names.size() : 0;
}

extern "C" const char *raspc_program_argument_name(const raspc_program *program,
                                                   size_t index) {
  return program && index < program->names.size() ? program->names[index].c_str() : nullptr;
}

extern "C" int raspc_program_argument_shape(const raspc_program *program, size_t index,
                                            rasprt_dtype *dtype, int64_t *shape) {
  if (!program || index >= program->names.size())
    return -1;
  std::vector<int64_t> sizes = program->program->argumentShape(index);
  if (dtype)
    *dtype = program->program->argumentDtype(index);
  if (shape)
    std::copy(sizes.begin(), sizes.end(), shape);
  return static_cast<int>(sizes.size());
}

extern "C" raspc_program *raspc_compile(const char *source, const char *fileName,
                                        const char *entry, char **errors) {
  raspc::JitOptions options;
  options.entry = entry ? entry : "";
  std::string messages;
  auto program = raspc::JitProgram::compile(source ? source : "",
                                            fileName ? fileName : "<source>", options,
                                            &messages);
  return wrap(std::move(program), messages, errors);
}

extern "C" raspc_program *raspc_compile_file(const char *path, const char *entry,
                                             char **errors) {
  raspc::JitOptions options;
  options.entry = entry ? entry : "";
  std::string messages;
  auto program = raspc::JitProgram::compileFile(path ? path : "", options, &messages);
  return wrap(std::move(program), messages, errors);
}

extern "C" void raspc_program_free(raspc_program *program) { delete program; }

extern "C" int raspc_run_tokens(const raspc_program *program, const char *const *tokens,
                                size_t count, char ***outputs, size_t *outputCount,
                                char **error) {
  if (!program || !outputs || !outputCount || (count && !tokens)) {
    setString(error, "raspc_run_tokens: null argument");
    return 1;
  }
  std::vector<std::string> in(tokens, tokens + count), out;
  std::string message;
  if (!program->program->runTokens(in, out, &message)) {
    setString(error, message);
    return 1;
  }
  *outputs = static_cast<char **>(std::malloc(sizeof(char *) * std::max<size_t>(out.size(), 1)));
  for (size_t i = 0; i < out.size(); ++i)
    (*outputs)[i] = copyString(out[i]);
  *outputCount = out.size();
  return 0;
}

extern "C" int raspc_run(const raspc_program *program, const rasprt_tensor *const *arguments,
                         size_t count, rasprt_tensor *output, char **error) {
  if (!program || !output || (count && !arguments)) {
    setString(error, "raspc_run: null argument");
    return 1;
  }
  std::vector<const rasprt_tensor *> args(arguments, arguments + count);
  std::string message;
  if (!program->program->run(args, output, &message)) {
    setString(error, message);
    return 1;
  }
  return 0;
}

extern "C" void raspc_free_string(char *string) { std::free(string); }

extern "C" void raspc_free_strings(char **strings, size_t count) {
  if (!strings)
    return;
  for (size_t i = 0; i < count; ++i)
    std::free(strings[i]);
  std::free(strings);
}
