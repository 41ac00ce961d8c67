"""raretune.datasets' modules import each other in one direction only (no cycles)."""

from __future__ import annotations

import re
from pathlib import Path

import raretune.datasets

PACKAGE = Path(raretune.datasets.__file__).parent


def import_graph() -> dict:
    """Module -> the sibling modules it imports with ``from .x import`` (at any indentation)."""
    graph = {}
    for path in PACKAGE.glob("*.py"):
        text = path.read_text()
        graph[path.stem] = {m for m in re.findall(r"^\s*from \.(\w+) import", text, re.M) if m != path.stem}
        graph[path.stem] |= {"builders"} if re.search(r"^\s*from \. import builders", text, re.M) else set()
    return graph


def find_cycle(graph: dict):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
            if nxt not in state:
                found = visit(nxt, stack + [nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_find_cycle_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_datasets_modules_import_without_cycles():
    graph = import_graph()
    assert {"_labels", "_table", "_images", "_tfds", "_sources"} <= set(graph)
    assert find_cycle(graph) is None, graph


def test_one_dispatcher_and_one_tfds_reader():
    graph = import_graph()
    # only the dispatcher reads TFDS and tf.data; only the public readers use the dispatcher
    assert {m for m, deps in graph.items() if "_tfds" in deps} == {"_sources"}
    assert {m for m, deps in graph.items() if "_sources" in deps} <= {"_loaders", "__init__"}
    text = "".join(p.read_text() for p in PACKAGE.glob("*.py"))
    assert text.count("tfds.builder(") == 1 and text.count("download_and_prepare()") == 1
