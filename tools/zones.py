"""Time zone names as answers show them: the zone database's aliases of UTC read as `UTC`."""

from __future__ import annotations

# The zone database's names for UTC itself (its `backward` links); GMT's names stay GMT.
UTC_ALIASES = frozenset(
    name.lower() for name in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu")
)


def display_zone(name: str) -> str:
    """`name` as answers show it: `UTC` for any of UTC's aliases (`Etc/UTC` from a machine's /etc/localtime,
    `Zulu`, `UCT`, ...), the name unchanged otherwise."""
    return "UTC" if name.strip().lower() in UTC_ALIASES else name
