"""``sam build`` of template.yaml, and the built functions answering under Lambda's runtime emulator.

One build per test run (``build_once``), made from another directory with ``-t``. The functions run
as Lambda runs them: the emulator shipped in aws-sam-cli, ``python3.12 -m awslambdaric app.handler``,
the function's folder then the layer's ``python/`` on the import path, no bytecode written. Their keys
come from a loopback DevIssuer. Without a python3.12 (on PATH or in pyenv) or aws-sam-cli these tests
are skipped, with the reason in pytest's summary.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks import _rie as rie  # the emulator driver the Lambda benchmark uses
from serverless_jwt.dev.issuer import DevIssuer

ROOT = Path(__file__).resolve().parents[2]
LAYER = "ServerlessJwtLayer"




@pytest.fixture(scope="module")
def built(build_once: Callable[[str, Callable[[Path], None]], Path]) -> tuple[Path, Path, str]:
    """(build dir, runtime client dir, python3.12)."""
    python = rie.find_python()
    if python is None:
        pytest.skip("no python3.12 on PATH or in pyenv: `sam build` needs the runtime's Python "
                    "(README: Deploy to AWS)")
    if rie.emulator_binary() is None:
        pytest.skip("aws-sam-cli is not installed: no `sam` and no runtime emulator")

    def build(target: Path) -> None:
        rie.sam_build(ROOT / "template.yaml", target / "build", python, cache_dir=target / "cache")
        rie.runtime_client(python, target)

    target = build_once("sam-build", build)
    return target / "build", rie.runtime_client(python, target), python


def _event(name: str, token: str | None) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(json.loads((ROOT / "events" / name).read_text()))
    if "authorizationToken" in event:
        event["authorizationToken"] = f"Bearer {token}"
    elif token is None:
        event["headers"].pop("authorization", None)  # the sample events carry no token
    else:
        event["headers"]["authorization"] = f"Bearer {token}"
    return event


@pytest.fixture
def emulate(
    built: tuple[Path, Path, str], issuer: DevIssuer, tmp_path: Path,
) -> Iterator[Callable[[str], Any]]:
    build, ric, python = built
    env = {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": issuer.audience, "JWT_SECRET": "",
           "AUTHORIZER_SCOPES": "", "POWERTOOLS_LOG_LEVEL": "INFO"}
    running: list[Any] = []

    def start(function: str) -> Any:
        emulated = rie.Emulated(build / function, layers=[build / LAYER], python=python, ric_dir=ric,
                                emulator=rie.emulator_binary(), env=env,
                                log_path=tmp_path / f"{function}.log")
        running.append(emulated)
        return emulated

    yield start
    for emulated in running:
        emulated.close()


def test_sam_build_puts_the_library_once_in_the_layer_and_only_code_in_functions(
    built: tuple[Path, Path, str],
) -> None:
    build = built[0]
    copies = sorted(p.parent.relative_to(build) for p in build.rglob("serverless_jwt/__init__.py"))
    assert copies == [Path(LAYER, "python", "serverless_jwt")]
    for package in ("aws_lambda_powertools", "jwt", "cryptography"):
        assert (build / LAYER / "python" / package / "__init__.py").is_file(), package
    functions = {"MeFunction": "me", "ShowsFunction": "shows", "AuthorizerFunction": "authorizer"}
    for function, folder in functions.items():
        source = {p.name for p in (ROOT / "lambdas" / folder).iterdir() if p.name != "__pycache__"}
        assert {p.name for p in (build / function).iterdir()} == source, function


def test_the_built_me_function_answers_200_and_401_under_the_emulator(
    emulate: Callable[[str], Any], issuer: DevIssuer,
) -> None:
    me = emulate("MeFunction")
    answer = me.invoke(_event("me.json", issuer.mint(sub="alice")))
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"])["claims"]["sub"] == "alice"
    assert me.init_ms() > 0  # a real cold start, reported the way Lambda reports it
    no_token = me.invoke(_event("me.json", None))
    assert no_token["statusCode"] == 401
    assert no_token["headers"]["WWW-Authenticate"].startswith("Bearer")
    expired = me.invoke(_event("me.json", issuer.mint(now=time.time() - 7200, lifetime_seconds=3600)))
    assert expired["statusCode"] == 401
    assert 'error="invalid_token"' in expired["headers"]["WWW-Authenticate"]


def test_the_built_shows_function_answers_403_without_the_scope(
    emulate: Callable[[str], Any], issuer: DevIssuer,
) -> None:
    shows = emulate("ShowsFunction")
    assert shows.invoke(_event("shows.json", issuer.mint()))["statusCode"] == 403
    granted = shows.invoke(_event("show.json", issuer.mint(scopes=["read:shows"])))
    assert granted["statusCode"] == 200
    assert json.loads(granted["body"])["id"] == 1


def test_the_built_authorizer_allows_good_tokens_and_refuses_bad_ones(
    emulate: Callable[[str], Any], issuer: DevIssuer,
) -> None:
    gate = emulate("AuthorizerFunction")
    allowed = gate.invoke(_event("authorizer-token.json", issuer.mint(sub="bob")))
    assert allowed["principalId"] == "bob"
    assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    refused = gate.invoke(_event("authorizer-token.json", issuer.mint(audience="https://another-api.example")))
    assert refused["errorMessage"] == "Unauthorized"  # API Gateway's 401
