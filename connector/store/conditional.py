"""Conditional writes to single S3 objects: create if absent, replace or delete if unchanged.

S3 decides each condition atomically (`If-None-Match: *` on a PUT, `If-Match: <ETag>` on a PUT
or DELETE). A store that ignores the headers would let two writers both "win", so
`conditions_honoured` checks once, on a probe object, that the store refuses what it must.
"""

import errno
import uuid
from dataclasses import dataclass
from typing import Any

import fsspec.asyn


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
            if is_precondition_failure(error):
                return None
            raise

    def delete(self, path: str, etag: str) -> bool:
        """Delete `path` only while it is at `etag`; False if it changed or is gone."""
        bucket, key, _ = self.fs.split_path(path)
        try:
            self.fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=etag)
        except OSError as error:
            if is_precondition_failure(error):
                return False
            raise
        self.fs.invalidate_cache(path)
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
        bucket, key, _ = self.fs.split_path(path)
        response = self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=body, **condition)
        self.fs.invalidate_cache(path)
        return str(response["ETag"])


def is_precondition_failure(error: OSError) -> bool:
    """Whether s3fs's error is S3's 412 (condition not met) or 404 (object gone)."""
    if isinstance(error, FileNotFoundError | FileExistsError):
        return True
    response = getattr(error.__cause__, "response", None) or {}
    return error.errno == errno.EINVAL and response.get("Error", {}).get("Code") in {
        "PreconditionFailed",
        "412",
    }


def conditions_honoured(objects: S3Objects, folder: str) -> bool:
    """Whether the store refuses a second exclusive create and a replace at a stale ETag."""
    probe = f"{folder}/_probe-{uuid.uuid4().hex}"
    etag = objects.create(probe, b"probe")
    if etag is None:
        return False
    try:
        second = objects.create(probe, b"second")
        stale = objects.replace(probe, b"stale", '"0"')
        return second is None and stale is None
    finally:
        objects.fs.rm_file(probe)
