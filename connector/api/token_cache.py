"""One PortaBilling session shared by the processes of a run: a locked, encrypted token file.

Dagster builds resources once per step process, so without sharing every step logs in. The cache
holds the current session of one (server URL, login, scope) in
``<state dir>/tokens/<sha256 of the three>.token``: the folder is 0700, the file 0600, and its
content is encrypted (Fernet) with a key derived from the password or API token, so only a
process that could log in anyway can read it. The password itself is never written.

`SessionManager` consults the cache under `locked()` before every login or refresh: a newer,
valid token written by another process is adopted instead of logging in, and a refresh always uses
the newest (single-use) refresh token, so two processes never burn each other's. An entry that
cannot be read (a folder, a FIFO, a file without permission, garbage) is a miss: the process logs
in and replaces it where it can, with one warning.
"""

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from connector.api.auth import SharedToken
from connector.api.statedir import default_state_dir, private_dir

logger = logging.getLogger(__name__)

TOKENS_DIR = "tokens"
# Entries untouched this long belong to runs that ended without logging out: their sessions
# expired (48 h default lifetime, refreshed tokens rewrite the file), so they are removed.
STALE_AFTER_S = 3 * 24 * 3600
_KDF_SALT = b"portabilling-token-cache-v1"


def cache_key(url: str, login: str, scope: str | None) -> str:
    """The file name stem of a session: server, login and scope (e.g. a run id), hashed."""
    return hashlib.sha256("\0".join((url, login, scope or "")).encode()).hexdigest()


def _fernet(secret: str, key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_KDF_SALT, info=key.encode())
    return Fernet(base64.urlsafe_b64encode(derived.derive(secret.encode())))


class TokenCache:
    """The shared session of one server, login and scope; implements `auth.SharedSession`."""

    def __init__(
        self,
        url: str,
        login: str,
        secret: str,
        *,
        scope: str | None,
        state_dir: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        folder = private_dir(state_dir or default_state_dir(), TOKENS_DIR)
        remove_stale(folder, clock() - STALE_AFTER_S)
        key = cache_key(url, login, scope)
        self.path = os.path.join(folder, f"{key}.token")
        self._lock_path = os.path.join(folder, f"{key}.lock")
        self._fernet = _fernet(secret, key)
        self._thread_lock = threading.Lock()
        self._has_warned = False

    def __repr__(self) -> str:
        return f"TokenCache(path={self.path!r})"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive use of the cache across threads and processes (login, refresh, logout)."""
        with self._thread_lock:
            fd = os.open(self._lock_path, os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.utime(fd)  # a lock in use is never stale
                yield
            finally:
                os.close(fd)  # releases the flock

    def load(self) -> SharedToken | None:
        """The cached session, or None: absent, unreadable, or written with other credentials."""
        try:
            sealed = _read_file(self.path)
            return SharedToken(**json.loads(self._fernet.decrypt(sealed)))
        except FileNotFoundError:
            return None
        except (OSError, InvalidToken, ValueError, TypeError) as exc:
            self._warn_once("cannot be read", exc)
            return None

    def save(self, token: SharedToken) -> None:
        """Replace the cached session atomically (write a private temporary file, rename).

        When the entry cannot be replaced, the session stays this process's own (one warning).
        """
        sealed = self._fernet.encrypt(json.dumps(token.shared_fields()).encode())
        temporary = f"{self.path}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(sealed)
        try:
            _replace(temporary, self.path)
        except OSError as exc:
            os.remove(temporary)
            self._warn_once("cannot be replaced", exc)

    def _warn_once(self, problem: str, exc: Exception) -> None:
        if not self._has_warned:
            self._has_warned = True
            reason = (
                exc.strerror if isinstance(exc, OSError) else "not readable with these credentials"
            )
            logger.warning(
                "token cache entry %s %s (%s); logging in again", self.path, problem, reason
            )

    def clear(self) -> None:
        """Forget the cached session (at the run's end: no process of the run still uses it)."""
        for path in (self.path, self._lock_path):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


def remove_stale(folder: str, older_than: float) -> None:
    """Remove cache entries last written before `older_than` (epoch seconds); skip what can't be."""
    for entry in os.scandir(folder):
        with contextlib.suppress(OSError):
            if entry.stat(follow_symlinks=False).st_mtime < older_than:
                os.remove(entry.path)


def _read_file(path: str) -> bytes:
    """The content of the regular file at `path`; anything else raises (a FIFO never blocks)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        return handle.read()


def _replace(source: str, target: str) -> None:
    """`os.replace`, also over an empty folder in the way; a folder with content raises."""
    try:
        os.replace(source, target)
    except IsADirectoryError:
        os.rmdir(target)
        os.replace(source, target)
