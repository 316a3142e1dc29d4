"""Explanations find the whole of each incident the demo generator plants, asked after it and while under way.

The measure (benchmarks/incidents.py, which prints the same figures): the window an answer reports covers at
least 80% of the planted span (up to `now` while under way) and is at most 1.5 times as long.
"""

from __future__ import annotations

import pytest

from benchmarks.incidents import MAX_LENGTH, MIN_COVERED, QUESTIONS, fill, measure, report


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    path = tmp_path_factory.mktemp("incidents") / "heliqa.duckdb"
    return measure(path, fill(path))


def test_every_planted_incident_is_found_whole(results):
    assert len(results) == len(QUESTIONS) * 2 * 2  # each incident: two questions at two moments
    misses = [r for r in results if not r.ok]
    assert not misses, report(results)


def test_the_measure_tells_a_cut_window_from_a_whole_one(results):
    # the rule itself: a window of half the span, or three times as long, does not count
    r = next(x for x in results if x.incident == "slow_gpt4" and x.moment == "after")
    start, end = r.planted
    half = type(r)(r.incident, r.moment, r.question, r.planted, (start, start + (end - start) / 2))
    long = type(r)(r.incident, r.moment, r.question, r.planted, (start - (end - start), end + (end - start)))
    assert half.covered == pytest.approx(0.5) and not half.ok
    assert long.length == pytest.approx(3.0) and not long.ok
    assert r.covered >= MIN_COVERED and r.length <= MAX_LENGTH
