"""The `request_response_rmt` filter tree: every field and operator accepted or rejected as Helicone does."""

from __future__ import annotations

import json

import pytest

from heliqa.tools.errors import InvalidRequest
from heliqa.tools.filters import FIELD_KINDS, Branch, Leaf, all_of, any_of, leaf, walk_leaves
from heliqa.tools.query import ScoresRequest
from heliqa.tools.validation import validate

# Helicone's leaf fields and operators (filterDefs.ts), copied by hand so a drift in tools/filters.py fails here.
TEXT = ("equals", "not-equals", "like", "ilike", "contains", "not-contains")
NUMBER = ("equals", "not-equals", "gte", "lte", "lt", "gt")
TIMESTAMP = ("equals", "gte", "lte", "lt", "gt")
BOOLEAN = ("equals",)
SPEC_FIELDS = {
    **{
        f: TEXT
        for f in (
            "country_code",
            "provider",
            "model",
            "user_id",
            "organization_id",
            "node_id",
            "job_id",
            "request_id",
            "target_url",
            "scores_column",
            "request_body",
            "response_body",
            "cache_reference_id",
            "assets",
            "prompt_id",
            "prompt_version",
            "request_referrer",
            "gateway_router_id",
            "gateway_deployment_target",
        )
    },
    **{
        f: NUMBER
        for f in (
            "latency",
            "cost",
            "time_to_first_token",
            "status",
            "prompt_tokens",
            "completion_tokens",
            "prompt_cache_read_tokens",
            "prompt_cache_write_tokens",
            "total_tokens",
        )
    },
    "request_created_at": TIMESTAMP,
    "response_created_at": TIMESTAMP,
    **{f: BOOLEAN for f in ("threat", "cache_enabled", "cached", "helicone-score-feedback", "is_passthrough_billing")},
}
MAP_FIELDS = {"properties": TEXT, "search_properties": TEXT, "scores": ("equals", "not-equals")}
EVERY_OPERATOR = (
    "equals",
    "not-equals",
    "like",
    "ilike",
    "contains",
    "not-contains",
    "gte",
    "lte",
    "lt",
    "gt",
    "between",
    "in",
    "gin-contains",
    "vector-contains",
    "EQUALS",
    "not_equals",
)
SAMPLE_VALUE = {TEXT: "gpt-4", NUMBER: 250, TIMESTAMP: "2026-11-20T10:00:00.000Z", BOOLEAN: True}


def body(user_filter, **overrides) -> dict:
    """A valid scores request body around `user_filter`."""
    data = {
        "timeFilter": {"start": "2026-11-01T00:00:00.000Z", "end": "2026-11-08T00:00:00.000Z"},
        "userFilter": user_filter,
        "dbIncrement": "day",
        "timeZoneDifference": 0,
    }
    data.update(overrides)
    return data


def rmt(conditions) -> dict:
    return {"request_response_rmt": conditions}


def accept(user_filter) -> ScoresRequest:
    return validate(ScoresRequest, body(user_filter))


def reject(user_filter, **overrides) -> list[str]:
    with pytest.raises(InvalidRequest) as info:
        validate(ScoresRequest, body(user_filter, **overrides))
    assert info.value.problems, "an InvalidRequest must say what is wrong"
    return info.value.problems


def test_field_table_matches_the_spec():
    assert set(FIELD_KINDS) == set(SPEC_FIELDS) | set(MAP_FIELDS) | {"property_key"}


CASES_OK = [(f, op) for f, ops in SPEC_FIELDS.items() for op in ops]


@pytest.mark.parametrize(("field", "operator"), CASES_OK)
def test_every_field_accepts_its_operators_and_serializes_unchanged(field, operator):
    value = SAMPLE_VALUE[SPEC_FIELDS[field]]
    tree = rmt({field: {operator: value}})
    request = accept(tree)
    # Exactly the JSON Helicone accepts: field and operator spelled as sent (`not-equals`, `helicone-score-feedback`).
    assert request.to_json()["userFilter"] == tree
    assert json.loads(json.dumps(request.to_json()))["userFilter"] == tree
    assert list(walk_leaves(request.userFilter)) == [(field, operator, value, None)]


CASES_BAD = [(f, op) for f, ops in SPEC_FIELDS.items() for op in EVERY_OPERATOR if op not in ops]


@pytest.mark.parametrize(("field", "operator"), CASES_BAD)
def test_every_field_rejects_other_operators(field, operator):
    value = SAMPLE_VALUE[SPEC_FIELDS[field]]
    problems = reject(rmt({field: {operator: value}}))
    assert len(problems) == 1
    assert problems[0].startswith(f"userFilter.request_response_rmt.{field}: '{operator}' is not an operator")


@pytest.mark.parametrize(("field", "operators"), MAP_FIELDS.items())
def test_map_fields_accept_their_operators(field, operators):
    value = "3" if field == "scores" else "production"
    for operator in operators:
        tree = rmt({field: {"environment": {operator: value}}})
        request = accept(tree)
        assert request.to_json()["userFilter"] == tree
        assert list(walk_leaves(request.userFilter)) == [(field, operator, value, "environment")]


@pytest.mark.parametrize("operator", ["gte", "lte", "lt", "gt", "between"])
def test_map_fields_reject_number_operators(operator):
    for field in MAP_FIELDS:
        problems = reject(rmt({field: {"k": {operator: "1"}}}))
        assert problems[0].startswith(f"userFilter.request_response_rmt.{field}.k: '{operator}' is not an operator")


def test_between_message_reads_like_the_issue():
    problems = reject(rmt({"latency": {"between": [100, 200]}}))
    assert problems == [
        "userFilter.request_response_rmt.latency: 'between' is not an operator; use gte/lte joined with an 'and' branch"
    ]


def test_error_paths_follow_nested_branches():
    tree = {
        "left": "all",
        "operator": "or",
        "right": {
            "left": rmt({"model": {"equals": "gpt-4"}}),
            "operator": "and",
            "right": rmt({"status": {"above": 3}}),
        },
    }
    problems = reject(tree)
    assert problems == [
        "userFilter.right.right.request_response_rmt.status: 'above' is not an operator for status; "
        "use one of equals, not-equals, gte, lte, lt, gt"
    ]


# --- value types (Helicone's tsoa coercion) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (300, 300),
        (2.5, 2.5),
        (-4, -4),
        ("300", 300),
        ("-4", -4),
        ("2.5", 2.5),
        ("1e3", 1000),
        ("+7", 7),
        (".5", 0.5),
    ],
)
def test_numbers_are_coerced_from_numeric_strings(raw, expected):
    request = accept(rmt({"latency": {"gte": raw}}))
    value = request.to_json()["userFilter"]["request_response_rmt"]["latency"]["gte"]
    assert value == expected and isinstance(value, (int, float)) and not isinstance(value, bool)


@pytest.mark.parametrize(
    "raw", [True, False, None, "", " 300", "300 ", "3OO", "1,5", "0x10", "NaN", "Infinity", "١٢", [1], {"v": 1}]
)
def test_numbers_reject_what_tsoa_rejects(raw):
    problems = reject(rmt({"status": {"equals": raw}}))
    assert problems == ["userFilter.request_response_rmt.status.equals: invalid float number"]


@pytest.mark.parametrize("raw", [5, 2.5, True, None, ["gpt-4"], {"x": "y"}])
def test_strings_must_be_strings(raw):
    problems = reject(rmt({"model": {"equals": raw}}))
    assert problems == ["userFilter.request_response_rmt.model.equals: invalid string value"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("false", False),
        ("TRUE", True),
        ("False", False),
        (None, False),
    ],
)
def test_booleans_coerce_like_tsoa(raw, expected):
    for field in ("threat", "cached", "cache_enabled", "helicone-score-feedback", "is_passthrough_billing"):
        request = accept(rmt({field: {"equals": raw}}))
        assert request.to_json()["userFilter"] == rmt({field: {"equals": expected}})


@pytest.mark.parametrize("raw", [1, 0, "yes", "1", "", "t", [True]])
def test_booleans_reject_other_values(raw):
    problems = reject(rmt({"threat": {"equals": raw}}))
    assert problems == ["userFilter.request_response_rmt.threat.equals: invalid boolean value"]


@pytest.mark.parametrize(
    "raw",
    [
        "2026-11-20",
        "2026-11-20T10:00",
        "2026-11-20T10:00:00",
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00.123Z",
        "2026-11-20 10:00:00",
        "2026-11-20T10:00:00+05:30",
        "2026-11-20T10:00:00-0800",
        "2028-02-29T00:00:00Z",
        "2026-11-20T10:00:00.123456789Z",
    ],
)
def test_timestamps_accept_strict_iso(raw):
    request = accept(rmt({"request_created_at": {"gte": raw}}))
    assert request.to_json()["userFilter"]["request_response_rmt"]["request_created_at"]["gte"] == raw


@pytest.mark.parametrize(
    "raw",
    [
        "2026-02-29T00:00:00Z",
        "2026-02-30",
        "2026-13-01",
        "2026-11-31",
        "2026-11-20T25:00:00Z",
        "2026-11-20T10:61:00Z",
        "20/11/2026",
        "yesterday",
        "2026-11-20T10:00:00 UTC",
        "",
        1763632800000,
        None,
        True,
        "２０２６-11-20",
    ],
)
def test_timestamps_reject_everything_else(raw):
    problems = reject(rmt({"response_created_at": {"lt": raw}}))
    assert problems == [
        "userFilter.request_response_rmt.response_created_at.lt: "
        "invalid ISO 8601 datetime format, i.e. YYYY-MM-DDTHH:mm:ss"
    ]


# --- stricter than Helicone: one condition per object ------------------------------------------------------------


def test_two_operators_in_one_object_are_rejected_with_advice():
    problems = reject(rmt({"latency": {"gte": 100, "lte": 200}}))
    assert len(problems) == 1
    assert problems[0].startswith("userFilter.request_response_rmt.latency: holds 2 operators (gte, lte)")
    assert "combine" in problems[0] and "'and'" in problems[0]


def test_two_fields_in_one_leaf_are_rejected_with_advice():
    problems = reject(rmt({"model": {"equals": "gpt-4"}, "status": {"equals": 200}}))
    assert len(problems) == 1
    assert problems[0].startswith("userFilter.request_response_rmt: holds 2 fields (model, status)")
    assert "combine" in problems[0] and "{left, operator: 'and', right}" in problems[0]


@pytest.mark.parametrize("field", ["properties", "scores", "search_properties"])
def test_two_map_keys_are_rejected_with_advice(field):
    problems = reject(rmt({field: {"a": {"equals": "1"}, "b": {"equals": "2"}}}))
    assert problems[0].startswith(f"userFilter.request_response_rmt.{field}: holds 2 keys (a, b)")
    assert "combine" in problems[0]


def test_two_operators_under_a_property_are_rejected():
    problems = reject(rmt({"properties": {"env": {"equals": "a", "contains": "b"}}}))
    assert problems[0].startswith("userFilter.request_response_rmt.properties.env: holds 2 operators")


@pytest.mark.parametrize(
    "tree",
    [
        rmt({"latency": {}}),
        rmt({"model": {}}),
        rmt({"threat": {}}),
        rmt({"request_created_at": {}}),
        rmt({"properties": {"env": {}}}),
        rmt({"scores": {"accuracy": {}}}),
    ],
)
def test_empty_operator_objects_are_rejected(tree):
    problems = reject(tree)
    assert len(problems) == 1 and "empty operator object; give exactly one of" in problems[0]


@pytest.mark.parametrize("tree", [rmt({}), rmt({"properties": {}}), rmt({"scores": {}}), rmt({"property_key": {}})])
def test_empty_conditions_and_maps_are_rejected(tree):
    problems = reject(tree)
    assert len(problems) == 1 and ("empty" in problems[0] or "'equals' is required" in problems[0])


def test_empty_leaf_is_helicones_always_true():
    assert accept({}).to_json()["userFilter"] == {}


@pytest.mark.parametrize("value", ["1", "0", "-3", "100"])
def test_score_filters_take_integer_strings(value):
    tree = rmt({"scores": {"accuracy": {"equals": value}}})
    assert accept(tree).to_json()["userFilter"] == tree


@pytest.mark.parametrize("value", ["0.85", "abc", " 5", "", "5 ", "1e3", "+"])
def test_score_filters_reject_non_integer_strings(value):
    problems = reject(rmt({"scores": {"accuracy": {"not-equals": value}}}))
    assert len(problems) == 1 and "not an integer string" in problems[0]


@pytest.mark.parametrize("value", [3, 3.0, True, None])
def test_score_filters_reject_non_strings(value):
    problems = reject(rmt({"scores": {"accuracy": {"equals": value}}}))
    assert problems == ["userFilter.request_response_rmt.scores.accuracy.equals: invalid string value"]


@pytest.mark.parametrize("operator", ["like", "ilike", "contains", "not-contains"])
def test_score_filters_refuse_text_matching(operator):
    problems = reject(rmt({"scores": {"accuracy": {operator: "5"}}}))
    assert len(problems) == 1 and f"'{operator}' cannot compare scores" in problems[0]


def test_property_key_needs_equals():
    tree = rmt({"property_key": {"equals": "environment"}})
    assert accept(tree).to_json()["userFilter"] == tree
    problems = reject(rmt({"property_key": {"contains": "env"}}))
    assert "userFilter.request_response_rmt.property_key.equals: 'equals' is required" in problems
    assert (
        "userFilter.request_response_rmt.property_key: 'contains' is not an operator for property_key; "
        "use one of equals" in problems
    )


# --- unknown keys at every level -----------------------------------------------------------------------------------


def test_unknown_field_suggests_the_close_one():
    assert reject(rmt({"modle": {"equals": "gpt-4"}})) == [
        "userFilter.request_response_rmt: 'modle' is not a request_response_rmt field (did you mean model?)"
    ]


@pytest.mark.parametrize(
    ("tree", "where", "key"),
    [
        ({"request": {"model": {"equals": "x"}}}, "userFilter", "request"),
        ({"request_response_rmt": {"model": {"equals": "x"}}, "extra": 1}, "userFilter", "extra"),
        ({"left": "all", "operator": "and", "right": "all", "note": "x"}, "userFilter", "note"),
        ({"left": {"properties": {}}, "operator": "and", "right": "all"}, "userFilter.left", "properties"),
    ],
)
def test_unknown_keys_in_nodes_are_rejected(tree, where, key):
    assert reject(tree) == [f"{where}: '{key}' is an excess property and is not allowed"]


def test_unknown_keys_in_timefilter_and_body_are_rejected():
    time_filter = {"start": "2026-11-01", "end": "2026-11-02", "tz": "UTC"}
    assert reject("all", timeFilter=time_filter) == ["timeFilter: 'tz' is an excess property and is not allowed"]
    assert reject("all", limit=10) == ["request: 'limit' is an excess property and is not allowed"]


# --- branches and "all" -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operator", ["AND", "Or", "xor", "&&", "", None, 1])
def test_branch_operator_is_a_case_sensitive_enum(operator):
    problems = reject({"left": "all", "operator": operator, "right": "all"})
    assert len(problems) == 1 and problems[0].startswith("userFilter.operator: ")
    assert "'and'" in problems[0] and "'or'" in problems[0]


@pytest.mark.parametrize("missing", ["left", "operator", "right"])
def test_branch_needs_all_three_keys(missing):
    branch = {"left": "all", "operator": "and", "right": "all"}
    del branch[missing]
    assert reject(branch) == [f"userFilter.{missing}: '{missing}' is required"]


@pytest.mark.parametrize("node", ["ALL", "All", "none", "", 5, [], None, True])
def test_all_is_exactly_the_lowercase_string(node):
    problems = reject(node)
    assert len(problems) == 1 and problems[0].startswith("userFilter: ")


def test_complex_tree_round_trips_to_identical_json():
    tree = {
        "left": {
            "left": rmt({"model": {"not-equals": "gpt-4"}}),
            "operator": "or",
            "right": rmt({"helicone-score-feedback": {"equals": True}}),
        },
        "operator": "and",
        "right": {
            "left": rmt({"properties": {"environment": {"contains": "prod"}}}),
            "operator": "and",
            "right": {"left": rmt({"scores": {"accuracy": {"equals": "90"}}}), "operator": "or", "right": "all"},
        },
    }
    request = accept(tree)
    assert request.to_json() == body(tree)
    assert validate(ScoresRequest, request.to_json()) == request


def test_all_serializes_as_the_string():
    assert accept("all").to_json() == body("all")


# --- helpers ------------------------------------------------------------------------------------------------


def test_leaf_helper_validates():
    assert leaf("properties", "equals", "prod", key="environment").model_dump(by_alias=True, exclude_none=True) == rmt(
        {"properties": {"environment": {"equals": "prod"}}}
    )
    with pytest.raises(ValueError):
        leaf("latency", "between", 3)


def test_all_of_and_any_of_build_left_deep_branches():
    a, b, c = (leaf("status", "equals", n) for n in (200, 429, 500))
    assert all_of([]) == "all"
    assert all_of(["all", a]) == a
    tree = any_of([a, b, c])
    assert isinstance(tree, Branch) and tree.operator == "or" and tree.right == c
    assert isinstance(tree.left, Branch) and tree.left.left == a
    assert [v for _, _, v, _ in walk_leaves(all_of([a, b, c]))] == [200, 429, 500]
    assert list(walk_leaves(Leaf())) == []
