"""Swap two folders of one local filesystem in a single step (Linux `renameat2` RENAME_EXCHANGE).

Publishing a folder of several files (a bucketed table, a compacted day) this way means a reader
lists either every old file or every new one, never a mix. Where the kernel or filesystem cannot
exchange, `exchange_folders` returns False and the caller publishes file by file.
"""

import ctypes
import errno
import os
from typing import Any

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# What the kernel answers when it or the filesystem has no RENAME_EXCHANGE.
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP}

_renameat2: Any
try:
    _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
except (AttributeError, OSError):  # not glibc, or glibc before 2.28
    _renameat2 = None


def swap_folder(staged: str, folder: str) -> bool:
    """Put a staged folder in place of `folder` atomically; the old one lands at `staged`.

    False where the filesystem cannot exchange (nothing moved then).
    """
    if os.path.exists(folder):
        if not exchange_folders(staged, folder):
            return False
    else:
        os.makedirs(os.path.dirname(folder), exist_ok=True)
        os.rename(staged, folder)
    fsync_path(os.path.dirname(folder))
    return True


def fsync_path(path: str) -> None:
    """Flush a local file's data, or a folder's renames, to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def exchange_folders(first: str, second: str) -> bool:
    """Swap `first` and `second` (both must exist) atomically; False where unsupported."""
    if _renameat2 is None:
        return False
    result = _renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, f"cannot exchange {first} and {second}: {os.strerror(code)}")
