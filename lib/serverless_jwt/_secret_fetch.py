"""One read of a secret kept in AWS Secrets Manager or SSM Parameter Store, through Powertools Parameters.

boto3 is imported only here, on the first read. Each store and region (an ARN names its region) gets
one provider with short timeouts and one retry, so that a read of an unreachable store ends within
seconds (requests wait for it only within their own deadline: secret_store.py), and :func:`prepare`
builds it before a request starts waiting; botocore's DEBUG lines of our reads' response bodies (the
secret) are dropped. Used by :class:`~serverless_jwt.secret_store.StoredSecretKeys`, whose default
``fetch`` is :func:`fetch_secret`, and which :func:`check_previous` tells whether AWSPREVIOUS can be read.
"""

from __future__ import annotations

import inspect
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from serverless_jwt._env import PREVIOUS_STAGE
from serverless_jwt._extras import requires
from serverless_jwt.errors import ConfigurationError

__all__ = ["EXTRAS", "FEATURE", "check_previous", "fetch_secret", "is_ssm", "prepare"]


# Powertools Parameters, and boto3 under it (Lambda's runtime has boto3; elsewhere the `aws` extra).
EXTRAS = "powertools,aws"
FEATURE = "A secret kept in Secrets Manager or SSM"
_PROVIDERS: dict[tuple[str, str], Any] = {}
_reading = threading.local()  # .active: this thread is reading a stored secret


class _HideStoredValue(logging.Filter):
    # botocore.parsers logs each response body at DEBUG: with the root logger at DEBUG (say
    # AWS_LAMBDA_LOG_LEVEL=DEBUG) our reads' secret values were log lines. Only their bodies are dropped.
    def filter(self, record: logging.LogRecord) -> bool:
        return not (getattr(_reading, "active", False) and str(record.msg).startswith("Response body"))


_HIDE_STORED_VALUE = _HideStoredValue()


def _provider(kind: str, region: str | None) -> Any:
    # An ARN names its region: fetch there, whatever region the function runs in (None: the default).
    key = (kind, region or "")
    provider = _PROVIDERS.get(key)
    if provider is None:
        with requires(EXTRAS, FEATURE):
            from aws_lambda_powertools.utilities import parameters
            from botocore.config import Config

        cls = parameters.SSMProvider if kind == "ssm" else parameters.SecretsProvider
        # Short timeouts and one retry: a read of an unreachable store ends in seconds (botocore's defaults
        # are 60 s per attempt). The read timeout counts per socket read: a store trickling its answer can
        # outlast it (secret_store.py gives up a read running ten deadlines and reads again).
        config = Config(region_name=region, connect_timeout=2, read_timeout=2,
                        retries={"total_max_attempts": 2, "mode": "standard"})
        provider = _PROVIDERS[key] = cls(boto_config=config)
        logging.getLogger("botocore.parsers").addFilter(_HIDE_STORED_VALUE)  # the same filter once
    return provider


def _no_credentials(exc: BaseException | None) -> bool:
    errors = sys.modules.get("botocore.exceptions")  # not loaded: no client could have been built
    if errors is None:
        return False
    kinds = (errors.NoCredentialsError, errors.PartialCredentialsError)
    # Powertools raises its own GetParameterError while handling botocore's: look down the chain.
    for _ in range(8):
        if exc is None or isinstance(exc, kinds):
            return exc is not None
        exc = exc.__cause__ or exc.__context__
    return False


def is_ssm(reference: str) -> bool:
    return reference.startswith("ssm:") or ":ssm:" in reference


def _store(reference: str) -> tuple[str, str | None]:
    region = (reference.split(":", 4)[3] if reference.startswith("arn:") else "") or None
    return ("ssm" if is_ssm(reference) else "secretsmanager"), region


def prepare(reference: str) -> None:
    """Build the client that reads ``reference`` (importing boto3 the first time): CPU work, done before a
    request starts waiting for the store, so that a cold start's imports never use up its deadline."""
    _provider(*_store(reference))


def fetch_secret(reference: str, stage: str | None = None) -> str | bytes:
    # boto3 loads (inside _provider) only for functions that use an AWS secret store.
    value: Any
    kind, region = _store(reference)
    provider = _provider(kind, region)
    _reading.active = True  # see _HideStoredValue
    try:
        if kind == "ssm":
            # SSM takes a parameter ARN as the name as it is (stripping it would lose or add the '/').
            name = reference.removeprefix("ssm:")
            value = provider.get(name, decrypt=True, force_fetch=True)
        else:
            stage_option = {} if stage is None else {"VersionStage": stage}
            value = provider.get(reference, force_fetch=True, **stage_option)
    except Exception as exc:
        key = (kind, region or "")
        if _no_credentials(exc) and _PROVIDERS.get(key) is provider:
            # A client keeps the credentials it was built with: one built before any could be found
            # (an instance role not reachable yet, say) would refuse every later read until a restart.
            # Only the client this read used: another read may have built one with credentials since.
            _PROVIDERS.pop(key, None)
        raise
    finally:
        _reading.active = False
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value  # a SecretBinary of random bytes: the key itself
    if not isinstance(value, str):
        raise TypeError("secret is not text")
    return value


def check_previous(reference: str, fetch: Callable[..., Any]) -> None:
    """Refuse ``previous=True`` where no AWSPREVIOUS version can be read: an SSM parameter, or a ``fetch``
    that takes no stage (raises :class:`~serverless_jwt.errors.ConfigurationError`)."""
    if is_ssm(reference):
        raise ConfigurationError(
            "AWSPREVIOUS is a Secrets Manager version stage; an SSM parameter has none: list the "
            "current and the previous secret in its value, one per line")
    if fetch is not fetch_secret:
        try:
            inspect.signature(fetch).bind(reference, PREVIOUS_STAGE)
        except TypeError:
            raise ConfigurationError(
                "with previous=True, fetch must take (reference, stage) to read the AWSPREVIOUS version"
            ) from None
        except ValueError:  # no signature to read (some builtins): let the call itself decide
            pass
