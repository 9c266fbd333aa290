"""Object storage on S3 or an S3-compatible server (MinIO, moto), through boto3.

``s3://bucket/optional/prefix`` names the store; every key is stored under the
prefix. Credentials come from the usual AWS chain (environment, profile, role),
never from the URL. The region comes from that chain too, else ``eu-west-2``.

Why it is shaped this way:

* ``delete`` means "gone for good": on a versioned bucket it removes every
  version and delete marker of the exact key, because a plain DELETE there
  only hides the object behind a marker.
* Write-once retention uses S3 Object Lock in COMPLIANCE mode. Asking for
  retention on a bucket without Object Lock is an error, not a silent no-op.
  Before deleting, every version's retention is checked so a refused delete
  removes nothing; S3 itself remains the final word (AccessDenied -> ObjectLocked).
* Failures become one-line :mod:`governance.errors` messages naming the bucket,
  endpoint and key, never credentials or content.
* ``DeleteObjects`` carries a ``Content-MD5`` header as well as botocore's CRC32:
  botocore 1.36+ sends only the CRC32, and S3-compatible servers that predate the
  new checksums (Scality CloudServer 8, older Ceph RGW) refuse the request without
  the MD5 (``BadDigest``), so nothing could be deleted there.
"""

from __future__ import annotations

import builtins  # ObjectStore has a method called `list`; annotations say builtins.list
import base64
import hashlib
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from governance.errors import ConfigError, ObjectLocked, ObjectNotFound, StorageError, StorageUnavailable
from governance.storage.base import (
    ObjectInfo,
    ObjectStore,
    check_data,
    check_expires_in,
    check_retain_until,
    is_valid_key,
    validate_key,
)
from governance.storage.s3_versions import list_versions

__all__ = ["S3ObjectStore", "DEFAULT_REGION", "send_content_md5"]

log = logging.getLogger(__name__)

DEFAULT_REGION = "eu-west-2"
_DELETE_BATCH = 1000  # S3's limit per DeleteObjects request
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}
_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchVersion", "NotFound", "404"}


class S3ObjectStore(ObjectStore):
    """Objects in one S3 bucket, optionally under a prefix. The client is built on first use."""

    delete_batch: int = _DELETE_BATCH
    """Versions per DeleteObjects request; S3 allows at most 1000 (tests lower it to exercise batching)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        page_size: int = 1000,
        max_attempts: int = 3,
        client: Any = None,
    ) -> None:
        """``client`` is an existing boto3 S3 client to use instead of building one
        on first use: stores in one process can share its connections, and a client
        built from other credentials (an Airflow connection, say) can be passed in.
        """
        if not isinstance(bucket, str) or not _BUCKET_NAME.match(bucket) or ".." in bucket:
            raise ConfigError(f"S3 bucket name {bucket!r} is not valid (3-63 lower-case letters, digits, '.' or '-')")
        prefix = prefix.strip("/")
        if prefix:
            try:
                validate_key(prefix)
            except StorageError as exc:
                raise ConfigError(f"S3 prefix of bucket {bucket} is not valid: {exc}") from None
        if not 1 <= page_size <= 1000:
            raise ConfigError(f"S3 page_size must be between 1 and 1000, not {page_size}")
        self.bucket = bucket
        self.prefix = prefix
        if endpoint_url is None and client is not None:
            endpoint_url = client.meta.endpoint_url
        self.endpoint_url = endpoint_url or None
        self.uri = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        self._base = prefix + "/" if prefix else ""
        self._region = region_name
        self._page_size = page_size
        self._max_attempts = max_attempts
        self._lock = threading.Lock()
        if client is not None:
            send_content_md5(client)
        self._s3: Any = client
        self._bucket_checked = False
        self._object_lock: bool | None = None
        self._versioned: bool | None = None

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None, **kwargs: Any) -> "S3ObjectStore":
        """Build from ``s3://bucket/optional/prefix`` (no credentials, query or fragment)."""
        parts = urlsplit(url)
        if parts.scheme != "s3":
            raise ConfigError(f"not an s3:// URL (scheme {parts.scheme!r})")
        if "@" in parts.netloc:
            # Never echo the URL: the part before "@" may be a secret.
            raise ConfigError("s3:// URL must not contain credentials: use the AWS credential chain")
        if parts.query or parts.fragment:
            raise ConfigError(f"s3:// URL for bucket {parts.hostname or ''} must not have a query or fragment")
        if not parts.netloc:
            raise ConfigError("s3:// URL has no bucket name")
        return cls(parts.netloc, parts.path, endpoint_url=endpoint_url, **kwargs)

    # -- the interface -------------------------------------------------------------------

    def put(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> ObjectInfo:
        key = validate_key(key)
        data = check_data(key, data)
        retain_until = check_retain_until(key, retain_until)
        full = self._full(key)
        locking = self.supports_object_lock()
        if retain_until is not None and not locking:
            raise StorageError(
                f"bucket {self.bucket} does not have S3 Object Lock enabled, so key {key!r} cannot be kept"
                " write-once: use an Object Lock bucket or store it without retain_until"
            )
        if locking:
            # Same contract as the local folder: a retained object is not overwritten.
            # (S3 would keep the old version, but it would stop being the one callers read.)
            held = self._retained_until(key, full, None)
            if held is not None:
                raise _locked(key, held)
        digest = hashlib.sha256(data).digest()
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": full,
            "Body": data,
            # S3 verifies the upload against our hash; Object Lock uploads need a checksum anyway.
            "ChecksumAlgorithm": "SHA256",
            "ChecksumSHA256": base64.b64encode(digest).decode("ascii"),
        }
        if retain_until is not None:
            params["ObjectLockMode"] = "COMPLIANCE"
            params["ObjectLockRetainUntilDate"] = retain_until
        with self._errors("put", key):
            response = self._client.put_object(**params)
        return ObjectInfo(
            key=key,
            size=len(data),
            sha256=digest.hex(),
            version_id=response.get("VersionId"),
            retain_until=retain_until,
        )

    def get(self, key: str) -> bytes:
        key = validate_key(key)
        self._check_bucket()
        with self._errors("get", key):
            response = self._client.get_object(Bucket=self.bucket, Key=self._full(key))
            return response["Body"].read()

    def exists(self, key: str) -> bool:
        key = validate_key(key)
        self._check_bucket()
        return self._head(key, self._full(key), None) is not None

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix``, in S3's (UTF-8 byte) order, one page at a time.

        Objects whose names are not valid keys (written by other tools) are skipped,
        so every key listed can be read with :meth:`get`.
        """
        if not isinstance(prefix, str):
            raise StorageError(f"list prefix must be a string, not {type(prefix).__name__}")
        self._check_bucket()  # fail at the call, not at the first iteration
        return self._list(self._base + prefix)

    def versions(self, key: str) -> builtins.list[str]:
        """Version ids of ``key``, newest first, delete markers included.

        These are S3's own ids: an object written while the bucket was unversioned
        has the id ``"null"``.
        """
        key = validate_key(key)
        self._check_bucket()
        return [version_id for version_id, _is_marker in self._versions_of(key, self._full(key))]

    def delete(self, key: str) -> int:
        key = validate_key(key)
        full = self._full(key)
        self._check_bucket()
        if not self._is_versioned():
            # Nothing but the one object to remove; a plain DELETE is permanent here.
            if self._head(key, full, None) is None:
                return 0
            with self._errors("delete", key):
                self._client.delete_object(Bucket=self.bucket, Key=full)
            log.debug("deleted key %r from %s (1 version)", key, self.uri)
            return 1
        entries = self._versions_of(key, full)
        if not entries:
            return 0
        if self.supports_object_lock():
            # Check first, so a refused delete removes nothing rather than the unlocked versions.
            held = self._held_until(key, full, entries)
            if held is not None:
                raise _locked(key, held)
        removed = 0
        for start in range(0, len(entries), self.delete_batch):
            batch = entries[start : start + self.delete_batch]
            with self._errors("delete", key):
                response = self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": full, "VersionId": vid} for vid, _ in batch], "Quiet": False},
                )
            removed += len(response.get("Deleted", []))
            errors = response.get("Errors", [])
            if errors:
                codes = sorted({str(err.get("Code", "unknown")) for err in errors})
                if "AccessDenied" in codes:
                    raise ObjectLocked(
                        f"S3 refused to delete {len(errors)} version(s) of object {key!r} in bucket {self.bucket}"
                        " (AccessDenied: Object Lock retention or legal hold, or no s3:DeleteObjectVersion permission)"
                    )
                raise StorageError(
                    f"S3 could not delete {len(errors)} version(s) of key {key!r} in bucket {self.bucket}: {', '.join(codes)}"
                )
        log.debug("deleted key %r from %s (%d version(s))", key, self.uri, removed)
        return removed

    def url_for(self, key: str, expires_in: int) -> str:
        """Presigned GET URL valid for ``expires_in`` seconds (no request is made; the key may not exist)."""
        key = validate_key(key)
        check_expires_in(key, expires_in)
        with self._errors("url_for", key):
            return self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._full(key)},
                ExpiresIn=expires_in,
            )

    def supports_object_lock(self) -> bool:
        """Whether the bucket has Object Lock enabled; asked once, then cached."""
        if self._object_lock is None:
            self._check_bucket()
            try:
                with self._errors("get_object_lock_configuration"):
                    config = self._client.get_object_lock_configuration(Bucket=self.bucket)
                enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            except StorageError as exc:
                # "No configuration" (or a server that does not implement Object Lock) means no lock.
                if not isinstance(exc.__cause__, ClientError) or _code(exc.__cause__) not in {
                    "ObjectLockConfigurationNotFoundError",
                    "NotImplemented",
                }:
                    raise
                enabled = False
            self._object_lock = enabled
        return self._object_lock

    # -- setup -----------------------------------------------------------------------------

    def ensure_bucket(self, versioned: bool = True, object_lock: bool = False) -> None:
        """Create the bucket if it does not exist (tests, the demo, first-time setup).

        Object Lock can only be switched on when a bucket is created and needs
        versioning; asking for it on an existing bucket without it is an error.
        """
        if object_lock and not versioned:
            raise ConfigError(f"bucket {self.bucket}: S3 Object Lock needs a versioned bucket")
        client = self._client
        params: dict[str, Any] = {"Bucket": self.bucket}
        region = client.meta.region_name
        if region and region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        if object_lock:
            params["ObjectLockEnabledForBucket"] = True
        try:
            with self._errors("create_bucket"):
                client.create_bucket(**params)
        except StorageError as exc:
            if not isinstance(exc.__cause__, ClientError) or _code(exc.__cause__) != "BucketAlreadyOwnedByYou":
                raise
        if versioned and not object_lock:
            # An Object Lock bucket is versioned from birth, and CloudServer refuses to be told so
            # again (InvalidBucketState); S3 would accept it.
            with self._errors("put_bucket_versioning"):
                client.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        self._bucket_checked = True
        self._object_lock = None
        self._versioned = None
        if object_lock and not self.supports_object_lock():
            raise StorageError(f"bucket {self.bucket} already exists without S3 Object Lock, which cannot be added now")

    # -- helpers ---------------------------------------------------------------------------

    @property
    def _client(self) -> Any:
        if self._s3 is None:
            with self._lock:
                if self._s3 is None:
                    self._s3 = self._make_client()
        return self._s3

    def _make_client(self) -> Any:
        session = boto3.session.Session()
        region = self._region or session.region_name or DEFAULT_REGION
        options: dict[str, Any] = {
            "connect_timeout": 5,
            "read_timeout": 60,
            "retries": {"max_attempts": self._max_attempts, "mode": "standard"},
        }
        if self.endpoint_url:
            # MinIO and moto serve buckets by path, not by virtual host name.
            options["s3"] = {"addressing_style": "path"}
        try:
            client = session.client("s3", endpoint_url=self.endpoint_url, region_name=region, config=Config(**options))
        except ValueError as exc:  # botocore's complaint about a malformed endpoint URL
            raise ConfigError(f"S3 endpoint {self._where()} is not a valid URL") from exc
        return send_content_md5(client)

    def _full(self, key: str) -> str:
        full = self._base + key
        if len(full.encode("utf-8")) > 1024:
            raise StorageError(f"object key {key!r} is not valid: longer than 1024 bytes with the store prefix")
        return full

    def _where(self) -> str:
        if not self.endpoint_url:
            return "AWS S3"
        parts = urlsplit(self.endpoint_url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        # Rebuilt from scheme, host and port only: no user:password@ can leak into a message.
        return f"{parts.scheme}://{host}{port}"

    def _check_bucket(self) -> None:
        """Ask once whether the bucket is there, so a missing bucket is never mistaken for a missing key."""
        if self._bucket_checked:
            return
        try:
            with self._errors("head_bucket"):
                self._client.head_bucket(Bucket=self.bucket)
        except StorageUnavailable:
            raise
        except StorageError as exc:
            cause = exc.__cause__
            status = _status(cause) if isinstance(cause, ClientError) else None
            if status == 404:
                raise StorageUnavailable(f"S3 bucket {self.bucket} does not exist at {self._where()}") from cause
            if status == 403:
                raise StorageUnavailable(
                    f"S3 bucket {self.bucket} at {self._where()} refuses access (check credentials and bucket policy)"
                ) from cause
            if status == 301:
                raise StorageUnavailable(f"S3 bucket {self.bucket} is in another region than the client's") from cause
            raise
        self._bucket_checked = True

    def _is_versioned(self) -> bool:
        """Whether the bucket has ever had versioning on (Enabled or Suspended); cached."""
        if self._versioned is None:
            with self._errors("get_bucket_versioning"):
                status = self._client.get_bucket_versioning(Bucket=self.bucket).get("Status")
            # Suspended buckets still hold old versions and write "null" versions: treat as versioned.
            self._versioned = status in ("Enabled", "Suspended")
        return self._versioned

    def _head(self, key: str, full: str, version_id: str | None) -> dict[str, Any] | None:
        params = {"Bucket": self.bucket, "Key": full}
        if version_id is not None:
            params["VersionId"] = version_id
        try:
            with self._errors("head", key):
                return self._client.head_object(**params)
        except ObjectNotFound:
            return None
        except StorageError as exc:
            # HEAD of a delete marker version answers 405; it holds no data to protect.
            if isinstance(exc.__cause__, ClientError) and _status(exc.__cause__) == 405:
                return None
            raise

    def delete_many(self, keys: builtins.list[str]) -> int:
        """Every version of every key, removed with batched ``DeleteObjects`` (up to 1000 versions a request).

        The per-key default costs a listing and a delete request per key; a retention
        chunk's documents then spent most of the chunk waiting on S3. Here the versions
        of all keys are listed together, under shared prefixes, a page of versions a
        request (:mod:`governance.storage.s3_versions`); Object Lock is checked for every
        key before anything is removed (a refused key raises :class:`ObjectLocked` and
        nothing goes); then the versions of all keys go together, 1000 a request.
        """
        keys = list(dict.fromkeys(validate_key(key) for key in keys))
        self._check_bucket()
        if len(keys) < 2 or not self._is_versioned():
            return super().delete_many(keys)
        fulls = [self._full(key) for key in keys]
        entries = self._versions_of_many(keys)
        held = self._held_many(keys, entries)
        if held:
            first = next(iter(held))  # in the caller's order
            raise _locked(first, held[first])
        doomed = [(key, {"Key": full, "VersionId": vid}) for key, full in zip(keys, fulls) for vid, _ in entries[key]]
        removed = 0
        for start in range(0, len(doomed), self.delete_batch):
            batch = doomed[start : start + self.delete_batch]
            with self._errors("delete", batch[0][0]):
                response = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [item for _key, item in batch], "Quiet": False})
            removed += len(response.get("Deleted", []))
            errors = response.get("Errors", [])
            if errors:
                codes = sorted({str(err.get("Code", "unknown")) for err in errors})
                first = str(errors[0].get("Key", ""))[len(self._full("")):] or batch[0][0]
                if "AccessDenied" in codes:
                    raise ObjectLocked(
                        f"S3 refused to delete {len(errors)} version(s), first of object {first!r}, in bucket "
                        f"{self.bucket} (AccessDenied: Object Lock retention or legal hold, or no s3:DeleteObjectVersion permission)"
                    )
                raise StorageError(f"S3 could not delete {len(errors)} version(s), first of key {first!r}, in bucket "
                                   f"{self.bucket}: {', '.join(codes)}")
        log.debug("deleted %d key(s) from %s (%d version(s))", len(keys), self.uri, removed)
        return removed

    def locked(self, keys: builtins.list[str]) -> dict[str, datetime]:
        """As :meth:`ObjectStore.locked`, with the versions of all keys listed together (see :meth:`delete_many`)."""
        keys = list(dict.fromkeys(validate_key(key) for key in keys))
        if not keys or not self.supports_object_lock():
            return {}
        self._check_bucket()
        return self._held_many(keys, self._versions_of_many(keys))

    def _versions_of_many(self, keys: builtins.list[str]) -> dict[str, builtins.list[tuple[str, bool]]]:
        """(version id, is delete marker) of every key, newest first, in few listing requests."""
        by_full = {self._full(key): key for key in keys}
        listed = list_versions(self._client, self.bucket, by_full, page_size=self._page_size,
                               errors=lambda full: self._errors("list_object_versions", by_full.get(full, full)))
        return {by_full[full]: entries for full, entries in listed.items()}

    def _held_many(self, keys, entries) -> dict[str, datetime]:
        """Of ``keys``, in their order, those with a version under retention or a legal hold now.

        One HEAD per version (the listing does not tell), overlapped in a few threads;
        only on a bucket with Object Lock, where a version can be held at all.
        """
        if not self.supports_object_lock():
            return {}
        from concurrent.futures import ThreadPoolExecutor

        from governance.storage import base

        listed = [key for key in keys if entries[key]]
        with ThreadPoolExecutor(max_workers=base.DELETE_THREADS, thread_name_prefix="object-lock-check") as pool:
            ends = pool.map(lambda key: self._held_until(key, self._full(key), entries[key]), listed)
            return {key: until for key, until in zip(listed, ends) if until is not None}

    def _held_until(self, key: str, full: str, entries: builtins.list[tuple[str, bool]]) -> datetime | None:
        """The latest end of retention (or a legal hold) over the key's versions still in force."""
        ends = [self._retained_until(key, full, version_id) for version_id, is_marker in entries if not is_marker]
        return max((end for end in ends if end is not None), default=None)

    def _retained_until(self, key: str, full: str, version_id: str | None) -> datetime | None:
        """End of a version's Object Lock retention if still in force.

        Judged by the wall clock, as S3 itself does; S3 stays the final authority on delete.
        """
        head = self._head(key, full, version_id)
        if head is None:
            return None
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            return datetime.max.replace(tzinfo=timezone.utc)
        until = head.get("ObjectLockRetainUntilDate")
        if until is None:
            return None
        if until.tzinfo is None:
            until = until.replace(tzinfo=timezone.utc)
        return until if until > datetime.now(timezone.utc) else None

    def _versions_of(self, key: str, full: str) -> builtins.list[tuple[str, bool]]:
        """(version id, is delete marker) for exactly ``full``, newest first, across all pages."""
        return list_versions(self._client, self.bucket, [full], page_size=self._page_size,
                             errors=lambda _full: self._errors("list_object_versions", key))[full]

    def _list(self, full_prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        strip = len(self._base)
        with self._errors("list"):
            for page in paginator.paginate(
                Bucket=self.bucket, Prefix=full_prefix, PaginationConfig={"PageSize": self._page_size}
            ):
                for item in page.get("Contents", []):
                    key = item["Key"][strip:]
                    if is_valid_key(key):
                        yield key

    @contextmanager
    def _errors(self, op: str, key: str | None = None) -> Iterator[None]:
        """Translate botocore failures into one-line governance errors."""
        about = f"{op} of key {key!r} in bucket {self.bucket}" if key is not None else f"{op} on bucket {self.bucket}"
        try:
            yield
        except (BotoConnectionError, HTTPClientError) as exc:
            raise StorageUnavailable(f"S3 endpoint {self._where()} is unreachable ({about}): {type(exc).__name__}") from exc
        except (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError) as exc:
            raise StorageUnavailable(
                f"no usable AWS credentials for bucket {self.bucket} at {self._where()}: set them through the AWS credential chain"
            ) from exc
        except ClientError as exc:
            code = _code(exc)
            if code == "NoSuchBucket":
                raise StorageUnavailable(f"S3 bucket {self.bucket} does not exist at {self._where()}") from exc
            if code in _NOT_FOUND_CODES and key is not None:
                raise ObjectNotFound(f"no object under key {key!r} in {self.uri}") from exc
            if code in _CREDENTIAL_CODES:
                raise StorageUnavailable(
                    f"S3 at {self._where()} rejected the AWS credentials ({code}) for bucket {self.bucket}"
                ) from exc
            raise StorageError(f"S3 {about} failed: {code} (HTTP {_status(exc)})") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 {about} failed: {type(exc).__name__}") from exc


def send_content_md5(client: Any) -> Any:
    """Make ``client`` send ``Content-MD5`` with every ``DeleteObjects`` request (see the module docstring)."""
    client.meta.events.register("before-sign.s3.DeleteObjects", _content_md5, unique_id="governance-content-md5")
    return client


def _content_md5(request: Any, **_: Any) -> None:
    if "Content-MD5" not in request.headers:  # added before signing, so the signature covers it
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode("utf-8")
        request.headers["Content-MD5"] = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode("ascii")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "unknown"))


def _status(exc: ClientError | None) -> int | None:
    if exc is None:
        return None
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _locked(key: str, until: datetime) -> ObjectLocked:
    if until.year == datetime.max.year:
        return ObjectLocked(f"object {key!r} is under an S3 legal hold: it cannot be deleted or overwritten")
    return ObjectLocked(
        f"object {key!r} is under write-once retention until {until.isoformat()}: it cannot be deleted or overwritten yet"
    )

