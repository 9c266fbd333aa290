"""S3 behaviour the contract cannot express: error mapping, delete markers,
batching, Object Lock details, prefixes, and what a raw boto3 client sees.

Everything runs against moto's real HTTP server (``moto_server``), or against
an address where nothing listens (127.0.0.1:9); no boto3 call is mocked.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from governance.errors import ConfigError, ObjectLocked, ObjectNotFound, StorageError, StorageUnavailable
from governance.storage import S3ObjectStore

UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def s3_client(moto_server: str):
    return boto3.client("s3", endpoint_url=moto_server, region_name="eu-west-2")


def _bucket() -> str:
    return f"gov-test-{uuid.uuid4().hex[:16]}"


def _store(s3_client, *, versioned: bool = True, object_lock: bool = False, **kwargs) -> S3ObjectStore:
    store = S3ObjectStore(kwargs.pop("bucket", None) or _bucket(), kwargs.pop("prefix", ""), client=s3_client, **kwargs)
    store.ensure_bucket(versioned=versioned, object_lock=object_lock)
    return store


def _raw_entries(s3_client, bucket: str, key: str) -> list[tuple[str, str]]:
    response = s3_client.list_object_versions(Bucket=bucket, Prefix=key)
    return [
        (kind, item["VersionId"])
        for kind in ("Versions", "DeleteMarkers")
        for item in response.get(kind, [])
        if item["Key"] == key
    ]


def _count_calls(s3_client, operation: str) -> list[int]:
    """Count requests of one S3 operation through botocore's event hooks (observation, not a mock)."""
    calls = [0]

    def seen(**_kwargs) -> None:
        calls[0] += 1

    s3_client.meta.events.register(f"before-call.s3.{operation}", seen, unique_id=f"count-{uuid.uuid4()}")
    return calls


def _all_operations(store: S3ObjectStore):
    return {
        "put": lambda: store.put("k", b"x"),
        "get": lambda: store.get("k"),
        "exists": lambda: store.exists("k"),
        "list": lambda: list(store.list()),
        "versions": lambda: store.versions("k"),
        "delete": lambda: store.delete("k"),
        "supports_object_lock": lambda: store.supports_object_lock(),
    }


# -- unavailable storage -------------------------------------------------------------------

@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-value")


def test_unreachable_endpoint_is_storage_unavailable_in_one_line(fake_credentials: None) -> None:
    store = S3ObjectStore("gov-test-nowhere", endpoint_url=UNREACHABLE)  # default retries
    with pytest.raises(StorageUnavailable) as caught:
        store.get("cases/doc.pdf")
    message = str(caught.value)
    assert "\n" not in message
    assert "127.0.0.1:9" in message and "gov-test-nowhere" in message
    assert "unreachable" in message
    assert "testing-secret-value" not in message and "Traceback" not in message


def test_every_operation_maps_an_unreachable_endpoint(fake_credentials: None) -> None:
    store = S3ObjectStore("gov-test-nowhere", endpoint_url=UNREACHABLE, max_attempts=1)
    for name, operation in _all_operations(store).items():
        with pytest.raises(StorageUnavailable, match="127.0.0.1:9") as caught:
            operation()
        assert "\n" not in str(caught.value), name


def test_missing_bucket_is_storage_unavailable_naming_it(moto_server: str, s3_client) -> None:
    bucket = _bucket()  # never created
    store = S3ObjectStore(bucket, client=s3_client)
    for name, operation in _all_operations(store).items():
        with pytest.raises(StorageUnavailable) as caught:
            operation()
        message = str(caught.value)
        assert f"bucket {bucket} does not exist" in message, name
        assert moto_server in message and "\n" not in message, name


def test_bucket_removed_after_first_use_is_still_storage_unavailable(s3_client) -> None:
    store = _store(s3_client, versioned=False)
    store.put("k", b"x")
    store.delete("k")
    s3_client.delete_bucket(Bucket=store.bucket)
    with pytest.raises(StorageUnavailable, match="does not exist"):
        store.get("k")
    with pytest.raises(StorageUnavailable, match="does not exist"):
        store.put("k", b"y")


def test_missing_credentials_are_storage_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3ObjectStore("gov-test-nocreds", endpoint_url=UNREACHABLE, max_attempts=1)
    with pytest.raises(StorageUnavailable, match="no usable AWS credentials") as caught:
        store.get("k")
    assert "gov-test-nocreds" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(StorageUnavailable, match="no usable AWS credentials"):
        store.url_for("k", 60)  # presigning needs credentials too


def test_endpoint_credentials_never_reach_messages(fake_credentials: None) -> None:
    store = S3ObjectStore("gov-test-nowhere", endpoint_url="http://user:hunter2@127.0.0.1:9", max_attempts=1)
    with pytest.raises(StorageUnavailable) as caught:
        store.exists("k")
    assert "hunter2" not in str(caught.value)
    assert "http://127.0.0.1:9" in str(caught.value)


def test_malformed_endpoint_is_a_config_error() -> None:
    store = S3ObjectStore("gov-test-x", endpoint_url="not a url")
    with pytest.raises(ConfigError, match="not a valid URL"):
        store.get("k")


# -- delete: versions, markers, batches ----------------------------------------------------

def test_delete_removes_delete_markers_too(s3_client) -> None:
    store = _store(s3_client)
    store.put("cases/C1/doc", b"v1")
    s3_client.delete_object(Bucket=store.bucket, Key="cases/C1/doc")  # an ordinary DELETE: only a marker
    assert store.exists("cases/C1/doc") is False
    with pytest.raises(ObjectNotFound):
        store.get("cases/C1/doc")
    assert len(store.versions("cases/C1/doc")) == 2  # the version and the marker
    assert sorted(kind for kind, _ in _raw_entries(s3_client, store.bucket, "cases/C1/doc")) == ["DeleteMarkers", "Versions"]

    assert store.delete("cases/C1/doc") == 2

    assert _raw_entries(s3_client, store.bucket, "cases/C1/doc") == []
    assert store.versions("cases/C1/doc") == []


def test_delete_of_a_key_holding_only_a_delete_marker(s3_client) -> None:
    store = _store(s3_client)
    version = store.put("ghost", b"x").version_id
    s3_client.delete_object(Bucket=store.bucket, Key="ghost")  # marker on top
    s3_client.delete_object(Bucket=store.bucket, Key="ghost", VersionId=version)  # version gone, marker stays
    assert store.versions("ghost") != []
    assert [kind for kind, _ in _raw_entries(s3_client, store.bucket, "ghost")] == ["DeleteMarkers"]
    assert store.delete("ghost") == 1
    assert _raw_entries(s3_client, store.bucket, "ghost") == []


def test_delete_sends_versions_in_batches(s3_client) -> None:
    store = _store(s3_client)
    store.delete_batch = 2
    for i in range(5):
        store.put("batched", f"v{i}".encode())
    calls = _count_calls(s3_client, "DeleteObjects")
    assert store.delete("batched") == 5
    assert calls[0] == 3  # 2 + 2 + 1
    assert _raw_entries(s3_client, store.bucket, "batched") == []


def test_unversioned_bucket_deletes_with_a_plain_delete(s3_client) -> None:
    store = _store(s3_client, versioned=False)
    store.put("plain", b"1")
    store.put("plain", b"2")
    assert store.versions("plain") == ["null"]
    calls = _count_calls(s3_client, "DeleteObject")
    assert store.delete("plain") == 1
    assert calls[0] == 1
    assert _raw_entries(s3_client, store.bucket, "plain") == []


def test_suspended_versioning_bucket_is_emptied_too(s3_client) -> None:
    store = _store(s3_client)
    store.put("susp", b"1")
    store.put("susp", b"2")
    s3_client.put_bucket_versioning(Bucket=store.bucket, VersioningConfiguration={"Status": "Suspended"})
    store.put("susp", b"3")
    before = len(_raw_entries(s3_client, store.bucket, "susp"))
    assert store.delete("susp") == before >= 1
    assert _raw_entries(s3_client, store.bucket, "susp") == []


def test_version_listing_stops_paging_after_the_exact_key(s3_client) -> None:
    store = _store(s3_client, page_size=2)
    for i in range(3):
        store.put("k", f"v{i}".encode())
    for i in range(10):
        store.put(f"k/{i}", b"lookalike")
    calls = _count_calls(s3_client, "ListObjectVersions")
    assert len(store.versions("k")) == 3
    assert calls[0] == 2  # [k, k] then [k, k/0]: "k/0" sorts after "k", so no third page


# -- Object Lock ---------------------------------------------------------------------------

def test_retained_put_uses_compliance_mode(s3_client) -> None:
    store = _store(s3_client, object_lock=True)
    until = datetime.now(timezone.utc) + timedelta(days=30)
    info = store.put("held", b"x", retain_until=until)
    head = s3_client.head_object(Bucket=store.bucket, Key="held", VersionId=info.version_id)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert abs((head["ObjectLockRetainUntilDate"] - until).total_seconds()) < 1


def test_s3_refusal_is_object_locked_even_past_the_precheck(s3_client) -> None:
    class NoPrecheck(S3ObjectStore):
        """Skips the client-side retention check, so S3's own AccessDenied is what stops the delete."""

        def _retained_until(self, key, full, version_id):  # noqa: ANN001, ANN202
            return None

    store = _store(s3_client, object_lock=True)
    store.put("held", b"x", retain_until=datetime.now(timezone.utc) + timedelta(days=1))
    blind = NoPrecheck(store.bucket, client=s3_client)
    with pytest.raises(ObjectLocked, match="'held'") as caught:
        blind.delete("held")
    assert "AccessDenied" in str(caught.value)
    assert store.get("held") == b"x"


def test_legal_hold_blocks_delete(s3_client) -> None:
    store = _store(s3_client, object_lock=True)
    store.put("hold", b"x")
    s3_client.put_object_legal_hold(Bucket=store.bucket, Key="hold", LegalHold={"Status": "ON"})
    with pytest.raises(ObjectLocked, match="legal hold"):
        store.delete("hold")
    assert len(_raw_entries(s3_client, store.bucket, "hold")) == 1


def test_sha256_checksum_is_verified_and_stored_by_s3(s3_client) -> None:
    store = _store(s3_client)
    info = store.put("sum", b"checked content")
    head = s3_client.head_object(Bucket=store.bucket, Key="sum", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(b"checked content").digest()).decode()
    assert info.sha256 == hashlib.sha256(b"checked content").hexdigest()


# -- buckets, prefixes, URLs ----------------------------------------------------------------

def test_prefixes_isolate_stores_sharing_a_bucket(s3_client) -> None:
    bucket = _bucket()
    whole = _store(s3_client, bucket=bucket)
    first = S3ObjectStore(bucket, "p1", client=s3_client)
    second = S3ObjectStore(bucket, "p1-other/", client=s3_client)
    first.put("k", b"1")
    second.put("k", b"2")
    assert list(first.list()) == ["k"]
    assert list(second.list()) == ["k"]
    assert list(whole.list()) == ["p1-other/k", "p1/k"]
    assert first.delete("k") == 1
    assert second.get("k") == b"2"
    assert list(whole.list()) == ["p1-other/k"]


def test_list_skips_objects_whose_names_are_not_valid_keys(s3_client) -> None:
    store = _store(s3_client, versioned=False)
    for raw_key in ("x//y", "./z", "a\\b", "ok/1"):
        s3_client.put_object(Bucket=store.bucket, Key=raw_key, Body=b"")
    assert list(store.list()) == ["ok/1"]


def test_url_for_is_presigned_with_the_requested_lifetime(s3_client, moto_server: str) -> None:
    store = _store(s3_client, prefix="pre")
    url = store.url_for("cases/doc 1.pdf", 90)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == moto_server
    assert parts.path == f"/{store.bucket}/pre/cases/doc%201.pdf"
    query = parse_qs(parts.query)
    assert query["X-Amz-Expires"] == ["90"] and "X-Amz-Signature" in query


def test_ensure_bucket_is_idempotent_and_honest_about_object_lock(s3_client) -> None:
    store = _store(s3_client)
    store.put("k", b"x")
    store.ensure_bucket()  # second call: no error, nothing lost
    assert store.get("k") == b"x"
    with pytest.raises(StorageError, match="without S3 Object Lock"):
        store.ensure_bucket(object_lock=True)
    with pytest.raises(ConfigError, match="needs a versioned bucket"):
        store.ensure_bucket(versioned=False, object_lock=True)


def test_an_object_lock_bucket_is_not_told_again_to_be_versioned(moto_server: str) -> None:
    # CloudServer answers InvalidBucketState to PutBucketVersioning on an Object Lock bucket
    # (versioned from birth), so ensure_bucket(object_lock=True) must not send it.
    client = boto3.client("s3", endpoint_url=moto_server, region_name="eu-west-2")
    sent: list[str] = []
    client.meta.events.register("before-call.s3.PutBucketVersioning", lambda **_: sent.append("versioning"))
    store = S3ObjectStore(_bucket(), client=client)
    store.ensure_bucket(object_lock=True)
    store.ensure_bucket(object_lock=True)  # and again, on the bucket that now exists
    assert sent == []
    assert client.get_bucket_versioning(Bucket=store.bucket)["Status"] == "Enabled"
    assert store.supports_object_lock() and store.put("k", b"x").version_id


def test_from_url_normalises_the_prefix() -> None:
    store = S3ObjectStore.from_url("s3://gov-test-bucket//a/b//", endpoint_url="http://127.0.0.1:9")
    assert (store.bucket, store.prefix, store.uri) == ("gov-test-bucket", "a/b", "s3://gov-test-bucket/a/b")
    assert S3ObjectStore.from_url("s3://gov-test-bucket").uri == "s3://gov-test-bucket"


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("s3://gov-test-bucket/p?token=secret", "query"),
        ("s3://gov-test-bucket/a/../b", "prefix"),
        ("s3://ab/p", "not valid"),
        ("file:///tmp/x", "not an s3"),
    ],
)
def test_from_url_refuses_bad_urls(url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as caught:
        S3ObjectStore.from_url(url)
    assert "secret" not in str(caught.value)
