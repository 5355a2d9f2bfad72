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


_EXTRAS = ("aws_lambda_powertools", "boto3", "botocore", "fastapi", "starlette", "flask", "werkzeug",
           "django", "msgspec", "pybase64", "samcli", "awslambdaric", "yaml", "httpx", "uvicorn")


def _core_install(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as on a core-only install: every extra's modules refuse to import."""
    block = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in _EXTRAS)
    return subprocess.run([sys.executable, "-c", block + code], capture_output=True, text=True)


def test_star_import_works_on_the_core_install() -> None:
    run = _core_install("from serverless_jwt import *\nprint(sorted(k for k in dir() if k[0] != '_'))")
    assert run.returncode == 0, run.stderr
    assert "Verifier" in run.stdout
    assert "require_auth" in run.stdout
    assert "JwtAuthMiddleware" not in run.stdout


def test_a_name_that_needs_an_extra_still_imports_by_name_and_says_which_extra() -> None:
    assert "JwtAuthMiddleware" in dir(serverless_jwt)
    from serverless_jwt import JwtAuthMiddleware

    assert JwtAuthMiddleware.__module__ == "serverless_jwt.adapters.powertools"
    run = _core_install("from serverless_jwt import JwtAuthMiddleware")
    assert run.returncode == 1
    assert "MissingExtraError" in run.stderr
    assert "pip install 'serverless-jwt[powertools]'" in run.stderr


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


def test_the_request_path_imports_neither_pyjwt_nor_x509() -> None:
    # Cold start: verifying, and loading JWKs, needs only cryptography's primitives; cryptography.x509
    # loads for a PEM certificate only.
    loaded = _loaded_after(
        "import base64, hmac\n"
        "from serverless_jwt import Verifier, require_auth\n"
        "v = Verifier.from_env({'JWT_SECRET': 'x' * 40})\n"
        "b = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b'=')\n"
        "si = b(b'{\"alg\":\"HS256\"}') + b'.' + b(b'{\"sub\":\"a\",\"exp\":4000000000}')\n"
        "sig = base64.urlsafe_b64encode(hmac.digest(b'x' * 40, si, 'sha256')).rstrip(b'=')\n"
        "assert v.verify((si + b'.' + sig).decode())['sub'] == 'a'"
    )
    for lazy in ("jwt", "cryptography.x509", "urllib.request", "ssl", "boto3", "botocore",
                 "aws_lambda_powertools"):
        assert lazy not in loaded, lazy
    with_jwk = _loaded_after(
        "from cryptography.hazmat.primitives.asymmetric import ec\n"
        "from serverless_jwt.keys import KeySet\n"
        "n = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()\n"
        "b = lambda i: __import__('base64').urlsafe_b64encode(i.to_bytes(32, 'big')).rstrip(b'=').decode()\n"
        "assert len(KeySet.from_jwks({'keys': [{'kty': 'EC', 'crv': 'P-256', 'x': b(n.x), 'y': b(n.y)}]},"
        " algorithms=['ES256'])) == 1"
    )
    assert "serverless_jwt._jwk_keys" in with_jwk  # the key was loaded ...
    assert "jwt" not in with_jwk
    assert "cryptography.x509" not in with_jwk
    with_pem = _loaded_after(
        "from serverless_jwt.keys import KeySet\n"
        "from cryptography.hazmat.primitives.asymmetric import ec\n"
        "from cryptography.hazmat.primitives import serialization as s\n"
        "k = ec.generate_private_key(ec.SECP256R1()).public_key()\n"
        "KeySet.from_pem(k.public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo),"
        " algorithms=['ES256'])"
    )
    assert "cryptography.x509" not in with_pem


def test_messages_the_package_can_raise_or_print_are_ascii() -> None:
    # Under Lambda's runtime (awslambdaric + the Runtime Interface Emulator) an init error's non-ASCII
    # characters came back as U+FFFD: "RFC 7518 \ufffd3.2". Docstrings and comments may use any text.
    import ast
    from pathlib import Path

    found = []
    for path in Path(serverless_jwt.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        found += [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in docstrings and not node.value.isascii() and node.value != "\ufeff"]
    assert found == []
