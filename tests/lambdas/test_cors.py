"""The deployed sample answers browsers: CORS on both APIs, preflights kept away from the authorizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from serverless_jwt.dev.events import http_event
from serverless_jwt.dev.issuer import DevIssuer
from serverless_jwt.dev.runtime import FunctionRunner
from serverless_jwt.dev.template import Template

ROOT = Path(__file__).resolve().parents[2]


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader plus CloudFormation's ! tags, as aws-sam-cli's yaml_parse reads templates."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node)
    else:
        value = loader.construct_mapping(node)  # type: ignore[arg-type]
    return {suffix: value}


_Loader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    doc = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    return dict(doc["Resources"])


def test_http_api_allows_the_authorization_header_from_the_origin(resources: dict[str, Any]) -> None:
    cors = resources["HttpApi"]["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == [{"Ref": "CorsAllowOrigin"}]
    assert "authorization" in [h.lower() for h in cors["AllowHeaders"]]
    assert "GET" in cors["AllowMethods"]


def test_rest_api_preflight_skips_the_authorizer_and_refusals_carry_cors(resources: dict[str, Any]) -> None:
    props = resources["RestApi"]["Properties"]
    assert props["Auth"]["AddDefaultAuthorizerToCorsPreflight"] is False
    assert "Authorization" in props["Cors"]["AllowHeaders"]
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        headers = props["GatewayResponses"][kind]["ResponseParameters"]["Headers"]
        assert headers["Access-Control-Allow-Origin"] == {"Sub": "'${CorsAllowOrigin}'"}


def test_sample_functions_send_the_allowed_origin_for_the_rest_api(jwt_issuer: DevIssuer) -> None:
    template = Template(ROOT / "template.yaml", parameter_overrides={"CorsAllowOrigin": "https://app.example"})
    env = {"JWT_ISSUER": jwt_issuer.issuer, "JWT_AUDIENCE": jwt_issuer.audience}
    runner = FunctionRunner(template.function("MeFunction"), environment=env)
    runner.load()
    event = http_event("rest_v1", path="/me", token=jwt_issuer.mint())
    result = runner.invoke(event)
    assert result["statusCode"] == 200
    assert result["headers"]["Access-Control-Allow-Origin"] == "https://app.example"


@pytest.mark.parametrize(("function", "path", "claims", "status"), [
    # expired: the authorizer's cached Allow outlives a token by up to ReauthorizeEvery
    ("MeFunction", "/me", {"lifetime_seconds": -3600}, 401),
    ("ShowsFunction", "/shows", {}, 403),
])
def test_sample_functions_refusals_carry_the_allowed_origin_for_the_rest_api(
        jwt_issuer: DevIssuer, function: str, path: str, claims: dict[str, Any], status: int) -> None:
    # Behind the REST API nothing adds CORS to a proxy answer: a refusal without the header reaches the
    # page as a network error, so it cannot tell that it must sign in again.
    template = Template(ROOT / "template.yaml", parameter_overrides={"CorsAllowOrigin": "https://app.example"})
    env = {"JWT_ISSUER": jwt_issuer.issuer, "JWT_AUDIENCE": jwt_issuer.audience}
    runner = FunctionRunner(template.function(function), environment=env)
    runner.load()
    result = runner.invoke(http_event("rest_v1", path=path, token=jwt_issuer.mint(**claims)))
    assert result["statusCode"] == status
    assert result["headers"]["Access-Control-Allow-Origin"] == "https://app.example"


def test_rest_api_answers_503_with_retry_after_when_the_authorizer_cannot_get_keys() -> None:
    # The Lambda authorizer can only allow, deny or fail; with the provider down it fails, and the
    # template's AUTHORIZER_CONFIGURATION_ERROR gateway response (API Gateway's type for a failed
    # authorizer, AuthorizerConfigurationException) makes that a 503 to retry, not API Gateway's 500.
    import socket
    import urllib.error
    import urllib.request

    from serverless_jwt.dev.apigw import LocalApiGateway, collect

    with socket.socket() as probe:  # a loopback port with nobody listening: the provider is down
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with DevIssuer() as other:
        token = other.mint(issuer=down)  # well formed, for the issuer that cannot be reached
    template = Template(ROOT / "template.yaml", parameter_overrides={"CorsAllowOrigin": "https://app.example"})
    env = {"JWT_ISSUER": down, "JWT_AUDIENCE": "serverless-jwt-dev"}
    routes = collect(template).routes
    names = {r.function for r in routes} | {r.authorizer.function for r in routes if r.authorizer}
    runners = {n: FunctionRunner(template.function(n), environment=env) for n in names if n}
    with LocalApiGateway(routes, runners) as api:
        request = urllib.request.Request(  # noqa: S310 - loopback
            api.url + "/prod/me", headers={"Authorization": f"Bearer {token}"})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=30)  # noqa: S310 - loopback
    assert answer.value.code == 503
    assert answer.value.headers["Retry-After"] == "30"
    assert answer.value.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert token not in answer.value.read().decode()
