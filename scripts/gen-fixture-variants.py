#!/usr/bin/env python3
"""Generate the XML and form-urlencoded webhook fixtures from the JSON ones.

    scripts/gen-fixture-variants.py           # (re)write tests/fixtures/{xml,form}/
    scripts/gen-fixture-variants.py --check   # exit 1 if any generated file is stale

Input: every tests/fixtures/json/<slug>.json. A file that is not strict JSON
(the documented milestone sample) is read the way hookbridge reads it with
`payload.lenient_literals = true`: the Python literals True / False / None
outside strings become true / false / null first.

Output, byte-for-byte deterministic (same input -> same bytes):

tests/fixtures/xml/<slug>.xml -- Django REST framework's XMLRenderer format,
produced with the same stdlib XMLGenerator DRF's renderer uses:
  `<?xml version="1.0" encoding="utf-8"?>` + newline + `<root>...</root>`,
  no trailing newline, no indentation, no attributes;
  dict key -> child element; list -> <list-item> children of the key's element;
  null -> empty element <key></key>; empty list / object -> empty element;
  booleans -> True / False; numbers -> their JSON text; strings escaped
  (&amp; &lt; &gt;).

tests/fixtures/form/<slug>.txt -- application/x-www-form-urlencoded in bracket
notation, one line, no trailing newline:
  site=...&tasks[0][uuid]=...&tasks[0][sub_tasks][0][required]=false
  nested object keys -> a[b][c]; list items -> a[0], a[1], ...;
  null -> empty value (`key=`); booleans -> true / false; numbers -> their JSON
  text; empty lists and empty objects produce no field at all (they are
  omitted, so they cannot round-trip).
  Percent-encoding is exactly urllib.parse.urlencode's (quote_plus: spaces as
  `+`, everything but [A-Za-z0-9_.~-] escaped, UTF-8), EXCEPT that `[` and `]`
  in keys are left unencoded so the files stay readable. Decoders treat `[`
  and `%5B` alike, so this does not change the decoded fields.

Python 3 standard library only.
"""

import io
import json
import sys
import urllib.parse
import xml.dom.minidom
from pathlib import Path
from xml.sax.saxutils import XMLGenerator

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
JSON_DIR = FIXTURES / "json"
XML_DIR = FIXTURES / "xml"
FORM_DIR = FIXTURES / "form"

PY_LITERALS = {"True": "true", "False": "false", "None": "null"}


class Num(str):
    """A JSON number, kept as its exact source text (no float rounding)."""


def rewrite_python_literals(text):
    """Rewrite True/False/None outside JSON strings to true/false/null."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif c.isalnum() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            out.append(PY_LITERALS.get(word, word))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def load(path):
    """Return (payload, lenient) for one JSON fixture."""
    text = path.read_text(encoding="utf-8")
    kw = dict(parse_float=Num, parse_int=Num)
    try:
        return json.loads(text, **kw), False
    except json.JSONDecodeError:
        return json.loads(rewrite_python_literals(text), **kw), True


# ---------------------------------------------------------------- XML


def _to_xml(gen, data):
    # Mirrors rest_framework.renderers.XMLRenderer._to_xml.
    if isinstance(data, list):
        for item in data:
            gen.startElement("list-item", {})
            _to_xml(gen, item)
            gen.endElement("list-item")
    elif isinstance(data, dict):
        for key, value in data.items():
            gen.startElement(key, {})
            _to_xml(gen, value)
            gen.endElement(key)
    elif data is None:
        pass
    else:
        # str(True) == "True", like DRF's force_str; Num is its own text.
        gen.characters(str(data))


def render_xml(payload):
    stream = io.StringIO()
    gen = XMLGenerator(stream, "utf-8", short_empty_elements=False)
    gen.startDocument()
    gen.startElement("root", {})
    _to_xml(gen, payload)
    gen.endElement("root")
    gen.endDocument()
    return stream.getvalue()


# ---------------------------------------------------------------- form


def _flatten(prefix, data, pairs):
    if isinstance(data, dict):
        for key, value in data.items():
            _flatten(f"{prefix}[{key}]" if prefix else key, value, pairs)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            _flatten(f"{prefix}[{index}]", value, pairs)
    elif data is None:
        pairs.append((prefix, ""))
    elif data is True or data is False:
        pairs.append((prefix, "true" if data else "false"))
    else:
        pairs.append((prefix, str(data)))


def form_pairs(payload):
    pairs = []
    _flatten("", payload, pairs)
    return pairs


def render_form(pairs):
    q = urllib.parse.quote_plus
    return "&".join(f"{q(k, safe='[]')}={q(v)}" for k, v in pairs)


# ---------------------------------------------------------------- main


def outputs():
    """Yield (path, text) for every generated file, in a stable order."""
    sources = sorted(JSON_DIR.glob("*.json"))
    if not sources:
        sys.exit(f"no JSON fixtures in {JSON_DIR}")
    for src in sources:
        payload, lenient = load(src)
        if not isinstance(payload, dict):
            sys.exit(f"{src}: top level is not an object")
        if lenient:
            print(f"{src.relative_to(ROOT)}: Python literals rewritten", file=sys.stderr)
        xml_text = render_xml(payload)
        xml.dom.minidom.parseString(xml_text.encode("utf-8"))  # well-formed?
        pairs = form_pairs(payload)
        form_text = render_form(pairs)
        decoded = urllib.parse.parse_qsl(
            form_text, keep_blank_values=True, strict_parsing=True
        )
        if decoded != pairs:
            sys.exit(f"{src}: form encoding does not round-trip")
        yield XML_DIR / f"{src.stem}.xml", xml_text
        yield FORM_DIR / f"{src.stem}.txt", form_text


def main(argv):
    check = argv[1:] == ["--check"]
    if argv[1:] and not check:
        sys.exit(__doc__.split("\n\n")[1])
    expected = dict(outputs())
    stale = []
    for path, text in expected.items():
        data = text.encode("utf-8")
        if check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    for d, pattern in ((XML_DIR, "*.xml"), (FORM_DIR, "*.txt")):
        for path in sorted(d.glob(pattern)):
            if path not in expected:
                stale.append(path)  # no JSON source any more
    for path in stale:
        print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
    if stale:
        if check:
            sys.exit(1)
        sys.exit("remove the files above: they have no JSON source")
    print(f"{'checked' if check else 'wrote'} {len(expected)} files", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
