"""Typed values that flow out of backends: answer rows and the grounding vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class Row:
    """One answer row: a bucket start (UTC) or None, a group or None, and a value or None."""

    bucket: datetime | None
    group: str | None
    value: float | None

    def to_json(self) -> dict:
        """`{"bucket", "group", "value"}` with the bucket as a `...Z` UTC instant."""
        return {"bucket": iso_z(self.bucket) if self.bucket else None, "group": self.group, "value": self.value}


def iso_z(moment: datetime, millis: bool = False) -> str:
    """Format a UTC datetime (naive = UTC) as `YYYY-MM-DDTHH:MM:SS[.sss]Z`."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    text = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"  # strftime's %Y drops the zeros of years before 1000
    return f"{text}.{moment.microsecond // 1000:03d}Z" if millis else f"{text}Z"


def money(value: float, cents_from: float = 1.0) -> str:
    """An amount in USD as every surface shows it: `$0` for nothing, cents (`$12.30`) from `cents_from` up,
    four decimals below it (`$0.0078`: a request costs fractions of a cent)."""
    if value == 0:
        return "$0"
    return f"${value:,.2f}" if abs(value) >= cents_from else f"${value:,.4f}"


USER_IDS_LIMIT = 20_000  # user ids a backend lists for grounding; a larger org is not checked (knows_every_user)


@dataclass
class Vocabulary:
    """What exists for one organization: the names a question may refer to, with request counts."""

    models: dict[str, int] = field(default_factory=dict)
    providers: dict[str, int] = field(default_factory=dict)
    properties: dict[str, dict[str, int]] = field(default_factory=dict)
    score_keys: dict[str, int] = field(default_factory=dict)
    users: int = 0
    # user ids with request counts; empty when the backend cannot list them, partial above USER_IDS_LIMIT
    user_ids: dict[str, int] = field(default_factory=dict)
    # country codes with request counts; None when the backend cannot list them (Helicone's REST API)
    countries: dict[str, int] | None = None

    def to_json(self) -> dict:
        """Plain JSON for prompts and caches."""
        return {
            "models": self.models,
            "providers": self.providers,
            "properties": self.properties,
            "score_keys": self.score_keys,
            "users": self.users,
            "user_ids": self.user_ids,
            "countries": self.countries,
        }

    def knows_every_user(self) -> bool:
        """True when `user_ids` lists every user, so a name missing from it does not exist."""
        return bool(self.user_ids) and len(self.user_ids) == self.users
