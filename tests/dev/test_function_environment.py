"""The variables a function runs with: template, shell and --env-vars values as sam local resolves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from serverless_jwt.dev.runtime import function_environment
from serverless_jwt.dev.template import Function, Template


def _function(tmp_path: Path, variables: str | None = None) -> Function:
    """The one function "Fn" of a template written to ``tmp_path``, with ``variables`` (a YAML flow
    mapping) as its Environment Variables."""
    environment = "" if variables is None else f"      Environment:\n        Variables: {variables}\n"
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: .\n      Handler: app.handler\n      Runtime: python3.12\n"
        + environment)
    return Template(tmp_path / "template.yaml").function("Fn")


def test_env_vars_fill_declared_variables_the_template_leaves_empty(tmp_path: Path) -> None:
    # `TABLE: !Ref Table` exists only once deployed, and a null value is no value: both are "" as sam
    # local passes them, until --env-vars (or the shell) gives them their local value.
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: .\n      Handler: app.handler\n      Runtime: python3.12\n"
        "      Environment:\n        Variables:\n          TABLE: !GetAtt Table.Arn\n          EMPTY:\n")
    function = Template(tmp_path / "template.yaml").function("Fn")
    bare = function_environment(function, shell_values={})
    assert (bare["TABLE"], bare["EMPTY"]) == ("", "")
    env = function_environment(function, env_vars={"TABLE": "local-table"},
                               shell_values={"EMPTY": "from-shell"})
    assert (env["TABLE"], env["EMPTY"]) == ("local-table", "from-shell")


def test_environment_is_resolved_as_sam_local_does(tmp_path: Path) -> None:
    function = _function(tmp_path, "{A: template, B: template, C: template, D: template,"
                                   " JWT_ISSUER: https://template.example/}")
    shell = {"B": "shell", "C": "shell", "UNDECLARED": "shell", "JWT_ISSUER": "https://shell.example/"}
    env_vars = {"C": "file", "D": True, "E": "undeclared", "JWT_AUDIENCE": "file"}
    env = function_environment(function, env_vars=env_vars, shell_values=shell)
    assert (env["A"], env["B"], env["C"], env["D"]) == ("template", "shell", "file", "true")
    assert "UNDECLARED" not in env
    assert "E" not in env
    assert "JWT_AUDIENCE" not in env  # not declared by the template: SAM ignores it
    assert env["JWT_ISSUER"] == "https://shell.example/"
    assert env["AWS_SAM_LOCAL"] == "true"
    assert env["LAMBDA_TASK_ROOT"] == str(tmp_path)  # in-process too: handlers find their data files by it
    dev = function_environment(function, {"JWT_ISSUER": "http://127.0.0.1:1", "JWT_AUDIENCE": "dev"},
                               env_vars=env_vars, shell_values=shell)
    assert (dev["JWT_ISSUER"], dev["JWT_AUDIENCE"], dev["C"]) == ("http://127.0.0.1:1", "dev", "file")


def test_the_dev_issuers_audience_replaces_an_any_audience_opt_out_so_the_function_starts(
        tmp_path: Path) -> None:
    # A provider with unpredictable aud (README: JWT_REQUIRE_AUDIENCE=false, JWT_ACCEPT_ANY_AUDIENCE=true):
    # under start-api / invoke the dev issuer adds JWT_AUDIENCE, and the opt-out beside it is a
    # ConfigurationError, so every request to the function failed.
    from serverless_jwt import Verifier

    function = _function(tmp_path, "{JWT_ISSUER: https://login.example/tenant/v2.0,"
                                   " JWT_REQUIRE_AUDIENCE: 'false', JWT_ACCEPT_ANY_AUDIENCE: 'true'}")
    dev = function_environment(function, {"JWT_ISSUER": "http://127.0.0.1:1/", "JWT_AUDIENCE": "dev"},
                               shell_values={})
    assert "JWT_ACCEPT_ANY_AUDIENCE" not in dev
    assert "audience=['dev']" in repr(Verifier.from_env(dev))
    # Without the dev issuer the function runs with the provider's settings as written.
    assert function_environment(function, shell_values={})["JWT_ACCEPT_ANY_AUDIENCE"] == "true"


def test_logging_config_sets_the_log_format_level_and_group_as_sam_local_does(tmp_path: Path) -> None:
    # awslambdaric reads AWS_LAMBDA_LOG_FORMAT/LEVEL: with LogFormat JSON, logging.info() lines come out
    # as JSON at ApplicationLogLevel (INFO by default), under sam local as in Lambda.
    (tmp_path / "template.yaml").write_text(
        "Parameters:\n  Level: {Type: String, Default: DEBUG}\n"
        "Globals:\n  Function:\n    LoggingConfig: {LogFormat: JSON}\n"
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: ., Handler: app.handler, Runtime: python3.12,"
        " LoggingConfig: {ApplicationLogLevel: !Ref Level, LogGroup: /custom/group}}\n"
        "  Plain:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: ., Handler: app.handler, Runtime: python3.12}\n")
    template = Template(tmp_path / "template.yaml")
    env = function_environment(template.function("Fn"), shell_values={})
    assert (env["AWS_LAMBDA_LOG_FORMAT"], env["AWS_LAMBDA_LOG_LEVEL"]) == ("JSON", "DEBUG")
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/custom/group"
    text = function_environment(template.function("Plain"), shell_values={})
    assert (text["AWS_LAMBDA_LOG_FORMAT"], text["AWS_LAMBDA_LOG_LEVEL"]) == ("JSON", "INFO")
    bare = function_environment(_function(tmp_path), shell_values={})
    assert "AWS_LAMBDA_LOG_FORMAT" not in bare
    assert "AWS_LAMBDA_LOG_LEVEL" not in bare
    assert bare["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/Fn"


def test_the_region_without_region_variables_is_the_aws_profiles_as_under_sam_local(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # sam local passes boto3's region (AWS_DEFAULT_REGION, else the profile's): a function's own boto3
    # calls go where they would go under sam, not to us-east-1.
    (tmp_path / "config").write_text("[default]\nregion = ca-central-1\n[profile dev]\nregion = eu-west-1\n")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    function = _function(tmp_path)
    env = function_environment(function, shell_values={})
    assert (env["AWS_REGION"], env["AWS_DEFAULT_REGION"]) == ("ca-central-1", "ca-central-1")
    monkeypatch.setenv("AWS_PROFILE", "dev")
    assert function_environment(function, shell_values={})["AWS_REGION"] == "eu-west-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert function_environment(function, shell_values={})["AWS_REGION"] == "ap-south-1"
