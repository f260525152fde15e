"""A small dependency graph of results (``AsyncResult.graph``), as Celery's."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import IO, Generic, TypeVar

__all__ = ["DependencyGraph"]

T = TypeVar("T", bound=Hashable)


class DependencyGraph(Generic[T]):
    """Adjacency lists: ``graph[a]`` lists the nodes ``a`` has an edge to.

    >>> g = DependencyGraph[str]()
    >>> g.add_edge("root", "child")
    >>> list(g), g["root"]
    (['root', 'child'], ['child'])
    """

    def __init__(self) -> None:
        self.adjacent: dict[T, list[T]] = {}

    def add_arc(self, obj: T) -> None:
        """Add a node (no edges)."""
        self.adjacent.setdefault(obj, [])

    def add_edge(self, a: T, b: T) -> None:
        """Add an edge from ``a`` to ``b`` (both become nodes)."""
        self.add_arc(a)
        self.add_arc(b)
        self.adjacent[a].append(b)

    def edges(self) -> Iterator[tuple[T, T]]:
        for a, targets in self.adjacent.items():
            for b in targets:
                yield a, b

    def topsort(self) -> list[T]:
        """Nodes ordered so that every edge goes from an earlier to a later node."""
        incoming = {node: 0 for node in self.adjacent}
        for _, b in self.edges():
            incoming[b] += 1
        ready = [node for node, n in incoming.items() if n == 0]
        order: list[T] = []
        while ready:
            node = ready.pop(0)
            order.append(node)
            for b in self.adjacent[node]:
                incoming[b] -= 1
                if incoming[b] == 0:
                    ready.append(b)
        return order

    def to_dot(self, fh: IO[str]) -> None:
        """Write the graph in GraphViz dot format."""
        fh.write("digraph dependencies {\n")
        for node in self.adjacent:
            fh.write(f'  "{node}";\n')
        for a, b in self.edges():
            fh.write(f'  "{a}" -> "{b}";\n')
        fh.write("}\n")

    def __getitem__(self, node: T) -> list[T]:
        return self.adjacent[node]

    def __contains__(self, node: object) -> bool:
        return node in self.adjacent

    def __iter__(self) -> Iterator[T]:
        return iter(self.adjacent)

    def __len__(self) -> int:
        return len(self.adjacent)

    def __repr__(self) -> str:
        return f"<DependencyGraph nodes={len(self)} edges={sum(1 for _ in self.edges())}>"
