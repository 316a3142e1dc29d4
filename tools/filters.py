"""Helicone's filter tree for `request_response_rmt`: leaves, branches and "all", validated strictly.

The models accept what Helicone's API accepts (tsoa, filterDefs.ts) and reject, with a message that
says what to do instead, the shapes Helicone silently mishandles: a leaf or operator object holding more
than one condition (Helicone keeps only the first), empty operator objects (Helicone answers 500) and
non-integer score values (Helicone answers a ClickHouse error).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    create_model,
    field_validator,
    model_validator,
)

from heliqa.tools.limits import MAX_SCORE_DIGITS, number_problem, text_problem

TEXT_OPERATORS = ("equals", "not-equals", "like", "ilike", "contains", "not-contains")
NUMBER_OPERATORS = ("equals", "not-equals", "gte", "lte", "lt", "gt")
TIMESTAMP_OPERATORS = ("equals", "gte", "lte", "lt", "gt")
BOOLEAN_OPERATORS = ("equals",)

# validator.js isISO8601(strict): date, optional T/space time, optional fraction and offset.
_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|z|[+-]\d{2}:?\d{2})?)?$"
)


def parse_instant(value: str) -> datetime:
    """Parse an ISO 8601 instant as Helicone does (no zone = UTC); raise ValueError otherwise."""
    if not isinstance(value, str) or not _ISO.match(value):
        raise ValueError("invalid ISO 8601 datetime format, i.e. YYYY-MM-DDTHH:mm:ss")
    text = value.replace(" ", "T", 1).replace("z", "Z")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    frac = re.search(r"\.(\d+)", text)
    if frac and len(frac.group(1)) > 6:  # Python keeps microseconds at most
        text = text.replace(frac.group(0), "." + frac.group(1)[:6])
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("invalid ISO 8601 datetime format, i.e. YYYY-MM-DDTHH:mm:ss") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:  # an offset at the calendar's edge (0001-01-01T00:00+14:00) has no UTC instant
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value} has no UTC instant inside the calendar (years 1-9999)") from None
    return moment


def _number(value: Any) -> Any:
    # tsoa coerces anything whose String(value) is a float; true, null and "" fail.
    if isinstance(value, bool) or value is None:
        raise ValueError("invalid float number")
    if isinstance(value, (int, float)):
        problem = number_problem(value)
        if problem:
            raise ValueError(problem)
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value, re.ASCII):
        number = float(value)
        problem = number_problem(number)
        if problem:
            raise ValueError(problem)
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    raise ValueError("invalid float number")


def _boolean(value: Any) -> Any:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("invalid boolean value")


def _string(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("invalid string value")
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def like_pattern(value: str) -> str:
    """A LIKE pattern every engine accepts: a trailing unpaired backslash becomes a literal backslash.

    Backslash escapes `%`, `_` and itself as in Helicone's ClickHouse, which refuses a pattern ending in a
    lone escape (CANNOT_PARSE_ESCAPE_SEQUENCE) as DuckDB does; read as text, `C:\\` means the backslash.
    """
    trailing = len(value) - len(value.rstrip("\\"))
    return value + "\\" if trailing % 2 else value


def _like(value: Any) -> Any:
    return like_pattern(_string(value))


def _timestamp(value: Any) -> Any:
    parse_instant(value)
    return value


Number = Annotated[float | int, BeforeValidator(_number)]
Boolean = Annotated[bool, BeforeValidator(_boolean)]
Text = Annotated[str, BeforeValidator(_string)]
LikeText = Annotated[str, BeforeValidator(_like)]
Timestamp = Annotated[str, BeforeValidator(_timestamp)]

# By alias only: Helicone would reject `not_equals` or `helicone_score_feedback` as excess properties.
_STRICT = ConfigDict(extra="forbid", frozen=True)


class _Operators(BaseModel):
    """An operator object: exactly one operator key with its value."""

    model_config = _STRICT
    coerce: ClassVar[Callable[[Any], Any]] = staticmethod(_string)

    @field_validator("*", mode="before")
    @classmethod
    def _explicit_null(cls, value: Any) -> Any:
        # An explicit null would otherwise match the `| None` default and vanish from the JSON sent on;
        # tsoa coerces it like any value (booleans: false; numbers, strings, timestamps: rejected).
        return cls.coerce(None) if value is None else value

    @model_validator(mode="after")
    def _one_operator(self) -> _Operators:
        fields = type(self).model_fields
        used = [fields[name].alias or name for name in self.model_fields_set]
        allowed = ", ".join(fields[name].alias or name for name in fields)
        if not used:
            raise ValueError(f"empty operator object; give exactly one of: {allowed}")
        if len(used) > 1:
            raise ValueError(
                f"holds {len(used)} operators ({', '.join(sorted(used))}); Helicone would use only the first. "
                "Put one operator per leaf and combine leaves with {left, operator: 'and', right}"
            )
        return self

    @property
    def operator(self) -> str:
        """The one operator used, as Helicone spells it."""
        name = next(iter(self.model_fields_set))
        return type(self).model_fields[name].alias or name

    @property
    def value(self) -> Any:
        """The operand of the one operator."""
        return getattr(self, next(iter(self.model_fields_set)))


class TextOperators(_Operators):
    equals: Text | None = None
    not_equals: Text | None = Field(None, alias="not-equals")
    like: LikeText | None = None
    ilike: LikeText | None = None
    contains: Text | None = None
    not_contains: Text | None = Field(None, alias="not-contains")


class NumberOperators(_Operators):
    coerce = staticmethod(_number)
    equals: Number | None = None
    not_equals: Number | None = Field(None, alias="not-equals")
    gte: Number | None = None
    lte: Number | None = None
    lt: Number | None = None
    gt: Number | None = None


class TimestampOperators(_Operators):
    coerce = staticmethod(_timestamp)
    equals: Timestamp | None = None
    gte: Timestamp | None = None
    lte: Timestamp | None = None
    lt: Timestamp | None = None
    gt: Timestamp | None = None


class BooleanOperators(_Operators):
    coerce = staticmethod(_boolean)
    equals: Boolean | None = None


class PropertyKeyOperators(_Operators):
    equals: Text


class ScoreOperators(TextOperators):
    """Scores are stored as Int64: only (not-)equals against an integer string compare correctly."""

    @model_validator(mode="after")
    def _integer_equality(self) -> ScoreOperators:
        if self.model_fields_set and self.operator not in ("equals", "not-equals"):
            raise ValueError(
                f"'{self.operator}' cannot compare scores (stored as integers); use equals or not-equals "
                'with an integer string such as "1"'
            )
        if isinstance(self.value, str) and not re.fullmatch(r"-?\d+", self.value):
            raise ValueError(f'score values are integers: {self.value!r} is not an integer string such as "1"')
        if isinstance(self.value, str) and len(self.value.lstrip("-")) > MAX_SCORE_DIGITS:
            # past 4,300 digits Python cannot even read the integer
            raise ValueError(f"score values are limited to {MAX_SCORE_DIGITS} digits (number magnitude)")
        return self


def _one_map_key(value: Any) -> Any:
    if isinstance(value, dict) and len(value) != 1:
        if not value:
            raise ValueError(
                'empty map; give one key with its operator object, e.g. {"environment": {"equals": "production"}}'
            )
        raise ValueError(
            f"holds {len(value)} keys ({', '.join(map(str, value))}); Helicone would use only the first. "
            "Put one key per leaf and combine leaves with {left, operator: 'and', right}"
        )
    return value


TextMap = Annotated[dict[str, TextOperators], BeforeValidator(_one_map_key)]
ScoreMap = Annotated[dict[str, ScoreOperators], BeforeValidator(_one_map_key)]

# field name (Helicone spelling) -> kind; the single source for validation, compilers and prompts.
FIELD_KINDS: dict[str, str] = {
    "country_code": "text",
    "latency": "number",
    "cost": "number",
    "provider": "text",
    "time_to_first_token": "number",
    "status": "number",
    "request_created_at": "timestamp",
    "response_created_at": "timestamp",
    "model": "text",
    "user_id": "text",
    "organization_id": "text",
    "node_id": "text",
    "job_id": "text",
    "threat": "boolean",
    "request_id": "text",
    "prompt_tokens": "number",
    "completion_tokens": "number",
    "prompt_cache_read_tokens": "number",
    "prompt_cache_write_tokens": "number",
    "total_tokens": "number",
    "target_url": "text",
    "property_key": "property_key",
    "properties": "text_map",
    "search_properties": "text_map",
    "scores": "score_map",
    "scores_column": "text",
    "request_body": "text",
    "response_body": "text",
    "cache_enabled": "boolean",
    "cache_reference_id": "text",
    "cached": "boolean",
    "assets": "text",
    "helicone-score-feedback": "boolean",
    "prompt_id": "text",
    "prompt_version": "text",
    "request_referrer": "text",
    "is_passthrough_billing": "boolean",
    "gateway_router_id": "text",
    "gateway_deployment_target": "text",
}

_KIND_TYPES = {
    "text": TextOperators,
    "number": NumberOperators,
    "timestamp": TimestampOperators,
    "boolean": BooleanOperators,
    "property_key": PropertyKeyOperators,
    "text_map": TextMap,
    "score_map": ScoreMap,
}
OPERATORS_BY_KIND = {
    "text": TEXT_OPERATORS,
    "number": NUMBER_OPERATORS,
    "timestamp": TIMESTAMP_OPERATORS,
    "boolean": BOOLEAN_OPERATORS,
    "property_key": ("equals",),
    "text_map": TEXT_OPERATORS,
    "score_map": ("equals", "not-equals"),
}


def _python_name(field: str) -> str:
    return field.replace("-", "_")


class _RmtBase(BaseModel):
    """The object under `request_response_rmt`: exactly one field with one operator."""

    model_config = _STRICT

    @model_validator(mode="after")
    def _one_field(self) -> _RmtBase:
        used = [type(self).model_fields[name].alias for name in self.model_fields_set]
        if not used:
            raise ValueError('empty condition; give one field, e.g. {"model": {"equals": "gpt-4"}}')
        if len(used) > 1:
            raise ValueError(
                f"holds {len(used)} fields ({', '.join(sorted(used))}); Helicone would use only the first. "
                "Put one field per leaf and combine leaves with {left, operator: 'and', right}"
            )
        return self

    @property
    def field(self) -> str:
        """The one field this condition tests, as Helicone spells it."""
        return type(self).model_fields[next(iter(self.model_fields_set))].alias

    @property
    def operators(self) -> Any:
        """The field's operator object (or, for properties/scores, the one-key map)."""
        return getattr(self, next(iter(self.model_fields_set)))


RmtConditions = create_model(
    "RmtConditions",
    __base__=_RmtBase,
    **{_python_name(name): (_KIND_TYPES[kind] | None, Field(None, alias=name)) for name, kind in FIELD_KINDS.items()},
)


class Leaf(BaseModel):
    """`{"request_response_rmt": {...}}`; `{}` is Helicone's always-true leaf."""

    model_config = _STRICT
    request_response_rmt: RmtConditions | None = None


class Branch(BaseModel):
    """`{left, operator: "and"|"or", right}`."""

    model_config = _STRICT
    left: FilterNode
    operator: Literal["and", "or"]
    right: FilterNode


def _node_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "all"
    if isinstance(value, dict):
        return "branch" if {"left", "right", "operator"} & set(value) else "leaf"
    if isinstance(value, Leaf):
        return "leaf"
    if isinstance(value, Branch):
        return "branch"
    return None


FilterNode = Annotated[
    Annotated[Leaf, Tag("leaf")] | Annotated[Branch, Tag("branch")] | Annotated[Literal["all"], Tag("all")],
    Discriminator(
        _node_kind,
        custom_error_type="filter_node",
        custom_error_message='a filter node is "all", {"request_response_rmt": {...}} or {left, operator, right}',
    ),
]
Branch.model_rebuild()

NODE_TAGS = ("leaf", "branch", "all")


def leaf(field: str, operator: str, value: Any, key: str | None = None) -> Leaf:
    """A validated leaf: `leaf("model", "equals", "gpt-4")`, `leaf("properties", "equals", "prod", key="env")`."""
    inner: dict[str, Any] = {operator: value}
    body = {key: inner} if key is not None else inner
    return Leaf.model_validate({"request_response_rmt": {field: body}})


def all_of(nodes: list[Any]) -> Any:
    """Join nodes with 'and' branches ("all" when there are none)."""
    nodes = [n for n in nodes if n != "all"]
    if not nodes:
        return "all"
    tree = nodes[0]
    for node in nodes[1:]:
        tree = Branch(left=tree, operator="and", right=node)
    return tree


def any_of(nodes: list[Any]) -> Any:
    """Join nodes with 'or' branches."""
    tree = nodes[0]
    for node in nodes[1:]:
        tree = Branch(left=tree, operator="or", right=node)
    return tree


def walk_leaves(node: Any):
    """Yield (field, operator, value, key) for every condition in the tree, left to right."""
    if isinstance(node, Branch):
        yield from walk_leaves(node.left)
        yield from walk_leaves(node.right)
    elif isinstance(node, Leaf) and node.request_response_rmt is not None:
        cond = node.request_response_rmt
        ops = cond.operators
        if isinstance(ops, dict):
            key, inner = next(iter(ops.items()))
            yield cond.field, inner.operator, inner.value, key
        else:
            yield cond.field, ops.operator, ops.value, None
