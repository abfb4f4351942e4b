"""The allocator settings `definitions.py` applies, each in a process of its own."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETTINGS = ("ARROW_DEFAULT_MEMORY_POOL", "MALLOC_MMAP_THRESHOLD_")

# Page-body-sized blocks, each followed by a smaller one that outlives it: once freed, the big
# blocks sit between live ones, so only blocks mapped on their own can go back to the OS.
FREED_BLOCKS = """
import json, sys
def rss(): return int(open("/proc/self/statm").read().split()[1]) * 4096
if sys.argv[1] == "lean":
    from connector.memory import lean_allocators
    lean_allocators()
first = bytearray(4 << 20); del first  # glibc raises its threshold past a freed mapped block
before = rss()
big, small = [], []
for _ in range(40):
    big.append(bytearray(700 << 10))
    small.append(bytearray(100 << 10))
del big
print(json.dumps((rss() - before) >> 20))
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
        "import pyarrow as pa; from connector.memory import lean_allocators; lean_allocators(); "
        "print(pa.default_memory_pool().backend_name)"
    )
    assert run_python(code) == "system"


def test_the_environments_choice_wins() -> None:
    code = (
        "import json, definitions, pyarrow as pa, connector.memory as m; "
        "print(json.dumps([pa.default_memory_pool().backend_name, m.lean_allocators()]))"
    )
    chosen = {"ARROW_DEFAULT_MEMORY_POOL": "mimalloc", "MALLOC_MMAP_THRESHOLD_": "131072"}
    assert json.loads(run_python(code, **chosen)) == ["mimalloc", {}]


def test_freed_page_sized_blocks_go_back_to_the_os() -> None:
    kept_by_default = json.loads(run_python(FREED_BLOCKS, "default"))
    kept_lean = json.loads(run_python(FREED_BLOCKS, "lean"))
    assert kept_by_default >= 20  # 40 freed 700 KB blocks held in the heap
    assert kept_lean <= 8
