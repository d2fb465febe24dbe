"""Parsing untrusted JSON and YAML with bounded cost: shape checked before objects are built (issue 17).

The byte limits of bounds/limits.py are not enough on their own: 16 MB of `{},` is five million
dicts (430 MB), a YAML file nested a few thousand levels deep is a RecursionError in PyYAML, and a
YAML "billion laughs" (aliases of aliases) is small on disk but exponential once anything walks it.
So JSON's values are counted (commas and brackets, at C speed) before json.loads and its depth is
checked after; YAML's events are scanned (libyaml's parser keeps its own stack: no recursion) for
depth, self-referencing aliases and the number of values with aliases expanded, before it is composed.
"""

from __future__ import annotations

from typing import Any

from envforge.bounds import limits
from envforge.errors import EnvforgeError, ModelDirError


def load_json(text: str, where: str, error: type[EnvforgeError] = ModelDirError, remedy: str = "") -> Any:
    """json.loads(text) within limits.JSON_VALUES and JSON_DEPTH; ValueError for text that is not JSON."""
    import json

    limits.JSON_VALUES.check(text.count(",") + text.count("[") + text.count("{") + 1, where, error, remedy)
    try:
        data = json.loads(text)
    except RecursionError:
        limits.JSON_DEPTH.check(limits.JSON_DEPTH.value + 1, f"{where} (more than Python's JSON reader can nest)", error, remedy)
        raise
    if text.count("[") + text.count("{") > limits.JSON_DEPTH.value:  # only then can it be too deep
        limits.JSON_DEPTH.check(json_depth(data, limits.JSON_DEPTH.value), where, error, remedy, at_least=True)
    return data


def json_depth(data: Any, stop: int) -> int:
    """How deeply `data` nests lists and dicts (iteratively), or stop + 1 as soon as it is deeper than `stop`."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        if depth > stop:
            return depth
        deepest = max(deepest, depth)
        todo.extend((item, depth + 1) for item in value if isinstance(item, (list, dict)))
    return deepest


def load_yaml(text: str, where: str) -> Any:
    """yaml's safe load of `text`, after checking its shape; yaml.YAMLError for text that is not YAML."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    check_yaml_shape(text, where, loader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader (libyaml's when there is one)


def check_yaml_shape(text: str, where: str, loader: Any) -> None:
    import yaml

    max_depth, max_nodes = limits.YAML_DEPTH.value, limits.YAML_NODES.value
    sizes: dict[str, int] = {}
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, values counted before it) of each open collection
    total = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in open_nodes):
                raise ModelDirError(f"{where}: the YAML alias *{event.anchor} refers to a node that contains it (a "
                                    "structure that never ends).", "Fix the file or re-log the model.")
            total += sizes.get(str(event.anchor), 1)
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            total += 1
            open_nodes.append((event.anchor, total))
            if len(open_nodes) > max_depth:
                limits.YAML_DEPTH.check(len(open_nodes), where, at_least=True)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)) and open_nodes:
            anchor, before = open_nodes.pop()
            if anchor:
                sizes[anchor] = total - before + 1
        if total > max_nodes:
            limits.YAML_NODES.check(total, where, at_least=True)
