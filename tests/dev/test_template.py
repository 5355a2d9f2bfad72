"""Reading SAM templates: the YAML subset reader, Globals, parameters and intrinsic functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from serverless_jwt.dev._yaml import load, parse_subset
from serverless_jwt.dev.template import Template, parse_overrides
from serverless_jwt.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]

TRICKY = """\
# comment
Key: "quoted # not a comment"   # a comment
List:
- a
- b: 1
  c: [x, 'y', !Ref Z, {k: v}]
-   - nested
    - seq
Folded: >-
  one
  two

  three
Literal: |
  line1
    indented
Sub: !Sub "${A}-x"
GetAtt: !GetAtt Fn.Arn
Join: !Join ["", [a, !Ref B]]
Empty:
Numbers: [10, 1.5, -3]
Bool: true
Text: 2010-09-09x
Tagged: !If
  - Cond
  - a
  - b
Url: http://x:80/y
Quote: 'it''s'
"""


def test_subset_reader_matches_pyyaml_on_the_project_template_and_tricky_input() -> None:
    yaml = pytest.importorskip("yaml")
    assert yaml is not None
    for text in ((ROOT / "template.yaml").read_text(), TRICKY):
        assert parse_subset(text) == load(text)


def test_subset_reader_long_forms_of_cloudformation_tags() -> None:
    doc = parse_subset(TRICKY)
    assert doc["Sub"] == {"Fn::Sub": "${A}-x"}
    assert doc["GetAtt"] == {"Fn::GetAtt": ["Fn", "Arn"]}
    assert doc["Join"] == {"Fn::Join": ["", ["a", {"Ref": "B"}]]}
    assert doc["Tagged"] == {"Fn::If": ["Cond", "a", "b"]}
    assert doc["Folded"] == "one two\nthree"
    assert doc["Quote"] == "it's"


@pytest.mark.parametrize(("text", "line"), [
    ("A: &anchor 1\nB: *anchor\n", 1),
    ("A:\n  B: [1,\n     2]\n", 2),
    ("A: 1\n    B: 2\n", 2),
])
def test_subset_reader_refuses_what_it_does_not_read_with_the_line(text: str, line: int) -> None:
    with pytest.raises(ConfigurationError, match=f"line {line}"):
        parse_subset(text)


def test_project_template_functions_routes_and_environment() -> None:
    t = Template(ROOT / "template.yaml", parameter_overrides={"JwtIssuer": "https://issuer.example/",
                                                              "JwtAudience": "api"})
    assert set(t.functions) == {"AuthorizerFunction", "MeFunction", "ShowsFunction"}
    me = t.function("MeFunction")
    assert me.handler == "app.handler"
    assert me.code_dir == ROOT / "lambdas" / "me"
    assert me.runtime in ("python3.12", "python3.13")
    assert me.environment["JWT_ISSUER"] == "https://issuer.example/"
    assert me.environment["JWT_AUDIENCE"] == "api"
    assert me.environment["JWT_SECRET"] == ""
    assert [r.key for r in t.routes] == ["GET /me", "GET /shows", "GET /shows/{id}"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


def test_globals_merge_under_function_settings_and_intrinsics_resolve(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
  NoDefault: {Type: String}
Globals:
  Function:
    Handler: app.handler
    Timeout: 9
    Environment:
      Variables:
        A: global
        B: !Ref Stage
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Timeout: 20
      Environment:
        Variables:
          A: local
          C: !Sub "${Stage}-${AWS::Region}-${!Literal}"
          D: !Join ["/", [!Ref Stage, x]]
          E: !GetAtt Other.Arn
          F: !Ref NoDefault
          G: true
      Events:
        Any:
          Type: HttpApi
        Api:
          Type: Api
          Properties: {Path: /rest, Method: get}
""")
    fn = Template(path).function("Fn")
    assert fn.timeout_seconds == 20
    assert fn.handler == "app.handler"
    assert fn.code_dir == tmp_path / "src"
    assert fn.environment["A"] == "local"
    assert fn.environment["B"] == "dev"
    assert fn.environment["C"].startswith("dev-")
    assert fn.environment["C"].endswith("-${Literal}")
    assert fn.environment["D"] == "dev/x"
    assert fn.environment["G"] == "true"
    assert set(fn.unresolved) == {"E", "F"}
    assert [r.key for r in fn.routes] == ["$default"]  # REST Api events are not served
    assert Template(path, parameter_overrides={"Stage": "prod"}).function("Fn").environment["B"] == "prod"


def test_missing_template_and_unknown_names_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="template not found"):
        Template(tmp_path / "nope.yaml")
    with pytest.raises(ConfigurationError, match="not a CloudFormation"):
        Template(_write(tmp_path, "Hello: world\n"))
    t = Template(ROOT / "template.yaml")
    with pytest.raises(ConfigurationError, match="MeFunction, ShowsFunction, AuthorizerFunction"):
        t.function("Missing")
    with pytest.raises(ConfigurationError, match="unknown template parameter"):
        Template(ROOT / "template.yaml", parameter_overrides={"Typo": "x"})


def test_parameter_overrides_in_both_sam_spellings() -> None:
    assert parse_overrides(["JwtIssuer=https://a/ JwtAudience='x y'"]) == {
        "JwtIssuer": "https://a/", "JwtAudience": "x y"}
    assert parse_overrides(["ParameterKey=JwtAudience,ParameterValue=api"]) == {"JwtAudience": "api"}
    with pytest.raises(ConfigurationError):
        parse_overrides(["novalue"])
