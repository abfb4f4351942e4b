"""Run one contender as a process and measure wall time and peak RSS of its whole process tree."""

import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

POLL_S = 0.02


@dataclass
class Measurement:
    """What one contender run took."""

    wall_s: float
    peak_rss: int
    stdout: str
    stderr: str


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants (processes that vanish count 0).

    A child started with vfork shares its parent's memory until it execs: Python's `subprocess`
    does this (Dagster's first run on an instance calls `uname` and `file` through `platform`),
    and counting that child would add the parent's whole RSS a second time (seen: 277 -> 362 MB
    in one sample). A child whose memory figures are its parent's, to the byte, is not counted.
    """
    try:
        family = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    memory: dict[int, tuple[Any, int]] = {}
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            memory[member.pid] = (member.memory_info(), member.ppid())
    total = 0
    for info, parent in memory.values():
        if parent in memory and memory[parent][0] == info:
            continue  # vforked, not yet exec'd: the parent's own pages
        total += info.rss
    return total


def on_cpus(cpus: set[int] | None) -> Callable[[], None] | None:
    """A `preexec_fn` that confines the child (and all it starts) to `cpus`; None: anywhere."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def run(
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    timeout_s: float,
    cpus: set[int] | None = None,
) -> Measurement:
    """Run `command` to completion, polling its tree's RSS; raise on a non-zero exit.

    With `cpus`, the command and its children run only there (`--pin`).
    """
    # Files, not pipes: a chatty contender (Dagster logs) must never block on a full pipe.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        child = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=err,
            text=True,
            preexec_fn=on_cpus(cpus),  # safe: the harness starts no threads
        )
        peak = _watch(child, timeout_s, started)
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise RuntimeError(f"{command[:3]} exited {child.returncode}: {stderr[-2000:]}")
    return Measurement(wall_s=wall, peak_rss=peak, stdout=stdout, stderr=stderr)


def _watch(child: subprocess.Popen[str], timeout_s: float, started: float) -> int:
    """Poll the child's tree RSS until it exits; the peak seen."""
    watched = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        peak = max(peak, tree_rss(watched))
        if time.monotonic() - started > timeout_s:
            child.kill()
            raise TimeoutError(f"{child.args!r} exceeded {timeout_s:.0f} s")
        time.sleep(POLL_S)
    return peak
