"""Monitors said in plain words (`heliqa watch add "..."`, `@heliqa watch ...`): each wording of
`tests/watch_words_cases.py`, on both vocabularies, gives exactly the monitor its words mean or is asked back
with a message naming what cannot be watched, never turned into another monitor."""

from __future__ import annotations

import pytest

from heliqa.agent.factory import make_planner
from heliqa.agent.planner import Context
from heliqa.agent.watch_words import NotAMonitor, monitor_from_words
from heliqa.tools.monitors import Monitor
from tests.corpus import NOW, TZ, VOCABULARIES, vocabulary
from tests.vocabularies import to_acme
from tests.watch_words_cases import ASK, CASES


def _cases():
    for name in VOCABULARIES:
        for words, want in CASES:
            if name == "acme":
                words, want = to_acme(words), to_acme(want)
                if words is None or want is None:
                    continue
            yield pytest.param(name, words, want, id=f"{name}: {words}")


def meaning(m: Monitor) -> dict:
    """What a monitor watches, its name aside (the aggregation in force, so `p90` and the default compare equal)."""
    return {**m.model_dump(exclude_defaults=True, exclude={"name", "aggregation"}), "agg": m.agg}


def watch(words: str, vocab: str = "sample") -> Monitor:
    return monitor_from_words(words, make_planner("rules"), Context(NOW, TZ, vocabulary(vocab)))


@pytest.mark.parametrize(("vocab", "words", "want"), list(_cases()))
def test_plain_words_make_the_monitor_they_mean_or_are_asked_back(vocab, words, want):
    if isinstance(want, tuple) and want[0] == ASK:
        with pytest.raises(NotAMonitor) as asked:
            watch(words, vocab)
        assert want[1].lower() in str(asked.value).lower()
        return
    assert meaning(watch(words, vocab)) == meaning(Monitor(name="expected", **want))
