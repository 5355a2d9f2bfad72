"""Where a warm RS256 verification spends its time above the raw signature check.

Usage::

    .venv/bin/python benchmarks/breakdown.py [--tokens N] [--rounds N]

Times, per call and on distinct tokens exactly like ``run.py``'s warm section, the verifier's request
path cut after each step (split, payload, signature, everything but the signature primitive), the
primitive alone (the floor), the check the verifier makes in its place (``_checkers.py``: the same
verdict, without the hash context ``verify`` builds), the floor followed by the Python steps in one
call, and the whole ``Verifier.verify``, with and without the speedups extra. Then the adapter's steps
on HTTP API 2.0 events: token extraction (``bearer_token``, and ``sent_bearer``, what a ``Verifier`` is
handed), identity construction, the context variable, ``require_auth`` + ``require_scope`` around a
verifier that hands back claims it verified beforehand (the decorator's own cost, on the
``bearer_token`` path such a verifier takes), and the sample handler body.
Differences between rows are the cost of each step. For the people tuning the hot path; the README's
table comes from ``run.py``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import AUDIENCE, ISSUER, Context, event_template, events_for, mint_tokens, time_calls
from benchmarks.warm import decorated_handler, floor_function, speedups_in_use


class _Holder:
    def __init__(self, claims: Any) -> None:
        self.identity_context = _Claims(claims)


class _Claims:
    def __init__(self, claims: Any) -> None:
        self.claims = claims


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)

    from serverless_jwt import claims as claims_module
    from serverless_jwt import token as token_module
    from serverless_jwt.dev.issuer import DevIssuer
    from serverless_jwt.verifier import Verifier

    with DevIssuer(audience=AUDIENCE) as dev:
        tokens = mint_tokens(dev, "RS256", args.tokens, iss=ISSUER)
        jwks = dev.jwks()
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"], jwks=jwks,
                        verified_cache_size=0)
    verifier.verify(tokens.tokens[0])  # the header's plan exists from now on, as in a warm container
    floor = floor_function(tokens)
    ours = verifier._plans[token_module.split(tokens.tokens[0])[1]][1][0]  # the plan's signature check

    def our_check(pair: tuple[bytes, bytes]) -> bool:
        return bool(ours(*pair))
    policy, keys, now = verifier._policy, verifier._keys, time.time()

    def split(token: str) -> Any:
        return token_module.split(token)

    def payload(token: str) -> Any:
        return token_module.decode_payload(token_module.split(token)[2])

    def payload_signature(token: str) -> Any:
        _, _, p64, s64 = token_module.split(token)
        return token_module.decode_payload(p64), token_module.decode_signature(s64)

    def all_but_primitive(token: str) -> None:
        _, h64, p64, s64 = token_module.split(token)
        claims = token_module.decode_payload(p64)
        token_module.decode_signature(s64)
        plan = verifier._plans[h64]
        keys.prefetch()
        assert plan[0] == keys.generation
        claims_module.check_claims(claims, policy, now)

    indexes = list(range(len(tokens.tokens)))

    def python_then_primitive(i: int) -> None:
        all_but_primitive(tokens.tokens[i])
        floor(tokens.pairs[i])

    from serverless_jwt import authz
    from serverless_jwt.adapters.events import bearer_token, sent_bearer
    from serverless_jwt.adapters.identity import _current, identity_from_claims

    events = events_for(tokens.tokens, event_template("me.json"))
    verified = {token: verifier.verify(token) for token in tokens.tokens}

    class Prepared:
        """A TokenVerifier answering claims verified above: what the decorator adds, without verify."""

        def verify(self, token: str) -> dict[str, Any]:
            return verified[token]

    context = Context()
    decorated = decorated_handler(Prepared())
    body = decorated.__wrapped__.__wrapped__  # type: ignore[attr-defined]  # the handler itself
    claims_list = list(verified.values())
    native = speedups_in_use()
    pure_rows = {"split + payload, no speedups", "Verifier.verify, no speedups"}

    rows: dict[str, tuple[Callable[[Any], Any], Sequence[Any]]] = {
        "empty call (subtracted)": (lambda _x: None, tokens.tokens),
        "raw verify (floor)": (floor, tokens.pairs),
        "the Verifier's signature check (RFC 8017 encode and compare)": (our_check, tokens.pairs),
        "split": (split, tokens.tokens),
        "split + payload": (payload, tokens.tokens),
        "split + payload + signature decode": (payload_signature, tokens.tokens),
        "all Python steps, no primitive": (all_but_primitive, tokens.tokens),
        "all Python steps, then the primitive": (python_then_primitive, indexes),
        "Verifier.verify": (verifier.verify, tokens.tokens),
        "split + payload, no speedups": (payload, tokens.tokens),
        "Verifier.verify, no speedups": (verifier.verify, tokens.tokens),
        "adapter: bearer_token(event) (any other verifier)": (bearer_token, events),
        "adapter: sent_bearer(event) (a Verifier: its parser checks)": (sent_bearer, events),
        "adapter: identity_from_claims": (
            lambda c: identity_from_claims(c, "t", authz.DEFAULT_ROLES_PATH), claims_list),
        "adapter: current_identity() set + reset": (lambda c: _current.reset(_current.set(c)), claims_list),
        "adapter: Prepared.verify alone": (Prepared().verify, tokens.tokens),
        "adapter: require_auth + require_scope, prepared claims": (lambda e: decorated(e, context), events),
        "handler body alone (json.dumps of the claims)": (
            lambda c: body({"headers": {}}, _Holder(c)), claims_list),
    }
    samples: dict[str, list[int]] = {name: [] for name in rows}
    gc.disable()
    try:
        for _ in range(args.rounds):
            for name, (fn, inputs) in rows.items():
                pure = name in pure_rows
                if pure:
                    token_module.use_speedups(False)  # the whole row on the standard-library parser
                try:
                    samples[name].extend(time_calls(fn, inputs))
                finally:
                    if pure:
                        token_module.use_speedups(native)
    finally:
        gc.enable()
    empty = statistics.median(samples["empty call (subtracted)"])
    print(f"RS256, {len(tokens.tokens)} distinct tokens x {args.rounds} rounds, median per call:")
    for name, values in samples.items():
        print(f"  {name:62s} {(statistics.median(values) - empty) / 1000:6.2f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
