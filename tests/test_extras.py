"""One helper for every optional import: a missing extra fails at once, naming the pip command."""

from __future__ import annotations

import pytest

from serverless_jwt import ConfigurationError, MissingExtraError
from serverless_jwt._extras import ensure, requires


def test_a_missing_module_becomes_an_error_naming_the_extra() -> None:
    with pytest.raises(MissingExtraError) as caught, requires("fastapi", "The FastAPI integration"):
        import serverless_jwt_no_such_framework  # type: ignore[import-not-found]  # noqa: F401
    err = caught.value
    assert str(err) == (
        "The FastAPI integration needs the 'fastapi' extra: pip install 'serverless-jwt[fastapi]'"
    )
    assert (err.extra, err.name) == ("fastapi", "serverless_jwt_no_such_framework")
    assert isinstance(err, ImportError)
    assert isinstance(err, ConfigurationError)
    assert isinstance(err.__cause__, ModuleNotFoundError)


def test_a_missing_module_of_our_own_is_a_bug_not_an_extra() -> None:
    with pytest.raises(ModuleNotFoundError) as caught, requires("powertools", "X"):
        import serverless_jwt.no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert not isinstance(caught.value, MissingExtraError)


def test_other_errors_pass_through_unchanged() -> None:
    with pytest.raises(ZeroDivisionError), requires("powertools", "X"):
        1 / 0  # noqa: B018


def test_installed_modules_import_normally() -> None:
    with requires("powertools", "The Powertools Event Handler middleware"):
        import json
    assert json.dumps([]) == "[]"


def test_ensure_checks_presence_without_importing() -> None:
    ensure("aws", "X", "json", "email")
    with pytest.raises(MissingExtraError) as caught:
        ensure("powertools,aws", "A secret kept in Secrets Manager or SSM", "json", "serverless_jwt_absent")
    assert caught.value.name == "serverless_jwt_absent"
    assert "pip install 'serverless-jwt[powertools,aws]'" in str(caught.value)


def test_several_extras_are_named_in_the_plural() -> None:
    err = MissingExtraError("powertools,aws", "A secret kept in Secrets Manager or SSM", "boto3")
    assert str(err) == ("A secret kept in Secrets Manager or SSM needs the 'powertools,aws' extras: "
                        "pip install 'serverless-jwt[powertools,aws]'")
