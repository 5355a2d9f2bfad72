"""Collect every API of a SAM template: REST (``Api`` events) and HTTP APIs (``HttpApi`` events).

Rules follow SAM's transform (and aws-sam-cli ``samcli/lib/providers/api_collector.py``), with one
deliberate difference: SAM CLI merges routes by function and path, so a path declared on two APIs (our
template's ``/me``) is served once and the REST API's authorizer never runs. Here each API keeps its own
routes, REST APIs under their stage. Implicit APIs are ``ServerlessRestApi`` (stage ``Prod``) and
``ServerlessHttpApi`` (``$default``); ``Globals.Api`` / ``Globals.HttpApi`` apply to every API of that kind.
What cannot be emulated (Cognito and IAM authorizers, OpenAPI ``DefinitionBody``) is listed in
:attr:`Collection.warnings` and served without that part.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from serverless_jwt.dev.apigw._cors_config import cors_config, unquote
from serverless_jwt.dev.apigw.routes import Api, Authorizer, Route
from serverless_jwt.dev.intrinsics import as_text
from serverless_jwt.dev.template import Template
from serverless_jwt.errors import ConfigurationError

__all__ = ["Collection", "collect"]

IMPLICIT_REST, IMPLICIT_HTTP = "ServerlessRestApi", "ServerlessHttpApi"
# Event types that mean Api or HttpApi, spelled otherwise: SAM refuses them; they would be dropped unsaid.
_API_TYPOS = frozenset({"api", "httpapi", "restapi", "http", "rest", "apigateway", "httpapigateway"})
_CFN_APIS = ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
_SOURCE_PREFIXES = {"method.request.header.": "header", "$request.header.": "header",
                    "method.request.querystring.": "query", "$request.querystring.": "query",
                    "context.": "context", "$context.": "context",
                    "stageVariables.": "stage", "$stageVariables.": "stage"}
_FUNCTION_IN_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([A-Za-z0-9_-]+)(?::[^:/]+)?")


@dataclass
class Collection:
    """The template's APIs and routes, in template order, and what could not be emulated."""

    apis: list[Api] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def collect(template: Template) -> Collection:
    """Every API, route and authorizer of ``template``.

    Examples
    --------
    >>> c = collect(Template("template.yaml"))          # doctest: +SKIP
    >>> [(r.api.prefix, r.key) for r in c.routes][:2]   # doctest: +SKIP
    [('', 'GET /me'), ('/prod', 'GET /me')]
    """
    out = Collection()
    resources = template.resources
    apis: dict[str, tuple[Api, dict[str, Authorizer | None]]] = {}

    def api_for(name: str, kind: str) -> tuple[Api, dict[str, Authorizer | None]]:
        if name not in apis:
            props: dict[str, Any] = {}
            resource = resources.get(name)
            if isinstance(resource, Mapping):
                props = dict(resource.get("Properties") or {})
            apis[name] = _api(template, name, kind, props, out.warnings)
            out.apis.append(apis[name][0])
        return apis[name]

    for name, resource in resources.items():
        if isinstance(resource, Mapping) and resource.get("Type") == "AWS::Serverless::Api":
            api_for(name, "REST")
        elif isinstance(resource, Mapping) and resource.get("Type") == "AWS::Serverless::HttpApi":
            api_for(name, "HTTP")
    for fname, resource in resources.items():
        if not isinstance(resource, Mapping) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        events = (resource.get("Properties") or {}).get("Events") or {}
        for ename, event in events.items() if isinstance(events, Mapping) else ():
            etype = event.get("Type") if isinstance(event, Mapping) else None
            if isinstance(etype, str) and etype not in ("Api", "HttpApi") and etype.lower() in _API_TYPOS:
                out.warnings.append(f"{fname} event {ename}: Type {etype} is no SAM event type (Api for a "
                                    "REST API, HttpApi for an HTTP API; sam deploy refuses it); not served")
            if not isinstance(event, Mapping) or etype not in ("Api", "HttpApi"):
                continue
            props = event.get("Properties") or {}
            kind = "REST" if etype == "Api" else "HTTP"
            key = "RestApiId" if kind == "REST" else "ApiId"
            name = _ref_name(props.get(key)) or (IMPLICIT_REST if kind == "REST" else IMPLICIT_HTTP)
            want = "AWS::Serverless::Api" if kind == "REST" else "AWS::Serverless::HttpApi"
            target = resources.get(name)
            if name not in (IMPLICIT_REST, IMPLICIT_HTTP) and not (
                    isinstance(target, Mapping) and target.get("Type") == want):
                out.warnings.append(f"{fname} event {ename}: {key} {name} is not an {want} of the template "
                                    "(sam deploy refuses it); its routes are served as an API of that name")
            api, authorizers = api_for(name, kind)
            route = _route(template, api, authorizers, fname, props, out.warnings)
            if route is not None:
                out.routes.append(route)
    raw = [f"{name} ({r['Type']})" for name, r in resources.items()
           if isinstance(r, Mapping) and r.get("Type") in _CFN_APIS]
    if raw:  # sam local reads their Body/Target and AWS::ApiGateway::Method integrations; we do not
        out.warnings.append(f"{', '.join(raw)}: CloudFormation API resources are not emulated (sam local "
                            "routes them); routes come only from Api and HttpApi events of functions")
    return out


def _ref_name(ref: Any) -> str | None:
    if isinstance(ref, Mapping) and isinstance(ref.get("Ref"), str):
        return str(ref["Ref"])
    return ref if isinstance(ref, str) and ref else None


def _merged(template: Template, kind: str, props: Mapping[str, Any]) -> dict[str, Any]:
    globals_ = template.document.get("Globals") or {}
    if not isinstance(globals_, Mapping):
        return dict(props)
    defaults = globals_.get("Api" if kind == "REST" else "HttpApi") or {}
    return {**(defaults if isinstance(defaults, Mapping) else {}), **props}


def _api(template: Template, name: str, kind: str, props: Mapping[str, Any],
         warnings: list[str]) -> tuple[Api, dict[str, Authorizer | None]]:
    merged = _merged(template, kind, props)
    default_stage = "Prod" if name == IMPLICIT_REST else "$default"
    # What routing needs is never guessed: unresolvable (a parameter without a value) is an error.
    stage = str(template.require(merged.get("StageName", default_stage), f"{name}.StageName")
                or default_stage)
    if "DefinitionBody" in merged or "DefinitionUri" in merged:
        warnings.append(f"{name}: an OpenAPI definition is not read locally; routes come from function "
                        "events")
    auth = merged.get("Auth") or {}
    # Every defined name, None for those not emulated (Cognito, a function outside the template).
    authorizers: dict[str, Authorizer | None] = {}
    for aname, spec in (auth.get("Authorizers") or {}).items():
        authorizers[str(aname)] = _authorizer(template, kind, str(aname), spec, warnings, name)
    default_name = template.resolve(auth.get("DefaultAuthorizer"))
    default = authorizers.get(str(default_name)) if default_name else None
    if default_name and default is None and default_name != "AWS_IAM":
        why = "is not emulated" if str(default_name) in authorizers else "is not defined in Auth.Authorizers"
        warnings.append(f"{name}: DefaultAuthorizer {default_name} {why}; its routes are open")
    if default_name == "AWS_IAM" or auth.get("EnableIamAuthorizer"):
        warnings.append(f"{name}: IAM (SigV4) authorization is not checked locally")
    if template.resolve(auth.get("ApiKeyRequired")) in (True, "true", "True"):  # nor by sam local
        warnings.append(f"{name}: API keys (ApiKeyRequired) are not checked locally; a request without "
                        "x-api-key is served (API Gateway answers 403)")
    if auth.get("ResourcePolicy"):
        warnings.append(f"{name}: Auth.ResourcePolicy is not applied locally")
    # Api: Variables; HttpApi: StageVariables (the SAM spec's names, as SAM CLI reads them).
    variables = merged.get("Variables" if kind == "REST" else "StageVariables") or {}
    gateway_responses = _gateway_responses(template, merged.get("GatewayResponses")) if kind == "REST" else ()
    api = Api(
        name=name, kind="REST" if kind == "REST" else "HTTP", stage=stage,
        binary_media_types=tuple(str(template.resolve(t)).replace("~1", "/")
                                 for t in merged.get("BinaryMediaTypes") or ()),
        cors=cors_config(template, kind, merged.get("Cors" if kind == "REST" else "CorsConfiguration"),
                         f"{name} CORS", warnings),
        authorize_preflight=bool(default) and kind == "REST"
        and auth.get("AddDefaultAuthorizerToCorsPreflight", True) not in (False, "false", "False"),
        default_authorizer=default,
        stage_variables=tuple((str(k), _text(template, v, f"{name} stage variable {k}", warnings))
                              for k, v in variables.items()) if isinstance(variables, Mapping) else (),
        gateway_responses=gateway_responses,
    )
    return api, authorizers


def _route(template: Template, api: Api, authorizers: Mapping[str, Authorizer | None], function: str,
           props: Mapping[str, Any], warnings: list[str]) -> Route | None:
    default_path = "$default" if api.kind == "HTTP" else None
    event = "an Api" if api.kind == "REST" else "an HttpApi"
    path = template.require(props.get("Path", default_path), f"{function}: {event} event's Path")
    method = str(template.require(props.get("Method", "ANY"), f"{function}: {event} event's Method")
                 or "ANY").upper()
    if not isinstance(path, str) or not path:
        warnings.append(f"{function}: an Api event without a Path is skipped")
        return None
    if path != "$default" and not path.startswith("/"):
        path = "/" + path
    if method not in _METHODS:  # a typo (GETT) that sam validate lets through: the route would never answer
        warnings.append(f"{function} {method} {path}: Method {method} is none API Gateway routes "
                        f"({', '.join(_METHODS)}); no request reaches it")
    auth = props.get("Auth") or {}
    authorizer = api.default_authorizer
    named = template.resolve(auth.get("Authorizer")) if isinstance(auth, Mapping) else None
    if named == "NONE":
        authorizer = None
    elif named:
        authorizer = authorizers.get(str(named))
        if authorizer is None:
            # A name the API does not define is a typo that sam deploy refuses; sam local skips it too.
            why = ("(IAM, SigV4) is not checked locally" if named == "AWS_IAM"
                   else "is not emulated" if str(named) in authorizers
                   else f"is not defined in {api.name}'s Auth.Authorizers (sam deploy refuses it)")
            warnings.append(f"{function} {method} {path}: authorizer {named} {why}; the route is open")
    if isinstance(auth, Mapping) and template.resolve(auth.get("ApiKeyRequired")) in (True, "true", "True"):
        warnings.append(f"{function} {method} {path}: API keys (ApiKeyRequired) are not checked locally")
    scopes = tuple(str(s) for s in (auth.get("AuthorizationScopes") or ()) if isinstance(auth, Mapping))
    version = "1.0" if api.kind == "REST" else str(template.resolve(props.get("PayloadFormatVersion", "2.0")))
    timeout = template.resolve(props.get("TimeoutInMillis"))
    timeout = int(timeout) if isinstance(timeout, str) and timeout.isdigit() else timeout  # a !Ref: text
    if timeout is not None and (type(timeout) is not int or timeout <= 0):
        warnings.append(f"{function} {method} {path}: TimeoutInMillis is not a number of milliseconds; "
                        "API Gateway's default applies")
        timeout = None
    return Route(api, method, path, function, authorizer, scopes, version, timeout)


def _authorizer(template: Template, kind: str, name: str, spec: Any, warnings: list[str],
                api: str) -> Authorizer | None:
    if not isinstance(spec, Mapping):
        return None
    if "JwtConfiguration" in spec:
        jwt = spec.get("JwtConfiguration") or {}
        raw_issuer = jwt.get("issuer", jwt.get("Issuer"))
        raw_audience = jwt.get("audience", jwt.get("Audience"))
        issuer, whole = template.resolve(raw_issuer), template.resolve(raw_audience)
        items = (raw_audience if isinstance(raw_audience, list) else whole if isinstance(whole, list)
                 else [] if raw_audience is None else [raw_audience])
        # A Cognito pool or client of the same template (`!Ref UserPool`) exists only once deployed: an
        # audience that cannot be known matches no token (left out, any audience would pass).
        audiences = tuple(a if isinstance(a, str) else f"(not resolved locally: {template.explain(raw)})"
                          for raw in items for a in [template.resolve(raw)])
        unresolved = [why for raw in [raw_issuer, *items] if (why := template.explain(raw))]
        if unresolved:
            outcome = "its routes answer 500" if template.explain(raw_issuer) else "its tokens are refused"
            warnings.append(f"{api}: JWT authorizer {name}: {'; '.join(unresolved)}; the dev issuer's tokens "
                            f"are checked instead (with --no-dev-issuer, {outcome})")
        source = str(template.resolve(spec.get("IdentitySource", "$request.header.Authorization")))
        return Authorizer(name, "jwt", identity_sources=_sources([source]),
                          issuer=issuer if isinstance(issuer, str) else None,
                          audiences=tuple(a for a in audiences if a), payload_version="2.0", ttl_seconds=0)
    if "FunctionArn" not in spec:
        warnings.append(f"{api}: authorizer {name} (Cognito / user pool) is not emulated locally")
        return None
    function = _function_of(template, spec["FunctionArn"])
    if function is None:
        warnings.append(f"{api}: authorizer {name} names a function outside the template; not emulated")
        return None
    identity = spec.get("Identity") or {}
    # SAM documents 300 s for REST authorizers; for HTTP APIs it sets no TTL, so nothing is cached.
    default_ttl = 300 if kind == "REST" else 0
    ttl = template.resolve(identity.get("ReauthorizeEvery", spec.get("ResultTtlInSeconds", default_ttl)))
    if kind == "REST":
        token = str(spec.get("FunctionPayloadType", "TOKEN")).upper() != "REQUEST"
        sources = (["method.request.header." + str(template.resolve(identity.get("Header", "Authorization")))]
                   if token else _identity_list(template, identity, "method.request."))
        return Authorizer(name, "token" if token else "request", function, _sources(sources),
                          validation_expression=template.resolve(identity.get("ValidationExpression")),
                          ttl_seconds=int(ttl or 0), payload_version="1.0")
    version = str(template.resolve(spec.get("AuthorizerPayloadFormatVersion", "2.0")))
    simple = template.resolve(spec.get("EnableSimpleResponses", False)) in (True, "true", "True")
    built = Authorizer(name, "request", function, _sources(_identity_list(template, identity, "$request.")),
                       ttl_seconds=int(ttl or 0), payload_version=version, simple_responses=simple)
    return built if version in ("1.0", "2.0") else replace(built, payload_version="2.0")


def _identity_list(template: Template, identity: Mapping[str, Any], request: str) -> list[str]:
    ctx = "context." if request == "method.request." else "$context."
    stage = "stageVariables." if request == "method.request." else "$stageVariables."
    out = [request + "header." + str(template.resolve(h)) for h in identity.get("Headers") or ()]
    out += [request + "querystring." + str(template.resolve(q)) for q in identity.get("QueryStrings") or ()]
    out += [ctx + str(template.resolve(c)) for c in identity.get("Context") or ()]
    out += [stage + str(template.resolve(s)) for s in identity.get("StageVariables") or ()]
    return out


def _text(template: Template, raw: Any, where: str, warnings: list[str]) -> str:
    """A value as text, ``""`` (named in a warning) when it is known only once deployed (``!Ref Table``)."""
    why = template.explain(raw)
    if why is not None:
        warnings.append(f"{where} is \"\": {why}")
        return ""
    return as_text(template.resolve(raw))


def _sources(raw: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for source in raw:
        for prefix, kind in _SOURCE_PREFIXES.items():
            if source.startswith(prefix):
                out.append((kind, source[len(prefix):]))
                break
    return tuple(out)


def _function_of(template: Template, arn: Any) -> str | None:
    # !GetAtt Fn.Arn arrives as {"Fn::GetAtt": "Fn.Arn"} or ["Fn", "Arn"]; !Sub "${Fn.Arn}" too.
    if isinstance(arn, Mapping) and "Fn::GetAtt" in arn:
        target = arn["Fn::GetAtt"]
        parts = target.split(".", 1) if isinstance(target, str) else list(target)
        return str(parts[0]) if parts else None
    if isinstance(arn, Mapping) and isinstance(arn.get("Fn::Sub"), str):
        text = arn["Fn::Sub"]
        if text.startswith("${") and text.endswith(".Arn}"):
            return str(text[2:-5])
    # Any other form (`!Sub arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:${Fn}`, a written
    # ARN) names its function after ":function:", as SAM CLI's LambdaUri reads the resolved value.
    found = _FUNCTION_IN_ARN.fullmatch(str(template.resolve(arn)))
    if found is None:
        return None
    try:
        return template.function(found.group(1)).name  # a logical id, or a FunctionName
    except ConfigurationError:
        return None


def _gateway_responses(template: Template, raw: Any) -> tuple[tuple[str, int | None,
                                                                      tuple[tuple[str, str], ...]], ...]:
    out = []
    for kind, spec in (raw.items() if isinstance(raw, Mapping) else ()):
        if not isinstance(spec, Mapping):
            continue
        params = spec.get("ResponseParameters") or {}
        headers = params.get("Headers") or {} if isinstance(params, Mapping) else {}
        static = tuple((str(k), unquote(template.resolve(v))) for k, v in headers.items()
                       if str(template.resolve(v)).startswith("'"))  # request mappings are not emulated
        status = template.resolve(spec.get("StatusCode"))
        out.append((str(kind), int(status) if str(status).isdigit() else None, static))
    return tuple(out)
