"""S3 delete_many: every version of many keys in batched DeleteObjects requests, Object Lock checked first."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from governance.errors import ObjectLocked
from governance.storage import S3ObjectStore


def _store(moto_server: str, *, lock: bool = False, batch: int = 1000) -> tuple[S3ObjectStore, dict[str, int]]:
    client = boto3.client("s3", endpoint_url=moto_server, region_name="eu-west-2")
    calls = {"DeleteObjects": 0, "ListObjectVersions": 0}
    for name in calls:
        client.meta.events.register(f"before-call.s3.{name}", lambda name=name, **_: calls.__setitem__(name, calls[name] + 1))
    store = S3ObjectStore(f"gov-batch-{uuid.uuid4().hex[:12]}", "tenant", client=client)
    store.delete_batch = batch
    store.ensure_bucket(versioned=True, object_lock=lock)
    return store, calls


def test_many_keys_go_in_few_requests_with_every_version(moto_server: str) -> None:
    store, calls = _store(moto_server, batch=5)
    keys = [f"stores/default/cases/C{n:08d}/C{n:08d}-D0.txt" for n in range(6)]
    for key in keys:
        store.put(key, b"first")
        store.put(key, b"second")  # two versions each: 12 in all
    calls.update({"DeleteObjects": 0, "ListObjectVersions": 0})
    assert store.delete_many(keys + keys[:1]) == 12  # a repeated key counts once
    assert calls["DeleteObjects"] == 3  # 12 versions, 5 a request: not one request per key
    assert all(store.versions(key) == [] for key in keys)
    assert store.delete_many(keys) == 0  # idempotent


def test_a_locked_key_refuses_the_whole_call_before_anything_goes(moto_server: str) -> None:
    store, _calls = _store(moto_server, lock=True)
    store.put("cases/C1/a.txt", b"free")
    store.put("cases/C2/b.txt", b"kept", retain_until=datetime.now(timezone.utc) + timedelta(days=1))
    with pytest.raises(ObjectLocked, match="cases/C2/b.txt"):
        store.delete_many(["cases/C1/a.txt", "cases/C2/b.txt"])
    assert store.versions("cases/C1/a.txt")  # nothing removed
