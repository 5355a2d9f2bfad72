"""Reading SAM templates as SAM does: YAML, Globals, parameters, intrinsic functions, layers, builds."""

from __future__ import annotations

import io
import os
import re
import sys
import zipfile
from pathlib import Path

import pytest

from serverless_jwt.dev._cfn_yaml import yaml_parse
from serverless_jwt.dev.intrinsics import region
from serverless_jwt.dev.runtime import FunctionRunner
from serverless_jwt.dev.template import Template, parse_overrides
from serverless_jwt.errors import ConfigurationError, MissingExtraError

from .conftest import write_template as _write

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


SAM_SPECIFIC = """\
Sub: !Sub |
  line ${A}
    indented
Plain: a plain scalar
  over two lines
Flow: [a,
  !Ref B,
  c]
Answer: yes
Octal: 0755
Date: 2010-09-09
Stamp: 2001-12-14t21:59:43.10-05:00
Merged:
  <<: {x: 1}
  y: 2
"""


@pytest.mark.parametrize("name", ["project", "tricky", "sam_specific", "json"])
def test_template_yaml_is_read_exactly_as_sam_cli_reads_it(name: str) -> None:
    from samcli.yamlhelper import yaml_parse as sam_yaml_parse

    text = {"project": (ROOT / "template.yaml").read_text(), "tricky": TRICKY, "sam_specific": SAM_SPECIFIC,
            "json": '{"Resources": {"A": {"Type": "X", "Properties": {"V": "2010-09-09"}}}}'}[name]
    ours = yaml_parse(text)
    assert ours == sam_yaml_parse(text)


def test_cloudformation_tags_become_their_long_forms_and_yaml_reads_as_pyyaml() -> None:
    doc = yaml_parse(TRICKY + SAM_SPECIFIC)
    assert doc["Sub"] == {"Fn::Sub": "line ${A}\n  indented\n"}
    assert doc["GetAtt"] == {"Fn::GetAtt": ["Fn", "Arn"]}
    assert doc["Join"] == {"Fn::Join": ["", ["a", {"Ref": "B"}]]}
    assert doc["Tagged"] == {"Fn::If": ["Cond", "a", "b"]}
    assert doc["Folded"] == "one two\nthree"
    assert doc["Quote"] == "it's"
    assert doc["Plain"] == "a plain scalar over two lines"
    assert doc["Flow"] == ["a", {"Ref": "B"}, "c"]
    assert (doc["Answer"], doc["Octal"], doc["Date"]) == (True, 493, "2010-09-09")  # YAML 1.1, dates as text
    assert doc["Merged"] == {"x": 1, "y": 2}


def test_project_template_functions_routes_and_environment() -> None:
    # use_build=False: the source folders, also after a `sam build` in the clone (the README's Deploy step).
    t = Template(ROOT / "template.yaml", parameter_overrides={"JwtIssuer": "https://issuer.example/",
                                                              "JwtAudience": "api"}, use_build=False)
    assert set(t.functions) == {"AuthorizerFunction", "MeFunction", "ShowsFunction"}
    me = t.function("MeFunction")
    assert me.handler == "app.handler"
    assert me.code_dir == ROOT / "lambdas" / "me"
    assert me.runtime in ("python3.12", "python3.13")
    assert me.environment["JWT_ISSUER"] == "https://issuer.example/"
    assert me.environment["JWT_AUDIENCE"] == "api"
    assert me.environment["JWT_SECRET"] == ""
    assert [r.key for r in t.routes] == ["GET /me", "GET /shows", "GET /shows/{id}"]


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
    # As sam: an override naming no parameter is ignored (the CLI says so), never an error.
    assert Template(ROOT / "template.yaml", parameter_overrides={"Typo": "x"}).ignored_overrides == ["Typo"]


def test_a_function_is_found_by_its_function_name_too_as_sam_local_invoke_finds_it(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    t = Template(_write(tmp_path, (
        "Parameters:\n  Env: {Type: String, Default: dev}\n"
        "Globals:\n  Function: {CodeUri: src/, Handler: app.handler, Runtime: python3.12}\n"
        "Resources:\n"
        "  Api:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {FunctionName: !Sub 'orders-${Env}'}\n"
        "  Other:\n    Type: AWS::Serverless::Function\n")), parameter_overrides={"Env": "prod"})
    assert t.function("orders-prod").name == "Api"  # `sam local invoke orders-prod`
    assert t.function("Api").name == "Api"
    with pytest.raises(ConfigurationError, match=r"'api' .*\(functions: Api, Other\); did you mean Api\?"):
        t.function("api")
    with pytest.raises(ConfigurationError, match=r"did you mean Api\?"):
        t.function("Orders-Prod")


def test_pseudo_parameters_can_be_overridden_as_sam_allows(tmp_path: Path) -> None:
    doc = ("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
           "    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.12\n"
           "      Environment:\n        Variables:\n"
           "          WHERE: !Sub '${AWS::Region}/${AWS::AccountId}'\n")
    t = Template(_write(tmp_path, doc), parameter_overrides={"AWS::Region": "eu-west-3",
                                                            "AWS::AccountId": "210987654321"})
    assert t.function("Fn").environment["WHERE"] == "eu-west-3/210987654321"
    assert t.ignored_overrides == []


def test_parameter_overrides_in_both_sam_spellings() -> None:
    assert parse_overrides(["JwtIssuer=https://a/ JwtAudience='x y'"]) == {
        "JwtIssuer": "https://a/", "JwtAudience": "x y"}
    assert parse_overrides(["ParameterKey=JwtAudience,ParameterValue=api"]) == {"JwtAudience": "api"}
    with pytest.raises(ConfigurationError):
        parse_overrides(["novalue"])


def test_parameter_overrides_read_backslash_escapes_as_sam_does() -> None:
    # sam's CfnParameterOverridesType: a backslash escapes the next character, in and out of quotes.
    assert parse_overrides([r"""B="q\"r" A='it\'s' C=x\ y"""]) == {"B": 'q"r', "A": "it's", "C": "x y"}


def test_parameter_overrides_from_a_file_as_sam_reads_one(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # `sam local ... --parameter-overrides file://params.yaml`: keys, lists joined, Key=Value strings,
    # $include relative to the including file.
    (tmp_path / "more").mkdir()
    (tmp_path / "params.yaml").write_text("JwtIssuer: https://a/\nScopes: [read, write]\nTier: 3\n"
                                          "$include: file://more/extra.yaml\n")
    (tmp_path / "more" / "extra.yaml").write_text("- JwtAudience=api Stage='prod eu'\n")
    monkeypatch.chdir(tmp_path)
    assert parse_overrides(["file://params.yaml", "Tier=4"]) == {
        "JwtIssuer": "https://a/", "Scopes": "read,write", "Tier": "4", "JwtAudience": "api",
        "Stage": "prod eu"}
    (tmp_path / "loop.yaml").write_text("$include: file://loop.yaml\n")
    (tmp_path / "bad.yaml").write_text("a: [\n")
    (tmp_path / "params.json").write_text('{"A": "1"}')
    for ref, why in [("file://none.yaml", "not found"), ("file://loop.yaml", "includes itself"),
                     ("file://bad.yaml", "is not valid YAML"), ("file://params.json", "sam reads .yaml")]:
        with pytest.raises(ConfigurationError, match=why):
            parse_overrides([ref])
    with pytest.raises(ConfigurationError, match="the text after A= is not"):  # where, not what
        parse_overrides(["A=1 b"])


def test_a_piece_that_is_no_key_value_is_located_without_echoing_it() -> None:
    # An unquoted `JwtSecret=two words` leaves "words" on its own: part of a secret, never printed.
    with pytest.raises(ConfigurationError) as caught:
        parse_overrides(["JwtSecret=sekrit-start sekrit-end"])
    assert "sekrit" not in str(caught.value)
    assert "after JwtSecret=" in str(caught.value)
    with pytest.raises(ConfigurationError, match="piece 1 is not"):
        parse_overrides(["sekrit"])


def test_a_parameters_file_is_read_as_yaml_1_2_as_sam_reads_it(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # sam reads it with ruamel.yaml (YAML 1.2), not YAML 1.1: yes/on stay words, 1:30 no sexagesimal,
    # 010 no octal; then it takes one pair of wrapping quotes off each key and value.
    (tmp_path / "params.yaml").write_text(
        "Flag: yes\nMode: on\nWindow: 1:30\nTime: 10:30:00\nOctal: 010\nNo: 1\nQuoted: \"'q'\"\n"
        "Bool: true\nEmpty:\n$include: file://inner.yaml\n")
    # Each level of files and $include takes quotes off again, as sam does.
    (tmp_path / "inner.yaml").write_text("Twice: \"\\\"'w'\\\"\"\n")
    monkeypatch.chdir(tmp_path)
    assert parse_overrides(["file://params.yaml"]) == {
        "Flag": "yes", "Mode": "on", "Window": "1:30", "Time": "10:30:00", "Octal": "10", "No": "1",
        "Quoted": "q", "Bool": "True", "Empty": "", "Twice": "w"}


def test_an_include_cycle_names_every_file_of_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, target in [("a", "b"), ("b", "c"), ("c", "a")]:
        (tmp_path / f"{name}.yaml").write_text(f"$include: file://{target}.yaml\n{name.upper()}: 1\n")
    monkeypatch.chdir(tmp_path)
    cycle = "file://a.yaml -> file://b.yaml -> file://c.yaml -> file://a.yaml: a file includes itself"
    with pytest.raises(ConfigurationError, match=re.escape(cycle)):
        parse_overrides(["file://a.yaml"])


def test_a_parameters_file_of_yaml_aliases_is_refused_not_walked(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # 9 levels of 10 aliases: 10**9 values from a few hundred bytes (sam would walk them for hours).
    lines = ["- &a0 [" + ",".join(["A=1"] * 10) + "]"]
    lines += [f"- &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    # The same file included twice by each of a chain of files grows as fast.
    for i in range(30):
        (tmp_path / f"twice{i}.yaml").write_text(f"- file://twice{i + 1}.yaml\n- file://twice{i + 1}.yaml\n")
    (tmp_path / "twice30.yaml").write_text("A: 1\n")
    monkeypatch.chdir(tmp_path)
    for ref in ("file://bomb.yaml", "file://twice0.yaml"):
        with pytest.raises(ConfigurationError, match="more than 10000 values"):
            parse_overrides([ref])


def test_globals_merge_as_the_sam_translator_merges(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    MemorySize: 512
    Layers: [!Ref Shared]
    Environment: {Variables: {A: global, B: global}}
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: shared/}
  Own:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: own/}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      MemorySize: 1024
      Layers: [!Ref Own, arn:aws:lambda:us-east-1:123456789012:layer:remote:3]
      Environment: {Variables: {B: local}}
  Bare:
    Type: AWS::Serverless::Function
    IgnoreGlobals: [Layers]
    Properties: {CodeUri: src/}
""")
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "requirements.txt").write_text("tinydep\n")
    t = Template(path)
    fn = t.function("Fn")
    assert fn.memory_mb == 1024
    assert fn.environment == {"A": "global", "B": "local"}
    assert [layer.name for layer in fn.layers] == ["Shared", "Own"]  # lists concatenate, globals first
    assert fn.external_layers == ("arn:aws:lambda:us-east-1:123456789012:layer:remote:3",)
    assert fn.requirements == (tmp_path / "own" / "requirements.txt",)
    assert t.function("Bare").layers == ()
    assert t.function("Bare").memory_mb == 512
    assert t.properties("Fn")["Runtime"] == "python3.12"  # any resource, merged the same way
    assert t.properties("Shared") == {"ContentUri": "shared/"}


def test_intrinsics_sam_cli_cannot_resolve_are_reported_never_guessed(tmp_path: Path) -> None:
    base = """\
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Runtime: python3.12
      Handler: %s
      Environment:
        Variables:
          ARN: !GetAtt Fn.Arn
          NAME: !Ref Fn
          TABLE: !Ref Table
          STREAM: !GetAtt Table.StreamArn
          IMPORTED: !ImportValue shared-thing
          SUBBED: !Sub "${Fn.Arn}/x"
"""
    fn = Template(_write(tmp_path, base % "app.handler")).function("Fn")
    assert fn.environment["ARN"] == fn.arn
    assert fn.environment["ARN"].endswith(":123456789012:function:Fn")
    assert fn.environment["NAME"] == "Fn"
    assert fn.environment["SUBBED"] == fn.arn + "/x"
    assert set(fn.unresolved) == {"TABLE", "STREAM", "IMPORTED"}
    assert "exists only once deployed" in fn.unresolved_reasons["TABLE"]
    assert "Fn::ImportValue is not resolved locally" in fn.unresolved_reasons["IMPORTED"]
    with pytest.raises(ConfigurationError, match=r"Fn.Handler: Fn::ImportValue is not resolved locally"):
        Template(_write(tmp_path, base % "!ImportValue handler-name"))


def test_sam_build_artifacts_are_used_and_a_stale_build_is_flagged(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
Resources:
  Lib:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: lib/}
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Runtime: python3.12, Handler: app.handler, Layers: [!Ref Lib]}
""")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(e, c): return 1\n")
    (tmp_path / "src" / "requirements.txt").write_text("tinydep\n")
    assert Template(path).function("Fn").code_dir == tmp_path / "src"
    build = tmp_path / ".aws-sam" / "build"
    (build / "Fn").mkdir(parents=True)
    (build / "Lib" / "python").mkdir(parents=True)
    (build / "template.yaml").write_text("Resources: {}\n")
    fn = Template(path).function("Fn")
    assert (fn.code_dir, fn.source_dir, fn.stale_build) == (build / "Fn", tmp_path / "src", False)
    assert fn.requirements == ()  # sam build installed them into the artifact
    assert fn.layers[0].python_dirs == (build / "Lib" / "python",)
    assert Template(path, use_build=False).function("Fn").layers[0].python_dirs == ()  # no lib/python
    future = (build / "template.yaml").stat().st_mtime + 10
    os.utime(tmp_path / "src" / "app.py", (future, future))
    assert Template(path).function("Fn").stale_build
    assert Template(path, use_build=False).function("Fn").code_dir == tmp_path / "src"


def test_a_layer_edited_since_sam_build_flags_the_build_of_each_function_using_it(tmp_path: Path) -> None:
    # The sample's library is a layer (lib/): editing it after `sam build` leaves the built copy running.
    path = _write(tmp_path, """\
Resources:
  Lib:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: lib/}
    Metadata: {BuildMethod: python3.12}
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Runtime: python3.12, Handler: app.handler, Layers: [!Ref Lib]}
""")
    for folder, module in (("src", "app.py"), ("lib", "shared.py")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / module).write_text("X = 1\n")
    build = tmp_path / ".aws-sam" / "build"
    (build / "Fn").mkdir(parents=True)
    (build / "Lib" / "python").mkdir(parents=True)
    (build / "template.yaml").write_text("Resources: {}\n")
    assert not Template(path).function("Fn").stale_build
    future = (build / "template.yaml").stat().st_mtime + 10
    os.utime(tmp_path / "lib" / "shared.py", (future, future))
    fn = Template(path).function("Fn")
    assert (fn.stale_build, fn.stale_sources) == (True, (tmp_path / "lib",))
    assert not Template(path, use_build=False).function("Fn").stale_build  # unbuilt: runs lib/ itself


def test_mappings_and_conditions_of_the_template_drive_find_in_map_and_fn_if(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    path = _write(tmp_path, """\
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
Mappings:
  Stages:
    dev: {Issuer: "https://dev.example/", Zone: 1}
    prod: {Issuer: "https://prod.example/", Zone: 2}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsDev: !Not [!Condition IsProd]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Timeout: !If [IsProd, 30, 10]
      Environment:
        Variables:
          JWT_ISSUER: !FindInMap [Stages, !Ref Stage, Issuer]
          ZONE: !Select [!FindInMap [Stages, !Ref Stage, Zone], !GetAZs ""]
          MODE: !If [IsDev, debug, quiet]
""")
    dev = Template(path).function("Fn")
    assert (dev.environment["JWT_ISSUER"], dev.environment["MODE"]) == ("https://dev.example/", "debug")
    assert (dev.timeout_seconds, dev.environment["ZONE"]) == (10, "us-east-1b")
    assert dev.unresolved == ()
    prod = Template(path, parameter_overrides={"Stage": "prod"}).function("Fn")
    assert (prod.environment["JWT_ISSUER"], prod.environment["MODE"]) == ("https://prod.example/", "quiet")
    assert (prod.timeout_seconds, prod.environment["ZONE"]) == (30, "us-east-1c")


def test_variables_sam_local_cannot_pass_as_text_are_empty_with_the_reason(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
Parameters:
  Names: {Type: CommaDelimitedList, Default: "a,b"}
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          TABLE: !GetAtt Table.Arn
          EMPTY:
          NONE: !Ref AWS::NoValue
          LIST: !Ref Names
          MAP: {a: 1}
          FLAG: true
          NUMBER: 1.5
""")
    fn = Template(path).function("Fn")
    assert fn.environment == {"TABLE": "", "EMPTY": "", "NONE": "", "LIST": "", "MAP": "", "FLAG": "true",
                              "NUMBER": "1.5"}
    assert fn.unresolved_reasons == {
        "TABLE": "Fn::GetAtt Table.Arn exists only once deployed",
        "EMPTY": 'its value is null (or AWS::NoValue, which leaves the variable out once deployed), '
                 'which sam local passes as ""',
        "NONE": 'its value is null (or AWS::NoValue, which leaves the variable out once deployed), '
                'which sam local passes as ""',
        "LIST": 'its value is a list, which sam local passes as ""',
        "MAP": 'its value is a mapping, which sam local passes as ""',
    }


# Every intrinsic SAM CLI resolves, and its failures (unknown condition, AWS::NoValue in Fn::If, an index
# out of range, Split of a number...): each variable must reach the function as it does under sam local.
SAM_DIFFERENTIAL = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
  Names: {Type: CommaDelimitedList, Default: "x, y,z"}
  Count: {Type: String, Default: "1"}
Mappings:
  Stages:
    dev: {Url: "https://dev.example", Size: 3, Zones: [a, b]}
    prod: {Url: "https://prod.example", Size: 5, Zones: [c]}
Conditions:
  IsDev: !Equals [!Ref Stage, dev]
  IsProd: !Equals [prod, !Ref Stage]
  NotDev: !Not [!Condition IsDev]
  Both: !And [!Condition IsDev, !Equals [!FindInMap [Stages, !Ref Stage, Url], "https://dev.example"]]
  Either: !Or [!Condition IsProd, !Condition NotDev, !Equals [a, a]]
  CycleA: !Not [!Condition CycleB]
  CycleB: !Not [!Condition CycleA]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          REF: !Ref Stage
          SUB: !Sub "${Stage}-${AWS::AccountId}"
          JOIN: !Join [",", [!Ref Stage, b]]
          SELECT: !Select [1, [a, b, c]]
          SELECT_LIST_PARAMETER: !Select [2, !Ref Names]
          SELECT_OUT_OF_RANGE: !Select [3, [a, b]]
          SELECT_NEGATIVE: !Select [-1, [a, b]]
          SELECT_NOT_A_LIST: !Select [0, abc]
          SPLIT_THEN_SELECT: !Select [1, !Split ["/", "a/b/c"]]
          SPLIT_A_NUMBER: !Split [",", 5]
          SPLIT_LIST: !Split ["|", "a|b"]
          BASE64: !Base64 "user:pw"
          BASE64_OF_SUB: !Base64 {"Fn::Sub": "${Stage}!"}
          FIND_IN_MAP: !FindInMap [Stages, !Ref Stage, Url]
          FIND_IN_MAP_NUMBER: !FindInMap [Stages, dev, Size]
          FIND_IN_MAP_LIST: !FindInMap [Stages, dev, Zones]
          FIND_IN_MAP_MISSING: !FindInMap [Stages, test, Url]
          FIND_IN_MAP_NO_MAP: !FindInMap [Nope, dev, Url]
          AZ: !Select [0, !GetAZs ""]
          AZ_NAMED: !Select [1, !GetAZs eu-west-1]
          AZ_OF_REGION: !Select [0, !GetAZs {Ref: "AWS::Region"}]
          AZ_LIST: !GetAZs us-east-2
          AZ_UNKNOWN: !GetAZs mars-1
          IF_DEV: !If [IsDev, enabled, disabled]
          IF_PROD: !If [IsProd, enabled, disabled]
          IF_NOT: !If [NotDev, enabled, disabled]
          IF_AND: !If [Both, enabled, disabled]
          IF_OR: !If [Either, enabled, disabled]
          IF_NESTED: !If [IsDev, !Sub "${Stage}-x", disabled]
          IF_NO_VALUE: !If [Either, !Ref AWS::NoValue, disabled]
          IF_UNKNOWN_CONDITION: !If [Missing, enabled, disabled]
          IF_CYCLE: !If [CycleA, enabled, disabled]
          IF_WRONG_SHAPE: !If [IsDev, enabled]
          EQUALS: !Equals [a, a]
          IMPORT: !ImportValue shared
          CIDR: !Select [0, !Cidr ["10.0.0.0/16", 2, 8]]
          NO_VALUE: !Ref AWS::NoValue
          JOIN_MAPPING: !Join [",", [{a: b}, c]]
          JOIN_LIST: !Join [",", [[a, b], c]]
          JOIN_NUMBER_DELIMITER: !Join [5, [a, b]]
          SUB_MAPPING: !Sub ["${X}", {X: {a: b}}]
          SUB_LIST: !Sub ["${X}", {X: [a, b]}]
          STACK_NAME: !Ref AWS::StackName
          STACK_ID: !Ref AWS::StackId
          URL_SUFFIX: !Ref AWS::URLSuffix
          PARTITION: !Ref AWS::Partition
          ACCOUNT: !Ref AWS::AccountId
          EMPTY:
          BOOLEAN: false
          NUMBER: 7
          MAPPING: {a: b}
"""


def _sam_environment(text: str, overrides: dict[str, str]) -> dict[str, str]:
    """The variables ``sam local`` gives function Fn: SAM CLI's resolver, then its env_vars.py."""
    sam_base_provider = pytest.importorskip("samcli.lib.providers.sam_base_provider")
    env_vars = pytest.importorskip("samcli.local.lambdafn.env_vars")
    resolved = sam_base_provider.SamBaseProvider.get_template(yaml_parse(text), dict(overrides))
    variables = resolved["Resources"]["Fn"]["Properties"]["Environment"]["Variables"]
    everything = env_vars.EnvironmentVariables(function_memory=128, function_timeout=3,
                                               function_handler="app.handler", variables=variables).resolve()
    return {name: everything[name] for name in variables}


@pytest.mark.parametrize("overrides", [{}, {"Stage": "prod"}])
def test_environment_matches_sam_clis_own_resolver_on_every_intrinsic(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: dict[str, str]) -> None:
    # SAM CLI's AWS::Region is us-east-1 unless overridden; ours reads AWS_REGION: the same here.
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    ours = Template(_write(tmp_path, SAM_DIFFERENTIAL), parameter_overrides=overrides).function("Fn")
    assert ours.environment == _sam_environment(SAM_DIFFERENTIAL, overrides)
    expected = ("disabled", "enabled") if overrides else ("enabled", "disabled")
    assert (ours.environment["IF_DEV"], ours.environment["IF_PROD"]) == expected
    assert set(ours.unresolved_reasons) == {k for k, v in ours.environment.items() if v == ""}


def test_where_cloudformation_and_sam_cli_differ_the_value_is_cloudformations(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SAM CLI's resolver refuses an index written as text, compares a Number default as a number, and
    # refuses a whole Fn::If when either value is AWS::NoValue; CloudFormation (what the deployed
    # function sees) takes "1" as an index, compares values as text and reads only the value it picks.
    # Shown against SAM's resolver so that a change on either side is noticed.
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    text = """\
Parameters:
  Index: {Type: String, Default: "1"}
  Size: {Type: Number, Default: 3}
Conditions:
  Three: !Equals [!Ref Size, "3"]
  Never: !Equals [a, b]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          PICKED: !Select [!Ref Index, [a, b]]
          THREE: !If [Three, three, other]
          KEPT: !If [Never, !Ref AWS::NoValue, kept]
"""
    ours = Template(_write(tmp_path, text)).function("Fn").environment
    assert ours == {"PICKED": "b", "THREE": "three", "KEPT": "kept"}
    assert _sam_environment(text, {}) == {"PICKED": "", "THREE": "other", "KEPT": ""}


def test_lambda_functions_are_read_as_sam_local_reads_them(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Globals:
  Function:
    Timeout: 9
    Environment: {Variables: {FROM_GLOBALS: x}}
Resources:
  Shared:
    Type: AWS::Lambda::LayerVersion
    Properties: {Content: shared/}
  Remote:
    Type: AWS::Lambda::LayerVersion
    Properties: {Content: {S3Bucket: bucket, S3Key: layer.zip}}
  Raw:
    Type: AWS::Lambda::Function
    Properties:
      Code: src/
      Handler: app.handler
      Runtime: python3.12
      MemorySize: 256
      Architectures: [arm64]
      FunctionName: !Sub "${Stage}-raw"
      Layers: [!Ref Shared, !Ref Remote]
      Environment: {Variables: {STAGE: !Ref Stage}}
  Inline:
    Type: AWS::Lambda::Function
    Properties:
      Handler: index.handler
      Runtime: python3.12
      Code:
        ZipFile: |
          def handler(event, context):
              return 1
  SamInline:
    Type: AWS::Serverless::Function
    Properties: {InlineCode: "def handler(e, c): return 1", Handler: index.handler, Runtime: python3.12}
  InS3:
    Type: AWS::Lambda::Function
    Properties: {Code: {S3Bucket: bucket, S3Key: code.zip}, Handler: app.handler, Runtime: python3.12}
  SamInS3:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: s3://bucket/code.zip, Handler: app.handler, Runtime: python3.12}
""")
    (tmp_path / "requirements.txt").write_text("not-for-inline-functions\n")
    t = Template(path)
    assert list(t.functions) == ["Raw", "Inline", "SamInline"]
    raw = t.function("Raw")
    assert (raw.code_dir, raw.handler, raw.runtime, raw.memory_mb) == (tmp_path / "src", "app.handler",
                                                                        "python3.12", 256)
    assert raw.timeout_seconds == 3  # Globals are for AWS::Serverless::* resources only
    assert raw.environment == {"STAGE": "dev"}
    assert (raw.architecture, raw.function_name, raw.inline_code) == ("arm64", "dev-raw", False)
    assert [layer.content_dir for layer in raw.layers] == [tmp_path / "shared"]
    assert raw.external_layers == (f"arn:aws:lambda:{region()}:123456789012:layer:Remote:1",)
    for name in ("Inline", "SamInline"):
        inline = t.function(name)
        assert inline.inline_code
        assert (inline.source_dir, inline.requirements, inline.watched_dirs) == (None, (), ())
    for name in ("InS3", "SamInS3"):
        with pytest.raises(ConfigurationError, match=f"{name}'s code is in S3, which sam local does not"):
            t.function(name)


def test_sam_cli_finds_the_same_functions_in_a_template_of_both_types(tmp_path: Path) -> None:
    provider = pytest.importorskip("samcli.lib.providers.sam_function_provider")
    stack_provider = pytest.importorskip("samcli.lib.providers.sam_stack_provider")
    path = _write(tmp_path, """\
Resources:
  Raw:
    Type: AWS::Lambda::Function
    Properties: {Code: src/, Handler: app.handler, Runtime: python3.12}
  Inline:
    Type: AWS::Lambda::Function
    Properties: {Code: {ZipFile: "x = 1"}, Handler: index.handler, Runtime: python3.12}
  InS3:
    Type: AWS::Lambda::Function
    Properties: {Code: {S3Bucket: b, S3Key: k}, Handler: app.handler, Runtime: python3.12}
  Sam:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12}
""")
    stacks, _ = stack_provider.SamLocalStackProvider.get_stacks(str(path))
    sams = {f.name: f for f in provider.SamFunctionProvider(stacks).get_all()}
    ours = Template(path).functions
    assert set(ours) == set(sams) == {"Raw", "Inline", "Sam"}
    assert {n: f.inline_code for n, f in ours.items()} == {n: bool(f.inlinecode) for n, f in sams.items()}
    assert ours["Raw"].code_dir == Path(sams["Raw"].codeuri)


def test_functions_and_layers_sam_local_does_not_run_leave_the_others_runnable(tmp_path: Path) -> None:
    # A container-image function or a layer in S3 beside zip functions: sam local skips them with a
    # warning, and every other function still runs.
    (tmp_path / "src").mkdir()
    template = Template(_write(tmp_path, """\
Resources:
  Good:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12, Layers: [!Ref Remote]}
  Img:
    Type: AWS::Lambda::Function
    Properties: {PackageType: Image, Code: {ImageUri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/r:t}}
  Remote:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: s3://bucket/layer.zip}
"""))
    assert list(template.functions) == ["Good"]
    assert template.layers == {}
    with pytest.raises(ConfigurationError, match=r"container image \(PackageType Image\)"):
        template.function("Img")


def test_a_function_without_a_handler_is_refused_as_sam_refuses_it(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with pytest.raises(ConfigurationError, match="Raw: no Handler"):
        Template(_write(tmp_path, """\
Resources:
  Raw:
    Type: AWS::Lambda::Function
    Properties: {Code: src/, Runtime: python3.12}
"""))


def test_a_nested_parameter_default_is_refused_before_it_is_walked(tmp_path: Path) -> None:
    # Aliases nested in aliases: a few hundred bytes that would expand to billions of values.
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"] + [
        f"{b}: &{b} [{', '.join(['*' + a] * 10)}]" for a, b in zip("abcdefg", "bcdefgh", strict=True)]
    text = "Metadata:\n" + "".join(f"  {line}\n" for line in levels) + \
        "Parameters:\n  P: {Type: String, Default: *h}\nResources: {}\n"
    with pytest.raises(ConfigurationError, match=r"Parameters.P.Default must be text"):
        Template(_write(tmp_path, text))
    flat = Template(_write(tmp_path, "Parameters:\n  P: {Type: CommaDelimitedList, Default: [a, b]}\n"
                                     "Resources: {}\n"))
    assert flat.parameters["P"] == ["a", "b"]


def test_a_template_sam_build_wrote_mounts_its_built_layers_python_folder(tmp_path: Path) -> None:
    # `sam build` copies the template to .aws-sam/build/template.yaml with each ContentUri pointing at the
    # artifact (which holds python/) and the source's Metadata kept, plus SamResourceId on every resource.
    build = tmp_path / ".aws-sam" / "build"
    (build / "Lib" / "python" / "dep").mkdir(parents=True)
    (build / "Fn").mkdir()
    (build / "Fn" / "app.py").write_text("def handler(e, c): return 1\n")
    path = _write(build, """\
Resources:
  Lib:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: Lib}
    Metadata: {BuildMethod: python3.12, SamResourceId: Lib}
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: Fn, Runtime: python3.12, Handler: app.handler, Layers: [!Ref Lib]}
    Metadata: {SamResourceId: Fn}
""")
    layer = Template(path).function("Fn").layers[0]
    assert layer.python_dirs == (build / "Lib" / "python",)
    assert layer.requirements is None


def test_a_zip_code_uri_runs_unpacked_as_sam_local_runs_it(tmp_path: Path) -> None:
    # sam local invoke unpacks a .zip CodeUri (samcli/local/lambdafn/runtime.py: _unzip_file) and runs it.
    with zipfile.ZipFile(tmp_path / "fn.zip", "w") as zipped:
        zipped.writestr(
            "app.py", "import os\n\ndef handler(e, c):\n    return os.environ['LAMBDA_TASK_ROOT']\n")
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: fn.zip, Handler: app.handler, Runtime: python3.12}\n")
    function = Template(tmp_path / "template.yaml").function("Fn")
    assert function.code_dir.is_dir()
    assert (function.code_dir / "app.py").is_file()
    runner = FunctionRunner(function, log_stream=io.StringIO())
    assert runner.invoke({}) == str(function.code_dir)
    runner.close()


def test_a_layer_chosen_by_if_is_the_local_layer_the_condition_picks(tmp_path: Path) -> None:
    text = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  UseB: {Type: String, Default: "no"}
Conditions:
  IsB: !Equals [!Ref UseB, "yes"]
Resources:
  A: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: a/}}
  B: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: b/}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Runtime: python3.12
      Handler: app.handler
      Layers:
        - !If [IsB, !Ref B, !Ref A]
        - !If [IsB, !Ref A, !Ref AWS::NoValue]
  Whole:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Runtime: python3.12
      Handler: app.handler
      Layers: !If [IsB, [!Ref B], [!Ref A, arn:aws:lambda:us-east-1:123456789012:layer:remote:3]]
"""
    path = _write(tmp_path, text)
    fn = Template(path).function("Fn")
    assert ([layer.name for layer in fn.layers], fn.external_layers) == (["A"], ())
    picked_b = Template(path, parameter_overrides={"UseB": "yes"}).function("Fn")
    assert [layer.name for layer in picked_b.layers] == ["B", "A"]
    whole = Template(path).function("Whole")
    assert ([layer.name for layer in whole.layers], whole.external_layers) == (
        ["A"], ("arn:aws:lambda:us-east-1:123456789012:layer:remote:3",))


def test_fn_foreach_of_the_language_extensions_transform_is_expanded_into_functions(tmp_path: Path) -> None:
    # SAM CLI's own start-api test template (language-extensions-api), names from a parameter here.
    path = _write(tmp_path, """\
Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
Parameters:
  Names: {Type: CommaDelimitedList, Default: "users,orders"}
Globals:
  Function: {Runtime: python3.12}
Resources:
  Fn::ForEach::Endpoints:
    - Endpoint
    - !Ref Names
    - ${Endpoint}Function:
        Type: AWS::Serverless::Function
        Properties:
          Handler: main.handler
          CodeUri: endpoints/${Endpoint}/
          Environment: {Variables: {ENDPOINT_NAME: !Sub "${Endpoint}"}}
          Events:
            Api: {Type: Api, Properties: {Path: !Sub "/${Endpoint}", Method: get}}
""")
    t = Template(path)
    assert sorted(t.functions) == ["ordersFunction", "usersFunction"]
    users = t.function("usersFunction")
    assert (users.code_dir, users.environment, users.runtime) == (
        tmp_path / "endpoints" / "users", {"ENDPOINT_NAME": "users"}, "python3.12")
    overridden = Template(path, parameter_overrides={"Names": "products"})
    assert list(overridden.functions) == ["productsFunction"]


def test_layers_given_by_a_list_parameter_are_named_one_by_one(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  LayerArns:
    Type: CommaDelimitedList
    Default: "arn:aws:lambda:us-east-1:123456789012:layer:a:1,arn:aws:lambda:us-east-1:123456789012:layer:b:2"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12, Layers: !Ref LayerArns}
""")
    fn = Template(path).function("Fn")
    assert (fn.layers, fn.external_layers) == ((), ("arn:aws:lambda:us-east-1:123456789012:layer:a:1",
                                                   "arn:aws:lambda:us-east-1:123456789012:layer:b:2"))


def test_fn_foreach_leaves_every_other_intrinsic_to_the_local_resolver(tmp_path: Path) -> None:
    # SAM CLI's expansion, run whole, also resolves Fn::Sub and drops the Fn::Sub of what it cannot
    # resolve: "${AWS::Region}" and "${Table}" reached the function as that text, unreported.
    path = _write(tmp_path, """\
Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Fn::ForEach::Fns:
    - Name
    - [A, B]
    - ${Name}Function:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: src/
          Handler: app.handler
          Runtime: python3.12
          Environment:
            Variables:
              REGION: !Sub "${AWS::Region}-${Name}"
              TABLE: !Sub "${Table}"
              SELF: !Sub "${${Name}Function.Arn}"
""")
    fn = Template(path).function("AFunction")
    assert fn.environment["REGION"] == f"{region()}-A"
    assert fn.environment["SELF"] == fn.arn
    assert fn.environment["TABLE"] == ""
    assert "exists only once deployed" in fn.unresolved_reasons["TABLE"]


def test_a_parameters_file_without_sam_cli_installed_names_the_extra(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # The file is read by sam's own reader, imported only then: the package imports without aws-sam-cli.
    (tmp_path / "params.yaml").write_text("A: 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "samcli.lib.config.file_manager", None)
    with pytest.raises(MissingExtraError, match="local"):
        parse_overrides(["file://params.yaml"])
    assert parse_overrides(["A=1"]) == {"A": "1"}
