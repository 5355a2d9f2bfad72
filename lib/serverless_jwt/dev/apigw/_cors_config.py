"""An API's CORS settings read from the template as SAM CLI reads them (``Cors`` strings in single
quotes for REST APIs, ``CorsConfiguration`` lists for HTTP APIs). A value known only once deployed is
left out with a warning, as SAM CLI drops a CORS property it cannot resolve, so the rest still applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serverless_jwt.dev.apigw.routes import Cors
from serverless_jwt.dev.template import Template

__all__ = ["cors_config", "unquote"]


def cors_config(template: Template, kind: str, raw: Any, where: str, warnings: list[str]) -> Cors | None:
    """An API's ``Cors`` (REST) or ``CorsConfiguration`` (HTTP) as :class:`Cors`; ``None`` for none."""
    known = _known(template, raw, where, warnings)
    # An AllowOrigin left out sends none, as SAM CLI drops it (not SAM's "'*'" for a Cors without one).
    no_origin = isinstance(raw, Mapping) and "AllowOrigin" in raw and "AllowOrigin" not in (known or {})
    raw = template.resolve(known)
    if raw in (None, False, "false"):
        return None
    if kind == "REST":
        if not isinstance(raw, Mapping):  # Cors: "'*'" is AllowOrigin alone
            return Cors(allow_origins=(unquote(template.resolve(raw)),))
        spec = {k: template.resolve(v) for k, v in raw.items()}
        origins = () if no_origin else (unquote(spec.get("AllowOrigin", "'*'")),)

        def items(key: str) -> tuple[str, ...]:
            if key not in spec:
                return ()
            return tuple(p.strip() for p in unquote(spec[key]).split(",") if p.strip())

        max_age = unquote(spec["MaxAge"]) if "MaxAge" in spec else None
        return Cors(origins, items("AllowMethods"), items("AllowHeaders"), (),
                    int(max_age) if max_age and max_age.isdigit() else None,
                    spec.get("AllowCredentials") in (True, "true", "True"))
    if raw is True or raw == "true":
        return Cors(("*",), ("*",), ("*",))
    if not isinstance(raw, Mapping):
        return None

    def listed(key: str) -> tuple[str, ...]:
        value = template.resolve(raw.get(key)) or ()
        return (str(value),) if isinstance(value, str) else tuple(str(template.resolve(v)) for v in value)

    max_age = template.resolve(raw.get("MaxAge"))
    return Cors(listed("AllowOrigins"), listed("AllowMethods"), listed("AllowHeaders"),
                listed("ExposeHeaders"),
                int(max_age) if max_age is not None and str(max_age).isdigit() else None,
                template.resolve(raw.get("AllowCredentials")) in (True, "true", "True"))


def _known(template: Template, raw: Any, where: str, warnings: list[str]) -> Any:
    """CORS settings with what is known only once deployed (an origin ``!GetAtt Cdn.DomainName``) left
    out, each named in a warning, so the rest (``http://localhost:3000``) still applies."""
    first = str(next(iter(raw))) if isinstance(raw, Mapping) and len(raw) == 1 else ""
    if not isinstance(raw, Mapping) or first.startswith(("Fn::", "Ref")):  # `Cors: !If [...]`: as a whole
        why = template.explain(raw)
        if why is not None:
            warnings.append(f"{where} is left out: {why}")
            return None
        return raw
    known: dict[str, Any] = {}
    for key, value in raw.items():
        for item in value if isinstance(value, list) else [value]:
            if (why := template.explain(item)) is not None:
                warnings.append(f"{where} {key}: a value is left out: {why}")
        if isinstance(value, list):
            known[key] = [item for item in value if template.explain(item) is None]
        elif template.explain(value) is None:
            known[key] = value
    return known


def unquote(value: Any) -> str:
    text = str(value).strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text
