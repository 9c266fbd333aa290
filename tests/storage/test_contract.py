"""The contract every ObjectStore keeps, run against every backend.

Backends: a local folder, and S3 (moto's real HTTP server) on a versioned
bucket (under a prefix), an unversioned bucket, and an Object Lock bucket.
``GOVERNANCE_TEST_S3_ENDPOINT`` runs the S3 backends against another server
instead, credentials from the AWS environment variables (by hand; see the S3
benchmark section of docs/deploy.md for Scality CloudServer):

    GOVERNANCE_TEST_S3_ENDPOINT=http://127.0.0.1:8000 AWS_ACCESS_KEY_ID=accessKey1 \
        AWS_SECRET_ACCESS_KEY=verySecretKey1 pytest tests/storage/test_contract.py
S3 stores use a page size of 2 so that listing and version listing go through
the pagination code with only a handful of keys.

Where a test says "nothing is left", it looks underneath the interface: at the
folder on disk, or at the bucket through a separate raw boto3 client.
"""

from __future__ import annotations

import hashlib
import os
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from governance.errors import ConfigError, ObjectLocked, ObjectNotFound, StorageError
from governance.storage import LocalFolderStore, ObjectInfo, ObjectStore, S3ObjectStore, open_object_store

BACKENDS = ["local", "s3-versioned", "s3-unversioned", "s3-lock"]
LOCKING_BACKENDS = ["local", "s3-lock"]


@pytest.fixture(scope="module")
def s3_endpoint(request: pytest.FixtureRequest) -> str:
    """moto's server, unless ``GOVERNANCE_TEST_S3_ENDPOINT`` names another (see the module docstring)."""
    return os.environ.get("GOVERNANCE_TEST_S3_ENDPOINT") or request.getfixturevalue("moto_server")


@pytest.fixture(scope="module")
def s3_client(s3_endpoint: str):
    """One raw boto3 client for the module: stores share it (building a client is the slow part)."""
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="eu-west-2")


def _make_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if kind == "local":
        return LocalFolderStore(tmp_path / "objects")
    client = request.getfixturevalue("s3_client")
    bucket = f"gov-test-{uuid.uuid4().hex[:16]}"  # a fresh bucket per test: cheap on moto
    # The versioned store sits under a prefix, so prefix handling is part of the contract run.
    prefix = "tenant-a/objects" if kind == "s3-versioned" else ""
    store = S3ObjectStore(bucket, prefix, client=client, page_size=2)
    store.ensure_bucket(versioned=kind != "s3-unversioned", object_lock=kind == "s3-lock")
    return store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    return _make_store(request.param, request, tmp_path)


@pytest.fixture(params=LOCKING_BACKENDS)
def locking_store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    return _make_store(request.param, request, tmp_path)


def _leftovers(store: ObjectStore, key: str) -> list[str]:
    """What is physically left of ``key`` below the interface (should be nothing after delete)."""
    if isinstance(store, LocalFolderStore):
        found = [p for p in (store.root / key, store.root / ".retention" / f"{key}.json") if p.exists()]
        found += list(store.root.rglob(".tmp-*"))
        return [str(p) for p in found]
    assert isinstance(store, S3ObjectStore)
    full = f"{store.prefix}/{key}" if store.prefix else key
    raw = boto3.client("s3", endpoint_url=store.endpoint_url, region_name="eu-west-2")
    response = raw.list_object_versions(Bucket=store.bucket, Prefix=full)
    return [
        f"{kind}:{item['VersionId']}"
        for kind in ("Versions", "DeleteMarkers")
        for item in response.get(kind, [])
        if item["Key"] == full
    ]


def _future(seconds: float = 3600) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


# -- put / get / exists ------------------------------------------------------------------------

PAYLOADS = {
    "empty": b"",
    "binary": bytes(range(256)) * 41,
    "nul-and-newlines": b"\x00\r\n\x00\xff",
}


def test_put_get_round_trip(store: ObjectStore) -> None:
    for name, payload in PAYLOADS.items():
        key = f"cases/C000123/{name}.bin"
        info = store.put(key, payload)
        assert isinstance(info, ObjectInfo)
        assert info.key == key
        assert info.size == len(payload)
        assert info.sha256 == hashlib.sha256(payload).hexdigest()
        assert info.retain_until is None
    for name, payload in PAYLOADS.items():
        assert store.get(f"cases/C000123/{name}.bin") == payload, name


def test_put_reports_the_version_it_wrote(store: ObjectStore) -> None:
    first = store.put("v/k", b"one")
    second = store.put("v/k", b"two")
    versions = store.versions("v/k")
    if isinstance(store, LocalFolderStore):
        assert first.version_id == second.version_id == "local"
        assert versions == ["local"]
    elif versions == ["null"]:  # unversioned bucket: S3 reports no version id on put
        assert first.version_id is None and second.version_id is None
    else:
        assert first.version_id != second.version_id
        assert versions == [second.version_id, first.version_id]  # newest first


def test_get_missing_key_raises_object_not_found_naming_the_key(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound, match="cases/none.txt"):
        store.get("cases/none.txt")


def test_exists_follows_put_and_delete(store: ObjectStore) -> None:
    assert store.exists("a/b.txt") is False
    store.put("a/b.txt", b"x")
    assert store.exists("a/b.txt") is True
    # A "folder" of objects is not itself an object.
    assert store.exists("a") is False
    store.delete("a/b.txt")
    assert store.exists("a/b.txt") is False


def test_ascii_and_unicode_keys_are_kept_exactly(store: ObjectStore) -> None:
    key = "cases/C9/dossier é 1+2=3 (copy).txt"
    store.put(key, b"unicode key")
    assert store.get(key) == b"unicode key"
    assert list(store.list("cases/C9/")) == [key]


def test_put_refuses_non_bytes(store: ObjectStore) -> None:
    with pytest.raises(StorageError, match="must be bytes"):
        store.put("a.txt", "text, not bytes")  # type: ignore[arg-type]
    assert store.exists("a.txt") is False


# -- list ---------------------------------------------------------------------------------------

LIST_KEYS = [
    "cases/C1/doc.pdf",
    "cases/C1/notes/n1.txt",
    "cases/C10/doc.pdf",
    "cases/C1-old/x.txt",
    "cases/C2/doc.pdf",
    "cases-archive/y.txt",
    "other/z.txt",
]


@pytest.fixture
def listed(store: ObjectStore) -> ObjectStore:
    for key in reversed(LIST_KEYS):  # written out of order on purpose
        store.put(key, key.encode())
    return store


def test_list_streams_all_keys_in_byte_order(listed: ObjectStore) -> None:
    keys = listed.list()
    assert isinstance(keys, Iterator)
    # "-" sorts before "/", so C1-old comes before C1/ -- as S3 orders keys.
    assert list(keys) == [
        "cases-archive/y.txt",
        "cases/C1-old/x.txt",
        "cases/C1/doc.pdf",
        "cases/C1/notes/n1.txt",
        "cases/C10/doc.pdf",
        "cases/C2/doc.pdf",
        "other/z.txt",
    ]
    assert list(listed.list()) == sorted(LIST_KEYS, key=lambda k: k.encode("utf-8"))


PREFIX_CASES = [
    ("cases/C1/", ["cases/C1/doc.pdf", "cases/C1/notes/n1.txt"]),
    # A plain string prefix, not a folder: C1 also matches C1-old and C10.
    ("cases/C1", ["cases/C1-old/x.txt", "cases/C1/doc.pdf", "cases/C1/notes/n1.txt", "cases/C10/doc.pdf"]),
    ("cases/C1/doc", ["cases/C1/doc.pdf"]),
    ("cases/C1/doc.pdf", ["cases/C1/doc.pdf"]),
    ("cases/C1/notes/", ["cases/C1/notes/n1.txt"]),
    ("cases-", ["cases-archive/y.txt"]),
    ("nothing-here", []),
    ("cases/C3", []),
]


def test_list_with_prefix_is_a_plain_string_prefix(listed: ObjectStore) -> None:
    for prefix, expected in PREFIX_CASES:
        assert list(listed.list(prefix)) == expected, prefix


def test_list_pages_through_many_keys(store: ObjectStore) -> None:
    keys = [f"bulk/{i:03d}.bin" for i in range(23)]
    for key in keys:
        store.put(key, b"")
    assert list(store.list("bulk/")) == keys
    assert list(store.list("bulk/01")) == [f"bulk/{i:03d}.bin" for i in range(10, 20)]


def test_list_omits_deleted_keys(store: ObjectStore) -> None:
    store.put("d/one", b"1")
    store.put("d/two", b"2")
    store.delete("d/one")
    assert list(store.list("d/")) == ["d/two"]


# -- versions and delete -------------------------------------------------------------------

def test_overwrite_then_delete_removes_every_version(store: ObjectStore) -> None:
    key = "cases/C7/report.pdf"
    for content in (b"draft", b"second", b"final"):
        store.put(key, content)
    assert store.get(key) == b"final"
    before = store.versions(key)
    if isinstance(store, LocalFolderStore):
        assert before == ["local"]  # one version per key: overwrite replaces
    elif before != ["null"]:
        assert len(before) == 3  # versioned bucket keeps all three
    assert len(_leftovers(store, key)) == len(before)

    assert store.delete(key) == len(before)

    assert store.versions(key) == []
    assert store.exists(key) is False
    with pytest.raises(ObjectNotFound):
        store.get(key)
    assert _leftovers(store, key) == []  # no version, no delete marker, no temp file
    assert list(store.list("cases/")) == []


def test_delete_removes_only_the_exact_key(store: ObjectStore) -> None:
    store.put("a/b", b"target")
    store.put("a/bc", b"longer key 1")
    store.put("a/bc", b"longer key 2")
    store.put("a/b-c", b"sibling")
    store.put("a/b.d/e", b"nested under a lookalike")
    kept = {k: store.versions(k) for k in ("a/bc", "a/b-c", "a/b.d/e")}

    assert store.delete("a/b") == 1

    assert store.exists("a/b") is False
    assert {k: store.versions(k) for k in kept} == kept
    assert store.get("a/bc") == b"longer key 2"
    assert list(store.list("a/")) == ["a/b-c", "a/b.d/e", "a/bc"]


def test_delete_of_missing_key_returns_zero(store: ObjectStore) -> None:
    assert store.delete("never/stored") == 0
    store.put("once", b"1")
    assert store.delete("once") == 1
    assert store.delete("once") == 0
    assert store.versions("never/stored") == []


def test_put_after_delete_starts_afresh(store: ObjectStore) -> None:
    store.put("k/again", b"old")
    store.delete("k/again")
    store.put("k/again", b"new")
    assert store.get("k/again") == b"new"
    assert len(store.versions("k/again")) == 1


# -- key validation ---------------------------------------------------------------------------

BAD_KEYS = {
    "empty": ("", "empty"),
    "absolute": ("/etc/passwd", "absolute"),
    "dotdot": ("cases/../secrets", "'..'"),
    "only-dotdot": ("..", "'..'"),
    "empty-segment": ("cases//doc", "empty path segments"),
    "trailing-slash": ("cases/", "empty path segments"),
    "backslash": ("cases\\doc", "backslash"),
    "dot-segment": ("./doc", "start with '.'"),
    "hidden": ("cases/.retention", "start with '.'"),
    "control": ("cases/a\nb", "control characters"),
    "too-long": ("k" * 1025, "1024 bytes"),
}


def test_invalid_keys_are_refused_naming_key_and_rule(store: ObjectStore) -> None:
    operations = {
        "put": lambda key: store.put(key, b"x"),
        "get": lambda key: store.get(key),
        "exists": lambda key: store.exists(key),
        "versions": lambda key: store.versions(key),
        "delete": lambda key: store.delete(key),
        "url_for": lambda key: store.url_for(key, 60),
    }
    for case, (key, rule) in BAD_KEYS.items():
        for name, operation in operations.items():
            with pytest.raises(StorageError) as caught:
                operation(key)
            message = str(caught.value)
            where = f"{case}/{name}"
            assert not isinstance(caught.value, (ObjectNotFound, ObjectLocked)), where
            assert repr(key)[:40] in message, where
            assert rule in message, where
            assert "\n" not in message, where
    assert list(store.list()) == []


def test_non_string_key_is_refused(store: ObjectStore) -> None:
    with pytest.raises(StorageError, match="must be a string"):
        store.get(42)  # type: ignore[arg-type]


# -- url_for ------------------------------------------------------------------------------------

def test_url_for_reads_the_object(store: ObjectStore) -> None:
    store.put("share/letter.pdf", b"%PDF-1.7 bytes")
    url = store.url_for("share/letter.pdf", 60)
    with urllib.request.urlopen(url, timeout=10) as response:  # file:// or presigned http://
        assert response.read() == b"%PDF-1.7 bytes"


def test_url_for_refuses_bad_lifetimes(store: ObjectStore) -> None:
    for expires_in in (0, -5, 7 * 24 * 3600 + 1, 1.5, True, "60"):
        with pytest.raises(StorageError, match="expires_in"):
            store.url_for("share/letter.pdf", expires_in)  # type: ignore[arg-type]


# -- retention (write-once) ----------------------------------------------------------------

def test_object_lock_support_is_reported_truthfully(store: ObjectStore, request: pytest.FixtureRequest) -> None:
    kind = request.node.callspec.params["store"]
    assert store.supports_object_lock() is (kind in LOCKING_BACKENDS)


def test_retention_is_enforced_or_refused_never_silently_skipped(store: ObjectStore) -> None:
    until = _future()
    if store.supports_object_lock():
        assert store.put("held/doc", b"x", retain_until=until).retain_until == until
        with pytest.raises(ObjectLocked):
            store.delete("held/doc")
    else:
        with pytest.raises(StorageError, match="Object Lock") as caught:
            store.put("held/doc", b"x", retain_until=until)
        assert not isinstance(caught.value, ObjectLocked)
        assert store.exists("held/doc") is False


def test_retained_object_cannot_be_deleted_and_stays_readable(locking_store: ObjectStore) -> None:
    until = _future()
    info = locking_store.put("held/doc.pdf", b"evidence", retain_until=until)
    assert info.retain_until == until
    before = locking_store.versions("held/doc.pdf")

    with pytest.raises(ObjectLocked, match="held/doc.pdf") as caught:
        locking_store.delete("held/doc.pdf")
    assert "\n" not in str(caught.value)

    assert locking_store.get("held/doc.pdf") == b"evidence"
    assert locking_store.exists("held/doc.pdf") is True
    assert locking_store.versions("held/doc.pdf") == before
    assert len(_leftovers(locking_store, "held/doc.pdf")) >= 1


def test_retained_object_cannot_be_overwritten(locking_store: ObjectStore) -> None:
    locking_store.put("held/doc.pdf", b"original", retain_until=_future())
    versions = locking_store.versions("held/doc.pdf")
    with pytest.raises(ObjectLocked, match="held/doc.pdf"):
        locking_store.put("held/doc.pdf", b"replacement")
    with pytest.raises(ObjectLocked):
        locking_store.put("held/doc.pdf", b"replacement", retain_until=_future(7200))
    assert locking_store.get("held/doc.pdf") == b"original"
    assert locking_store.versions("held/doc.pdf") == versions


def test_delete_refused_for_one_retained_version_removes_nothing(locking_store: ObjectStore) -> None:
    locking_store.put("mixed/doc", b"plain first")
    locking_store.put("mixed/doc", b"retained second", retain_until=_future())
    before = locking_store.versions("mixed/doc")
    with pytest.raises(ObjectLocked):
        locking_store.delete("mixed/doc")
    assert locking_store.versions("mixed/doc") == before
    assert locking_store.get("mixed/doc") == b"retained second"


def test_locked_names_the_keys_a_delete_would_refuse_and_when_they_free(store: ObjectStore) -> None:
    store.put("free/doc", b"plain")
    assert store.locked(["free/doc", "never/stored"]) == {}
    if not store.supports_object_lock():
        return
    until = _future()
    store.put("mixed/doc", b"plain first")
    store.put("mixed/doc", b"retained second", retain_until=until)  # one retained version locks the key
    store.put("held/doc", b"x", retain_until=until)
    found = store.locked(["free/doc", "mixed/doc", "held/doc", "never/stored"])
    assert sorted(found) == ["held/doc", "mixed/doc"]
    assert all(abs((end - until).total_seconds()) < 1 for end in found.values())
    for key in found:
        with pytest.raises(ObjectLocked):
            store.delete(key)
    assert store.delete("free/doc") >= 1  # what locked() left out, delete() takes


def test_locked_validates_every_key_first(store: ObjectStore) -> None:
    with pytest.raises(StorageError, match="key"):
        store.locked(["fine/doc", "../escape"])


def test_retention_ends_and_then_delete_removes_everything(locking_store: ObjectStore) -> None:
    # Three seconds: long enough that a put and a refused delete over HTTP fit inside the window
    # on a loaded machine (one second did not, once), short enough to wait out.
    until = _future(3.0)
    locking_store.put("short/hold", b"x", retain_until=until)
    with pytest.raises(ObjectLocked):
        locking_store.delete("short/hold")
    assert datetime.now(timezone.utc) < until, "the machine was too slow to test inside the window"
    time.sleep(max(0.0, (until - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    assert locking_store.delete("short/hold") == 1
    assert locking_store.versions("short/hold") == []
    assert _leftovers(locking_store, "short/hold") == []


def test_retention_must_be_in_the_future(store: ObjectStore) -> None:
    with pytest.raises(StorageError, match="not in the future"):
        store.put("held/past", b"x", retain_until=datetime.now(timezone.utc) - timedelta(seconds=1))
    assert store.exists("held/past") is False


def test_retention_must_be_timezone_aware(store: ObjectStore) -> None:
    with pytest.raises(StorageError, match="timezone-aware"):
        store.put("held/naive", b"x", retain_until=datetime.now() + timedelta(days=1))  # noqa: DTZ005
    assert store.exists("held/naive") is False


# -- identity -----------------------------------------------------------------------------------

def test_uri_names_the_store_without_credentials(store: ObjectStore) -> None:
    if isinstance(store, LocalFolderStore):
        assert store.uri == store.root.as_uri()
        assert store.uri.startswith("file:///")
    else:
        assert isinstance(store, S3ObjectStore)
        assert store.uri.startswith(f"s3://{store.bucket}")
    assert "testing" not in store.uri  # the moto credentials
    assert store.uri in repr(store)


# -- choosing a backend from a URL --------------------------------------------------------

def test_open_object_store_file_url_and_plain_path(tmp_path: Path) -> None:
    by_url = open_object_store((tmp_path / "objs dir").as_uri())
    assert isinstance(by_url, LocalFolderStore)
    assert by_url.root == tmp_path / "objs dir"  # percent-encoding undone
    by_path = open_object_store(str(tmp_path / "plain"))
    assert isinstance(by_path, LocalFolderStore)
    assert by_path.root == tmp_path / "plain"
    by_path.put("k", b"v")
    assert (tmp_path / "plain" / "k").read_bytes() == b"v"


def test_open_object_store_s3_url_with_endpoint(s3_endpoint: str, s3_client) -> None:
    bucket = f"gov-test-{uuid.uuid4().hex[:16]}"
    store = open_object_store(f"s3://{bucket}/some/prefix/", s3_endpoint_url=s3_endpoint)
    assert isinstance(store, S3ObjectStore)
    assert (store.bucket, store.prefix, store.endpoint_url) == (bucket, "some/prefix", s3_endpoint)
    assert store.uri == f"s3://{bucket}/some/prefix"
    store.ensure_bucket()  # builds its own client: the lazy path
    store.put("k", b"v")
    raw = s3_client.get_object(Bucket=bucket, Key="some/prefix/k")
    assert raw["Body"].read() == b"v"


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("ftp://host/objects", "scheme 'ftp'"),
        ("https://user:hunter2@example.org/objects", "scheme 'https'"),
        ("relative/folder", "absolute"),
        ("", "empty"),
        ("file://otherhost/objects", "otherhost"),
        ("s3://AKIAEXAMPLE:hunter2@bucket/p", "credentials"),
        ("s3://Bad_Bucket/p", "not valid"),
        ("s3:///no-bucket", "no bucket"),
    ],
)
def test_open_object_store_refuses_bad_urls_without_echoing_secrets(url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as caught:
        open_object_store(url)
    assert "hunter2" not in str(caught.value)


# -- delete_many -----------------------------------------------------------------------------

def test_delete_many_removes_every_version_of_each_key_and_nothing_else(store: ObjectStore) -> None:
    doomed = [f"cases/C{n}/doc-{m}.txt" for n in range(5) for m in range(3)]
    for key in doomed:
        store.put(key, b"first")
        store.put(key, b"second")
    store.put("cases/C1x/kept.txt", b"kept")  # a lookalike prefix of a doomed folder
    store.put("cases/C9/kept.txt", b"kept")
    expected = sum(len(store.versions(key)) for key in doomed)

    assert store.delete_many(doomed) == expected

    assert all(store.versions(key) == [] for key in doomed)
    assert all(_leftovers(store, key) == [] for key in doomed)
    assert list(store.list("cases/")) == ["cases/C1x/kept.txt", "cases/C9/kept.txt"]
    assert store.get("cases/C9/kept.txt") == b"kept"


def test_delete_many_is_idempotent_and_counts_only_what_it_removed(store: ObjectStore) -> None:
    store.put("again/a", b"1")
    store.put("again/b", b"2")
    assert store.delete_many(["again/a", "again/b", "never/stored"]) == 2
    assert store.delete_many(["again/a", "again/b"]) == 0
    assert store.delete_many([]) == 0


def test_delete_many_validates_every_key_first(store: ObjectStore) -> None:
    store.put("valid/one", b"1")
    with pytest.raises(StorageError, match="not valid"):
        store.delete_many(["valid/one", "../escape"])
    assert store.exists("valid/one")


def test_delete_many_refuses_a_retained_key_and_keeps_it(locking_store: ObjectStore) -> None:
    locking_store.put("batch/held", b"evidence", retain_until=_future())
    with pytest.raises(ObjectLocked, match="batch/held"):
        locking_store.delete_many(["batch/held"])
    assert locking_store.get("batch/held") == b"evidence"


def test_delete_many_finds_every_version_across_many_pages(store: ObjectStore, request: pytest.FixtureRequest) -> None:
    """Many versions and delete markers, listed two entries a page (S3 stores here), under a wide prefix.

    Kept keys sort first under the doomed keys' common prefix ("cases/"), so whole pages hold
    none of them; lookalikes and a doomed key that prefixes another test the exact-key filter.
    """
    kind = request.node.callspec.params["store"]
    versioned = kind in ("s3-versioned", "s3-lock")
    kept = [f"cases/A{n:02d}/kept.txt" for n in range(9)] + ["cases/C1/doc-1.txt.bak", "cases/C1x/kept.txt",
                                                             "cases/C3/kept.txt", "cases/E/abc"]
    doomed = ["cases/A09/doc.txt"] + [f"cases/C{n}/doc-{m}.txt" for n in range(6) for m in range(3)] + [
        "cases/E/a", "cases/E/ab"]
    for key in kept + doomed:
        store.put(key, b"first")
    for n, key in enumerate(doomed):
        store.put(key, b"second")
        if versioned and n % 3 == 0:  # a delete marker, then a version written after it
            _hide(store, key)
            store.put(key, b"third")
        if versioned and n % 4 == 1:  # a delete marker as the latest entry
            _hide(store, key)
    if versioned:
        _hide(store, "cases/C3/kept.txt")
    kept_before = {key: store.versions(key) for key in kept}
    expected = sum(len(store.versions(key)) for key in doomed)
    if versioned:  # two puts each, a marker and a put for every third key, a marker for every fourth
        assert expected == 2 * len(doomed) + 2 * len(doomed[::3]) + len(doomed[1::4])

    assert store.delete_many(list(reversed(doomed))) == expected

    assert {key: _leftovers(store, key) for key in doomed} == {key: [] for key in doomed}
    assert {key: store.versions(key) for key in kept} == kept_before
    assert store.get("cases/E/abc") == b"first"


def _hide(store: ObjectStore, key: str) -> None:
    """A plain DELETE through a raw client: on a versioned bucket it only adds a delete marker."""
    assert isinstance(store, S3ObjectStore)
    raw = boto3.client("s3", endpoint_url=store.endpoint_url, region_name="eu-west-2")
    raw.delete_object(Bucket=store.bucket, Key=f"{store.prefix}/{key}" if store.prefix else key)
