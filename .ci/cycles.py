#!/usr/bin/env python3
"""Import cycles between the files of each crate under crates/ (exit 1 naming one).

A file depends on another when it names an item defined there: through `use crate::...`,
`use super::...`, `use self::...` or a declared child module, or through a `crate::` /
`super::` path in the code. A name a module only re-exports (`pub use`, or a private `use`
a child reaches through `super::`) is followed to the file that defines it, so a folder's
root file and `lib.rs` count as facades, not as hubs every file depends on. Comments
(doc links included) and string literals are ignored; `#[cfg(test)] mod tests` blocks in a
file are left out: test code may reach a test kit that uses the file under test.

    python3 .ci/cycles.py            # every crate
    python3 .ci/cycles.py crates/x   # one crate
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def strip(text):
    """The source without comments, string and char literals (same length: offsets kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:]) and not re.match(r"\w", text[i - 1 : i] or " "):
            m = re.match(r'r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + len(m.group(0)))
            j = n if end < 0 else end + 1 + len(m.group(1))
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_use_tree(s):
    """`a::{b, c::d as e, self}` -> [(path segments, local name)]."""
    s = re.sub(r"\s+", "", s)
    results = []

    def walk(prefix, s, k):
        # returns position after one tree
        segs = list(prefix)
        while True:
            if s.startswith("{", k):
                k += 1
                while not s.startswith("}", k):
                    k = walk(segs, s, k)
                    if s.startswith(",", k):
                        k += 1
                return k + 1
            m = re.match(r"(\w+|\*)", s[k:])
            if not m:
                return k
            seg = m.group(1)
            k += len(seg)
            if s.startswith("::", k):
                k += 2
                if seg == "self" and segs and prefix == segs and k == 0:
                    pass
                segs.append(seg)
                continue
            alias = None
            m2 = re.match(r"as(\w+)", s[k:])
            if m2:
                alias, k = m2.group(1), k + len(m2.group(0))
            if seg == "self":
                results.append((segs, alias or (segs[-1] if segs else None)))
            else:
                results.append((segs + [seg], alias or seg))
            return k

    walk([], s, 0)
    return results


class Crate:
    def __init__(self, src):
        self.src = src
        self.files = {}  # module path tuple -> file
        for f in sorted(src.rglob("*.rs")):
            rel = f.relative_to(src)
            parts = list(rel.with_suffix("").parts)
            if parts[0] == "bin" or parts[-1] == "main" and (src / "lib.rs").exists():
                continue  # other crate roots
            if parts[-1] in ("lib", "main") and len(parts) == 1:
                parts = []
            elif parts[-1] == "mod":
                parts = parts[:-1]
            self.files[tuple(parts)] = f
        self.text = {m: strip(f.read_text()) for m, f in self.files.items()}
        self.uses = {}  # (module path incl. inline mods) -> {local name: absolute path}
        self.refs = {}  # file module -> [(inline module path, segments)]
        for m, t in self.text.items():
            self.scan(m, t)

    def scan(self, m, t):
        # inline modules: `mod name {`, tracked by brace depth
        spans, tests = [], []
        for mm in re.finditer(r"(#\[cfg\(test\)\]\s*)?\bmod\s+(\w+)\s*\{", t):
            depth, j = 1, mm.end()
            while j < len(t) and depth:
                depth += {"{": 1, "}": -1}.get(t[j], 0)
                j += 1
            spans.append((mm.start(), j, mm.group(2)))
            if mm.group(1):
                tests.append((mm.start(), j))

        def where(pos):
            inner = [name for a, b, name in spans if a <= pos < b]
            return m + tuple(inner)

        refs = self.refs.setdefault(m, [])
        use_spans = []
        for u in re.finditer(r"\buse\s+([^;]+);", t):
            use_spans.append((u.start(), u.end()))
            if any(a <= u.start() < b for a, b in tests):
                continue
            here = where(u.start())
            for segs, local in parse_use_tree(u.group(1)):
                absolute = self.absolute(here, segs)
                if absolute is None:
                    continue
                if local and local != "*":
                    self.uses.setdefault(here, {})[local] = absolute
                refs.append((here, absolute if segs[-1] != "*" else absolute[:-1]))
        for p in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", t):
            if any(a <= p.start() < b for a, b in use_spans + tests):
                continue
            segs = p.group(1).split("::")
            absolute = self.absolute(where(p.start()), segs)
            if absolute is not None:
                refs.append((where(p.start()), absolute))

    def absolute(self, here, segs):
        """Absolute path (tuple) of `segs` used in module `here`, or None if outside the crate."""
        segs = list(segs)
        if segs[0] == "crate":
            return tuple(segs[1:])
        if segs[0] in ("super", "self"):
            base = list(here)
            while segs and segs[0] in ("super", "self"):
                if segs.pop(0) == "super":
                    base = base[:-1]
            return tuple(base + segs)
        if tuple(here) + (segs[0],) in self.files:  # a child module
            return tuple(here) + tuple(segs)
        return None

    def resolve(self, path, seen=()):
        """The file module defining the item at `path`."""
        path = tuple(p for p in path if p != "*")
        for k in range(len(path), -1, -1):
            prefix = path[:k]
            if prefix in self.files or any(prefix == f[: len(prefix)] for f in self.files):
                if prefix not in self.files:
                    continue
                rest = path[k:]
                if not rest:
                    return prefix
                # an inline module path: prefix + inline names
                scope = prefix
                i = 0
                while i < len(rest) and scope + (rest[i],) in self.uses:
                    scope = scope + (rest[i],)
                    i += 1
                name = rest[i] if i < len(rest) else None
                target = self.uses.get(scope, {}).get(name)
                if target is not None and (scope, name) not in seen:
                    return self.resolve(target + rest[i + 1 :], seen + ((scope, name),))
                return prefix
        return None

    def edges(self):
        graph = {m: set() for m in self.files}
        for m, refs in self.refs.items():
            for _here, path in refs:
                target = self.resolve(path)
                if target is not None and target != m:
                    graph[m].add(target)
        return graph


def find_cycle(graph):
    """One cycle as a list of nodes, or None (iterative DFS)."""
    colour = {v: 0 for v in graph}
    for start in sorted(graph):
        if colour[start]:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        colour[start] = 1
        while stack:
            v, it = stack[-1]
            w = next(it, None)
            if w is None:
                colour[v] = 2
                stack.pop()
                path.pop()
            elif colour.get(w) == 1:
                return path[path.index(w) :] + [w]
            elif colour.get(w) == 0:
                colour[w] = 1
                path.append(w)
                stack.append((w, iter(sorted(graph[w]))))
    return None


def sccs(graph):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    crates = [Path(a).resolve() for a in sys.argv[1:]] or sorted(
        p.parent for p in (ROOT / "crates").glob("*/Cargo.toml")
    )
    failed = False
    for crate in crates:
        c = Crate(crate / "src")
        graph = c.edges()
        name = lambda m: str(c.files[m].relative_to(crate / "src"))  # noqa: E731
        cycle = find_cycle(graph)
        if cycle is None:
            print(f"{crate.relative_to(ROOT)}: no cycle between its {len(graph)} files")
            continue
        failed = True
        print(f"{crate.relative_to(ROOT)}: import cycle: " + " -> ".join(name(m) for m in cycle))
        for comp in sccs(graph):
            print(f"    files caught in one cycle: {', '.join(name(m) for m in comp)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
