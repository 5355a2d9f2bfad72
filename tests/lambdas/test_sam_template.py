"""template.yaml as AWS SAM reads it: one layer for every function, code-only functions, IAM for secrets.

The template is transformed by SAM's own translator (samtranslator, part of aws-sam-cli) into the
CloudFormation that ``sam deploy`` would create.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {"MeFunction": "lambdas/me/", "ShowsFunction": "lambdas/shows/",
             "AuthorizerFunction": "lambdas/authorizer/"}


def _source() -> dict[str, Any]:
    yaml_helper = pytest.importorskip("samtranslator.yaml_helper", reason="aws-sam-cli is not installed")
    template: dict[str, Any] = yaml_helper.yaml_parse((ROOT / "template.yaml").read_text())
    return template


def _transformed(monkeypatch: pytest.MonkeyPatch, secret: str) -> dict[str, Any]:
    transform = pytest.importorskip("samtranslator.translator.transform",
                                    reason="aws-sam-cli is not installed")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    # Local paths become S3 URIs at `sam package`; the translator only accepts the latter.
    text = re.sub(r"(CodeUri|ContentUri): \S+", r"\1: s3://bucket/key", (ROOT / "template.yaml").read_text())
    yaml_helper = pytest.importorskip("samtranslator.yaml_helper")

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    out: dict[str, Any] = transform.transform(yaml_helper.yaml_parse(text), {"JwtSecret": secret},
                                              NoManagedPolicies())
    return out


def test_the_layer_is_built_by_sam_from_the_library_source() -> None:
    layer = _source()["Resources"]["ServerlessJwtLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "python3.12"
    assert layer["Properties"]["ContentUri"] == "lib/"
    assert (ROOT / "lib" / "serverless_jwt" / "__init__.py").is_file()


def test_the_layer_requirements_are_the_core_dependencies_and_the_powertools_extra() -> None:
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {*project["dependencies"], *project["optional-dependencies"]["powertools"]}
    lines = (ROOT / "lib" / "requirements.txt").read_text().splitlines()
    assert {line.strip() for line in lines if line.strip() and not line.startswith("#")} == declared


def test_the_readme_tells_how_to_add_the_speedups_extra_to_the_layer_with_the_extras_own_lines() -> None:
    # The sample layer leaves the speedups out; the README's recipe for adding them to a layer's
    # requirements must name exactly the extra's packages and floors, and the layer's architecture knob.
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    extra = extras["speedups"]
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### The `speedups` extra"):readme.index("### Numbers")]
    block = section[section.index("```text\n") + 8:]
    assert sorted(block[:block.index("```")].split()) == sorted(extra)
    assert "BuildArchitecture: arm64" in section
    assert _source()["Resources"]["ServerlessJwtLayer"]["Metadata"]["BuildArchitecture"] in section


def test_every_function_gets_the_layer_and_only_its_own_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    source = _source()
    assert source["Globals"]["Function"]["Layers"] == [{"Ref": "ServerlessJwtLayer"}]
    for name, folder in FUNCTIONS.items():
        assert source["Resources"][name]["Properties"]["CodeUri"] == folder
    resources = _transformed(monkeypatch, "")["Resources"]
    layer_id = next(k for k, v in resources.items() if v["Type"] == "AWS::Lambda::LayerVersion")
    for name in FUNCTIONS:
        assert resources[name]["Properties"]["Layers"] == [{"Ref": layer_id}], name


def _service(secret: str) -> str:
    # What the template's conditions compute: !Select [2, !Split [":", !Sub "${JwtSecret}::::"]]
    return f"{secret}::::".split(":")[2]


@pytest.mark.parametrize(("secret", "service"), [
    ("", ""),
    ("a-shared-secret-of-forty-characters-long", ""),
    ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:jwt-AbCdEf", "secretsmanager"),
    ("arn:aws:ssm:eu-west-1:123456789012:parameter/app/jwt", "ssm"),
    ("ssm:/app/jwt", ""),
])
def test_the_secret_conditions_pick_the_arn_service(secret: str, service: str) -> None:
    assert _service(secret) == service
    conditions = _source()["Conditions"]
    expected = {"Fn::Equals": [{"Fn::Select": [2, {"Fn::Split": [":", {"Fn::Sub": "${JwtSecret}::::"}]}]}]}
    for name, value in (("SecretInSecretsManager", "secretsmanager"), ("SecretInParameterStore", "ssm")):
        assert conditions[name] == {"Fn::Equals": [expected["Fn::Equals"][0], value]}


def test_functions_may_read_the_secret_arn_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:jwt-AbCdEf"
    resources = _transformed(monkeypatch, arn)["Resources"]
    for name in FUNCTIONS:
        policies = resources[f"{name}Role"]["Properties"]["Policies"]
        by_condition = {p["Fn::If"][0]: p["Fn::If"][1]["PolicyDocument"]["Statement"] for p in policies}
        assert by_condition["SecretInSecretsManager"] == [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": "JwtSecret"}}]
        assert by_condition["SecretInParameterStore"] == [
            {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": {"Ref": "JwtSecret"}}]


def test_outputs_name_the_urls_to_call() -> None:
    outputs = _source()["Outputs"]
    for name, path in (("MeUrl", "/me"), ("ShowsUrl", "/shows"), ("RestMeUrl", "/prod/me")):
        assert outputs[name]["Value"]["Fn::Sub"].endswith(path), name


def test_the_readme_deploy_walk_through_sets_what_it_calls_from_outputs_and_parameters() -> None:
    # A user pastes these lines after `sam deploy --guided`: every "$...Url" a curl calls must have been
    # read from one of the stack's Outputs, and every Parameter it tells them to set must exist.
    template = _source()
    readme = (ROOT / "README.md").read_text("utf-8")
    deploy = readme.split("\n### Deploy\n", 1)[1].split("\n### ", 1)[0]
    called = set(re.findall(r'"\$(\w+Url)"', deploy))
    assigned = dict(re.findall(r"\b(\w+Url)=\$\(output (\w+)\)", deploy))
    assert called
    assert called <= set(assigned), called - set(assigned)
    assert set(assigned.values()) <= set(template["Outputs"])
    set_parameters = set(re.findall(r"\b(Jwt[A-Za-z]+)=", deploy))
    assert {"JwtIssuer", "JwtAudience", "JwtSecret"} <= set_parameters <= set(template["Parameters"])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SAM CLI's own template validator
def test_the_readme_quotes_the_guided_deploy_prompt_for_each_function_without_api_auth(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # `sam deploy --guided` stops unless each function it names is confirmed: the README must tell a
    # user which questions come and in SAM CLI's own words.
    auth_utils = pytest.importorskip("samcli.commands.deploy.auth_utils",
                                     reason="aws-sam-cli is not installed")
    stack_provider = pytest.importorskip("samcli.lib.providers.sam_stack_provider")
    guided = pytest.importorskip("samcli.commands.deploy.guided_context")
    assert "has no authentication. Is this okay?" in inspect.getsource(guided)
    monkeypatch.setenv("SAM_CLI_TELEMETRY", "0")
    monkeypatch.chdir(ROOT)
    stacks, _ = stack_provider.SamLocalStackProvider.get_stacks("template.yaml")
    asked = {name for name, has_auth in auth_utils.auth_per_resource(stacks) if not has_auth}
    readme = " ".join((ROOT / "README.md").read_text("utf-8").split())
    assert asked == {"MeFunction", "ShowsFunction"}
    for name in asked:
        assert f'"{name} has no authentication. Is this okay?"' in readme, name
