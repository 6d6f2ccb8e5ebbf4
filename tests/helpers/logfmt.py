"""Strict logfmt reader for the tests: each line of stdin must be a list of
key=value pairs (values bare, or quoted with \\" \\\\ \\n \\r \\t \\u00XX
escapes); prints each line as a JSON object, or exits 1 naming the bad line.

usage: logfmt.py [KEY]   (with KEY, print only that key's value per line)"""
import json
import re
import sys

PAIR = re.compile(r'([a-z_][a-z0-9_]*)=(?:"((?:[^"\\]|\\["\\nrt]|\\u00[0-9a-f]{2})*)"|([^ "=\\]+))(?: |$)')
ESC = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def unescape(s):
    return re.sub(r'\\(u00[0-9a-f]{2}|.)',
                  lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1).startswith("u00")
                  else ESC[m.group(1)], s)


def parse(line):
    fields, pos = {}, 0
    while pos < len(line):
        m = PAIR.match(line, pos)
        if not m or m.group(1) in fields:
            raise ValueError(f"bad logfmt at column {pos}: {line!r}")
        fields[m.group(1)] = unescape(m.group(2)) if m.group(2) is not None else m.group(3)
        pos = m.end()
    return fields


for raw in sys.stdin.buffer:
    text = raw.decode("ascii").rstrip("\n")
    try:
        fields = parse(text)
    except (ValueError, UnicodeDecodeError) as e:
        sys.exit(str(e))
    print(json.dumps(fields[sys.argv[1]]) if len(sys.argv) > 1 else json.dumps(fields))
