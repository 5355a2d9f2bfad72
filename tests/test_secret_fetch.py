"""One read of a stored secret (moto): an ARN's region, SSM by name or ARN, no value in botocore's log."""

from __future__ import annotations

import json
import logging
import secrets

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
