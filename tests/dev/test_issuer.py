"""The dev issuer serves real discovery/JWKS over loopback HTTP and mints verifiable tokens."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest

from serverless_jwt.dev import oidc_client as oc
from serverless_jwt.dev.issuer import DISCOVERY_PATH, JWKS_PATH, DevIssuer
from serverless_jwt.errors import ConfigurationError


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback test server
        return json.load(response)


def _decode(issuer: DevIssuer, token: str, alg: str) -> dict[str, Any]:
    jwk = next(k for k in issuer.jwks()["keys"] if k["kid"] == jwt.get_unverified_header(token)["kid"])
    key = jwt.PyJWK(jwk).key
    return jwt.decode(token, key, algorithms=[alg], audience=issuer.audience, issuer=issuer.issuer)


def test_discovery_points_at_the_served_jwks(issuer: DevIssuer) -> None:
    doc = _get(issuer.discovery_uri)
    assert doc["issuer"] == issuer.issuer
    assert doc["jwks_uri"] == issuer.jwks_uri
    assert issuer.issuer.startswith("http://127.0.0.1:")
    served = _get(doc["jwks_uri"])
    assert {k["kty"] for k in served["keys"]} == {"RSA", "EC"}
    assert issuer.requests[DISCOVERY_PATH] == 1
    assert issuer.requests[JWKS_PATH] == 1


def test_served_jwks_holds_no_private_members(issuer: DevIssuer) -> None:
    for key in _get(issuer.jwks_uri)["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_minted_tokens_verify_with_pyjwt_against_the_served_keys(issuer: DevIssuer, alg: str) -> None:
    token = issuer.mint(alg=alg, sub="alice", scopes=["read", "write"], roles=["admin"],
                        roles_claim="https://example.com/roles")
    claims = _decode(issuer, token, alg)
    assert claims["sub"] == "alice"
    assert claims["scope"] == "read write"
    assert claims["app_metadata"] == {"authorization": {"roles": ["admin"]}}
    assert claims["https://example.com/roles"] == ["admin"]
    assert claims["exp"] - claims["iat"] == 3600


def test_a_string_of_scopes_or_a_single_role_is_never_split_into_characters(issuer: DevIssuer) -> None:
    claims = _decode(issuer, issuer.mint(scopes="read:shows write:shows", roles="admin",
                                         roles_claim="roles"), "RS256")
    assert claims["scope"] == "read:shows write:shows"
    assert claims["app_metadata"] == {"authorization": {"roles": ["admin"]}}
    assert claims["roles"] == ["admin"]


def test_minting_with_an_algorithm_it_holds_no_key_for_says_how_to_add_one(issuer: DevIssuer) -> None:
    with pytest.raises(ValueError, match=r"no ES384 key: rotate\(alg='ES384'\)"):
        issuer.mint(alg="ES384")
    issuer.rotate(alg="ES384")
    assert _decode(issuer, issuer.mint(alg="ES384"), "ES384")["sub"] == "dev-user"


def test_claims_and_headers_override_and_none_deletes(issuer: DevIssuer) -> None:
    token = issuer.mint(claims={"exp": None, "tenant": "t1"}, headers={"typ": "at+jwt"},
                        audience=["a", "b"], now=1_000_000)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["typ"] == "at+jwt"
    assert "exp" not in claims
    assert claims["tenant"] == "t1"
    assert claims["aud"] == ["a", "b"]
    assert claims["iat"] == 1_000_000


def test_foreign_key_token_carries_the_current_kid_but_fails_verification(issuer: DevIssuer) -> None:
    token = issuer.mint_with_foreign_key()
    assert jwt.get_unverified_header(token)["kid"] == issuer.kid("RS256")
    with pytest.raises(jwt.InvalidSignatureError):
        _decode(issuer, token, "RS256")


def test_rotate_drops_or_keeps_the_old_key(issuer: DevIssuer) -> None:
    first = issuer.kid()
    second = issuer.rotate(keep_old=True)
    kids = {k["kid"] for k in issuer.jwks()["keys"]}
    assert {first, second} <= kids
    third = issuer.rotate()
    kids = {k["kid"] for k in issuer.jwks()["keys"]}
    assert third in kids
    assert second not in kids
    assert first in kids  # kept by the first rotation, untouched by the second
    assert _decode(issuer, issuer.mint(), "RS256")["sub"] == "dev-user"


def test_extra_jwks_keys_are_served(issuer: DevIssuer) -> None:
    issuer.extra_jwks_keys.append({"kty": "oct", "k": "c2VjcmV0", "kid": "odd"})
    assert {"kty": "oct", "k": "c2VjcmV0", "kid": "odd"} in _get(issuer.jwks_uri)["keys"]


@pytest.mark.parametrize("status", ["500", "503"])
def test_status_faults(issuer: DevIssuer, status: str) -> None:
    issuer.fault = status
    with pytest.raises(urllib.error.HTTPError) as info:
        _get(issuer.jwks_uri)
    assert info.value.code == int(status)


def test_fault_paths_limit_where_a_fault_applies(issuer: DevIssuer) -> None:
    issuer.fault = "503"
    issuer.fault_paths = {JWKS_PATH}
    assert _get(issuer.discovery_uri)["issuer"] == issuer.issuer
    with pytest.raises(urllib.error.HTTPError):
        _get(issuer.jwks_uri)


def test_wrong_issuer_fault_changes_the_discovery_issuer(issuer: DevIssuer) -> None:
    issuer.fault = "wrong_issuer"
    assert _get(issuer.discovery_uri)["issuer"] != issuer.issuer


def test_redirect_fault_answers_302(issuer: DevIssuer) -> None:
    issuer.fault = "redirect"
    conn = http.client.HTTPConnection("127.0.0.1", int(issuer.issuer.rsplit(":", 1)[1]), timeout=5)
    conn.request("GET", JWKS_PATH)
    response = conn.getresponse()
    assert response.status == 302
    assert response.getheader("Location") == issuer.jwks_uri
    conn.close()


def test_reset_fault_resets_the_connection(issuer: DevIssuer) -> None:
    issuer.fault = "reset"
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected, urllib.error.URLError)):
        _get(issuer.jwks_uri)


def test_stop_is_prompt_while_a_drip_is_in_progress() -> None:
    dev = DevIssuer().start()
    dev.fault = "drip"
    started = threading.Event()
    outcome: list[BaseException] = []

    def client() -> None:
        try:
            with urllib.request.urlopen(dev.jwks_uri, timeout=30) as response:  # noqa: S310
                started.set()
                response.read()
        except BaseException as exc:
            outcome.append(exc)
        finally:
            started.set()

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    assert started.wait(10)
    dev.stop()
    thread.join(10)
    # The drip was cut short by stop(): the client saw a truncated body, not a complete document.
    assert not thread.is_alive()
    assert outcome
    assert isinstance(outcome[0], http.client.IncompleteRead)


def test_a_key_dir_it_creates_is_never_picked_up_by_git(tmp_path: Path) -> None:
    # A user's project may not ignore .serverless-jwt/: `git add .` must still not take the dev keys.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with DevIssuer(key_dir=tmp_path / ".serverless-jwt"):
        pass
    status = subprocess.run(["git", "-C", str(tmp_path), "status", "--porcelain", "--untracked-files=all"],
                            check=True, capture_output=True, text=True).stdout
    assert status == ""
    assert (tmp_path / ".serverless-jwt" / "rs256.pem").exists()
    mine = tmp_path / "mine"  # a folder that already existed is the user's: nothing is added to it
    mine.mkdir()
    with DevIssuer(key_dir=mine):
        pass
    assert not (mine / ".gitignore").exists()


def test_hs256_minting_uses_the_given_secret(issuer: DevIssuer) -> None:
    secret = "s" * 32
    token = issuer.mint(alg="HS256", secret=secret)
    assert jwt.decode(token, secret, algorithms=["HS256"], audience=issuer.audience)["sub"] == "dev-user"


def test_start_api_serves_resource_metadata_naming_the_dev_issuer(issuer: DevIssuer) -> None:
    from serverless_jwt.dev.apigw import LocalApiGateway
    from serverless_jwt.dev.oidc_provider import RESOURCE_METADATA_PATH, resource_metadata

    with LocalApiGateway([], {}, resource_metadata=lambda url: resource_metadata(issuer, url)) as api:
        url = api.url
        with urllib.request.urlopen(url + RESOURCE_METADATA_PATH, timeout=5) as response:  # noqa: S310
            document = json.loads(response.read())
            cors = response.headers["Access-Control-Allow-Origin"]
    assert cors == "*"  # a page served from another origin (?api=...) reads it too
    assert document["resource"] == url
    assert document["authorization_servers"] == [issuer.issuer]
    bare = LocalApiGateway([], {}).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(bare.url + RESOURCE_METADATA_PATH, timeout=5)  # noqa: S310
    finally:
        bare.stop()
    assert missing.value.code == 404


def test_a_negative_chunk_size_is_a_bad_request_not_a_read_to_the_end(issuer: DevIssuer) -> None:
    with socket.create_connection((urlsplit(issuer.issuer).hostname or "", urlsplit(issuer.issuer).port or 0),
                                  timeout=5) as sock:
        sock.sendall(b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n\r\n-1\r\n")
        # No end of stream is sent: reading "to the end" would wait here until the timeout.
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")


def test_a_body_sent_where_none_is_read_does_not_become_the_next_request(issuer: DevIssuer) -> None:
    smuggled = b"GET /logout HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection((urlsplit(issuer.issuer).hostname or "", urlsplit(issuer.issuer).port or 0),
                                  timeout=5) as sock:
        sock.sendall(b"POST /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
                     % len(smuggled) + smuggled)
        answers = b""
        while chunk := sock.recv(65536):  # the server closes after its one answer
            answers += chunk
    assert answers.count(b"HTTP/1.1 ") == 1
    assert answers.startswith(b"HTTP/1.1 405")


def test_content_lengths_that_disagree_are_a_400_not_a_second_request(issuer: DevIssuer) -> None:
    smuggled = b"GET /logout HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    form = b"grant_type=client_credentials"
    with socket.create_connection((urlsplit(issuer.issuer).hostname or "", urlsplit(issuer.issuer).port or 0),
                                  timeout=5) as sock:
        sock.sendall(b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n"
                     % (len(form), len(form) + len(smuggled)) + form + smuggled)
        answers = b""
        while chunk := sock.recv(65536):  # the server closes after its one answer
            answers += chunk
    assert answers.count(b"HTTP/1.1 ") == 1
    assert answers.startswith(b"HTTP/1.1 400")


def test_a_bug_in_a_handler_is_a_500_server_error_not_a_dropped_connection(
        issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(issuer.oidc, "userinfo", broken)
    answer = oc.get(issuer.issuer + "/userinfo")
    assert (answer.status, json.loads(answer.body)) == (500, {"error": "server_error"})
    assert b"a bug" not in answer.body


def test_the_dev_issuer_refuses_to_listen_off_loopback() -> None:
    with pytest.raises(ConfigurationError, match="loopback only"):
        DevIssuer(host="0.0.0.0")  # noqa: S104 - the point: it must refuse


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:80", "127.0.0.1.attacker.example",
                                  "[::1]@attacker.example", ""])
def test_a_request_for_another_host_name_is_refused(issuer: DevIssuer, host: str) -> None:
    # DNS rebinding: a page whose name now points at 127.0.0.1 must not read the login page or tokens.
    parts = urlsplit(issuer.issuer)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request("GET", "/.well-known/openid-configuration", headers={"Host": host})
        answer = conn.getresponse()
        assert answer.status == 421
        assert answer.getheader("Cache-Control") == "no-store"
    finally:
        conn.close()
    for name in ("localhost", "127.0.0.1", "[::1]"):
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        try:
            conn.request("GET", "/.well-known/openid-configuration", headers={"Host": f"{name}:{parts.port}"})
            assert conn.getresponse().status == 200
        finally:
            conn.close()


def test_an_error_answer_is_never_cached(issuer: DevIssuer) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(issuer.issuer + "/nothing-here", timeout=5)  # noqa: S310 - loopback
    assert info.value.code == 404
    assert info.value.headers["Cache-Control"] == "no-store"


def test_pending_sign_ins_are_bounded(issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    from serverless_jwt.dev import _oidc_grants

    monkeypatch.setattr(_oidc_grants, "_MAX_PENDING", 5)
    requests = [oc.start(issuer.issuer, redirect_uri="http://127.0.0.1:3000/") for _ in range(8)]
    pages = [oc.get(r.url).body.decode() for r in requests]
    assert len(issuer.oidc._store._pending) == 5
    # The newest still work; the oldest were dropped.
    assert oc._TRANSACTION.search(pages[-1]) is not None


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize(("path", "allow"), [
    (DISCOVERY_PATH, "GET, HEAD"), (JWKS_PATH, "GET, HEAD"), ("/oauth/token", "POST"),
    ("/authorize", "GET, HEAD, POST"), ("/userinfo", "GET, HEAD, POST"), ("/logout", "GET, HEAD, POST"),
])
def test_a_method_no_endpoint_takes_is_405_with_allow_not_501(
        issuer: DevIssuer, method: str, path: str, allow: str) -> None:
    answer = oc.send(method, issuer.issuer + path, data=b"", headers={})
    assert (answer.status, answer.headers["allow"]) == (405, allow)


def _head_and_get(issuer: DevIssuer, path: str, *, head_first: bool) -> tuple[Any, bytes, Any, bytes]:
    """``(HEAD answer, its body, GET answer, its body)`` of ``path``, both on one connection: a body sent
    after HEAD would be read as the next answer."""
    parts = urlsplit(issuer.issuer)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    answers: dict[str, tuple[Any, bytes]] = {}
    try:
        for method in (("HEAD", "GET") if head_first else ("GET", "HEAD")):
            conn.request(method, path)
            answer = conn.getresponse()
            answers[method] = (answer, answer.read())
    finally:
        conn.close()
    return (*answers["HEAD"], *answers["GET"])


@pytest.mark.parametrize("path", [DISCOVERY_PATH, JWKS_PATH])
def test_head_of_discovery_and_jwks_is_their_get_without_a_body(issuer: DevIssuer, path: str) -> None:
    head, _, got, body = _head_and_get(issuer, path, head_first=True)
    assert (head.status, got.status) == (200, 200)
    assert head.getheader("Content-Length") == str(len(body))
    assert json.loads(body)


@pytest.mark.parametrize(("headers", "body", "status"), [
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"grant_type=" + b"x" * 70_000, 413),
    ({"Content-Length": "zz"}, b"x", 400),
])
def test_an_unreadable_body_is_answered_with_an_rfc6749_error(
        issuer: DevIssuer, headers: dict[str, str], body: bytes, status: int) -> None:
    parts = urlsplit(issuer.issuer)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request("POST", "/oauth/token", body=body, headers=headers)
        answer = conn.getresponse()
        doc = json.loads(answer.read())
    finally:
        conn.close()
    assert answer.status == status
    assert answer.getheader("Cache-Control") == "no-store"
    assert doc["error"] == "invalid_request"
    assert doc["error_description"]


def _exchange(issuer: DevIssuer, data: bytes) -> bytes:
    """Every byte the issuer answers to ``data`` on one connection, until it closes it."""
    parts = urlsplit(issuer.issuer)
    with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=10) as sock:
        sock.sendall(data)
        answers = b""
        while chunk := sock.recv(65536):
            answers += chunk
    return answers


_SMUGGLED = b"GET /logout HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", JWKS_PATH), ("HEAD", JWKS_PATH), ("PUT", "/oauth/token"), ("DELETE", DISCOVERY_PATH),
    ("GET", "/authorize"),
])
def test_a_zero_content_length_beside_another_is_a_400_on_any_method_not_a_second_request(
        issuer: DevIssuer, method: str, path: str) -> None:
    answers = _exchange(issuer, b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                        b"Content-Length: %d\r\n\r\n" % (method.encode(), path.encode(), len(_SMUGGLED))
                        + _SMUGGLED)
    assert answers.count(b"HTTP/1.1 ") == 1
    assert answers.startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("length", [b"\xb2", b"+5", b"9" * 5000])
def test_a_content_length_that_is_not_plain_ascii_digits_is_refused(issuer: DevIssuer, length: bytes) -> None:
    answers = _exchange(issuer, b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
                        + length + b"\r\n\r\nhello")
    assert answers.count(b"HTTP/1.1 ") == 1
    assert answers.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 413 "))
    assert b"invalid_request" in answers


def test_a_chunk_extension_is_read_as_the_local_api_reads_it(issuer: DevIssuer) -> None:
    # The same line limit as apigw/body.py: a 100-byte extension is no malformed chunk here either.
    head = (b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n")
    answers = _exchange(issuer, head + b"c;ext=" + b"x" * 100 + b"\r\ngrant_type=x\r\n0\r\n\r\n")
    assert b'"unsupported_grant_type"' in answers  # the body was read: its grant type is what is refused


@pytest.mark.parametrize("size", [b"0x3", b"+3", b"0_3", b" 3"])
def test_a_chunk_size_is_hex_digits_only(issuer: DevIssuer, size: bytes) -> None:
    # int(x, 16) takes all of these; RFC 9112 §7.1's chunk-size is 1*HEXDIG.
    head = (b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
    answers = _exchange(issuer, head + size + b"\r\nx=1\r\n0\r\n\r\n")
    assert answers.startswith(b"HTTP/1.1 400 ")
    assert b"Malformed Content-Length or chunk size" in answers


@pytest.mark.parametrize("headers", [
    b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",  # both: RFC 9112 §6.1 closes after
    b"Transfer-Encoding: chunked, identity\r\n",  # chunked must be the final coding: a 400
])
def test_transfer_encoding_beside_a_length_or_not_last_ends_the_connection(
        issuer: DevIssuer, headers: bytes) -> None:
    answers = _exchange(issuer, b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers
                        + b"\r\n0\r\n\r\n" + _SMUGGLED)
    assert answers.count(b"HTTP/1.1 ") == 1
    assert answers.startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("path", ["/authorize", "/userinfo", "/logout"])
def test_head_works_wherever_get_does_and_sends_no_body(issuer: DevIssuer, path: str) -> None:
    head, head_body, got, body = _head_and_get(issuer, path, head_first=False)
    assert head_body == b""
    assert head.status == got.status != 405
    assert head.getheader("Content-Type") == got.getheader("Content-Type")
    assert body
