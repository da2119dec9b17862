"""Prints an SVG selector picture as text: its title, then one row per
query with 1 for a filled cell and . for an empty one (parsing the XML, so a
malformed file fails)."""
import sys
import xml.etree.ElementTree as ElementTree

svg = ElementTree.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
texts = [t.text for t in svg.iter(ns + "text")]
print(texts[0])
rows = {}
for rect in svg.iter(ns + "rect"):
    rows.setdefault(int(rect.get("y")), []).append(
        (int(rect.get("x")), "1" if rect.get("fill") == "#3465a4" else "."))
for y in sorted(rows):
    print(" ".join(cell for _, cell in sorted(rows[y])))
