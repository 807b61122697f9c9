"""Request bodies no prediction API should accept, derived from one valid body.

Whatever the problem type's request looks like (a batch of records, a horizon), the same
classes of mistake apply to it: a body that is not JSON, the wrong shape at the top, an
unknown field, and each value of the valid body missing or replaced by one of the wrong
kind or size. A service answers every one with a 4xx and a message, never a 5xx.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]

# Values of the wrong kind, or numbers out of any sensible range, for any one field.
_WRONG_VALUES: dict[str, Any] = {
    "null": None,
    "a string": "twelve",
    "a list": [1],
    "an object": {"value": 1},
    "a boolean": True,
    "a large negative number": -1e12,
    "a large number": 1e12,
    "an integer beyond 64 bits": 10**40,
}
# Numbers JSON has no words for, which Python's parser still reads.
_WRONG_LITERALS = ("NaN", "Infinity", "-Infinity", "1e999")
_MARK = "__malformed__"


def _leaves(value: Any, path: Path = ()) -> Iterator[Path]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        # The first item stands for the rest: they share one schema.
        if value:
            yield from _leaves(value[0], (*path, 0))
    else:
        yield path


def _objects(value: Any, path: Path = ()) -> Iterator[Path]:
    if isinstance(value, dict):
        yield path
        for key, item in value.items():
            yield from _objects(item, (*path, key))
    elif isinstance(value, list) and value:
        yield from _objects(value[0], (*path, 0))


def _lists(value: Any, path: Path = ()) -> Iterator[Path]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _lists(item, (*path, key))
    elif isinstance(value, list) and value:
        yield path
        yield from _lists(value[0], (*path, 0))


def _at(body: Any, path: Path) -> Any:
    for key in path:
        body = body[key]
    return body


def _replaced(body: Any, path: Path, value: Any) -> Any:
    changed = copy.deepcopy(body)
    if not path:
        return value
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return changed


def _without(body: Any, path: Path) -> Any:
    changed = copy.deepcopy(body)
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return changed


def _name(path: Path) -> str:
    return ".".join(str(key) for key in path)


def malformed_bodies(valid: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """Pairs of a name and a JSON body, each of them invalid, made from `valid`."""
    raw = json.dumps(valid)
    yield "empty body", b""
    yield "not JSON", b"this is not json"
    yield "truncated JSON", raw[:-1].encode()
    for name, shape in {
        "null": None,
        "a list of the body": [valid],
        "a string": raw,
        "a number": 1,
        "an empty object": {},
    }.items():
        yield f"the body is {name}", json.dumps(shape).encode()
    for path in _leaves(valid):
        if isinstance(path[-1], str):
            yield f"{_name(path)} missing", json.dumps(_without(valid, path)).encode()
        for kind, wrong in _WRONG_VALUES.items():
            yield f"{_name(path)} is {kind}", json.dumps(_replaced(valid, path, wrong)).encode()
        marked = json.dumps(_replaced(valid, path, _MARK))
        for literal in _WRONG_LITERALS:
            yield f"{_name(path)} is {literal}", marked.replace(f'"{_MARK}"', literal).encode()
    for path in _lists(valid):
        yield f"{_name(path)} is an empty list", json.dumps(_replaced(valid, path, [])).encode()
        item = _replaced(valid, path, _at(valid, path)[0])
        yield f"{_name(path)} is its first item", json.dumps(item).encode()
    for path in _objects(valid):
        if path:
            yield f"{_name(path)} is empty", json.dumps(_replaced(valid, path, {})).encode()
        unknown = _replaced(valid, (*path, "unexpected"), 1)
        yield f"an unknown field in {_name(path) or 'the body'}", json.dumps(unknown).encode()
