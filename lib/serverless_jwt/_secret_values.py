"""What a value read from Secrets Manager or SSM holds: its secrets (one per line, a JSON list, the
console's one-member object, or binary bytes), never public key material; and why a read failed, in
words safe to log (our own reason or the store's error code, never a value).

Used by :class:`~serverless_jwt.secret_store.StoredSecretKeys`.
"""

from __future__ import annotations

import json

from serverless_jwt._public_key_text import public_key_kind

__all__ = ["StoredValueError", "reason", "split_secrets"]


class StoredValueError(ValueError):
    """A stored value this module cannot read as secrets; its message is ours (no value in it)."""


def reason(exc: Exception) -> str:
    # What failed, for the operator: our own reason, or the store's error code, never a value.
    if isinstance(exc, StoredValueError):
        return str(exc)
    cause: BaseException | None = exc
    for _ in range(5):  # Powertools wraps botocore's ClientError, which holds the store's code
        response = getattr(cause, "response", None)
        error = response.get("Error") if isinstance(response, dict) else None
        code = error.get("Code") if isinstance(error, dict) else None
        if isinstance(code, str):
            return code
        cause = (cause.__cause__ or cause.__context__) if cause is not None else None
    return type(exc).__name__


def split_secrets(value: str | bytes) -> list[str | bytes]:
    """The secrets held in one stored value: a JSON list of strings, a JSON object of one member (the
    console's key/value form: its value), one secret per line, or binary bytes (one secret)."""
    if isinstance(value, bytes):
        _refuse_public_key(value)
        return [value] if value else []
    text = value.strip()
    if text.startswith(("[", "{")):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if isinstance(items, dict):
            # Used as the key verbatim, its JSON text would refuse every genuine token in silence.
            if len(items) != 1:
                raise StoredValueError("a JSON object secret must hold one member (its value is the secret)")
            items = next(iter(items.values()))
            items = [items] if isinstance(items, str) else items
            if not (isinstance(items, list) and items and all(isinstance(i, str) and i for i in items)):
                raise StoredValueError("a JSON object secret's member must be a string (the secret)")
        if isinstance(items, list) and items and all(isinstance(i, str) and i for i in items):
            return list(items)  # each secret is still checked for key material (SecretKeys)
    # Not the JSON forms: the whole value is checked before its lines (a console key/value secret whose
    # member is named "keys" is no JWK set, and must not be refused as one).
    _refuse_public_key(value.encode("utf-8", "surrogatepass"))
    return [line.strip() for line in text.splitlines() if line.strip()]


def _refuse_public_key(raw: bytes) -> None:
    # The whole value: a public key's base64 body split over lines is no key line by line, yet each
    # line would become a secret that anyone holding the published key can sign with.
    kind = public_key_kind(raw)
    if kind is not None:
        raise StoredValueError(f"the stored value looks like {kind}, not a shared secret (RFC 8725 2.1)")
