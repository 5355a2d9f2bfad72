"""One read of a stored secret (moto): an ARN's region, SSM by name or ARN, no value in botocore's log."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

import pytest

from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.verifier import Verifier

from .conftest import hs256_token as _token

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")


def test_secret_in_another_region_is_fetched_there(aws: None, issuer: DevIssuer) -> None:
    secret = secrets.token_urlsafe(32)
    arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="jwt-elsewhere", SecretString=json.dumps([secret]))["ARN"]
    verifier = Verifier.from_env({"JWT_SECRET": arn})
    assert verifier.verify(_token(issuer, secret))["sub"] == "u1"


@pytest.mark.parametrize("name", ["/app/jwt-secret", "plain-name"])
def test_ssm_secure_string_by_name_and_by_arn(aws: None, issuer: DevIssuer, name: str) -> None:
    secret = secrets.token_urlsafe(32)
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=name, Value=secret, Type="SecureString")
    arn = ssm.get_parameter(Name=name)["Parameter"]["ARN"]
    for reference in (f"ssm:{name}", arn):
        verifier = Verifier.from_env({"JWT_SECRET": reference})
        assert verifier.verify(_token(issuer, secret))["sub"] == "u1"


def test_stored_secret_is_not_in_botocores_debug_log_lines(aws: None, issuer: DevIssuer,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    # botocore logs each response body at DEBUG; with the root logger there, the secret was a log line.
    secret, parameter = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    arn = boto3.client("secretsmanager").create_secret(Name="jwt-logged", SecretString=secret)["ARN"]
    boto3.client("ssm").put_parameter(Name="/jwt-logged", Value=parameter, Type="SecureString")
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    for reference, value in ((arn, secret), ("ssm:/jwt-logged", parameter)):
        verifier = Verifier.from_env({"JWT_SECRET": reference})
        assert verifier.verify(_token(issuer, value))["sub"] == "u1"
    assert "GetSecretValue" in caplog.text  # botocore did log these reads at DEBUG
    assert "GetParameter" in caplog.text
    assert secret not in caplog.text
    assert parameter not in caplog.text
    caplog.clear()
    boto3.client("secretsmanager").describe_secret(SecretId=arn)  # any other call's body is still logged
    assert any(record.getMessage().startswith("Response body") for record in caplog.records)


def _without_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No source botocore could find credentials in: environment, files, container or instance role.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_a_read_made_before_any_credentials_existed_does_not_keep_later_reads_from_using_them(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # An instance role not reachable yet at the first read, say: the client built then has no credentials
    # and would refuse every read until the process restarts.
    from serverless_jwt._secret_fetch import fetch_secret

    moto = pytest.importorskip("moto")
    _without_credentials(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    reference = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:jwt-later-AbCdEf"
    with pytest.raises(Exception, match=r"(?i)credentials"):
        fetch_secret(reference)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto.mock_aws():
        secret = secrets.token_urlsafe(32)
        arn = boto3.client("secretsmanager").create_secret(Name="jwt-later", SecretString=secret)["ARN"]
        assert fetch_secret(arn) == secret


def test_a_read_failing_without_credentials_drops_only_the_client_it_used(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Two reads on one client built without credentials (two stores in one region): the first to fail
    # drops it, the next read builds one that has them; the other read, failing late on the old client,
    # dropped that new one too, and the read after it paid for yet another client.
    from serverless_jwt import _secret_fetch
    from serverless_jwt._secret_fetch import fetch_secret

    moto = pytest.importorskip("moto")
    _without_credentials(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    key = ("secretsmanager", "eu-west-2")
    monkeypatch.setattr(_secret_fetch, "_PROVIDERS", {})
    old = _secret_fetch._provider(*key)  # built before any credentials existed
    secret = secrets.token_urlsafe(32)
    later: dict[str, object] = {}

    def meanwhile(**_: object) -> None:
        # While the first read is under way on the old client: another read fails on it and drops it,
        # credentials appear (moto's), and a third read builds a client with them and succeeds.
        if later:
            return
        later["started"] = True
        with pytest.raises(Exception, match=r"(?i)credentials"):
            fetch_secret("arn:aws:secretsmanager:eu-west-2:123456789012:secret:b-AbCdEf")
        with moto.mock_aws():
            arn = boto3.client("secretsmanager").create_secret(Name="jwt-c", SecretString=secret)["ARN"]
            assert fetch_secret(arn) == secret
        later["client"] = _secret_fetch._PROVIDERS[key]

    old.client.meta.events.register("before-parameter-build.secrets-manager.GetSecretValue", meanwhile)
    with pytest.raises(Exception, match=r"(?i)credentials"):
        fetch_secret("arn:aws:secretsmanager:eu-west-2:123456789012:secret:a-AbCdEf")
    assert later["client"] is not old
    assert _secret_fetch._PROVIDERS.get(key) is later["client"]  # kept: it has the credentials
