"""The benchmark's shared pieces that change what the report shows."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import warnings
from benchmarks._common import quiet_known_warnings

filters = list(warnings.filters)
quiet_known_warnings()
assert warnings.filters == filters, "the filters, and so each timed warn() call, must stay as they were"
import authlib.jose  # warns on import, under authlib's own "always" filter
from joserfc.errors import SecurityWarning

def decode():  # joserfc warns from the same line on every EdDSA decode
    warnings.warn("EdDSA is deprecated via RFC 9864", SecurityWarning, stacklevel=1)

decode()
decode()
warnings.warn("a notice of this run's own", UserWarning)
"""


def test_the_compared_libraries_notices_stay_out_of_the_report_and_others_still_show() -> None:
    if importlib.util.find_spec("authlib") is None or importlib.util.find_spec("joserfc") is None:
        pytest.skip("authlib and joserfc come with the dev extra")  # imported only in the child
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), str(ROOT)])}
    env.pop("PYTHONWARNINGS", None)
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert "deprecated" not in out.stderr
    assert "a notice of this run's own" in out.stderr
