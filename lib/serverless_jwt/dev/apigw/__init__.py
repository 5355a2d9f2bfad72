"""A local API Gateway for a SAM template: REST and HTTP APIs, Lambda and JWT authorizers, static files.

Modules, one concern each: ``routes`` (APIs, routes, matching), ``collector`` (from the template),
``events`` (payload 1.0 / 2.0 and authorizer events), ``responses`` (function answers and API
Gateway's own), ``policy`` (authorizer answers, IAM evaluation), ``lambda_authorizer``,
``jwt_authorizer``, ``cors``, ``static`` and ``server`` (:class:`LocalApiGateway`).
"""

from __future__ import annotations

from serverless_jwt.dev.apigw.collector import Collection, collect
from serverless_jwt.dev.apigw.routes import Api, Authorizer, Route
from serverless_jwt.dev.apigw.server import LocalApiGateway

__all__ = ["Api", "Authorizer", "Collection", "LocalApiGateway", "Route", "collect"]
