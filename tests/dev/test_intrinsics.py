"""Intrinsic functions evaluated as SAM CLI evaluates them locally, or refused with the reason."""

from __future__ import annotations

import sys

import pytest

from serverless_jwt.dev.intrinsics import Intrinsics, Unresolvable

RESOURCES = {
    "Fn": {"Type": "AWS::Serverless::Function"},
    "Raw": {"Type": "AWS::Lambda::Function"},
    "Lib": {"Type": "AWS::Serverless::LayerVersion"},
    "RawLib": {"Type": "AWS::Lambda::LayerVersion"},
    "Table": {"Type": "AWS::DynamoDB::Table"},
}
MAPPINGS = {
    "Stages": {"dev": {"Url": "https://dev.example", "Zones": ["a", "b"], "Size": 3}},
    "Accounts": {123456789012: {"Name": "sandbox"}},  # YAML reads an unquoted account id as a number
}
CONDITIONS = {
    "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
    "IsProd": {"Fn::Equals": ["prod", {"Ref": "Stage"}]},
    "NotDev": {"Fn::Not": [{"Condition": "IsDev"}]},
    "DevAndSmall": {"Fn::And": [{"Condition": "IsDev"},
                                {"Fn::Equals": [{"Fn::FindInMap": ["Stages", "dev", "Size"]}, 3]}]},
    "ProdOrDev": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "IsDev"}]},
    "Alias": {"Condition": "IsDev"},
    "CycleA": {"Fn::Not": [{"Condition": "CycleB"}]},
    "CycleB": {"Fn::And": [{"Condition": "IsDev"}, {"Condition": "CycleA"}]},
    "Lonely": {"Fn::And": [{"Condition": "IsDev"}]},
    "Literal": True,
    "Broken": {"Fn::Equals": [{"Fn::ImportValue": "x"}, "y"]},
}


@pytest.fixture
def intrinsics(monkeypatch: pytest.MonkeyPatch) -> Intrinsics:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    parameters = {"Stage": "dev", "Names": ["a", "b"], "Index": "1"}
    return Intrinsics(parameters, {*parameters, "Secret"}, RESOURCES, mappings=MAPPINGS,
                      conditions=CONDITIONS)


@pytest.mark.parametrize(("value", "expected"), [
    ({"Ref": "Stage"}, "dev"),
    ({"Ref": "AWS::Region"}, "eu-west-3"),
    ({"Ref": "AWS::AccountId"}, "123456789012"),
    ({"Ref": "AWS::NoValue"}, None),
    ({"Ref": "Fn"}, "Fn"),
    ({"Ref": "Raw"}, "Raw"),
    ({"Ref": "Lib"}, "arn:aws:lambda:eu-west-3:123456789012:layer:Lib:1"),
    ({"Ref": "RawLib"}, "arn:aws:lambda:eu-west-3:123456789012:layer:RawLib:1"),
    ({"Fn::GetAtt": ["Fn", "Arn"]}, "arn:aws:lambda:eu-west-3:123456789012:function:Fn"),
    ({"Fn::GetAtt": "Raw.Arn"}, "arn:aws:lambda:eu-west-3:123456789012:function:Raw"),
    ({"Fn::Sub": "${Stage}-${AWS::Region}-${!Literal}"}, "dev-eu-west-3-${Literal}"),
    ({"Fn::Sub": ["${X}/${Fn.Arn}", {"X": {"Ref": "Stage"}}]},
     "dev/arn:aws:lambda:eu-west-3:123456789012:function:Fn"),
    ({"Fn::Join": ["/", [{"Ref": "Stage"}, "x", 7, {"Ref": "AWS::NoValue"}]]}, "dev/x/7"),
    ({"Nested": [{"Ref": "Stage"}, {"k": {"Ref": "Stage"}, "other": 1}]},
     {"Nested": ["dev", {"k": "dev", "other": 1}]}),
    ({"Fn::Select": [1, ["x", "y", "z"]]}, "y"),
    ({"Fn::Select": [{"Ref": "Index"}, {"Ref": "Names"}]}, "b"),  # CloudFormation takes the index as text
    ({"Fn::Split": ["|", "a|b||c"]}, ["a", "b", "", "c"]),
    ({"Fn::Select": [2, {"Fn::Split": [",", {"Fn::Sub": "${Stage},x,y"}]}]}, "y"),
    ({"Fn::Base64": {"Fn::Sub": "${Stage}:pw"}}, "ZGV2OnB3"),
    ({"Fn::FindInMap": ["Stages", {"Ref": "Stage"}, "Url"]}, "https://dev.example"),
    ({"Fn::FindInMap": ["Stages", "dev", "Zones"]}, ["a", "b"]),
    ({"Fn::FindInMap": ["Accounts", {"Ref": "AWS::AccountId"}, "Name"]}, "sandbox"),
    ({"Fn::Select": [0, {"Fn::GetAZs": ""}]}, "eu-west-3a"),  # "" is the local region
    ({"Fn::GetAZs": {"Ref": "AWS::Region"}}, ["eu-west-3a", "eu-west-3b", "eu-west-3c"]),
    ({"Fn::GetAZs": "us-west-1"}, ["us-west-1b", "us-west-1c"]),
    ({"Fn::If": ["IsDev", "yes", "no"]}, "yes"),
    ({"Fn::If": ["IsProd", "yes", "no"]}, "no"),
    ({"Fn::If": ["NotDev", "yes", "no"]}, "no"),
    ({"Fn::If": ["DevAndSmall", "yes", "no"]}, "yes"),
    ({"Fn::If": ["ProdOrDev", "yes", "no"]}, "yes"),
    ({"Fn::If": ["Alias", "yes", "no"]}, "yes"),
    ({"Fn::If": ["IsDev", {"Ref": "AWS::NoValue"}, "x"]}, None),
    ({"Fn::If": ["IsDev", {"Fn::Sub": "${Stage}-on"}, "off"]}, "dev-on"),
    ({"Fn::Equals": [{"Ref": "Stage"}, "dev"]}, True),  # SAM CLI evaluates a condition function anywhere
    ({"Fn::Not": [{"Fn::Equals": ["1", 1]}]}, False),  # CloudFormation compares values as text
])
def test_what_sam_cli_resolves_locally(intrinsics: Intrinsics, value: object, expected: object) -> None:
    assert intrinsics.eval(value) == expected


def test_fn_if_evaluates_only_the_value_it_chooses(intrinsics: Intrinsics) -> None:
    # As CloudFormation: the branch not taken may name what the condition leaves out.
    chosen = {"Fn::If": ["IsDev", "local", {"Fn::GetAtt": ["Table", "Arn"]}]}
    assert intrinsics.eval(chosen) == "local"
    with pytest.raises(Unresolvable, match=r"Table\.Arn exists only once deployed"):
        intrinsics.eval({"Fn::If": ["IsProd", "local", {"Fn::GetAtt": ["Table", "Arn"]}]})


@pytest.mark.parametrize(("value", "reason"), [
    ({"Ref": "Table"}, "Ref Table (AWS::DynamoDB::Table) exists only once deployed"),
    ({"Ref": "Secret"}, "parameter Secret has no Default and no --parameter-overrides value"),
    ({"Ref": "Nope"}, "Ref Nope: no such parameter or resource"),
    ({"Fn::GetAtt": ["Table", "StreamArn"]}, "Fn::GetAtt Table.StreamArn exists only once deployed"),
    ({"Fn::Sub": "${Table.Arn}"}, "Fn::GetAtt Table.Arn exists only once deployed"),
    ({"Fn::ImportValue": "x"}, "Fn::ImportValue is not resolved locally: it reads another stack's export"),
    ({"Fn::Cidr": ["10.0.0.0/16", 2, 8]}, "Fn::Cidr is not resolved locally (nor by sam local)"),
    ({"Fn::Transform": {"Name": "AWS::Include"}}, "Fn::Transform runs a macro, which is not run locally"),
    ({"Fn::Length": [1, 2]}, "Fn::Length is not resolved locally by serverless-jwt"),
    ({"Condition": "IsDev"}, "{Condition: name} is read only inside Conditions, Fn::Not, Fn::And and"),
    ({"Fn::Select": [3, ["a", "b"]]}, "Fn::Select: index 3 is out of range for a list of 2"),
    ({"Fn::Select": [-1, ["a", "b"]]}, "Fn::Select: index -1 is out of range for a list of 2"),
    ({"Fn::Select": ["first", ["a"]]}, "Fn::Select: the index must be a whole number"),
    ({"Fn::Select": [True, ["a", "b"]]}, "Fn::Select: the index must be a whole number"),
    ({"Fn::Select": [0, "a,b"]}, "Fn::Select: the values must be a list, not text"),
    ({"Fn::Select": [0]}, "Fn::Select takes [index, [values]]"),
    ({"Fn::Split": [",", ["a", "b"]]}, "Fn::Split: the value to split must be text, not a list"),
    ({"Fn::Split": [",", 5]}, "Fn::Split: the value to split must be text, not a number"),
    ({"Fn::Split": ["", "ab"]}, "Fn::Split: the delimiter must be non-empty text"),
    ({"Fn::Split": ","}, "Fn::Split takes [delimiter, text]"),
    ({"Fn::Base64": {"Ref": "Names"}}, "Fn::Base64 encodes text, not a list"),
    ({"Fn::FindInMap": ["Nope", "dev", "Url"]}, "Fn::FindInMap: Mappings has no key 'Nope'"),
    ({"Fn::FindInMap": ["Stages", "prod", "Url"]}, "Fn::FindInMap: Stages has no key 'prod'"),
    ({"Fn::FindInMap": ["Stages", "dev", "Nope"]}, "Fn::FindInMap: Stages.dev has no key 'Nope'"),
    ({"Fn::FindInMap": ["Stages", "dev"]}, "Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]"),
    ({"Fn::FindInMap": ["Stages", ["dev"], "Url"]}, "Fn::FindInMap: TopLevelKey must be text, not a list"),
    ({"Fn::GetAZs": "mars-north-1"}, "Fn::GetAZs: region 'mars-north-1' is not in SAM CLI's"),
    ({"Fn::GetAZs": ["us-east-1"]}, "Fn::GetAZs takes a region name"),
    ({"Fn::If": ["Unknown", "a", "b"]}, "no condition 'Unknown' in the template's Conditions"),
    ({"Fn::If": [{"Ref": "Stage"}, "a", "b"]}, "a condition is named by text"),
    ({"Fn::If": ["IsDev", "a"]}, "Fn::If takes [condition name, value if true, value if false]"),
    ({"Fn::If": ["CycleA", "a", "b"]}, "refer to each other in a cycle: CycleA -> CycleB -> CycleA"),
    ({"Fn::If": ["Lonely", "a", "b"]}, "Fn::And takes a list of 2 to 10 conditions"),
    ({"Fn::If": ["Literal", "a", "b"]}, "condition Literal: a condition is Fn::Equals, Fn::Not"),
    ({"Fn::If": ["Broken", "a", "b"]}, "Fn::ImportValue is not resolved locally"),
    ({"Fn::Not": ["IsDev"]}, "Fn::Not: a condition is Fn::Equals"),
    ({"Fn::Not": [{"Condition": "IsDev"}, {"Condition": "IsDev"}]}, "Fn::Not takes [condition]"),
    ({"Fn::Equals": ["a"]}, "Fn::Equals takes [value, value]"),
    # Lists and mappings are never written out as text (CloudFormation refuses them; sam local gives "").
    ({"Fn::Join": ["/", [{"Ref": "Stage"}, {"Ref": "Names"}]]}, "Fn::Join: a list where text is needed"),
    ({"Fn::Join": [",", [{"a": "b"}, "c"]]}, "Fn::Join: a mapping where text is needed"),
    ({"Fn::Join": [5, ["a", "b"]]}, "Fn::Join takes [delimiter, [values]]"),
    ({"Fn::Sub": ["${X}", {"X": {"a": "b"}}]}, "Fn::Sub variable X: a mapping where text is needed"),
    ({"Fn::Sub": "${Names}"}, "Fn::Sub ${Names}: a list where text is needed"),
    # Text that only nesting makes long (the node budget counts values, not their length).
    ({"Fn::Base64": {"Fn::Base64": {"Fn::Base64": "x" * 900_000}}}, "makes a text longer than"),
])
def test_what_cannot_be_known_or_is_malformed_is_refused_with_the_reason(
        intrinsics: Intrinsics, value: object, reason: str) -> None:
    with pytest.raises(Unresolvable) as caught:
        intrinsics.eval(value)
    assert reason in str(caught.value)
    assert "sam local does not evaluate" not in str(caught.value)


def test_a_cycle_leaves_no_condition_marked_as_being_evaluated(intrinsics: Intrinsics) -> None:
    with pytest.raises(Unresolvable, match="cycle"):
        intrinsics.eval({"Fn::If": ["CycleB", "a", "b"]})
    assert intrinsics.eval({"Fn::If": ["IsDev", "a", "b"]}) == "a"  # no condition is left "being evaluated"


def test_fn_getazs_without_aws_sam_cli_says_what_it_needs(intrinsics: Intrinsics,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "samcli.lib.intrinsic_resolver.intrinsics_symbol_table", None)
    with pytest.raises(Unresolvable, match=r"aws-sam-cli's availability-zone table, and aws-sam-cli is not"):
        intrinsics.eval({"Fn::GetAZs": ""})
