"""URLs as they may be shown: credentials in a URL (`http://user:password@host`) never reach a message or a log."""

from __future__ import annotations

import urllib.parse


def split_credentials(url: str) -> tuple[str, bool]:
    """(the URL without user and password, whether it had any)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # e.g. an unbalanced '[' in the host: nothing usable to show
        return "<unparsable URL>", False
    if parts.username is None and parts.password is None and "@" not in parts.netloc:
        return url, False
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), True


def mask_url(url: str | None) -> str:
    """`url` fit to print: `http://user:pw@host/x` -> `http://***@host/x`."""
    if not url:
        return ""
    bare, had = split_credentials(url)
    if not had:
        return bare
    scheme, sep, rest = bare.partition("://")
    return f"{scheme}{sep}***@{rest}" if sep else f"***@{bare}"
