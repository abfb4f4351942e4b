"""The allocator settings `definitions.py` applies, each in a process of its own."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETTINGS = ("ARROW_DEFAULT_MEMORY_POOL", "MALLOC_ARENA_MAX")

# Page bodies as an extraction makes them: 8 long-lived fetching threads take turns reading them,
# each followed by a smaller block that stays alive, and the reading thread frees the bodies.
CROSS_THREAD_FREES = """
import json, sys, threading
def rss(): return int(open("/proc/self/statm").read().split()[1]) * 4096
if sys.argv[1] == "lean":
    from connector.store.memory import lean_allocators
    lean_allocators()
first = bytearray(4 << 20); del first  # glibc raises its mmap threshold past a freed mapped block
bodies, kept = [], []
turns = [threading.Event() for _ in range(8)]
release, done = threading.Event(), threading.Semaphore(0)
def fetcher(turn):
    turn.wait()
    for _ in range(5):
        bodies.append(bytearray(800 << 10))
        kept.append(bytearray(64 << 10))
    done.release()
    release.wait()
threads = [threading.Thread(target=fetcher, args=(turn,)) for turn in turns]
for thread in threads:
    thread.start()
before = rss()
for turn in turns:
    turn.set()
    done.acquire()
    bodies.clear()
grown = (rss() - before) >> 20
release.set()
for thread in threads:
    thread.join()
print(json.dumps(grown))
"""


def run_python(code: str, *args: str, **env: str) -> str:
    """Run `code` in a new interpreter whose environment sets no allocator but `env`."""
    variables = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**variables, **env},
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


def test_definitions_route_arrow_through_the_system_allocator() -> None:
    code = "import definitions, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    assert run_python(code) == "system"


def test_a_process_that_loaded_pyarrow_first_switches_its_default_pool() -> None:
    code = (
        "import pyarrow as pa; from connector.store.memory import lean_allocators; "
        "lean_allocators(); print(pa.default_memory_pool().backend_name)"
    )
    assert run_python(code) == "system"


def test_the_environments_choice_wins() -> None:
    code = (
        "import json, definitions, pyarrow as pa, connector.store.memory as m; "
        "print(json.dumps([pa.default_memory_pool().backend_name, m.lean_allocators()]))"
    )
    chosen = {"ARROW_DEFAULT_MEMORY_POOL": "mimalloc", "MALLOC_ARENA_MAX": "4"}
    assert json.loads(run_python(code, **chosen)) == ["mimalloc", {}]


def test_bodies_freed_on_another_thread_are_reused_not_hoarded() -> None:
    grown_by_default = json.loads(run_python(CROSS_THREAD_FREES, "default"))
    grown_lean = json.loads(run_python(CROSS_THREAD_FREES, "lean"))
    assert grown_by_default >= 20  # each fetcher's arena keeps the bodies freed back into it
    assert grown_lean <= 12  # one arena: the next fetcher's bodies reuse them
