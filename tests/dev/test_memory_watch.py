"""MemorySize enforced on a process tree: what Lambda's cgroup (and sam local's container limit) does."""

from __future__ import annotations

import subprocess
import sys

from serverless_jwt.dev._memory_watch import MemoryWatch

# A parent (standing in for the emulator) whose child (the runtime) allocates, then reports it lived.
_PARENT = ("import subprocess, sys; child = subprocess.run([sys.executable, '-c', "
           "'import sys; held = b\"x\" * (int(sys.argv[1]) * 1024 * 1024); "
           "import time; time.sleep(0.3); print(\"survived\")', sys.argv[1]], "
           "capture_output=True, text=True); "
           "print(child.returncode, child.stdout.strip())")


def _run_under_watch(allocate_mb: int, limit_mb: int) -> tuple[MemoryWatch, str]:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(allocate_mb)], stdout=subprocess.PIPE,
                              text=True)
    with MemoryWatch(parent.pid, limit_mb) as watch:
        out, _ = parent.communicate(timeout=60)
    return watch, out.strip()


def test_a_child_growing_past_the_limit_is_killed_and_the_watch_says_so() -> None:
    watch, out = _run_under_watch(allocate_mb=400, limit_mb=128)
    assert watch.enforced
    assert watch.exceeded
    assert out == "-9"  # SIGKILL, as the kernel's OOM killer ends a runtime in Lambda


def test_a_child_within_the_limit_runs_to_its_end() -> None:
    watch, out = _run_under_watch(allocate_mb=8, limit_mb=128)
    assert not watch.exceeded
    assert out == "0 survived"
