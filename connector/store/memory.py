"""Allocator settings for a process that runs extractions: freed page buffers are reused.

Without them a run peaks ~40 MB higher (1M accounts, 335 vs 295 MB; `benchmarks/RESULTS.md`):
- Arrow's default pool (mimalloc) keeps the buffers a run has freed for reuse;
- glibc gives each thread that allocates its own arena: a page body (~0.8 MB) is read on one of
  the 8 fetching threads and freed on the reading one, back into the fetcher's arena, so each of
  the 8 arenas keeps a few freed bodies of its own.

`lean_allocators` routes Arrow through malloc and gives glibc one arena, so every freed body is
reused by the next one, whichever thread reads it. Fixing glibc's mmap threshold instead (so
large blocks go back to the OS on free) saved ~9 MB more but cost ~2.5 ms of system CPU a
1,000-row page (page faults), ~8% of the client's CPU.
Both are process-wide: `definitions.py` applies them, before anything imports pyarrow, in the
processes that load the code location, and never over what the environment already chose.
No pyarrow import here: Arrow reads its variable when loaded.
"""

import ctypes
import os
import sys

ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"
ARENA_MAX_VARIABLE = "MALLOC_ARENA_MAX"
ARENA_MAX = 1
_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def lean_allocators() -> dict[str, object]:
    """Apply the settings the environment leaves open; returns what was applied."""
    applied: dict[str, object] = {}
    if ARROW_POOL_VARIABLE not in os.environ:
        # Also inherited by the processes this one starts (a multiprocess executor's steps).
        os.environ[ARROW_POOL_VARIABLE] = "system"
        applied["arrow_pool"] = "system"
        if "pyarrow" in sys.modules:  # too late for the variable: switch pyarrow's own default
            import pyarrow as pa

            pa.set_memory_pool(pa.system_memory_pool())
    if ARENA_MAX_VARIABLE not in os.environ and _mallopt(_M_ARENA_MAX, ARENA_MAX):
        applied["arena_max"] = ARENA_MAX
    return applied


def _mallopt(parameter: int, value: int) -> bool:
    """glibc's `mallopt`; False where the C library has none (macOS, Windows) or refuses."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(parameter, value) == 1)
