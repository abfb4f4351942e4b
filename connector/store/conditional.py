"""Conditional writes to single S3 objects: create if absent, replace or delete if unchanged.

S3 decides each condition atomically (`If-None-Match: *` on a PUT, `If-Match: <ETag>` on a PUT
or DELETE). A store that ignores the headers would let two writers both "win", so
`conditions_honoured` checks once, on a probe object, that the store refuses what it must.
"""

import errno
import itertools
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

import fsspec.asyn

UNMET = "PreconditionFailed"
# S3 answers 409 when another conditional write to the key is in flight, and says to retry.
CONFLICT = "ConditionalRequestConflict"
CONFLICT_RETRIES = 5
CONFLICT_BACKOFF_S = 0.05


@dataclass(frozen=True)
class Version:
    """An object's bytes and the ETag that names exactly these bytes."""

    body: bytes
    etag: str


class S3Objects:
    """Conditional requests to the objects of an `s3fs.S3FileSystem`, with its credentials."""

    def __init__(self, fs: Any) -> None:
        self.fs = fs

    def create(self, path: str, body: bytes) -> str | None:
        """Write `body` only if `path` is absent; its ETag, or None if the object exists."""
        try:
            return self._put(path, body, IfNoneMatch="*")
        except FileExistsError:
            return None

    def replace(self, path: str, body: bytes, etag: str) -> str | None:
        """Overwrite `path` only while it is at `etag`; the new ETag, or None if it changed."""
        try:
            return self._put(path, body, IfMatch=etag)
        except OSError as error:
            if is_condition_unmet(error):
                return None
            raise

    def delete(self, path: str, etag: str) -> bool:
        """Delete `path` only while it is at `etag`; False if it changed or is gone."""
        try:
            self._call("delete_object", path, IfMatch=etag)
        except OSError as error:
            if is_condition_unmet(error):
                return False
            raise
        return True

    def read(self, path: str) -> Version | None:
        """The object's bytes and ETag; None if absent."""
        bucket, key, _ = self.fs.split_path(path)
        try:
            return fsspec.asyn.sync(self.fs.loop, self._get, bucket, key)
        except FileNotFoundError:
            return None

    async def _get(self, bucket: str, key: str) -> Version:
        # One GET: the bytes and the ETag of the same version.
        response = await self.fs._call_s3("get_object", Bucket=bucket, Key=key)
        async with response["Body"] as stream:
            return Version(await stream.read(), str(response["ETag"]))

    def _put(self, path: str, body: bytes, **condition: str) -> str:
        return str(self._call("put_object", path, Body=body, **condition)["ETag"])

    def _call(self, method: str, path: str, **arguments: Any) -> dict[str, Any]:
        """One conditional request; S3's 409 (another conditional write in flight) is retried."""
        bucket, key, _ = self.fs.split_path(path)
        for attempt in itertools.count():
            try:
                response = self.fs.call_s3(method, Bucket=bucket, Key=key, **arguments)
                break
            except OSError as error:
                if _s3_code(error) != CONFLICT or attempt == CONFLICT_RETRIES:
                    raise
                time.sleep(CONFLICT_BACKOFF_S * 2**attempt * random.uniform(0.5, 1.0))
        self.fs.invalidate_cache(path)
        return dict(response)


def is_condition_unmet(error: OSError) -> bool:
    """Whether s3fs's error says the object is not as the condition said (412) or is gone."""
    return isinstance(error, FileNotFoundError | FileExistsError) or _s3_code(error) == UNMET


def conditions_honoured(objects: S3Objects, folder: str) -> bool:
    """Whether the store refuses a second exclusive create and a replace at a stale ETag."""
    probe = f"{folder}/_probe-{uuid.uuid4().hex}"
    try:
        etag = objects.create(probe, b"probe")
    except OSError as error:
        if error.errno == errno.ENOSYS:
            return False  # 501 Not Implemented: the store has no conditional writes
        raise
    if etag is None:
        return False
    try:
        second = objects.create(probe, b"second")
        stale = objects.replace(probe, b"stale", '"0"')
        return second is None and stale is None
    finally:
        objects.fs.rm_file(probe)


def _s3_code(error: OSError) -> str:
    """The S3 error code behind an error s3fs translated ("" if none)."""
    response = getattr(error.__cause__, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
