"""Fetching a URL that came in the data (Helicone's `signed_body_url`): only where the policy allows, bounded.

The upstream names these URLs, so a hostile or broken upstream could point them anywhere: at an internal admin
page, a cloud metadata address, a server that trickles forever or answers gigabytes. `EgressPolicy.fetch`:

- https only (plain http too with `allow_private`, for a self-hosted Helicone and tests);
- the host must be the upstream's own or on the allow-list (`HELIQA_EGRESS_HOSTS`: names, `*.suffix`, IPs);
- every address the name resolves to must be public (not private, loopback, link-local, multicast, reserved,
  nor such an address inside IPv4-mapped, NAT64, 6to4 or Teredo IPv6), unless `allow_private`; the connection
  goes to the address that was checked (TLS still verifies the name), so DNS cannot answer differently later;
- redirects only to the same scheme, host and port (at most MAX_REDIRECTS), each checked again;
- at most `max_bytes` (decompressed, read in steps) within `deadline` seconds overall, however slowly it comes.

A URL that breaks a rule raises `Refused` with the reason; one that cannot be read raises `FetchFailed`.
Neither message shows the URL's path or query (signed URLs carry credentials there).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

import httpx

from heliqa.tools.errors import HeliqaError
from heliqa.tools.limits import BodyTooLarge, BodyTooSlow, BodyUnreadable, read_capped

MAX_BYTES = 16 << 20  # one signed body document (request and response); the store keeps 1M characters of each
DEADLINE = 30.0  # seconds for one URL: resolving, connecting, every redirect and the whole answer
MAX_REDIRECTS = 3
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(HeliqaError):
    """The policy does not allow fetching this URL."""


class FetchFailed(HeliqaError):
    """The URL was allowed but could not be read (HTTP error, network error, not finished in time)."""


def shown(url: str) -> str:
    """The URL as it may be printed: scheme and host only (a signed URL's path and query are credentials)."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}"
    except ValueError:
        return "(an unparseable URL)"


def _embedded(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list:
    """IPv4 addresses carried inside an IPv6 one (mapped, 6to4, Teredo, NAT64), which reach those hosts."""
    if ip.version == 4:
        return []
    found = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is a public unicast one, and so is every IPv4 address inside it."""
    return all(a.is_global and not a.is_multicast for a in [ip, *_embedded(ip)])


class EgressPolicy:
    """Which URLs found in data may be fetched, and the bounds of each fetch (see the module docstring)."""

    def __init__(
        self,
        upstream: str,
        hosts: Iterable[str] = (),
        allow_private: bool = False,
        max_bytes: int = MAX_BYTES,
        deadline: float = DEADLINE,
        verify: ssl.SSLContext | bool = True,
    ):
        own = urlsplit(upstream).hostname
        self.hosts = {h.strip().lower().rstrip(".") for h in [own or "", *hosts] if h.strip()}
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self.deadline = deadline
        # trust_env off: a proxy from the environment would connect by name, not to the checked address.
        self._http = httpx.Client(follow_redirects=False, trust_env=False, verify=verify)

    @classmethod
    def from_settings(cls, upstream: str, **bounds) -> EgressPolicy:
        """The policy of HELIQA_EGRESS_HOSTS and HELIQA_EGRESS_ALLOW_PRIVATE, for data from `upstream`."""
        from heliqa.tools.settings import settings

        s = settings()
        hosts = (s.heliqa_egress_hosts or "").split(",")
        return cls(upstream, hosts, allow_private=s.heliqa_egress_allow_private, **bounds)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def allowed_host(self, host: str) -> bool:
        """Whether `host` is the upstream's own or matches the allow-list (`*.example.com` matches subdomains)."""
        host = host.lower().rstrip(".")
        return any(host == h or (h.startswith("*.") and host.endswith(h[1:])) for h in self.hosts)

    def check(self, url: str) -> tuple[httpx.URL, str]:
        """(the URL, the checked address to connect to), or Refused naming the rule it breaks."""
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise Refused("not a URL") from None
        schemes = ("https", "http") if self.allow_private else ("https",)
        if target.scheme not in schemes:
            raise Refused(f"{target.scheme or 'no'} scheme (only {' or '.join(schemes)})")
        host = target.host
        if not host or not self.allowed_host(host):
            raise Refused(f"host {host[:100] or '(none)'} is neither the upstream's nor in HELIQA_EGRESS_HOSTS")
        port = target.port or (443 if target.scheme == "https" else 80)
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise FetchFailed(f"cannot resolve {host[:100]}") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in found]
        if not addresses:
            raise FetchFailed(f"cannot resolve {host[:100]}")
        bad = [a for a in addresses if not public(a)]
        if bad and not self.allow_private:
            raise Refused(f"{host[:100]} resolves to {bad[0]}, a private, loopback or reserved address")
        return target, str(addresses[0])

    def fetch(self, url: str) -> bytes:
        """The body at `url`, within the policy; Refused or FetchFailed otherwise."""
        deadline = time.monotonic() + self.deadline
        for _ in range(MAX_REDIRECTS + 1):
            target, address = self.check(url)
            status, location, body = self._get(target, address, deadline)
            if status not in (301, 302, 303, 307, 308):
                if status >= 400:
                    raise FetchFailed(f"HTTP {status}")
                return body
            if not location:
                raise FetchFailed(f"HTTP {status} without a Location")
            following = httpx.URL(urljoin(str(target), location))
            if (following.scheme, following.host, following.port) != (target.scheme, target.host, target.port):
                raise Refused(f"redirects to another host ({shown(str(following))})")
            url = str(following)
        raise Refused(f"more than {MAX_REDIRECTS} redirects")

    def _get(self, target: httpx.URL, address: str, deadline: float) -> tuple[int, str | None, bytes]:
        """One GET sent to `address` (the checked one) for `target`'s host: (status, Location, body)."""
        pinned = target.copy_with(host=address)
        headers = {"host": target.netloc.decode("ascii"), "accept-encoding": "gzip, identity"}
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchFailed(f"not finished within {self.deadline:g} s")
        timeout = httpx.Timeout(left, connect=min(left, 10.0))
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = self._http.build_request("GET", pinned, headers=headers, timeout=timeout, extensions=extensions)
        try:
            response = self._http.send(request, stream=True)
            try:
                if response.status_code >= 300:
                    return response.status_code, response.headers.get("location"), b""
                return response.status_code, None, self._read(response, deadline)
            finally:
                response.close()
        except httpx.TimeoutException:
            raise FetchFailed(f"not finished within {self.deadline:g} s") from None
        except httpx.HTTPError as error:
            raise FetchFailed(f"cannot read it ({type(error).__name__})") from None

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        """The answer's bytes, decompressed in bounded steps, cut at max_bytes or at the deadline."""
        encoding = response.headers.get("content-encoding", "identity")
        try:
            return read_capped(response.iter_raw(), encoding, self.max_bytes, deadline)
        except BodyTooLarge as error:
            raise Refused(str(error)) from None
        except BodyUnreadable as error:
            raise FetchFailed(str(error)) from None
        except BodyTooSlow:
            raise FetchFailed(f"not finished within {self.deadline:g} s") from None
