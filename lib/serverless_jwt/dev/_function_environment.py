"""The variables a function runs with, resolved as ``sam local`` resolves them.

The template's value of each declared variable, the shell's, then ``--env-vars`` (objects, lists and
null as ``""``, booleans lower case, as SAM passes them); then the dev issuer's key source, replacing
the :data:`KEY_SOURCE_VARIABLES` as a group (and ``JWT_ACCEPT_ANY_AUDIENCE`` beside its audience); then
the variables Lambda and ``sam local`` set. Shared by
the in-process runner (:mod:`~serverless_jwt.dev.runtime`), the emulator's runner
(:mod:`~serverless_jwt.dev.emulator`) and the CLI's notices about them.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from typing import Any

from serverless_jwt.dev._symbol_table import session_region
from serverless_jwt.dev.template import Function

__all__ = ["KEY_SOURCE_VARIABLES", "function_environment"]

# Variables that choose the verifier's key source; the dev issuer replaces all of them at once.
KEY_SOURCE_VARIABLES = ("JWT_ISSUER", "JWT_AUDIENCE", "JWT_SECRET", "JWT_SECRET_PREVIOUS", "JWT_JWKS_URI",
                        "JWT_PUBLIC_KEY", "JWT_ALGORITHMS")


def function_environment(function: Function, overrides: Mapping[str, str] | None = None, *,
                         env_vars: Mapping[str, Any] | None = None,
                         shell_values: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a function runs with, resolved as ``sam local`` resolves them, then ours.

    Each variable the template declares takes, from lowest to highest priority: its template value,
    the shell's value (``shell_values``, default ``os.environ``), the ``--env-vars`` value
    (``env_vars``, already merged for this function); undeclared names are ignored, as SAM does.
    Then ``overrides`` (the dev issuer's key source, replacing the key-source variables as a group),
    then the ones Lambda and ``sam local`` set (``AWS_SAM_LOCAL=true``).
    """
    shell = os.environ if shell_values is None else shell_values
    env = dict(function.environment)
    # Declared names whose template value is unresolved (another resource's attribute) or null are ""
    # (as sam local passes them) unless the shell or --env-vars gives them a value (why --env-vars exists).
    for name in function.declared or tuple(env):
        if name in shell:
            env[name] = shell[name]
        if env_vars is not None and name in env_vars:
            env[name] = _stringify(env_vars[name])
    if overrides:
        # The dev issuer's JWT_AUDIENCE names the aud its tokens carry: an "any audience" opt-out for the
        # real provider beside it would be a ConfigurationError in the function (and would be moot).
        replaced = KEY_SOURCE_VARIABLES + (
            ("JWT_ACCEPT_ANY_AUDIENCE",) if "JWT_AUDIENCE" in overrides else ())
        env = {k: v for k, v in env.items() if k not in replaced}
        env.update(overrides)
    region = session_region()
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex,
        "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
        "_HANDLER": function.handler,
        "LAMBDA_TASK_ROOT": str(function.code_dir),  # where handlers find files shipped with their code
        "AWS_SAM_LOCAL": "true",
        **function.log_variables,
    })
    return env


def _stringify(value: Any) -> str:
    """An ``--env-vars`` value as SAM passes it: objects, lists and null as "", booleans lower case."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
