"""JWT_SECRET from Secrets Manager / SSM (moto): rotation, outage -> 503, and boto3 kept off cold start."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

import serverless_jwt
from serverless_jwt.adapters.decorators import require_auth
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import (
    AuthError,
    ConfigurationError,
    InvalidSignatureError,
    KeysUnavailableError,
)
from serverless_jwt.presets import netlify
from serverless_jwt.secret_store import StoredSecretKeys
from serverless_jwt.verifier import Verifier

from .conftest import hs256_token as _token

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")


def _handler(verifier: Verifier) -> Any:
    @require_auth(verifier)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": context.identity_context.subject}

    return handler


def _call(handler: Any, token: str) -> dict[str, Any]:
    event = {"version": "2.0", "headers": {"authorization": f"Bearer {token}"},
             "requestContext": {"http": {"method": "GET"}}}
    result: dict[str, Any] = handler(event, types.SimpleNamespace())
    return result


def test_secrets_manager_secret_with_rotation(aws: None, issuer: DevIssuer) -> None:
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name="jwt-secret", SecretString=old)["ARN"]
    verifier = Verifier.from_env({"JWT_SECRET": arn}, secret_max_age_seconds=0)
    handler = _handler(verifier)
    assert _call(handler, _token(issuer, old, "before"))["body"] == "before"

    # Rotation: the stored value lists the new secret and, for a while, the old one.
    client.put_secret_value(SecretId=arn, SecretString=f"{new}\n{old}\n")
    assert _call(handler, _token(issuer, new, "new"))["body"] == "new"
    assert _call(handler, _token(issuer, old, "old"))["body"] == "old"

    client.put_secret_value(SecretId=arn, SecretString=new)
    assert _call(handler, _token(issuer, old))["statusCode"] == 401
    with pytest.raises(InvalidSignatureError):
        verifier.verify(_token(issuer, old))


def test_store_unavailable_is_503(aws: None, issuer: DevIssuer) -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:does-not-exist-AbCdEf"
    verifier = Verifier.from_env({"JWT_SECRET": arn})
    assert verifier.prefetch() is False  # a cold start survives the outage
    token = _token(issuer, secrets.token_urlsafe(32))
    with pytest.raises(KeysUnavailableError):
        verifier.verify(token)
    response = _call(_handler(verifier), token)
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"]
    assert "does-not-exist" not in response["body"]


def test_last_good_secret_serves_through_an_outage(aws: None, issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name="jwt-outage", SecretString=secret)["ARN"]
    verifier = Verifier.from_env({"JWT_SECRET": arn}, secret_max_age_seconds=0, verified_cache_size=0)
    assert verifier.verify(_token(issuer, secret))["sub"] == "u1"
    client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert verifier.verify(_token(issuer, secret, "still"))["sub"] == "still"


def test_the_consoles_key_value_form_and_binary_secrets_are_read(aws: None, issuer: DevIssuer) -> None:
    client = boto3.client("secretsmanager")
    secret = secrets.token_urlsafe(32)
    arn = client.create_secret(Name="jwt-kv", SecretString=json.dumps({"JWT_SECRET": secret}))["ARN"]
    assert Verifier.from_env({"JWT_SECRET": arn}).verify(_token(issuer, secret, "kv"))["sub"] == "kv"
    raw = secrets.token_bytes(48)  # random bytes, not text: the key itself
    binary = client.create_secret(Name="jwt-bin", SecretBinary=raw)["ARN"]
    token = jwt.encode({"sub": "bin", "exp": int(time.time()) + 60}, raw, algorithm="HS256")
    assert Verifier.from_env({"JWT_SECRET": binary}).verify(token)["sub"] == "bin"


def test_an_unreadable_stored_value_is_503_and_logged_with_its_reason_never_its_value(
        aws: None, issuer: DevIssuer, caplog: pytest.LogCaptureFixture) -> None:
    secret = secrets.token_urlsafe(32)
    arn = boto3.client("secretsmanager").create_secret(
        Name="jwt-two", SecretString=json.dumps({"a": secret, "b": secret}))["ARN"]
    with caplog.at_level("WARNING", logger="serverless_jwt.secret_store"), \
            pytest.raises(KeysUnavailableError):
        Verifier.from_env({"JWT_SECRET": arn}).verify(_token(issuer, secret))
    assert "must hold one member" in caplog.text
    numeric = boto3.client("secretsmanager").create_secret(Name="jwt-num", SecretString='{"k": 123}')["ARN"]
    with caplog.at_level("WARNING", logger="serverless_jwt.secret_store"), \
            pytest.raises(KeysUnavailableError):
        Verifier.from_env({"JWT_SECRET": numeric}).verify(_token(issuer, secret))
    assert "member must be a string" in caplog.text
    missing = arn.replace("jwt-two", "jwt-none")
    with caplog.at_level("WARNING", logger="serverless_jwt.secret_store"), \
            pytest.raises(KeysUnavailableError):
        Verifier.from_env({"JWT_SECRET": missing}).verify(_token(issuer, secret))
    assert "ResourceNotFoundException" in caplog.text
    assert secret not in caplog.text


@pytest.mark.parametrize("reference", [
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:jwt-secret-AbCdEf",
    "ssm:/prod/api/jwt-secret-parameter-name", "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/jwt",
])
def test_a_secret_reference_is_never_used_as_the_key(issuer: DevIssuer, reference: str) -> None:
    # The name of a secret is no secret: signing with it must never pass.
    with pytest.raises(ConfigurationError, match="secret_from"):
        Verifier(secrets=reference, require_audience=False)
    preset = netlify(reference)  # as JWT_SECRET would be: fetched, not used as the key
    with pytest.raises(KeysUnavailableError):  # no store reachable here: a 503, never a pass
        preset.verifier.verify(_token(issuer, reference))


@pytest.mark.parametrize("reference", [
    "arn:aws:s3:::bucket/jwt-secret", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd",
    "arn:secretsmanager", "secretsmanager:jwt",
    "arn:aws:ssm:eu-west-1:123456789012:document/jwt",  # SSM, but no parameter: nothing to fetch
])
def test_secret_from_that_names_no_secret_store_is_refused_at_construction(reference: str) -> None:
    # It would otherwise fail on every request, a 503 each time.
    with pytest.raises(ConfigurationError, match="secret_from must be"):
        Verifier(issuer="https://issuer.example.com/", secret_from=reference, require_audience=False)


@pytest.mark.parametrize("reference", [
    "ssm:", "ssm:${JwtSecretParameter}", "ssm:/prod/jwt secret", "ssm: /prod/jwt", "ssm:'/prod/jwt'",
    "arn:aws:ssm:eu-west-1:123456789012:parameter/",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
])
def test_secret_from_whose_name_no_parameter_can_have_is_refused_at_construction(reference: str) -> None:
    # An empty template parameter (JWT_SECRET: !Sub "ssm:${Name}") or an unexpanded one named nothing
    # GetParameter can read: accepted, every request was a 503 instead of one error at the cold start.
    with pytest.raises(ConfigurationError, match=r"^secret_from "):
        Verifier(secret_from=reference)
    with pytest.raises(ConfigurationError, match=r"^JWT_SECRET "):
        Verifier.from_env({"JWT_SECRET": reference})


@pytest.mark.parametrize("reference", [
    "ssm:/prod/jwt-secret", "ssm:jwt_secret.v2", "ssm:/prod/jwt:3", "ssm:/prod/jwt:current-label",
    "ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/prod/jwt",
])
def test_secret_from_takes_every_ssm_parameter_name_and_selector(reference: str) -> None:
    StoredSecretKeys(reference, algorithms=["HS256"], fetch=lambda *a, **k: "x" * 40)


@pytest.mark.parametrize("suffix", [":JWT_SECRET::", ":JWT_SECRET:AWSCURRENT:", "::AWSPREVIOUS:",
                                    ":k:AWSCURRENT:v1"])
def test_a_secrets_manager_arn_with_an_ecs_style_suffix_is_refused_at_construction(aws: None,
                                                                                  suffix: str) -> None:
    # ECS's valueFrom (and CloudFormation's resolve) pick a JSON key or version after the ARN; GetSecretValue
    # takes no such suffix: accepted, it answered ResourceNotFound, a 503 on every request.
    arn = boto3.client("secretsmanager").create_secret(Name="jwt", SecretString="s" * 40)["ARN"]
    StoredSecretKeys(arn, algorithms=["HS256"])
    with pytest.raises(ConfigurationError, match="without a ':json-key:version-stage:' suffix"):
        StoredSecretKeys(arn + suffix, algorithms=["HS256"])
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        Verifier.from_env({"JWT_ISSUER": "https://issuer.example.com/", "JWT_SECRET": arn + suffix})
    # SSM's own selectors (name:version, name:label) are GetParameter's and stay accepted.
    StoredSecretKeys("ssm:/prod/jwt:3", algorithms=["HS256"], fetch=lambda *a, **k: "x" * 40)


@pytest.mark.parametrize("reference", [
    "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:jwt-AbCdEf",
    "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/jwt",
    "arn:aws-iso-b:secretsmanager:us-isob-east-1:123456789012:secret:jwt-AbCdEf",
    "arn:aws-eusc:ssm:eusc-de-east-1:123456789012:parameter/jwt",
])
def test_secret_from_takes_store_arns_of_every_partition(reference: str) -> None:
    StoredSecretKeys(reference, algorithms=["HS256"], fetch=lambda *a, **k: "x" * 40)
    # JWT_SECRET reads the same value as a reference (fetched), never as the key itself.
    verifier = Verifier.from_env({"JWT_ISSUER": "https://issuer.example.com/", "JWT_SECRET": reference})
    assert "keys=StoredSecretKeys" in repr(verifier)


@pytest.mark.parametrize(("setting", "value"), [
    ("max_age_seconds", float("inf")), ("max_age_seconds", float("nan")), ("max_age_seconds", 86401),
    ("max_age_seconds", -1), ("max_age_seconds", "300"),
    ("max_stale_seconds", float("inf")), ("max_stale_seconds", float("nan")), ("max_stale_seconds", 1e300),
    ("max_stale_seconds", 7 * 86400 + 1),
])
def test_a_secret_source_is_reread_within_a_day_and_stale_for_a_week_at_most(setting: str,
                                                                             value: Any) -> None:
    # Accepted, an infinite max age never read a rotated secret again, an infinite stale window kept a
    # retired one serving for good while its store was down (and nan did either, comparing false).
    with pytest.raises(ConfigurationError, match=f"^{setting} must be"):
        StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=lambda *a, **k: "x" * 40,
                         **{setting: value})
    StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=lambda *a, **k: "x" * 40,
                     max_age_seconds=86400, max_stale_seconds=7 * 86400)  # the bounds themselves


@pytest.mark.parametrize("arn", [
    "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:ssm:eu-west-1:123456789012:document/jwt-secret-document",
    "arn:aws:s3:::bucket-holding-the-jwt-secret/secret.txt",
])
def test_an_arn_of_no_secret_store_is_never_used_as_the_key(arn: str) -> None:
    # Neither fetched (nothing to fetch) nor a secret: JWT_SECRET=<a KMS key's ARN> made the ARN's own
    # text the HMAC key, which anyone who reads the template or IAM policy could sign with.
    with pytest.raises(ConfigurationError, match="JWT_SECRET is an ARN"):
        Verifier.from_env({"JWT_ISSUER": "https://issuer.example.com/", "JWT_SECRET": arn})
    with pytest.raises(ConfigurationError, match="A secret is an ARN"):
        Verifier(issuer="https://issuer.example.com/", secrets=arn, require_audience=False)


def test_unusable_stored_value_is_503_and_logged_with_its_reason_never_its_value(
        aws: None, issuer: DevIssuer, caplog: pytest.LogCaptureFixture) -> None:
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name="jwt-short", SecretString="shortsecretvalue")["ARN"]
    with pytest.raises(KeysUnavailableError):
        Verifier.from_env({"JWT_SECRET": arn}).verify(_token(issuer, "short" * 8))
    assert "is not usable: Secrets must be at least 32 bytes for HS256" in caplog.text
    assert "shortsecretvalue" not in caplog.text


_COLD_START = """
import sys
import serverless_jwt
from serverless_jwt import Verifier
v = Verifier.from_env({"JWT_SECRET": "x" * 32})
v.verify  # built, nothing fetched
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore", "aws_lambda_powertools"))
print(",".join(loaded))
"""


def test_boto3_not_imported_by_package_or_plain_secret_verifier() -> None:
    result = subprocess.run([sys.executable, "-c", _COLD_START], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == ""


def test_boto3_not_imported_until_first_use_of_a_store_reference() -> None:
    code = _COLD_START.replace('"x" * 32', '"arn:aws:secretsmanager:eu-west-1:123456789012:secret:s-AbCdEf"')
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            timeout=60)
    assert result.stdout.strip() == ""


REGION = "eu-west-1"


@pytest.fixture
def verifier(issuer: DevIssuer) -> Verifier:
    return Verifier(issuer=issuer.issuer, audience=issuer.audience, timeout_seconds=2)


class _Store:
    def __init__(self, value: str | None) -> None:
        self.value = value
        self.calls = 0

    def __call__(self, reference: str) -> str:
        self.calls += 1
        if self.value is None:
            raise RuntimeError(f"AccessDenied for {reference} with secret=topsecret")
        return self.value


def _hs_header() -> dict[str, Any]:
    return {"alg": "HS256"}


@pytest.fixture
def aws_r(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    moto = pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        yield boto3


def _http_call(handler: Any, token: str) -> dict[str, Any]:
    event = {"version": "2.0", "headers": {"authorization": f"Bearer {token}"},
             "requestContext": {"http": {"method": "GET"}}}
    result: dict[str, Any] = handler(event, types.SimpleNamespace())
    return result


def _hs_handler(verifier: Verifier) -> Any:
    @require_auth(verifier)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": context.identity_context.subject}

    return handler


def test_secret_store_outage_at_cold_start_backs_off() -> None:
    store, now = _Store(None), [1000.0]
    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=store, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(KeysUnavailableError):
            keys.keys_for(_hs_header())
    assert store.calls == 1


def test_a_503_from_the_store_says_when_it_is_read_again() -> None:
    store, now = _Store(None), [1000.0]
    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=store, clock=lambda: now[0])
    seen = []
    for at in (1000.0, 1004.0, 1009.5, 1010.0):
        now[0] = at
        with pytest.raises(KeysUnavailableError) as err:
            keys.keys_for(_hs_header())
        seen.append((err.value.retry_after_seconds, store.calls))
    # The pause after a failed read is 10 s: the header counts it down, then the store is asked again.
    assert seen == [(10, 1), (6, 1), (1, 1), (10, 2)]


def test_a_request_queued_behind_a_slow_failed_read_is_told_the_pause_left_never_more() -> None:
    # A cold start: one request reads the store (8 s: botocore's timeouts and its retry) and fails; one
    # that queued behind that read meanwhile is a 503 too. Its Retry-After counted the pause from when it
    # queued (18 s), not what is left of the 10 s pause timed from the failed read's end.
    store, now = _Store(None), [0.0]
    reading, queued = threading.Event(), threading.Event()
    clock_reads: list[str] = []

    def slow_failing_store(reference: str) -> str:
        reading.set()
        assert queued.wait(10)
        now[0] = 8.0
        return store(reference)

    def clock() -> float:
        clock_reads.append(threading.current_thread().name)
        return now[0]

    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=slow_failing_store, clock=clock,
                            timeout_seconds=60)  # a hang guard: both requests wait for the read's end
    answers: dict[str, int] = {}

    def ask() -> None:
        try:
            keys.keys_for(_hs_header())
        except KeysUnavailableError as exc:
            answers[threading.current_thread().name] = exc.retry_after_seconds

    first = threading.Thread(target=ask, name="first")
    first.start()
    assert reading.wait(10)
    second = threading.Thread(target=ask, name="second")
    second.start()
    for _ in range(2000):  # until the second request has looked at the clock, then queued for the read
        if "second" in clock_reads:
            break
        time.sleep(0.005)
    queued.set()
    first.join(10)
    second.join(10)
    assert answers == {"first": 10, "second": 10}
    assert store.calls == 1  # the queued request did not read the store again


def test_secret_store_serves_stale_then_gives_up_without_leaking() -> None:
    secret = secrets.token_urlsafe(32)
    store, now = _Store(secret), [0.0]
    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=store, clock=lambda: now[0],
                            max_age_seconds=300, max_stale_seconds=600)
    assert keys.keys_for(_hs_header())
    store.value = None
    now[0] = 301
    assert keys.keys_for(_hs_header())             # stale but within the window
    now[0] = 1000
    with pytest.raises(KeysUnavailableError) as err:
        keys.keys_for(_hs_header())
    assert "topsecret" not in str(err.value)
    assert secret not in repr(keys)
    assert err.value.__cause__ is None


def test_stored_secrets_are_fresh_until_their_max_age() -> None:
    store, now = _Store(secrets.token_urlsafe(32)), [0.0]
    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=store, clock=lambda: now[0],
                            max_age_seconds=300)
    assert keys.fresh_generation() is None  # nothing read yet: prefetch() reads
    keys.prefetch()
    assert keys.fresh_generation() == keys.generation == 1
    now[0] = 300
    assert keys.fresh_generation() is None  # due for a reload
    assert store.calls == 1


def test_a_slow_store_read_holds_up_only_the_request_that_refreshes() -> None:
    # Stale secrets in hand: one request reads the store again, the others serve what is cached
    # meanwhile instead of queueing behind that read (threads of a WSGI or ASGI server).
    secret, asked, release = secrets.token_urlsafe(32), threading.Event(), threading.Event()
    store, now = _Store(secret), [0.0]

    def slow_store(reference: str) -> str:
        if store.calls:  # the refresh hangs until the test lets it go
            asked.set()
            release.wait(10)
        return store(reference)

    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=slow_store,
                            clock=lambda: now[0], max_age_seconds=300)
    first = keys.keys_for(_hs_header())
    now[0] = 301
    refresher = threading.Thread(target=keys.keys_for, args=(_hs_header(),))
    refresher.start()
    assert asked.wait(10)  # the refresh has reached the store
    served: list[Any] = []
    other = threading.Thread(target=lambda: served.append(keys.keys_for(_hs_header())))
    other.start()
    other.join(10)
    finished_during_the_refresh = not other.is_alive()
    release.set()
    refresher.join(10)
    other.join(10)
    assert finished_during_the_refresh
    assert served == [first]
    assert store.calls == 2


def test_a_background_read_thawed_after_a_long_freeze_brings_secrets_fresh_from_their_arrival(
        issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # An async handler refreshes stale secrets in a background thread; Lambda freezes the environment
    # while that read is under way and thaws it two hours later (the clock moved on, past the stale
    # window), when the read completes. The first request after the thaw (past the window by the old
    # secrets' age) waits for that read: it brought the secret just now, which must verify its token.
    import asyncio

    from serverless_jwt import AsyncVerifier

    secret, asked, release = secrets.token_urlsafe(32), threading.Event(), threading.Event()
    store, now = _Store(secret), [0.0]

    def frozen_store(reference: str) -> str:
        if store.calls:  # the refresh: under way when the environment freezes
            asked.set()
            release.wait(10)
        return store(reference)

    verifier = Verifier(secrets=["x" * 32])
    monkeypatch.setattr(verifier, "_keys", StoredSecretKeys(
        "ssm:/jwt/secret", algorithms=["HS256"], fetch=frozen_store, clock=lambda: now[0],
        max_age_seconds=300, max_stale_seconds=3600))
    front = AsyncVerifier(verifier)
    first, second = _token(issuer, secret, "before"), _token(issuer, secret, "after")

    async def scenario() -> str | int:
        assert (await front.verify(first))["sub"] == "before"  # the cold read
        now[0] = 301
        assert (await front.verify(first))["sub"] == "before"  # stale: served, a read starts behind
        await asyncio.get_running_loop().run_in_executor(None, asked.wait, 10)
        now[0] += 2 * 3600  # frozen for two hours
        request = asyncio.create_task(front.verify(second))
        await asyncio.sleep(0)  # it waits for the read in flight
        release.set()  # thawed: the read completes
        try:
            return str((await request)["sub"])
        except AuthError as exc:
            return exc.status

    assert asyncio.run(scenario()) == "after"  # not 503
    assert store.calls == 2  # no read again for secrets that just arrived
    assert verifier._keys.fresh_generation() is not None


def test_secret_store_unusable_new_value_keeps_the_good_one() -> None:
    good = secrets.token_urlsafe(32)
    store, now = _Store(good), [0.0]
    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=store, clock=lambda: now[0],
                            max_age_seconds=10)
    first = keys.keys_for(_hs_header())
    store.value, now[0] = "short", 11
    assert keys.keys_for(_hs_header()) == first


def test_missing_secret_is_503_and_says_nothing_about_it(aws_r: Any, issuer: DevIssuer) -> None:
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:does-not-exist-AbCdEf"
    handler = _hs_handler(Verifier.from_env({"JWT_SECRET": arn}))
    response = _http_call(handler, issuer.mint(alg="HS256", secret="x" * 32, issuer=None, audience=None))
    assert response["statusCode"] == 503
    assert "does-not-exist" not in json.dumps(response)


def test_rotation_accepts_both_stored_values_and_nothing_else(aws_r: Any, issuer: DevIssuer) -> None:
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    aws_r.client("ssm").put_parameter(Name="/jwt/secret", Value=f"{new}\n{old}\n", Type="SecureString")
    handler = _hs_handler(Verifier.from_env({"JWT_SECRET": "ssm:/jwt/secret"}))
    for secret, sub in ((old, "old"), (new, "new")):
        token = issuer.mint(alg="HS256", secret=secret, issuer=None, audience=None, sub=sub)
        assert _http_call(handler, token)["body"] == sub
    forged = issuer.mint(alg="HS256", secret=secrets.token_urlsafe(32), issuer=None, audience=None)
    assert _http_call(handler, forged)["statusCode"] == 401


def test_stored_secret_never_verifies_public_key_algorithms(aws_r: Any, issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    arn = aws_r.client("secretsmanager").create_secret(Name="jwt", SecretString=secret)["ARN"]
    verifier = Verifier.from_env({"JWT_SECRET": arn})
    with pytest.raises(AuthError):
        verifier.verify(issuer.mint(issuer=None, audience=None))
    with pytest.raises(ConfigurationError):
        Verifier(secret_from=arn, algorithms=["RS256"])
def test_async_verifier_loads_the_stored_secret_once_and_is_503_without_it(aws: None,
                                                                          issuer: DevIssuer) -> None:
    import asyncio

    from serverless_jwt import AsyncVerifier

    secret = secrets.token_urlsafe(32)
    arn = boto3.client("secretsmanager").create_secret(Name="jwt-async", SecretString=secret)["ARN"]
    verifier = AsyncVerifier(Verifier.from_env({"JWT_SECRET": arn}))

    async def verify_all() -> list[Any]:
        tokens = [_token(issuer, secret, f"u{i}") for i in range(3)]
        return list(await asyncio.gather(*(verifier.verify(t) for t in tokens)))

    assert [c["sub"] for c in asyncio.run(verify_all())] == ["u0", "u1", "u2"]
    missing = AsyncVerifier(Verifier.from_env(
        {"JWT_SECRET": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:does-not-exist-AbCdEf"}))
    with pytest.raises(KeysUnavailableError):
        asyncio.run(missing.verify(_token(issuer, secret)))


# --- AWSPREVIOUS (opt-in): a Secrets Manager rotation's previous version ---------------------------------

def test_awsprevious_keeps_the_rotated_out_secret_valid_until_the_next_rotation(
        aws: None, issuer: DevIssuer) -> None:
    first, second, third = (secrets.token_urlsafe(32) for _ in range(3))
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name="jwt-rotated", SecretString=first)["ARN"]
    env = {"JWT_SECRET": arn, "JWT_SECRET_PREVIOUS": "AWSPREVIOUS"}
    handler = _handler(Verifier.from_env(env, secret_max_age_seconds=0))
    plain = _handler(Verifier.from_env({"JWT_SECRET": arn}, secret_max_age_seconds=0))
    assert _call(handler, _token(issuer, first, "first"))["body"] == "first"  # no previous version yet

    client.put_secret_value(SecretId=arn, SecretString=second)  # AWSCURRENT second, AWSPREVIOUS first
    assert _call(handler, _token(issuer, second, "second"))["body"] == "second"
    assert _call(handler, _token(issuer, first, "first"))["body"] == "first"
    assert _call(plain, _token(issuer, first))["statusCode"] == 401  # only when opted in

    client.put_secret_value(SecretId=arn, SecretString=third)
    assert _call(handler, _token(issuer, second, "second"))["body"] == "second"
    assert _call(handler, _token(issuer, first))["statusCode"] == 401
    assert _call(handler, _token(issuer, secrets.token_urlsafe(32)))["statusCode"] == 401


class _StagedStore:
    def __init__(self, current: str, previous: str | Exception | None) -> None:
        self.current, self.previous = current, previous

    def __call__(self, reference: str, stage: str | None = None) -> str:
        if stage is None:
            return self.current
        assert stage == "AWSPREVIOUS"
        if isinstance(self.previous, Exception):
            raise self.previous
        if self.previous is None:
            raise _not_found()
        return self.previous


def _not_found() -> Exception:
    err = RuntimeError("wrapped")
    err.__cause__ = types.SimpleNamespace(  # type: ignore[assignment]
        response={"Error": {"Code": "ResourceNotFoundException"}}, __cause__=None, __context__=None)
    return err


def _accepts(keys: StoredSecretKeys, secret: str) -> bool:
    signature = hmac.new(secret.encode(), b"h.p", hashlib.sha256).digest()
    return any(key.verify("HS256", b"h.p", signature) for key in keys.keys_for(_hs_header()))


ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:jwt-AbCdEf"


def test_awsprevious_read_failure_keeps_current_and_last_previous_and_logs_no_value(
        caplog: pytest.LogCaptureFixture) -> None:
    current, old = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    store, now = _StagedStore(current, old), [0.0]
    keys = StoredSecretKeys(ARN, algorithms=["HS256"], fetch=store, previous=True, clock=lambda: now[0],
                            max_age_seconds=10)
    assert _accepts(keys, current)
    assert _accepts(keys, old)
    store.previous, now[0] = RuntimeError(f"AccessDenied secret={old}"), 11
    assert _accepts(keys, current)
    assert _accepts(keys, old)  # the previous one read before still counts
    assert len(keys.keys_for(_hs_header())) == 2
    assert "could not be loaded: RuntimeError" in caplog.text
    assert old not in caplog.text
    assert current not in caplog.text


def test_awsprevious_missing_or_unusable_never_takes_the_current_secret_down(
        caplog: pytest.LogCaptureFixture) -> None:
    current = secrets.token_urlsafe(32)
    for previous, logged in ((None, False), ("short", True)):
        caplog.clear()
        keys = StoredSecretKeys(ARN, algorithms=["HS256"], fetch=_StagedStore(current, previous),
                                previous=True)
        assert _accepts(keys, current)
        assert len(keys.keys_for(_hs_header())) == 1
        assert ("not usable" in caplog.text) is logged
        assert "short" not in caplog.text


@pytest.mark.parametrize(("env", "message"), [
    ({"JWT_SECRET": ARN, "JWT_SECRET_PREVIOUS": "an-old-secret-" + "x" * 32}, "must be AWSPREVIOUS"),
    ({"JWT_SECRET": ARN, "JWT_SECRET_PREVIOUS": "awsprevious"}, "must be AWSPREVIOUS"),
    ({"JWT_SECRET": "ssm:/jwt/secret", "JWT_SECRET_PREVIOUS": "AWSPREVIOUS"}, "SSM parameter in JWT_SECRET"),
    ({"JWT_SECRET": "ssm:/jwt/secret", "JWT_SECRET_PREVIOUS": "an-old-secret-" + "x" * 32},
     "list the current and the previous secret in its value"),
    # The message names the variable that holds the short secret.
    ({"JWT_SECRET": "y" * 40, "JWT_SECRET_PREVIOUS": "short"},
     "^JWT_SECRET_PREVIOUS must be at least 32 bytes"),
    # Beside a secret given as text, the stage name would be taken as a (public) key: refused.
    ({"JWT_SECRET": "x" * 40, "JWT_SECRET_PREVIOUS": "AWSPREVIOUS", "JWT_ALLOW_SHORT_SECRET": "true"},
     "AWSPREVIOUS needs JWT_SECRET to name a Secrets Manager secret"),
    ({"JWT_SECRET": "x" * 40, "JWT_SECRET_PREVIOUS": "awsprevious"}, "needs JWT_SECRET to name"),
])
def test_a_previous_secret_that_would_be_ignored_is_refused_at_construction(
        env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as err:
        Verifier.from_env(env)
    assert "x" * 32 not in str(err.value)


def test_secret_previous_options_are_checked_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="secret_previous needs secret_from"):
        Verifier(secrets=[secrets.token_urlsafe(32)], secret_previous=True)
    with pytest.raises(ConfigurationError, match="secret_previous must be True or False"):
        Verifier(secret_from=ARN, secret_previous="false")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"fetch must take \(reference, stage\)"):
        StoredSecretKeys(ARN, algorithms=["HS256"], fetch=lambda reference: "x", previous=True)
    StoredSecretKeys(ARN, algorithms=["HS256"], fetch=_StagedStore("x", None), previous=True)


def test_while_awsprevious_cannot_be_read_the_rotated_out_secret_stands_in_and_nothing_is_kept_for_good(
        caplog: pytest.LogCaptureFixture) -> None:
    a, b, c = (secrets.token_urlsafe(32) for _ in range(3))
    store, now = _StagedStore(b, a), [0.0]
    keys = StoredSecretKeys(ARN, algorithms=["HS256"], fetch=store, previous=True, clock=lambda: now[0],
                            max_age_seconds=10, max_stale_seconds=100)
    assert _accepts(keys, a)
    assert _accepts(keys, b)
    # Rotated to c while AWSPREVIOUS reads are denied: what AWSPREVIOUS holds now is b, the last current.
    store.current, store.previous, now[0] = c, RuntimeError("AccessDenied"), 11
    assert _accepts(keys, c)
    assert _accepts(keys, b)
    assert not _accepts(keys, a)  # two rotations old: never kept on
    # Still unreadable, no rotation: b stands in for max_stale_seconds, then the grace ends.
    now[0] = 50
    assert _accepts(keys, b)
    now[0] = 120
    assert not _accepts(keys, b)
    assert _accepts(keys, c)


def test_the_stale_window_of_a_stored_secret_is_jwt_max_stale_seconds(aws: None) -> None:
    # JWT_MAX_STALE_SECONDS used to reach JWKS only: a stored secret kept its fixed hour.
    arn = boto3.client("secretsmanager").create_secret(Name="jwt-stale", SecretString="s" * 40)["ARN"]
    assert Verifier.from_env({"JWT_SECRET": arn})._keys._max_stale == 3600  # type: ignore[attr-defined]
    tuned = Verifier.from_env({"JWT_SECRET": arn, "JWT_MAX_STALE_SECONDS": "120"})
    assert tuned._keys._max_stale == 120  # type: ignore[attr-defined]
    for bad in (float("nan"), float("inf"), -1, "3600"):
        with pytest.raises(ConfigurationError, match="max_stale_seconds must be a finite number"):
            Verifier(secret_from=arn, max_stale_seconds=bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="max_stale_seconds must be a finite number"):
            Verifier(secrets=["s" * 40], max_stale_seconds=bad)  # type: ignore[arg-type]  # never ignored


def test_a_public_key_body_stored_over_several_lines_is_refused_not_split_into_secrets(
        aws: None, caplog: pytest.LogCaptureFixture) -> None:
    # An EC key's base64 body is two lines of >= 32 characters: read line by line, each passed as a
    # secret, and anyone holding the published key could sign tokens with its first line.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    body = "\n".join(pem.strip().splitlines()[1:-1])
    boto3.client("ssm").put_parameter(Name="/jwt/pasted-key", Value=body, Type="SecureString")
    verifier = Verifier.from_env({"JWT_SECRET": "ssm:/jwt/pasted-key"})
    forged = jwt.encode({"sub": "anyone", "exp": int(time.time()) + 60}, body.splitlines()[0].encode(),
                        algorithm="HS256")
    with caplog.at_level("WARNING", logger="serverless_jwt.secret_store"), \
            pytest.raises(KeysUnavailableError):
        verifier.verify(forged)
    assert "looks like a base64 public key" in caplog.text
    assert body.splitlines()[0] not in caplog.text


def test_the_consoles_key_value_form_named_keys_is_a_secret_not_a_jwk_set(
        aws: None, issuer: DevIssuer) -> None:
    # The whole-value key check must not read the console's one-member object as a JWK set because its
    # member is called "keys": its value is the secret (or the secrets, during a rotation).
    client = boto3.client("secretsmanager")
    new, old = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    one = client.create_secret(Name="jwt-keys-one", SecretString=json.dumps({"keys": new}))["ARN"]
    assert Verifier.from_env({"JWT_SECRET": one}).verify(_token(issuer, new, "one"))["sub"] == "one"
    both = client.create_secret(Name="jwt-keys-two", SecretString=json.dumps({"keys": [new, old]}))["ARN"]
    verifier = Verifier.from_env({"JWT_SECRET": both})
    assert verifier.verify(_token(issuer, old, "old"))["sub"] == "old"
    # Each secret it holds is still checked for key material: a JWK as the value is refused.
    jwk = json.dumps({"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                      "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})
    pasted = client.create_secret(Name="jwt-keys-jwk", SecretString=json.dumps({"keys": jwk}))["ARN"]
    with pytest.raises(KeysUnavailableError):
        Verifier.from_env({"JWT_SECRET": pasted}).verify(_token(issuer, new))


# --- a store that hangs: a loopback stand-in for Secrets Manager and SSM, reached by real botocore -------

class _HungStore:
    """Answers GetSecretValue / GetParameter over loopback HTTP only once ``release`` is set (the
    endpoint botocore is pointed at with AWS_ENDPOINT_URL_*): a store that accepts the read and stalls."""

    def __init__(self, secret: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.secret, self.release = secret, threading.Event()
        self.requests, self.answered = 0, 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests += 1
                if not owner.release.wait(30):  # a hang guard, never reached by a passing test
                    return
                value: dict[str, Any] = {"ARN": ARN, "Name": "jwt", "VersionId": "v1",
                                         "SecretString": owner.secret, "VersionStages": ["AWSCURRENT"]}
                if self.headers.get("X-Amz-Target", "").startswith("AmazonSSM"):
                    value = {"Parameter": {"Name": "/jwt", "Type": "SecureString", "Value": owner.secret}}
                body = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:  # the reader gave up (botocore's timeout)
                    return
                owner.answered += 1

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hung_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[_HungStore]:
    store = _HungStore(secrets.token_urlsafe(32))
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", store.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", store.url)
    try:
        yield store
    finally:
        store.close()


def _until(condition: Any) -> bool:
    # A hang guard only: polls an outcome, never times one.
    for _ in range(2000):
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("reference", [ARN, "ssm:/jwt"])
def test_a_cold_request_is_503_within_its_deadline_while_a_hung_store_read_finishes_for_the_next(
        hung_store: _HungStore, issuer: DevIssuer, reference: str) -> None:
    # Nothing cached and the store accepts the read but does not answer: the request waited on it for
    # botocore's timeouts and its retry (8 s), not JWT_TIMEOUT_SECONDS. It is a 503 at its own deadline
    # while the read goes on, and the read's answer serves the next request.
    verifier = Verifier(secret_from=reference, timeout_seconds=0.5, verified_cache_size=0)
    handler = _hs_handler(verifier)
    token = _token(issuer, hung_store.secret, "alice")
    first = _http_call(handler, token)
    answered = hung_store.answered
    hung_store.release.set()
    assert _until(lambda: verifier._keys.fresh_generation() is not None)  # type: ignore[attr-defined]
    second = _http_call(handler, token)
    assert first["statusCode"] == 503
    assert first["headers"]["Retry-After"] == "1"  # the read in flight may answer any moment
    assert token not in json.dumps(first)
    assert answered == 0  # it answered before the store did
    assert second["statusCode"] == 200
    assert second["body"] == "alice"
    assert hung_store.requests == 1  # the read that hung loaded the secret: botocore never retried


def test_async_cold_requests_share_one_hung_store_read_and_are_503_within_their_deadline(
        hung_store: _HungStore, issuer: DevIssuer) -> None:
    import asyncio

    from serverless_jwt import AsyncVerifier

    verifier = Verifier(secret_from=ARN, timeout_seconds=0.5, verified_cache_size=0)
    front = AsyncVerifier(verifier)
    token = _token(issuer, hung_store.secret, "alice")

    async def scenario() -> tuple[list[Any], int, Any]:
        cold = await asyncio.gather(front.verify(token), front.verify(token), return_exceptions=True)
        answered = hung_store.answered
        hung_store.release.set()
        for _ in range(2000):  # a hang guard: until the read that hung has brought the secret
            if verifier._keys.fresh_generation() is not None:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.01)
        return cold, answered, await front.verify(token)

    cold, answered, claims = asyncio.run(scenario())
    assert [type(answer) for answer in cold] == [KeysUnavailableError] * 2
    assert [answer.retry_after_seconds for answer in cold] == [1, 1]
    assert answered == 0  # they answered before the store did
    assert claims["sub"] == "alice"
    assert hung_store.requests == 1  # one read for both, and no retry by botocore


def test_a_request_refreshing_old_secrets_from_a_hung_store_serves_them_at_its_deadline(
        hung_store: _HungStore, issuer: DevIssuer) -> None:
    # Secrets loaded, due for a read: the request that reads the store again waited for botocore's
    # timeouts and retry too. It serves the last good secrets at its own deadline, and the read goes on.
    old, new = hung_store.secret, secrets.token_urlsafe(32)
    verifier = Verifier(secret_from=ARN, timeout_seconds=0.5, secret_max_age_seconds=0, verified_cache_size=0)
    hung_store.release.set()
    assert _until(verifier.prefetch)  # the first read builds botocore's client: it may take a while
    # The store counts an answer once it has written it, which may be after botocore has read it.
    assert _until(lambda: hung_store.answered == hung_store.requests)
    generation = verifier._keys.generation  # type: ignore[attr-defined]
    hung_store.release.clear()
    hung_store.secret = new  # rotated: the hung read will bring it
    before = (hung_store.requests, hung_store.answered)
    assert verifier.verify(_token(issuer, old, "stale"))["sub"] == "stale"
    answered = hung_store.answered - before[1]
    hung_store.release.set()
    assert _until(lambda: verifier._keys.generation != generation)  # type: ignore[attr-defined]
    assert answered == 0  # served before the store answered
    assert hung_store.requests - before[0] == 1  # that read brought the new secret: no retry
    assert verifier.verify(_token(issuer, new, "after"))["sub"] == "after"


def test_a_store_read_that_cannot_get_a_thread_is_503_and_pauses_nothing(
        issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Out of threads (a pids limit: "can't start new thread"): no read, a 503 to retry at once, not a 500;
    # the store did nothing wrong, so no pause: the next request reads it.
    secret = secrets.token_urlsafe(32)
    store = _Store(secret)
    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=store, timeout_seconds=60)
    start = threading.Thread.start

    def out_of_threads(thread: threading.Thread) -> None:
        if thread.name == "serverless-jwt-secret":
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", out_of_threads)
    with pytest.raises(KeysUnavailableError) as err:
        keys.keys_for(_hs_header())
    assert err.value.retry_after_seconds == 1
    monkeypatch.setattr(threading.Thread, "start", start)
    assert keys.keys_for(_hs_header())
    assert store.calls == 1


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), 86401, True, "3"])
def test_the_wait_for_a_store_read_is_checked_at_construction(timeout: Any) -> None:
    with pytest.raises(ConfigurationError, match="timeout_seconds must be > 0 and at most 86400"):
        StoredSecretKeys(ARN, algorithms=["HS256"], fetch=_Store("x"), timeout_seconds=timeout)


def test_an_unusable_current_secret_leaves_nothing_behind_for_the_reads_after_it(
        caplog: pytest.LogCaptureFixture) -> None:
    # A rotation writes an unusable AWSCURRENT (too short): that read fails and the last good secrets
    # serve. It had already taken the unusable value for the current one, so after the next rotation,
    # with AWSPREVIOUS unreadable, that value stood in for the previous secret and every load failed:
    # the new secret was never accepted.
    a, b, p = (secrets.token_urlsafe(32) for _ in range(3))
    store, now = _StagedStore(a, p), [0.0]
    keys = StoredSecretKeys(ARN, algorithms=["HS256"], fetch=store, previous=True, clock=lambda: now[0],
                            max_age_seconds=10, max_stale_seconds=1000, timeout_seconds=60)
    assert _accepts(keys, a)
    store.current, now[0] = "short", 11
    assert _accepts(keys, a)  # the unusable value is refused; the last good secrets serve
    assert "not usable" in caplog.text
    store.current, store.previous, now[0] = b, RuntimeError("AccessDenied"), 30  # past the pause
    assert _accepts(keys, b)
    assert _accepts(keys, a)  # what AWSPREVIOUS holds after a rotation from a: a stands in for it
    assert not _accepts(keys, "short")


_SLOW_IMPORT = """
import importlib.abc, sys, time

class SlowBoto3(importlib.abc.MetaPathFinder):  # a cold start at 128 MB, where importing boto3 is slow
    def find_spec(self, name, path, target=None):
        if name == "boto3":
            time.sleep(3)
        return None

sys.meta_path.insert(0, SlowBoto3())
from serverless_jwt import Verifier
from serverless_jwt.errors import AuthError
try:
    print(Verifier(secret_from=sys.argv[1], timeout_seconds=2).verify(sys.argv[2])["sub"])
except AuthError as exc:
    print(exc.status)
"""


def test_a_cold_starts_slow_boto3_import_is_not_counted_against_its_wait_for_the_store(
        hung_store: _HungStore, issuer: DevIssuer) -> None:
    # The deadline bounds the wait for the store. Importing boto3 and building the client happened in
    # the read, inside it: a function whose import took longer answered its first request 503.
    import os

    hung_store.release.set()  # the store answers at once
    token = _token(issuer, hung_store.secret, "alice")
    lib = str(Path(serverless_jwt.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (lib, os.environ.get("PYTHONPATH")))))
    result = subprocess.run([sys.executable, "-c", _SLOW_IMPORT, ARN, token], capture_output=True, text=True,
                            env=env, timeout=120, check=True)
    assert result.stdout.strip() == "alice"
    assert hung_store.requests == 1


def test_a_second_cold_request_waits_for_the_hung_read_in_flight_only_until_its_own_deadline(
        hung_store: _HungStore, issuer: DevIssuer) -> None:
    # The read's lock was held for the whole read: a request arriving behind it queued for botocore's
    # 8 s, however short its own deadline, and then answered the failed read's 10 s pause.
    verifier = Verifier(secret_from=ARN, timeout_seconds=0.5, verified_cache_size=0)
    handler = _hs_handler(verifier)
    token = _token(issuer, hung_store.secret, "alice")
    answers: list[dict[str, Any]] = []
    first = threading.Thread(target=lambda: answers.append(_http_call(handler, token)))
    first.start()
    assert _until(lambda: hung_store.requests == 1)  # the first request's read is at the store
    answers.append(_http_call(handler, token))  # the second, behind it
    first.join(30)
    answered = hung_store.answered
    hung_store.release.set()
    assert [(a["statusCode"], a["headers"]["Retry-After"]) for a in answers] == [(503, "1"), (503, "1")]
    assert answered == 0  # both answered before the store did
    assert _until(lambda: verifier._keys.fresh_generation() is not None)  # type: ignore[attr-defined]
    assert _http_call(handler, token)["statusCode"] == 200
    assert hung_store.requests == 1  # one read for all three


def test_a_read_that_never_ends_is_given_up_for_a_new_one_and_what_it_brings_late_is_dropped() -> None:
    # A fetch that never returns (a custom fetch without a timeout, a store trickling its answer past
    # botocore's per-read timeout, a read frozen with its Lambda environment): no read started while it
    # ran, so nothing was ever loaded again. After ten deadlines it is taken for hung: the next request
    # reads again, and the hung read's answer, should it come, is older than that read's and is dropped.
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    release, calls = threading.Event(), []

    def fetch(reference: str) -> str:
        calls.append(reference)
        if len(calls) == 1:
            release.wait(60)  # hung, until the end of the test
            return old
        return new

    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=fetch, timeout_seconds=0.05)
    waits: set[int] = set()

    def answer() -> bool:
        try:
            return bool(keys.keys_for(_hs_header()))
        except KeysUnavailableError as exc:
            waits.add(exc.retry_after_seconds)
            return False

    try:
        assert _until(answer)
    finally:
        release.set()
    assert waits == {1}  # meanwhile 503s: a read is under way, retry at once
    assert len(calls) == 2  # one read to replace the hung one, not one per request
    assert _until(lambda: not any(t.name == "serverless-jwt-secret" for t in threading.enumerate()))
    assert _accepts(keys, new)
    assert not _accepts(keys, old)


def test_an_async_refresh_that_never_ends_is_given_up_for_a_new_one(issuer: DevIssuer) -> None:
    import asyncio

    from serverless_jwt import AsyncVerifier

    first, second = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    release, calls, now = threading.Event(), [], [0.0]

    def fetch(reference: str) -> str:
        calls.append(reference)
        if len(calls) == 2:  # the first refresh: hung, until the end of the test
            release.wait(60)
        return first if len(calls) == 1 else second

    verifier = Verifier(secrets=["x" * 32])
    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=fetch, clock=lambda: now[0],
                            max_age_seconds=300, timeout_seconds=0.05)
    verifier._keys = keys  # type: ignore[assignment]
    front = AsyncVerifier(verifier)

    async def scenario() -> str:
        assert (await front.verify(_token(issuer, first, "cold")))["sub"] == "cold"
        now[0] = 301  # due: each request serves the old secret while a refresh runs behind it
        served = 0
        for _ in range(2000):  # a hang guard: until the refresh that replaced the hung one has landed
            if keys.fresh_generation() is not None:
                break
            with contextlib.suppress(InvalidSignatureError):  # unless the new secret landed meanwhile
                served += (await front.verify(_token(issuer, first, "old")))["sub"] == "old"
            await asyncio.sleep(0.01)
        assert served  # the old secret served while the refreshes ran
        return str((await front.verify(_token(issuer, second, "new")))["sub"])

    try:
        assert asyncio.run(scenario()) == "new"
    finally:
        release.set()
    assert len(calls) == 3


def test_a_store_slower_than_ten_deadlines_loads_what_the_read_given_up_for_hung_brings() -> None:
    # Every read outlasts ten deadlines (a slow store, or a Lambda environment frozen with the read in
    # flight between sparse requests). The read given up for hung answered first, while the one that
    # replaced it still ran: its secrets were dropped, that read was given up in turn, and so on: a 503
    # for good with a working store. Only an answer older than one already applied is dropped.
    secret, calls = secrets.token_urlsafe(32), []
    gates = [threading.Event() for _ in range(4)]

    def fetch(reference: str) -> str:
        calls.append(threading.current_thread())
        gates[len(calls) - 1].wait(60)  # a hang guard: each read answers when the test says
        return secret

    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=fetch, timeout_seconds=0.05)

    def request() -> bool:
        with contextlib.suppress(KeysUnavailableError):
            return bool(keys.keys_for(_hs_header()))
        return False

    try:
        assert not request()  # a cold 503: the first read runs on
        assert _until(lambda: request() or len(calls) >= 2)  # given up for hung: a second read runs
        reads = len(calls)
        gates[0].set()  # the first read answers, the second still runs
        assert _until(lambda: not calls[0].is_alive())
        assert _accepts(keys, secret)
        assert len(calls) == reads  # and serves: no read more
    finally:
        for gate in gates:
            gate.set()


def test_a_late_answer_of_a_read_given_up_for_hung_serves_until_the_read_after_it_lands() -> None:
    # The read given up for hung lands first (it was dropped: see above); the read started after it
    # lands later and stands, here bringing back the secrets kept before the first one landed.
    kept, rotated, calls = secrets.token_urlsafe(32), secrets.token_urlsafe(32), []
    gates = [threading.Event() for _ in range(4)]
    gates[0].set()

    def fetch(reference: str) -> str:
        calls.append(threading.current_thread())
        read = len(calls)
        gates[read - 1].wait(60)  # a hang guard: each read answers when the test says
        return rotated if read == 2 else kept

    now = [0.0]
    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=fetch, clock=lambda: now[0],
                            max_age_seconds=10, timeout_seconds=0.05)
    try:
        assert _accepts(keys, kept)
        now[0] = 11  # due: the second read hangs, served the kept secrets meanwhile
        assert _until(lambda: _accepts(keys, kept) and len(calls) >= 3)  # given up for hung: a third
        reads = len(calls)
        gates[1].set()  # the second read lands first
        assert _until(lambda: not calls[1].is_alive())
        assert _accepts(keys, rotated)
        gates[2].set()  # then the third, started after it: its answer is the newer
        assert _until(lambda: not calls[2].is_alive())
        assert _accepts(keys, kept)
        assert not _accepts(keys, rotated)
        assert len(calls) == reads
    finally:
        for gate in gates:
            gate.set()


def test_an_async_refresh_starts_no_thread_per_request_while_every_read_allowed_is_hung(
        issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Old secrets served, a refresh hung and two given up for hung (the most that may hang): no read can
    # start, yet each request handed the scheduler a refresh, a thread that found the read in flight
    # and ended: a thread per request for as long as the outage lasts.
    import asyncio

    from serverless_jwt import AsyncVerifier

    secret, release, calls, now = secrets.token_urlsafe(32), threading.Event(), [], [0.0]

    def fetch(reference: str) -> str:
        calls.append(reference)
        if len(calls) > 1:
            release.wait(60)  # every refresh hangs, until the end of the test
        return secret

    verifier = Verifier(secrets=["x" * 32])
    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=fetch, clock=lambda: now[0],
                            max_age_seconds=300, timeout_seconds=0.05)
    verifier._keys = keys  # type: ignore[assignment]
    front, token = AsyncVerifier(verifier), _token(issuer, secret, "old")
    started = []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    async def scenario() -> int:
        assert (await front.verify(token))["sub"] == "old"
        now[0] = 301  # due: served while refreshes run behind
        for _ in range(2000):  # a hang guard: until three refreshes run, two of them given up for hung
            if len(calls) == 4 and keys._hung_read():  # type: ignore[attr-defined]
                break
            assert (await front.verify(token))["sub"] == "old"
            await asyncio.sleep(0.01)
        monkeypatch.setattr(threading.Thread, "start", counted)
        for _ in range(20):
            assert (await front.verify(token))["sub"] == "old"
        monkeypatch.setattr(threading.Thread, "start", start)
        return len(calls)

    try:
        assert asyncio.run(scenario()) == 4
    finally:
        release.set()
    assert started == []


def test_a_cold_request_that_finds_the_read_it_came_for_just_landed_is_served_and_reads_no_more() -> None:
    # A cold request saw nothing loaded; the read in flight landed before it came to join one: it
    # started another read (a second read of the store) and waited for that one, a 503 at its deadline
    # with the secrets loaded if the store was slow to answer again. Under the lock it looks again.
    secret, calls, racing = secrets.token_urlsafe(32), [], []
    gates = [threading.Event() for _ in range(2)]

    def fetch(reference: str) -> str:
        calls.append(threading.current_thread())
        gates[len(calls) - 1].wait(60)  # a hang guard: each read answers when the test says
        return secret

    def clock() -> float:
        if racing and threading.current_thread() is racing[0]:
            racing.clear()  # this request has just seen nothing loaded: the read in flight lands now
            gates[0].set()
            assert _until(lambda: not calls[0].is_alive())
        return 0.0

    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=fetch, clock=clock,
                            timeout_seconds=0.05)
    try:
        with pytest.raises(KeysUnavailableError):
            keys.keys_for(_hs_header())  # cold: the first read runs on past this request's deadline
        racing.append(threading.current_thread())
        assert _accepts(keys, secret)
        assert len(calls) == 1
    finally:
        for gate in gates:
            gate.set()


def test_a_request_waiting_for_the_read_that_replaced_a_hung_one_is_served_when_the_hung_one_lands(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The read given up for hung lands while the request that gave it up waits for its replacement: that
    # request was told 503 at its deadline, the secrets loaded (after a Lambda freeze with a read in
    # flight, the first request of each thaw). It is woken by the landing and served them.
    from serverless_jwt import secret_store

    monkeypatch.setattr(secret_store, "_HUNG_DEADLINES", 0)  # every read in flight is taken for hung
    secret, calls, answers = secrets.token_urlsafe(32), [], []
    gates = [threading.Event() for _ in range(2)]

    def fetch(reference: str) -> str:
        calls.append(threading.current_thread())
        read = len(calls)
        gates[read - 1].wait(60)  # a hang guard: each read answers when the test says
        return secret

    keys = StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"], fetch=fetch, timeout_seconds=20)

    def request() -> None:
        try:
            answers.append(_accepts(keys, secret))
        except KeysUnavailableError as exc:
            answers.append(exc)

    first, second = threading.Thread(target=request), threading.Thread(target=request)
    try:
        first.start()
        assert _until(lambda: len(calls) == 1)
        second.start()  # gives the first read up: a second read, which stays at the store
        assert _until(lambda: len(calls) == 2)
        gates[0].set()  # the first read lands
        second.join(60)  # a hang guard: the 20 s deadline ends it either way
        first.join(60)
        assert answers == [True, True]
    finally:
        for gate in gates:
            gate.set()


def test_a_read_that_got_no_thread_after_being_given_up_for_hung_leaves_the_hung_budget_as_it_was(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Building the client took so long (a slow boto3 import) that another request gave that read up for
    # hung and started one of its own; then neither got a thread. The first was counted among the hung
    # reads, and only a read that runs gives its place back: two such and no read was ever given up again.
    from serverless_jwt import secret_store

    monkeypatch.setattr(secret_store, "_HUNG_DEADLINES", 0)  # every read in flight is taken for hung
    importing, imported = threading.Event(), threading.Event()

    def prepare(reference: str) -> None:
        if not importing.is_set():
            importing.set()
            imported.wait(60)  # a hang guard: the import ends when the test says

    start = threading.Thread.start

    def out_of_threads(thread: threading.Thread) -> None:
        if thread.name == "serverless-jwt-secret":
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(secret_store, "prepare", prepare)
    monkeypatch.setattr(threading.Thread, "start", out_of_threads)
    keys = StoredSecretKeys(ARN, algorithms=["HS256"], timeout_seconds=60)
    answers: list[Any] = []

    def request() -> None:
        try:
            answers.append(keys.keys_for(_hs_header()))
        except KeysUnavailableError as exc:
            answers.append(exc.retry_after_seconds)

    first = threading.Thread(target=request)
    start(first)
    try:
        assert importing.wait(60)  # the first request's read is registered, its client being built
        request()  # the second gives it up, and gets no thread either
    finally:
        imported.set()
        first.join(60)
    assert answers == [1, 1]
    assert keys._hung == 0  # type: ignore[attr-defined]  # no read runs, none is hung
