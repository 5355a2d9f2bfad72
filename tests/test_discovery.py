"""_discovery: what an issuer's discovery document may name as its key set, served over real sockets."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from serverless_jwt._discovery import download
from serverless_jwt._http import FetchError
from serverless_jwt._jwks_state import CacheEntry
from serverless_jwt.dev.issuer import DISCOVERY_PATH, JWKS_PATH, DevIssuer


class TlsIssuer:
    """Discovery over https on 127.0.0.1 (a certificate this test trusts); ``jwks_uri`` as set."""

    def __init__(self, tmp_path: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(hours=1))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                               critical=False)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        self.ca_file = tmp_path / "ca.pem"
        self.ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file = tmp_path / "key.pem"
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        self.jwks_uri = ""
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests.append(self.path)
                body = json.dumps({"issuer": owner.issuer, "jwks_uri": owner.jwks_uri}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.issuer = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tls_issuer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TlsIssuer]:
    server = TlsIssuer(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))  # our certificate, trusted for this test
    yield server
    server.close()


def _download(issuer: str) -> Any:
    return download(CacheEntry(), issuer=issuer, jwks_uri=None, timeout_seconds=5, max_bytes=1 << 20)


def test_a_discovery_document_over_tls_is_read_and_names_a_tls_key_set(tls_issuer: TlsIssuer) -> None:
    tls_issuer.jwks_uri = tls_issuer.issuer + "/jwks"  # the same server: its answer is no key set
    with pytest.raises(FetchError) as info:
        _download(tls_issuer.issuer)
    assert info.value.reason == "not_a_jwks"
    assert tls_issuer.requests == ["/.well-known/openid-configuration", "/jwks"]


def test_a_discovery_document_over_tls_never_sends_the_key_fetch_to_plain_http(
    tls_issuer: TlsIssuer, issuer: DevIssuer
) -> None:
    # A key set named over TLS must be fetched over TLS: a plain-http address, even on this machine (the
    # Lambda runtime API listens there), would hand the keys to whoever answers on that port.
    tls_issuer.jwks_uri = issuer.jwks_uri
    with pytest.raises(FetchError) as info:
        _download(tls_issuer.issuer)
    assert info.value.reason == "discovery_bad_jwks_uri"
    assert issuer.requests[JWKS_PATH] == 0


def test_after_a_hung_discovery_the_known_key_set_gets_the_whole_deadline(issuer: DevIssuer) -> None:
    # Discovery hangs and the key set answers in 1.3 s of a 2 s deadline: more than the half a look-up
    # again leaves it. Each attempt looking discovery up first would fail for as long as discovery hangs.
    with DevIssuer() as home:
        home.jwks = issuer.jwks  # type: ignore[method-assign]  # the issuer's keys, published elsewhere
        issuer.discovery_overrides["jwks_uri"] = home.jwks_uri
        entry = CacheEntry()
        fetch: dict[str, Any] = {"issuer": issuer.issuer, "jwks_uri": None, "timeout_seconds": 2,
                                 "max_bytes": 1 << 20}
        assert download(entry, **fetch)["keys"]
        entry.rediscover = True  # as after a failed fetch, or for an unknown kid's refetch
        issuer.fault, issuer.fault_paths, issuer.slow_seconds = "slow", {DISCOVERY_PATH}, 30
        home.fault, home.fault_paths, home.slow_seconds = "slow", {JWKS_PATH}, 1.3
        with pytest.raises(FetchError) as info:
            download(entry, **fetch)
        assert info.value.reason == "timeout"
        assert download(entry, **fetch)["keys"]  # straight to the known address
        assert (issuer.requests[DISCOVERY_PATH], home.requests[JWKS_PATH]) == (2, 3)
        # Discovery is still looked up on the attempt after: a key set that moved is found.
        issuer.fault = home.fault = None
        issuer.discovery_overrides.clear()
        assert download(entry, **fetch)["keys"]
        assert (issuer.requests[DISCOVERY_PATH], issuer.requests[JWKS_PATH], entry.jwks_uri) == (
            3, 1, issuer.jwks_uri)
