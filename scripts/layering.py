#!/usr/bin/env python3
"""Import-cycle and layering check for src/ (run by scripts/check-layering.sh, `.ci/run`).

Every `use` and every `crate::`/`super::`/`self::` path (and, in a module with children,
`child::` paths) in a file is an import. An imported path is resolved through `mod`
declarations (including `#[path]`) and `pub use` re-exports to the file that defines the
item; `pub use` lines themselves are not imports, and declaring a child (`mod x;`) is not
importing it. Checks:

1. No cycle between files. Code in an inline `mod tests {}` counts as its file's: tests
   that need a module above their file go to `<file>_tests.rs`, a file of its own.
2. No cycle between top-level modules, and none imports from a later entry of LAYERS.

On failure: exit status 1, and for each cycle one shortest loop with the import lines that
make it (`--graph` also prints the top-level dependencies). Fix a cycle by moving the shared
item down into a module both sides may import.
"""

import os
import re
import sys
from collections import defaultdict

# The allowed order of the top-level modules, lowest first. A module imports only from its
# own layer (without forming a cycle) and from the layers before it, never from a later one.
# An entry with a slash is a file or directory split off from its top-level module because
# it sits lower than the rest of it: health's published snapshot, check and target specs
# and latency's table are data that policy reads, while the health tracker, probes and the
# latency ingest record metrics, which name policy outcomes.
LAYERS = [
    ["signals", "closed_set", "hash", "geo", "health/snapshot", "health/check", "health/target",
     "health/state", "health/quorum", "latency/net", "latency/changes", "load/share",
     "load/snapshot", "load/read"],
    ["latency/table", "latency/aggregate"],
    ["policy"],
    ["dnssec"],
    ["zone"],
    ["metrics"],
    ["health", "latency", "load"],
    ["config"],
    ["diff"],
    ["cluster"],
    ["dns"],
    ["admin"],
    ["agent"],
    ["cli"],
    ["app"],
]

ITEM_RE = re.compile(
    r"\b(?:fn|struct|enum|const|static|type|trait|union)\s+([A-Za-z_]\w*)|"
    r"\bmacro_rules!\s*([A-Za-z_]\w*)"
)


def strip(text):
    """Blank out comments, strings and char literals, keeping offsets and newlines."""
    out = []
    i, n = 0, len(text)

    def blank(s):
        return "".join(c if c == "\n" else " " for c in s)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(text[i:j]))
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
            out.append(blank(text[i:j]))
            i = j
        elif re.match(r'b?r#*"', text[i:i + 8]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'(b?r)(#*)"', text[i:])
            end = '"' + m.group(2)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(blank(text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(blank(text[i:j + 1]))
            i = j + 1
        elif c == "'":
            if i + 1 < n and text[i + 1] == "\\":
                j = text.find("'", i + 2)
                out.append(blank(text[i:j + 1]))
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                out.append("   ")
                i += 3
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Module:
    def __init__(self, path, file):
        self.path = path  # tuple, ("crate", ...)
        self.file = file  # file holding it (inline modules share their file)
        self.children = {}
        self.reexports = {}  # name -> absolute path tuple
        self.globs = []  # absolute module paths re-exported with `*`
        self.defined = set()


def parse_use_tree(s):
    """Parse the text after `use` up to `;` (without `as` renames) into (segments, None) leaves."""
    s = re.sub(r"\s+", "", s)
    pos = 0

    def tree(prefix):
        nonlocal pos
        leaves = []
        segs = list(prefix)
        while pos < len(s):
            if s[pos] == "{":
                pos += 1
                while pos < len(s) and s[pos] != "}":
                    leaves += tree(segs)
                    if pos < len(s) and s[pos] == ",":
                        pos += 1
                pos += 1
                return leaves
            m = re.match(r"(\*|[A-Za-z_]\w*)", s[pos:])
            if not m:
                break
            segs.append(m.group(1))
            pos += len(m.group(1))
            if s.startswith("::", pos):
                pos += 2
                continue
            return leaves + [(segs, None)]
        return leaves + ([(segs, None)] if len(segs) > len(prefix) else [])

    return tree([])


def split_as(text):
    """Remove `as alias` parts (aliases are handled per leaf only when re-exported)."""
    return re.sub(r"\s+as\s+[A-Za-z_]\w*", "", text)


def aliases(text):
    """Map alias -> last segment for `X as Y` in a use tree."""
    return {m.group(2): m.group(1) for m in re.finditer(r"([A-Za-z_]\w*)\s+as\s+([A-Za-z_]\w*)", text)}


class Crate:
    def __init__(self, src):
        self.src = src
        self.modules = {}
        self.files = {}  # file -> (module, stripped text, raw text)
        root = Module(("crate",), os.path.join(src, "lib.rs"))
        self.modules[root.path] = root
        self.load_file(root, root.file, os.path.join(src))

    def load_file(self, mod, file, child_dir):
        raw = open(file, encoding="utf-8").read()
        text = strip(raw)
        self.files[file] = (mod, text, raw)
        self.scan(mod, file, text, 0, len(text), child_dir, raw)

    def scan(self, mod, file, text, start, end, child_dir, raw):
        """Find `mod` declarations and defined names between start and end at depth 0."""
        i, depth = start, 0
        pat = re.compile(r"\bmod\s+([A-Za-z_]\w*)\s*([;{])|[{}]")
        while True:
            m = pat.search(text, i, end)
            if not m:
                break
            tok = m.group(0)
            if tok == "{":
                depth += 1
                i = m.end()
                continue
            if tok == "}":
                depth -= 1
                i = m.end()
                continue
            if depth != 0:
                if m.group(2) == "{":
                    depth += 1
                i = m.end()
                continue
            name = m.group(1)
            child_path = mod.path + (name,)
            if m.group(2) == "{":
                close = match_brace(text, m.end() - 1)
                child = Module(child_path, file)
                self.modules[child_path] = child
                mod.children[name] = child
                self.scan(child, file, text, m.end(), close, os.path.join(child_dir, name), raw)
                i = close + 1
                continue
            attr = re.search(r'#\[path\s*=\s*"([^"]+)"\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+' + name + r"\s*;",
                             raw[max(0, m.start() - 200):m.end()])
            if attr:
                cfile = os.path.join(os.path.dirname(file), attr.group(1))
                cdir = os.path.join(os.path.dirname(cfile), name)
            else:
                a = os.path.join(child_dir, name + ".rs")
                b = os.path.join(child_dir, name, "mod.rs")
                cfile = a if os.path.exists(a) else b
                cdir = os.path.join(child_dir, name)
            child = Module(child_path, cfile)
            self.modules[child_path] = child
            mod.children[name] = child
            self.load_file(child, cfile, cdir)
            i = m.end()
        for m in ITEM_RE.finditer(text, start, end):
            if brace_depth(text, start, m.start()) == 0:
                mod.defined.add(m.group(1) or m.group(2))

    def absolute(self, mod, segs):
        """Make a path absolute from module `mod`; None for external crates."""
        segs = list(segs)
        if not segs:
            return None
        if segs[0] == "crate":
            return tuple(segs)
        base = mod.path
        if segs[0] in ("self", "super"):
            while segs and segs[0] in ("self", "super"):
                if segs.pop(0) == "super":
                    base = base[:-1]
            return base + tuple(segs)
        if segs[0] in mod.children:
            return base + tuple(segs)
        return None

    def collect_reexports(self):
        for file, (mod0, text, raw) in self.files.items():
            for mod, m in self.uses(file):
                if not re.match(r"pub\b", m.group(1) or ""):
                    continue
                body = m.group(2)
                al = aliases(body)
                for segs, _ in parse_use_tree(split_as(body)):
                    target = self.absolute(mod, segs)
                    if target is None:
                        continue
                    if segs[-1] == "*":
                        mod.globs.append(target[:-1])
                    else:
                        last = target[-1]
                        if last == "self":
                            target = target[:-1]
                            last = target[-1]
                        mod.reexports[last] = target
                        for alias, orig in al.items():
                            if orig == last:
                                mod.reexports[alias] = target

    def uses(self, file):
        """(module at that point, match) for every `use` statement in a file."""
        mod0, text, raw = self.files[file]
        for m in re.finditer(r"(?:\b(pub(?:\s*\([^)]*\))?)\s+)?\buse\s+([^;]*);", text):
            yield self.module_at(file, m.start()), m

    def module_at(self, file, offset):
        mod0, text, raw = self.files[file]
        inline = [mm for mm in self.modules.values() if mm.file == file and mm is not mod0]
        best = mod0
        for mm in inline:
            # find the inline module's span
            for m in re.finditer(r"\bmod\s+" + mm.path[-1] + r"\s*\{", text):
                close = match_brace(text, m.end() - 1)
                if m.end() <= offset < close and len(mm.path) > len(best.path):
                    best = mm
        return best

    def resolve(self, path, seen=0):
        """The file that defines the item named by an absolute path."""
        if seen > 20:
            return None
        mod = self.modules[("crate",)]
        segs = list(path[1:])
        for k, seg in enumerate(segs):
            if seg in mod.children:
                mod = mod.children[seg]
                continue
            if seg in mod.reexports:
                return self.resolve(mod.reexports[seg] + tuple(segs[k + 1:]), seen + 1)
            if seg in mod.defined or seg == "*":
                return mod.file
            for g in mod.globs:
                r = self.resolve(g + tuple(segs[k:]), seen + 1)
                if r is not None:
                    return r
            return mod.file
        return mod.file


def match_brace(text, open_pos):
    depth = 0
    for j in range(open_pos, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(text)


def brace_depth(text, start, pos):
    seg = text[start:pos]
    return seg.count("{") - seg.count("}")


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def edges(crate):
    """file -> {file: [(line, written path)]}"""
    out = defaultdict(lambda: defaultdict(list))
    for file, (mod0, text, raw) in crate.files.items():
        spans = []
        for mod, m in crate.uses(file):
            spans.append((m.start(), m.end()))
            if re.match(r"pub\b", m.group(1) or ""):
                continue
            for segs, _ in parse_use_tree(split_as(m.group(2))):
                add(crate, out, file, mod, segs, line_of(text, m.start()))
        # Paths written in code.
        names = set()
        for mm in crate.modules.values():
            if mm.file == file:
                names |= set(mm.children)
        starts = ["crate", "super", "self"] + sorted(names)
        pat = re.compile(r"(?<![\w:])((?:" + "|".join(starts) + r")(?:::[A-Za-z_]\w*)+)")
        for m in pat.finditer(text):
            if any(a <= m.start() < b for a, b in spans):
                continue
            mod = crate.module_at(file, m.start())
            add(crate, out, file, mod, m.group(1).split("::"), line_of(text, m.start()))
    return out


def add(crate, out, file, mod, segs, line):
    target = crate.absolute(mod, segs)
    if target is None:
        return
    if target and target[-1] == "self":
        target = target[:-1]
    dest = crate.resolve(target)
    if dest and dest != file:
        out[file][dest].append((line, "::".join(segs)))


def sccs(graph, nodes):
    index, low, stack, on, res = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
            res.append(comp)

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return [c for c in res if len(c) > 1]


def shortest_cycle(graph, comp):
    comp = set(comp)
    best = None
    for s in sorted(comp):
        prev, frontier, found = {s: None}, [s], None
        while frontier and not found:
            nxt = []
            for v in frontier:
                for w in sorted(graph.get(v, ())):
                    if w not in comp:
                        continue
                    if w == s:
                        found = v
                        break
                    if w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if found:
                    break
            frontier = nxt
        if found:
            path = [found]
            while prev[path[-1]] is not None:
                path.append(prev[path[-1]])
            path.reverse()
            if best is None or len(path) < len(best):
                best = path
    return best


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    src = os.path.join(root, "src")
    crate = Crate(src)
    crate.collect_reexports()
    fe = edges(crate)
    rel = lambda f: os.path.relpath(f, root)
    failed = False

    graph = {a: set(bs) for a, bs in fe.items()}
    for comp in sccs(graph, crate.files):
        failed = True
        cyc = shortest_cycle(graph, comp)
        print("import cycle between files (component: %s):" % ", ".join(sorted(rel(f) for f in comp)))
        for k, a in enumerate(cyc):
            b = cyc[(k + 1) % len(cyc)]
            line, written = fe[a][b][0]
            print("  %s:%d imports %s  (%s)" % (rel(a), line, written, rel(b)))

    units = sorted((name for layer in LAYERS for name in layer), key=len, reverse=True)

    def top(f):
        path = os.path.splitext(os.path.relpath(f, src))[0].replace(os.sep, "/")
        if path.endswith("/mod"):
            path = path[:-4]
        for name in units:
            if path == name or path.startswith(name + "/"):
                return name
        return path.split("/")[0]

    rank = {name: r for r, layer in enumerate(LAYERS) for name in layer}
    tedges = defaultdict(lambda: defaultdict(list))
    for a, bs in fe.items():
        for b, sites in bs.items():
            ta, tb = top(a), top(b)
            if ta != tb and "lib" not in (ta, tb):
                tedges[ta][tb].append((a, sites[0]))
    for unit in sorted({top(f) for f in crate.files} - {"lib"} - set(rank)):
        failed = True
        print("module `%s` is not in LAYERS (scripts/layering.py)" % unit)
    for ta in sorted(tedges):
        for tb in sorted(tedges[ta]):
            if ta not in rank or tb not in rank:
                continue
            if rank[tb] > rank[ta]:
                failed = True
                a, (line, written) = tedges[ta][tb][0]
                print("layering: `%s` (layer %d) imports from `%s` (layer %d), a later layer: %s:%d imports %s"
                      % (ta, rank[ta], tb, rank[tb], rel(a), line, written))
    tgraph = {a: set(bs) for a, bs in tedges.items()}
    for comp in sccs(tgraph, set(tgraph)):
        failed = True
        cyc = shortest_cycle(tgraph, comp)
        print("import cycle between top-level modules (component: %s):" % ", ".join(sorted(comp)))
        for k, a in enumerate(cyc):
            b = cyc[(k + 1) % len(cyc)]
            f, (line, written) = tedges[a][b][0]
            print("  %s -> %s: %s:%d imports %s" % (a, b, rel(f), line, written))

    if "--graph" in sys.argv:
        for ta in sorted(tedges):
            print("%s -> %s" % (ta, ", ".join(sorted(tedges[ta]))))
    if failed:
        return 1
    print("layering: %d files, no import cycles; top-level order respected" % len(crate.files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
