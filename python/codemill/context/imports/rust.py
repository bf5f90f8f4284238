"""Rust imports: ``use`` trees, ``mod a;`` (with ``#[path]``) and ``extern crate``, resolved
through the module tree of each crate (``a.rs``, ``a/mod.rs``) and workspace crates by their
``Cargo.toml`` name; ``pub use`` re-exports are followed to the defining file."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from typing import Any

from codemill.context.imports.model import FileImports, Import, Resolution
from codemill.context.imports.nodes import Captures, dotted, line, text
from codemill.context.imports.repo import LanguageResolver, dirname, join

QUERY = "(use_declaration) @use (mod_item) @mod (extern_crate_declaration) @ext"


def _use_paths(node: Any, prefix: str) -> Iterable[tuple[str, str | None]]:
    """Expands a use tree into (path, alias) pairs: ``a::{b, c::d as e}`` -> a::b, a::c::d (e)."""

    def joined(s: str) -> str:
        return f"{prefix}::{s}" if prefix else s

    t = node.type
    if t in ("identifier", "scoped_identifier", "crate", "self", "super", "metavariable"):
        yield joined(dotted(node)), None
    elif t == "use_as_clause":
        path = node.child_by_field_name("path")
        alias = node.child_by_field_name("alias")
        if path is not None:
            yield joined(dotted(path)), text(alias) if alias is not None else None
    elif t == "use_wildcard":
        inner = node.named_children[0] if node.named_children else None
        yield joined(f"{dotted(inner)}::*" if inner is not None else "*"), None
    elif t == "scoped_use_list":
        path = node.child_by_field_name("path")
        lst = node.child_by_field_name("list")
        new_prefix = joined(dotted(path)) if path is not None else prefix
        if lst is not None:
            yield from _use_paths(lst, new_prefix)
    elif t == "use_list":
        for c in node.named_children:
            if c.type == "self":
                yield prefix, None
            else:
                yield from _use_paths(c, prefix)


def _scope(node: Any) -> tuple[str, ...]:
    """The inline ``mod`` blocks around a node, outermost first."""
    scope = []
    p = node.parent
    while p is not None:
        if p.type == "mod_item":
            n = p.child_by_field_name("name")
            if n is not None:
                scope.append(text(n))
        p = p.parent
    return tuple(reversed(scope))


def extract(root: Any, caps: Captures, info: FileImports) -> None:
    del root
    for node in caps.get("use", []):
        arg = node.child_by_field_name("argument")
        if arg is None:
            continue
        scope = _scope(node)
        for path, alias in _use_paths(arg, ""):
            last = path.rsplit("::", 1)[-1]
            names = ((last, alias or last),) if last not in ("*", "self", "crate", "super") else ()
            info.imports.append(Import(path, line(node), names, kind="use", scope=scope))
    for node in caps.get("mod", []):
        if node.child_by_field_name("body") is not None:
            continue
        name = node.child_by_field_name("name")
        if name is None:
            continue
        mod = text(name)
        prev = node.prev_named_sibling
        while prev is not None and prev.type == "attribute_item":
            m = re.search(r'\bpath\s*=\s*"([^"]+)"', text(prev))
            if m:
                info.mod_paths[mod] = m.group(1)
            prev = prev.prev_named_sibling
        info.imports.append(Import(mod, line(node), kind="mod", scope=_scope(node)))
    for node in caps.get("ext", []):
        name = node.child_by_field_name("name")
        if name is not None:
            info.imports.append(Import(text(name), line(node), kind="extern"))


def _cargo_package_name(source: str) -> str | None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        m = re.search(r'^\[package\][^\[]*?^\s*name\s*=\s*"([^"]+)"', source, re.M | re.S)
        return m.group(1) if m else None
    try:
        data = tomllib.loads(source)
    except ValueError:
        return None
    for table in ("package", "lib"):
        section = data.get(table)
        if isinstance(section, dict) and isinstance(section.get("name"), str):
            return str(section["name"])
    return None


class RustResolver(LanguageResolver):
    _crates: dict[str, str] | None = None
    """crate source directory -> crate name"""
    _crate_dirs: dict[str, str] | None = None
    """crate name -> crate source directory"""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._following: set[tuple[str, str]] = set()

    def crates(self) -> tuple[dict[str, str], dict[str, str]]:
        """(crate source directory -> crate name, crate name -> source directory), from every
        Cargo.toml of the repository."""
        if self._crates is None or self._crate_dirs is None:
            crates: dict[str, str] = {}
            for d in sorted(self.repo.dirs | {""}):
                source = self.repo.read(join(d, "Cargo.toml"))
                if source is None:
                    continue
                name = _cargo_package_name(source) or posixpath.basename(d) or "crate"
                crates[join(d, "src")] = name.replace("-", "_")
            self._crates = crates
            self._crate_dirs = {name: src for src, name in crates.items()}
        return self._crates, self._crate_dirs

    def _crate_src(self, file: str) -> str:
        crates, _ = self.crates()
        d = dirname(file)
        probe = d
        while True:
            if probe in crates:
                return probe
            if not probe:
                break
            probe = dirname(probe)
        # No Cargo.toml: the nearest directory with a crate root file.
        probe = d
        while True:
            if join(probe, "lib.rs") in self.repo.files or join(probe, "main.rs") in self.repo.files:
                return probe
            if not probe:
                return d
            probe = dirname(probe)

    def _module_path(self, file: str, src: str) -> list[str]:
        """The module path of a file within its crate (``[]`` for a crate root)."""
        if src and not file.startswith(src + "/"):
            return []
        if dirname(file) == src and src not in self.crates()[0] and self._mod_file(src, []) is None:
            return []  # tests/x.rs, examples/x.rs: each file is a crate root of its own
        rel = file[len(src) + 1 :] if src else file
        parts = rel[: -len(".rs")].split("/")
        if parts[-1] == "mod" or (len(parts) == 1 and parts[0] in ("lib", "main")):
            parts = parts[:-1]
        if parts and parts[0] == "bin":
            return []
        return parts

    def _mod_file(self, src: str, parts: list[str]) -> str | None:
        if not parts:
            for root in ("lib.rs", "main.rs"):
                cand = join(src, root)
                if cand in self.repo.files:
                    return cand
            return None
        base = join(src, *parts)
        for cand in (f"{base}.rs", f"{base}/mod.rs"):
            if cand in self.repo.files:
                return cand
        return None

    def resolve(self, file: str, imp: Import) -> Resolution:
        src = self._crate_src(file)
        _, crate_dirs = self.crates()
        if imp.kind == "mod":
            info = self.repo.infos.get(file)
            override = info.mod_paths.get(imp.module) if info is not None else None
            if override:
                overridden = join(dirname(file), override)
                return Resolution((overridden,) if overridden in self.repo.files else (), in_repo=True)
            here = self._module_path(file, src) + list(imp.scope)
            found = self._mod_file(src, [*here, imp.module])
            return Resolution((found,) if found else (), in_repo=True)
        if imp.kind == "extern":
            other = crate_dirs.get(imp.module)
            if other is not None:
                found = self._mod_file(other, [])
                return Resolution((found,) if found else (), in_repo=True)
            return Resolution((), external=imp.module)
        segs = [s for s in imp.module.split("::") if s]
        if not segs:
            return Resolution((), external=imp.module)
        here = self._module_path(file, src) + list(imp.scope)
        head = segs[0]
        if head == "crate":
            base_src, base, rest = src, [], segs[1:]
        elif head in ("self", "super"):
            base = list(here)
            rest = segs
            while rest and rest[0] in ("self", "super"):
                if rest[0] == "super" and base:
                    base.pop()
                rest = rest[1:]
            base_src = src
        elif head in crate_dirs:
            base_src, base, rest = crate_dirs[head], [], segs[1:]
        elif self._mod_file(src, [*here, head]):
            base_src, base, rest = src, list(here), segs  # 2018 paths: a child module of this one
        else:
            return Resolution((), external=head)  # std, core, alloc and crates.io dependencies
        rest = [r for r in rest if r != "*"]
        for n in range(len(rest), -1, -1):
            target = self._mod_file(base_src, base + rest[:n])
            if target:
                item = rest[n] if n < len(rest) else None
                defs = ((item, self._definer(target, item)),) if item and item != "self" else ()
                return Resolution((target,), defs, in_repo=True)
        return Resolution((), in_repo=True)

    def _definer(self, file: str, item: str) -> str:
        """Follows ``pub use`` re-exports of ``item`` in ``file`` to the file that defines it."""
        info = self.repo.infos.get(file)
        key = (file, item)
        if info is None or len(self._following) > 8 or key in self._following:
            return file  # `pub use` cycles end where they started
        self._following.add(key)
        try:
            for imp in info.imports:
                if imp.kind == "use" and any(local == item for _, local in imp.names):
                    res = self.resolve(file, imp)
                    for _name, target in res.definitions:
                        if target != file:
                            return target  # already followed by the nested resolution
                    if res.files and res.files[0] != file and not res.definitions:
                        return res.files[0]
            return file
        finally:
            self._following.discard(key)
