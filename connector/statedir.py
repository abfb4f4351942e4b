"""Private per-user state folders shared by a machine's processes (token cache, request slots)."""

import contextlib
import os
import stat
import tempfile

from connector.errors import ConfigurationError

STATE_DIR_ENV = "PORTABILLING_STATE_DIR"


def default_state_dir() -> str:
    """`$PORTABILLING_STATE_DIR`, else `<tmp>/portabilling-<uid>`: one per user and machine."""
    configured = os.environ.get(STATE_DIR_ENV)
    if configured:
        return configured
    return os.path.join(tempfile.gettempdir(), f"portabilling-{os.getuid()}")


def private_dir(base: str, *parts: str) -> str:
    """`base` joined with `parts`, each level created owner-only (0700) and refused otherwise."""
    os.makedirs(base, mode=0o700, exist_ok=True)
    path = base
    _check_private(path)
    for part in parts:
        path = os.path.join(path, part)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, mode=0o700)
        _check_private(path)
    return path


def _check_private(path: str) -> None:
    # A folder planted by someone else (e.g. in a shared /tmp) must not receive our secrets.
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ConfigurationError(f"state folder {path} is not a folder owned by this user")
    if info.st_mode & 0o077:
        raise ConfigurationError(f"state folder {path} is open to other users (chmod 700 it)")
