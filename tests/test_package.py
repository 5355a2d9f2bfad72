"""The public surface and the cold start: what `import serverless_jwt` exports and what it loads."""

from __future__ import annotations

import json
import subprocess
import sys

import serverless_jwt
from serverless_jwt import errors


def test_every_name_in_all_resolves() -> None:
    for name in serverless_jwt.__all__:
        assert getattr(serverless_jwt, name) is not None, name


def test_every_public_error_is_exported() -> None:
    public = {n for n in dir(errors) if n.endswith("Error") and isinstance(getattr(errors, n), type)}
    assert public <= set(serverless_jwt.__all__)
    assert public <= set(errors.__all__)


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        serverless_jwt.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError:
        pass
    else:
        raise AssertionError("unknown attribute resolved")


def _loaded_after(code: str) -> set[str]:
    probe = code + "\nimport json, sys; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_the_package_loads_no_heavy_modules() -> None:
    loaded = _loaded_after("import serverless_jwt")
    for heavy in ("boto3", "botocore", "aws_lambda_powertools", "jwt", "cryptography",
                  "serverless_jwt.verifier", "serverless_jwt.dev.issuer"):
        assert heavy not in loaded, heavy


def test_a_verifier_with_a_plain_secret_never_imports_boto3() -> None:
    loaded = _loaded_after(
        "from serverless_jwt import Verifier\n"
        "Verifier.from_env({'JWT_SECRET': 'x' * 40})\n"
        "Verifier(issuer='https://issuer.example.com/', audience='api', jwks_uri='https://issuer.example.com/j')"
    )
    assert "boto3" not in loaded
    assert "aws_lambda_powertools.event_handler" not in loaded
