"""Decorated handlers keep their parameter and return types under mypy --strict."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SAMPLE = textwrap.dedent(
    '''
    from typing import Any
    from serverless_jwt.adapters.decorators import require_auth, require_claims, require_role, require_scope
    from serverless_jwt.verifier import Verifier

    v = Verifier(secrets=["x" * 32], algorithms=["HS256"])

    @require_auth(v, realm="r")
    @require_scope("a")
    @require_role("b")
    @require_claims(lambda c: True)
    def stacked(event: dict[str, Any], context: object) -> dict[str, Any]:
        return {}

    @require_auth
    def bare(event: dict[str, Any], context: object) -> dict[str, int]:
        return {}

    reveal_type(stacked)
    reveal_type(bare)
    stacked(1, 2)
    '''
)


def test_decorators_preserve_handler_signature_for_mypy(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(SAMPLE)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), str(sample)],
        capture_output=True, text=True, check=False,
    )
    out = result.stdout
    assert 'Revealed type is "def (event: dict[str, Any], context: object) -> dict[str, Any]"' in out, out
    assert "-> dict[str, int] | dict[str, Any]" in out, out
    assert 'Argument 1 to "stacked" has incompatible type "int"; expected "dict[str, Any]"' in out, out
    assert "Found 1 error" in out, out


LAMBDA_CONTEXT_SAMPLE = textwrap.dedent(
    '''
    from typing import Any
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from serverless_jwt import Verifier, identity_of, require_auth

    @require_auth(Verifier(secrets=["x" * 32]))
    def typed(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        identity = identity_of(context)
        reveal_type(identity)
        return {"statusCode": 200, "body": identity.subject}

    def untyped_attribute(context: LambdaContext) -> object:
        return context.identity_context
    '''
)


def test_identity_of_gives_a_typed_identity_from_a_powertools_lambda_context(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(LAMBDA_CONTEXT_SAMPLE)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), str(sample)],
        capture_output=True, text=True, check=False,
    )
    out = result.stdout
    assert 'Revealed type is "serverless_jwt.adapters.identity.IdentityContext"' in out, out
    # The attribute require_auth sets at runtime is what mypy cannot see; identity_of is the typed way.
    assert 'sample.py:13: error: "LambdaContext" has no attribute "identity_context"' in out, out
    assert "Found 1 error" in out, out
