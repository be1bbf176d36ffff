"""A valid instance of a JSON Schema: the arguments the auto mode puts in a tool call.

Covers what tool schemas use (OpenAI function tools, Pydantic, the OpenAI Agents SDK's
strict schemas): `type` (one or a list) object/string/integer/number/boolean/array/null,
`properties` (every one is filled, not only the `required` ones), `required`, `enum`,
`const`, `anyOf`/`oneOf` (the first option that is not null), `allOf` (merged), `$ref` to
anywhere in the same schema (`#/$defs/...`, `#/definitions/...`), `default` (unless it is
null, empty or holds strings: then a generated value says more), `items`,
`prefixItems`, `minItems`/`maxItems`, `minimum`/`maximum` (exclusive too), `multipleOf`,
`minLength`/`maxLength`. Not honoured: string `pattern` and `format`, `uniqueItems` for
non-strings, `not`, `if`/`then`, `dependentRequired`.

The value is fully determined by the schema and the text given: no randomness. Every
string reads "<property name> <text>", so a correlation token passed as `text` is in
every string the agent gets back (unless `maxLength` leaves no room, or an `enum` or
`const` decides the value).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

# Past this depth, recursion is cut short: optional branches become null, arrays take
# their minimum length, objects only their required properties.
SHALLOW_DEPTH = 6
# A schema that still nests this deep requires an infinite instance (or loops through $ref).
MAX_DEPTH = 40


class SchemaError(ValueError):
    """The schema cannot be instantiated: it is not a schema, or needs what this generator does not do."""


def instance(schema: Any, *, text: str | None = None) -> Any:
    """A value valid against `schema`, whose strings carry `text` (e.g. a correlation token)."""
    return _Generator(schema, text).value(schema, "value", 0)


def violation(schema: Any, *, text: str | None = None) -> Any:
    """Valid JSON that `schema` refuses, close to a valid instance (the mistakes models make):
    a required property left out; else a property of the wrong type; else a property the
    schema does not allow; else, for a schema that takes any object, an array instead.

    The one exception: a schema that refuses nothing ({} or true) has no violation; its
    valid instance is returned (the caller compares to tell)."""
    generator = _Generator(schema, text)
    valid = generator.value(schema, "value", 0)
    flat = generator.flattened(schema, 0) if isinstance(schema, Mapping) else {}
    if not isinstance(valid, dict):
        return {"value": valid} if flat else valid  # an object where something else is wanted
    required = [name for name in flat.get("required") or [] if name in valid]
    if required:
        return {name: item for name, item in valid.items() if name != required[0]}
    properties = flat.get("properties") or {}
    for name, item in valid.items():
        kind = _kind(generator.flattened(properties[name], 0)) if isinstance(properties.get(name), Mapping) else None
        if kind is not None and kind != "null":
            return valid | {name: 12345 if kind == "string" else f"not a {kind} {text or ''}".strip()}
    if flat.get("additionalProperties") is False:
        return valid | {"unexpected": text or "unexpected"}
    return [valid] if flat else valid


class _Generator:
    def __init__(self, root: Any, text: str | None) -> None:
        self.root = root
        self.text = text

    def value(self, schema: Any, name: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise SchemaError(
                f"the schema nests deeper than {MAX_DEPTH} levels at {name!r}: "
                "a recursive $ref that every instance must follow?"
            )
        if schema is True:
            return self.string({}, name)
        if not isinstance(schema, Mapping):
            raise SchemaError(f"expected a JSON Schema object (or true) at {name!r}, got {schema!r}")
        schema = self.flattened(schema, depth)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        if "default" in schema and _telling(schema["default"]):
            return schema["default"]
        options = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(options, list) and options:
            rest = {key: item for key, item in schema.items() if key not in ("anyOf", "oneOf")}
            return self.value(self.merged(rest, self.option(options, depth)), name, depth + 1)
        kind = _kind(schema)
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, name, depth)
        if kind in ("integer", "number"):
            return _number(schema, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self.string(schema, name)

    def flattened(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        """The schema with its `$ref` and `allOf` folded in, so one dict says everything."""
        flat = dict(schema)
        for _ in range(MAX_DEPTH):
            ref = flat.pop("$ref", None)
            parts = flat.pop("allOf", None)
            if ref is None and parts is None:
                return flat
            if ref is not None:
                flat = self.merged(self.resolve(ref), flat)
            for part in parts or []:
                if not isinstance(part, Mapping):
                    raise SchemaError(f"allOf items must be schema objects, got {part!r}")
                flat = self.merged(flat, part)
        raise SchemaError(f"$ref/allOf chains longer than {MAX_DEPTH} (a $ref that refers to itself?)")

    def resolve(self, ref: Any) -> Mapping[str, Any]:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"only $refs within the schema (#/$defs/..., #/definitions/...) work, got {ref!r}")
        target: Any = self.root
        for step in [unquote(part).replace("~1", "/").replace("~0", "~") for part in ref[1:].split("/")[1:]]:
            if isinstance(target, Mapping) and step in target:
                target = target[step]
            elif isinstance(target, list) and step.isdigit() and int(step) < len(target):
                target = target[int(step)]
            else:
                raise SchemaError(f"$ref {ref!r} points nowhere: no {step!r} in the schema")
        if target is True:
            return {}
        if not isinstance(target, Mapping):
            raise SchemaError(f"$ref {ref!r} points to {target!r}, not a schema")
        return target

    @staticmethod
    def merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
        """Both schemas at once: properties united, required united, otherwise `extra` wins."""
        result = dict(base) | dict(extra)
        if "properties" in base and "properties" in extra:
            result["properties"] = dict(base["properties"]) | dict(extra["properties"])
        if "required" in base and "required" in extra:
            result["required"] = list(dict.fromkeys([*base["required"], *extra["required"]]))
        return result

    @staticmethod
    def option(options: list[Any], depth: int) -> Mapping[str, Any]:
        """The first option that is not null; deep down, null if it is an option (to end recursion)."""
        nulls = [o for o in options if isinstance(o, Mapping) and o.get("type") == "null"]
        others = [o for o in options if o not in nulls]
        chosen = (nulls or others)[0] if depth > SHALLOW_DEPTH else (others or nulls)[0]
        if chosen is True:
            return {}
        if not isinstance(chosen, Mapping):
            raise SchemaError(f"anyOf/oneOf options must be schema objects, got {chosen!r}")
        return chosen

    def object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = list(schema.get("required") or [])
        names = required if depth > SHALLOW_DEPTH else list(dict.fromkeys([*properties, *required]))
        return {name: self.value(properties.get(name, True), name, depth + 1) for name in names}

    def array(self, schema: Mapping[str, Any], name: str, depth: int) -> list[Any]:
        prefix = list(schema.get("prefixItems") or [])
        items = schema.get("items", True)
        if isinstance(items, list):  # draft 4-7 tuple form
            prefix, items = items, schema.get("additionalItems", True)
        least = int(schema.get("minItems", 0))
        count = max(least, len(prefix) if depth <= SHALLOW_DEPTH else 0, 1 if depth <= SHALLOW_DEPTH else 0)
        if items is False:
            count = min(count, len(prefix))
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        unique = count > 1
        return [
            self.value(prefix[i] if i < len(prefix) else items, f"{name} {i + 1}" if unique else name, depth + 1)
            for i in range(count)
        ]

    def string(self, schema: Mapping[str, Any], name: str) -> str:
        text = f"{name} {self.text}" if self.text else name
        longest = schema.get("maxLength")
        if isinstance(longest, int) and len(text) > longest:
            text = (self.text if self.text and len(self.text) <= longest else text)[:longest]
        shortest = schema.get("minLength")
        if isinstance(shortest, int) and len(text) < shortest:
            text = text.ljust(shortest, ".")
        return text


def _kind(schema: Mapping[str, Any]) -> str:
    declared = schema.get("type")
    if isinstance(declared, list):
        real = [kind for kind in declared if kind != "null"]
        declared = real[0] if real else "null"
    if isinstance(declared, str):
        return declared
    if any(key in schema for key in ("properties", "required", "additionalProperties")):
        return "object"
    if any(key in schema for key in ("items", "prefixItems", "minItems")):
        return "array"
    if any(key in schema for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    return "string"


def _number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    """1 if it fits; else the first of a few values near the bounds that fits them and `multipleOf`."""
    low, low_open = _bound(schema, "minimum", "exclusiveMinimum")
    high, high_open = _bound(schema, "maximum", "exclusiveMaximum")
    step = schema.get("multipleOf")
    step = step if isinstance(step, (int, float)) and not isinstance(step, bool) and step > 0 else None

    def fits(value: float) -> bool:
        return (
            (low is None or value > low or (not low_open and value == low))
            and (high is None or value < high or (not high_open and value == high))
            and (not integer or value.is_integer())
            and (step is None or math.isclose(round(value / step) * step, value))
        )

    candidates = [1.0, 0.0]
    for edge in (low, high):
        if edge is not None:
            candidates += [edge, edge + 1, edge - 1, float(math.ceil(edge)), float(math.floor(edge))]
    if low is not None and high is not None:
        candidates.append((low + high) / 2)
    if step is not None:
        candidates += [float(f(c / step) * step) for c in list(candidates) for f in (math.ceil, math.floor)]
    for value in candidates:
        if fits(value):
            return int(value) if value.is_integer() else value
    kind = "integer" if integer else "number"
    raise SchemaError(f"found no {kind} that fits {dict(schema)!r}")


def _bound(schema: Mapping[str, Any], inclusive: str, exclusive: str) -> tuple[float | None, bool]:
    """A bound and whether it is exclusive; draft 4 spells an exclusive bound as a boolean flag."""
    flag = schema.get(exclusive)
    if isinstance(flag, (int, float)) and not isinstance(flag, bool):
        return float(flag), True
    value = schema.get(inclusive)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), flag is True
    return None, False


def _telling(default: Any) -> bool:
    """Whether a default is worth answering with: not null or empty (generating says more), and no
    strings (which would not carry the text)."""
    if default is None or isinstance(default, str) or default in ([], {}):
        return False
    if isinstance(default, Mapping):
        return all(_telling(item) for item in default.values())
    if isinstance(default, list):
        return all(_telling(item) for item in default)
    return True
