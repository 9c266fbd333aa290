"""Every version of many S3 keys, found with few ``ListObjectVersions`` requests.

Listing each key on its own costs a request per key: a retention chunk of a few
thousand documents waited on thousands of round trips (and on moto's server,
whose every listing scans the whole bucket, on hours of them). Keys that are
destroyed together sit close together (a chunk is a run of sorted case ids and
their documents live under ``.../cases/<case id>/``), so one listing of their
shared prefix, a thousand versions a page, finds them all.

How, and why so:

* The keys are sorted and listed under their longest common prefix. Entries are
  kept only for the exact keys asked about (a prefix also lists lookalikes such
  as ``a/bc`` for ``a/b``), and paging stops once a page passes the last key:
  S3 lists in key order, so nothing of the keys can follow.
* Pages follow only the server's own continuation (``NextKeyMarker`` with
  ``NextVersionIdMarker``, through boto3's paginator). No marker is built here:
  a hand-made ``KeyMarker`` means "after this key" on S3 but moto 5.2 also drops
  the first version at or after it, which lost a version once. A prefix is the
  only way in.
* A wide prefix can hold many other keys before the wanted ones (the chunk's
  first case may sit late under ``cases/C00``). A page that holds none of the
  keys asked about says so: the keys not yet passed are split by their next
  character after their common prefix, and each part is listed under its own,
  narrower prefix. A handful of keys left are listed one by one. Every split
  lengthens the prefix, so this ends.

A key is done once a listing has passed it; a key that is listed again after a
split has its versions merged by version id, so nothing is counted twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from itertools import groupby
from typing import Any

__all__ = ["list_versions", "common_prefix"]

ONE_BY_ONE = 4
"""At most this many keys left after a split are listed each under its own key."""

Entry = tuple[datetime, bool, bool]  # last modified, is latest, is delete marker


def list_versions(
    client: Any,
    bucket: str,
    keys: Iterable[str],
    *,
    page_size: int = 1000,
    errors: Callable[[str], AbstractContextManager[None]],
) -> dict[str, list[tuple[str, bool]]]:
    """``{key: [(version id, is delete marker), ...]}`` for every key (``[]`` if none), newest first.

    ``keys`` are full S3 keys (with any store prefix). ``errors(key)`` is the
    caller's context manager that turns botocore failures into its own errors.
    """
    wanted = sorted(set(keys))
    found: dict[str, dict[str, Entry]] = {key: {} for key in wanted}
    paginator = client.get_paginator("list_object_versions")
    stack = [wanted] if wanted else []
    while stack:
        group = stack.pop()
        left = _list_group(paginator, bucket, group, found, page_size, errors)
        if left:
            stack.extend(reversed(_split(left)))
    return {key: _newest_first(entries) for key, entries in found.items()}


def _list_group(paginator, bucket: str, group: list[str], found: dict[str, dict[str, Entry]], page_size: int,
                errors) -> list[str]:
    """List ``group`` (sorted) under its common prefix; return the keys to list again, narrower, if it was too wide."""
    prefix = group[0] if len(group) == 1 else common_prefix(group)
    first, last = group[0], group[-1]
    with errors(group[0]):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}):
            useful, page_last = False, None
            for kind, is_marker in (("Versions", False), ("DeleteMarkers", True)):
                for item in page.get(kind, []):
                    key = item["Key"]
                    if page_last is None or key > page_last:
                        page_last = key
                    entries = found.get(key)
                    if entries is not None:  # a wanted key, perhaps another group's: its versions count all the same
                        entries[item["VersionId"]] = (item["LastModified"], bool(item.get("IsLatest")), is_marker)
                        useful = useful or first <= key <= last
            if page_last is None:
                continue
            if page_last > last:
                return []  # past the last key: S3 lists in key order, so nothing of the group follows
            if not useful and len(group) > 1 and page.get("IsTruncated"):
                # A whole page of other keys, sorting before the ones still wanted: the prefix is too wide.
                return [key for key in group if key > page_last]
    return []


def _split(keys: list[str]) -> list[list[str]]:
    """Sorted ``keys`` in groups by their next character after their common prefix (a few: one each)."""
    if len(keys) <= ONE_BY_ONE:
        return [[key] for key in keys]
    cut = len(common_prefix(keys))
    return [list(part) for _char, part in groupby(keys, key=lambda key: key[cut:cut + 1])]


def common_prefix(keys: list[str]) -> str:
    """The longest string every key starts with (of sorted keys it is the first's and the last's)."""
    return os.path.commonprefix([min(keys), max(keys)])


def _newest_first(entries: dict[str, Entry]) -> list[tuple[str, bool]]:
    ordered = sorted(entries.items(), key=lambda item: (item[1][1], item[1][0]), reverse=True)
    return [(version_id, is_marker) for version_id, (_when, _latest, is_marker) in ordered]
