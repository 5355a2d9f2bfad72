"""The rejection log line (``_rejections.py``): what failed, never what the token said."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import pytest

from serverless_jwt import presets
from serverless_jwt._rejections import configured_issuer, log_rejection
from serverless_jwt.errors import (
    InvalidClaimError,
    InvalidSignatureError,
    KeysUnavailableError,
    MissingTokenError,
    TokenExpiredError,
)
from serverless_jwt.issuers import MultiIssuerVerifier
from serverless_jwt.verifier import Verifier


class Recorder:
    """A Powertools-Logger-shaped target: info and error, with ``extra``."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def info(self, message: str, *args: Any, extra: dict[str, Any]) -> None:
        self.lines.append(("info", message % args, extra))

    def error(self, message: str, *args: Any, extra: dict[str, Any]) -> None:
        self.lines.append(("error", message % args, extra))


@pytest.mark.parametrize(("err", "check"), [
    (MissingTokenError(), "token_present"),
    (InvalidSignatureError(), "signature"),
    (TokenExpiredError(), "exp"),
    (KeysUnavailableError(), "signing_keys"),
    (InvalidClaimError("aud", "check_failed"), "aud:check_failed"),
])
def test_each_refusal_names_the_check_that_failed(err: Any, check: str) -> None:
    target = Recorder()
    log_rejection(err, issuer="https://issuer.example/", logger=target)
    [(level, line, fields)] = target.lines
    assert level == "info"
    assert fields == {"auth_code": err.code, "auth_status": err.status, "auth_check": check,
                      "auth_issuer": "https://issuer.example/"}
    assert line == f"request rejected: code={err.code} status={err.status} check={check} " \
                   "issuer=https://issuer.example/"


def test_an_error_level_line_goes_to_error_and_the_default_is_the_package_logger(
        caplog: pytest.LogCaptureFixture) -> None:
    target = Recorder()
    log_rejection(KeysUnavailableError(), issuer=None, logger=target, level=logging.ERROR)
    assert target.lines[0][0] == "error"
    with caplog.at_level(logging.INFO, logger="serverless_jwt"):
        log_rejection(TokenExpiredError(), issuer="iss")
    [record] = caplog.records
    assert (record.name, record.levelno, record.auth_check) == ("serverless_jwt", logging.INFO, "exp")  # type: ignore[attr-defined]


def test_the_configured_issuer_is_read_from_any_kind_of_verifier() -> None:
    one = Verifier(issuer="https://a.example/", audience="api")
    two = Verifier(issuer="https://b.example/", audience="api")
    assert configured_issuer(one) == "https://a.example/"
    assert configured_issuer(presets.auth0("tenant.example.com", audience="api")) == "https://tenant.example.com/"
    assert configured_issuer(MultiIssuerVerifier([two, one])) == "https://a.example/,https://b.example/"
    assert configured_issuer(Verifier(secrets=[secrets.token_bytes(32)])) is None
    assert configured_issuer(object()) is None
