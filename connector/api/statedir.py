"""Private per-user folders: the state folder (token cache, request slots) and the folder check."""

import contextlib
import os
import stat
import tempfile

from connector.api.errors import ConfigurationError

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
    check_folder(path)
    for part in parts:
        path = os.path.join(path, part)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, mode=0o700)
        check_folder(path)
    return path


def check_folder(path: str, *, what: str = "state folder", refused_bits: int = 0o077) -> None:
    """Refuse `path` unless it is a folder owned by this user with none of `refused_bits` set."""
    # A folder planted by someone else (e.g. in a shared /tmp) must not receive our secrets.
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ConfigurationError(f"{what} {path} is not a folder owned by this user")
    if info.st_mode & refused_bits:
        fixed = stat.S_IMODE(info.st_mode) & ~refused_bits
        raise ConfigurationError(f"{what} {path} is open to other users (chmod {fixed:o} it)")
