"""runners: which runner each function gets, and the environment it is prepared with."""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any

import pytest

from serverless_jwt.dev.runners import prepare
from serverless_jwt.dev.template import Template

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Named:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-named"
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Environment: {Variables: {GREETING: template, SHARED: template}}
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Environment: {Variables: {GREETING: template, SHARED: template}}
"""


def test_env_vars_entries_are_found_by_logical_id_or_function_name(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    template = Template(tmp_path / "template.yaml")
    stack_named = template.function("Named").function_name
    assert stack_named is not None
    assert stack_named.endswith("-named")
    env_vars = {"Parameters": {"SHARED": "everyone"}, stack_named: {"GREETING": "by name"},
                "Plain": {"GREETING": "by id"}}
    prepared = prepare(template, ["Named", "Plain"], mode="in-process", env_vars=env_vars)
    named, plain = (prepared.runners[n].environment for n in ("Named", "Plain"))  # type: ignore[attr-defined]
    assert (named["GREETING"], named["SHARED"]) == ("by name", "everyone")
    assert (plain["GREETING"], plain["SHARED"]) == ("by id", "everyone")


def test_the_mode_line_names_the_interpreter_that_runs_a_runtime_not_installed_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from serverless_jwt.dev import environments
    from serverless_jwt.dev.emulator import emulator_binary

    if emulator_binary()[0] is None:
        pytest.skip(emulator_binary()[1])
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace("python3.12", "python3.14"))
    notice = "python3.14 is not installed here: running it with Python 3.11"

    def fallback(runtime: str | None, requirements: Any, **kwargs: Any) -> environments.Environment:
        return environments.Environment(Path(sys.executable), "3.11", notice)

    monkeypatch.setattr(environments, "ensure_environment", fallback)
    prepared = prepare(Template(tmp_path / "template.yaml"), ["Named", "Plain"], mode="emulator")
    assert notice in prepared.notices
    assert prepared.describe() == ("mode: emulator (Lambda's runtime python3.14 on Python 3.11 under the "
                                   "Runtime Interface Emulator)")


def test_a_runtime_lambda_does_not_have_is_refused_as_sam_local_refuses_it(tmp_path: Path) -> None:
    # python3.99 ran on this interpreter with a notice to "install python3.99"; sam local says
    # "Unsupported Lambda runtime", and sam deploy would fail.
    from serverless_jwt.errors import ConfigurationError

    pytest.importorskip("samcli")
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace("python3.12", "python3.99"))
    with pytest.raises(ConfigurationError, match=r"^Named: Runtime python3\.99 is not a Lambda runtime "
                                                 r"\(Python's: python3\.\d+, .*python3\.12, python3\.13"):
        prepare(Template(tmp_path / "template.yaml"), ["Named"], mode="in-process")


def test_a_variable_the_template_leaves_empty_is_named_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace(
        "{GREETING: template, SHARED: template}", "{GREETING: !ImportValue greeting, SHARED: [a, b]}", 1))
    prepared = prepare(Template(tmp_path / "template.yaml"), ["Named"], mode="in-process")
    assert prepared.runners["Named"].environment["GREETING"] == ""  # type: ignore[attr-defined]
    assert 'Named: GREETING is "" (unless the shell or --env-vars sets it): Fn::ImportValue is not ' \
        "resolved locally" in "\n".join(prepared.notices)
    assert 'Named: SHARED is "" (unless the shell or --env-vars sets it): its value is a list' \
        in "\n".join(prepared.notices)


def test_inline_code_gets_a_runner_that_refuses_it_as_sam_local_does(tmp_path: Path) -> None:
    from serverless_jwt.dev.invocation import UnsupportedInlineCode
    from serverless_jwt.dev.runners import InlineCodeRunner

    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(TEMPLATE + """\
  Inline:
    Type: AWS::Serverless::Function
    Properties: {InlineCode: "def handler(e, c): return 1", Handler: index.handler, Runtime: nodejs20.x}
""")
    # A runtime this tool does not run is no error: nothing of an inline function runs.
    prepared = prepare(Template(tmp_path / "template.yaml"), ["Inline", "Plain"], mode="in-process")
    runner = prepared.runners["Inline"]
    assert isinstance(runner, InlineCodeRunner)
    with pytest.raises(UnsupportedInlineCode) as refused:
        runner.invoke({})
    assert str(refused.value) == ("Inline code is not supported for sam local commands. Please write your "
                                  "code in a separate file for the function Inline.")
    assert "Inline: inline code (InlineCode / Code.ZipFile) is not run locally, as with sam local: its " \
        "routes answer 501" in prepared.notices
    assert prepared.runners["Plain"].mode == "in-process"


def test_a_built_template_shares_the_projects_runtime_cache(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # After `sam build`, invoke -t .aws-sam/build/template.yaml reuses the runtimes already built for
    # the source template (the project's .serverless-jwt), where the dev issuer's state goes too.
    from serverless_jwt.dev.runners import _cache_dir

    monkeypatch.delenv("SERVERLESS_JWT_CACHE_DIR", raising=False)
    built = tmp_path / ".aws-sam" / "build"
    built.mkdir(parents=True)
    for folder in (tmp_path, built):
        (folder / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    assert _cache_dir(Template(built / "template.yaml")) == tmp_path / ".serverless-jwt"
    assert _cache_dir(Template(tmp_path / "template.yaml")) == tmp_path / ".serverless-jwt"


def test_a_function_of_another_architecture_says_it_runs_as_this_machines(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    other = "x86_64" if platform.machine().lower() in ("aarch64", "arm64") else "arm64"
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace(
        "  Plain:\n    Type: AWS::Serverless::Function\n    Properties:\n",
        f"  Plain:\n    Type: AWS::Serverless::Function\n    Properties:\n      Architectures: [{other}]\n"))
    prepared = prepare(Template(tmp_path / "template.yaml"), ["Named", "Plain"], mode="in-process")
    assert [n for n in prepared.notices if "Architectures" in n] == [
        f"Plain: Architectures {other}, run as {'arm64' if other == 'x86_64' else 'x86_64'} on this machine "
        f"(native packages built for {other} do not load here)"]
