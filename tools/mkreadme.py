#!/usr/bin/env python3
"""Assembles README.md from the documents under docs/ (the single source of
each section), so the README and the detailed docs never drift apart.

    python3 tools/mkreadme.py          # rewrite README.md
    python3 tools/mkreadme.py --check  # exit 1 if README.md is out of date
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (file, its heading becomes level 2; sub-headings shift with it)
PARTS = ["intro.md", "install.md", "scan.md", "classes.md", "rank.md", "learn.md", "audit.md",
         "interop.md", "serve.md", "cluster.md", "benchmarks.md", "HACKING.md"]
LINK = re.compile(r"\]\((?!https?:|#|/|docs/)([^)]+)\)")


def section(name, first):
    text = open(os.path.join(ROOT, "docs", name)).read().rstrip("\n") + "\n"
    levels = [len(m.group(1)) for m in re.finditer(r"^(#+) ", text, re.M)]
    out, fence = [], False
    shift = (1 if first else 2) - min(levels) if levels else 0
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence:
            m = re.match(r"^(#+) ", line)
            if m:
                line = "#" * max(1, len(m.group(1)) + shift) + line[len(m.group(1)):]
            line = LINK.sub(lambda m: "](docs/" + m.group(1) + ")", line)
        out.append(line)
    return "\n".join(out) + "\n"


def build():
    body = [section(p, i == 0) for i, p in enumerate(PARTS)
            if os.path.exists(os.path.join(ROOT, "docs", p))]
    head = "<!-- Assembled by tools/mkreadme.py from docs/*.md: edit those, then rerun it. -->\n"
    return head + "\n".join(body)


if __name__ == "__main__":
    text = build()
    path = os.path.join(ROOT, "README.md")
    if "--check" in sys.argv:
        sys.exit(0 if os.path.exists(path) and open(path).read() == text else 1)
    open(path, "w").write(text)
