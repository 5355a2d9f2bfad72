"""A benchmark row (a function, its inputs, its samples) and the interleaved timing of a table of rows.

:func:`build_row` proves a row verifies its first input before it is timed; :func:`measure` runs
every row of every algorithm in interleaved rounds; :func:`results` and :func:`with_ratios` turn the
samples into medians and ratios to the floor. Used by :mod:`benchmarks.warm`, which re-exports these.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks._common import call_overhead_ns, short_error, summary_us, time_calls


@dataclass
class Row:
    name: str
    fn: Callable[[Any], Any] | None = None
    inputs: Sequence[Any] = ()
    reset: Callable[[], None] | None = None
    note: str | None = None  # why there is no number (n/a, or the error)
    pure: bool = False  # timed with the speedups switched off (token.use_speedups(False))
    samples: list[int] = field(default_factory=list)


def build_row(name: str, build: Callable[[], tuple[Callable[[Any], Any], Sequence[Any]]],
              ok: Callable[[Any], bool], reset: Callable[[], None] | None = None, *,
              pure: bool = False) -> Row:
    """Build a row and prove it verifies its first input; any failure becomes the row's note."""
    try:
        fn, inputs = build()
        with speedups_off(pure):
            result = fn(inputs[0])
        if not ok(result):
            return Row(name, note=f"error: unexpected result {str(result)[:80]!r}")
        if reset is not None:
            reset()
    except NotImplementedError as exc:
        return Row(name, note=f"n/a: {exc}")
    except ImportError as exc:
        return Row(name, note=f"n/a: {exc.name or 'a module'} is not installed")
    except Exception as exc:
        return Row(name, note=f"error: {short_error(exc)}")
    return Row(name, fn, inputs, reset, pure=pure)


@contextlib.contextmanager
def speedups_off(pure: bool) -> Iterator[None]:
    from serverless_jwt import token

    if not pure:
        yield
        return
    token.use_speedups(False)
    try:
        yield
    finally:
        token.use_speedups()


def speedups_in_use() -> bool:
    from serverless_jwt import token

    return (token._decode_json is not token._json_object
            or token._b64decode is not token._base64url.strict_decode)


BLOCK = 500  # calls per row before the next row takes over, within a round


def measure(table: dict[str, list[Row]], *, rounds: int, warmup: int) -> float:
    """Warm every row, then run ``rounds`` interleaved rounds; returns the loop overhead (ns).

    Within a round the rows take turns on blocks of :data:`BLOCK` calls (the order rotates each round),
    so every row, its floor among them, samples the same stretch of time: on a shared host the
    neighbours' load changes over seconds, and a row run whole in one stretch would carry it alone.
    """
    live = [(alg, row) for alg, rows in table.items() for row in rows if row.fn is not None]
    for _, row in live:
        assert row.fn is not None
        try:
            with speedups_off(row.pure):
                time_calls(row.fn, row.inputs[:warmup])
            if row.reset is not None:
                row.reset()
        except Exception as exc:
            row.fn, row.note = None, f"error: {short_error(exc)}"
    overhead = call_overhead_ns(range(2000))
    longest = max((len(row.inputs) for _, row in live), default=0)
    for r in range(rounds):
        order = [pair for pair in live if pair[1].fn is not None]
        shift = (r * 3) % len(order) if order else 0
        order = order[shift:] + order[:shift]
        for _, row in order:
            if row.reset is not None:
                row.reset()  # each round starts cold: a token is never a cache hit
        for start in range(0, longest, BLOCK):
            gc.collect()
            for _, row in order:
                block = row.inputs[start:start + BLOCK]
                if row.fn is None or not block:
                    continue
                try:
                    with speedups_off(row.pure):
                        row.samples.extend(time_calls(row.fn, block))
                except Exception as exc:
                    row.fn, row.note = None, f"error: {short_error(exc)}"
    return overhead


def results(table: dict[str, list[Row]], overhead: float) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for alg, rows in table.items():
        out[alg] = {}
        for row in rows:
            if row.note is None and row.samples:
                out[alg][row.name] = summary_us(row.samples, overhead)
            else:
                out[alg][row.name] = {"note": row.note or "no samples"}
    return out


def with_ratios(res: dict[str, dict[str, Any]], floors: Mapping[str, float]) -> None:
    """Add ``x_floor`` (this alg's floor) and ``x_rs256`` (the raw RS256 verify) to each median."""
    for alg, rows in res.items():
        for stats in rows.values():
            if "median_us" not in stats:
                continue
            if floors.get(alg):
                stats["x_floor"] = round(stats["median_us"] / floors[alg], 2)
            if floors.get("RS256"):
                stats["x_rs256"] = round(stats["median_us"] / floors["RS256"], 2)
