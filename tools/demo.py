"""A seeded, realistic generated dataset so heliqa answers questions on a fresh machine with no keys.

The same generator builds the test suite's data (two organizations, planted incidents), so the tests need
nothing outside the repository. Every incident is placed relative to the range's end (`now`).

Two vocabularies: `sample` (the default) and `acme`, an organization whose property keys, values, users,
models, providers and score keys share no name with the sample's, so the planner is tested on words it was
not written around.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from heliqa.tools.settings import settings

DEMO_ORG = "00000000-0000-4000-8000-0000000de111"
ACME_ORG = "00000000-0000-4000-8000-0000000ac3e0"  # the second vocabulary's organization, so the two never mix

# model -> (provider, median latency ms, USD per 1k prompt tokens, USD per 1k completion tokens, share)
MODELS = {
    "gpt-4o": ("OPENAI", 2200, 0.0025, 0.01, 0.26),
    "gpt-4o-mini": ("OPENAI", 900, 0.00015, 0.0006, 0.30),
    "gpt-4": ("OPENAI", 4500, 0.03, 0.06, 0.08),
    "o3-mini": ("OPENAI", 3000, 0.0011, 0.0044, 0.04),
    "claude-3-5-sonnet-20241022": ("ANTHROPIC", 2000, 0.003, 0.015, 0.12),
    "claude-3-5-haiku-20241022": ("ANTHROPIC", 1100, 0.0008, 0.004, 0.08),
    "gemini-1.5-pro": ("GOOGLE", 2400, 0.00125, 0.005, 0.05),
    "gemini-1.5-flash": ("GOOGLE", 800, 0.000075, 0.0003, 0.04),
    "llama-3.1-70b-instruct": ("TOGETHER", 1500, 0.00088, 0.00088, 0.03),
    "gpt-4.1": ("OPENAI", 2600, 0.002, 0.008, 0.05),
    "text-embedding-3-small": ("OPENAI", 300, 0.00002, 0.0, 0.03),
}
# a model launched inside the range: no traffic before `end - age`
LAUNCHED = {"gpt-4.1": timedelta(days=10)}
EMBEDDINGS = {"text-embedding-3-small"}
URLS = {
    "OPENAI": "https://api.openai.com/v1/chat/completions",
    "ANTHROPIC": "https://api.anthropic.com/v1/messages",
    "GOOGLE": "https://generativelanguage.googleapis.com/v1beta/models",
    "TOGETHER": "https://api.together.xyz/v1/chat/completions",
}
FEATURES = {"support-bot": 0.3, "search": 0.25, "summarizer": 0.2, "codegen": 0.15, "onboarding": 0.1}
TOPICS = [
    "refund for my order",
    "reset my password",
    "summarize this contract",
    "write a SQL query",
    "translate the onboarding guide",
    "explain the invoice",
    "cancel my subscription",
    "find the API docs",
]
REPLIES = ["Sure, here is what I found.", "Here is what I found.", "I could not find that, sorry."]
COUNTRIES = {"US": 0.45, "GB": 0.1, "DE": 0.1, "IN": 0.1, "FR": 0.08, "BR": 0.08, "JP": 0.09}
POWER_USER = "user_0042"


class Incidents:
    """When each planted incident happens, relative to the range's end."""

    def __init__(self, end: datetime):
        self.slow_gpt4 = (end - timedelta(days=5, hours=10), end - timedelta(days=5, hours=4))  # gpt-4 latency x3
        # Anthropic answers 429 to most calls, and the clients' retries double its traffic
        self.storm = (end - timedelta(days=3, hours=4), end - timedelta(days=3, hours=2))
        # prompt v13 of the support-bot answers worse until it is rolled back
        self.prompt = (end - timedelta(days=7, hours=6), end - timedelta(days=6, hours=12))
        self.spend = (end - timedelta(days=1, hours=22), end - timedelta(days=1, hours=16))  # POWER_USER on gpt-4


def _within(moment: datetime, span: tuple[datetime, datetime]) -> bool:
    return span[0] <= moment < span[1]


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _model(rng: random.Random, created: datetime, end: datetime) -> str:
    """A model by traffic share among those launched by `created`."""
    while True:
        model = _pick(rng, {m: v[4] for m, v in MODELS.items()})
        if model not in LAUNCHED or created >= end - LAUNCHED[model]:
            return model


def _sample_labels(
    rng: random.Random, created: datetime, when: Incidents, model: str, status: int
) -> tuple[bool, dict[str, str], dict[str, int]]:
    """One sample request's streaming flag, properties and scores (the prompt incident lowers one feature's)."""
    feature = _pick(rng, FEATURES)
    streamed = rng.random() < 0.5 and model not in EMBEDDINGS
    properties = {
        "environment": "production" if rng.random() < 0.85 else rng.choice(["staging", "development"]),
        "feature": feature,
    }
    if rng.random() < 0.7:  # not every caller sets a tier
        properties["customer_tier"] = rng.choices(["free", "pro", "enterprise"], [0.6, 0.3, 0.1])[0]
    worse = False
    if feature == "support-bot":
        worse = _within(created, when.prompt) and rng.random() < 0.7
        properties["prompt_version"] = "v13" if worse else "v12"
    scores: dict[str, int] = {}
    if status == 200 and rng.random() < 0.35:
        accuracy = rng.gauss(62, 10) if worse else rng.gauss(85, 8)
        scores = {"accuracy": min(100, max(0, int(accuracy))), "helpfulness": rng.randint(5, 10)}
        if rng.random() < 0.6:
            scores["is_correct-hcone-bool"] = int(rng.random() < (0.5 if worse else 0.85))
    if status == 200 and rng.random() < 0.06:
        scores["helicone-score-feedback"] = int(rng.random() < 0.8)
    return streamed, properties, scores


def generate(
    rows: int, seed: int, end: datetime, org: str = DEMO_ORG, days: int = 30, vocabulary: str = "sample"
) -> Iterator[dict[str, Any]]:
    """Yield `rows` request objects over `days` up to `end` with the vocabulary's planted incidents.

    Times are whole milliseconds (every backend stores them exactly).
    """
    if vocabulary not in VOCABULARIES:
        raise ValueError(f"unknown vocabulary '{vocabulary}'; use one of {', '.join(VOCABULARIES)}")
    if vocabulary == "acme":
        yield from _generate_acme(rows, seed, end, org, days)
        return
    rng = random.Random(seed)
    start = end - timedelta(days=days)
    span_ms = int((end - start).total_seconds() * 1000)
    when = Incidents(end)
    for i in range(rows):
        created = start + timedelta(milliseconds=int(span_ms * (i + rng.random()) / rows))
        spending = _within(created, when.spend) and rng.random() < 0.3
        retrying = not spending and _within(created, when.storm) and rng.random() < 0.3
        if spending:
            model = "gpt-4"
        elif retrying:
            model = "claude-3-5-sonnet-20241022"
        else:
            model = _model(rng, created, end)
        provider, median, p_in, p_out, _ = MODELS[model]
        latency = int(median * math.exp(rng.gauss(0, 0.35)))
        if model == "gpt-4" and _within(created, when.slow_gpt4):
            latency *= 3
        status = 200
        roll = rng.random()
        if provider == "ANTHROPIC" and _within(created, when.storm) and roll < 0.8:
            status = 429
        elif roll < 0.012:
            status = rng.choice([400, 429, 500])
        prompt = int(rng.lognormvariate(6.3, 0.5)) * (8 if spending else 1)
        completion = int(rng.lognormvariate(5.3, 0.6)) if status == 200 and model not in EMBEDDINGS else 0
        if spending or rng.random() < 0.03:
            user = POWER_USER
        else:
            user = f"user_{rng.randint(1, 400):04d}" if rng.random() < 0.9 else ""
        streamed, properties, scores = _sample_labels(rng, created, when, model, status)
        topic, reply = rng.choice(TOPICS), rng.choice(REPLIES)
        yield {
            "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "organization_id": org,
            "request_created_at": _iso(created),
            "response_created_at": _iso(created + timedelta(milliseconds=latency)),
            "latency": latency,
            "time_to_first_token": int(latency * rng.uniform(0.15, 0.4)) if streamed else None,
            "status": status,
            "model": model,
            "provider": provider,
            "user_id": user,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "cost": round(prompt / 1000 * p_in + completion / 1000 * p_out, 9),
            "threat": rng.random() < 0.002,
            "target_url": URLS[provider],
            "country_code": _pick(rng, COUNTRIES),
            "properties": properties,
            "scores": scores,
            "request_body": f'{{"model": "{model}", "messages": [{{"role": "user", "content": "Please {topic}"}}]}}',
            "response_body": f'{{"choices": [{{"message": {{"role": "assistant", "content": "{reply}"}}}}]}}',
        }


def generate_orgs(
    orgs: dict[str, int], seed: int, end: datetime, days: int = 60, vocabulary: str = "sample"
) -> Iterator[dict[str, Any]]:
    """Several organizations' traffic (`{org: rows}`), each from its own seed, over the same range."""
    for offset, (org, rows) in enumerate(orgs.items()):
        yield from generate(rows, seed + offset, end, org, days, vocabulary)


# --- the second vocabulary: an organization that names everything its own way ---------------------------------

# model -> (provider, median latency ms, USD per 1k prompt tokens, USD per 1k completion tokens, share)
ACME_MODELS = {
    "llama-3.3-70b-versatile": ("GROQ", 700, 0.00059, 0.00079, 0.2),
    "mixtral-8x7b-32768": ("GROQ", 600, 0.00024, 0.00024, 0.08),
    "mistral-large-latest": ("MISTRAL", 2300, 0.002, 0.006, 0.14),
    "codestral-latest": ("MISTRAL", 1300, 0.0003, 0.0009, 0.1),
    "deepseek-chat": ("DEEPSEEK", 2700, 0.00027, 0.0011, 0.16),
    "deepseek-reasoner": ("DEEPSEEK", 7200, 0.00055, 0.00219, 0.06),
    "command-r-plus": ("COHERE", 1900, 0.0025, 0.01, 0.08),
    "command-r": ("COHERE", 1100, 0.00015, 0.0006, 0.06),
    "phi-4": ("AZURE", 1600, 0.000125, 0.0005, 0.07),
    "phi-3.5-mini-instruct": ("AZURE", 800, 0.00013, 0.00052, 0.05),
}
ACME_URLS = {
    "GROQ": "https://api.groq.com/openai/v1/chat/completions",
    "MISTRAL": "https://api.mistral.ai/v1/chat/completions",
    "DEEPSEEK": "https://api.deepseek.com/chat/completions",
    "COHERE": "https://api.cohere.com/v2/chat",
    "AZURE": "https://acme.openai.azure.com/openai/deployments/chat",
}
ACME_TEAMS = {"growth": 0.3, "platform": 0.3, "risk": 0.2, "care": 0.2}
ACME_APPS = {"docs-qa": 0.35, "ticket-triage": 0.25, "sales-copilot": 0.2, "code-review": 0.2}
ACME_ROUTES = {"/v2/answer": 0.5, "/v2/extract": 0.3, "/v2/classify": 0.2}
ACME_REGIONS = {"eu-west": 0.4, "us-east": 0.4, "ap-south": 0.2}
ACME_CUSTOMERS = {"globex": 0.35, "initech": 0.3, "umbrella": 0.2, "hooli": 0.15}
ACME_COUNTRIES = {"US": 0.35, "CA": 0.15, "ES": 0.15, "NL": 0.1, "AU": 0.1, "MX": 0.15}
# users of every id shape: plain first names, emails, dotted names
ACME_USERS = (
    [f"{n}@acme.io" for n in ("alice", "erin", "heidi", "ivan", "judy", "mallory", "oscar", "peggy")]
    + ["bob", "dave", "grace", "trent", "victor", "walter", "sybil", "wendy"]
    + ["carol.smith", "frank.li", "nina.patel", "omar.haddad", "rita.moreno", "sam.okafor"]
)
ACME_BIG_SPENDER = "carol.smith"
ACME_TOPICS = ["triage this ticket", "answer from the docs", "review this diff", "draft a sales email"]


class AcmeIncidents:
    """When each of the second vocabulary's planted incidents happens, relative to the range's end."""

    def __init__(self, end: datetime):
        self.groq_outage = (end - timedelta(days=4, hours=9), end - timedelta(days=4, hours=6))  # Groq answers 503
        self.slow_reasoner = (end - timedelta(days=2, hours=14), end - timedelta(days=2, hours=8))  # latency x4
        # the canary deployment of docs-qa answers less grounded until it is rolled back
        self.canary = (end - timedelta(days=6, hours=8), end - timedelta(days=5, hours=20))
        self.spend = (end - timedelta(hours=30), end - timedelta(hours=26))  # ACME_BIG_SPENDER on mistral-large


def _acme_row(rng: random.Random, created: datetime, when: AcmeIncidents) -> dict[str, Any]:
    """One request of the second vocabulary's organization (without ids and times)."""
    spending = _within(created, when.spend) and rng.random() < 0.35
    model = "mistral-large-latest" if spending else _pick(rng, {m: v[4] for m, v in ACME_MODELS.items()})
    provider, median, p_in, p_out, _ = ACME_MODELS[model]
    latency = int(median * math.exp(rng.gauss(0, 0.3)))
    if model == "deepseek-reasoner" and _within(created, when.slow_reasoner):
        latency *= 4
    status, roll = 200, rng.random()
    if provider == "GROQ" and _within(created, when.groq_outage) and roll < 0.7:
        status = 503
    elif roll < 0.015:
        status = rng.choice([400, 401, 429, 503])
    prompt = int(rng.lognormvariate(6.0, 0.6)) * (10 if spending else 1)
    completion = int(rng.lognormvariate(5.0, 0.5)) if status == 200 else 0
    user = ACME_BIG_SPENDER if spending else (rng.choice(ACME_USERS) if rng.random() < 0.92 else "")
    app = _pick(rng, ACME_APPS)
    properties = {"team": _pick(rng, ACME_TEAMS), "app": app, "route": _pick(rng, ACME_ROUTES)}
    if rng.random() < 0.8:  # not every service sets these
        properties["region"] = _pick(rng, ACME_REGIONS)
        properties["customer"] = _pick(rng, ACME_CUSTOMERS)
    properties["deployment"] = "canary" if rng.random() < 0.15 else "stable"
    worse = app == "docs-qa" and properties["deployment"] == "canary" and _within(created, when.canary)
    scores: dict[str, int] = {}
    if status == 200 and rng.random() < 0.3:
        scores = {"groundedness": min(100, max(0, int(rng.gauss(55, 10) if worse else rng.gauss(88, 6))))}
        scores["tone"] = rng.randint(1, 5)
        if rng.random() < 0.5:
            scores["resolved-hcone-bool"] = int(rng.random() < (0.4 if worse else 0.8))
    return {
        "latency": latency,
        "time_to_first_token": int(latency * rng.uniform(0.1, 0.3)) if rng.random() < 0.6 else None,
        "status": status,
        "model": model,
        "provider": provider,
        "user_id": user,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost": round(prompt / 1000 * p_in + completion / 1000 * p_out, 9),
        "threat": rng.random() < 0.003,
        "target_url": ACME_URLS[provider],
        "country_code": _pick(rng, ACME_COUNTRIES),
        "properties": properties,
        "scores": scores,
    }


def _generate_acme(rows: int, seed: int, end: datetime, org: str, days: int) -> Iterator[dict[str, Any]]:
    """The second vocabulary's organization: `rows` requests over `days` up to `end` with `AcmeIncidents`."""
    rng = random.Random(seed)
    start = end - timedelta(days=days)
    span_ms = int((end - start).total_seconds() * 1000)
    when = AcmeIncidents(end)
    for i in range(rows):
        created = start + timedelta(milliseconds=int(span_ms * (i + rng.random()) / rows))
        row = _acme_row(rng, created, when)
        topic = rng.choice(ACME_TOPICS)
        yield {
            "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "organization_id": org,
            "request_created_at": _iso(created),
            "response_created_at": _iso(created + timedelta(milliseconds=row["latency"])),
            **row,
            "request_body": f'{{"model": "{row["model"]}", "messages": [{{"role": "user", "content": "{topic}"}}]}}',
            "response_body": '{"choices": [{"message": {"role": "assistant", "content": "Done."}}]}',
        }


VOCABULARIES = ("sample", "acme")


def demo_org(vocabulary: str = "sample") -> str:
    """The organization `heliqa demo --vocabulary V` fills when HELIQA_ORG_ID names none."""
    return ACME_ORG if vocabulary == "acme" else DEMO_ORG


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# a month at 10,000 requests a day: enough traffic in each model's, provider's and property value's own series for
# the planted incidents to show there within half an hour (at 50,000 rows the thinnest hold a request or two an hour)
DEMO_ROWS = 300_000


def fill_demo(
    store,
    rows: int = DEMO_ROWS,
    seed: int = 7,
    now: datetime | None = None,
    vocabulary: str = "sample",
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Generate the demo dataset into `store` (organization HELIQA_ORG_ID or the vocabulary's demo org);
    `progress(done, rows)` after each batch written."""
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    org = settings().heliqa_org_id or demo_org(vocabulary)
    added, done = 0, 0
    batch: list[dict[str, Any]] = []
    for row in generate(rows, seed, end, org, vocabulary=vocabulary):
        batch.append(row)
        if len(batch) >= 50_000:
            added += store.add_rows(batch)
            done += len(batch)
            batch = []
            if progress is not None:
                progress(done, rows)
    if batch:
        added += store.add_rows(batch)
    if progress is not None:
        progress(rows, rows)
    return added
