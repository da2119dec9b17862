// Compiles a RASP program from source text with an installed raspc.
#include "raspc/Jit.h"

#include <iostream>

int main() {
  std::string errors;
  auto histogram = raspc::JitProgram::compile(
      "def histogram(tokens) { return selector_width(select(tokens, tokens, ==)); }",
      "histogram.rasp", {}, &errors);
  if (!histogram) {
    std::cerr << errors;
    return 1;
  }
  std::vector<std::string> out;
  if (!histogram->runTokens({"a", "b", "a"}, out, &errors)) {
    std::cerr << errors << "\n";
    return 1;
  }
  for (const std::string &s : out)
    std::cout << s << " ";
  std::cout << "\n";
  return 0;
}
