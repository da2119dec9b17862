//===- SelectorPicture.cpp - a selector as an SVG picture ------*- C++ -*-===//
//
// The picture RASP's papers draw of a selector: queries down, keys across,
// a filled cell where the query selects the key, the tokens as labels.
// `raspc run --selectors-svg DIR` writes them; the Python package shows
// them in notebooks (SelectorPattern._repr_svg_).
//
//===----------------------------------------------------------------------===//

#include "raspc/Jit.h"

#include <sstream>

namespace {

std::string escapeXml(const std::string &text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&apos;"; break;
    default: out += c;
    }
  }
  return out;
}

} // namespace

std::string raspc::selectorSvg(const SelectorMatrix &selector,
                               const std::vector<std::string> &tokens) {
  const int cell = 18, margin = 60;
  int64_t width = margin + selector.keys * cell + 8;
  int64_t height = margin + selector.queries * cell + 24;
  auto label = [&](int64_t i) {
    return escapeXml(i < static_cast<int64_t>(tokens.size()) ? tokens[i] : std::to_string(i));
  };
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\""
      << height << "\" font-family=\"monospace\" font-size=\"11\">"
      << "<text x=\"4\" y=\"14\">" << escapeXml(selector.name) << "</text>";
  for (int64_t k = 0; k < selector.keys; ++k)
    svg << "<text x=\"" << margin + k * cell + cell / 2 << "\" y=\"" << margin - 6
        << "\" text-anchor=\"middle\">" << label(k) << "</text>";
  for (int64_t q = 0; q < selector.queries; ++q) {
    int64_t y = margin + q * cell;
    svg << "<text x=\"" << margin - 6 << "\" y=\"" << y + cell * 7 / 10
        << "\" text-anchor=\"end\">" << label(q) << "</text>";
    for (int64_t k = 0; k < selector.keys; ++k) {
      bool selected = selector.selected[q * selector.keys + k] != 0;
      svg << "<rect x=\"" << margin + k * cell << "\" y=\"" << y << "\" width=\"" << cell - 1
          << "\" height=\"" << cell - 1 << "\" fill=\"" << (selected ? "#3465a4" : "#eeeeec")
          << "\"/>";
    }
  }
  svg << "<text x=\"4\" y=\"" << height - 6 << "\">rows: queries, columns: keys</text></svg>\n";
  return svg.str();
}
