"""Local folder behaviour the contract cannot express: permissions, layout on
disk, the retention sidecar, and the limits of a filesystem compared with S3.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from governance.errors import ConfigError, ObjectLocked, StorageError, StorageUnavailable
from governance.storage import LocalFolderStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _future(seconds: float = 3600) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def test_root_is_created_0700_on_first_use_and_files_are_0600(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "objects"
    store = LocalFolderStore(root)
    assert not root.exists()  # nothing happens until first use
    store.put("cases/C1/doc.pdf", b"x")
    assert _mode(root) == 0o700
    assert _mode(root / "cases") == 0o700
    assert _mode(root / "cases" / "C1") == 0o700
    assert _mode(root / "cases" / "C1" / "doc.pdf") == 0o600
    store.put("held", b"y", retain_until=_future())
    assert _mode(root / ".retention" / "held.json") == 0o600


def test_root_that_is_a_file_is_storage_unavailable(tmp_path: Path) -> None:
    (tmp_path / "objects").write_bytes(b"not a folder")
    store = LocalFolderStore(tmp_path / "objects")
    with pytest.raises(StorageUnavailable, match=str(tmp_path / "objects")) as caught:
        store.get("k")
    assert "\n" not in str(caught.value)


def test_root_below_a_file_is_storage_unavailable(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_bytes(b"")
    store = LocalFolderStore(tmp_path / "blocker" / "objects")
    with pytest.raises(StorageUnavailable, match="cannot be created"):
        store.put("k", b"x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to any folder, so an unwritable one cannot be made")
def test_unwritable_root_is_storage_unavailable(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    root.mkdir(mode=0o500)
    try:
        with pytest.raises(StorageUnavailable, match="not writable"):
            LocalFolderStore(root).put("k", b"x")
    finally:
        root.chmod(0o700)


def test_relative_root_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="absolute"):
        LocalFolderStore("var/objects")


def test_objects_are_plain_files_and_writes_leave_no_temp_files(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    for i in range(5):
        store.put("cases/C1/doc.pdf", f"version {i}".encode())
    assert (tmp_path / "cases" / "C1" / "doc.pdf").read_bytes() == b"version 4"
    assert [p.name for p in (tmp_path / "cases" / "C1").iterdir()] == ["doc.pdf"]
    assert store.versions("cases/C1/doc.pdf") == ["local"]


def test_retention_sidecar_records_the_date_and_is_never_listed(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    until = _future()
    store.put("cases/C1/held.pdf", b"x", retain_until=until)
    sidecar = tmp_path / ".retention" / "cases" / "C1" / "held.pdf.json"
    record = json.loads(sidecar.read_text())
    assert datetime.fromisoformat(record["retain_until"]) == until
    assert record["mode"] == "COMPLIANCE"
    assert list(store.list()) == ["cases/C1/held.pdf"]


def test_expired_retention_is_cleaned_up_with_the_object(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    store.put("cases/C1/held.pdf", b"x", retain_until=_future())
    sidecar = tmp_path / ".retention" / "cases" / "C1" / "held.pdf.json"
    # Move the recorded date into the past, as if time had passed.
    record = json.loads(sidecar.read_text())
    record["retain_until"] = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
    sidecar.write_text(json.dumps(record))
    assert store.delete("cases/C1/held.pdf") == 1
    # No trace left: object, record and the folders that held them (the empty .retention stays).
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*")] == [Path(".retention")]


def test_new_put_over_expired_retention_drops_the_old_record(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    store.put("k", b"x", retain_until=_future())
    sidecar = tmp_path / ".retention" / "k.json"
    sidecar.write_text(json.dumps({"retain_until": "2000-01-01T00:00:00+00:00"}))
    store.put("k", b"y")
    assert not sidecar.exists()
    assert store.delete("k") == 1


def test_unreadable_retention_record_fails_closed(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    store.put("k", b"x", retain_until=_future())
    (tmp_path / ".retention" / "k.json").write_text("{ not json")
    with pytest.raises(StorageError, match="unreadable") as caught:
        store.delete("k")
    assert not isinstance(caught.value, ObjectLocked)
    assert store.get("k") == b"x"


def test_retention_record_without_its_object_does_not_block_the_key(tmp_path: Path) -> None:
    # What a crash between writing the record and the object leaves behind.
    store = LocalFolderStore(tmp_path)
    sidecar = tmp_path / ".retention" / "k.json"
    sidecar.parent.mkdir(parents=True)
    sidecar.write_text(json.dumps({"retain_until": _future().isoformat()}))
    store.put("k", b"x")
    assert not sidecar.exists()
    assert store.delete("k") == 1


def test_a_key_cannot_be_both_object_and_folder(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    store.put("a", b"object a")
    with pytest.raises(StorageError, match="'a' is already an object"):
        store.put("a/b", b"x")
    store.put("c/d", b"object c/d")
    with pytest.raises(StorageError, match="other objects are stored under 'c/'"):
        store.put("c", b"x")
    assert store.get("a") == b"object a"
    assert store.get("c/d") == b"object c/d"
    assert list(store.list()) == ["a", "c/d"]
    assert store.delete("c") == 0  # a folder is not an object
    assert store.get("c/d") == b"object c/d"


def test_files_that_are_not_valid_keys_are_not_listed(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    store.put("ok/1", b"")
    (tmp_path / "ok" / ".hidden").write_bytes(b"")
    (tmp_path / "ok" / ".tmp-leftover").write_bytes(b"")
    (tmp_path / "ok" / "back\\slash").write_bytes(b"")
    (tmp_path / "ok" / "link").symlink_to(tmp_path / "ok" / "1")
    assert list(store.list()) == ["ok/1"]


def test_url_for_is_a_file_uri_that_ignores_expiry(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    store.put("cases/doc 1.pdf", b"x")
    url = store.url_for("cases/doc 1.pdf", 1)
    assert url == (tmp_path / "cases" / "doc 1.pdf").as_uri()
    assert url == store.url_for("cases/doc 1.pdf", 3600)


def test_delete_prunes_only_emptied_folders(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    store.put("cases/C1/a", b"")
    store.put("cases/C1/sub/b", b"")
    store.put("cases/C2/c", b"")
    store.delete("cases/C1/sub/b")
    assert not (tmp_path / "cases" / "C1" / "sub").exists()
    assert (tmp_path / "cases" / "C1").is_dir()
    store.delete("cases/C1/a")
    assert not (tmp_path / "cases" / "C1").exists()
    assert (tmp_path / "cases" / "C2" / "c").exists()
    assert tmp_path.is_dir()  # the root itself stays


def test_concurrent_puts_under_one_new_prefix(tmp_path):
    """Many writers creating the same new folders at once must all succeed (the generator does this)."""
    from concurrent.futures import ThreadPoolExecutor

    store = LocalFolderStore(tmp_path / "objects")
    # Groups of consecutive keys share a brand-new folder, so several threads
    # race to create the same folder, over and over.
    keys = [f"stores/s/cases/C{n // 4}/doc-{n}.txt" for n in range(2000)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda k: store.put(k, k.encode()), keys))
    assert sorted(store.list("stores/")) == sorted(keys)


def test_delete_many_with_one_retained_key_removes_nothing(tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    from governance.errors import ObjectLocked

    store = LocalFolderStore(tmp_path)
    store.put("cases/C1/a", b"a")
    store.put("cases/C2/held", b"held", retain_until=datetime.now(timezone.utc) + timedelta(hours=1))
    with pytest.raises(ObjectLocked, match="cases/C2/held"):
        store.delete_many(["cases/C1/a", "cases/C2/held"])
    assert store.get("cases/C1/a") == b"a"  # checked before anything was removed
    assert store.get("cases/C2/held") == b"held"


def test_delete_many_prunes_each_emptied_folder_once_and_keeps_shared_ones(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    for n in range(4):
        store.put(f"cases/C{n}/deep/doc", b"")
    store.put("cases/C3/other", b"")
    assert store.delete_many([f"cases/C{n}/deep/doc" for n in range(4)]) == 4
    assert sorted(p.name for p in (tmp_path / "cases").iterdir()) == ["C3"]
    assert not (tmp_path / "cases" / "C3" / "deep").exists()
    assert (tmp_path / "cases" / "C3" / "other").exists()
