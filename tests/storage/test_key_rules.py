"""validate_key's one-regex fast path accepts exactly what the rule-by-rule checks accept."""

from __future__ import annotations

import random

import pytest

import governance.storage.base as base
from governance.errors import StorageError


def _accepted(key: str) -> bool:
    try:
        base.validate_key(key)
        return True
    except StorageError:
        return False


def test_fast_path_and_full_checks_agree_on_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    alphabet = ["a", "Z", "0", ".", "/", "\\", " ", "-", "\x00", "\x1f", "\x7f", "é", "\ud800"]
    keys = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))) for _ in range(20_000)]
    keys += ["a" * 1024, "a" * 1025, "é" * 512, "é" * 513, "stores/default/cases/C00004/D00009.txt"]
    with_fast_path = [_accepted(k) for k in keys]
    monkeypatch.setattr(base, "_FAST_PATH_MAX", -1)  # every key through the rule-by-rule checks
    without = [_accepted(k) for k in keys]
    assert with_fast_path == without
    assert 100 < sum(without) < len(keys) - 100  # both kinds were exercised
