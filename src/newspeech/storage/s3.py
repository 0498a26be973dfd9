"""Audio in any S3-compatible object store (AWS S3, MinIO, Ceph RGW, Garage, SeaweedFS, R2 …).

boto3 is synchronous; every call runs in a thread, off the event loop. Its client is
thread-safe, so one client serves the whole process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from newspeech.storage.protocols import ObjectMissing, StorageFailed, check_key

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

T = TypeVar("T")
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass(frozen=True)
class S3Location:
    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: str | None = None
    prefix: str = ""
    addressing_style: Literal["auto", "path", "virtual"] = "path"
    timeout_seconds: float = 30.0
    retries: int = 3


class S3AudioStore:
    """Objects under ``location.prefix`` in ``location.bucket``."""

    name = "s3"

    def __init__(self, location: S3Location) -> None:
        self.location = location
        config = Config(
            connect_timeout=min(location.timeout_seconds, 10.0),
            read_timeout=location.timeout_seconds,
            retries={"max_attempts": location.retries + 1, "mode": "standard"},
            s3={"addressing_style": location.addressing_style},
        )
        self._client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=location.endpoint_url,
            region_name=location.region,
            aws_access_key_id=location.access_key,
            aws_secret_access_key=location.secret_key,
            config=config,
        )

    def object_name(self, key: str) -> str:
        return self.location.prefix + check_key(key)

    async def _call(self, what: str, key: str, call: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(call)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise ObjectMissing(f"no stored object {key}") from exc
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            raise StorageFailed(
                f"S3 {what} of {key} in bucket {self.location.bucket} failed: {code or exc}",
                retryable=status >= 500,
            ) from exc
        except BotoCoreError as exc:
            raise StorageFailed(f"S3 {what} of {key} failed: {exc}", retryable=True) from exc

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        name = self.object_name(key)
        await self._call(
            "upload",
            key,
            lambda: self._client.put_object(
                Bucket=self.location.bucket, Key=name, Body=data, ContentType=content_type
            ),
        )

    async def put_file(self, key: str, source: BinaryIO, content_type: str) -> None:
        """A multipart upload of 8 MiB parts when large (boto3's transfer manager): the object
        appears only once every part is in."""
        name = self.object_name(key)
        await self._call(
            "upload",
            key,
            lambda: self._client.upload_fileobj(
                source, self.location.bucket, name, ExtraArgs={"ContentType": content_type}
            ),
        )

    async def download_to(self, key: str, target: Path) -> None:
        name = self.object_name(key)
        await self._call(
            "download",
            key,
            lambda: self._client.download_file(self.location.bucket, name, str(target)),
        )

    def local_path(self, key: str) -> Path | None:
        return None

    async def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        name = self.object_name(key)

        def download() -> bytes:
            if start == 0 and end is None:
                response = self._client.get_object(Bucket=self.location.bucket, Key=name)
            else:
                span = f"bytes={start}-{'' if end is None else end}"
                response = self._client.get_object(
                    Bucket=self.location.bucket, Key=name, Range=span
                )
            with response["Body"] as body:
                return body.read()

        return await self._call("download", key, download)

    async def size(self, key: str) -> int | None:
        name = self.object_name(key)
        try:
            head = await self._call(
                "lookup",
                key,
                lambda: self._client.head_object(Bucket=self.location.bucket, Key=name),
            )
        except ObjectMissing:
            return None
        return int(head["ContentLength"])

    async def exists(self, key: str) -> bool:
        return await self.size(key) is not None

    async def delete(self, key: str) -> None:
        name = self.object_name(key)
        await self._call(
            "delete",
            key,
            lambda: self._client.delete_object(Bucket=self.location.bucket, Key=name),
        )

    async def check(self) -> None:
        """Raise :class:`StorageFailed` unless the bucket is reachable with these credentials."""
        bucket = self.location.bucket
        try:
            await self._call(
                "bucket check", bucket, lambda: self._client.head_bucket(Bucket=bucket)
            )
        except ObjectMissing as exc:
            raise StorageFailed(f"S3 bucket {bucket} does not exist") from exc

    async def aclose(self) -> None:
        await asyncio.to_thread(self._client.close)
