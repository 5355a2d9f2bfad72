"""MemorySize enforced on a process tree: what Lambda's cgroup (and sam local's container limit) does."""

from __future__ import annotations

import subprocess
import sys

from serverless_jwt.dev._memory_watch import MemoryWatch, peak_mb

# A parent (standing in for the emulator) whose child (the runtime) allocates, forks `workers` processes
# that share those pages (multiprocessing's fork), holds the memory `hold` seconds, then reports it lived.
# A child past the limit is killed while it holds: the watch need not catch a moment.
_CHILD = """
import os, sys, time
held = b"x" * (int(sys.argv[1]) * 1024 * 1024)
workers = []
for _ in range(int(sys.argv[3])):
    pid = os.fork()
    if pid == 0:
        time.sleep(float(sys.argv[2]))
        os._exit(0)
    workers.append(pid)
time.sleep(float(sys.argv[2]))
for pid in workers:
    os.waitpid(pid, 0)
print("survived")
"""
_PARENT = ("import subprocess, sys; "
           "child = subprocess.run([sys.executable, '-c', sys.argv[1], *sys.argv[2:]], "
           "capture_output=True, text=True); "
           "print(child.returncode, child.stdout.strip())")


def _run_under_watch(allocate_mb: int, limit_mb: int, *, hold_seconds: float = 0.3,
                     workers: int = 0) -> tuple[MemoryWatch, str]:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, _CHILD, str(allocate_mb), str(hold_seconds),
                               str(workers)], stdout=subprocess.PIPE, text=True)
    with MemoryWatch(parent.pid, limit_mb) as watch:
        out, _ = parent.communicate(timeout=120)
    return watch, out.strip()


def test_a_child_growing_past_the_limit_is_killed_and_the_watch_says_so() -> None:
    watch, out = _run_under_watch(allocate_mb=400, limit_mb=128, hold_seconds=60)
    assert watch.enforced
    assert watch.exceeded
    assert out == "-9"  # SIGKILL, as the kernel's OOM killer ends a runtime in Lambda


def test_a_child_within_the_limit_runs_to_its_end() -> None:
    watch, out = _run_under_watch(allocate_mb=8, limit_mb=128)
    assert not watch.exceeded
    assert out == "0 survived"


def test_workers_sharing_the_runtimes_pages_count_them_once_as_lambdas_cgroup_does() -> None:
    # 60 MB held, then three forked workers: their resident sets add up to four times that, while the
    # pages they share are counted once by the cgroup (in Lambda the function runs on).
    watch, out = _run_under_watch(allocate_mb=60, limit_mb=128, hold_seconds=1, workers=3)
    assert not watch.exceeded
    assert out == "0 survived"


def test_peak_mb_is_the_most_the_processes_under_a_pid_held() -> None:
    # A parent whose child held 64 MB, then let it go, and stays alive for the reading.
    script = ("import subprocess, sys; child = subprocess.Popen([sys.executable, '-c', "
              "'held = b\"x\" * (64 * 1024 * 1024); del held; print(\"freed\", flush=True); "
              "import sys; sys.stdin.read()'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True); "
              "print(child.stdout.readline().strip(), flush=True); sys.stdin.read(); child.stdin.close(); "
              "child.wait()")
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "freed"
        peak = peak_mb(parent.pid)
    finally:
        assert parent.stdin is not None
        parent.stdin.close()
        parent.wait(timeout=60)
    assert peak is not None
    assert 64 <= peak < 256
