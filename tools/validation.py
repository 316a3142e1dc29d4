"""Turn pydantic errors into messages written for a person and for an LLM repairing its tool call."""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from heliqa.tools.errors import InvalidRequest
from heliqa.tools.filters import FIELD_KINDS, NODE_TAGS, OPERATORS_BY_KIND
from heliqa.tools.limits import check_json

M = TypeVar("M", bound=BaseModel)

_NODE_PARENTS = {"userFilter", "left", "right", "filter"}
MAX_PATH_PARTS = 12


def _clean_loc(loc: tuple[Any, ...]) -> list[str]:
    out: list[str] = []
    for part in loc:
        if part in NODE_TAGS and (not out or out[-1] in _NODE_PARENTS):
            continue  # discriminator tags are ours, not the user's keys
        if isinstance(part, str) and part.startswith("function-"):
            continue
        out.append(str(part))
    return out


def _field_of(path: list[str]) -> str | None:
    """The request_response_rmt field an operator object belongs to, if the path ends in one."""
    if len(path) >= 2 and path[-2] == "request_response_rmt" and path[-1] in FIELD_KINDS:
        return path[-1]
    if (
        len(path) >= 3
        and path[-3] == "request_response_rmt"
        and path[-2] in ("properties", "scores", "search_properties")
    ):
        return path[-2]
    return None


def _clip(path: list[str]) -> list[str]:
    # a path through a deep tree is hundreds of "left"s; the start and the end say where
    if len(path) <= MAX_PATH_PARTS:
        return path
    return [*path[:3], f"…({len(path) - MAX_PATH_PARTS + 1} levels)…", *path[-(MAX_PATH_PARTS - 4) :]]


def _describe(err: dict[str, Any]) -> str:
    path = _clip(_clean_loc(err["loc"]))
    kind = err["type"]
    if kind == "extra_forbidden":
        bad, parent = path[-1], path[:-1]
        where = ".".join(parent) or "request"
        field = _field_of(parent)
        if field is not None:
            allowed = OPERATORS_BY_KIND[FIELD_KINDS[field]]
            if bad == "between" and "gte" in allowed:
                return f"{where}: 'between' is not an operator; use gte/lte joined with an 'and' branch"
            return f"{where}: '{bad}' is not an operator for {field}; use one of {', '.join(allowed)}"
        if parent and parent[-1] == "request_response_rmt":
            close = difflib.get_close_matches(bad, FIELD_KINDS, n=3)
            tip = f" (did you mean {', '.join(close)}?)" if close else ""
            return f"{where}: '{bad}' is not a request_response_rmt field{tip}"
        return f"{where}: '{bad}' is an excess property and is not allowed"
    where = ".".join(path) or "request"
    msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "missing":
        return f"{where}: '{path[-1]}' is required"
    if kind in ("literal_error", "enum"):
        return f"{where}: {msg.replace('Input should be', 'should be')} (got {err.get('input')!r})"
    return f"{where}: {msg}"


def problems_of(error: ValidationError) -> list[str]:
    """One readable line per validation problem, deduplicated, in pydantic's order."""
    seen: dict[str, None] = {}
    for err in error.errors():
        seen.setdefault(_describe(err), None)
    return list(seen)


def validate(model: type[M], data: Any) -> M:
    """Validate `data` as `model` within tools/limits.py, or raise InvalidRequest with readable problems."""
    check_json(data, "the request")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidRequest(problems_of(error)) from None
