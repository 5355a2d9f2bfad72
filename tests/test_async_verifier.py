"""AsyncVerifier: Verifier's answers and cache rules, with every key fetch off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serverless_jwt import AsyncVerifier, MultiIssuerVerifier, Verifier
from serverless_jwt.dev.issuer import DISCOVERY_PATH, JWKS_PATH, DevIssuer
from serverless_jwt.errors import (
    AuthError,
    ConfigurationError,
    KeysUnavailableError,
    TokenExpiredError,
    UnknownKeyError,
)
from serverless_jwt.jwks import clear_shared_cache


def verifier_for(issuer: DevIssuer, **options: Any) -> AsyncVerifier:
    return AsyncVerifier(Verifier(issuer=issuer.issuer, audience=issuer.audience, **options))


async def verify_while_loop_runs(verifier: AsyncVerifier, tokens: list[str],
                                 issuer: DevIssuer | None = None) -> tuple[list[Any], int]:
    """Verify concurrently; count how often another coroutine ran while discovery was in progress."""
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            # Discovery asked, JWKS not yet: the key fetch is under way, and this coroutine still runs.
            if issuer is not None and issuer.requests[DISCOVERY_PATH] and not issuer.requests[JWKS_PATH]:
                ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    results = await asyncio.gather(*(verifier.verify(t) for t in tokens), return_exceptions=True)
    done.set()
    await ticking
    return results, ticks


def test_concurrent_cold_requests_share_one_fetch_and_the_loop_keeps_running(jwt_issuer: DevIssuer) -> None:
    jwt_issuer.fault, jwt_issuer.slow_seconds, jwt_issuer.fault_paths = "slow", 0.5, {DISCOVERY_PATH}
    verifier = verifier_for(jwt_issuer)
    tokens = [jwt_issuer.mint(sub=f"user-{i}") for i in range(10)]
    results, ticks = asyncio.run(verify_while_loop_runs(verifier, tokens, jwt_issuer))
    assert [r["sub"] for r in results] == [f"user-{i}" for i in range(10)]
    assert (jwt_issuer.requests[DISCOVERY_PATH], jwt_issuer.requests[JWKS_PATH]) == (1, 1)
    # A blocking fetch would have frozen the ticker until the JWKS had been fetched.
    assert ticks > 0


def test_issuer_down_at_cold_start_is_keys_unavailable_after_one_attempt_each_at_most(
        jwt_issuer: DevIssuer) -> None:
    jwt_issuer.fault = "503"
    verifier = verifier_for(jwt_issuer)
    token = jwt_issuer.mint()
    results, _ = asyncio.run(verify_while_loop_runs(verifier, [token] * 5))
    assert all(isinstance(r, KeysUnavailableError) for r in results)
    # A request joins the fetch in flight or starts one, then answers 503: never a retry of its own.
    # (How many share one fast 503 depends on thread scheduling; the stalled case below pins sharing.)
    assert 1 <= jwt_issuer.requests[DISCOVERY_PATH] <= 5
    jwt_issuer.fault = None
    assert asyncio.run(verifier.verify(token))["sub"] == "dev-user"  # the next request succeeds at once


def test_requests_during_a_failing_cold_fetch_share_it(jwt_issuer: DevIssuer) -> None:
    # The issuer stalls past the 0.3 s budget: every request arrives while the one fetch is in flight.
    jwt_issuer.fault, jwt_issuer.slow_seconds, jwt_issuer.fault_paths = "slow", 2.0, {DISCOVERY_PATH}
    verifier = verifier_for(jwt_issuer, timeout_seconds=0.3)
    results, _ = asyncio.run(verify_while_loop_runs(verifier, [jwt_issuer.mint()] * 5))
    assert all(isinstance(r, KeysUnavailableError) for r in results)
    assert jwt_issuer.requests[DISCOVERY_PATH] == 1


def test_total_deadline_bounds_a_stalled_issuer(jwt_issuer: DevIssuer) -> None:
    # The issuer would answer after 2 s; the 0.3 s budget ends the wait with a 503 instead.
    jwt_issuer.fault, jwt_issuer.slow_seconds = "slow", 2.0
    verifier = verifier_for(jwt_issuer, timeout_seconds=0.3)
    with pytest.raises(KeysUnavailableError):
        asyncio.run(verifier.verify(jwt_issuer.mint()))


def test_stale_keys_are_served_while_the_issuer_is_down(jwt_issuer: DevIssuer) -> None:
    verifier = verifier_for(jwt_issuer, jwks_max_age_seconds=0.2, verified_cache_size=0)
    assert asyncio.run(verifier.verify(jwt_issuer.mint(sub="a")))["sub"] == "a"
    time.sleep(0.3)  # the keys are now stale, well within the 24 h stale window
    jwt_issuer.fault = "503"
    before = jwt_issuer.requests[JWKS_PATH]
    assert asyncio.run(verifier.verify(jwt_issuer.mint(sub="b")))["sub"] == "b"
    deadline = time.monotonic() + 5
    while jwt_issuer.requests[JWKS_PATH] == before and time.monotonic() < deadline:
        time.sleep(0.02)  # the refresh runs in the background
    assert jwt_issuer.requests[JWKS_PATH] == before + 1


def test_a_rotated_key_is_fetched_off_the_loop(jwt_issuer: DevIssuer) -> None:
    verifier = verifier_for(jwt_issuer)
    assert asyncio.run(verifier.verify(jwt_issuer.mint()))
    jwt_issuer.rotate()
    assert asyncio.run(verifier.verify(jwt_issuer.mint(sub="rotated")))["sub"] == "rotated"


def test_bad_tokens_fail_as_with_verify(jwt_issuer: DevIssuer) -> None:
    verifier = verifier_for(jwt_issuer)
    with pytest.raises(TokenExpiredError):
        asyncio.run(verifier.verify(jwt_issuer.mint(now=0, lifetime_seconds=60)))


def test_a_cancelled_request_does_not_cancel_the_shared_fetch(jwt_issuer: DevIssuer) -> None:
    jwt_issuer.fault, jwt_issuer.slow_seconds, jwt_issuer.fault_paths = "slow", 0.3, {DISCOVERY_PATH}
    verifier = verifier_for(jwt_issuer)
    token = jwt_issuer.mint()

    async def scenario() -> Mapping[str, Any]:
        first = asyncio.create_task(verifier.verify(token))
        second = asyncio.create_task(verifier.verify(token))
        await asyncio.sleep(0.05)
        first.cancel()
        return await second

    assert asyncio.run(scenario())["sub"] == "dev-user"
    assert jwt_issuer.requests[DISCOVERY_PATH] == 1


def test_other_verifiers_run_in_a_worker_thread() -> None:
    class Custom:
        def verify(self, token: str) -> dict[str, Any]:
            return {"thread": threading.current_thread() is threading.main_thread(), "token": token}

    assert asyncio.run(AsyncVerifier(Custom()).verify("t")) == {"thread": False, "token": "t"}
    with pytest.raises(ConfigurationError):
        AsyncVerifier(object())


def test_multi_issuer_verifier_fetches_each_issuer_off_the_loop(jwt_issuer: DevIssuer) -> None:
    from serverless_jwt import MultiIssuerVerifier

    with DevIssuer() as other:
        other.fault, other.slow_seconds, other.fault_paths = "slow", 0.3, {DISCOVERY_PATH}
        verifier = AsyncVerifier(MultiIssuerVerifier([
            Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience),
            Verifier(issuer=other.issuer, audience=other.audience)]))
        tokens = [jwt_issuer.mint(sub="a"), other.mint(sub="b"), other.mint(sub="c")]
        results, ticks = asyncio.run(verify_while_loop_runs(verifier, tokens, other))
        assert [r["sub"] for r in results] == ["a", "b", "c"]
        assert (other.requests[DISCOVERY_PATH], jwt_issuer.requests[DISCOVERY_PATH]) == (1, 1)
        assert ticks > 0


def test_a_fetch_that_finishes_before_it_is_registered_never_deadlocks() -> None:
    # A step can finish before _start attaches its done-callback; the callback then runs at once in
    # the caller's thread and must not wait for a lock the caller still holds (a hang seen under load).
    from serverless_jwt import async_verifier

    finished = threading.Event()

    def many_starts() -> None:
        for n in range(3000):
            async_verifier._start(("instant", n % 3), lambda: None).result(timeout=5)
        finished.set()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to hit the window
    try:
        thread = threading.Thread(target=many_starts, daemon=True)
        thread.start()
        thread.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert finished.is_set(), "_start deadlocked on a step that had already finished"
    assert not any(key[0] == "instant" for key in async_verifier._INFLIGHT if isinstance(key, tuple))


def test_an_unknown_kid_at_a_cold_start_waits_for_one_fetch_not_two(jwt_issuer: DevIssuer) -> None:
    verifier = verifier_for(jwt_issuer)
    with pytest.raises(UnknownKeyError):
        asyncio.run(verifier.verify(jwt_issuer.mint(kid="not-published")))
    assert jwt_issuer.requests[JWKS_PATH] == 1
    with pytest.raises(UnknownKeyError):  # the next such token may refetch, as the cool-down allows
        asyncio.run(verifier.verify(jwt_issuer.mint(kid="not-published-either")))
    assert jwt_issuer.requests[JWKS_PATH] == 2


def test_hung_issuers_do_not_hold_up_another_issuers_fetch(jwt_issuer: DevIssuer) -> None:
    from serverless_jwt import MultiIssuerVerifier

    with contextlib.ExitStack() as stack:
        hung = [stack.enter_context(DevIssuer()) for _ in range(10)]  # more than a small pool's workers
        for other in hung:
            other.fault, other.slow_seconds = "slow", 3.0
        verifier = AsyncVerifier(MultiIssuerVerifier(
            [Verifier(issuer=i.issuer, audience=i.audience, timeout_seconds=1.5) for i in hung]
            + [Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)]))

        async def scenario() -> tuple[Mapping[str, Any], list[bool]]:
            stuck = [asyncio.create_task(verifier.verify(i.mint())) for i in hung]
            await asyncio.sleep(0.2)  # every hung fetch is under way
            claims = await verifier.verify(jwt_issuer.mint(sub="healthy"))
            still_waiting = [not task.done() for task in stuck]
            await asyncio.gather(*stuck, return_exceptions=True)
            return claims, still_waiting

        claims, still_waiting = asyncio.run(scenario())
        assert claims["sub"] == "healthy"
        # Its fetch did not queue behind theirs: it finished while all of them were still waiting.
        assert all(still_waiting)


def test_a_retry_after_is_honoured_at_a_cold_start_without_a_fetch_per_request(jwt_issuer: DevIssuer) -> None:
    jwt_issuer.fault, jwt_issuer.retry_after = "429", "30"
    verifier = verifier_for(jwt_issuer)
    waits = []
    for _ in range(20):
        with pytest.raises(KeysUnavailableError) as refused:
            asyncio.run(verifier.verify(jwt_issuer.mint()))
        waits.append(refused.value.retry_after_seconds)
    assert jwt_issuer.requests[DISCOVERY_PATH] == 1
    assert 28 <= min(waits) <= max(waits) <= 30  # the issuer's wait, passed on to our clients


def test_a_cold_outage_says_retry_at_once_as_on_the_sync_path(jwt_issuer: DevIssuer) -> None:
    # Nothing cached: each request fetches again (one at a time), so a client may come back at once.
    jwt_issuer.fault = "500"
    verifier = verifier_for(jwt_issuer)
    for _ in range(3):
        with pytest.raises(KeysUnavailableError) as refused:
            asyncio.run(verifier.verify(jwt_issuer.mint()))
        assert refused.value.retry_after_seconds == 1


def test_with_no_key_to_be_had_a_token_failing_its_claims_is_a_401_as_on_the_sync_path(
        jwt_issuer: DevIssuer) -> None:
    from serverless_jwt import MultiIssuerVerifier
    from serverless_jwt.errors import InvalidClaimError

    jwt_issuer.fault = "503"
    single = verifier_for(jwt_issuer)
    multi = AsyncVerifier(MultiIssuerVerifier([
        Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)]))

    async def outcome(verifier: AsyncVerifier, token: str) -> type[BaseException]:
        try:
            await verifier.verify(token)
        except Exception as exc:  # the type is the result
            return type(exc)
        return type(None)

    async def main() -> list[type[BaseException]]:
        expired = jwt_issuer.mint(now=time.time() - 7200)
        return [await outcome(single, expired), await outcome(multi, expired),
                await outcome(single, jwt_issuer.mint(audience="someone-else")),
                await outcome(single, jwt_issuer.mint())]

    assert asyncio.run(main()) == [TokenExpiredError, TokenExpiredError, InvalidClaimError,
                                   KeysUnavailableError]


def test_a_request_cancelled_during_a_fetch_that_then_fails_leaves_no_unretrieved_exception(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The step a request waits for may raise (a stored secret that cannot be read, a kid refetch that
    # leaves nothing servable). A request cancelled meanwhile (a client gone, asyncio.wait_for) must
    # not leave that exception on its abandoned future: the loop would log "Future exception was never
    # retrieved" for every such request, though nothing went wrong but the outage itself.
    import gc

    from serverless_jwt import async_verifier
    from serverless_jwt.secret_store import StoredSecretKeys

    started, release = threading.Event(), threading.Event()

    def store(reference: str) -> str:
        started.set()
        release.wait(10)
        raise OSError("the store is down")

    verifier = Verifier(secrets=["x" * 32])
    monkeypatch.setattr(verifier, "_keys", StoredSecretKeys("ssm:/jwt/secret", algorithms=["HS256"],
                                                            fetch=store))
    token = jwt.encode({"sub": "u", "exp": int(time.time()) + 60}, "x" * 32, algorithm="HS256")

    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        logged: list[str] = []
        loop.set_exception_handler(lambda _, context: logged.append(context["message"]))
        request = asyncio.create_task(AsyncVerifier(verifier).verify(token))
        await loop.run_in_executor(None, started.wait, 10)  # the request awaits the fetch under way
        assert (verifier._keys, 1) in async_verifier._INFLIGHT  # its first read's step
        fetching = [t for t in threading.enumerate() if t.name == "serverless-jwt-keys"]
        request.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await request
        release.set()
        for thread in fetching:  # the step has raised and handed its outcome to the loop
            await loop.run_in_executor(None, thread.join, 10)
        await asyncio.sleep(0)  # the abandoned future receives it
        gc.collect()
        return logged

    assert asyncio.run(scenario()) == []


def test_an_unknown_kid_waits_for_one_refetch_even_with_a_short_cool_down(jwt_issuer: DevIssuer) -> None:
    # A cool-down shorter than a fetch (or none) allows a refetch again once ours has landed; the
    # request must still not refetch for itself again and again (the sync path fetches once).
    verifier = verifier_for(jwt_issuer, unknown_kid_cooldown_seconds=0)
    asyncio.run(verifier.verify(jwt_issuer.mint()))
    assert jwt_issuer.requests[JWKS_PATH] == 1
    with pytest.raises(UnknownKeyError):
        asyncio.run(verifier.verify(jwt_issuer.mint(kid="not-published")))
    assert jwt_issuer.requests[JWKS_PATH] == 2
    with pytest.raises(UnknownKeyError):
        verifier.verifier.verify(jwt_issuer.mint(kid="not-published"))
    assert jwt_issuer.requests[JWKS_PATH] == 3


def test_an_unknown_kid_that_cannot_wait_for_another_verifiers_fetch_is_a_503_as_on_the_sync_path(
        jwt_issuer: DevIssuer) -> None:
    # Two verifiers of one issuer share its fetch lock, not their deadlines. While the patient one's
    # refetch hangs, the hurried one's gives up waiting: the kid may be in the set on its way (503),
    # which the sync path answers and the async one must too, not a 401 that discards the token.
    patient = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience, timeout_seconds=30)
    hurried = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience, timeout_seconds=0.2)
    patient.verify(jwt_issuer.mint())
    jwt_issuer.fault, jwt_issuer.fault_paths, jwt_issuer.slow_seconds = "slow", {JWKS_PATH}, 2

    def refetch() -> None:
        with contextlib.suppress(UnknownKeyError):
            patient.verify(jwt_issuer.mint(kid="new-1"))

    fetching = threading.Thread(target=refetch, daemon=True)
    fetching.start()
    while jwt_issuer.requests[JWKS_PATH] < 2:  # the patient refetch is on the wire, holding the lock
        time.sleep(0.01)
    token = jwt_issuer.mint(kid="new-2")
    with pytest.raises(KeysUnavailableError):
        hurried.verify(token)
    with pytest.raises(KeysUnavailableError):
        asyncio.run(AsyncVerifier(hurried).verify(token))
    # As on the sync path, a token whose own claims fail is a 401 even then.
    with pytest.raises(TokenExpiredError):
        asyncio.run(AsyncVerifier(hurried).verify(jwt_issuer.mint(kid="new-3", lifetime_seconds=-3600)))
    fetching.join()


def test_requests_for_a_new_kid_arriving_during_its_refetch_wait_for_it_as_threads_do(
        jwt_issuer: DevIssuer) -> None:
    # A rotation: the first token with the new kid refetches; others with it arrive while that fetch is
    # on the wire. Threads wait on the fetch lock and are admitted from the set it brings; coroutines
    # were answered 401 at once (the cool-down had just been spent), their valid tokens discarded.
    verifier = verifier_for(jwt_issuer)
    asyncio.run(verifier.verify(jwt_issuer.mint()))
    jwt_issuer.rotate()
    jwt_issuer.fault, jwt_issuer.fault_paths, jwt_issuer.slow_seconds = "slow", {JWKS_PATH}, 1
    tokens = [jwt_issuer.mint(sub=f"user-{n}") for n in range(10)]

    async def scenario() -> list[Any]:
        first = asyncio.create_task(verifier.verify(tokens[0]))
        while jwt_issuer.requests[JWKS_PATH] < 2:  # its refetch is on the wire
            await asyncio.sleep(0.01)
        rest = await asyncio.gather(*(verifier.verify(t) for t in tokens[1:]), return_exceptions=True)
        return [await first, *rest]

    results = asyncio.run(scenario())
    assert [r["sub"] if isinstance(r, Mapping) else r for r in results] == [f"user-{n}" for n in range(10)]
    assert jwt_issuer.requests[JWKS_PATH] == 2  # one refetch, shared


_STEPS = ("valid", "valid_es256", "unknown_kid", "expired", "other_audience", "other_issuer",
          "foreign_key", "rotate", "rotate_keeping_old", "replay_first", "replay_last")


def _verdicts(kind: str, steps: list[str]) -> list[str]:
    """Each step's verdict (and the JWKS fetches) with a fresh issuer, cache and verifier of ``kind``."""
    clear_shared_cache()
    verdicts, sent = [], []
    with DevIssuer() as dev:
        verifier = Verifier(issuer=dev.issuer, audience=dev.audience)
        front = {"sync": verifier, "multi": MultiIssuerVerifier([verifier])}.get(kind)
        minting = {"valid": dev.mint, "valid_es256": lambda: dev.mint(alg="ES256"),
                   "unknown_kid": lambda: dev.mint(kid="not-published"),
                   "expired": lambda: dev.mint(lifetime_seconds=-3600),
                   "other_audience": lambda: dev.mint(audience="another-api"),
                   "other_issuer": lambda: dev.mint(issuer="https://other.example"),
                   "foreign_key": dev.mint_with_foreign_key}
        for step in steps:
            if step.startswith("rotate"):
                dev.rotate(keep_old=step == "rotate_keeping_old")
                continue
            if step.startswith("replay") and not sent:
                continue
            token = minting[step]() if step in minting else sent[0 if step == "replay_first" else -1]
            sent.append(token)
            try:
                if front is not None:
                    front.verify(token)
                else:
                    asyncio.run(AsyncVerifier(verifier).verify(token))
                verdicts.append("ok")
            except AuthError as err:
                verdicts.append(type(err).__name__)
        verdicts.append(f"{dev.requests[JWKS_PATH]} fetches")
    return verdicts


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_STEPS), min_size=1, max_size=10))
def test_verifier_multi_issuer_and_async_give_the_same_verdicts_and_fetches(steps: list[str]) -> None:
    # One code path, three fronts: caches, plans, rotation and unknown-kid refetches must not make any of
    # them answer (or fetch) differently for the same tokens in the same order.
    expected = _verdicts("sync", steps)
    assert _verdicts("multi", steps) == expected
    assert _verdicts("async", steps) == expected


def test_a_background_refresh_fetches_even_where_threads_inherit_the_starters_context(
        jwt_issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Python 3.14's free-threaded build (and -X thread_inherit_context=1) starts a thread with a copy of
    # its starter's context variables. The stale-keys refresh is started while the request's scheduler
    # is set; inherited, the refresh took itself for a request on the loop, handed itself to the
    # scheduler, and ended without a fetch: stale keys until the stale window closed, no rotation seen.
    import contextvars

    class InheritingThread(threading.Thread):
        def start(self) -> None:
            self._starter_context = contextvars.copy_context()
            super().start()

        def run(self) -> None:
            self._starter_context.run(super().run)

    verifier = verifier_for(jwt_issuer, jwks_max_age_seconds=0.2, verified_cache_size=0)
    asyncio.run(verifier.verify(jwt_issuer.mint(sub="a")))
    time.sleep(0.3)  # the keys are now stale, well within the stale window
    monkeypatch.setattr(threading, "Thread", InheritingThread)
    assert asyncio.run(verifier.verify(jwt_issuer.mint(sub="b")))["sub"] == "b"
    for thread in threading.enumerate():  # the background refresh, done
        if thread.name == "serverless-jwt-keys":
            thread.join(10)
    assert jwt_issuer.requests[JWKS_PATH] == 2


def test_a_cold_request_waits_for_another_verifiers_fetch_only_within_its_own_deadline(
        jwt_issuer: DevIssuer) -> None:
    # Two verifiers of one issuer share its fetch, not their deadlines. A thread of the hurried one
    # waits for the patient one's fetch within its own budget, then answers 503; its coroutine joined
    # that fetch and waited for all of it, however long the patient verifier's budget.
    patient = verifier_for(jwt_issuer, timeout_seconds=30)
    hurried = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience, timeout_seconds=0.2)
    jwt_issuer.fault, jwt_issuer.fault_paths, jwt_issuer.slow_seconds = "slow", {DISCOVERY_PATH}, 2
    token = jwt_issuer.mint()

    async def scenario() -> tuple[Any, Any, Any]:
        fetching = asyncio.create_task(patient.verify(token))
        while not jwt_issuer.requests[DISCOVERY_PATH]:  # the patient fetch is on the wire
            await asyncio.sleep(0.01)
        loop = asyncio.get_running_loop()
        on_thread, on_loop = await asyncio.gather(loop.run_in_executor(None, hurried.verify, token),
                                                  AsyncVerifier(hurried).verify(token),
                                                  return_exceptions=True)
        # Answered while the patient fetch is still under way; that one then lands for everyone.
        answered_first = not fetching.done()
        return on_thread, on_loop, (answered_first, (await fetching)["sub"])

    on_thread, on_loop, patient_outcome = asyncio.run(scenario())
    assert isinstance(on_thread, KeysUnavailableError)
    assert isinstance(on_loop, KeysUnavailableError)
    assert patient_outcome == (True, "dev-user")
    assert jwt_issuer.requests[DISCOVERY_PATH] == 1  # joined, never a fetch of its own
    assert asyncio.run(AsyncVerifier(hurried).verify(token))["sub"] == "dev-user"  # the keys it brought


def test_a_new_kid_waits_for_another_verifiers_refetch_only_within_its_own_deadline(
        jwt_issuer: DevIssuer) -> None:
    # As above, for the refetch an unknown kid starts: past its own budget the hurried request answers
    # 503 (the kid may be in the set on its way), as its thread would, and the refetch serves it next.
    patient = verifier_for(jwt_issuer, timeout_seconds=30)
    hurried = verifier_for(jwt_issuer, timeout_seconds=0.2)
    asyncio.run(patient.verify(jwt_issuer.mint()))
    jwt_issuer.rotate()
    jwt_issuer.fault, jwt_issuer.fault_paths, jwt_issuer.slow_seconds = "slow", {JWKS_PATH}, 2
    token = jwt_issuer.mint(sub="rotated")

    async def scenario() -> tuple[Any, bool, str]:
        refetching = asyncio.create_task(patient.verify(token))
        while jwt_issuer.requests[JWKS_PATH] < 2:  # the patient refetch is on the wire
            await asyncio.sleep(0.01)
        outcome = await asyncio.gather(hurried.verify(token), return_exceptions=True)
        return outcome[0], not refetching.done(), (await refetching)["sub"]

    hurried_outcome, answered_first, patient_sub = asyncio.run(scenario())
    assert isinstance(hurried_outcome, KeysUnavailableError)
    assert (answered_first, patient_sub) == (True, "rotated")
    assert asyncio.run(hurried.verify(token))["sub"] == "rotated"
    assert jwt_issuer.requests[JWKS_PATH] == 2


def test_a_request_cancelled_before_its_fetch_thread_runs_leaves_the_shared_fetch_to_the_others(
        jwt_issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # The shared fetch can be cancelled until its thread begins the step. A request cancelled in that
    # window (a client gone at once, asyncio.wait_for) must not cancel it for the requests that joined:
    # awaiting the fetch in any way that cancels it with the request (wait_for, a bare await) answered
    # them 503 with the issuer up and no fetch made. The fetch thread here starts when the test says.
    held: list[threading.Thread] = []
    start = threading.Thread.start

    class HeldThread(threading.Thread):
        def start(self) -> None:
            if self.name == "serverless-jwt-keys":
                held.append(self)
            else:
                start(self)

    verifier = verifier_for(jwt_issuer)
    token = jwt_issuer.mint()
    monkeypatch.setattr(threading, "Thread", HeldThread)

    async def scenario() -> tuple[int, Mapping[str, Any]]:
        first = asyncio.create_task(verifier.verify(token))
        second = asyncio.create_task(verifier.verify(token))
        await asyncio.sleep(0)  # both ran up to their wait: one started the fetch, the other joined it
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        for thread in held:
            start(thread)
        return len(held), await second

    fetch_threads, claims = asyncio.run(scenario())
    assert (fetch_threads, claims["sub"]) == (1, "dev-user")
    assert (jwt_issuer.requests[DISCOVERY_PATH], jwt_issuer.requests[JWKS_PATH]) == (1, 1)


class _HeldJwks:
    """A JWKS endpoint that holds every request until ``release`` is set; counts requests, and the most
    it had in hand at once."""

    def __init__(self, dev: DevIssuer) -> None:
        self.arrived, self.release = threading.Event(), threading.Event()
        self.requests = self.in_hand = self.most_at_once = 0
        counting, held = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                with counting:
                    held.requests += 1
                    held.in_hand += 1
                    held.most_at_once = max(held.most_at_once, held.in_hand)
                held.arrived.set()
                held.release.wait(30)
                body = json.dumps(dev.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with counting:
                    held.in_hand -= 1

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"

    def __enter__(self) -> _HeldJwks:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


def test_requests_giving_up_on_another_verifiers_fetch_never_fetch_for_themselves(
        jwt_issuer: DevIssuer) -> None:
    # While a patient verifier's fetch is held at the issuer, a hurried verifier's requests (coroutines
    # and threads, one of them cancelled) each give up within their own deadline with the thread's 503,
    # and none starts a fetch of its own: the issuer sees one request, never two at once, and the
    # patient requests (one cancelled: it started the fetch) are answered from it, as is the next one.
    with _HeldJwks(jwt_issuer) as held:
        patient = verifier_for(jwt_issuer, jwks_uri=held.url, timeout_seconds=30)
        hurried = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience, jwks_uri=held.url,
                           timeout_seconds=0.2)
        token = jwt_issuer.mint()

        async def scenario() -> tuple[list[Any], list[Any]]:
            loop = asyncio.get_running_loop()
            waiting = [asyncio.create_task(patient.verify(token)) for _ in range(3)]
            await loop.run_in_executor(None, held.arrived.wait, 10)
            gone = asyncio.create_task(AsyncVerifier(hurried).verify(token))
            await asyncio.sleep(0)  # it joined the fetch
            gone.cancel()
            answers: list[Any] = [gone]
            for _ in range(3):
                answers += await asyncio.gather(*(AsyncVerifier(hurried).verify(token) for _ in range(5)),
                                                loop.run_in_executor(None, hurried.verify, token),
                                                return_exceptions=True)
            waiting[0].cancel()
            held.release.set()
            return answers, await asyncio.gather(*waiting, return_exceptions=True)

        answers, results = asyncio.run(scenario())
        assert answers[0].cancelled()
        assert [type(a) for a in answers[1:]] == [KeysUnavailableError] * 18
        assert {a.retry_after_seconds for a in answers[1:]} == {1}  # nothing cached: retry at once
        assert [type(r) if isinstance(r, BaseException) else r["sub"] for r in results] == [
            asyncio.CancelledError, "dev-user", "dev-user"]
        assert asyncio.run(AsyncVerifier(hurried).verify(token))["sub"] == "dev-user"
        assert (held.requests, held.most_at_once) == (1, 1)


def test_a_fetch_thread_that_cannot_start_is_a_503_and_stale_keys_still_serve(
        jwt_issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Starting a thread fails when the process is out of threads (a container's pids limit, Lambda's
    # 1,024): "can't start new thread". The request then has no key to be had, which is a 503, not the
    # RuntimeError (a 500) it was; stale keys still serve, the refresh waiting for a later request; an
    # unknown kid whose refetch cannot run is a 503 (the kid may be the issuer's new key), not a 401.
    start = threading.Thread.start

    class NoThreads(threading.Thread):
        def start(self) -> None:
            if self.name == "serverless-jwt-keys":
                raise RuntimeError("can't start new thread")
            start(self)

    verifier = verifier_for(jwt_issuer, jwks_max_age_seconds=0.2, verified_cache_size=0)
    token = jwt_issuer.mint(sub="a")
    monkeypatch.setattr(threading, "Thread", NoThreads)
    with pytest.raises(KeysUnavailableError):
        asyncio.run(verifier.verify(token))
    assert asyncio.run(verifier.prefetch()) is False
    assert jwt_issuer.requests[JWKS_PATH] == 0
    monkeypatch.undo()
    assert asyncio.run(verifier.verify(token))["sub"] == "a"
    time.sleep(0.3)  # the keys are now stale, well within the stale window
    monkeypatch.setattr(threading, "Thread", NoThreads)
    assert asyncio.run(verifier.verify(jwt_issuer.mint(sub="b")))["sub"] == "b"
    jwt_issuer.rotate()
    with pytest.raises(KeysUnavailableError):
        asyncio.run(verifier.verify(jwt_issuer.mint(sub="rotated")))
    assert jwt_issuer.requests[JWKS_PATH] == 1
    monkeypatch.undo()
    assert asyncio.run(verifier.verify(jwt_issuer.mint(sub="rotated")))["sub"] == "rotated"


def test_another_verifier_whose_worker_thread_cannot_start_is_a_503_not_a_500(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A verifier of unknown cost runs in the loop's default executor; a worker thread that cannot start
    # there (out of threads: a pids limit) raised RuntimeError out of verify() (a 500). It is a 503 to
    # retry, as for the key fetch thread, and the verifier is not run for it.
    calls = []

    class Custom:
        def verify(self, token: str) -> dict[str, Any]:
            calls.append(token)
            return {"sub": "a"}

    start = threading.Thread.start

    class NoThreads(threading.Thread):
        def start(self) -> None:
            if self.name.startswith("asyncio"):  # the default executor's workers
                raise RuntimeError("can't start new thread")
            start(self)

    monkeypatch.setattr(threading, "Thread", NoThreads)
    with pytest.raises(KeysUnavailableError) as err:
        asyncio.run(AsyncVerifier(Custom()).verify("t"))
    assert (err.value.status, err.value.retry_after_seconds) == (503, 1)
    monkeypatch.undo()
    assert asyncio.run(AsyncVerifier(Custom()).verify("u")) == {"sub": "a"}
    assert calls == ["u"]


@pytest.mark.parametrize("front", ["sync", "async"])
def test_after_a_long_freeze_the_issuers_new_key_costs_one_fetch_and_an_outage_past_the_window_is_503(
        jwt_issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch, front: str) -> None:
    # Lambda thaws an environment hours after its last invocation (the cache clock moved on meanwhile):
    # the keys are stale, and the issuer rotated while it was frozen. The first token, under the new
    # kid, costs one fetch: the stale-keys refresh brings the key (on a loop: the kid's refetch waits
    # for that background refresh, no second fetch). Past the stale window with the issuer down, even a
    # token verified before (the verified-token cache) is a 503, never an admission by expired keys.
    from serverless_jwt.jwks import RemoteKeySource

    from .conftest import FakeClock

    clock = FakeClock()
    verifier = Verifier(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience)
    monkeypatch.setattr(verifier, "_keys", RemoteKeySource(
        issuer=jwt_issuer.issuer, jwks_uri=None, algorithms=["RS256"], clock=clock))

    def answer(token: str) -> Any:
        try:
            if front == "async":
                return asyncio.run(AsyncVerifier(verifier).verify(token))["sub"]
            return verifier.verify(token)["sub"]
        except AuthError as exc:
            return exc.status

    before = jwt_issuer.mint(sub="before")
    assert answer(before) == "before"
    clock.advance(2 * 3600)  # frozen two hours: stale, within the 24 h stale window
    jwt_issuer.rotate()
    assert answer(jwt_issuer.mint(sub="after")) == "after"
    for thread in threading.enumerate():  # the background refresh (async), done
        if thread.name == "serverless-jwt-keys":
            thread.join(10)
    assert jwt_issuer.requests[JWKS_PATH] == 2
    after = jwt_issuer.mint(sub="again")
    assert answer(after) == "again"
    clock.advance(600 + 86400)  # frozen past max age and the stale window
    jwt_issuer.fault = "500"
    assert answer(after) == 503  # cached as verified, and still refused: no servable keys
    assert jwt_issuer.requests[JWKS_PATH] == 3  # one fetch tried, within the deadline
    jwt_issuer.fault = None
    assert answer(after) == "again"  # the issuer is back: the next request fetches at once
    assert jwt_issuer.requests[JWKS_PATH] == 4
