#!/usr/bin/env python3
"""Check that src/ keeps its layers: every dependency points down.

The layers, top to bottom: src/module.c and clock/, api/, domain/, store/, txn/
(waitlist.h, shared constants, is below them all).  A file's dependencies
are the project headers it includes.  Fails when a file depends on a higher
layer, when the file graph has a cycle, or when a statement outside the
sku-row and outbox-writer modules updates the sku row or writes the outbox
other than through the one fan-out (WL_CONTACT_MESSAGES / WL_CONTACT_ROWS).
Prints the graph with --graph.
"""
import collections
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
RANK = {"module": 0, "clock": 0, "api": 1, "domain": 2, "store": 3, "txn": 4, "waitlist": 5}


def module_of(path):
    rel = os.path.relpath(path, SRC)
    return os.path.splitext(rel)[0]


def layer(module):
    head = module.split(os.sep)[0]
    return RANK[head]


def graph():
    deps = collections.defaultdict(set)
    for folder, _, files in os.walk(SRC):
        for name in files:
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(folder, name)
            me = module_of(path)
            deps[me]
            with open(path, encoding="utf-8") as f:
                for inc in re.findall(r'#include "([^"]+)"', f.read()):
                    target = os.path.join(SRC, inc)
                    if os.path.exists(target) and module_of(target) != me:
                        deps[me].add(module_of(target))
    return deps


def cycles(deps):
    found = []
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(deps[node]):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(deps):
        if node not in state:
            visit(node, [node])
    return found


def owner_violations():
    """Row updates and outbox inserts outside their owners."""
    bad = []
    rules = [
        (re.compile(r"UPDATE waitlist\.sku\b"), {"store/sku_row.c"}),
        (re.compile(r"INSERT INTO waitlist\.outbox"), {"store/outbox_writer.c", "store/outbox_writer.h"}),
        (re.compile(r"CROSS JOIN LATERAL \(VALUES \('email'"), {"store/outbox_writer.h"}),
    ]
    for folder, _, files in os.walk(SRC):
        for name in files:
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, SRC)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for pattern, owners in rules:
                if rel not in owners and pattern.search(text):
                    bad.append(f"{rel}: {pattern.pattern} belongs in {' or '.join(sorted(owners))}")
    return bad


def main():
    deps = graph()
    problems = []
    for me in sorted(deps):
        for dep in sorted(deps[me]):
            if layer(dep) < layer(me):
                problems.append(f"{me} depends on the higher layer {dep}")
    for cycle in cycles(deps):
        problems.append("cycle: " + " -> ".join(cycle))
    problems += owner_violations()
    if "--graph" in sys.argv:
        for me in sorted(deps):
            print(f"{me} -> {', '.join(sorted(deps[me])) or '(nothing)'}")
    for p in problems:
        print("FAIL:", p)
    if problems:
        return 1
    print(f"layers: {len(deps)} modules, every dependency points down, no cycle, one owner per row and outbox write")
    return 0


if __name__ == "__main__":
    sys.exit(main())
