"""The repository's symbol table: every definition name -> where it is defined (file, position
in the file's symbols, top-level or member), for looking up the identifiers a question or a
search query names without parsing every file's symbols.

Saved with the graph as three raw sections (:func:`saved_form`): the names, sorted, one per
line; for each name where its entries start (little-endian uint32); and the entries as
(file, position, top-level) uint32 triples, files numbered in path order. A loaded table is
read where it lies: splitting the names is the only work before the first lookup.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from codemill.context.ranking import little_endian

if TYPE_CHECKING:
    from codemill.context.graph import ImportGraph

Entry = tuple[str, int, bool]
"""(file, position in the file's symbols, whether the definition is top-level)"""


class SymbolTable:
    """Definition name -> its :data:`Entry` list, names sorted."""

    def __init__(self, files: Sequence[str], names: list[str], starts: Sequence[int], entries: Sequence[int]) -> None:
        if len(starts) != len(names) + 1 or (starts and (starts[0] != 0 or 3 * starts[-1] != len(entries))):
            raise ValueError(f"{len(starts)} starts and {len(entries)} entries for {len(names)} names")
        self.files = files
        self.names = names
        self._starts = starts
        self._entries = entries

    @classmethod
    def build(cls, graph: ImportGraph) -> SymbolTable:
        """The table of a graph's current symbols."""
        files = sorted(graph.files)
        found: dict[str, list[int]] = {}
        for k, rel in enumerate(files):
            for j, d in enumerate(graph.symbols[rel].definitions):
                found.setdefault(d.name, []).extend((k, j, int(d.parent is None)))
        names = sorted(found)
        starts, entries = array("I", [0]), array("I")
        for name in names:
            entries.extend(found[name])
            starts.append(len(entries) // 3)
        return cls(files, names, starts, entries)

    def named(self, name: str) -> list[Entry]:
        """Where ``name`` is defined, files in path order; ValueError where a saved table names
        a file it does not have."""
        i = bisect_left(self.names, name)
        if i == len(self.names) or self.names[i] != name:
            return []
        e = self._entries
        out = []
        for t in range(self._starts[i], self._starts[i + 1]):
            k = e[3 * t]
            if k >= len(self.files):
                raise ValueError(f"the entry of {name!r} names file {k} of {len(self.files)}")
            out.append((self.files[k], e[3 * t + 1], bool(e[3 * t + 2])))
        return out


def saved_form(table: SymbolTable) -> dict[str, bytes]:
    """The table's three sections (see the module's description)."""
    return {
        "names": "\n".join(table.names).encode("utf-8"),
        "starts": little_endian(array("I", table._starts)),
        "entries": little_endian(array("I", table._entries)),
    }


def from_saved(files: Sequence[str], saved: Mapping[str, Any]) -> SymbolTable:
    """The table saved by :func:`saved_form` over ``files`` (in path order); ValueError,
    KeyError or TypeError where it is not what was saved."""
    raw = {k: saved[k] for k in ("names", "starts", "entries")}
    if not all(isinstance(v, bytes) for v in raw.values()):
        raise TypeError("symbol table sections are not bytes")
    if len(raw["starts"]) % 4 or len(raw["entries"]) % 4:
        raise ValueError("symbol table arrays are not whole numbers of 4-byte integers")
    names = raw["names"].decode("utf-8").split("\n") if raw["names"] else []
    return SymbolTable(files, names, memoryview(raw["starts"]).cast("I"), memoryview(raw["entries"]).cast("I"))
