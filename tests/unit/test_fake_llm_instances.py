"""The JSON Schema instance generator behind the auto mode's tool-call arguments: each value
must be valid against its schema (checked by hand, and by Pydantic for the schemas it emits),
and every string must carry the text it is given (the correlation token)."""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

import pytest
from openai import pydantic_function_tool
from pydantic import BaseModel, Field

from harness.fake_llm.instances import SchemaError, instance
from tests.unit.fake_llm_helpers import TOKEN, schema_errors, strings_in


def valid(schema: Any) -> Any:
    value = instance(schema, text=TOKEN)
    assert schema_errors(value, schema) == [], value
    return value


# --- Pydantic and the OpenAI SDK's strict schemas, with $defs and $ref ------------------------


class Priority(str, Enum):
    LOW = "low"
    HIGH = "high"


class Address(BaseModel):
    street: str
    city: str = Field(max_length=40)
    country: Literal["NL", "DE"] = "NL"


class LineItem(BaseModel):
    sku: str = Field(min_length=3)
    quantity: int = Field(ge=1, le=99)
    price: float = Field(gt=0, multiple_of=0.5)


class Order(BaseModel):
    """Everything at once: nested models by $ref, lists of them, optionals, enums, bounds."""

    customer: str
    priority: Priority
    shipping: Address
    billing: Address | None = None
    items: list[LineItem] = Field(min_length=2)
    notes: list[str] = []
    discount: float | None = None
    gift: bool = False
    tags: dict[str, str] = {}


class Tree(BaseModel):
    label: str
    children: list[Tree] = []
    parent: Tree | None = None


def test_a_pydantic_schema_with_defs_gives_arguments_pydantic_accepts() -> None:
    schema = Order.model_json_schema()
    assert "$defs" in schema  # what the test is about: $ref resolution

    arguments = valid(schema)
    order = Order.model_validate(arguments)

    assert (order.shipping.country, order.priority, len(order.items)) == ("NL", Priority.LOW, 2)
    assert order.billing is not None  # an optional is filled, not left null
    assert all(item.quantity >= 1 and item.price > 0 for item in order.items)


def test_an_openai_strict_tool_schema_gives_arguments_pydantic_accepts() -> None:
    parameters = pydantic_function_tool(Order)["function"]["parameters"]
    assert parameters["additionalProperties"] is False

    Order.model_validate(valid(parameters))


def test_the_old_definitions_spelling_and_a_ref_with_siblings() -> None:
    schema = {
        "type": "object",
        "properties": {"where": {"$ref": "#/definitions/Place", "description": "where to go"}},
        "required": ["where"],
        "definitions": {"Place": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
    }

    assert valid(schema) == {"where": {"name": f"name {TOKEN}"}}


def test_a_recursive_schema_ends() -> None:
    tree = Tree.model_validate(valid(Tree.model_json_schema()))

    depth = 0
    while tree.children:
        tree, depth = tree.children[0], depth + 1
    assert 0 < depth < 20


def test_a_schema_that_requires_infinite_recursion_says_so() -> None:
    schema = {"$ref": "#/$defs/Loop", "$defs": {"Loop": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Loop"}},
                                                          "required": ["next"]}}}

    with pytest.raises(SchemaError, match="nests deeper than"):
        instance(schema)


@pytest.mark.parametrize(
    ("ref", "complaint"),
    [("#/$defs/Missing", "points nowhere: no 'Missing'"), ("other.json#/a", "only \\$refs within the schema")],
)
def test_a_ref_that_cannot_be_followed_says_why(ref: str, complaint: str) -> None:
    with pytest.raises(SchemaError, match=complaint):
        instance({"type": "object", "properties": {"x": {"$ref": ref}}, "$defs": {}})


# --- keyword by keyword ---------------------------------------------------------------------------


def test_every_property_is_filled_and_every_string_carries_the_text() -> None:
    schema = {
        "type": "object",
        "properties": {
            "reason": {"type": "string"},
            "when": {"type": "string", "format": "date-time"},
            "lines": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3},
            "deep": {"type": "object", "properties": {"note": {"type": ["string", "null"]}}},
        },
        "required": ["reason", "also"],
    }

    value = valid(schema)

    assert set(value) == {"reason", "when", "lines", "deep", "also"}
    assert value["reason"] == f"reason {TOKEN}"
    assert value["lines"] == [f"lines {n} {TOKEN}" for n in (1, 2, 3)]  # distinct, in case uniqueItems
    assert all(TOKEN in text for text in strings_in(value))


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer"}, 1),
        ({"type": "integer", "minimum": 5}, 5),
        ({"type": "integer", "exclusiveMinimum": 5}, 6),
        ({"type": "integer", "maximum": -3}, -3),
        ({"type": "integer", "exclusiveMaximum": 0}, -1),
        ({"type": "integer", "minimum": 10, "multipleOf": 7}, 14),
        ({"type": "integer", "minimum": 2.5, "maximum": 3.5}, 3),
        ({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, 0.5),
        ({"type": "number", "minimum": 0, "maximum": 1}, 1),
        ({"type": "number", "minimum": 0.25, "maximum": 0.75, "multipleOf": 0.25}, 0.25),
        ({"type": "number", "minimum": 3, "exclusiveMinimum": True}, 4),  # draft 4 spelling
        ({"maximum": 0}, 0),  # no type, but bounds: a number
    ],
)
def test_numbers_respect_their_bounds(schema: dict[str, Any], expected: float) -> None:
    assert valid(schema) == expected


def test_impossible_bounds_say_so() -> None:
    with pytest.raises(SchemaError, match="no integer that fits"):
        instance({"type": "integer", "minimum": 1.2, "maximum": 1.8})


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"enum": ["celsius", "fahrenheit"]}, "celsius"),
        ({"type": "string", "const": "fixed"}, "fixed"),
        ({"type": "integer", "default": 42}, 42),
        ({"type": "string", "default": "plain"}, f"value {TOKEN}"),  # a string default gives way to the token
        ({"anyOf": [{"type": "null"}, {"type": "boolean"}]}, True),  # the first option that is not null
        ({"oneOf": [{"type": "integer", "minimum": 3}, {"type": "string"}]}, 3),
        ({"allOf": [{"properties": {"a": {"type": "integer"}}}, {"properties": {"b": {"type": "boolean"}}}]},
         {"a": 1, "b": True}),
        ({"type": "string", "maxLength": 16}, TOKEN),  # room for the token, not the name
        ({"type": "string", "maxLength": 4}, "valu"),
        ({"type": "string", "minLength": 30}, f"value {TOKEN}........"),
        ({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}], "items": False}, [1, True]),
        ({"type": "array", "maxItems": 0}, []),
        ({"type": "null"}, None),
        ({}, f"value {TOKEN}"),
        ({"type": "object", "additionalProperties": False}, {}),
    ],
)
def test_keywords(schema: dict[str, Any], expected: Any) -> None:
    assert valid(schema) == expected


def test_without_text_strings_are_just_their_names() -> None:
    assert instance({"type": "object", "properties": {"city": {"type": "string"}}}) == {"city": "city"}
