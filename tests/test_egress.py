"""The egress policy for URLs found in data (signed body URLs), against real servers on 127.0.0.1: what it refuses
by default, and with the private-address opt-in, the bounds it keeps (redirects, size, deadline, pinned address)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from heliqa.tools import egress
from heliqa.tools.egress import EgressPolicy, FetchFailed, Refused, public, shown
from tests.fake_helicone import RawReply, gzip_bomb, send_raw

OK = json.dumps({"request": {"prompt": "hi"}, "response": {"text": "ok"}}).encode()
BOMB = gzip_bomb(100 << 20)  # 100 MB of zeros in about 100 KB


class BodyServer:
    """Routes: /ok, /big (2 MB), /bomb (gzip of 100 MB), /trickle, /same (redirect to /ok), /other (redirect to
    `localhost`, another host), /loop (redirects to itself); `hosts` records each request's Host header."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.hosts.append(self.headers.get("host", ""))
                send_raw(self, server.routes.get(self.path.split("?")[0], RawReply(b"", 404)))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.routes = {
            "/ok": RawReply(OK),
            "/big": RawReply(b"x" * (2 << 20)),
            "/bomb": RawReply(BOMB, headers={"content-encoding": "gzip"}),
            "/trickle": RawReply(OK + b" " * 200, trickle=0.05),
            "/same": RawReply(b"", 302, {"location": "/ok"}),
            "/other": RawReply(b"", 302, {"location": f"http://localhost:{port}/ok"}),
            "/loop": RawReply(b"", 302, {"location": "/loop"}),
            "/gone": RawReply(b"expired", 403),
        }

    def __enter__(self) -> BodyServer:
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def bodies() -> Iterator[BodyServer]:
    with BodyServer() as server:
        yield server


def opted_in(upstream: str, **options) -> EgressPolicy:
    """The policy a test or a self-hosted Helicone uses: private addresses and http allowed."""
    return EgressPolicy(upstream, allow_private=True, **options)


# --- the default policy refuses ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url,reason",
    [
        ("http://api.helicone.ai/x", "http scheme (only https)"),
        ("file:///etc/passwd", "file scheme"),
        ("ftp://api.helicone.ai/x", "ftp scheme"),
        ("https://evil.example/x?X-Amz-Signature=secret", "host evil.example is neither the upstream's"),
        ("https://api.helicone.ai.evil.example/x", "is neither the upstream's"),
        ("https://localhost/x", "localhost resolves to 127.0.0.1"),
        ("https://127.0.0.1:8443/x", "resolves to 127.0.0.1"),
        ("https://169.254.169.254/latest/meta-data", "resolves to 169.254.169.254"),
        ("https://10.1.2.3/x", "resolves to 10.1.2.3"),
        ("https://[::1]/x", "resolves to ::1"),
        ("https://[::ffff:127.0.0.1]/x", "resolves to ::ffff:7f00:1"),
        ("https://224.0.0.1/x", "resolves to 224.0.0.1"),
        ("https://0.0.0.0/x", "resolves to 0.0.0.0"),
    ],
)
def test_the_default_policy_refuses(url, reason):
    allow = ["localhost", "127.0.0.1", "169.254.169.254", "10.1.2.3", "::1", "::ffff:127.0.0.1", "224.0.0.1", "0.0.0.0"]
    policy = EgressPolicy("https://api.helicone.ai", hosts=allow)
    with pytest.raises(Refused) as refused:
        policy.fetch(url)
    assert reason in refused.value.message
    assert "secret" not in refused.value.message and "meta-data" not in shown(url)


def test_addresses_inside_ipv6_count():
    import ipaddress

    for inner in ("64:ff9b::7f00:1", "2002:7f00:1::1", "::ffff:10.0.0.1"):  # NAT64, 6to4, mapped -> private IPv4
        assert not public(ipaddress.ip_address(inner))
    assert public(ipaddress.ip_address("8.8.8.8")) and public(ipaddress.ip_address("2001:4860:4860::8888"))


def test_allow_list_matches_names_and_subdomains():
    policy = EgressPolicy("https://api.helicone.ai", hosts=["*.s3.amazonaws.com", "Bodies.Example.com."])
    assert policy.allowed_host("api.helicone.ai") and policy.allowed_host("bodies.example.com")
    assert policy.allowed_host("bucket.s3.amazonaws.com") and not policy.allowed_host("s3.amazonaws.com.evil.io")
    assert not policy.allowed_host("eu.api.helicone.ai") and not policy.allowed_host("amazonaws.com")


def test_the_settings_build_the_policy(monkeypatch):
    monkeypatch.setenv("HELIQA_EGRESS_HOSTS", "bodies.example.com, *.r2.dev")
    policy = EgressPolicy.from_settings("https://eu.api.helicone.ai")
    assert policy.hosts == {"eu.api.helicone.ai", "bodies.example.com", "*.r2.dev"} and not policy.allow_private
    monkeypatch.setenv("HELIQA_EGRESS_ALLOW_PRIVATE", "1")
    assert EgressPolicy.from_settings("https://eu.api.helicone.ai").allow_private


# --- opted in (127.0.0.1): the bounds still hold -----------------------------------------------------------------
def test_a_body_is_fetched_and_a_same_host_redirect_followed(bodies):
    policy = opted_in(bodies.url)
    assert policy.fetch(f"{bodies.url}/ok?sig=1") == OK
    assert policy.fetch(f"{bodies.url}/same") == OK


def test_redirects_to_another_host_or_in_a_loop_are_refused(bodies):
    policy = opted_in(bodies.url, hosts=["localhost"])  # even an allowed host: a redirect never changes host
    with pytest.raises(Refused, match=rf"redirects to another host \(http://localhost:{bodies.port}\)"):
        policy.fetch(f"{bodies.url}/other")
    with pytest.raises(Refused, match="more than 3 redirects"):
        policy.fetch(f"{bodies.url}/loop")


def test_size_cap_holds_for_plain_and_compressed_answers(bodies):
    policy = opted_in(bodies.url, max_bytes=1 << 20)
    with pytest.raises(Refused, match="larger than 1,048,576 bytes"):
        policy.fetch(f"{bodies.url}/big")
    started = time.monotonic()
    with pytest.raises(Refused, match="larger than 1,048,576 bytes"):
        policy.fetch(f"{bodies.url}/bomb")  # 100 MB inflated: stopped after 1 MB
    assert time.monotonic() - started < 2


def test_a_trickle_is_cut_at_the_deadline(bodies):
    policy = opted_in(bodies.url, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="not finished within 1 s"):
        policy.fetch(f"{bodies.url}/trickle")
    assert 1.0 <= time.monotonic() - started < 2.0


def test_http_errors_are_failures_not_bodies(bodies):
    with pytest.raises(FetchFailed, match="HTTP 403"):
        opted_in(bodies.url).fetch(f"{bodies.url}/gone")


def test_the_connection_goes_to_the_address_that_was_checked(bodies, monkeypatch):
    """A name resolved once: a second answer (DNS rebinding to another address) is never asked for or used."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "10.255.255.1"])

    def resolve(host, port, *args, **kwargs):
        if host == "bodies.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(egress.socket, "getaddrinfo", resolve)
    policy = opted_in(bodies.url, hosts=["bodies.test"])
    assert policy.fetch(f"http://bodies.test:{bodies.port}/ok") == OK
    assert bodies.hosts[-1] == f"bodies.test:{bodies.port}"  # the name went as Host; the socket went to 127.0.0.1
    assert next(answers) == "10.255.255.1"  # resolved exactly once


def _certificate(tmp_path, name: str) -> tuple[str, str]:
    """A self-signed certificate for `name` (and its key), as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.mark.parametrize("certified", ["bodies.test", "someone-else.test"])
def test_https_to_the_checked_address_still_verifies_the_name(tmp_path, monkeypatch, certified):
    """Connecting to the resolved address keeps TLS honest: the certificate is checked against the URL's name."""
    import ssl

    cert, key = _certificate(tmp_path, certified)
    with BodyServer() as server:
        served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        served.load_cert_chain(cert, key)
        server.httpd.socket = served.wrap_socket(server.httpd.socket, server_side=True)
        real = socket.getaddrinfo

        def resolve(host, port, *args, **kwargs):
            if host == "bodies.test":
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(egress.socket, "getaddrinfo", resolve)
        trusted = ssl.create_default_context(cafile=cert)
        policy = opted_in("https://api.helicone.ai", hosts=["bodies.test"], verify=trusted, deadline=5)
        url = f"https://bodies.test:{server.port}/ok"
        if certified == "bodies.test":
            assert policy.fetch(url) == OK
        else:
            with pytest.raises(FetchFailed, match="cannot read it"):
                policy.fetch(url)
