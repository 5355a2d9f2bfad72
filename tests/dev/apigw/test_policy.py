"""Authorizer answers checked and IAM policies evaluated against method ARNs, as API Gateway does."""

from __future__ import annotations

from typing import Any

import pytest

from serverless_jwt.dev.apigw.policy import InvalidAuthorizerResponse, evaluate, parse_response

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/shows/7"


def _policy(*statements: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"principalId": "u", "policyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
            **extra}


def _stmt(effect: str, resource: Any, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource}


@pytest.mark.parametrize(("resource", "verdict"), [
    (ARN, "allow"),
    ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*", "allow"),
    ("arn:aws:execute-api:*:*:abc123/*/GET/*", "allow"),
    ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/shows/?", "allow"),
    ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/shows", "implicit_deny"),
    ("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/*", "implicit_deny"),
    ("arn:aws:execute-api:us-east-1:123456789012:other/prod/*", "implicit_deny"),
    ("ARN:AWS:execute-api:us-east-1:123456789012:abc123/prod/*", "implicit_deny"),  # resources: case counts
    (["arn:aws:execute-api:*:*:x/*", "*"], "allow"),
])
def test_allow_resources_match_with_iam_wildcards(resource: Any, verdict: str) -> None:
    assert parse_response(_policy(_stmt("Allow", resource)), simple=False,
                          nested_context=False).verdict(ARN) == verdict


def test_explicit_deny_wins_over_a_wider_allow() -> None:
    decision = parse_response(_policy(_stmt("Allow", "*"), _stmt("Deny", "*/GET/shows/*")),
                              simple=False, nested_context=False)
    assert decision.verdict(ARN) == "explicit_deny"
    assert decision.verdict(ARN.replace("GET", "POST")) == "allow"


@pytest.mark.parametrize(("action", "verdict"), [
    ("execute-api:Invoke", "allow"), ("execute-api:*", "allow"), ("*", "allow"),
    ("EXECUTE-API:invoke", "allow"),
    ("execute-api:ManageConnections", "implicit_deny"), (["s3:GetObject", "execute-api:Invoke"], "allow"),
])
def test_actions_match_ignoring_case(action: Any, verdict: str) -> None:
    actions = tuple([action] if isinstance(action, str) else action)
    assert evaluate((("Allow", actions, ("*",)),), ARN) == verdict


@pytest.mark.parametrize("bad", [
    None, [], "Allow", {"policyDocument": {"Statement": [_stmt("Allow", "*")]}},  # no principalId
    {"principalId": 7, "policyDocument": {"Statement": [_stmt("Allow", "*")]}},
    {"principalId": "u"}, {"principalId": "u", "policyDocument": {"Statement": []}},
    _policy(_stmt("allow", "*")), _policy(_stmt("Allow", 5)), _policy(_stmt("Allow", [])),
    _policy({"Effect": "Allow", "NotAction": "x", "Resource": "*"}),
    _policy(_stmt("Allow", "*"), context={"nested": {"a": 1}}),
    _policy(_stmt("Allow", "*"), context={"list": [1]}), _policy(_stmt("Allow", "*"), context="x"),
])
def test_malformed_answers_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidAuthorizerResponse):
        parse_response(bad, simple=False, nested_context=False)


def test_single_statement_object_and_context_are_read() -> None:
    answer = {"principalId": "u", "policyDocument": {"Statement": _stmt("Allow", "*")},
              "context": {"a": "1", "n": 2, "b": True}}
    decision = parse_response(answer, simple=False, nested_context=False)
    assert (decision.principal, decision.context, decision.verdict(ARN)) == ("u", answer["context"], "allow")


def test_simple_responses() -> None:
    answer = {"isAuthorized": True, "context": {"deep": {"x": [1]}}}
    yes = parse_response(answer, simple=True, nested_context=True)
    assert (yes.verdict(ARN), yes.context) == ("allow", {"deep": {"x": [1]}})
    no = parse_response({"isAuthorized": False}, simple=True, nested_context=True)
    assert no.verdict(ARN) == "explicit_deny"
    for bad in ({}, {"isAuthorized": "true"}, {"isAuthorized": 1}):
        with pytest.raises(InvalidAuthorizerResponse):
            parse_response(bad, simple=True, nested_context=True)
