#!/usr/bin/env python3
"""The core library's module dependencies, from its `crate::` paths; fails on an import cycle.

Every `crate::a::b` (in `use` lines and in code, `$crate::` in macros included; comments and
doc comments are ignored) in `src/**/*.rs` is a dependency of the file's module on the longest
module prefix of the path; `crate::Name` (a root re-export) is resolved through the `pub use`
lines of `src/lib.rs`. A parent module's `mod`/`pub use` lines naming its own submodules are
structure, not dependencies. Test code inside a module counts like any other code.

Checked twice: file by file (`ledger::file`), and with each submodule folded into its top-level
module (`ledger`). Also checked: `src/lib.rs` declares its modules bottom to top, each using only
modules declared above it (the module map of CONTRIBUTING.md).

Usage: python3 .ci/module_deps.py [--markdown]   (run from the repository root)
Exit status 1 when some module reaches itself through these dependencies, or lib.rs's order
is not bottom to top.
"""
import pathlib
import re
import sys

SRC = pathlib.Path("src")


def module_of(path: pathlib.Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "mod":
        parts.pop()
    if parts == ["lib"]:
        return ""
    return "::".join(parts)


def code_only(text: str) -> str:
    """Drops comments (line comments, doc comments, block comments) and string literals."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == '"' or (c == "r" and re.match(r'r#*"', text[i:i + 10]) and not text[i - 1].isalnum()):
            m = re.match(r'(r)?(#*)"', text[i:])
            raw, hashes = m.group(1), m.group(2)
            i += m.end()
            end = '"' + hashes
            while i < n:
                if not raw and text[i] == "\\":
                    i += 2
                    continue
                if text.startswith(end, i):
                    i += len(end)
                    break
                i += 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            i += len(re.match(r"'(\\.|[^\\'])'", text[i:]).group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def main() -> int:
    files = sorted(SRC.rglob("*.rs"))
    modules = {module_of(f) for f in files} - {""}
    lib = code_only((SRC / "lib.rs").read_text())
    # Root re-exports: `pub use module::{A, B as C};`
    reexport = {}
    for m in re.finditer(r"pub use (\w+)::\{?([^;}]*)\}?;", lib):
        for item in m.group(2).split(","):
            item = item.strip()
            if item:
                reexport[item.split(" as ")[-1].strip()] = m.group(1)
    deps = {m: set() for m in modules}
    for f in files:
        me = module_of(f)
        if not me:
            continue
        text = code_only(f.read_text())
        paths = []
        # `use crate::{a, b::c}` groups, one level of braces at a time.
        for m in re.finditer(r"\$?crate::\{([^}]*)\}", text):
            paths += ["crate::" + p.strip() for p in m.group(1).split(",") if p.strip()]
        paths += [m.group(0).lstrip("$") for m in re.finditer(r"\$?crate(::\w+)+", text)]
        for p in paths:
            segs = [s for s in p.split("::")[1:] if s and s != "{"]
            target = None
            for k in range(len(segs), 0, -1):
                cand = "::".join(segs[:k])
                if cand in modules:
                    target = cand
                    break
            if target is None and segs and segs[0] in reexport:
                target = reexport[segs[0]]
            if target and target != me:
                deps[me].add(target)
    status = 0
    top = top_level(deps)
    for title, graph in (("modules", deps), ("top-level modules", top)):
        status |= report(title, graph)
    # src/lib.rs declares the modules bottom to top: each uses only modules declared above it.
    declared = re.findall(r"^(?:pub )?mod (\w+);", lib, flags=re.M)
    for i, m in enumerate(declared):
        later = sorted(top.get(m, set()) & set(declared[i + 1:]))
        if later:
            print(f"src/lib.rs declares {m} before {', '.join(later)}, which it uses", file=sys.stderr)
            status = 1
    if status == 0:
        print("src/lib.rs declares the modules bottom to top")
    return status


def top_level(deps):
    """The same graph with each submodule folded into its top-level module (`ledger::file` into
    `ledger`), so that a cycle through a module's children is a cycle too."""
    top = {}
    for m, used in deps.items():
        t = m.split("::")[0]
        top.setdefault(t, set()).update(u.split("::")[0] for u in used)
        top[t].discard(t)
    return top


def report(title, deps):
    """Prints `deps` bottom to top; 1 (and the cycles on stderr) when it has a cycle."""
    modules = set(deps)
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(deps[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(modules):
        if v not in index:
            visit(v)
    cycles = [sorted(c) for c in comps if len(c) > 1]
    markdown = "--markdown" in sys.argv
    print(f"## {title}, bottom to top (each uses only modules above it)")
    # Print bottom to top: a module after everything it uses.
    order = [m for comp in comps for m in sorted(comp)]
    for m in order:
        used = ", ".join(f"`{d}`" if markdown else d for d in sorted(deps[m])) or "—"
        print(f"- `{m}` → {used}" if markdown else f"{m} -> {used}")
    if cycles:
        for c in cycles:
            print(f"import cycle among {title}: " + " <-> ".join(c), file=sys.stderr)
        return 1
    print(f"{len(modules)} {title}, no import cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
