"""The ``serverless-jwt`` command end to end: token, invoke, start-api (real HTTP, Ctrl-C), decode, demo."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from serverless_jwt.dev import _support
from serverless_jwt.dev.cli import build_parser, main
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.errors import ConfigurationError, TokenExpiredError
from serverless_jwt.verifier import Verifier

from .conftest import alive, json_unreadable_depth

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = str(ROOT / "template.yaml")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("JWT_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / ".serverless-jwt"


def _token(state: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["--state-dir", str(state), "token", *args]) == 0
    return capsys.readouterr().out.strip()


def test_token_is_signed_by_the_recorded_dev_issuer(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    issuer = _support.start_issuer(state, port=None)
    try:
        token = _token(state, capsys, "--sub", "alice", "--scope", "read:shows write:shows",
                       "--role", "admin")
        claims = Verifier(issuer=issuer.issuer, audience=issuer.audience).verify(token)
    finally:
        issuer.stop()
    assert claims["sub"] == "alice"
    assert claims["scope"] == "read:shows write:shows"
    assert claims["app_metadata"]["authorization"]["roles"] == ["admin"]
    assert (state / "rs256.pem").stat().st_mode & 0o077 == 0  # the private key is owner-only


def test_token_lifetime_and_audience(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    issuer = _support.start_issuer(state, port=None)
    try:
        expired = _token(state, capsys, "--lifetime-seconds", "-600")
        with pytest.raises(TokenExpiredError):
            Verifier(issuer=issuer.issuer, audience=issuer.audience).verify(expired)
        other = _token(state, capsys, "--audience", "other-api")
        assert Verifier(issuer=issuer.issuer, audience="other-api").verify(other)["aud"] == "other-api"
    finally:
        issuer.stop()


def test_a_token_expired_within_the_leeway_says_the_api_still_accepts_it(
        state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `token --lifetime-seconds -10` ("an already expired token") got 200 from the sample API: the
    # summary read "valid -10s" and never named the verifiers' 60 s leeway.
    issuer = _support.start_issuer(state, port=None)
    try:
        verifier = Verifier(issuer=issuer.issuer, audience=issuer.audience)
        assert main(["--state-dir", str(state), "token", "--lifetime-seconds", "-10"]) == 0
        captured = capsys.readouterr()
        assert "expired 10s ago, yet accepted for 50s more within the verifiers' default 60 s leeway " \
            "(pass --lifetime-seconds -60 or less for a 401)" in captured.err
        assert verifier.verify(captured.out.strip())["sub"] == "dev-user"
        assert main(["--state-dir", str(state), "token", "--lifetime-seconds", "-60"]) == 0
        captured = capsys.readouterr()
        assert "expired 60s ago\n" in captured.err
        with pytest.raises(TokenExpiredError):
            verifier.verify(captured.out.strip())
    finally:
        issuer.stop()


def test_token_without_a_dev_issuer_explains_what_to_do(state: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-dir", str(state), "token"]) == 2
    assert "serverless-jwt issuer" in capsys.readouterr().err


def test_token_from_a_subfolder_of_the_project_names_the_folder_whose_issuer_ran(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # start-api runs in the project; `serverless-jwt token` from lambdas/me/ reads ./.serverless-jwt.
    issuer = _support.start_issuer(tmp_path / ".serverless-jwt", port=None)
    issuer.stop()
    (tmp_path / "lambdas" / "me").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "lambdas" / "me")
    assert main(["token"]) == 2
    err = capsys.readouterr().err
    assert f"one has in {tmp_path}: run from there, or name its state: " in err
    assert f"--state-dir {tmp_path / '.serverless-jwt'} token" in err


def test_token_signs_with_the_key_of_the_issuer_of_a_project_whose_code_is_its_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # CodeUri: . keeps the state outside the project (sam build would copy it): token finds it there,
    # from the project and (with the hint) from a subfolder.
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: ., Handler: app.handler, Runtime: python3.12}\n")
    monkeypatch.chdir(tmp_path)
    state = _support.here(None, writing=True)  # as `serverless-jwt issuer` finds it
    issuer = _support.start_issuer(state, port=None)
    try:
        assert main(["token", "--sub", "alice"]) == 0
        token = capsys.readouterr().out.strip()
        assert Verifier(issuer=issuer.issuer, audience=issuer.audience).verify(token)["sub"] == "alice"
    finally:
        issuer.stop()
    assert not (tmp_path / ".serverless-jwt").exists()
    (tmp_path / "lambdas").mkdir()
    monkeypatch.chdir(tmp_path / "lambdas")
    assert main(["token"]) == 2
    assert f"--state-dir {state} token" in capsys.readouterr().err


def test_invoke_from_a_subfolder_uses_the_state_of_the_templates_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # `invoke -t ../template.yaml` from lambdas/ made ./.serverless-jwt there: another key, whose tokens
    # the issuer running in the project (start-api there) refuses.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(
        "def handler(event, context):\n    return event['headers']['authorization']\n")
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12}\n")
    project = _support.start_issuer(tmp_path / ".serverless-jwt", port=None)
    project.stop()
    (tmp_path / "lambdas").mkdir()
    monkeypatch.chdir(tmp_path / "lambdas")
    monkeypatch.setattr("sys.stdin", io.StringIO('{"headers": {}}'))
    assert main(["invoke", "Fn", "-t", "../template.yaml", "--in-process", "-e", "-"]) == 0
    token = json.loads(capsys.readouterr().out).removeprefix("Bearer ")
    assert not (tmp_path / "lambdas" / ".serverless-jwt").exists()
    claims = Verifier(issuer=_support.read_record(tmp_path / ".serverless-jwt")["issuer"],
                      audience=project.audience, jwks=project.jwks()).verify(token)
    assert claims["sub"] == "dev-user"


@pytest.mark.parametrize(("args", "message"), [
    (["--redirect-uri", "notaurl"], "argument --redirect-uri: not an absolute URI: 'notaurl'"),
    (["--redirect-uri", "http://localhost:5173/#x"], "a redirect URI has no fragment"),
    (["--redirect-uri", "http://[::1]:99999/cb"], "a redirect URI's port is a number in 0-65535"),
    (["--cors-origin", "http://app.example/path"], "not an origin as a browser sends it: "
                                                   "'http://app.example/path' (did you mean http://app.example?)"),
    (["--cors-origin", "http://LOCALHOST:5173"], "(did you mean http://localhost:5173?)"),
    (["--cors-origin", "localhost:5173"], "argument --cors-origin: not an origin: 'localhost:5173'"),
])
def test_issuer_refuses_a_redirect_uri_or_origin_no_browser_could_match(
        capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    # They were taken as given: every sign-in was then refused ("unregistered redirect URI") or every
    # CORS request turned away, with nothing pointing at the flag.
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["issuer", "--port", "0", *args])  # never serves: refused before
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_issuer_takes_an_origin_with_a_trailing_slash_as_the_origin() -> None:
    args = build_parser().parse_args(["issuer", "--cors-origin", "http://localhost:5173/",
                                      "--redirect-uri", "http://localhost:5173/cb"])
    assert (args.cors_origin, args.redirect_uri) == (["http://localhost:5173"], ["http://localhost:5173/cb"])


@pytest.mark.parametrize("command", ["token", "issuer", "invoke", "start-api", "decode", "demo"])
def test_an_unknown_option_shows_the_usage_of_its_command(capsys: pytest.CaptureFixture[str],
                                                          command: str) -> None:
    # It was the top-level usage (`serverless-jwt [-h] [--state-dir STATE_DIR] [--version] COMMAND`),
    # which names none of the command's options.
    with pytest.raises(SystemExit) as exited:
        main([command, *(["x"] if command == "decode" else []), "--bogus"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: serverless-jwt {command} ")
    assert err.endswith(f"serverless-jwt {command}: error: unrecognized arguments: --bogus\n")
    with pytest.raises(SystemExit):  # before the command: the top-level parser's own
        main(["--bogus", "token"])
    assert capsys.readouterr().err.startswith("usage: serverless-jwt [-h]")


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    import serverless_jwt

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"serverless-jwt {serverless_jwt.__version__}\n"


@pytest.mark.parametrize("command", ["token", "issuer", "invoke", "start-api"])
def test_state_dir_is_taken_after_the_command_too(state: Path, command: str) -> None:
    # `serverless-jwt token --state-dir DIR` was "unrecognized arguments"; before the command still works.
    extra = ["MeFunction"] if command == "invoke" else []
    after = build_parser().parse_args([command, *extra, "--state-dir", str(state)])
    before = build_parser().parse_args(["--state-dir", str(state), command, *extra])
    assert after.state_dir == before.state_dir == str(state)
    # Unset: .serverless-jwt beside the template (invoke, start-api), else in the working directory.
    assert build_parser().parse_args([command, *extra]).state_dir is None


def test_token_hs256_uses_jwt_secret(state: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "n" * 40
    monkeypatch.setenv("JWT_SECRET", secret)
    token = _token(state, capsys, "--hs256", "--sub", "netlify-user")
    assert Verifier(secrets=[secret]).verify(token)["sub"] == "netlify-user"
    assert Verifier.from_env({"JWT_SECRET": secret}).verify(token)["sub"] == "netlify-user"
    # With JWT_AUDIENCE (Supabase: authenticated) the token carries the aud that verifier expects.
    monkeypatch.setenv("JWT_AUDIENCE", "authenticated")
    token = _token(state, capsys, "--hs256")
    verifier = Verifier.from_env({"JWT_SECRET": secret, "JWT_AUDIENCE": "authenticated"})
    assert verifier.verify(token)["aud"] == "authenticated"


@pytest.mark.parametrize("secret", ["short", "x" * 31])
def test_token_hs256_refuses_a_secret_verifiers_refuse_with_their_message(
        state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        secret: str) -> None:
    monkeypatch.setenv("JWT_SECRET", secret)
    assert main(["--state-dir", str(state), "token", "--hs256"]) == 2
    err = capsys.readouterr().err
    with pytest.raises(ConfigurationError) as refused:
        Verifier.from_env({"JWT_SECRET": secret})
    assert str(refused.value) in err
    assert "JWT_ALLOW_SHORT_SECRET=true" in err
    assert "JwtSecret" in err
    monkeypatch.setenv("JWT_ALLOW_SHORT_SECRET", "true")  # the same opt-in both sides honour
    token = _token(state, capsys, "--hs256")
    assert Verifier.from_env({"JWT_SECRET": secret, "JWT_ALLOW_SHORT_SECRET": "true"}).verify(token)["sub"]


def test_token_hs256_asks_of_the_secret_what_jwt_algorithms_asks(
        state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "n" * 40  # enough for HS256, not for HS512 (64 bytes)
    monkeypatch.setenv("JWT_SECRET", secret)
    monkeypatch.setenv("JWT_ALGORITHMS", "HS256,HS512")
    assert main(["--state-dir", str(state), "token", "--hs256"]) == 2
    with pytest.raises(ConfigurationError) as refused:
        Verifier.from_env({"JWT_SECRET": secret, "JWT_ALGORITHMS": "HS256,HS512"})
    assert str(refused.value) in capsys.readouterr().err
    monkeypatch.setenv("JWT_ALGORITHMS", "HS512")
    assert main(["--state-dir", str(state), "token", "--hs256"]) == 2
    assert "JWT_ALGORITHMS=HS512 refuses" in capsys.readouterr().err


def _invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["invoke", *args, "--template", TEMPLATE])
    out = capsys.readouterr().out
    return code, json.loads(out) if code == 0 else {}


def test_an_invoke_never_borrows_the_issuer_of_another_invoke(state: Path) -> None:
    # Two invokes at once: the second must not attach to the first's issuer, which stops with it.
    first = _support.start_issuer(state, port=None, owner="invoke")
    try:
        record = _support.read_record(state)
        second = _support.shared_issuer(state, owner="invoke")
        try:
            assert isinstance(second, DevIssuer)
            assert second.issuer != first.issuer
            assert _support.read_record(state) == record  # the first's record is left alone
        finally:
            second.stop()
        longer = _support.shared_issuer(state, owner="start-api")  # recorded: others may use it
        try:
            assert _support.read_record(state)["issuer"] == longer.issuer
            attached = _support.shared_issuer(state, owner="invoke")
            assert isinstance(attached, _support.AttachedIssuer)
            assert attached.issuer == longer.issuer
        finally:
            longer.stop()
    finally:
        first.stop()


def test_invoke_runs_the_function_with_a_fresh_token(capsys: pytest.CaptureFixture[str]) -> None:
    code, response = _invoke(capsys, "ShowsFunction", "--event", str(ROOT / "events" / "show.json"),
                             "--scope", "read:shows")
    assert code == 0
    assert response["statusCode"] == 200
    assert json.loads(str(response["body"]))["id"] == 1


@pytest.mark.parametrize(("args", "status"), [
    (["ShowsFunction", "--event", str(ROOT / "events" / "shows.json")], 403),
    (["MeFunction", "--no-token"], 401),
    (["MeFunction", "--sub", "bob"], 200),
    (["ShowsFunction", "--scope", "read:shows"], 200),  # default event from the first route
])
def test_invoke_statuses(capsys: pytest.CaptureFixture[str], args: list[str], status: int) -> None:
    code, response = _invoke(capsys, *args)
    assert code == 0
    assert response["statusCode"] == status


def test_invoke_without_dev_issuer_uses_the_template_settings(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    secret = "p" * 40
    token = DevIssuer().mint(sub="carol", alg="HS256", secret=secret, issuer=None, audience=None)
    event = json.loads((ROOT / "events" / "me.json").read_text())
    event["headers"]["authorization"] = f"Bearer {token}"
    path = tmp_path / "me.json"
    path.write_text(json.dumps(event))
    code, response = _invoke(capsys, "MeFunction", "--event", str(path), "--no-dev-issuer",
                             "--parameter-overrides", f"JwtSecret={secret}")
    assert code == 0
    assert json.loads(str(response["body"]))["claims"]["sub"] == "carol"


@pytest.mark.parametrize("mode", [[], ["--in-process"]])
def test_invoke_env_vars_file_configures_the_function_as_with_sam(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        mode: list[str]) -> None:
    secret, shell_secret = "f" * 40, "s" * 40
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"Parameters": {"JWT_SECRET": "p" * 40},
                                    "MeFunction": {"JWT_SECRET": secret, "NOT_DECLARED": "x"}}))
    monkeypatch.setenv("JWT_SECRET", shell_secret)  # a declared variable: the shell beats the template

    def sub_seen(signing_secret: str, *extra: str) -> str | None:
        token = DevIssuer().mint(sub="erin", alg="HS256", secret=signing_secret, issuer=None, audience=None)
        event = json.loads((ROOT / "events" / "me.json").read_text())
        event["headers"]["authorization"] = f"Bearer {token}"
        path = tmp_path / "me.json"
        path.write_text(json.dumps(event))
        code, response = _invoke(capsys, "MeFunction", "--event", str(path), "--no-dev-issuer", *mode, *extra)
        assert code == 0
        body = json.loads(str(response["body"]))
        return body["claims"]["sub"] if response["statusCode"] == 200 else None

    assert sub_seen(secret, "--env-vars", str(env_file)) == "erin"  # the function's own entry wins
    assert main(["invoke", "MeFunction", "--template", TEMPLATE, "--env-vars", str(env_file), *mode]) == 0
    assert "notice: the dev issuer replaces JWT_SECRET from --env-vars" in capsys.readouterr().err
    assert sub_seen(shell_secret, "--env-vars", str(env_file)) is None
    assert sub_seen(shell_secret) == "erin"


def test_env_vars_naming_no_function_or_an_undeclared_variable_is_a_notice(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # sam ignores both without a word; as for --parameter-overrides, a notice keeps the typo visible.
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"MeFuncton": {"CORS_ALLOW_ORIGIN": "https://a.example"},
                                    "Parameters": {"CORS_ALLOW_ORIGN": "https://b.example"},
                                    "MeFunction": {"AUTHORIZER_SCOPES": "x", "CORS_ALLOW_ORIGIN": "*"}}))
    assert main(["invoke", "MeFunction", "--template", TEMPLATE, "--in-process", "--no-token",
                 "--env-vars", str(env_file)]) == 0
    err = capsys.readouterr().err
    assert "notice: --env-vars names no function of template.yaml: MeFuncton (ignored, as sam does)" in err
    assert "notice: --env-vars sets variables the template does not declare there: CORS_ALLOW_ORIGN " \
        "(Parameters), AUTHORIZER_SCOPES (MeFunction) (ignored, as sam does)" in err
    env_file.write_text(json.dumps({"Parameters": {"JWT_AUDIENCE": "a"},
                                    "MeFunction": {"CORS_ALLOW_ORIGIN": "*"}}))
    assert main(["invoke", "MeFunction", "--template", TEMPLATE, "--in-process", "--no-token",
                 "--env-vars", str(env_file)]) == 0
    assert "notice: --env-vars" not in capsys.readouterr().err


@pytest.mark.parametrize("content", ["[]", '{"MeFunction": "x"}', "{not json"])
def test_a_malformed_env_vars_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    content: str) -> None:
    env_file = tmp_path / "env.json"
    env_file.write_text(content)
    assert main(["invoke", "MeFunction", "--template", TEMPLATE, "--in-process",
                 "--env-vars", str(env_file)]) == 2
    assert "serverless-jwt: error: --env-vars" in capsys.readouterr().err


@pytest.mark.parametrize("mode", [[], ["--in-process"]])
def test_invoke_without_dev_issuer_or_settings_hints_at_the_template_parameters(
        capsys: pytest.CaptureFixture[str], mode: list[str]) -> None:
    # The function answered (its import failed, as it would in Lambda): exit 0 as with sam local invoke.
    assert main(["invoke", "MeFunction", "--template", TEMPLATE, "--no-dev-issuer", *mode]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["errorType"] == "ConfigurationError"
    assert "Set JWT_ISSUER (template parameter JwtIssuer)" in captured.err  # names what to set
    assert "--parameter-overrides JwtIssuer=" in captured.err


@pytest.mark.parametrize(("source", "error_type", "message"), [
    ("import not_installed_anywhere\n", "Runtime.ImportModuleError",
     "Unable to import module 'app': No module named 'not_installed_anywhere'"),
    ("def handler(event, context)\n    return 1\n", "Runtime.UserCodeSyntaxError",
     "Syntax error in module 'app': expected ':' (app.py, line 1)"),
])
def test_invoke_in_process_answers_a_module_that_fails_to_import_with_lambdas_error_object(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, error_type: str,
        message: str) -> None:
    # As the emulator's runtime (awslambdaric) and Lambda answer; in-process printed Python's own
    # {"errorType": "ModuleNotFoundError", "errorMessage": "No module named ..."}.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(source)
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12}\n")
    template = str(tmp_path / "template.yaml")
    assert main(["invoke", "Fn", "-t", template, "--in-process", "--no-dev-issuer"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["errorType"], answer["errorMessage"]) == (error_type, message)


@pytest.mark.parametrize(("args", "message"), [
    (["invoke", "Nope", "--template", TEMPLATE], "MeFunction, ShowsFunction"),
    (["invoke", "MeFunction", "--template", "/nonexistent/template.yaml"], "template not found"),
    (["invoke", "MeFunction", "--template", TEMPLATE, "--event", "/nonexistent.json"], "cannot read event"),
    (["invoke", "MeFunction", "--template", TEMPLATE, "--parameter-overrides", "JwtIssuer"], "Key=Value"),
    (["invoke", "--template", TEMPLATE], "invoke MeFunction (functions: MeFunction, ShowsFunction"),
    (["invoke", "--template", TEMPLATE, "--no-dev-issuer", "--parameter-overrides", "JwtIssuer=x"],
     "invoke needs a function"),
])
def test_usage_errors_exit_2_with_a_clear_message(capsys: pytest.CaptureFixture[str], args: list[str],
                                                  message: str) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("serverless-jwt: error: ")
    assert message in err


def test_invoke_takes_the_function_after_parameter_overrides_as_sam_does(
        capsys: pytest.CaptureFixture[str]) -> None:
    # `sam local invoke --parameter-overrides A=B MeFunction` works: the greedy option must not swallow it.
    assert main(["invoke", "--template", TEMPLATE, "--in-process", "--no-token", "--parameter-overrides",
                 "CorsAllowOrigin=https://app.example", "MeFunction"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["statusCode"] == 401
    assert answer["headers"]["Access-Control-Allow-Origin"] == "https://app.example"


def test_invoke_without_a_name_runs_the_templates_only_function_as_sam_does(
        tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event['n'] + 1\n")
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Only:\n    Type: AWS::Lambda::Function\n"
        "    Properties: {Code: ., Handler: app.handler, Runtime: python3.12}\n")
    monkeypatch.setattr("sys.stdin", io.StringIO('{"n": 41}'))
    assert main(["--state-dir", str(state), "invoke", "-t", str(tmp_path / "template.yaml"), "--in-process",
                 "--no-dev-issuer", "-e", "-"]) == 0
    assert json.loads(capsys.readouterr().out) == 42


@pytest.mark.parametrize("name", ["template.yml", "template.json"])
def test_without_template_option_a_template_yml_or_json_is_read_as_sam_finds_it(
        tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        name: str) -> None:
    # sam local's default is template.[yaml|yml|json]: the first of those in the working directory.
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event['n'] + 1\n")
    (tmp_path / name).write_text(json.dumps({"Resources": {"Only": {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Code": ".", "Handler": "app.handler", "Runtime": "python3.12"}}}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO('{"n": 41}'))
    assert main(["--state-dir", str(state), "invoke", "--in-process", "--no-dev-issuer", "-e", "-"]) == 0
    assert json.loads(capsys.readouterr().out) == 42


def test_template_yaml_comes_before_template_yml_as_with_sam(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "template.yml").write_text("Resources: {}\n")
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    monkeypatch.chdir(tmp_path)
    assert build_parser().parse_args(["start-api"]).template == "template.yaml"


def test_start_api_takes_sams_short_port_option() -> None:
    assert build_parser().parse_args(["start-api", "-p", "3001"]).port == 3001


@pytest.mark.parametrize("args", [
    ["start-api", "--port", "99999"], ["start-api", "--port", "-1"], ["issuer", "--port", "http"],
])
def test_out_of_range_numbers_are_usage_errors(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument" in err
    assert "Traceback" not in err


def test_a_static_dir_that_is_not_there_is_an_error_not_silence(
        state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--state-dir", str(state), "start-api", "--port", "0", "--template", TEMPLATE,
                 "--static-dir", "no-such-folder"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--static-dir no-such-folder: no such folder" in err
    assert "warning" not in err  # loopback: nothing to warn about


def test_an_override_naming_no_parameter_is_a_notice_not_an_error(
        state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # sam ignores it; a notice keeps the typo visible. (The folder error ends the run right after.)
    code = main(["--state-dir", str(state), "start-api", "--port", "0", "--template", TEMPLATE,
                 "--parameter-overrides", "Typo=1", "--static-dir", "no-such-folder"])
    assert code == 2
    assert "notice: --parameter-overrides names no parameter of template.yaml: Typo (ignored, as sam does)" \
        in capsys.readouterr().err


def test_a_provider_named_in_overrides_while_the_dev_issuer_replaces_it_is_a_notice(
        state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The dev issuer sets JWT_ISSUER / JWT_AUDIENCE itself: overrides naming a real provider would be
    # ignored without a word, and its tokens refused (invalid iss) for no visible reason.
    overrides = ["--parameter-overrides", "JwtIssuer=https://provider.example", "JwtAudience=https://api.example",
                 "--static-dir", "no-such-folder"]
    assert main(["--state-dir", str(state), "start-api", "--port", "0", "--template", TEMPLATE,
                 *overrides]) == 2
    err = capsys.readouterr().err
    assert "notice: JwtIssuer, JwtAudience from --parameter-overrides set JWT_ISSUER / JWT_AUDIENCE, which " \
        "the dev issuer replaces; add --no-dev-issuer" in err
    assert main(["--state-dir", str(state), "start-api", "--no-dev-issuer", "--port", "0", "--template",
                 TEMPLATE, *overrides]) == 2
    assert "dev issuer replaces" not in capsys.readouterr().err


def test_a_secret_named_in_overrides_while_the_dev_issuer_replaces_it_is_a_notice(
        state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The README's `sam local invoke` line with JwtSecret, run as `serverless-jwt invoke`: the dev issuer
    # dropped JWT_SECRET without a word, and the event's HS256 token got a 401.
    secret = "s" * 32
    assert main(["--state-dir", str(state), "invoke", "MeFunction", "--template", TEMPLATE, "--in-process",
                 "--parameter-overrides", f"JwtSecret={secret}"]) == 0
    assert "notice: JwtSecret from --parameter-overrides set JWT_SECRET, which the dev issuer replaces; " \
        "add --no-dev-issuer" in capsys.readouterr().err


def test_start_api_warns_when_told_to_serve_beyond_this_machine(
        state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 192.0.2.1 (TEST-NET) is never bound: the folder error ends the run right after the warning.
    code = main(["--state-dir", str(state), "start-api", "--host", "192.0.2.1", "--port", "0",
                 "--template", TEMPLATE, "--static-dir", "no-such-folder"])
    assert code == 2
    assert "warning: --host 192.0.2.1 serves this API beyond this machine" in capsys.readouterr().err


def test_start_api_reports_a_port_in_use(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["--state-dir", str(state), "start-api", "--port", str(port), "--template", TEMPLATE])
    assert code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err


def _banner(proc: subprocess.Popen[str]) -> str:
    """What a serving command prints up to its "Ctrl-C to stop." line (its stderr if it ends first)."""
    assert proc.stdout is not None
    banner = ""
    while "Ctrl-C to stop." not in banner:
        line = proc.stdout.readline()
        assert line, banner + (proc.stderr.read() if proc.stderr else "")
        banner += line
    return banner


@pytest.fixture
def running_api(state: Path,
                request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    extra = list(getattr(request, "param", []))
    proc = subprocess.Popen(
        [sys.executable, "-m", "serverless_jwt.dev.cli", "--state-dir", str(state), "start-api",
         "--port", "0", "--template", TEMPLATE, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        banner = _banner(proc)
        match = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert match, banner
        yield proc, match.group(), banner
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _get(url: str, path: str, token: str | None) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_start_api_serves_real_requests_then_stops_on_ctrl_c(
    running_api: tuple[subprocess.Popen[str], str, str], state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proc, url, banner = running_api
    assert "curl -i -H 'Authorization: Bearer " in banner
    assert f"{url}/shows/1" in banner
    # A token minted by another `serverless-jwt token` process is accepted: same key, recorded issuer.
    token = _token(state, capsys, "--scope", "read:shows")
    status, body = _get(url, "/shows/1", token)
    assert status == 200
    assert json.loads(body)["name"]
    assert _get(url, "/me", None)[0] == 401
    assert _get(url, "/shows", _token(state, capsys))[0] == 403
    # The REST API under its stage, behind the sample TOKEN authorizer.
    assert f"{url}/prod/me" in banner
    assert _get(url, "/prod/me", token)[0] == 200
    assert _get(url, "/prod/me", None) == (401, b'{"message":"Unauthorized"}')
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "GET /shows/1 -> ShowsFunction 200" in err
    assert "GET /me -> MeFunction 401 (no token)" in err  # the reason next to the status
    # API Gateway refused before the backend ran: the log names the authorizer, not MeFunction.
    assert "GET /prod/me -> authorizer JwtTokenAuthorizer (AuthorizerFunction) 401 (unauthorized)" in err
    assert "GET /shows -> ShowsFunction 403 (insufficient_scope" in err
    with pytest.raises(OSError):  # noqa: PT011 - the port is released
        _get(url, "/me", None)


def test_decode_shows_unverified_claims_and_the_verdict(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = issuer.mint(sub="dana")
    assert main(["decode", token]) == 0
    out = capsys.readouterr().out
    assert "UNVERIFIED" in out
    assert '"sub": "dana"' in out
    assert "verification: skipped" in out

    monkeypatch.setenv("JWT_ISSUER", issuer.issuer)
    monkeypatch.setenv("JWT_AUDIENCE", issuer.audience)
    assert main(["decode", f"Bearer {token}"]) == 0
    assert "verification: ACCEPTED" in capsys.readouterr().out

    assert main(["decode", issuer.mint(sub="dana", lifetime_seconds=-600)]) == 1
    assert "code=token_expired" in capsys.readouterr().out


def test_decode_says_a_token_whose_keys_cannot_be_had_was_not_checked_rather_than_rejected(
    issuer: DevIssuer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # JWT_ISSUER names a dev issuer that has stopped (start-api ended): the token itself is fine.
    token = issuer.mint(sub="dana")
    monkeypatch.setenv("JWT_ISSUER", issuer.issuer)
    monkeypatch.setenv("JWT_AUDIENCE", issuer.audience)
    issuer.fault = "503"
    assert main(["decode", token]) == 1
    out = capsys.readouterr().out
    assert "REJECTED" not in out
    assert "verification: NOT CHECKED: the verifier configured from JWT_ISSUER could not get its keys" in out
    assert "code=keys_unavailable status=503" in out


_RUN_MAIN = "import sys; from serverless_jwt.dev.cli import main; sys.exit(main(sys.argv[1:]))"


def test_sigint_stops_a_background_issuer_even_when_the_shell_ignored_it(tmp_path: Path) -> None:
    # `serverless-jwt issuer &` in a script starts with SIGINT ignored; `kill -INT` must still stop it.
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN_MAIN, "--state-dir", str(tmp_path / "state"), "issuer", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Ctrl-C to stop" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out


def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    token = DevIssuer().mint(sub="pipe", alg="HS256", secret="p" * 40, issuer=None, audience=None)
    reader, writer = os.pipe()
    os.close(reader)  # `serverless-jwt decode ... | head -1` after head has exited
    try:
        done = subprocess.run(
            [sys.executable, "-c", _RUN_MAIN, "decode", token],
            stdout=writer, stderr=subprocess.PIPE, text=True, timeout=60, check=False)
    finally:
        os.close(writer)
    assert done.returncode == 141
    assert "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr
    # The same when the closed pipe is stderr and there is an error to report on it.
    reader, writer = os.pipe()
    os.close(reader)
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"}
    try:
        failed = subprocess.run([sys.executable, "-c", _RUN_MAIN, "token", "--hs256"], stdout=subprocess.PIPE,
                                stderr=writer, text=True, timeout=60, check=False, env=env)
    finally:
        os.close(writer)
    assert failed.returncode == 141


def test_an_answer_for_a_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    # `serverless-jwt invoke ... >&-`: Python starts with sys.stdout None; the answer has nowhere to go.
    done = subprocess.run(
        [sys.executable, "-c", _RUN_MAIN, "--state-dir", str(tmp_path / "state"), "invoke", "MeFunction",
         "--in-process", "--template", TEMPLATE],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120, check=False,
        preexec_fn=lambda: os.close(1))
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr


def test_decode_of_an_empty_argument_says_so(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["decode", ""]) == 2
    assert capsys.readouterr().err == \
        "serverless-jwt: error: no token given (an empty argument: is the shell variable set?)\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # `decode - < /dev/null`, or stdin closed
    assert main(["decode", "-"]) == 2
    assert capsys.readouterr().err == "serverless-jwt: error: no token given (standard input was empty)\n"


def test_decode_rejects_garbage_without_echoing_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "not-a-jwt-secret-value"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("serverless-jwt: error: not a well-formed JWT: ")  # as other usage errors
    assert "not-a-jwt-secret-value" not in captured.err + captured.out


def test_demo_exits_0_when_every_call_answers_as_expected(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--template", TEMPLATE]) == 0
    out = capsys.readouterr().out
    for line in ("GET /me         valid token", "-> 401", "-> 403", "-> 404", "mode: emulator"):
        assert line in out
    assert "FAIL" not in out


def test_demo_exits_1_when_a_call_answers_differently(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # The same template with /me served by the shows function: /me now answers 403, not 200.
    text = Path(TEMPLATE).read_text().replace("CodeUri: lambdas/me/", f"CodeUri: {ROOT}/lambdas/shows/")
    broken = tmp_path / "template.yaml"
    broken.write_text(text.replace("CodeUri: lambdas/", f"CodeUri: {ROOT}/lambdas/"))
    # In-process: the copy's layer (ContentUri: lib/) would resolve against tmp_path.
    assert main(["demo", "--template", str(broken), "--in-process"]) == 1
    assert "FAIL (expected 200)" in capsys.readouterr().out


def test_token_claim_sets_json_values_and_null_removes(state: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    issuer = _support.start_issuer(state, port=None)
    try:
        token = _token(state, capsys, "--claim", 'email="a@example.test"', "--claim", "tier=3",
                       "--claim", 'org={"id": "o1", "admin": true}', "--claim", "nbf=null")
        claims = Verifier(issuer=issuer.issuer, audience=issuer.audience).verify(token)
    finally:
        issuer.stop()
    assert claims["email"] == "a@example.test"
    assert claims["tier"] == 3
    assert claims["org"] == {"id": "o1", "admin": True}
    assert "nbf" not in claims


@pytest.mark.parametrize(("claim", "message"), [
    ("email=a@example.test", "--claim email: the value is not JSON"),
    ("=3", "--claim takes NAME=JSON"), ("tier", "--claim takes NAME=JSON")])
def test_token_claim_refuses_what_is_not_name_equals_json(state: Path, capsys: pytest.CaptureFixture[str],
                                                          claim: str, message: str) -> None:
    _support.start_issuer(state, port=None).stop()
    assert main(["--state-dir", str(state), "token", "--claim", claim]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("claim", "message"), [
    ("iss=3", "--claim iss=3: iss must be a non-empty string"), ('sub=""', "sub must be a non-empty string"),
    ("exp=true", "exp must be a number"), ('iat="1700000000"', "iat must be a number"),
    ("aud=[]", "aud must be a string or a non-empty array"), ("aud=[1]", "aud must be a string"),
    ("jti=7", "jti must be a string")])
def test_token_claim_refuses_a_registered_claim_every_verifier_refuses(
        state: Path, capsys: pytest.CaptureFixture[str], claim: str, message: str) -> None:
    # `--claim iss=3` minted a token that every verifier answers 401, without a word.
    _support.start_issuer(state, port=None).stop()
    assert main(["--state-dir", str(state), "token", "--claim", claim]) == 2
    err = capsys.readouterr().err
    assert err.startswith("serverless-jwt: error: ")
    assert message in err


@pytest.mark.parametrize("args", [["--sub", ""], ["--audience", ""], ["--issuer-url", " "]])
def test_token_options_refuse_an_empty_value(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    # `--audience ''` quietly used the default audience, `--sub ''` minted an empty subject.
    with pytest.raises(SystemExit) as exited:
        main(["token", *args])
    assert exited.value.code == 2
    assert f"serverless-jwt token: error: argument {args[0]}: needs a value" in capsys.readouterr().err


def test_a_comma_in_a_scope_is_kept_with_a_notice(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A comma is a scope character (RFC 6749 section 3.3): kept, but `a,b` more likely meant two scopes.
    _support.start_issuer(state, port=None).stop()
    assert main(["--state-dir", str(state), "token", "--scope", "a,b", "--scope", "c d"]) == 0
    captured = capsys.readouterr()
    assert "did you mean --scope a --scope b?" in captured.err
    assert "scopes=a,b c d" in captured.err
    assert main(["--state-dir", str(state), "token", "--scope", "read:shows"]) == 0
    assert "notice" not in capsys.readouterr().err


def test_token_claim_given_twice_is_refused(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _support.start_issuer(state, port=None).stop()
    assert main(["--state-dir", str(state), "token", "--claim", "a=1", "--claim", "a=2"]) == 2
    assert "given twice" in capsys.readouterr().err


def test_issuer_command_serves_sign_in_with_the_registered_redirect_uris(state: Path) -> None:
    from serverless_jwt.dev import oidc_client

    proc = subprocess.Popen(
        [sys.executable, "-m", "serverless_jwt.dev.cli", "--state-dir", str(state), "issuer", "--port", "0",
         "--redirect-uri", "http://127.0.0.1:8080/app/", "--cors-origin", "http://127.0.0.1:8080"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = _banner(proc)
        match = re.search(r"dev issuer: (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        url = match.group(1)
        assert f"sign in    {url}/authorize (client_id serverless-jwt-dev-spa" in banner
        assert "client_secret " in banner
        registered = oidc_client.start(url, redirect_uri="http://127.0.0.1:8080/app/")
        assert oidc_client.get(registered.url).status == 200
        other = oidc_client.start(url, redirect_uri="http://127.0.0.1:9999/app/")
        assert oidc_client.get(other.url).status == 400
        cors = oidc_client.get(url + "/.well-known/jwks.json", {"Origin": "http://127.0.0.1:9999"})
        assert "access-control-allow-origin" not in cors.headers
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _event_file(tmp_path: Path, authorization: str | None) -> str:
    event = json.loads((ROOT / "events" / "me.json").read_text())
    if authorization is not None:
        event["headers"]["authorization"] = authorization
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return str(path)


def test_invoke_keeps_the_events_own_token_bad_then_good(state: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--state-dir", str(state), "invoke", "MeFunction", "--template", TEMPLATE]
    assert main([*base, "--event", _event_file(tmp_path, "Bearer not.a.token")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["statusCode"] == 401  # the bad token reached the function
    assert "mode: emulator" in captured.err
    assert "REPORT RequestId: " in captured.err
    # A token from `serverless-jwt token` is for the same dev issuer identity that invoke starts.
    token = _token(state, capsys, "--sub", "erin")
    assert main([*base, "--event", _event_file(tmp_path, f"Bearer {token}")]) == 0
    body = json.loads(json.loads(capsys.readouterr().out)["body"])
    assert body["claims"]["sub"] == "erin"
    # Asked for, a fresh token replaces the event's.
    assert main([*base, "--event", _event_file(tmp_path, "Bearer not.a.token"), "--fresh-token"]) == 0
    assert json.loads(capsys.readouterr().out)["statusCode"] == 200


@pytest.mark.parametrize(("args", "allowed"), [
    ([], True),                                                     # the TOKEN event its route sends
    (["--event", str(ROOT / "events" / "authorizer-token.json")], True),   # placeholder: minted
    (["--no-token"], False),
])
def test_invoke_an_authorizer_function_with_a_minted_token(capsys: pytest.CaptureFixture[str],
                                                           args: list[str], allowed: bool) -> None:
    assert main(["invoke", "AuthorizerFunction", "--template", TEMPLATE, "--in-process", *args]) == 0
    captured = capsys.readouterr()
    answer = json.loads(captured.out)
    if allowed:
        assert answer["principalId"] == "dev-user"
        assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    else:
        assert answer["errorMessage"] == "Unauthorized"
        # The traceback starts in the function's code, as the runtime logs it, not in this tool.
        assert "adapters/authorizer.py" in captured.err
        assert "dev/runtime.py" not in captured.err


def test_invoking_an_authorizer_with_the_other_event_type_warns(capsys: pytest.CaptureFixture[str]) -> None:
    request_event = str(ROOT / "events" / "authorizer-request.json")
    assert main(["invoke", "AuthorizerFunction", "--template", TEMPLATE, "--in-process",
                 "--event", request_event]) == 0
    err = capsys.readouterr().err
    assert "warning: AuthorizerFunction is a TOKEN authorizer in the template, but this is a REQUEST" in err
    assert main(["invoke", "AuthorizerFunction", "--template", TEMPLATE, "--in-process"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_invoke_reports_a_timeout_as_sam_does_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    template = str(ROOT / "tests" / "fixtures" / "sam_app" / "template.yaml")
    assert main(["invoke", "SlowFunction", "--template", template, "--no-dev-issuer"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "Task timed out after 1.00 seconds" in captured.err


def test_invoke_of_a_function_out_of_memory_prints_lambdas_answer_and_exits_1_as_sam_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = str(ROOT / "tests" / "fixtures" / "sam_app" / "template.yaml")
    event = tmp_path / "big.json"
    event.write_text('{"allocate_mb": 600, "hold_seconds": 2}')  # held: killed meanwhile, never missed
    assert main(["invoke", "EchoFunction", "--template", template, "--no-dev-issuer", "--emulator",
                 "--event", str(event)]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert ("serverless-jwt: error: EchoFunction ran out of memory (MemorySize 256 MB): Container "
            "invocation failed due to maximum memory usage") in captured.err


def test_invoke_in_process_is_an_explicit_fast_mode_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoke", "MeFunction", "--template", TEMPLATE, "--in-process"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["statusCode"] == 200
    assert "mode: in-process" in captured.err
    assert "START RequestId" not in captured.err


@pytest.mark.parametrize("running_api", [["--no-dev-issuer", "--emulator"]], indirect=True)
def test_start_api_without_dev_issuer_or_settings_says_so_at_startup(
        running_api: tuple[subprocess.Popen[str], str, str]) -> None:
    # Every request answered 500 and only the function's log named the setting; invoke hinted, this did not.
    proc = running_api[0]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert ("notice: with --no-dev-issuer, MeFunction, ShowsFunction, AuthorizerFunction have no "
            "JWT_ISSUER, JWT_SECRET, JWT_JWKS_URI or JWT_PUBLIC_KEY value: every request to them fails "
            "until one is set") in err
    assert "--parameter-overrides JwtIssuer=" in err


def test_a_second_dev_issuer_is_refused_while_start_api_runs(
    running_api: tuple[subprocess.Popen[str], str, str], state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proc, url, banner = running_api
    assert "mode: emulator" in banner
    assert "watching for code changes" in banner
    record = _support.read_record(state)
    assert main(["--state-dir", str(state), "issuer"]) == 2
    assert f"a dev issuer already runs at {record['issuer']}" in capsys.readouterr().err
    assert _support.read_record(state) == record  # not rewritten
    # invoke, meanwhile, uses the running issuer: the same identity the API trusts.
    assert main(["--state-dir", str(state), "invoke", "MeFunction", "--template", TEMPLATE]) == 0
    assert json.loads(json.loads(capsys.readouterr().out)["body"])["claims"]["iss"] == record["issuer"]
    assert _get(url, "/me", None)[0] == 401  # the function's runtime is up
    children = _descendants(proc.pid)
    assert any("aws-lambda-rie" in cmd for cmd in children.values())
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()
                and "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()]


def test_sigterm_during_invoke_stops_the_runtime_it_started(tmp_path: Path, state: Path,
                                                            emulator: Path) -> None:
    # `timeout 3 serverless-jwt invoke ...`: without its clean-up the runtime (the emulator's child)
    # kept running the handler, unbounded by the Timeout the emulator was enforcing.
    app = tmp_path / "app"
    shutil.copytree(ROOT / "tests" / "fixtures" / "sam_app", app)
    template = app / "template.yaml"
    template.write_text(template.read_text().replace("Timeout: 1\n", "Timeout: 60\n"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "serverless_jwt.dev.cli", "--state-dir", str(state), "invoke", "SlowFunction",
         "--template", str(template), "--no-dev-issuer", "--emulator", "-e", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    assert proc.stderr is not None
    proc.stdin.write('{"seconds": 60}')
    proc.stdin.close()
    lines: list[str] = []
    sleeping = threading.Event()

    def read() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if "slow: sleeping" in line:
                sleeping.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert sleeping.wait(180), "".join(lines)
        runtimes = [pid for pid, cmd in _descendants(proc.pid).items() if "awslambdaric" in cmd]
        assert runtimes, _descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in runtimes) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in runtimes if alive(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _descendants(root: int) -> dict[int, str]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                try:
                    found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    found[pid] = ""
                frontier.append(pid)
    return found


def test_start_api_serves_the_python_functions_of_a_template_that_also_has_others(
        tmp_path: Path, state: Path) -> None:
    # One Node.js function made start-api refuse the whole template (exit 2), its Python routes too; sam
    # local serves them all. Its routes answer 502, as those of a function not run locally do.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {'from': 'python'}\n")
    (tmp_path / "src" / "index.js").write_text("exports.handler = async () => ({from: 'node'});\n")
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Py:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: src/, Handler: app.handler, "
        "Runtime: python3.12, Events: {E: {Type: HttpApi, Properties: {Path: /py, Method: GET}}}}\n"
        "  Node:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: src/, "
        "Handler: index.handler, Runtime: nodejs20.x, "
        "Events: {E: {Type: HttpApi, Properties: {Path: /node, Method: GET}}}}\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "serverless_jwt.dev.cli", "--state-dir", str(state), "start-api",
         "--port", "0", "--template", str(tmp_path / "template.yaml"), "--in-process", "--no-dev-issuer"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = _banner(proc)
        match = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert match, banner
        assert _get(match.group(), "/py", None) == (200, b'{"from": "python"}')
        assert _get(match.group(), "/node", None)[0] == 502
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert "notice: Node: Runtime nodejs20.x is not run locally here (the local loop runs Python " \
        "functions): its routes answer 502" in err


@pytest.mark.parametrize("running_api", [["--in-process"]], indirect=True)
def test_start_api_in_process_says_so_and_serves(running_api: tuple[subprocess.Popen[str], str, str]) -> None:
    proc, url, banner = running_api
    assert "mode: in-process" in banner
    assert "functions run in this process" in banner
    assert "watching" not in banner  # nothing restarts in-process: the banner says so
    assert "code changes are not picked up in-process: restart start-api after an edit" in banner
    assert _get(url, "/me", None)[0] == 401
    assert not any("aws-lambda-rie" in cmd for cmd in _descendants(proc.pid).values())


@pytest.mark.parametrize("running_api", [["--in-process", "--disable-authorizer"]], indirect=True)
def test_start_api_disable_authorizer_serves_lambda_authorized_routes_without_them_as_sam_does(
        running_api: tuple[subprocess.Popen[str], str, str]) -> None:
    proc, url, banner = running_api
    assert "Lambda authorizers are off (--disable-authorizer)" in banner
    # The REST API's TOKEN authorizer never runs: the backend itself answers the request without token.
    status, body = _get(url, "/prod/me", None)
    assert status == 401
    assert body != b'{"message":"Unauthorized"}'  # not the gateway's answer: the function's own
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert "GET /prod/me -> MeFunction 401" in err
    assert "authorizer JwtTokenAuthorizer" not in err


def test_printed_hints_name_the_venv_command_when_it_is_not_on_path(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / ".venv" / "bin" / "serverless-jwt"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "demo"])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert _support.command() == str(Path(".venv/bin/serverless-jwt"))
    monkeypatch.setenv("PATH", str(script.parent))
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert _support.command() == "serverless-jwt"


def test_banner_curl_lines_are_pasteable_for_paths_with_spaces(tmp_path: Path) -> None:
    from serverless_jwt.dev.apigw import LocalApiGateway, collect
    from serverless_jwt.dev.template import Template

    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.12\n"
        "      Events:\n        Get: {Type: HttpApi, Properties: {Path: \"/my shows/{id}\", Method: GET}}\n")
    template = Template(tmp_path / "template.yaml")
    with DevIssuer() as issuer, LocalApiGateway(collect(template).routes, {}, port=0) as api:
        banner, url = _support.api_banner(api, template, issuer, None), api.url
    assert f"{url}/my%20shows/1" in banner
    curl_lines = [line for line in banner.splitlines() if line.strip().startswith("curl")]
    assert curl_lines
    assert all("my shows" not in line for line in curl_lines)


def test_banner_curl_lines_leave_out_routes_that_answer_501_or_502(tmp_path: Path) -> None:
    from serverless_jwt.dev.apigw import LocalApiGateway, collect
    from serverless_jwt.dev.template import Template

    (tmp_path / "src").mkdir()
    def function(name: str, code: str, path: str) -> str:
        return (f"  {name}:\n    Type: AWS::Serverless::Function\n    Properties:\n      {code}\n"
                "      Handler: a.h\n      Runtime: python3.12\n      Events:\n        G:\n"
                f"          Type: HttpApi\n          Properties: {{Path: {path}, Method: GET}}\n")

    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n" + function("Inline", "InlineCode: x", "/inline")
        + function("Remote", "CodeUri: s3://b/k.zip", "/remote") + function("Fn", "CodeUri: src/", "/me"))
    template = Template(tmp_path / "template.yaml")
    with DevIssuer() as issuer, LocalApiGateway(collect(template).routes, {}, port=0) as api:
        banner, url = _support.api_banner(api, template, issuer, None), api.url
    curl_lines = [line for line in banner.splitlines() if line.strip().startswith("curl")]
    assert [line.split()[-1] if "# no token" not in line else "no-token" for line in curl_lines] == [
        f"{url}/me", "no-token"]
    assert "/me   # no token: 401" in curl_lines[-1]



def test_banner_prints_the_service_clients_secret_which_issuer_cannot_while_start_api_runs(
        tmp_path: Path) -> None:
    from serverless_jwt.dev.apigw import LocalApiGateway, collect
    from serverless_jwt.dev.template import Template

    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.12\n"
        "      Events:\n        Get: {Type: HttpApi, Properties: {Path: /me, Method: GET}}\n")
    template = Template(tmp_path / "template.yaml")
    with DevIssuer() as issuer, LocalApiGateway(collect(template).routes, {}, port=0) as api:
        banner = _support.api_banner(api, template, issuer, None)
        secret = issuer.oidc.service_client_secret
    assert f"client_id serverless-jwt-dev-service client_secret {secret} " in banner


# "Billion laughs": 10**9 values from a few hundred bytes of aliases.
BOMB = "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
                 + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)])
_FN = ("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
       "    Properties: {CodeUri: ., Handler: app.handler, Runtime: python3.12%s}\n")


@pytest.mark.parametrize(("files", "args", "message"), [
    ({"ev.json": b"\xff\xfe{}"}, ["-e", "ev.json"], "is not UTF-8 text"),
    ({"ev.json": b"[" * 100_000}, ["-e", "ev.json"], "nests too deeply"),
    ({"ev": None}, ["-e", "ev"], "it is a folder"),
    ({"t.yaml": (_FN % ", Timeout: abc").encode()}, [], "Fn.Timeout must be a number"),
    ({"t.yaml": (_FN % ", Timeout: -5").encode()}, [], "Fn.Timeout must be a number from 1 to 900"),
    ({"t.yaml": (_FN % ", MemorySize: [1]").encode()}, [], "Fn.MemorySize must be a number"),
    ({"t.yaml": (_FN % ", Events: [1, 2]").encode()}, [], "Fn has a property of an unexpected shape"),
    ({"t.yaml": b"Parameters: [a, b]\n" + (_FN % "").encode()}, [], "Parameters has a property"),
    ({"t.yaml": b"Resources: " + b"[" * 20_000}, [], "nests too deeply"),
    ({"t.yaml": (_FN % ", Environment: {Variables: {A: &a [*a]}}").encode()}, [], "unexpected shape"),
    ({"t.yaml": (BOMB + "\n" + _FN % ", Environment: {Variables: {A: *a8}}").encode()}, [],
     "too many values"),
    ({"t.yaml": (_FN % ", Environment: {Variables: {A: x}}").encode(),
      "env.json": b'{"Fn": {"A": "a\\u0000b"}}'}, ["--env-vars", "env.json"], "NUL byte"),
    ({"t.yaml": (_FN.replace("CodeUri: .", "CodeUri: missing/") % "").encode()}, [],
     "CodeUri is not a local folder"),
    ({"t.yaml": (_FN.replace("app.handler", "../x.y") % "").encode()}, [], "Handler must look like"),
])
def test_malformed_inputs_are_usage_errors_never_tracebacks(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        files: dict[str, bytes | None], args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return {}\n")
    for name, content in files.items():
        if content is None:
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_bytes(content)
    template = "t.yaml" if "t.yaml" in files else str(tmp_path / "t.yaml")
    if "t.yaml" not in files:
        (tmp_path / "t.yaml").write_text(_FN % "")
    code = main(["--state-dir", str(state), "invoke", "Fn", "--template", template, "--in-process",
                 "--no-dev-issuer", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert message in err


@pytest.mark.parametrize(("code_uri", "command"), [
    ("missing/", ["invoke", "Fn"]), ("missing/", ["start-api", "--port", "0"]),
    ("s3://bucket/key.zip", ["invoke", "Fn"]),  # skipped as sam local skips it: invoke says why
])
def test_a_code_uri_that_is_no_local_folder_is_a_template_error_in_emulator_mode(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str], emulator: Path,
        code_uri: str, command: list[str]) -> None:
    # Checked before any runtime or server starts, as --in-process does: exit 2, never a traceback.
    template = tmp_path / "t.yaml"
    template.write_text(_FN.replace("CodeUri: .", f"CodeUri: {code_uri}").replace(
        "}\n", ", Events: {Me: {Type: HttpApi, Properties: {Path: /me, Method: GET}}}}\n") % "")
    code = main(["--state-dir", str(state), *command, "--template", str(template), "--emulator",
                 "--no-dev-issuer"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert ("code is in S3" if code_uri.startswith("s3:") else "CodeUri is not a local folder") in err, err
    assert "s3:/bucket" not in err  # never a garbled local path


def test_a_layer_that_is_no_local_folder_is_a_template_error_in_emulator_mode(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str], emulator: Path) -> None:
    # The emulator would mount it at /opt; in-process, handlers use this interpreter's packages.
    template = tmp_path / "t.yaml"
    template.write_text(_FN % ", Layers: [!Ref Lib]" + "  Lib:\n    Type: AWS::Serverless::LayerVersion\n"
                        "    Properties: {ContentUri: nolayer/}\n")
    code = main(["--state-dir", str(state), "invoke", "Fn", "--template", str(template), "--emulator",
                 "--no-dev-issuer"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Fn: layer Lib: ContentUri is not a local folder" in err


def test_invoke_sends_an_event_that_is_not_an_object_as_is(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return {'got': event}\n")
    (tmp_path / "t.yaml").write_text(_FN % "")
    (tmp_path / "ev.json").write_text('["a", 1]')
    assert main(["--state-dir", str(state), "invoke", "Fn", "--template", str(tmp_path / "t.yaml"),
                 "--in-process", "-e", str(tmp_path / "ev.json")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"got": ["a", 1]}
    assert "no token added" in captured.err
    # A usage error with --no-dev-issuer gets no hint about the function's provider settings.
    assert main(["--state-dir", str(state), "invoke", "Nope", "--template", str(tmp_path / "t.yaml"),
                 "--in-process", "--no-dev-issuer"]) == 2
    assert "hint:" not in capsys.readouterr().err


@pytest.mark.parametrize("event", [{"headers": {"authorization": 5}}, {"headers": []}])
def test_invoke_sends_credentials_of_an_odd_shape_as_written_not_a_minted_token(
        event: dict[str, object], tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # As `sam local invoke` passes them: a minted token in their place would hide what the event tests.
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return {'got': event}\n")
    (tmp_path / "t.yaml").write_text(_FN % "")
    (tmp_path / "ev.json").write_text(json.dumps(event))
    args = ["--state-dir", str(state), "invoke", "Fn", "--template", str(tmp_path / "t.yaml"), "--in-process",
            "-e", str(tmp_path / "ev.json")]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"got": event}
    assert "notice: no token added: its headers" in captured.err
    assert main([*args, "--fresh-token"]) == 0  # asked for: the token replaces them
    assert json.loads(capsys.readouterr().out)["got"]["headers"]["authorization"].startswith("Bearer ey")


def test_token_refuses_what_no_verifier_reads_and_odd_state(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for claim, reason in (("x=NaN", "non-finite number"), ("exp=1e400", "non-finite number"),
                          ("x=" + "[" * json_unreadable_depth() + "]" * json_unreadable_depth(),
                           "nests too deeply")):
        assert main(["--state-dir", str(state), "token", "--issuer-url", "http://127.0.0.1:9",
                     "--claim", claim]) == 2
        assert reason in capsys.readouterr().err
    assert main(["--state-dir", str(state), "token", "--issuer-url", "http://127.0.0.1:9",
                 "--sub", "\udcff"]) == 2  # bytes a shell gave that were not UTF-8
    assert "unpaired surrogate" in capsys.readouterr().err
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    assert main(["--state-dir", str(a_file), "token", "--issuer-url", "http://127.0.0.1:9"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_start_api_names_an_empty_host_and_a_file_given_as_the_static_folder(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-dir", str(state), "start-api", "--host", "", "--template", TEMPLATE]) == 2
    assert "--host needs an address" in capsys.readouterr().err
    a_file = tmp_path / "index.html"
    a_file.write_text("<h1>hi</h1>")
    assert main(["--state-dir", str(state), "start-api", "--port", "0", "--template", TEMPLATE,
                 "--static-dir", str(a_file)]) == 2
    assert "a file, not a folder" in capsys.readouterr().err


def test_start_api_with_only_cloudformation_apis_names_them_as_not_emulated(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "template.yaml").write_text(
        "Resources:\n"
        "  Fn: {Type: AWS::Lambda::Function, Properties: {Code: ., Handler: app.h, Runtime: python3.12}}\n"
        "  Quick: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: HTTP}}\n")
    assert main(["--state-dir", str(state), "start-api", "--port", "0", "--template",
                 str(tmp_path / "template.yaml")]) == 2
    err = capsys.readouterr().err
    assert "has no Api or HttpApi routes to serve; Quick (AWS::ApiGatewayV2::Api): CloudFormation API " \
           "resources are not emulated" in err
    assert "Traceback" not in err


def test_the_token_summary_tells_what_the_token_says_after_every_claim(
        state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-dir", str(state), "token", "--issuer-url", "http://127.0.0.1:9", "--scope",
                 "read:shows", "--claim", "sub=null", "--claim", "exp=null", "--claim", "scope=\"a b\""]) == 0
    summary = capsys.readouterr().err
    assert "# sub=- scopes=a b roles=- no exp: no verifier accepts it" in summary


@pytest.mark.parametrize("claims", [["exp=" + "9" * 400], ["exp=" + "9" * 400, "iat=1.5"]])
def test_a_token_whose_lifetime_is_beyond_a_float_is_minted_and_summarised_as_given(
        state: Path, capsys: pytest.CaptureFixture[str], claims: list[str]) -> None:
    args = [a for claim in claims for a in ("--claim", claim)]
    assert main(["--state-dir", str(state), "token", "--issuer-url", "http://127.0.0.1:9", *args]) == 0
    out, err = capsys.readouterr()
    assert out.count(".") == 2
    assert "# sub=" in err
    assert err.rstrip().endswith("exp as given")


@pytest.mark.parametrize("args", [["token", "--hs256"], ["token", "--help"], ["--help"]])
def test_output_that_cannot_be_written_is_a_one_line_error_never_a_traceback(
        tmp_path: Path, args: list[str]) -> None:
    env = {**os.environ, "JWT_SECRET": "s" * 40}
    command = [sys.executable, "-c", _RUN_MAIN, "--state-dir", str(tmp_path), *args]
    # Standard output closed before the start (`>&-`): nothing is shown, and the exit says so.
    closed = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            timeout=60, check=False, env=env, preexec_fn=lambda: os.close(1))
    assert closed.returncode == 141
    assert closed.stderr.strip() == \
        "serverless-jwt: error: standard output is closed (>&-): nothing can be shown"
    if os.path.exists("/dev/full"):  # a full disk: every write fails with ENOSPC
        with open("/dev/full", "w") as full:
            done = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60,
                                  check=False, env=env)
        assert done.returncode == 1
        assert done.stderr.strip() == \
            "serverless-jwt: error: cannot write the output: No space left on device"


@pytest.mark.parametrize("stdout", ["closed", "full"])
def test_a_server_whose_stdout_is_closed_or_full_serves_without_its_banner(
        tmp_path: Path, stdout: str) -> None:
    # `serverless-jwt issuer >&- &`: nothing to show, but serving is the point; a one-shot command
    # with output to give is what exits 141 (or 1).
    from serverless_jwt.dev._support import running_issuer

    if stdout == "full" and not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    state = tmp_path / "state"
    target = open("/dev/full", "w") if stdout == "full" else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN_MAIN, "--state-dir", str(state), "issuer", "--port", "0"],
        stdout=target, stderr=subprocess.PIPE, text=True,
        preexec_fn=(lambda: os.close(1)) if stdout == "closed" else None)
    try:
        deadline = time.monotonic() + 60
        while running_issuer(state) is None and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert running_issuer(state) is not None
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err


INLINE_TEMPLATE = """\
Resources:
  Inline:
    Type: AWS::Lambda::Function
    Properties:
      Handler: index.handler
      Runtime: python3.12
      Code: {ZipFile: "def handler(event, context):\\n    return 1\\n"}
"""


def test_invoking_inline_code_is_refused_as_sam_local_refuses_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(INLINE_TEMPLATE)
    assert main(["invoke", "Inline", "--template", str(template), "--in-process", "--no-dev-issuer"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(
        "serverless-jwt: error: Inline code is not supported for sam local commands. Please write your code "
        "in a separate file for the function Inline.")
    assert "ImportModuleError" not in captured.err
    assert captured.out == ""
