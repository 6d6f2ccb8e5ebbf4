"""mancheck.py LIST PAGE7 PAGE1: holds the man pages to the settings the
command lists (resetguard --list-settings: variable, option, default, tab-
separated).  resetguard(7)'s ENVIRONMENT has an entry for every variable,
whose text gives its default, and none for a variable that does not
exist; resetguard(1)'s OPTIONS has every option, naming its variable, and
no option that does not exist.  Prints what is wrong; silent when all is
right."""
import re
import sys

EXTRA_OPTIONS = {"check", "list-settings", "help", "version", "h"}


def plain(troff):
    """The text of troff source: macros, fonts and escapes dropped."""
    text = re.sub(r"^\.[A-Za-z]+ ?", "", troff, flags=re.M)
    text = re.sub(r"\\f[BIRP]|\\&|\\~|\\\||\\\^", " ", text)
    text = text.replace("\\-", "-").replace("\\e", "\\")
    return " ".join(text.split())


def section(page, name):
    src = open(page).read()
    m = re.search(r"^\.SH %s\n(.*?)(?=^\.SH )" % name, src, re.S | re.M)
    return m.group(1) if m else ""


def entries(src, head):
    """(name, text) of each .TP entry whose first line matches head."""
    found = []
    parts = re.split(r"^\.TP\n", src, flags=re.M)
    for part in parts[1:]:
        first, _, rest = part.partition("\n")
        m = re.match(head, first)
        if m:
            found.append((m.group(1), plain(first + "\n" + rest)))
    return found


def main():
    listed = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
    problems = []
    env = dict(entries(section(sys.argv[2], "ENVIRONMENT"), r"^\.B[IR]? (RESETGUARD_[A-Z0-9_]+)"))
    for var, _, default in listed:
        if var not in env:
            problems.append("resetguard.7: no entry for " + var)
            continue
        want = "empty" if default == '""' else default
        text = env[var]
        if not re.search(r"\bdefault\b", text, re.I) or not re.search(
                r"(^|[\s(,])" + re.escape(want) + r"($|[\s.,;:)])", text):
            problems.append("resetguard.7: %s does not give its default %s" % (var, want))
    for var in env:
        if var not in {v for v, _, _ in listed}:
            problems.append("resetguard.7: documents %s, which is no setting" % var)
    opts = dict(entries(section(sys.argv[3], "OPTIONS"), r"^\.B[IR]? \\-\\-([a-z0-9\\-]+)"))
    opts = {k.replace("\\-", "-"): v for k, v in opts.items()}
    for var, option, _ in listed:
        if option == "-":
            continue
        name = option[2:].split("=")[0]
        if name not in opts:
            problems.append("resetguard.1: no entry for --" + name)
        elif var not in opts[name]:
            problems.append("resetguard.1: --%s does not name %s" % (name, var))
    known = {o[2:].split("=")[0] for _, o, _ in listed if o != "-"} | EXTRA_OPTIONS
    for name in opts:
        if name not in known:
            problems.append("resetguard.1: documents --%s, which is no option" % name)
    print("\n".join(problems))
    return 1 if problems else 0


sys.exit(main())
