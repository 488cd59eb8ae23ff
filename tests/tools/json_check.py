#!/usr/bin/python3
"""json_check.py SCHEMA DEF FILE [--lines]: FILE must be one JSON document
(or with --lines, one per line, at least one) valid against SCHEMA's
#/$defs/DEF, with no number printed with more than 3 decimals. Prints
what is wrong and exits 1 otherwise. Needs python3-jsonschema."""
import json
import sys

import jsonschema


def number(text):
    frac = text.split(".", 1)[1] if "." in text else ""
    frac = frac.lower().split("e", 1)[0]
    if len(frac) > 3:
        raise ValueError(f"number {text} has more than 3 decimals")
    return float(text)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    schema_path, name, path = sys.argv[1:4]
    lines = "--lines" in sys.argv[4:]
    with open(schema_path) as f:
        schema = json.load(f)
    if name not in schema["$defs"]:
        sys.exit(f"json_check: no $defs/{name} in {schema_path}")
    sub = dict(schema)
    sub["$ref"] = f"#/$defs/{name}"
    validator = jsonschema.Draft202012Validator(sub)
    with open(path) as f:
        text = f.read()
    docs = [l for l in text.split("\n") if l.strip()] if lines else [text]
    if not docs:
        print(f"{path}: no JSON at all")
        sys.exit(1)
    bad = 0
    for i, doc in enumerate(docs, 1):
        where = f"{path}:{i}" if lines else path
        try:
            value = json.loads(doc, parse_float=number)
        except ValueError as e:
            print(f"{where}: not valid JSON: {e}: {doc[:200]!r}")
            bad += 1
            continue
        for err in validator.iter_errors(value):
            loc = "/".join(str(p) for p in err.absolute_path)
            print(f"{where}: {name} at /{loc}: {err.message[:300]}")
            bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
