"""Intrinsic functions evaluated as SAM CLI evaluates them locally, or refused with the reason."""

from __future__ import annotations

import pytest

from serverless_jwt.dev.intrinsics import Intrinsics, Unresolvable

RESOURCES = {
    "Fn": {"Type": "AWS::Serverless::Function"},
    "Lib": {"Type": "AWS::Serverless::LayerVersion"},
    "Table": {"Type": "AWS::DynamoDB::Table"},
}


@pytest.fixture
def intrinsics(monkeypatch: pytest.MonkeyPatch) -> Intrinsics:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    return Intrinsics({"Stage": "dev", "Names": ["a", "b"]}, {"Stage", "Names", "Secret"}, RESOURCES)


@pytest.mark.parametrize(("value", "expected"), [
    ({"Ref": "Stage"}, "dev"),
    ({"Ref": "AWS::Region"}, "eu-west-3"),
    ({"Ref": "AWS::AccountId"}, "123456789012"),
    ({"Ref": "AWS::NoValue"}, None),
    ({"Ref": "Fn"}, "Fn"),
    ({"Ref": "Lib"}, "arn:aws:lambda:eu-west-3:123456789012:layer:Lib:1"),
    ({"Fn::GetAtt": ["Fn", "Arn"]}, "arn:aws:lambda:eu-west-3:123456789012:function:Fn"),
    ({"Fn::Sub": "${Stage}-${AWS::Region}-${!Literal}"}, "dev-eu-west-3-${Literal}"),
    ({"Fn::Sub": ["${X}/${Fn.Arn}", {"X": {"Ref": "Stage"}}]},
     "dev/arn:aws:lambda:eu-west-3:123456789012:function:Fn"),
    ({"Fn::Join": ["/", [{"Ref": "Stage"}, "x", {"Ref": "Names"}]]}, "dev/x/a,b"),
    ({"Nested": [{"Ref": "Stage"}, {"k": {"Ref": "Stage"}, "other": 1}]},
     {"Nested": ["dev", {"k": "dev", "other": 1}]}),
])
def test_what_sam_cli_resolves_locally(intrinsics: Intrinsics, value: object, expected: object) -> None:
    assert intrinsics.eval(value) == expected


@pytest.mark.parametrize(("value", "reason"), [
    ({"Ref": "Table"}, "Ref Table (AWS::DynamoDB::Table) exists only once deployed"),
    ({"Ref": "Secret"}, "parameter Secret has no Default and no --parameter-overrides value"),
    ({"Ref": "Nope"}, "Ref Nope: no such parameter or resource"),
    ({"Fn::GetAtt": ["Table", "StreamArn"]}, "Fn::GetAtt Table.StreamArn exists only once deployed"),
    ({"Fn::ImportValue": "x"}, "Fn::ImportValue is not resolved locally"),
    ({"Fn::If": ["C", "a", "b"]}, "Fn::If is not resolved locally"),
    ({"Fn::Sub": "${Table.Arn}"}, "Fn::GetAtt Table.Arn exists only once deployed"),
])
def test_what_cannot_be_known_before_deployment_is_refused_with_the_reason(
        intrinsics: Intrinsics, value: object, reason: str) -> None:
    with pytest.raises(Unresolvable) as caught:
        intrinsics.eval(value)
    assert reason in str(caught.value)
