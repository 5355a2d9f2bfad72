"""The in-process runner (fallback and --in-process): same contract as the emulator's runner."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from serverless_jwt.dev.invocation import FunctionError, FunctionTimeoutError, RuntimeFailure
from serverless_jwt.dev.runtime import FunctionRunner, LambdaContext
from serverless_jwt.dev.template import Template


def _runner(tmp_path: Path, code: str, properties: str = "") -> FunctionRunner:
    """An in-process runner for function Fn: ``code`` as src/app.py, ``properties`` added to its own."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(code)
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12"
        + (f", {properties}" if properties else "") + "}\n")
    return FunctionRunner(Template(tmp_path / "template.yaml").function("Fn"), log_stream=io.StringIO())


def test_a_handler_exception_is_a_function_error_with_lambdas_error_object(tmp_path: Path) -> None:
    runner = _runner(
        tmp_path,
        "def handler(event, context):\n"
        "    if event.get('fail'):\n"
        "        raise KeyError('asked to fail')\n"
        "    return {'name': context.function_name, 'memory': context.memory_limit_in_mb}\n",
        "MemorySize: 512",
    )
    assert runner.mode == "in-process"
    assert runner.invoke({}) == {"name": "Fn", "memory": "512"}  # text, as awslambdaric's context has it
    with pytest.raises(FunctionError) as caught:
        runner.invoke({"fail": True})
    assert caught.value.payload["errorType"] == "KeyError"
    assert caught.value.payload["errorMessage"] == "'asked to fail'"
    assert "app.py" in "".join(caught.value.payload["stackTrace"])
    assert isinstance(caught.value.__cause__, KeyError)
    runner.close()


def test_an_event_over_lambdas_6_mb_request_limit_is_refused_before_the_handler_runs(tmp_path: Path) -> None:
    # As Lambda's Invoke refuses it (RequestEntityTooLargeException) and the emulator's runner does.
    runner = _runner(tmp_path, "CALLS = []\n\ndef handler(event, context):\n    CALLS.append(1)\n"
                               "    return len(CALLS)\n")
    with pytest.raises(RuntimeFailure) as caught:
        runner.invoke({"body": "A" * 6_300_000})
    assert caught.value.payload["errorType"] == "RequestEntityTooLargeException"
    assert runner.invoke({"body": "A" * 6_291_000}) == 1  # the refused event never reached the handler
    assert runner.invoke({"body": "\u4e2d" * 1_100_000}) == 2  # 3.3 MB in UTF-8, as Lambda counts it
    runner.close()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are Python 3.11+")
def test_a_package_missing_from_this_python_is_named_with_how_to_get_it(tmp_path: Path) -> None:
    runner = _runner(
        tmp_path,
        "import not_installed_anywhere.sub\n\ndef handler(event, context):\n    return 1\n",
    )
    with pytest.raises(ModuleNotFoundError) as caught:
        runner.load()
    (note,) = caught.value.__notes__
    assert "Fn imports 'not_installed_anywhere'" in note
    assert "--emulator" in note
    runner.close()


def test_a_handler_past_its_timeout_is_a_timeout_as_under_lambda(tmp_path: Path) -> None:
    runner = _runner(
        tmp_path,
        "import threading\n"
        "release = threading.Event()\n"
        "def handler(event, context):\n"
        "    release.wait(30)\n"  # until the test lets it go: never within the 1 s Timeout
        "    return {'late': True}\n",
        "Timeout: 1",
    )
    runner.load()
    module = runner._module
    try:
        with pytest.raises(FunctionTimeoutError) as caught:
            runner.invoke({}, request_id="req-1")
        assert caught.value.payload == {
            "errorType": "Sandbox.Timedout",
            "errorMessage": "RequestId: req-1 Error: Task timed out after 1.00 seconds"}
    finally:
        module.release.set()  # type: ignore[union-attr]  # the thread goes on: let it end
    assert runner._module is None  # the next invocation is a cold start, as Lambda's after a timeout
    runner.close()


def test_the_handler_sees_the_context_variables_its_import_set(tmp_path: Path) -> None:
    # In Lambda the handler runs on the thread that imported it; here it runs in a thread of its own
    # (for the timeout) with that thread's context variables.
    runner = _runner(
        tmp_path,
        "import contextvars\n"
        "tenant = contextvars.ContextVar('tenant', default='unset')\n"
        "tenant.set('set at import')\n"
        "def handler(event, context):\n"
        "    return tenant.get()\n",
    )
    assert runner.invoke({}) == "set at import"
    runner.close()


def test_sys_exit_in_a_handler_is_lambdas_exit_error_and_a_cold_start_after(tmp_path: Path) -> None:
    # Lambda's runtime process ends: the caller gets Runtime.ExitError, never a SystemExit of its own
    # (which ended `invoke --in-process` silently and dropped start-api's connection).
    runner = _runner(
        tmp_path,
        "import sys\n"
        "imports = [1]\n"
        "def handler(event, context):\n"
        "    if event.get('exit') == 'interrupt':\n"
        "        raise KeyboardInterrupt\n"
        "    if 'exit' in event:\n"
        "        sys.exit(event['exit'])\n"
        "    return len(imports)\n",
    )
    cases = {3: "Runtime exited with error: exit status 3",
             None: "Runtime exited without providing a reason",
             "bye": "Runtime exited with error: exit status 1",
             "interrupt": "Runtime exited with error: signal: interrupt"}
    for code, reason in cases.items():
        assert runner.invoke({}) == 1
        runner._module.imports.append(2)  # type: ignore[union-attr]  # seen until the runtime restarts
        with pytest.raises(FunctionError) as caught:
            runner.invoke({"exit": code}, request_id="req-9")
        assert caught.value.payload == {"errorType": "Runtime.ExitError",
                                        "errorMessage": f"RequestId: req-9 Error: {reason}"}
    assert runner.invoke({}) == 1  # imported afresh, as the restarted runtime does
    assert "bye\n" in runner.log_stream.getvalue()  # type: ignore[union-attr]
    runner.close()


def test_the_result_reaches_the_caller_as_lambdas_json_encoder_writes_it(tmp_path: Path) -> None:
    runner = _runner(
        tmp_path,
        "import decimal\n"
        "def handler(event, context):\n"
        "    if event.get('kind') == 'object':\n"
        "        return {'statusCode': 200, 'body': object()}\n"
        "    if event.get('kind') == 'huge':\n"
        "        return 'y' * 7_000_000\n"
        "    return {'statusCode': 200, 'multiValueHeaders': {'X': ('a', 'b')},\n"
        "            'headers': {'Price': decimal.Decimal('1.50'), 'N': decimal.Decimal('10')}}\n",
    )
    assert runner.invoke({}) == {"statusCode": 200, "multiValueHeaders": {"X": ["a", "b"]},
                                 "headers": {"Price": 1.5, "N": 10}}
    with pytest.raises(FunctionError) as caught:
        runner.invoke({"kind": "object"}, request_id="req-2")
    assert caught.value.payload == {
        "errorMessage": "Unable to marshal response: Object of type object is not JSON serializable",
        "errorType": "Runtime.MarshalError", "requestId": "req-2", "stackTrace": []}
    with pytest.raises(FunctionError) as caught:
        runner.invoke({"kind": "huge"})
    assert caught.value.payload["errorType"] == "Function.ResponseSizeTooLarge"
    runner.close()


def test_the_context_has_an_identity_object_without_a_cognito_caller_as_in_lambda() -> None:
    # awslambdaric always sets context.identity (fields None): a handler reading it must not crash here.
    identity = LambdaContext("MeFunction").identity
    assert (identity.cognito_identity_id, identity.cognito_identity_pool_id) == (None, None)


def test_an_invoke_timed_out_in_the_middle_of_a_cold_key_fetch_is_followed_by_a_cold_start_that_fetches(
        tmp_path: Path) -> None:
    # As the emulator's runner (and Lambda, which resets the environment after a timeout): nothing of the
    # cut invoke's fetch is left for the next one. Here its thread goes on, holding that fetch; the next
    # invoke waited for it (the key cache is the process's) and timed out too, with the issuer back.
    from serverless_jwt.dev.issuer import JWKS_PATH, DevIssuer

    code = ("from serverless_jwt import Verifier\n"
            "from serverless_jwt.errors import AuthError\n"
            "verifier = Verifier.from_env()\n"
            "def handler(event, context):\n"
            "    try:\n"
            "        return verifier.verify(event['token'])['sub']\n"
            "    except AuthError as exc:\n"
            "        return exc.status\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(code)
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12, Timeout: 1}\n")
    with DevIssuer() as issuer:
        settings = {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": issuer.audience, "JWT_TIMEOUT_SECONDS": "5"}
        runner = FunctionRunner(Template(tmp_path / "template.yaml").function("Fn"), environment=settings,
                                log_stream=io.StringIO())
        token = issuer.mint(sub="alice")
        issuer.fault, issuer.slow_seconds, issuer.fault_paths = "slow", 30, {JWKS_PATH}
        with pytest.raises(FunctionTimeoutError):
            runner.invoke({"token": token})
        issuer.fault = None
        assert runner.invoke({"token": token}) == "alice"
        assert issuer.requests[JWKS_PATH] == 2  # the cut fetch, then the next invoke's own
        runner.close()
