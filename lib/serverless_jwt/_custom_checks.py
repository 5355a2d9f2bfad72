"""A verifier's own checks, after the signature and the registered claims passed.

``claim_checks`` see the claims and refuse with any false value; ``token_checks`` (aws-jwt-verify's
``customJwtCheck``) see a deep copy of the header, the claims and the key that verified the signature, and
refuse with anything but ``True``. A check that raises refuses too: an AuthError is the answer as it is,
any other exception becomes the same ``check_failed`` refusal (a buggy check never turns into a 500).
Their types, :data:`ClaimCheck` and :data:`TokenCheck`, are re-exported by ``verifier.py``.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

from serverless_jwt import token as _token
from serverless_jwt.errors import AuthError, InvalidClaimError
from serverless_jwt.keys import VerificationKey

__all__ = ["ClaimCheck", "TokenCheck", "claim_rule", "claim_rules", "rule_audiences", "run_claim_checks",
           "run_token_checks"]

ClaimCheck = Callable[[Mapping[str, Any]], bool]
"""A custom claim check: return False (or raise an AuthError) to reject the token."""
TokenCheck = Callable[[Mapping[str, Any], Mapping[str, Any], VerificationKey], bool]
"""``check(header, claims, key) -> bool`` after the signature verified (aws-jwt-verify's customJwtCheck)."""

_Check = TypeVar("_Check", bound=Callable[..., Any])
_RULES: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()
# A rule that matches aud -> the audiences it accepts: the verifier's repr names them as its own.
_AUDIENCES: weakref.WeakKeyDictionary[Callable[..., Any], frozenset[str]] = weakref.WeakKeyDictionary()


def claim_rule(check: _Check, *, audiences: frozenset[str] | None = None) -> _Check:
    """Mark a claim check this library writes (a preset's aud, token_use, client_id rule) as a pure rule
    of the claims: with no key to be had, the verifier runs it on the unverified claims too, so a token
    it refuses gets the 401 the verifier's own claim rules give, not a 503 (a refusal only, never an
    admission). A user's checks are never run on unverified claims: they may do I/O or trust them."""
    _RULES.add(check)
    if audiences:
        _AUDIENCES[check] = audiences
    return check


def claim_rules(checks: Iterable[Callable[..., Any]]) -> tuple[Callable[..., Any], ...]:
    """The checks among ``checks`` marked by :func:`claim_rule`, in order."""
    return tuple(check for check in checks if _is_rule(check))


def _is_rule(check: Callable[..., Any]) -> bool:
    try:
        return check in _RULES
    except TypeError:  # a caller's check that cannot be hashed (a dataclass instance with __call__)
        return False


def rule_audiences(checks: Iterable[Callable[..., Any]]) -> frozenset[str]:
    """The audiences the aud rules among ``checks`` accept (for a verifier's repr)."""
    return frozenset().union(*(_AUDIENCES.get(check, ()) for check in claim_rules(checks)))


def _refuse(check: Callable[..., Any]) -> NoReturn:
    name = getattr(check, "__name__", "check")
    raise InvalidClaimError("claims", "check_failed", f"The access token was rejected by the '{name}' check")


def run_claim_checks(checks: Sequence[Callable[[dict[str, Any]], Any]], claims: dict[str, Any]) -> None:
    """Run each ``claim_checks`` entry on ``claims``; raises InvalidClaimError (or the check's AuthError)."""
    for check in checks:
        try:
            ok = check(claims)
        except AuthError:
            raise
        except Exception:
            ok = False
        if not ok:
            _refuse(check)


def run_token_checks(checks: Sequence[Callable[..., Any]], header_segment: bytes, claims: dict[str, Any],
                     key: VerificationKey) -> None:
    """Run each ``token_checks`` entry on (header, claims, the key that verified the signature).

    Raises as :func:`run_claim_checks`.
    """
    header = _token.decode_header(header_segment)
    for check in checks:
        try:
            # A deep copy: the parsed header is cached and shared by every later token with this header
            # segment, nested members (an x5c list, an object) included. Paid only with token_checks.
            ok = check(copy.deepcopy(header), claims, key)
        except AuthError:
            raise
        except Exception:
            ok = False
        if ok is not True:
            _refuse(check)
