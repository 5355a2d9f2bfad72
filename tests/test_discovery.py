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
from serverless_jwt.dev.issuer import JWKS_PATH, DevIssuer


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
