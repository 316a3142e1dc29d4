"""How people type: which words left over after parsing may be ignored, and which are misspelled measure words.

A leftover word is asked back when it could change the answer: a word of the blocking lexicon (negations,
comparisons, time words...), quoted text, a name-like token (digits, `-`, `_`, `@`, capitals), a word that is
part of or close to a known name, or an unknown word standing where a filter would (`for X`, `X requests`).
Otherwise it is ignored when it is conversational (the lexicon) or a common English word (wordfreq's Zipf
frequency >= 3, i.e. at least once per million words: its "small" list, which loads in ~20 ms); rare words
are asked back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from heliqa.prompts.lexicon import (
    AGGREGATION_WORDS,
    BLOCKING,
    CONVERSATIONAL,
    FILTER_PREPOSITIONS,
    MEASURE_TYPO_WORDS,
    QUALIFIED_NOUNS,
    SHORTHAND,
)
from heliqa.tools.results import Vocabulary

COMMON_ZIPF = 3.0  # wordfreq's scale: 3 = once per million words
_SKIP_BEFORE = frozenset("the a an our my your their its this that these those all any some".split())
_NAME_LIKE = re.compile(r"[\d_@/:#]|\w-\w|\w\.\w")
_SCORE_NOUNS = frozenset("score scores eval evals evaluation evaluations rating ratings".split())
TYPO_TARGETS = tuple(dict.fromkeys([*MEASURE_TYPO_WORDS, *AGGREGATION_WORDS]))


@dataclass
class Verdict:
    """The leftover words sorted into ignored and asked back (with the closest known names, if any)."""

    ignored: list[str]
    blocking: list[str]
    near: list[str]


def zipf(word: str) -> float:
    """How common an English word is on wordfreq's Zipf scale (its word or a simple stem: `spiking` -> `spik`)."""
    forms = {word}
    for suffix in ("s", "es", "ed", "d", "ing"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            forms.add(word[: -len(suffix)])
    table = _english()
    if table is not None:
        return max(table.get(f, 0.0) for f in forms)
    from wordfreq import zipf_frequency

    return max(zipf_frequency(f, "en", wordlist="small") for f in forms)


@lru_cache(maxsize=1)
def _english() -> dict[str, float] | None:
    """wordfreq's small English list read directly (~30 ms) instead of importing wordfreq (~100-300 ms with its
    tokenizer's dependencies) on the `heliqa ask` path. The file is wordfreq's documented cBpack format: a header,
    then bins of words, the i-th bin after the header holding words of -i centibels, i.e. Zipf 9 - i/100.
    None when the file is missing or not in that format (zipf() then uses wordfreq's API)."""
    import gzip
    import importlib.util
    from pathlib import Path

    import msgpack

    spec = importlib.util.find_spec("wordfreq")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "small_en.msgpack.gz"
    try:
        with gzip.open(path, "rb") as f:
            data = msgpack.load(f, raw=False)
    except (OSError, ValueError):
        return None
    if not data or data[0] != {"format": "cB", "version": 1}:
        return None
    return {w: 9 - i / 100 for i, words in enumerate(data[1:]) for w in words}


@lru_cache(maxsize=8)
def _name_parts(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(part for name in names for part in re.split(r"[\s_.:/-]+", name.lower()) if len(part) >= 3)


def vocabulary_names(vocab: Vocabulary) -> tuple[str, ...]:
    """Every name a question may use (models, providers, property keys and values, score keys)."""
    names: list[str] = [*vocab.models, *vocab.providers, *vocab.score_keys]
    for key, values in vocab.properties.items():
        names.append(key)
        names.extend(values)
    return tuple(names)


def closest_names(word: str, names: tuple[str, ...], n: int = 4) -> list[str]:
    """Known names closest to `word` (rapidfuzz: whole-name and partial similarity), best first."""
    from rapidfuzz import fuzz, process

    found = process.extract(word, names, scorer=fuzz.WRatio, processor=str.lower, limit=n, score_cutoff=70)
    return [name for name, _, _ in found]


def classify(
    leftovers: list[tuple[str, int]], text: str, question: str, vocab: Vocabulary, filler: set[str]
) -> Verdict:
    """Sort leftover words (with their offsets in the normalized `text`) into ignored and asked back.

    `filler` are the planner's words without meaning of their own; they are skipped when looking for the
    preposition before a word (`by api key` puts `key` after `by`).
    """
    verdict = Verdict([], [], [])
    names = vocabulary_names(vocab)
    parts = _name_parts(names)
    for word, at in leftovers:
        low = word.lower()
        if _score_key_position(at, len(word), text):
            verdict.blocking.append(word)
            verdict.near.extend(k for k in vocab.score_keys if k not in verdict.near)
        elif _blocks(low, at, word, text, question, parts, names, verdict, filler):
            verdict.blocking.append(word)
        else:
            verdict.ignored.append(word)
    return verdict


def _blocks(
    low: str,
    at: int,
    word: str,
    text: str,
    question: str,
    parts: frozenset[str],
    names: tuple,
    verdict: Verdict,
    filler: set[str],
) -> bool:
    if low in BLOCKING or low.startswith("zq") and re.fullmatch(r"\"?zq\d+zq\"?", low):
        return True
    if _NAME_LIKE.search(low) or _capitalized(word, question):
        if not low.isdigit():
            verdict.near.extend(n for n in closest_names(low, names) if n not in verdict.near)
        return True
    if low in CONVERSATIONAL:
        return False
    if low in parts or (len(low) >= 4 and _near_part(low, parts)):
        verdict.near.extend(n for n in closest_names(low, names) if n not in verdict.near)
        return True
    if _filter_position(at, len(word), text, filler) or _subject_position(at, text):
        return True
    return zipf(low) < COMMON_ZIPF


def _score_key_position(at: int, size: int, text: str) -> bool:
    """`coherence score`: an unknown word naming a score key."""
    after = re.findall(r"[\w'$%-]+", text[at + size :].lower())
    return bool(after) and after[0] in _SCORE_NOUNS


def _near_part(word: str, parts: frozenset[str]) -> bool:
    """Within about one edit of a word of a known name (`sonet` for sonnet, `stagin` for staging)."""
    from rapidfuzz import fuzz, process

    return process.extractOne(word, parts, scorer=fuzz.ratio, score_cutoff=85) is not None


def _capitalized(word: str, question: str) -> bool:
    """A capitalized word that does not start the question or a sentence reads as a name (`Acme`, `EU`)."""
    for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", question, re.I):
        if any(c.isupper() for c in m.group(0)) and word.lower() != "i":
            before = question[: m.start()].rstrip()
            if before and before[-1] not in ".?!:;\"'":
                return True
    return False


def _filter_position(at: int, size: int, text: str, filler: set[str]) -> bool:
    """An unknown word after a filtering preposition (`for X`) or before a measured noun (`X requests`)."""
    before = re.findall(r"[\w'$%-]+", text[:at].lower())
    while before and (before[-1] in _SKIP_BEFORE or before[-1] in filler and before[-1] not in FILTER_PREPOSITIONS):
        before.pop()
    after = re.findall(r"[\w'$%-]+", text[at + size :].lower())
    return bool(before and before[-1] in FILTER_PREPOSITIONS) or bool(after and after[0] in QUALIFIED_NOUNS)


_DO = re.compile(r"(?<![\w'-])(?:did|does|do|has|have|had|didn't|doesn't)\s+$", re.I)


def _subject_position(at: int, text: str) -> bool:
    """An unknown word as the subject of "did X make/use": a name nobody recognised ("how many requests did bob
    make", "how many tokens did care use"), never dropped; pronouns and everyday subjects are no names."""
    word = re.match(r"[\w'$%-]+", text[at:])
    return bool(_DO.search(text[:at])) and word is not None and word.group(0).lower() not in _SUBJECTS


_SUBJECTS = frozenset(
    """
we they you i it he she us them everyone everybody anyone anybody someone somebody people folks things
anything everything something nothing stuff ours theirs yours
""".split()
)


def typo_fixes(words: list[str]) -> dict[str, str]:
    """Misspelled measure or aggregation words (`latancy`, `avrage`, `p9O`) and the word each stands for.

    A word is read as a known one when it is within one edit (two for words of 7+ letters, transpositions count
    once), the nearest known word is unique, and the word is not itself a common English word.
    """
    from rapidfuzz.distance import OSA

    fixes: dict[str, str] = {}
    for word in dict.fromkeys(w.lower() for w in words):
        if re.fullmatch(r"p[\do]{1,2}(?:\.\d+)?", word) and "o" in word:
            fixes[word] = word[0] + word[1:].replace("o", "0")
            continue
        if not word.isalpha() or len(word) < 4 or word in BLOCKING or word in CONVERSATIONAL:
            continue
        scored = sorted((OSA.distance(word, t), t) for t in TYPO_TARGETS)
        best, target = scored[0]
        allowed = 2 if len(target) >= 7 else 1
        if best == 0 or best > allowed or (len(scored) > 1 and scored[1][0] == best):
            continue
        if zipf(word) >= COMMON_ZIPF:
            continue  # "coast", "most": real words, not typos
        fixes[word] = target
    return fixes


def shorthand_fixes(words: list[str]) -> dict[str, str]:
    """On-call shorthand left over after parsing (`yday`, `lat`, `errs`, `wk`) and the word each stands for."""
    return {w: SHORTHAND[w] for w in dict.fromkeys(w.lower() for w in words) if w in SHORTHAND}
