"""Strict logfmt reader for the tests: each line of stdin must be a list of
key=value pairs (values bare, or quoted: UTF-8 with \\" \\\\ \\n \\r \\t \\uXXXX
escapes); prints each line as a JSON object, or exits 1 naming the bad line
(or one that is not UTF-8).

usage: logfmt.py [KEY]   (with KEY, print only that key's value per line)"""
import json
import re
import sys

PAIR = re.compile(r'([a-z_][a-z0-9_]*)=(?:"((?:[^"\\]|\\["\\nrt]|\\u[0-9a-f]{4})*)"|([^ "=\\]+))(?: |$)')
ESC = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def unescape(s):
    return re.sub(r'\\(u[0-9a-f]{4}|.)',
                  lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 5
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
    try:
        text = raw.decode("utf-8").rstrip("\n")
        fields = parse(text)
    except (ValueError, UnicodeDecodeError) as e:
        sys.exit(str(e))
    print(json.dumps(fields[sys.argv[1]]) if len(sys.argv) > 1 else json.dumps(fields))
