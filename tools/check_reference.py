#!/usr/bin/env python3
"""Check docs/reference.md against the installed extension.

Reads, on stdin, the rows of waitlist.role_privileges() as psql -At prints
them (kind|object_type|object|privilege), and checks that the reference's
Privileges table lists, for each kind of user, exactly the functions and
tables the kind is granted (by name: the overloads of a name are one entry).
Exits non-zero with the differences otherwise.
"""
import re
import sys

granted = {}
for row in sys.stdin.read().splitlines():
    kind, otype, obj, _priv = row.split("|")
    if otype == "schema":
        continue
    name = obj.split("(")[0].removeprefix("waitlist.")
    granted.setdefault(kind, set()).add(name)

if not granted:
    sys.exit("check_reference.py: no rows of role_privileges() on stdin")

text = open("docs/reference.md", encoding="utf-8").read()
section = text.split("\n## Privileges\n", 1)[1].split("\n## ", 1)[0]
listed = {}
for line in section.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 3 and cells[0] in granted:
        names = {re.sub(r"\(.*\)$", "", n) for n in re.findall(r"`([^`]+)`", cells[2])}
        listed[cells[0]] = names - {"SELECT"}

status = 0
for kind in sorted(granted):
    if kind not in listed:
        print(f"docs/reference.md: no Privileges row for the {kind} kind")
        status = 1
        continue
    for name in sorted(granted[kind] - listed[kind]):
        print(f"docs/reference.md: the {kind} row lacks {name} (granted by role_privileges())")
        status = 1
    for name in sorted(listed[kind] - granted[kind]):
        print(f"docs/reference.md: the {kind} row lists {name}, which role_privileges() does not grant")
        status = 1
if status == 0:
    print("docs/reference.md lists every kind's grants: "
          + ", ".join(f"{k} {len(v)}" for k, v in sorted(granted.items())))
sys.exit(status)
