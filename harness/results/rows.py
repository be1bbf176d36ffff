"""The judge's typed rows as JSON objects: ``row_to_json`` writes one, ``read_as`` reads any
declared type from a JSON value, leniently, so older and hand-edited results.json files
still read.

A row is written with its JSON names (``"class"`` for ``class_``), without the optional
fields that are empty, and with the keys it kept in ``extra``. Reading is lenient: a value of
the wrong type is coerced where that is safe (``1`` for a float, ``5.0`` for an int, ``3``
for a string), else the field gets its default; items of a list or dict that do not fit are
dropped; keys a row does not know go into its ``extra``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, Field, fields, is_dataclass
from functools import cache
from typing import Any, Literal, TypeVar, get_args, get_origin

from harness.checker.judgement import CallRow, FaultRow, FindingRow, Row, SideEffectRow

R = TypeVar("R")

# field -> JSON key, where they differ
JSON_NAMES: dict[type, dict[str, str]] = {CallRow: {"class_": "class"}, SideEffectRow: {"class_": "class"}}
# fields written only when set
OMIT_WHEN_EMPTY: dict[type, tuple[str, ...]] = {FaultRow: ("detail",), FindingRow: ("bug_class", "advice")}


class Unfit(Exception):
    """A value that does not fit a field's type: the field gets its default."""


def row_to_json(row: Row) -> dict[str, Any]:
    """``row`` as the JSON object results.json holds."""
    names, omit = JSON_NAMES.get(type(row), {}), OMIT_WHEN_EMPTY.get(type(row), ())
    out: dict[str, Any] = {}
    for f in fields(row):
        value = getattr(row, f.name)
        if f.name == "extra" or (f.name in omit and not value):
            continue
        if isinstance(value, Row):  # nested rows (the impact's) as JSON objects too
            value = row_to_json(value)
        elif isinstance(value, list) and value and isinstance(value[0], Row):
            value = [row_to_json(v) for v in value]
        out[names.get(f.name, f.name)] = value
    out.update((k, v) for k, v in row.extra.items() if k not in out)
    return out


def row_from_json(cls: type[R], data: Any) -> R:
    """A row of type ``cls`` from a JSON object; ``ValueError`` when ``data`` is not one."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a {cls.__name__} is a JSON object, not {type(data).__name__}")
    values, unknown = read_fields(cls, data, JSON_NAMES.get(cls, {}))
    return cls(**values, extra=unknown)


def read_fields(cls: type, data: Mapping[str, Any], names: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(field values, unknown keys) of ``data`` for the dataclass ``cls``; ``names`` maps a
    field to its JSON key where they differ. ``Unfit`` when a required field is missing."""
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name == "extra":
            continue
        key = names.get(f.name, f.name)
        try:
            values[f.name] = read_as(hints[f.name], data[key]) if key in data else _default(f)
        except Unfit:
            values[f.name] = _default(f)
    known = {names.get(f.name, f.name) for f in fields(cls)}
    return values, {str(k): v for k, v in data.items() if k not in known}


def read_as(tp: Any, value: Any) -> Any:
    """``value`` read as type ``tp``, or ``Unfit``. Lists and dicts drop the items that do not fit."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if tp in _SCALARS:
        return _SCALARS[tp](value)
    if origin is Literal:
        return _fit(value in args, value)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return read_as(arg, value)
            except Unfit:
                pass
        raise Unfit
    if is_dataclass(tp):
        return value if isinstance(value, tp) else row_from_json(tp, _fit(isinstance(value, Mapping), value))
    if origin is list:
        return _kept((read_as, args[0], item) for item in _fit(isinstance(value, (list, tuple)), value))
    if origin is dict:
        items = _fit(isinstance(value, Mapping), value).items()
        return dict(_kept((_keyed, args[1], item) for item in items))
    raise TypeError(f"results: no way to read {tp!r}")


def _fit(ok: bool, value: Any) -> Any:
    if not ok:
        raise Unfit
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_SCALARS: dict[type, Any] = {
    bool: lambda v: _fit(isinstance(v, bool), v),
    int: lambda v: int(_fit(_number(v) and (isinstance(v, int) or v.is_integer()), v)),
    float: lambda v: float(_fit(_number(v), v)),
    str: lambda v: v if isinstance(v, str) else str(_fit(isinstance(v, (int, float)), v)),  # a scalar reads as text
}


def _keyed(tp: Any, item: tuple[Any, Any]) -> tuple[str, Any]:
    return str(item[0]), read_as(tp, item[1])


def _kept(reads: Any) -> list[Any]:
    out = []
    for read, tp, item in reads:
        try:
            out.append(read(tp, item))
        except Unfit:
            continue
    return out


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise Unfit  # a required field


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


__all__ = ["read_as", "read_fields", "row_from_json", "row_to_json"]
