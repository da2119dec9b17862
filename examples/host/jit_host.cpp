// jit_host: compiles a program from a file at run time and runs it on the
// tokens given on the command line, through include/raspc/Jit.h.
//
//   jit-host examples/rasp/reverse.rasp a b c      # prints: c b a
#include "raspc/Jit.h"

#include <iostream>

int main(int argc, char **argv) {
  if (argc < 2) {
    std::cerr << "usage: jit-host PROGRAM.rasp TOKEN...\n";
    return 2;
  }
  std::string errors;
  auto program = raspc::JitProgram::compileFile(argv[1], {}, &errors);
  if (!program) {
    std::cerr << errors;
    return 1;
  }
  std::vector<std::string> tokens(argv + 2, argv + argc), outputs;
  if (!program->runTokens(tokens, outputs, &errors)) {
    std::cerr << "jit-host: " << errors << "\n";
    return 1;
  }
  for (size_t i = 0; i < outputs.size(); ++i)
    std::cout << (i ? " " : "") << outputs[i];
  std::cout << "\n";
  return 0;
}
