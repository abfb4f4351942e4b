"""Allocator settings for a process that runs extractions: freed page buffers go back to the OS.

Without them a run keeps ~45 MB more resident at its peak (100k accounts; `benchmarks/RESULTS.md`):
- Arrow's default pool (mimalloc) keeps the buffers a run has freed for reuse;
- glibc raises its mmap threshold to the largest block freed so far, so after the first page
  body (~0.8 MB) such blocks come from per-thread arenas, and the 8 fetching threads' arenas
  each keep what was freed in them.

`lean_allocators` routes Arrow through malloc and holds glibc's threshold fixed, so blocks above
it are mapped and unmapped on their own; the price is ~2 ms of system CPU a 1,000-row page.
Both are process-wide: `definitions.py` applies them, before anything imports pyarrow, in the
processes that load the code location, and never over what the environment already chose.
No pyarrow import here: Arrow reads its variable when loaded.
"""

import ctypes
import os
import sys

ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"
MMAP_THRESHOLD_VARIABLE = "MALLOC_MMAP_THRESHOLD_"
MMAP_THRESHOLD = 512 * 1024  # bytes: blocks this size and up get their own mapping
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


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
    if MMAP_THRESHOLD_VARIABLE not in os.environ and _mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD):
        applied["mmap_threshold"] = MMAP_THRESHOLD
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
